"""Run one Athena (Trino) statement on DuckDB over the Glue catalog.

SELECT/WITH queries: the statement is parsed with sqlglot (Athena dialect), every table reference is resolved in the
Glue catalog and read into Arrow through ``local_aws.catalog_tables`` (only the partitions the WHERE clause can
match), registered in a fresh DuckDB connection under a private name, and the query is translated to DuckDB SQL.
Utility statements the pipeline needs (SHOW TABLES/DATABASES/PARTITIONS/COLUMNS, DESCRIBE, MSCK REPAIR TABLE) are
answered from the catalog directly; CREATE EXTERNAL TABLE, DROP TABLE and ALTER TABLE ADD PARTITION change it
(``local_aws.athena.ddl``).
"""

from __future__ import annotations

import fnmatch
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import duckdb
import sqlglot
from moto.glue.models import glue_backends
from sqlglot import exp
from sqlglot.errors import ParseError

from local_aws import ACCOUNT_ID, REGION, principal
from local_aws.athena import ctas, ddl, functions
from local_aws.athena.errors import AthenaQueryError, from_duckdb, position
from local_aws.athena.pruning import partition_filter
from local_aws.athena.results import ResultColumn, render
from local_aws.athena.typecheck import check_literal_comparisons
from local_aws.catalog_tables import (
    BadDataError,
    GlueTable,
    TableNotFoundError,
    UnsupportedSerDeError,
    UnsupportedTableError,
    describe_table,
    discover_partitions,
    list_partitions,
    scan_table,
)
from local_aws.lakeformation import engines as lakeformation

DEFAULT_CATALOG = "awsdatacatalog"


@dataclass
class QueryResult:
    columns: list[ResultColumn]
    rows: list[tuple[str | None, ...]]  # values already rendered as Athena strings
    statement_type: str  # DML | DDL | UTILITY
    substatement_type: str  # SELECT, SHOW_TABLES, DESCRIBE, MSCK_REPAIR_TABLE, ...
    bytes_scanned: int = 0
    files_read: list[str] = field(default_factory=list)
    update_count: int = 0  # rows written by CREATE TABLE AS (GetQueryResults UpdateCount)

    @property
    def has_header_row(self) -> bool:
        """GetQueryResults starts with a header row for SELECT results only (as Athena does)."""
        return self.statement_type == "DML"


class QueryRun:
    """One statement's execution; ``interrupt()`` (from another thread) aborts a running DuckDB query."""

    def __init__(self, sql: str, database: str | None, catalog: str | None, output_dir: str | None = None,
                 query_id: str | None = None):
        self.sql = sql.strip().rstrip(";").strip()
        self.database = (database or "default").lower()
        self.catalog = (catalog or DEFAULT_CATALOG).lower()
        self.output_dir = output_dir  # the query's result location: CTAS writes under <it>/tables/<query id>/
        self.query_id = query_id or "local"
        self._con: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()
        self._interrupted = False
        self.principal = principal.current()  # who submitted it: Lake Formation checks it, not the worker thread

    def interrupt(self) -> None:
        with self._lock:
            self._interrupted = True
        threading.Thread(target=self._keep_interrupting, daemon=True).start()

    def _keep_interrupting(self) -> None:
        """DuckDB drops an interrupt that arrives before execution starts: repeat until the connection closes."""
        while True:
            with self._lock:
                if self._con is None:
                    return
                self._con.interrupt()
            time.sleep(0.05)

    def execute(self) -> QueryResult:
        with principal.acting_as(self.principal):  # catalog writes (DDL) are the submitter's, as its creator
            return self._execute()

    def _execute(self) -> QueryResult:
        if not self.sql:
            raise AthenaQueryError("INVALID_INPUT", "The query string is empty")
        if self.catalog != DEFAULT_CATALOG:
            raise AthenaQueryError("CATALOG_NOT_FOUND", f"Catalog '{self.catalog}' does not exist")
        utility = _run_utility(self)
        if utility is not None:
            return utility
        return self._run_statement()

    # --- statements ----------------------------------------------------------------------------------------------

    def _parse(self) -> exp.Expression:
        try:
            statements = [s for s in sqlglot.parse(self.sql, read="athena") if s is not None]
        except ParseError as exc:
            first = exc.errors[0] if exc.errors else {}
            detail = first.get("description") or str(exc).split("\n")[0]
            raise AthenaQueryError("SYNTAX_ERROR", detail, first.get("line"), first.get("col")) from exc
        if len(statements) != 1:
            raise AthenaQueryError("INVALID_INPUT", f"Only one sql statement is allowed. Got: {self.sql}")
        statement = statements[0]
        kind = str(statement.args.get("kind")).upper()
        if isinstance(statement, exp.Drop) and kind in ("DATABASE", "SCHEMA"):
            return statement
        if isinstance(statement, exp.Drop | exp.Create | exp.Alter) and kind != "TABLE":
            raise AthenaQueryError(
                "NOT_SUPPORTED", f"{statement.key.upper()} {kind} is not supported by the local Athena"
            )
        if not isinstance(statement, exp.Query | exp.Describe | exp.Create | exp.Drop | exp.Alter):
            kind = statement.key.upper()
            raise AthenaQueryError("NOT_SUPPORTED", f"{kind} statements are not supported by the local Athena")
        return statement

    def _resolve(self, ref: exp.Table) -> GlueTable:
        catalog = (ref.catalog or DEFAULT_CATALOG).lower()
        database = (ref.db or self.database).lower()
        offset = _start(ref)
        line, col = position(self.sql, offset)
        if catalog != DEFAULT_CATALOG:
            raise AthenaQueryError("CATALOG_NOT_FOUND", f"Catalog '{catalog}' does not exist", line, col)
        try:
            table = describe_table(database, ref.name)
        except TableNotFoundError as exc:
            if not exc.database_exists:
                raise AthenaQueryError(
                    "SCHEMA_NOT_FOUND", f"Schema '{database}' does not exist", line, col
                ) from exc
            raise AthenaQueryError(
                "TABLE_NOT_FOUND", f"Table '{catalog}.{database}.{ref.name.lower()}' does not exist", line, col
            ) from exc
        except UnsupportedTableError as exc:
            raise _table_error(exc, line, col) from exc
        lakeformation.athena_describe(self.principal, table.database, table.name)
        return table

    def _run_statement(self) -> QueryResult:
        tree = self._parse()
        if isinstance(tree, exp.Describe):
            return _describe(self, tree.this)
        if isinstance(tree, exp.Create | exp.Drop | exp.Alter):
            lakeformation.athena_ddl(self.principal, tree, self.database)
        if isinstance(tree, exp.Create) and tree.expression is not None:
            return self._create_table_as(tree)
        if isinstance(tree, exp.Create):
            ddl.create_external_table(tree, self.database)
            return QueryResult([], [], "DDL", "CREATE_TABLE")
        if isinstance(tree, exp.Drop) and str(tree.args.get("kind")).upper() in ("DATABASE", "SCHEMA"):
            ddl.drop_database(tree)
            return QueryResult([], [], "DDL", "DROP_DATABASE")
        if isinstance(tree, exp.Drop):
            ddl.drop_table(tree, self.database)
            return QueryResult([], [], "DDL", "DROP_TABLE")
        if isinstance(tree, exp.Alter):
            table = self._resolve(tree.this)
            ddl.add_partitions(tree, table.database, table.name, table.location, [k.name for k in table.partition_keys])
            return QueryResult([], [], "DDL", "ALTER_TABLE_ADD_PARTITION")
        description, raw_rows, scanned, files = self._query(tree)
        columns = [ResultColumn(d[0], str(d[1])) for d in description]
        rows = [tuple(render(v) for v in row) for row in raw_rows]
        return QueryResult(columns, rows, "DML", "SELECT", scanned, files)

    def _create_table_as(self, tree: exp.Create) -> QueryResult:
        measured: dict[str, Any] = {}

        def run_query(select: exp.Expression):
            description, table, measured["scanned"], measured["files"] = self._query(select, arrow=True)
            return table, [str(d[1]) for d in description]

        output = (self.output_dir or "").rstrip("/")
        default_location = f"{output}/tables/{self.query_id}/" if output else ""
        written = ctas.create_table_as(tree, self.database, run_query, default_location, self.query_id)
        return QueryResult([], [], "DDL", "CREATE_TABLE_AS_SELECT", measured.get("scanned", 0),
                           measured.get("files", []), update_count=written)

    def _query(self, tree: exp.Expression, arrow: bool = False) -> tuple[list, Any, int, list[str]]:
        """Run a query over the catalog: (DuckDB description, rows or an Arrow table, bytes scanned, files)."""
        cte_names = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
        refs = [
            t for t in tree.find_all(exp.Table)
            if t.name and not (not t.db and t.name.lower() in cte_names) and not isinstance(t.this, exp.Func)
        ]
        # Group references per catalog table: a partition is read when any reference may need it.
        tables: dict[tuple[str, str], GlueTable] = {}
        filters: dict[tuple[str, str], list] = {}
        resolved: list[tuple[exp.Table, tuple[str, str]]] = []
        for ref in refs:
            table = self._resolve(ref)
            key = (table.database, table.name)
            resolved.append((ref, key))
            tables[key] = table
            select = ref.find_ancestor(exp.Select)
            check = None
            if select is not None:
                sources = [select.args.get("from_") or select.args.get("from")] + list(select.args.get("joins") or [])
                n_tables = sum(len(list(s.find_all(exp.Table))) for s in sources if s is not None)
                check = partition_filter(select, ref.alias_or_name, table, single_table=n_tables == 1)
            filters.setdefault(key, []).append(check)
        check_literal_comparisons([(ref, tables[key]) for ref, key in resolved], self.sql)

        with self._lock:
            if self._interrupted:
                raise _cancelled()
            # Trino divides integers as integers (7 / 2 = 3); DuckDB would return 3.5.
            con = self._con = duckdb.connect(config={"integer_division": True})
            # UTC: Athena's session time zone (timestamp with time zone values are shown in UTC). ICU is statically
            # linked but not loaded yet when connect() reads its config, hence SET.
            con.execute("SET TimeZone = 'UTC'")
        try:
            registered: dict[tuple[str, str], str] = {}
            scanned, files = 0, []
            for i, (key, table) in enumerate(tables.items()):
                checks = filters[key]
                keep = None if any(c is None for c in checks) else (lambda v, cs=checks: any(c(v) for c in cs))
                try:
                    scan = scan_table(table, keep)
                except UnsupportedTableError as exc:
                    raise _table_error(exc) from exc
                scanned += scan.bytes_scanned
                files += scan.files
                registered[key] = f"__athena_t{i}"
                con.register(registered[key], lakeformation.athena_select(self.principal, *key, scan.table))
            for ref, key in resolved:
                alias = ref.alias_or_name
                replacement = exp.Table(this=exp.to_identifier(registered[key]))
                replacement.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
                ref.replace(replacement)
            _name_unaliased_columns(tree)
            functions.rewrite(tree)
            schema = {registered[key]: {c.name: c.duckdb_type or "VARCHAR" for c in table.all_columns}
                      for key, table in tables.items()}
            tree = functions.retype(tree, schema)
            duck_sql = tree.sql(dialect="duckdb")
            try:
                if arrow:
                    relation = con.sql(duck_sql)
                    description = list(zip(relation.columns, relation.types, strict=True))
                    raw_rows = relation.to_arrow_table()
                else:
                    cursor = con.execute(duck_sql)
                    description = cursor.description or []
                    raw_rows = cursor.fetchall()
            except duckdb.InterruptException as exc:
                raise _cancelled() from exc
            except duckdb.Error as exc:
                if self._interrupted:
                    raise _cancelled() from exc
                raise from_duckdb(exc, self.sql) from exc
        finally:
            with self._lock:
                self._con = None
            con.close()
        return description, raw_rows, scanned, files


def _table_error(exc: UnsupportedTableError, line: int | None = None, col: int | None = None) -> AthenaQueryError:
    """A table the engine cannot read: NOT_SUPPORTED for what is not emulated, else the SerDe's error name."""
    if isinstance(exc, UnsupportedSerDeError):
        return AthenaQueryError("NOT_SUPPORTED", str(exc), line, col)
    if isinstance(exc, BadDataError):
        return AthenaQueryError(exc.error_name, str(exc), line, col)
    return AthenaQueryError("HIVE_BAD_DATA", str(exc), line, col)


class QueryCancelled(Exception):
    """The query was stopped by StopQueryExecution."""


def _cancelled() -> QueryCancelled:
    return QueryCancelled("Query cancelled by user")


def _name_unaliased_columns(tree: exp.Expression) -> None:
    """Athena names an unaliased expression in the select list ``_col<position>``; DuckDB would use its text."""
    select = tree
    while isinstance(select, exp.SetOperation):
        select = select.this
    if not isinstance(select, exp.Select):
        return
    for i, projection in enumerate(select.expressions):
        if not isinstance(projection, exp.Alias | exp.Column | exp.Star):
            projection.replace(exp.alias_(projection.copy(), f"_col{i}"))


def _start(node: exp.Expression) -> int | None:
    """Character offset where a table reference starts in the SQL text (its first name part)."""
    parts = [p for p in (node.args.get("catalog"), node.args.get("db"), node.this) if isinstance(p, exp.Identifier)]
    starts = [p.meta.get("start") for p in parts if p.meta.get("start") is not None]
    if not starts:
        return None
    first = min(starts)
    return first - 1 if parts[0].quoted else first


# --- utility statements ----------------------------------------------------------------------------------------

_NAME = r'[`"]?([\w-]+)[`"]?'
_QUALIFIED = rf"(?:{_NAME}\.)?{_NAME}"
_UTILITY = [
    ("SHOW_TABLES", re.compile(rf"^SHOW\s+TABLES(?:\s+(?:IN|FROM)\s+{_NAME})?(?:\s+(?:LIKE\s+)?'([^']*)')?$", re.I)),
    ("SHOW_DATABASES", re.compile(r"^SHOW\s+(?:DATABASES|SCHEMAS)(?:\s+(?:LIKE\s+)?'([^']*)')?$", re.I)),
    ("SHOW_PARTITIONS", re.compile(rf"^SHOW\s+PARTITIONS\s+{_QUALIFIED}$", re.I)),
    ("SHOW_COLUMNS", re.compile(rf"^SHOW\s+COLUMNS\s+(?:IN|FROM)\s+{_QUALIFIED}$", re.I)),
    ("MSCK_REPAIR_TABLE", re.compile(rf"^MSCK\s+REPAIR\s+TABLE\s+{_QUALIFIED}$", re.I)),
]


def _athena_like(name: str, pattern: str | None) -> bool:
    """Athena's SHOW patterns: '*' any characters, '|' alternatives, case-insensitive."""
    if not pattern:
        return True
    return any(fnmatch.fnmatchcase(name.lower(), alt.strip().lower()) for alt in pattern.split("|"))


def _varchar(*names: str) -> list[ResultColumn]:
    return [ResultColumn(n, "VARCHAR") for n in names]


def _table_for(run: QueryRun, database: str | None, table: str) -> GlueTable:
    ref = exp.Table(this=exp.to_identifier(table), db=exp.to_identifier(database) if database else None)
    return run._resolve(ref)


def _run_utility(run: QueryRun) -> QueryResult | None:
    database = ddl.CREATE_DATABASE.match(run.sql)
    if database:
        if_not_exists, quoted, plain, rest = database.groups()
        ddl.create_database(bool(if_not_exists), quoted or plain, rest)
        return QueryResult([], [], "DDL", "CREATE_DATABASE")
    for kind, pattern in _UTILITY:
        match = pattern.match(run.sql)
        if match:
            return _UTILITY_HANDLERS[kind](run, *match.groups())
    return None


def _show_tables(run: QueryRun, database: str | None, like: str | None) -> QueryResult:
    name = (database or run.database).lower()
    backend = glue_backends[ACCOUNT_ID][REGION]
    databases = {d.lower(): d for d in backend.databases}
    if name not in databases:
        raise AthenaQueryError("SCHEMA_NOT_FOUND", f"Schema '{name}' does not exist")
    tables = sorted(t for t in backend.databases[databases[name]].tables if _athena_like(t, like))
    tables = lakeformation.athena_visible_tables(run.principal, databases[name], tables)
    return QueryResult(_varchar("tab_name"), [(t,) for t in tables], "UTILITY", "SHOW_TABLES")


def _show_databases(run: QueryRun, like: str | None) -> QueryResult:
    names = sorted(d for d in glue_backends[ACCOUNT_ID][REGION].databases if _athena_like(d, like))
    names = lakeformation.athena_visible_databases(run.principal, names)
    return QueryResult(_varchar("database_name"), [(d,) for d in names], "UTILITY", "SHOW_DATABASES")


def _show_partitions(run: QueryRun, database: str | None, table: str) -> QueryResult:
    glue_table = _table_for(run, database, table)
    if not glue_table.partition_keys:
        raise AthenaQueryError("NOT_SUPPORTED", f"Table {glue_table.database}.{glue_table.name} is not partitioned")
    names = sorted(p.name for p in list_partitions(glue_table))
    return QueryResult(_varchar("partition"), [(n,) for n in names], "UTILITY", "SHOW_PARTITIONS")


def _show_columns(run: QueryRun, database: str | None, table: str) -> QueryResult:
    glue_table = lakeformation.athena_described(run.principal, _table_for(run, database, table))
    return QueryResult(_varchar("field"), [(c.name,) for c in glue_table.all_columns], "UTILITY", "SHOW_COLUMNS")


def _describe(run: QueryRun, ref: Any) -> QueryResult:
    if not isinstance(ref, exp.Table):
        raise AthenaQueryError("NOT_SUPPORTED", "DESCRIBE takes a table name")
    glue_table = lakeformation.athena_described(run.principal, run._resolve(ref))
    rows: list[tuple[str | None, ...]] = [(c.name, c.glue_type, "") for c in glue_table.all_columns]
    if glue_table.partition_keys:
        rows += [("", None, None), ("# Partition Information", None, None), ("# col_name", "data_type", "comment")]
        rows += [(c.name, c.glue_type, "") for c in glue_table.partition_keys]
    return QueryResult(_varchar("col_name", "data_type", "comment"), rows, "UTILITY", "DESCRIBE_TABLE")


def _msck_repair(run: QueryRun, database: str | None, table: str) -> QueryResult:
    """Register the Hive partition folders found under the table's location that the catalog lacks."""
    glue_table = _table_for(run, database, table)
    if not glue_table.partition_keys:
        raise AthenaQueryError("NOT_SUPPORTED", f"Table {glue_table.database}.{glue_table.name} is not partitioned")
    lakeformation.athena_alter(run.principal, glue_table.database, glue_table.name)
    known = {tuple(p.values.values()) for p in list_partitions(glue_table)}
    missing = [p for p in discover_partitions(glue_table) if tuple(p.values.values()) not in known]
    backend = glue_backends[ACCOUNT_ID][REGION]
    table_sd = backend.get_table(glue_table.database, glue_table.name).as_dict().get("StorageDescriptor") or {}
    inputs = []
    for part in missing:
        storage = {k: v for k, v in table_sd.items() if k != "Location"}
        storage["Location"] = part.location
        inputs.append({"Values": list(part.values.values()), "StorageDescriptor": storage})
    if inputs:
        backend.batch_create_partition(glue_table.database, glue_table.name, inputs)
    label = f"{glue_table.name}:"
    lines = [("Partitions not in metastore:\t" + "\t".join(label + p.name for p in missing),)] if missing else []
    lines += [(f"Repair: Added partition to metastore {label}{p.name}",) for p in missing]
    return QueryResult(_varchar("result"), lines, "DDL", "MSCK_REPAIR_TABLE")


_UTILITY_HANDLERS = {
    "SHOW_TABLES": _show_tables,
    "SHOW_DATABASES": _show_databases,
    "SHOW_PARTITIONS": _show_partitions,
    "SHOW_COLUMNS": _show_columns,
    "MSCK_REPAIR_TABLE": _msck_repair,
}
