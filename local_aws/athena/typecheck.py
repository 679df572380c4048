"""Trino's strictness that DuckDB lacks: comparing a column with a literal of another type family is an error.

DuckDB happily compares ``year = 2021`` when ``year`` is a string (a crawler types Hive partition keys as
``string``); Athena fails the query with TYPE_MISMATCH. Catching it here keeps a query that would fail on AWS from
passing locally. Only comparisons between a catalog column and a literal are checked: string columns against
numeric literals and numeric columns against string literals.
"""

from __future__ import annotations

from sqlglot import exp

from local_aws.athena.errors import AthenaQueryError, position
from local_aws.catalog_tables import GlueTable

_NUMERIC = ("tinyint", "smallint", "int", "integer", "bigint", "float", "real", "double", "decimal")
_TRINO_NAMES = {"int": "integer", "float": "real"}
_COMPARISONS = {exp.EQ: "=", exp.NEQ: "<>", exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">="}


def _family(glue_type: str) -> str | None:
    base = glue_type.strip().lower().split("(")[0]
    if base in ("string", "varchar", "char"):
        return "varchar"
    if base in _NUMERIC:
        return _TRINO_NAMES.get(base, base)
    return None


def _literal_type(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Neg):
        node = node.this
    if not isinstance(node, exp.Literal):
        return None
    if node.is_string:
        return f"varchar({len(node.this)})"
    text = node.this
    if "e" in text.lower():
        return "double"
    if "." in text:
        whole, _, fraction = text.partition(".")
        return f"decimal({len(whole.lstrip('-')) + len(fraction)},{len(fraction)})"
    return "integer" if abs(int(text)) < 2**31 else "bigint"


def _mismatch(column_family: str, literal_type: str) -> bool:
    literal_is_string = literal_type.startswith("varchar")
    return (column_family == "varchar") != literal_is_string


class _Columns:
    """Glue types of the columns visible in one SELECT, by (alias, name) and by unambiguous name."""

    def __init__(self, tables: list[tuple[str, GlueTable]]):
        self.qualified: dict[tuple[str, str], str] = {}
        by_name: dict[str, list[str]] = {}
        for alias, table in tables:
            for column in table.all_columns:
                self.qualified[(alias.lower(), column.name.lower())] = column.glue_type
                by_name.setdefault(column.name.lower(), []).append(column.glue_type)
        self.unqualified = {name: types[0] for name, types in by_name.items() if len(types) == 1}

    def family(self, node: exp.Expression) -> str | None:
        if not isinstance(node, exp.Column):
            return None
        name = node.name.lower()
        glue_type = self.qualified.get((node.table.lower(), name)) if node.table else self.unqualified.get(name)
        return _family(glue_type) if glue_type else None


def check_literal_comparisons(refs: list[tuple[exp.Table, GlueTable]], sql: str) -> None:
    """Raise TYPE_MISMATCH, as Athena would, for a catalog column compared with a literal of another type family."""
    selects: dict[int, tuple[exp.Select, list[tuple[str, GlueTable]]]] = {}
    for ref, table in refs:
        select = ref.find_ancestor(exp.Select)
        if select is not None:
            selects.setdefault(id(select), (select, []))[1].append((ref.alias_or_name, table))
    for select, tables in selects.values():
        where = select.args.get("where")
        if where is None:
            continue
        columns = _Columns(tables)
        for node in where.find_all(exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE, exp.In, exp.Between):
            if node.find_ancestor(exp.Select) is not select:
                continue  # a subquery's comparison belongs to that subquery's tables
            _check(node, columns, sql)


def _check(node: exp.Expression, columns: _Columns, sql: str) -> None:
    if isinstance(node, exp.In | exp.Between):
        family = columns.family(node.this)
        others = node.expressions if isinstance(node, exp.In) else [node.args["low"], node.args["high"]]
        pairs = [(node.this, family, o) for o in others]
        operator = "IN" if isinstance(node, exp.In) else "BETWEEN"
    else:
        left, right = node.this, node.expression
        pairs = [(left, columns.family(left), right), (right, columns.family(right), left)]
        operator = _COMPARISONS[type(node)]
    for column, family, other in pairs:
        literal = _literal_type(other)
        if family and literal and _mismatch(family, literal):
            line, col = position(sql, column.this.meta.get("start") if isinstance(column, exp.Column) else None)
            if operator == "IN":
                message = f"IN value and list items must be the same type: {family}"
            elif operator == "BETWEEN":
                message = f"Cannot check if {family} is BETWEEN {literal} and {literal}"
            else:
                message = f"Cannot apply operator: {family} {operator} {literal}"
            raise AthenaQueryError("TYPE_MISMATCH", message, line, col)
