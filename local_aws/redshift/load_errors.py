"""STL_LOAD_ERRORS and SYS_LOAD_ERROR_DETAIL: the lines COPY rejected, queryable as Redshift's system table and
view (redshift/latest/dg/r_STL_LOAD_ERRORS.html, SYS_LOAD_ERROR_DETAIL.html; error codes from "Load error
reference", r_Load_Error_Reference.html). As STL_LOAD_ERRORS documents, multibyte characters of raw_line are
replaced with a period. SYS_LOAD_ERROR_DETAIL's transaction_id is NULL: the local engine has no transaction ids.

The rows live in a DuckDB table of the cluster database (``_local_aws.stl_load_errors``); queries name it as
Redshift does (``stl_load_errors`` or ``pg_catalog.stl_load_errors``) and ``translate`` points them here. A log, not
data: rows are written on a cursor of their own, committed at once, so they survive the failed COPY's rollback.
Not emulated: Redshift keeps STL rows for a few days only; here they stay until the database is deleted.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import duckdb

SCHEMA = "_local_aws"
SYSTEM_TABLES = ("stl_load_errors", "sys_load_error_detail")
DDL = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"CREATE TABLE IF NOT EXISTS {SCHEMA}.stl_load_errors (userid INTEGER, slice INTEGER, tbl INTEGER, "
    "starttime TIMESTAMP, session INTEGER, query INTEGER, filename VARCHAR, line_number BIGINT, colname VARCHAR, "
    "type VARCHAR, col_length VARCHAR, position INTEGER, raw_line VARCHAR, raw_field_value VARCHAR, "
    "err_code INTEGER, err_reason VARCHAR, is_partial INTEGER, start_offset BIGINT, copy_job_id BIGINT)",
)


def view_ddl(database_name: str) -> str:
    """SYS_LOAD_ERROR_DETAIL over the same rows, named for the cluster database it belongs to."""
    quoted = database_name.replace("'", "''")
    return (f"CREATE OR REPLACE VIEW {SCHEMA}.sys_load_error_detail AS SELECT userid AS user_id, "
            "CAST(query AS BIGINT) AS query_id, CAST(NULL AS BIGINT) AS transaction_id, session AS session_id, "
            f"'{quoted}' AS database_name, tbl AS table_id, starttime AS start_time, filename AS file_name, "
            "line_number, colname AS column_name, type AS column_type, col_length AS column_length, position, "
            f"err_code AS error_code, err_reason AS error_message FROM {SCHEMA}.stl_load_errors")
_MULTIBYTE = re.compile(r"[^\x00-\x7f]")
USER_ID = 100  # the cluster's admin user, as Redshift numbers the first user it creates

# "Load error reference": the codes COPY gives here
DELIMITER_NOT_FOUND = 1214
EXTRA_COLUMNS = 1202
OUT_OF_RANGE = 1204
DATE_FORMAT = 1205
TIMESTAMP_FORMAT = 1206
INVALID_DIGIT = 1207
FLOAT_FORMAT = 1208
BOOLEAN_FORMAT = 1210
NOT_NULL = 1213
INVALID_UTF8 = 1220
INTEGER_OVERFLOW = 1222


@dataclass
class LoadError:
    """One rejected line: where it was (object URI, 1-based line), which column and why."""

    filename: str
    line_number: int
    colname: str
    type: str
    col_length: str
    position: int
    raw_line: str
    raw_field_value: str
    err_code: int
    err_reason: str


def record(connection: duckdb.DuckDBPyConnection, errors: list[LoadError], *, table_oid: int, session: int,
           query: int) -> None:
    """Append ``errors`` on a fresh cursor of ``connection`` (its own transaction, committed at once)."""
    if not errors:
        return
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = [(USER_ID, 0, table_oid, now, session, query, e.filename, e.line_number, e.colname, e.type,
             e.col_length, e.position, _MULTIBYTE.sub(".", e.raw_line)[:1024], e.raw_field_value[:1024], e.err_code,
             e.err_reason[:512], 0, 0, 0) for e in errors]
    cursor = connection.cursor()
    try:
        cursor.executemany(f"INSERT INTO {SCHEMA}.stl_load_errors VALUES ({', '.join(['?'] * 19)})", rows)
    finally:
        cursor.close()
