"""Tokens of COPY / UNLOAD / CREATE EXTERNAL SCHEMA option lists: words, quoted strings, parentheses."""

from __future__ import annotations

import re

from local_aws.redshift.errors import RedshiftError

_TOKEN = re.compile(r"--[^\n]*|/\*.*?\*/|'(?:[^'\\]|''|\\.)*'|[A-Za-z_][\w$]*|\"(?:[^\"]|\"\")*\"|\d+|\S", re.S)
ROLE_ARN = re.compile(r"^arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]+$")


class Tokens:
    def __init__(self, text: str):
        self.items = [t for t in _TOKEN.findall(text) if not t.startswith(("--", "/*"))]
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
        token = self.next()
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
