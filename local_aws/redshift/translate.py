"""Redshift SQL -> DuckDB SQL, one statement at a time, with sqlglot's redshift dialect plus the project's rules.

sqlglot does most of the work; the rules here cover what it leaves wrong or what needs the column types:
- DDL attributes (DISTSTYLE, DISTKEY, SORTKEY, ENCODE, BACKUP) are dropped;
- ``trunc(x)`` is ``CAST(x AS DATE)`` when x is a date/timestamp, numeric truncation otherwise;
- aggregates over VARCHAR columns (Redshift's implicit cast) read ``CAST(x AS DECIMAL(38, 2))``: a value that is not
  a number fails the query, as on Redshift;
- Redshift's type rules (``local_aws.redshift.types``): byte-length checks on character columns, numeric result
  types.
Types come from the DuckDB catalog via ``column_types`` (table -> {column: type}), so nothing global is redefined.
COPY, UNLOAD, CREATE EXTERNAL SCHEMA and late-binding views (CREATE VIEW ... WITH NO SCHEMA BINDING, kept by
``local_aws.redshift.views`` and translated when bound) are recognised here and executed elsewhere.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError
from sqlglot.errors import UnsupportedError as SqlglotUnsupported

from local_aws.redshift import load_errors
from local_aws.redshift.errors import RedshiftError, UnsupportedError
from local_aws.redshift.types import NumericRules, add_length_checks

# (schema or None, table) -> {column name: DuckDB type name}, or None if there is no such relation.
ColumnTypes = Callable[[str | None, str], dict[str, str] | None]

_DROPPED_PROPERTIES = (
    exp.DistStyleProperty,
    exp.DistKeyProperty,
    exp.SortKeyProperty,
    exp.BackupProperty,
)
_TEMPORAL = ("DATE", "TIMESTAMP")
_TEXT = ("VARCHAR", "CHAR", "TEXT", "STRING")
_NUMERIC_AGGREGATES = (exp.Sum, exp.Avg)
_LEADING_WORDS = re.compile(r"^\s*(\w+)(?:\s+(\w+))?(?:\s+(\w+))?", re.S)


@dataclass(frozen=True)
class Translated:
    """kind: 'sql' (run ``sql`` on DuckDB), 'begin' | 'commit' | 'rollback', 'copy', 'unload', 'external_schema',
    'late_binding_view' (``tree`` is the parsed CREATE VIEW; nothing is translated until the view is bound)."""

    kind: str
    sql: str
    returns_rows: bool = False
    is_dml: bool = False
    tables: tuple[tuple[str | None, str], ...] = ()  # relations the statement reads (for Spectrum resolution)
    cascade_from: tuple[str | None, str] | None = None  # DROP ... CASCADE: drop the views that depend on it
    creates: tuple[str, str | None, str, bool] | None = None  # CREATE TABLE/VIEW: (kind, schema, name, or replace)
    drops: tuple[str, str | None, str] | None = None  # DROP TABLE/VIEW of one relation: (kind, schema, name)
    tree: exp.Expression | None = None


def leading_words(statement: str) -> tuple[str, ...]:
    stripped = re.sub(r"^(\s|--[^\n]*\n|/\*.*?\*/)*", "", statement, flags=re.S)
    match = _LEADING_WORDS.match(stripped)
    return tuple(w.lower() for w in match.groups() if w) if match else ()


def translate(statement: str, column_types: ColumnTypes) -> Translated:
    words = leading_words(statement)
    first = words[0] if words else ""
    if first in ("begin", "start"):
        return Translated("begin", "BEGIN")
    if first in ("commit", "end"):
        return Translated("commit", "COMMIT")
    if first in ("rollback", "abort"):
        return Translated("rollback", "ROLLBACK")
    if first == "copy":
        return Translated("copy", statement)
    if first == "unload":
        return Translated("unload", statement)
    if words[:3] == ("create", "external", "schema"):
        return Translated("external_schema", statement)
    if words[:2] == ("create", "external") or words[:2] == ("alter", "table") and "partition" in statement.lower():
        raise UnsupportedError(f"{' '.join(words[:3]).upper()} (external tables are defined in the Glue catalog)")
    try:
        tree = sqlglot.parse_one(statement, read="redshift")
    except ParseError as exc:
        raise RedshiftError(f"syntax error: {exc.errors[0]['description'] if exc.errors else exc}") from exc
    if isinstance(tree, exp.Command):
        raise UnsupportedError(f"{tree.this.upper()} statement")
    if isinstance(tree, exp.Create) and tree.kind == "VIEW" and tree.args.get("no_schema_binding"):
        return Translated("late_binding_view", statement, tree=tree)
    for function in tree.find_all(exp.Anonymous):
        if function.name.lower() == "pg_get_late_binding_view_cols":
            raise UnsupportedError("PG_GET_LATE_BINDING_VIEW_COLS")
    _drop_redshift_attributes(tree)
    _system_tables(tree)
    add_length_checks(tree)
    tables = _read_tables(tree)
    column_types = functools.cache(column_types)  # one catalog read per relation and statement
    _rewrite_typed_functions(tree, tables, column_types)
    NumericRules(lambda column: _column_type(column, tables, column_types)).rewrite(tree)
    try:
        sql = tree.sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE)
    except SqlglotUnsupported as exc:
        raise UnsupportedError(str(exc)) from exc
    returns_rows = isinstance(tree, exp.Query) or isinstance(tree, (exp.Show, exp.Describe))
    is_dml = isinstance(tree, (exp.Insert, exp.Update, exp.Delete, exp.Merge))
    cascade_from, creates, drops = None, None, None
    if isinstance(tree, exp.Drop) and tree.args.get("cascade"):
        dropped = tree.args.get("tables") or [tree.this]
        if len(dropped) != 1 or not isinstance(dropped[0], exp.Table):
            raise UnsupportedError("DROP ... CASCADE of several relations in one statement")
        cascade_from = (dropped[0].db or None, dropped[0].name)
    if isinstance(tree, exp.Drop) and tree.kind in ("TABLE", "VIEW"):
        dropped = tree.args.get("tables") or [tree.this]
        if len(dropped) == 1 and isinstance(dropped[0], exp.Table):
            drops = (tree.kind, dropped[0].db or None, dropped[0].name)
    if isinstance(tree, exp.Create) and tree.kind in ("TABLE", "VIEW"):
        target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
        if isinstance(target, exp.Table):
            creates = (tree.kind, target.db or None, target.name, bool(tree.args.get("replace")))
            created = (target.alias_or_name or target.name).lower()
            if tables.get(created) == (target.db or None, target.name):
                del tables[created]  # what it creates, not what it reads
    return Translated("sql", sql, returns_rows=returns_rows, is_dml=is_dml,
                      tables=tuple(dict.fromkeys(tables.values())), cascade_from=cascade_from, creates=creates,
                      drops=drops)


def _drop_redshift_attributes(tree: exp.Expression) -> None:
    for node in list(tree.find_all(*_DROPPED_PROPERTIES)):
        node.pop()
    for constraint in list(tree.find_all(exp.ColumnConstraint)):
        if isinstance(constraint.args.get("kind"), exp.EncodeColumnConstraint):
            constraint.pop()
    for props in list(tree.find_all(exp.Properties)):
        if not props.expressions:
            props.pop()


def _system_tables(tree: exp.Expression) -> None:
    """Redshift's system tables the local Redshift keeps (STL_LOAD_ERRORS) live in the database's own schema."""
    for table in tree.find_all(exp.Table):
        if table.name.lower() in load_errors.SYSTEM_TABLES and table.db.lower() in ("", "pg_catalog"):
            table.set("db", exp.to_identifier(load_errors.SCHEMA))


def _read_tables(tree: exp.Expression) -> dict[str, tuple[str | None, str]]:
    """alias (or name) -> (schema, table) for every table the statement reads, CTE names excluded."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    tables: dict[str, tuple[str | None, str]] = {}
    for table in tree.find_all(exp.Table):
        name = table.name
        if not name or (not table.db and name.lower() in ctes):
            continue
        tables[(table.alias_or_name or name).lower()] = (table.db or None, name)
    return tables


def _column_type(column: exp.Column, tables: dict, column_types: ColumnTypes) -> str | None:
    name = column.name.lower()
    if column.table:
        candidates = [tables.get(column.table.lower())]
    else:
        candidates = list(tables.values())
    found = set()
    for candidate in candidates:
        if candidate is None:
            continue
        types = column_types(*candidate) or {}
        lowered = {k.lower(): v for k, v in types.items()}
        if name in lowered:
            found.add(lowered[name].upper())
    return found.pop() if len(found) == 1 else None


def _expression_type(node: exp.Expression, tables, column_types) -> str | None:
    if isinstance(node, exp.Column):
        return _column_type(node, tables, column_types)
    if isinstance(node, exp.Cast):
        return node.to.sql(dialect="duckdb").upper()
    if isinstance(node, (exp.CurrentTimestamp, exp.CurrentDate, exp.TsOrDsAdd, exp.DateAdd, exp.TimestampAdd)):
        return "TIMESTAMP"
    if isinstance(node, exp.Paren):
        return _expression_type(node.this, tables, column_types)
    return None


def _rewrite_typed_functions(tree: exp.Expression, tables, column_types: ColumnTypes) -> None:
    for node in list(tree.find_all(exp.Anonymous, exp.Trunc)):
        name = node.name.upper() if isinstance(node, exp.Anonymous) else "TRUNC"
        if name != "TRUNC":
            continue
        args = [node.this] if isinstance(node, exp.Trunc) else node.expressions
        args = [a for a in args if a is not None]
        if isinstance(node, exp.Trunc) and node.args.get("decimals") is not None:
            continue
        if len(args) == 1:
            kind = _expression_type(args[0], tables, column_types) or ""
            if kind.startswith(_TEMPORAL):
                node.replace(exp.cast(args[0].copy(), "DATE"))
    for node in list(tree.find_all(*_NUMERIC_AGGREGATES)):
        arg = node.this
        if isinstance(arg, exp.Distinct):
            continue
        kind = _expression_type(arg, tables, column_types) or ""
        if kind.startswith(_TEXT):
            node.set("this", exp.Cast(this=arg.copy(), to=exp.DataType.build("DECIMAL(38, 2)")))
