"""CREATE TABLE AS (CTAS), as Athena runs it ("CREATE TABLE AS" and "CTAS table properties", Athena user guide).

``CREATE TABLE [IF NOT EXISTS] db.t WITH (property = value, ...) AS <query> [WITH [NO] DATA]`` runs the query,
writes its rows to S3 and registers an external Hive table (and its partitions) in the Glue catalog.

Table properties emulated:

- ``format``: ``PARQUET`` (the default), ``TEXTFILE`` (LazySimpleSerDe, ``field_delimiter`` default ``\\001``, NULL
  written ``\\N``) or ``JSON`` (Hive JSON SerDe); ORC, AVRO and ION are refused.
- ``external_location``: where the files go; it must be empty (HIVE_PATH_ALREADY_EXISTS). Without it, Athena
  writes under the query result location, ``<OutputLocation>/tables/<query id>/``.
- ``partitioned_by = ARRAY['col', ...]``: Hive partition folders ``col=value/``; the partition columns must be the
  last columns of the query, in the same order (HIVE_COLUMN_ORDER_MISMATCH).
- ``write_compression`` (or the older ``parquet_compression``): GZIP (the default), SNAPPY, ZSTD or NONE for
  Parquet; GZIP (the default) or NONE for text formats.
- ``table_type = 'HIVE'`` (the default). Any other property (bucketing, ICEBERG tables, ...) is refused by name.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import pyarrow.parquet as pq
from moto.glue.models import glue_backends
from sqlglot import exp

from local_aws import ACCOUNT_ID, REGION, s3io
from local_aws.athena.errors import AthenaQueryError
from local_aws.athena.results import render
from local_aws.catalog_tables import normalize_location

_TEXT_IO = ("org.apache.hadoop.mapred.TextInputFormat", "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat")
_FORMATS = {
    "PARQUET": ("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe", "parquet"),
    "TEXTFILE": (*_TEXT_IO, "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe", "csv"),
    "JSON": (*_TEXT_IO, "org.apache.hive.hcatalog.data.JsonSerDe", "json"),
}
_COMPRESSIONS = {"PARQUET": {"GZIP", "SNAPPY", "ZSTD", "NONE"}, "TEXTFILE": {"GZIP", "NONE"},
                 "JSON": {"GZIP", "NONE"}}
_PROPERTIES = {"format", "external_location", "partitioned_by", "write_compression", "parquet_compression",
               "field_delimiter", "table_type"}

# DuckDB result type -> Hive type Athena records in the catalog
_HIVE_TYPES = {
    "VARCHAR": "string", "BIGINT": "bigint", "HUGEINT": "bigint", "UBIGINT": "bigint", "INTEGER": "int",
    "UINTEGER": "bigint", "SMALLINT": "smallint", "USMALLINT": "int", "TINYINT": "tinyint", "UTINYINT": "smallint",
    "DOUBLE": "double", "FLOAT": "float", "BOOLEAN": "boolean", "DATE": "date", "TIMESTAMP": "timestamp",
    "TIMESTAMP_MS": "timestamp", "TIMESTAMP_NS": "timestamp", "TIMESTAMP_S": "timestamp", "BLOB": "binary",
}


def _text(node: exp.Expression | None) -> str:
    return node.name if node is not None else ""


def hive_type(duckdb_type: str) -> str:
    text = duckdb_type.upper()
    if text.startswith("DECIMAL"):
        return text.lower().replace(" ", "")
    if text in _HIVE_TYPES:
        return _HIVE_TYPES[text]
    raise AthenaQueryError("NOT_SUPPORTED", f"CREATE TABLE AS of a {duckdb_type} column is not supported by the "
                           "local Athena")


def _properties(statement: exp.Create) -> tuple[dict[str, str], list[str], bool]:
    """(table properties, partitioned_by, with data)."""
    values: dict[str, str] = {}
    partitioned: list[str] = []
    with_data = True
    for prop in (statement.args.get("properties") or exp.Properties()).expressions:
        if isinstance(prop, exp.FileFormatProperty):
            values["format"] = _text(prop.this).upper()
        elif isinstance(prop, exp.PartitionedByProperty):
            items = prop.this.expressions if isinstance(prop.this, exp.Array | exp.Schema | exp.Tuple) else [prop.this]
            partitioned = [_text(i).lower() for i in items]
        elif isinstance(prop, exp.WithDataProperty):
            with_data = not prop.args.get("no")
        elif isinstance(prop, exp.LocationProperty):
            values["external_location"] = _text(prop.this)
        elif isinstance(prop, exp.Property):
            name = _text(prop.this).lower()
            if name not in _PROPERTIES:
                raise AthenaQueryError("NOT_SUPPORTED", f"CTAS table property '{name}' is not supported by the "
                                       "local Athena")
            values[name] = _text(prop.args.get("value"))
        else:
            raise AthenaQueryError("NOT_SUPPORTED", f"CTAS clause {prop.sql(dialect='athena')} is not supported "
                                   "by the local Athena")
    return values, partitioned, with_data


def create_table_as(
    statement: exp.Create,
    default_database: str,
    run_query: Callable[[exp.Expression], tuple[pa.Table, list[str]]],
    default_location: str,
    file_prefix: str,
) -> int:
    """Run the CTAS ``statement``; ``run_query(select)`` gives the rows and DuckDB type names. Returns the number
    of rows written (Athena's UpdateCount). AthenaQueryError as Athena words it."""
    target = statement.this.this if isinstance(statement.this, exp.Schema) else statement.this
    database = (target.db or default_database).lower()
    name = target.name.lower()
    backend = glue_backends[ACCOUNT_ID][REGION]
    if database not in backend.databases:
        raise AthenaQueryError("SCHEMA_NOT_FOUND", f"Schema '{database}' does not exist")
    if name in backend.databases[database].tables:
        if statement.args.get("exists"):
            return 0
        raise AthenaQueryError("TABLE_ALREADY_EXISTS", f"Table 'awsdatacatalog.{database}.{name}' already exists")
    values, partitioned, with_data = _properties(statement)
    if values.get("table_type", "HIVE").upper() != "HIVE":
        raise AthenaQueryError("NOT_SUPPORTED", f"table_type '{values['table_type']}' is not supported by the "
                               "local Athena (HIVE only)")
    file_format = values.get("format", "PARQUET").upper()
    if file_format not in _FORMATS:
        raise AthenaQueryError("NOT_SUPPORTED", f"CTAS format '{file_format}' is not supported by the local Athena")
    compression = values.get("write_compression", values.get("parquet_compression", "GZIP")).upper()
    if compression == "UNCOMPRESSED":
        compression = "NONE"
    if compression not in _COMPRESSIONS[file_format]:
        raise AthenaQueryError("NOT_SUPPORTED", f"write_compression '{compression}' for {file_format} is not "
                               "supported by the local Athena")
    location = normalize_location(values.get("external_location") or default_location)
    if not location.startswith("s3://"):
        raise AthenaQueryError("INVALID_INPUT", f"external_location {location!r} is not an s3:// location")
    location = location.rstrip("/") + "/"
    bucket, prefix = s3io.split_uri(location)
    try:
        occupied = s3io.list_keys(bucket, prefix)
    except Exception as exc:  # moto: MissingBucket
        raise AthenaQueryError("INVALID_INPUT", f"Unable to verify/create output bucket {bucket}") from exc
    if occupied:
        raise AthenaQueryError("HIVE_PATH_ALREADY_EXISTS",
                               f"Target directory for table '{database}.{name}' already exists: {location}")

    rows, duck_types = run_query(statement.expression)
    names = [n.lower() for n in rows.column_names]
    if len(set(names)) != len(names):
        raise AthenaQueryError("DUPLICATE_COLUMN_NAME", f"Column name(s) duplicated: {names}")
    for index, column in enumerate(names):
        if column.startswith("_col") and column[4:].isdigit():
            raise AthenaQueryError("SYNTAX_ERROR", f"Column name not specified at position {index + 1}")
    types = [hive_type(t) for t in duck_types]
    rows = rows.rename_columns(names).cast(pa.schema(
        [pa.field(n, pa.int64() if t.upper() == "HUGEINT" else f.type) for n, t, f in zip(
            names, duck_types, rows.schema, strict=True)]))
    if partitioned and names[len(names) - len(partitioned):] != partitioned:
        raise AthenaQueryError(
            "HIVE_COLUMN_ORDER_MISMATCH",
            "Partition keys must be the last columns in the table and in the same order as the partition "
            f"specification: {partitioned}",
        )
    data_columns = names[: len(names) - len(partitioned)]
    input_format, output_format, serde, classification = _FORMATS[file_format]
    serde_parameters = {"serialization.format": "1"}
    delimiter = "\x01"
    if file_format == "TEXTFILE":
        delimiter = values.get("field_delimiter", "\x01")
        serde_parameters = {"field.delim": delimiter, "serialization.format": delimiter}
    elif "field_delimiter" in values:
        raise AthenaQueryError("NOT_SUPPORTED", f"field_delimiter applies to TEXTFILE, not {file_format}")
    storage = {
        "Columns": [{"Name": n, "Type": t} for n, t in zip(names, types, strict=True) if n in data_columns],
        "Location": location,
        "InputFormat": input_format,
        "OutputFormat": output_format,
        "Compressed": compression != "NONE",
        "NumberOfBuckets": -1,
        "SerdeInfo": {"SerializationLibrary": serde, "Parameters": serde_parameters},
    }
    partition_inputs = []
    written = 0
    if with_data:
        for values_, piece in _partitions(rows, partitioned):
            folder = "".join(f"{k}={quote(v, safe=' ')}/" for k, v in zip(partitioned, values_, strict=True))
            body = piece.select(data_columns)
            if body.num_rows or not partitioned:
                key = f"{prefix}{folder}{file_prefix}_00000" + _extension(file_format, compression)
                s3io.put_bytes(bucket, key, _encode(body, file_format, compression, delimiter))
            written += piece.num_rows
            if partitioned:
                partition_inputs.append({"Values": list(values_),
                                         "StorageDescriptor": {**storage, "Location": location + folder}})
    table_input = {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"EXTERNAL": "TRUE", "has_encrypted_data": "false", "classification": classification},
        "PartitionKeys": [{"Name": n, "Type": t} for n, t in zip(names, types, strict=True) if n in partitioned],
        "StorageDescriptor": storage,
    }
    backend.create_table(database, name, table_input)
    if partition_inputs:
        backend.batch_create_partition(database, name, partition_inputs)
    return written


def _partitions(rows: pa.Table, keys: list[str]):
    """(partition values as strings, rows) per distinct value tuple; Hive writes NULL as __HIVE_DEFAULT_PARTITION__."""
    if not keys:
        yield (), rows
        return
    texts = []
    for key in keys:
        column = rows.column(key)
        rendered = [("__HIVE_DEFAULT_PARTITION__" if v is None else render(v)) for v in column.to_pylist()]
        texts.append(rendered)
    groups: dict[tuple[str, ...], list[int]] = {}
    for index, values in enumerate(zip(*texts, strict=True)):
        groups.setdefault(values, []).append(index)
    for values, indices in groups.items():
        yield values, rows.take(pa.array(indices, pa.int64()))


def _extension(file_format: str, compression: str) -> str:
    if file_format == "PARQUET":
        return ""
    return ".gz" if compression == "GZIP" else ""


def _encode(table: pa.Table, file_format: str, compression: str, delimiter: str) -> bytes:
    if file_format == "PARQUET":
        sink = io.BytesIO()
        pq.write_table(table, sink, compression=compression.lower() if compression != "NONE" else "none")
        return sink.getvalue()
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    names = table.column_names
    lines = []
    for row in zip(*columns, strict=True) if columns else []:
        if file_format == "TEXTFILE":
            lines.append(delimiter.join("\\N" if v is None else (render(v) or "") for v in row))
        else:
            lines.append("{" + ",".join(f"{json.dumps(n)}:{_json_value(v)}" for n, v in zip(
                names, row, strict=True)) + "}")
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    return gzip.compress(data) if compression == "GZIP" else data


def _json_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return json.dumps(value)
    if isinstance(value, dt.date | dt.datetime):
        return json.dumps(render(value))
    return json.dumps(render(value) if not isinstance(value, str) else value)

