"""Hive DDL on the Glue catalog, as Athena runs it: CREATE/DROP DATABASE, CREATE EXTERNAL TABLE, DROP TABLE,
ALTER TABLE ADD PARTITION.

Tables are registered with the same StorageDescriptor shape a Glue crawler writes (SerDe, input/output formats,
``classification``), so every reader of the catalog sees them alike. Data is never touched: DROP of an external
table leaves S3 alone, as in Athena.
"""

from __future__ import annotations

import re

from moto.glue.exceptions import AlreadyExistsException, EntityNotFoundException
from moto.glue.models import glue_backends
from sqlglot import exp

from local_aws import ACCOUNT_ID, REGION
from local_aws.athena.errors import AthenaQueryError, hive_ddl_error
from local_aws.catalog_tables import normalize_location

_TEXT = (
    "org.apache.hadoop.mapred.TextInputFormat",
    "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
)
_PARQUET = (
    "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
)
_LAZY_SIMPLE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
_PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"


def _backend():
    return glue_backends[ACCOUNT_ID][REGION]


def _hive_type(kind: exp.DataType) -> str:
    return kind.sql(dialect="hive").lower().replace(", ", ",")


def _text(node: exp.Expression | None) -> str:
    return node.name if node is not None else ""


_DELIMITED = {  # ROW FORMAT DELIMITED clause -> the LazySimpleSerDe property Athena stores
    "fields": "field.delim",
    "escaped": "escape.delim",
    "collection_items": "collection.delim",
    "map_keys": "mapkey.delim",
    "lines": "line.delim",
    "null": "serialization.null.format",
}


def _file_format(prop: exp.FileFormatProperty) -> str:
    """STORED AS <format>, or STORED AS INPUTFORMAT '...' OUTPUTFORMAT '...' read as the format it names."""
    if isinstance(prop.this, exp.InputOutputFormat):
        input_format = _text(prop.this.args.get("input_format"))
        if input_format == _TEXT[0]:
            return "TEXTFILE"
        if input_format == _PARQUET[0]:
            return "PARQUET"
        return input_format
    return _text(prop.this).upper()


def _storage(properties: list[exp.Expression]) -> tuple[dict, dict[str, str]]:
    """StorageDescriptor pieces and table Parameters from the CREATE's properties, as Athena writes them to the
    Glue catalog (ROW FORMAT DELIMITED becomes LazySimpleSerDe properties; no ROW FORMAT is LazySimpleSerDe with
    Hive's default Ctrl-A delimiter)."""
    location, serde, serde_params, file_format, table_params = None, None, {}, "TEXTFILE", {}
    delimited: dict[str, str] | None = None
    for prop in properties:
        if isinstance(prop, exp.LocationProperty):
            # "Specify a table location in Amazon S3": Athena removes an empty folder (//) from the path
            location = normalize_location(_text(prop.this))
        elif isinstance(prop, exp.FileFormatProperty):
            file_format = _file_format(prop)
        elif isinstance(prop, exp.RowFormatSerdeProperty):
            serde = _text(prop.this)
            for p in (prop.args.get("serde_properties") or exp.SerdeProperties()).expressions:
                serde_params[_text(p.this)] = _text(p.args.get("value"))
        elif isinstance(prop, exp.RowFormatDelimitedProperty):
            delimited = {_DELIMITED[k]: _text(v) for k, v in prop.args.items() if k in _DELIMITED and v}
        elif isinstance(prop, exp.Property):
            table_params[_text(prop.this)] = _text(prop.args.get("value"))
    if not location or not location.startswith("s3://"):
        raise AthenaQueryError("INVALID_INPUT", "CREATE EXTERNAL TABLE needs a LOCATION 's3://...'")
    if file_format == "PARQUET":
        input_format, output_format = _PARQUET
        serde, classification = serde or _PARQUET_SERDE, "parquet"
        serde_params.setdefault("serialization.format", "1")
    elif file_format == "TEXTFILE":
        input_format, output_format = _TEXT
        serde = serde or _LAZY_SIMPLE
        classification = "json" if "json" in serde.lower() else "csv"
        if serde == _LAZY_SIMPLE:
            if delimited:
                serde_params.update(delimited)
                if "field.delim" in delimited:
                    serde_params.setdefault("serialization.format", delimited["field.delim"])
            else:
                serde_params.setdefault("serialization.format", "1")  # Hive's default delimiter, Ctrl-A
    else:
        raise AthenaQueryError("NOT_SUPPORTED", f"STORED AS {file_format} is not supported by the local Athena")
    table_params.setdefault("classification", classification)
    storage = {
        "Location": location,
        "InputFormat": input_format,
        "OutputFormat": output_format,
        "SerdeInfo": {"SerializationLibrary": serde, "Parameters": serde_params},
    }
    return storage, table_params


def create_external_table(statement: exp.Create, default_database: str) -> None:
    properties = list((statement.args.get("properties") or exp.Properties()).expressions)
    if statement.expression is not None:
        raise AthenaQueryError("NOT_SUPPORTED", "CREATE TABLE AS SELECT is not supported by the local Athena")
    if not any(isinstance(p, exp.ExternalProperty) for p in properties):
        raise AthenaQueryError("NOT_SUPPORTED", "Only CREATE EXTERNAL TABLE is supported by the local Athena")
    schema = statement.this
    table = schema.this if isinstance(schema, exp.Schema) else schema
    database = (table.db or default_database).lower()
    partition_keys = []
    for prop in properties:
        if isinstance(prop, exp.PartitionedByProperty):
            partition_keys = [{"Name": c.name, "Type": _hive_type(c.args["kind"])} for c in prop.this.expressions]
    storage, parameters = _storage(properties)
    storage["Columns"] = [
        {"Name": c.name, "Type": _hive_type(c.args["kind"])}
        for c in (schema.expressions if isinstance(schema, exp.Schema) else [])
    ]
    table_input = {
        "Name": table.name.lower(),
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"EXTERNAL": "TRUE", **parameters},
        "PartitionKeys": partition_keys,
        "StorageDescriptor": storage,
    }
    try:
        _backend().get_database(database)
    except EntityNotFoundException as exc:
        raise AthenaQueryError("SCHEMA_NOT_FOUND", f"Schema '{database}' does not exist") from exc
    try:
        _backend().create_table(database, table.name.lower(), table_input)
    except AlreadyExistsException as exc:
        if not statement.args.get("exists"):
            raise AthenaQueryError(
                "TABLE_ALREADY_EXISTS", f"Table 'awsdatacatalog.{database}.{table.name.lower()}' already exists"
            ) from exc


def drop_table(statement: exp.Drop, default_database: str) -> None:
    for table in statement.args.get("tables") or [statement.this]:
        database = (table.db or default_database).lower()
        try:
            _backend().delete_table(database, table.name.lower())
        except EntityNotFoundException as exc:
            if not statement.args.get("exists"):
                raise AthenaQueryError(
                    "TABLE_NOT_FOUND", f"Table 'awsdatacatalog.{database}.{table.name.lower()}' does not exist"
                ) from exc


def add_partitions(statement: exp.Alter, database: str, table_name: str, location: str, keys: list[str]) -> None:
    """ALTER TABLE ... ADD [IF NOT EXISTS] PARTITION (k='v', ...) [LOCATION '...'] [PARTITION ...]."""
    inputs = []
    for action in statement.args.get("actions") or []:
        if not isinstance(action, exp.AddPartition):
            raise AthenaQueryError("NOT_SUPPORTED", "Only ALTER TABLE ... ADD PARTITION is supported")
        given = {e.this.name.lower(): _text(e.expression) for e in action.this.expressions if isinstance(e, exp.EQ)}
        if sorted(given) != sorted(k.lower() for k in keys):
            raise AthenaQueryError(
                "INVALID_INPUT", f"Partition spec {sorted(given)} does not match partition keys {keys}"
            )
        values = [given[k.lower()] for k in keys]
        where = action.args.get("location")  # a LocationProperty, or False/None when absent
        path = _text(where.this) if isinstance(where, exp.LocationProperty) else (
            location.rstrip("/") + "/" + "/".join(f"{k}={v}" for k, v in zip(keys, values, strict=True)) + "/"
        )
        inputs.append({"Values": values, "StorageDescriptor": {"Location": path}})
    errors = _backend().batch_create_partition(database, table_name, inputs)
    if errors and not any(a.args.get("exists") for a in statement.args.get("actions") or []):
        raise AthenaQueryError("ALREADY_EXISTS", f"Partition already exists: {errors[0]['PartitionValues']}")


# --- databases -------------------------------------------------------------------------------------------------

# CREATE (DATABASE|SCHEMA) [IF NOT EXISTS] name [COMMENT '...'] [LOCATION 's3://...']
#   [WITH DBPROPERTIES ('k'='v', ...)]   (Athena SQL reference, "CREATE DATABASE")
CREATE_DATABASE = re.compile(
    r"^CREATE\s+(?:DATABASE|SCHEMA)\s+(IF\s+NOT\s+EXISTS\s+)?(?:`([^`]+)`|([\w-]+))(.*)$", re.I | re.S
)
_STRING = r"'((?:[^']|'')*)'"
_CLAUSES = [
    ("comment", re.compile(rf"^\s*COMMENT\s+{_STRING}", re.I)),
    ("location", re.compile(rf"^\s*LOCATION\s+{_STRING}", re.I)),
    ("properties", re.compile(r"^\s*WITH\s+DBPROPERTIES\s*\((.*?)\)", re.I | re.S)),
]
_PAIR = re.compile(rf"\s*{_STRING}\s*=\s*{_STRING}\s*(?:,|$)")


def _unquote(text: str) -> str:
    return text.replace("''", "'")


def create_database(if_not_exists: bool, name: str, rest: str) -> None:
    """CREATE DATABASE: a Glue database (Description from COMMENT, LocationUri from LOCATION, Parameters from
    DBPROPERTIES). An existing database fails with Hive's AlreadyExistsException unless IF NOT EXISTS."""
    name = name.lower()
    database_input: dict = {"Name": name}
    rest = rest.strip()
    while rest:
        found = next(((c, m) for c, pattern in _CLAUSES if (m := pattern.match(rest))), None)
        if found is None:
            raise AthenaQueryError("SYNTAX_ERROR", f"mismatched input '{rest.split()[0]}' in CREATE DATABASE")
        clause, match = found
        if clause == "comment":
            database_input["Description"] = _unquote(match.group(1))
        elif clause == "location":
            database_input["LocationUri"] = _unquote(match.group(1))
        else:
            body, parameters = match.group(1), {}
            while body.strip():
                pair = _PAIR.match(body)
                if not pair:
                    raise AthenaQueryError("SYNTAX_ERROR", f"invalid DBPROPERTIES ({match.group(1)})")
                parameters[_unquote(pair.group(1))] = _unquote(pair.group(2))
                body = body[pair.end():]
            database_input["Parameters"] = parameters
        rest = rest[match.end():].strip()
    if name in _backend().databases:
        if if_not_exists:
            return
        raise hive_ddl_error("AlreadyExistsException", f"Database {name} already exists")
    _backend().create_database(name, database_input)


def drop_database(statement: exp.Drop) -> None:
    """DROP DATABASE [IF EXISTS] name [RESTRICT | CASCADE] (Athena SQL reference, "DROP DATABASE"): RESTRICT (the
    default) refuses a database that holds tables; CASCADE drops its tables too (their S3 data stays)."""
    target = (statement.args.get("tables") or [statement.this])[0]
    name = (target.name or target.db).lower()
    backend = _backend()
    if name not in backend.databases:
        if statement.args.get("exists"):
            return
        raise AthenaQueryError("HIVE_DDL_ERROR", f"FAILED: SemanticException [Error 10072]: Database does not exist: "
                               f"{name}", bare=True)
    tables = list(backend.databases[name].tables)
    if tables and not statement.args.get("cascade"):
        raise hive_ddl_error("InvalidOperationException",
                             f"Database {name} is not empty. One or more tables exist.")
    for table in tables:
        backend.delete_table(name, table)
    backend.delete_database(name)
