"""Data API ``Parameters``: ``:name`` placeholders replaced by quoted literals (Redshift casts them on use)."""

from __future__ import annotations

import re

from local_aws.redshift.errors import RedshiftError

_PLACEHOLDER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_SKIP = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/", re.S)


class ParameterError(ValueError):
    """Bad Parameters: the Data API answers ValidationException before running anything."""


def bind_parameters(sql: str, parameters: list[dict] | None) -> str:
    if not parameters:
        return sql
    values: dict[str, str] = {}
    for param in parameters:
        name, value = param.get("name"), param.get("value")
        if not name or value is None:
            raise ParameterError("Each SqlParameter needs a name and a value")
        if name in values:
            raise ParameterError(f"Parameter {name} is specified more than once")
        values[name] = value
    used: set[str] = set()

    def literal(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise ParameterError(f"Parameter {name} is referenced in the SQL but not specified")
        used.add(name)
        return "'" + values[name].replace("'", "''") + "'"

    pieces, last = [], 0
    for skipped in _SKIP.finditer(sql):  # placeholders inside literals, identifiers and comments stay as they are
        pieces.append(_PLACEHOLDER.sub(literal, sql[last:skipped.start()]))
        pieces.append(skipped.group())
        last = skipped.end()
    pieces.append(_PLACEHOLDER.sub(literal, sql[last:]))
    unused = sorted(set(values) - used)
    if unused:
        raise ParameterError(f"Parameter {unused[0]} is specified but not used in the SQL")
    return "".join(pieces)


__all__ = ["ParameterError", "RedshiftError", "bind_parameters"]
