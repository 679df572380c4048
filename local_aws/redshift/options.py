"""Tokens of COPY / UNLOAD / CREATE EXTERNAL SCHEMA option lists (words, quoted and dollar-quoted strings,
parentheses) and the authorization parameters COPY and UNLOAD share ("Authorization parameters",
redshift/latest/dg/copy-parameters-authorization.html)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from local_aws.redshift.errors import RedshiftError

_TOKEN = re.compile(
    r"--[^\n]*|/\*.*?\*/|'(?:[^'\\]|''|\\.)*'|(\$[A-Za-z_]*\$).*?\1|[A-Za-z_][\w$]*|\"(?:[^\"]|\"\")*\"|\d+|\S",
    re.S,
)
_DOLLAR = re.compile(r"^(\$[A-Za-z_]*\$)(.*)\1$", re.S)
ROLE_ARN = re.compile(r"^arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]+$")


class Tokens:
    def __init__(self, text: str):
        self.items = [m.group(0) for m in _TOKEN.finditer(text) if not m.group(0).startswith(("--", "/*"))]
        self.pos = 0

    def peek(self, offset: int = 0) -> str | None:
        i = self.pos + offset
        return self.items[i] if i < len(self.items) else None

    def at_word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.lower() in words

    def next(self) -> str:
        token = self.peek()
        if token is None:
            raise RedshiftError("syntax error at end of input")
        self.pos += 1
        return token

    def word(self, *expected: str) -> str:
        token = self.next()
        if expected and token.lower() not in expected:
            raise RedshiftError(f'syntax error at or near "{token}"')
        return token.lower()

    def optional(self, word: str) -> bool:
        if self.at_word(word):
            self.pos += 1
            return True
        return False

    def string(self) -> str:
        """A '...' literal (with '' and \\' unescaped) or a $$...$$ / $tag$...$tag$ one (taken as written)."""
        token = self.next()
        dollar = _DOLLAR.match(token)
        if dollar:
            return dollar.group(2)
        if not (token.startswith("'") and token.endswith("'") and len(token) >= 2):
            raise RedshiftError(f'syntax error at or near "{token}"')
        return token[1:-1].replace("''", "'").replace("\\'", "'")

    def done(self) -> bool:
        while self.peek() == ";":
            self.pos += 1
        return self.peek() is None


def check_role(arn: str) -> str:
    for role in arn.split(","):  # Redshift accepts a chain of roles
        if not ROLE_ARN.match(role.strip()):
            raise RedshiftError(f"IAM Role '{arn}' is not a valid IAM role ARN")
    return arn


_CREDENTIALS_FORMAT = ("Invalid credentials. Must be of the format: credentials 'aws_iam_role=...' or "
                       "'aws_access_key_id=...;aws_secret_access_key=...[;token=...]'")


@dataclass
class Authorization:
    """How COPY/UNLOAD reach S3: an IAM role (or a chain of them, or ``default``), or an access key pair with an
    optional session token. The local S3 does not check either (the keys are not looked up in IAM)."""

    iam_role: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None

    def take(self, word: str, tokens: Tokens) -> bool:
        """Consume one authorization parameter starting at ``word``; False if ``word`` is not one."""
        if word == "with" and tokens.at_word("credentials"):
            word = tokens.word()
        if word == "iam_role":
            self._set_role("default" if tokens.optional("default") else check_role(tokens.string()))
        elif word == "credentials":
            tokens.optional("as")
            self._credentials(tokens.string())
        elif word in ("access_key_id", "secret_access_key", "session_token"):
            if getattr(self, word) is not None:
                raise RedshiftError("conflicting or redundant options")
            setattr(self, word, tokens.string())
        else:
            return False
        return True

    def _set_role(self, role: str) -> None:
        if self.iam_role is not None:
            raise RedshiftError("conflicting or redundant options")
        self.iam_role = role

    def _credentials(self, text: str) -> None:
        pairs = {}
        for part in text.split(";"):
            key, sep, value = part.strip().partition("=")
            if not sep or not value or key.lower() not in ("aws_iam_role", "aws_access_key_id",
                                                            "aws_secret_access_key", "token"):
                raise RedshiftError(_CREDENTIALS_FORMAT)
            pairs[key.lower()] = value.strip()
        if "aws_iam_role" in pairs:
            if len(pairs) != 1:
                raise RedshiftError(_CREDENTIALS_FORMAT)
            self._set_role(check_role(pairs["aws_iam_role"]))
            return
        if self.access_key_id is not None:
            raise RedshiftError("conflicting or redundant options")
        self.access_key_id = pairs.get("aws_access_key_id")
        self.secret_access_key = pairs.get("aws_secret_access_key")
        self.session_token = pairs.get("token")
        if not self.access_key_id or not self.secret_access_key:
            raise RedshiftError(_CREDENTIALS_FORMAT)

    def check(self, command: str) -> None:
        """RedshiftError unless exactly one way of authorizing was given."""
        keys = self.access_key_id is not None or self.secret_access_key is not None or self.session_token is not None
        if self.iam_role is not None and keys:
            raise RedshiftError("conflicting or redundant options")
        if self.iam_role is None and not keys:
            raise RedshiftError(f"Missing credentials: IAM_ROLE or CREDENTIALS is required for {command}")
        if keys and (not self.access_key_id or not self.secret_access_key):
            raise RedshiftError(_CREDENTIALS_FORMAT)
