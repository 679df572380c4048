"""Trino date functions whose patterns DuckDB does not speak, rewritten on the parsed query before translation.

Athena (Trino) has two pattern languages ("Date and time functions and operators", Trino documentation, linked from
Athena's "Functions in Amazon Athena"):

- ``date_parse`` / ``date_format`` take MySQL-style specifiers (``%Y-%m-%d %H:%i:%s``); sqlglot translates them.
  The specifiers Trino rejects (``%D %U %u %V %w %X %x``) fail as in Trino.
- ``parse_datetime`` / ``format_datetime`` take Joda-Time patterns (``yyyy-MM-dd HH:mm:ss``), turned here into
  strptime/strftime patterns; ``parse_datetime`` returns ``timestamp(3) with time zone`` (UTC, Athena's session
  zone). A pattern letter without an equivalent here is refused by name, as is a pattern that is not a literal.
"""

from __future__ import annotations

from sqlglot import exp

from local_aws.athena.errors import AthenaQueryError

_TRINO_UNSUPPORTED = ("%D", "%U", "%u", "%V", "%w", "%X", "%x")


def _joda_token(letter: str, count: int) -> str | None:
    """The strftime/strptime specifier of a run of one Joda letter (None: no equivalent)."""
    if letter in "yY":
        return "%y" if count == 2 else "%Y"
    if letter == "M":
        return {1: "%-m", 2: "%m", 3: "%b"}.get(count, "%B")
    simple = {"d": ("%-d", "%d"), "H": ("%-H", "%H"), "h": ("%-I", "%I"), "m": ("%-M", "%M"), "s": ("%-S", "%S")}
    if letter in simple:
        return simple[letter][0] if count == 1 else simple[letter][1] if count == 2 else None
    if letter == "S":
        return {3: "%g", 6: "%f", 9: "%n"}.get(count)
    if letter == "a":
        return "%p"
    if letter == "E":
        return "%a" if count <= 3 else "%A"
    if letter == "D":
        return "%j"
    if letter == "Z":
        return "%z"
    if letter == "z":
        return "%Z"
    return None


def joda_to_strftime(pattern: str) -> str:
    """A Joda-Time pattern as a DuckDB strftime/strptime pattern; AthenaQueryError for what has no equivalent."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "'":
            end = pattern.find("'", i + 1)
            if end == i + 1:  # '' is a literal quote
                out.append("'")
                i += 2
                continue
            if end < 0:
                raise AthenaQueryError("INVALID_FUNCTION_ARGUMENT",
                                       f"Invalid format: unterminated quote in '{pattern}'")
            out.append(pattern[i + 1:end].replace("%", "%%"))
            i = end + 1
            continue
        if char.isalpha():
            run = i
            while run < len(pattern) and pattern[run] == char:
                run += 1
            token = _joda_token(char, run - i)
            if token is None:
                raise AthenaQueryError(
                    "NOT_SUPPORTED",
                    f"Joda pattern '{pattern[i:run]}' in '{pattern}' is not supported by the local Athena",
                )
            out.append(token)
            i = run
            continue
        out.append("%%" if char == "%" else char)
        i += 1
    return "".join(out)


def _literal_pattern(node: exp.Expression | None, function: str) -> str:
    if not isinstance(node, exp.Literal) or not node.is_string:
        raise AthenaQueryError("NOT_SUPPORTED", f"{function} with a pattern that is not a string literal is not "
                               "supported by the local Athena")
    return node.this


def rewrite(tree: exp.Expression) -> None:
    """Rewrite the Trino date functions of ``tree`` in place (see the module docstring)."""
    for node in list(tree.find_all(exp.ParseDatetime)):
        pattern = joda_to_strftime(_literal_pattern(node.args.get("format"), "parse_datetime"))
        parsed = exp.StrToTime(this=node.this, format=exp.Literal.string(pattern))
        node.replace(exp.cast(parsed, exp.DataType.build("TIMESTAMPTZ")))
    for node in list(tree.find_all(exp.Anonymous)):
        if node.name.lower() != "format_datetime":
            continue
        if len(node.expressions) != 2:
            raise AthenaQueryError("FUNCTION_NOT_FOUND", "format_datetime takes (timestamp, format)")
        value, fmt = node.expressions
        pattern = joda_to_strftime(_literal_pattern(fmt, "format_datetime"))
        node.replace(exp.TimeToStr(this=value, format=exp.Literal.string(pattern)))
    for node in list(tree.find_all(exp.StrToTime, exp.TimeToStr)):
        fmt = node.args.get("format")
        if isinstance(fmt, exp.Literal):
            for spec in _TRINO_UNSUPPORTED:
                if spec in fmt.this.replace("%%", ""):
                    raise AthenaQueryError("INVALID_FUNCTION_ARGUMENT", f"{spec} not supported in date format string")


# --- result types ------------------------------------------------------------------------------------------------

_DATE_UNITS = {"DAY", "WEEK", "MONTH", "QUARTER", "YEAR"}


def _decimal(node: exp.Expression) -> tuple[int, int] | None:
    kind = getattr(node, "type", None)
    if not isinstance(kind, exp.DataType) or kind.this != exp.DataType.Type.DECIMAL:
        return None
    params = [int(p.name) for p in kind.expressions] if kind.expressions else [18, 3]
    return params[0], params[1] if len(params) > 1 else 0


def _is_date(node: exp.Expression | None) -> bool:
    kind = getattr(node, "type", None)
    return isinstance(kind, exp.DataType) and kind.this == exp.DataType.Type.DATE


def retype(tree: exp.Expression, schema: dict[str, dict[str, str]]) -> exp.Expression:
    """The query with Trino's result types where DuckDB's differ ("Decimal functions and operators", "Date and time
    functions", Trino documentation): avg(decimal(p,s)) is decimal(p,s); decimal / decimal is
    decimal(min(38, p1 - s1 + s2 + max(s1, s2)), max(s1, s2)); date_add with a day-or-longer unit and date_trunc
    of a date are dates. Types come from sqlglot's type annotation over ``schema`` (table -> column -> DuckDB
    type); the original tree is returned when nothing needs a change or the annotation fails."""
    from sqlglot.errors import OptimizeError
    from sqlglot.optimizer.annotate_types import annotate_types
    from sqlglot.optimizer.qualify import qualify

    if not any(tree.find_all(exp.Avg, exp.Div, exp.DateAdd, exp.TimestampTrunc, exp.DateTrunc)):
        return tree
    try:
        typed = qualify(tree.copy(), schema=schema, dialect="duckdb", quote_identifiers=False,
                        validate_qualify_columns=False)
        annotate_types(typed, schema=schema, dialect="duckdb")
    except (OptimizeError, ValueError, KeyError):
        return tree  # let DuckDB report the error on the query as written
    changed = False
    for node in list(typed.find_all(exp.Avg, exp.Div, exp.DateAdd, exp.TimestampTrunc, exp.DateTrunc)):
        replacement = None
        if isinstance(node, exp.Avg) and (decimal := _decimal(node.this)):
            replacement = exp.cast(node.copy(), exp.DataType.build(f"DECIMAL({decimal[0]},{decimal[1]})"))
        elif isinstance(node, exp.Div) and (left := _decimal(node.this)) and (right := _decimal(node.expression)):
            scale = max(left[1], right[1])
            precision = min(38, left[0] - left[1] + right[1] + scale)
            ratio = exp.Div(this=exp.cast(node.this.copy(), "DOUBLE"), expression=exp.cast(
                node.expression.copy(), "DOUBLE"))
            replacement = exp.cast(ratio, exp.DataType.build(f"DECIMAL({precision},{scale})"))
        elif isinstance(node, exp.DateAdd) and _is_date(node.this) and node.text("unit").upper() in _DATE_UNITS:
            replacement = exp.cast(node.copy(), "DATE")
        elif isinstance(node, exp.TimestampTrunc | exp.DateTrunc) and _is_date(node.this):
            replacement = exp.cast(node.copy(), "DATE")
        if replacement is not None:
            node.replace(replacement)
            changed = True
    return typed if changed else tree
