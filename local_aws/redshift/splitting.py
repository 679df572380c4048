"""Split a Sql string into statements on top-level semicolons, respecting quotes, comments and $$ bodies."""

from __future__ import annotations

import re

from local_aws.redshift.errors import RedshiftError

_DOLLAR_TAG = re.compile(r"\$[A-Za-z_]*\$")


def split_statements(sql: str) -> list[str]:
    """Statements in order, without the terminating semicolons; comment-only or empty pieces are dropped."""
    statements: list[str] = []
    current: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in ("'", '"'):
            end = _end_of_quoted(sql, i, ch)
            current.append(sql[i:end])
            i = end
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end == -1 else end
            current.append(sql[i:end])
            i = end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            if end == -1:
                raise RedshiftError("unterminated /* comment")
            current.append(sql[i:end + 2])
            i = end + 2
        elif ch == "$" and (tag := _DOLLAR_TAG.match(sql, i)):
            end = sql.find(tag.group(), tag.end())
            if end == -1:
                raise RedshiftError(f"unterminated dollar-quoted string at or near \"{tag.group()}\"")
            end += len(tag.group())
            current.append(sql[i:end])
            i = end
        elif ch == ";":
            statements.append("".join(current))
            current = []
            i += 1
        else:
            current.append(ch)
            i += 1
    statements.append("".join(current))
    return [s.strip() for s in statements if _has_code(s)]


def _end_of_quoted(sql: str, start: int, quote: str) -> int:
    i = start + 1
    while i < len(sql):
        if sql[i] == quote:
            if i + 1 < len(sql) and sql[i + 1] == quote:  # doubled quote is an escaped quote
                i += 2
                continue
            return i + 1
        if quote == "'" and sql[i] == "\\":  # Redshift also accepts backslash escapes in literals
            i += 2
            continue
        i += 1
    kind = "quoted string" if quote == "'" else "quoted identifier"
    raise RedshiftError(f"unterminated {kind} at or near \"{sql[start:start + 20]}\"")


def _has_code(statement: str) -> bool:
    without_comments = re.sub(r"--[^\n]*|/\*.*?\*/", "", statement, flags=re.S)
    return bool(without_comments.strip())
