"""Resolve a Glue catalog table to Arrow data, for the engines that query the lake (Athena, Redshift Spectrum).

A table is read the way Athena reads it: the Glue table gives the location, the format (``classification`` or the
SerDe), the columns with their Hive types and the partition keys. Only registered partitions are read (a partitioned
table with no partitions in the catalog is empty, as in Athena); partition values become columns typed per
``PartitionKeys``. A caller may pass a predicate over the typed partition values to skip partitions (pruning).

Text tables are read by their SerDe (``local_aws.hive_serdes``: LazySimpleSerDe, OpenCSVSerde, the OpenX and Hive
JSON SerDes; anything else is refused with ``UnsupportedSerDeError``), which also decides whether a value that does
not parse is NULL or fails the read (``BadDataError``). gzip/bzip2 files are decompressed by extension. Parquet
columns are matched by name, case-insensitively, and cast to the catalog type. A location with ``//`` is read as
Athena reads it, with the empty folder removed.

Errors: ``TableNotFoundError``; ``UnsupportedTableError`` and its subclasses ``UnsupportedSerDeError`` (not
emulated, named) and ``BadDataError`` (``error_name`` is Athena's: HIVE_BAD_DATA, HIVE_CURSOR_ERROR).

Usage (in the server process)::

    table = describe_table("sales", "processed_sales")          # TableNotFoundError if absent
    scan = scan_table(table, lambda p: p["day"] == 1)            # typed partition values -> keep?
    scan.table                                                   # pyarrow.Table: columns + partition keys
    scan.files, scan.bytes_scanned                               # what was read
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from moto.glue.models import glue_backends

from local_aws import ACCOUNT_ID, REGION, hive_serdes, s3io

PartitionPredicate = Callable[[dict[str, Any]], bool]


class TableNotFoundError(LookupError):
    def __init__(self, database: str, table: str, database_exists: bool):
        self.database = database
        self.table = table
        self.database_exists = database_exists
        what = f"table {database}.{table}" if database_exists else f"database {database}"
        super().__init__(f"{what} not found in the Glue catalog")


class UnsupportedTableError(ValueError):
    """The table's format or layout is not one this engine reads."""


class UnsupportedSerDeError(UnsupportedTableError, hive_serdes.UnsupportedSerDeError):
    """The table's SerDe, a SerDe property or a compression codec is not emulated (refused by name)."""


class BadDataError(UnsupportedTableError):
    """A file holds a row its SerDe cannot read; ``error_name`` is Athena's (HIVE_BAD_DATA, HIVE_CURSOR_ERROR)."""

    def __init__(self, error_name: str, message: str):
        self.error_name = error_name
        super().__init__(message)


@dataclass(frozen=True)
class Column:
    name: str
    glue_type: str

    @property
    def duckdb_type(self) -> str | None:
        return duckdb_type(self.glue_type)


@dataclass(frozen=True)
class Partition:
    values: dict[str, str]  # key -> value as stored in the catalog (a string)
    location: str

    @property
    def name(self) -> str:
        """Hive partition name, as SHOW PARTITIONS prints it: 'year=2021/month=12'."""
        return "/".join(f"{k}={v}" for k, v in self.values.items())


@dataclass(frozen=True)
class GlueTable:
    database: str
    name: str
    location: str
    data_format: str  # csv | json | parquet
    columns: tuple[Column, ...]
    partition_keys: tuple[Column, ...]
    header_lines: int = 0
    delimiter: str = ","
    parameters: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    # the table's SerDe, or why it cannot be read (raised when the table is scanned)
    serde: Any = field(default=None, compare=False, hash=False)

    def reader_serde(self) -> hive_serdes.SerDe:
        """The SerDe to read with; UnsupportedSerDeError when it is not emulated."""
        if isinstance(self.serde, hive_serdes.UnsupportedSerDeError):
            raise self.serde
        if self.serde is None:
            return hive_serdes.resolve(None, {}, self.parameters, self.data_format,
                                       [(c.name, c.glue_type) for c in self.columns])
        return self.serde

    @property
    def all_columns(self) -> tuple[Column, ...]:
        return self.columns + self.partition_keys


@dataclass
class TableScan:
    """What a scan read: the rows plus the figures Athena reports (files and bytes read)."""

    table: pa.Table
    files: list[str]
    bytes_scanned: int
    partitions_total: int
    partitions_read: int


def _glue():
    return glue_backends[ACCOUNT_ID][REGION]


# --- types -----------------------------------------------------------------------------------------------------

_SIMPLE_TYPES = {
    "string": "VARCHAR",
    "varchar": "VARCHAR",
    "char": "VARCHAR",
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "float": "FLOAT",
    "real": "FLOAT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "binary": "BLOB",
}


def duckdb_type(glue_type: str) -> str | None:
    """DuckDB type for a Hive/Glue type; None for complex types (array, map, struct), which are passed through."""
    text = glue_type.strip().lower()
    decimal = re.fullmatch(r"decimal\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?", text)
    if decimal:
        precision, scale = decimal.group(1) or "10", decimal.group(2) or "0"
        return f"DECIMAL({precision},{scale})"
    base = re.sub(r"\(.*\)$", "", text).strip()
    if base in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[base]
    if base.startswith(("array<", "map<", "struct<", "uniontype<")):
        return None
    raise UnsupportedTableError(f"unsupported column type {glue_type!r}")


def python_value(glue_type: str, text: str) -> Any:
    """A partition value (always a string in the catalog) as the Python value of its type; ValueError if invalid."""
    kind = (duckdb_type(glue_type) or "VARCHAR").split("(")[0]
    try:
        if kind in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT"):
            return int(text)
        if kind in ("FLOAT", "DOUBLE"):
            return float(text)
        if kind == "DECIMAL":
            return Decimal(text)
        if kind == "DATE":
            return dt.date.fromisoformat(text)
        if kind == "TIMESTAMP":
            return dt.datetime.fromisoformat(text)
        if kind == "BOOLEAN":
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
    except InvalidOperation as exc:
        raise ValueError(text) from exc
    return text


# --- catalog ---------------------------------------------------------------------------------------------------


def _classification(table_input: dict[str, Any]) -> str:
    params = {k.lower(): v for k, v in (table_input.get("Parameters") or {}).items()}
    sd = table_input.get("StorageDescriptor") or {}
    classification = str(params.get("classification", "")).lower()
    input_format = str(sd.get("InputFormat", "")).lower()
    if not classification and "parquet" in input_format:
        return "parquet"
    return classification


def normalize_location(location: str) -> str:
    """Athena reads ``s3://bucket/a//b/`` as ``s3://bucket/a/b/`` ("Specify a table location in Amazon S3": an
    empty folder such as // is removed from the path)."""
    if not location.startswith("s3://"):
        return location
    return "s3://" + re.sub(r"/{2,}", "/", location[len("s3://"):])


def describe_table(database: str, table: str) -> GlueTable:
    """The Glue table ``database.table`` (names are case-insensitive, as in Glue)."""
    backend = _glue()
    databases = {name.lower(): name for name in backend.databases}
    db_name = databases.get(database.lower())
    if db_name is None:
        raise TableNotFoundError(database, table, database_exists=False)
    tables = backend.databases[db_name].tables
    table_name = {name.lower(): name for name in tables}.get(table.lower())
    if table_name is None:
        raise TableNotFoundError(database, table, database_exists=True)
    fake = tables[table_name]
    table_input = fake.as_dict()
    sd = table_input.get("StorageDescriptor") or {}
    location = sd.get("Location") or ""
    if not location.startswith("s3://"):
        raise UnsupportedTableError(f"table {db_name}.{table_name} has no s3:// location ({location!r})")
    params = dict(table_input.get("Parameters") or {})
    serde_info = sd.get("SerdeInfo") or {}
    columns = tuple(Column(c["Name"], c["Type"]) for c in sd.get("Columns") or [])
    try:
        serde: hive_serdes.SerDe | hive_serdes.UnsupportedSerDeError = hive_serdes.resolve(
            serde_info.get("SerializationLibrary"), dict(serde_info.get("Parameters") or {}), params,
            _classification(table_input), [(c.name, c.glue_type) for c in columns],
        )
    except hive_serdes.UnsupportedSerDeError as exc:
        serde = exc  # DESCRIBE and SHOW still work; reading the table raises it
    usable = serde if isinstance(serde, hive_serdes.SerDe) else None
    return GlueTable(
        database=db_name,
        name=table_name,
        location=normalize_location(location),
        data_format=usable.data_format if usable else "unsupported",
        columns=columns,
        partition_keys=tuple(Column(c["Name"], c["Type"]) for c in table_input.get("PartitionKeys") or []),
        header_lines=usable.header_lines if usable else 0,
        delimiter=usable.delimiter if usable else ",",
        parameters=params,
        serde=serde,
    )


def list_partitions(table: GlueTable) -> list[Partition]:
    """Registered partitions of a partitioned table, in catalog order."""
    fake = _glue().get_table(table.database, table.name)
    keys = [k.name for k in table.partition_keys]
    partitions = []
    for part in list(fake.partitions.values()):
        values = [str(v) for v in part.values]
        location = normalize_location(((part.partition_input.get("StorageDescriptor") or {}).get("Location")) or (
            _join(table.location, "/".join(f"{k}={v}" for k, v in zip(keys, values, strict=True)))
        ))
        partitions.append(Partition(dict(zip(keys, values, strict=True)), location))
    return partitions


def _join(location: str, suffix: str) -> str:
    return location.rstrip("/") + "/" + suffix


# --- reading ---------------------------------------------------------------------------------------------------


def _data_keys(location: str) -> list[tuple[str, str]]:
    """(bucket, key) of the data files under a location: Hadoop-hidden files (_SUCCESS, .crc) are skipped."""
    bucket, prefix = s3io.split_uri(location)
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    keys = []
    for key in s3io.list_keys(bucket, prefix):
        name = key.rsplit("/", 1)[-1]
        if not name or name.startswith(("_", ".")) or name.endswith("_$folder$"):
            continue
        keys.append((bucket, key))
    return keys


def _read_text(data: bytes, table: GlueTable, serde: hive_serdes.SerDe) -> pa.Table:
    names = [c.name for c in table.columns]
    if serde.data_format == "json":
        return hive_serdes.read_json_lines(serde, data, names)
    return hive_serdes.read_delimited(serde, data, names)


def _read_parquet(data: bytes, table: GlueTable) -> pa.Table:
    parsed = pq.read_table(io.BytesIO(data))
    by_lower = {name.lower(): i for i, name in enumerate(parsed.column_names)}
    arrays = []
    for col in table.columns:
        index = by_lower.get(col.name.lower())
        arrays.append(parsed.column(index) if index is not None else pa.nulls(parsed.num_rows, pa.string()))
    return pa.table(arrays, names=[c.name for c in table.columns])


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _conform(con: duckdb.DuckDBPyConnection, raw: pa.Table, table: GlueTable, partition: dict[str, str],
             serde: hive_serdes.SerDe, where: str = "") -> pa.Table:
    """Cast a file's columns to the catalog types (as its SerDe converts them) and append the partition values as
    typed columns. A strict SerDe's unparsable value raises BadDataError naming it."""
    casts = []
    text = serde.data_format != "parquet"
    if text:
        raw = hive_serdes.pretype(serde, raw, [c.glue_type for c in table.columns])
    for index, col in enumerate(table.columns):
        name, target = _quote(col.name), col.duckdb_type
        if text:
            casts.append(hive_serdes.cast_expression(serde, name, col.glue_type, target, raw.schema.field(index).type))
        else:
            casts.append(f"TRY_CAST({name} AS {target})" if target else name)
    selects = [f"{cast} AS {_quote(col.name)}" for cast, col in zip(casts, table.columns, strict=True)]
    for key in table.partition_keys:
        value = partition.get(key.name)
        literal = "NULL" if value is None else "'" + value.replace("'", "''") + "'"
        selects.append(f"TRY_CAST({literal} AS {key.duckdb_type or 'VARCHAR'}) AS {_quote(key.name)}")
    con.register("__raw", raw)
    try:
        if text and serde.strict:
            _check_values(con, table, casts, where)
        return con.sql(f"SELECT {', '.join(selects)} FROM __raw").to_arrow_table()
    finally:
        con.unregister("__raw")


def _check_values(con: duckdb.DuckDBPyConnection, table: GlueTable, casts: list[str], where: str) -> None:
    """The first value a strict SerDe cannot convert (present, but NULL once cast) fails the read."""
    checks = []
    for index, col in enumerate(table.columns):
        base = col.glue_type.strip().lower().split("(")[0]
        if col.duckdb_type is None or base in ("string", "varchar", "char"):
            continue
        checks.append(f"CASE WHEN {_quote(col.name)} IS NOT NULL AND ({casts[index]}) IS NULL THEN {index} END")
    if not checks:
        return
    rows = con.execute(f"SELECT coalesce({', '.join(checks)}) AS bad, * FROM __raw "
                  f"WHERE coalesce({', '.join(checks)}) IS NOT NULL LIMIT 1").fetchall()
    if rows:
        row = rows[0]
        index = row[0]
        value = row[1 + index]
        raise BadDataError("HIVE_BAD_DATA", hive_serdes.bad_value_message(value, index) + where)


def _empty(table: GlueTable) -> pa.Table:
    return pa.table([pa.array([], pa.string()) for _ in table.columns], names=[c.name for c in table.columns])


def scan_table(table: GlueTable, partition_filter: PartitionPredicate | None = None) -> TableScan:
    """Read the table (only the partitions the filter keeps) into one Arrow table typed per the catalog."""
    if table.partition_keys:
        partitions = list_partitions(table)
        total = len(partitions)
        if partition_filter is not None:
            partitions = [p for p in partitions if _keep(partition_filter, table, p)]
        sources = [(p.location, p.values) for p in partitions]
    else:
        total = 0
        sources = [(table.location, {})]
    try:
        serde = table.reader_serde()
    except hive_serdes.UnsupportedSerDeError as exc:
        raise UnsupportedSerDeError(str(exc)) from exc
    con = duckdb.connect()
    pieces: list[pa.Table] = []
    files: list[str] = []
    scanned = 0
    try:
        for location, values in sources:
            for bucket, key in _data_keys(location):
                data = s3io.get_bytes(bucket, key)
                files.append(f"s3://{bucket}/{key}")
                scanned += len(data)
                if not data:
                    continue
                where = f" (s3://{bucket}/{key})"
                try:
                    if serde.data_format == "parquet":
                        raw = _read_parquet(data, table)
                    else:
                        raw = _read_text(hive_serdes.decompress(key, data), table, serde)
                except hive_serdes.UnsupportedSerDeError as exc:
                    raise UnsupportedSerDeError(str(exc)) from exc
                except hive_serdes.BadDataError as exc:
                    raise BadDataError(exc.error_name, str(exc) + where) from exc
                except (pa.ArrowInvalid, UnicodeDecodeError, OSError, EOFError) as exc:
                    raise UnsupportedTableError(
                        f"cannot read s3://{bucket}/{key} as {table.data_format}: {exc}"
                    ) from exc
                pieces.append(_conform(con, raw, table, values, serde, where))
        if not pieces:
            pieces.append(_conform(con, _empty(table), table, {}, serde))
    finally:
        con.close()
    return TableScan(
        table=pa.concat_tables(pieces, promote_options="permissive"),
        files=files,
        bytes_scanned=scanned,
        partitions_total=total,
        partitions_read=len(sources) if table.partition_keys else 0,
    )


def _keep(predicate: PartitionPredicate, table: GlueTable, partition: Partition) -> bool:
    typed: dict[str, Any] = {}
    for key in table.partition_keys:
        text = partition.values.get(key.name)
        try:
            typed[key.name] = None if text is None else python_value(key.glue_type, text)
        except ValueError:
            return True  # a value we cannot type is never pruned: the query's own WHERE still applies
    return predicate(typed)


def discover_partitions(table: GlueTable) -> list[Partition]:
    """Hive-style partition folders (``k1=v1/k2=v2/``, keys in PartitionKeys order) holding data under the location.

    This is what MSCK REPAIR TABLE looks for.
    """
    bucket, prefix = s3io.split_uri(table.location)
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    keys = [k.name for k in table.partition_keys]
    found: dict[tuple[str, ...], Partition] = {}
    for _, key in _data_keys(table.location):
        parts = key[len(prefix):].split("/")[: len(keys)]
        if len(parts) < len(keys):
            continue
        pairs = [p.partition("=") for p in parts]
        if any(sep != "=" or k.lower() != want.lower() for (k, sep, _), want in zip(pairs, keys, strict=True)):
            continue
        values = tuple(unquote(v) for _, _, v in pairs)  # Hive escapes special characters (':' is %3A)
        if values not in found:
            location = f"s3://{bucket}/{prefix}{'/'.join(parts)}/"
            found[values] = Partition(dict(zip(keys, values, strict=True)), location)
    return list(found.values())
