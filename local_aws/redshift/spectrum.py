"""Spectrum: external schemas mapped to Glue databases; their tables are read from the lake at query time.

An external schema is a DuckDB schema plus a row in ``_local_aws.external_schemas``. Before a statement runs, each
external table it reads (directly or through views) is re-resolved from the Glue catalog (location, format,
partitions) and materialised into that schema, so new partitions and files show up on the next query.
"""

from __future__ import annotations

import uuid

import duckdb
import sqlglot
from sqlglot import exp

from local_aws import catalog_tables
from local_aws.lakeformation import engines as lakeformation
from local_aws.lakeformation.errors import LakeFormationDenied, NotEmulated
from local_aws.redshift.errors import RedshiftError
from local_aws.redshift.options import Tokens, check_role

METADATA_DDL = (
    "CREATE SCHEMA IF NOT EXISTS _local_aws",
    "CREATE TABLE IF NOT EXISTS _local_aws.external_schemas "
    "(schema_name VARCHAR PRIMARY KEY, glue_database VARCHAR NOT NULL, iam_role VARCHAR NOT NULL)",
)


def create_external_schema(cursor: duckdb.DuckDBPyConnection, statement: str) -> None:
    tokens = Tokens(statement)
    tokens.word("create")
    tokens.word("external")
    tokens.word("schema")
    if_not_exists = False
    if tokens.at_word("if"):
        tokens.word("if")
        tokens.word("not")
        tokens.word("exists")
        if_not_exists = True
    name = tokens.next().strip('"').lower()
    tokens.word("from")
    tokens.word("data")
    tokens.word("catalog")
    glue_database, role, create_database = None, None, False
    while not tokens.done():
        word = tokens.word()
        if word == "database":
            glue_database = tokens.string()
        elif word == "iam_role":
            role = "default" if tokens.optional("default") else check_role(tokens.string())
        elif word in ("region", "catalog_role"):
            tokens.string()
        elif word == "create":
            for expected in ("external", "database", "if", "not", "exists"):
                tokens.word(expected)
            create_database = True
        else:
            raise RedshiftError(f'syntax error at or near "{word}"')
    if glue_database is None or role is None:
        raise RedshiftError("CREATE EXTERNAL SCHEMA ... FROM DATA CATALOG needs DATABASE and IAM_ROLE")
    exists = cursor.execute(
        "SELECT count(*) FROM information_schema.schemata WHERE schema_name = ?", [name]
    ).fetchone()[0]
    if exists:
        if if_not_exists:
            return
        raise RedshiftError(f'Schema "{name}" already exists')
    glue = catalog_tables._glue()
    if glue_database not in glue.databases:
        if not create_database:
            raise RedshiftError(f"External database \"{glue_database}\" does not exist in the Data Catalog")
        glue.create_database(glue_database, {"Name": glue_database})
    cursor.execute(f'CREATE SCHEMA "{name}"')
    cursor.execute("INSERT INTO _local_aws.external_schemas VALUES (?, ?, ?)", [name, glue_database, role])


def external_schemas(cursor: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = cursor.execute("SELECT schema_name, glue_database FROM _local_aws.external_schemas").fetchall()
    return {schema: database for schema, database in rows}


def external_column_types(glue_database: str, name: str) -> dict[str, str] | None:
    """Column types of an external table as the Glue catalog declares them (partition keys last)."""
    try:
        table = catalog_tables.describe_table(glue_database, name)
    except catalog_tables.TableNotFoundError:
        return None
    return {c.name: c.duckdb_type or "VARCHAR" for c in table.all_columns}


def referenced_relations(cursor, tables, seen=None) -> set[tuple[str | None, str]]:
    """The relations read, following views (their SQL is re-parsed) down to tables."""
    seen = set() if seen is None else seen
    for schema, name in tables:
        key = ((schema or "").lower() or None, name.lower())
        if key in seen:
            continue
        seen.add(key)
        row = cursor.execute(
            "SELECT sql FROM duckdb_views() WHERE lower(view_name) = ? AND (? IS NULL OR lower(schema_name) = ?)",
            [key[1], key[0], key[0]],
        ).fetchone()
        if row and row[0]:
            try:
                tree = sqlglot.parse_one(row[0], read="duckdb")
            except sqlglot.errors.ParseError:
                continue
            inner = [(t.db or None, t.name) for t in tree.find_all(exp.Table) if t.name]
            referenced_relations(cursor, inner, seen)
    return seen


def refresh_external_tables(cursor: duckdb.DuckDBPyConnection, tables) -> None:
    schemas = external_schemas(cursor)
    if not schemas:
        return
    for schema, name in referenced_relations(cursor, tables):
        if schema not in schemas:
            continue
        try:
            glue_table = catalog_tables.describe_table(schemas[schema], name)
        except catalog_tables.TableNotFoundError as exc:
            raise RedshiftError(f'relation "{schema}.{name}" does not exist') from exc
        try:
            scan = catalog_tables.scan_table(glue_table)
        except catalog_tables.UnsupportedTableError as exc:
            raise RedshiftError(f"Spectrum Scan Error: {exc}") from exc
        try:  # read as the schema's IAM_ROLE (the current principal): Lake Formation's SELECT, column by column
            data = lakeformation.spectrum_select(schemas[schema], name, scan.table)
        except (LakeFormationDenied, NotEmulated) as exc:
            raise RedshiftError(str(exc)) from exc
        view = f"_spectrum_{uuid.uuid4().hex}"
        cursor.register(view, data)
        try:
            cursor.execute(f'CREATE OR REPLACE TABLE "{schema}"."{name}" AS SELECT * FROM {view}')
        finally:
            cursor.unregister(view)
