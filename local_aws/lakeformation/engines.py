"""Lake Formation as the engines meet it: Athena queries and DDL, a crawler's catalog writes, Redshift Spectrum's
external-table reads. Each engine calls these few functions (its hook); they raise the engine's own error shape.

Athena ("Using Athena to query data registered with AWS Lake Formation", Athena User Guide; "Data filtering and
cell-level security", Lake Formation Developer Guide):
- a table the query reads needs SELECT on it or on some of its columns; without any, the query fails with
  "Insufficient permissions to execute the query. Insufficient Lake Formation permission(s) on <table>" (the
  message AWS's samples record for Athena under QuickSight);
- with column-level SELECT the table has only the granted columns: ``SELECT *`` returns them and naming another
  fails as Athena does, "COLUMN_NOT_FOUND: line L:C: Column 'x' cannot be resolved or requester is not authorized
  to access requested resources" (Athena engine v3's recorded message; the engine's own error mapping gives it);
- DESCRIBE / SHOW COLUMNS need DESCRIBE and, to a caller holding column-level SELECT alone, show only its columns;
  SHOW TABLES / SHOW DATABASES list what the caller may see;
- DDL: CREATE EXTERNAL TABLE needs CREATE_TABLE on the database and DATA_LOCATION_ACCESS when its LOCATION is
  registered ("Insufficient Lake Formation permission(s) on s3://...", AWS Knowledge Center "Athena: insufficient
  Lake Formation permissions"); DROP TABLE needs DROP; ALTER TABLE ADD PARTITION and MSCK REPAIR need ALTER.

A crawler (Glue, "Crawler errors when the crawler is using Lake Formation permissions"): creating a table needs
CREATE_TABLE on the output database, updating one or its partitions ALTER on it, deleting one DROP, and a table
under a registered location DATA_LOCATION_ACCESS there; it fails with "Insufficient Lake Formation permission(s) on
<table> (Database name: <db>, Table Name: <table>)" or "... on s3://<path>".

Redshift Spectrum (acting as the external schema's IAM_ROLE): an external table read needs SELECT; columns and
data cells filter rows as in Athena.

``who``: the principal to check (Athena passes the query's submitter); None checks the current caller.
"""

from __future__ import annotations

import dataclasses

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from local_aws.athena.errors import AthenaQueryError
from local_aws.catalog_tables import GlueTable
from local_aws.lakeformation import access, errors
from local_aws.lakeformation.errors import LakeFormationDenied, NotEmulated
from local_aws.principal import Principal


class AthenaPermissionDenied(AthenaQueryError):
    """Athena's permission failure: its message has no ``NAME:`` prefix ("Insufficient permissions to execute the
    query. ...")."""

    def __init__(self, name: str = "PERMISSION_DENIED", message: str = "", line: int | None = None,
                 column: int | None = None):
        super().__init__(name, message, line, column)
        self.args = (message,)

    def __reduce__(self):
        # saved with its execution (the state store pickles it): rebuilt from this class's own parameters
        return type(self), (self.name, self.detail, self.line, self.column)

    def __str__(self) -> str:
        return self.detail


def _athena_denied(table: str) -> AthenaPermissionDenied:
    return AthenaPermissionDenied(message="Insufficient permissions to execute the query. Insufficient Lake "
                                          f"Formation permission(s) on {table}")


# --- Athena -----------------------------------------------------------------------------------------------------


def athena_describe(who: Principal | None, database: str, table: str) -> None:
    """A table named by a query, DESCRIBE or SHOW needs DESCRIBE (any permission on it)."""
    try:
        access.require_table("DESCRIBE", database, table, who=who)
    except LakeFormationDenied as exc:
        raise _athena_denied(table) from exc


def athena_described(who: Principal | None, table: GlueTable) -> GlueTable:
    """``table`` as DESCRIBE / SHOW COLUMNS show it to the caller: its granted columns only when it holds
    column-level SELECT alone (``access.described_columns``)."""
    shown = access.described_columns(table.database, table.name, [c.name for c in table.all_columns], who=who)
    if shown is None:
        return table
    keep = {c.lower() for c in shown}
    return dataclasses.replace(table, columns=tuple(c for c in table.columns if c.name.lower() in keep),
                               partition_keys=tuple(k for k in table.partition_keys if k.name.lower() in keep))


def athena_select(who: Principal | None, database: str, table: str, data: pa.Table) -> pa.Table:
    """``data`` (the table as read) cut to what the caller may SELECT: the granted columns, and the rows its data
    cells filters admit; AthenaPermissionDenied if it may read nothing."""
    try:
        return _readable(who, database, table, data)
    except LakeFormationDenied as exc:
        raise _athena_denied(table) from exc
    except NotEmulated as exc:
        raise AthenaQueryError("NOT_SUPPORTED", str(exc)) from exc


def _readable(who: Principal | None, database: str, table: str, data: pa.Table) -> pa.Table:
    columns, rows = access.read_scope(database, table, list(data.column_names), who=who)
    if rows is not None:
        data = _filter_rows(data, rows, table)
    return data if columns is None else data.select(columns)


def _filter_rows(data: pa.Table, condition: str, table: str) -> pa.Table:
    """The rows of ``data`` for which the row filter ``condition`` (Athena SQL) holds, evaluated by DuckDB."""
    try:
        sql = sqlglot.transpile(f"SELECT * FROM __lf_rows WHERE {condition}", read="athena", write="duckdb")[0]
    except sqlglot.errors.ParseError as exc:
        raise NotEmulated(f"The row filter of {table} ({condition}) cannot be read by the local engines") from exc
    con = duckdb.connect()
    try:
        con.register("__lf_rows", data)
        return con.sql(sql).to_arrow_table()
    finally:
        con.close()


def athena_visible_tables(who: Principal | None, database: str, names: list[str]) -> list[str]:
    """SHOW TABLES: the names the caller may see."""
    return [n for n in names if access.table_visible(database, n, who=who)]


def athena_visible_databases(who: Principal | None, names: list[str]) -> list[str]:
    """SHOW DATABASES: the names the caller may see."""
    return [n for n in names if access.database_visible(n, who=who)]


def athena_ddl(who: Principal | None, statement: exp.Expression, default_database: str) -> None:
    """CREATE/DROP DATABASE, CREATE EXTERNAL TABLE / CTAS, DROP TABLE, ALTER TABLE ADD PARTITION: the permission
    each needs (CREATE_DATABASE on the catalog, DROP on a database, as the Glue API calls they make)."""
    kind = str(statement.args.get("kind") or "").upper()
    try:
        if isinstance(statement, exp.Create) and kind in ("DATABASE", "SCHEMA"):
            access.require_create_database(who=who)
        elif isinstance(statement, exp.Drop) and kind in ("DATABASE", "SCHEMA"):
            target = (statement.args.get("tables") or [statement.this])[0]
            database = (target.name or target.db).lower()
            if database in _glue().databases:
                access.require_database("DROP", database, who=who)
        elif isinstance(statement, exp.Create):
            schema = statement.this
            ref = schema.this if isinstance(schema, exp.Schema) else schema
            database = (ref.db or default_database).lower()
            if access.table_columns(_glue(), database, ref.name.lower()) or database not in _glue().databases:
                return  # an existing table or a missing database: the engine answers as without Lake Formation
            access.require_database("CREATE_TABLE", database, who=who)
            properties = (statement.args.get("properties") or exp.Properties()).expressions
            location = next((p.this.name for p in properties if isinstance(p, exp.LocationProperty)), None)
            access.require_location(location, who=who)
        elif isinstance(statement, exp.Drop):
            for ref in statement.args.get("tables") or [statement.this]:
                database = (ref.db or default_database).lower()
                if access.table_columns(_glue(), database, ref.name.lower()):
                    access.require_table("DROP", database, ref.name.lower(), who=who)
        elif isinstance(statement, exp.Alter):
            ref = statement.this
            database = (ref.db or default_database).lower()
            if access.table_columns(_glue(), database, ref.name.lower()):
                access.require_table("ALTER", database, ref.name.lower(), who=who)
    except LakeFormationDenied as exc:
        raise AthenaPermissionDenied(message=exc.message) from exc


def athena_alter(who: Principal | None, database: str, table: str) -> None:
    """MSCK REPAIR TABLE writes partitions: ALTER on the table."""
    try:
        access.require_table("ALTER", database, table, who=who)
    except LakeFormationDenied as exc:
        raise AthenaPermissionDenied(message=exc.message) from exc


def _glue():
    from moto.glue.models import glue_backends

    from local_aws import ACCOUNT_ID, REGION

    return glue_backends[ACCOUNT_ID][REGION]


# --- crawlers ---------------------------------------------------------------------------------------------------


def crawler_writes(database: str, table: str, creating: bool, location: str | None) -> None:
    """A crawler about to create (``creating``) or update ``database.table`` at ``location``, as its role (the
    current principal): raises LakeFormationDenied with the crawler's wording."""
    try:
        if creating:
            access.require_database("CREATE_TABLE", database)
        else:
            access.require_table("ALTER", database, table)
    except LakeFormationDenied as exc:
        raise errors.on_table(exc.permission, database, table) from exc
    access.require_location(location)


def crawler_deletes(database: str, table: str) -> None:
    try:
        access.require_table("DROP", database, table)
    except LakeFormationDenied as exc:
        raise errors.on_table("DROP", database, table) from exc


# --- Redshift Spectrum ------------------------------------------------------------------------------------------


def spectrum_select(database: str, table: str, data: pa.Table) -> pa.Table:
    """An external table read as the current principal (the schema's IAM_ROLE): ``data`` cut to the readable
    columns and rows; LakeFormationDenied when it may read nothing, NotEmulated for cell-level security proper."""
    return _readable(None, database, table, data)
