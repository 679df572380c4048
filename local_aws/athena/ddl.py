"""Hive DDL on the Glue catalog, as Athena runs it: CREATE EXTERNAL TABLE, DROP TABLE, ALTER TABLE ADD PARTITION.

Tables are registered with the same StorageDescriptor shape a Glue crawler writes (SerDe, input/output formats,
``classification``), so every reader of the catalog sees them alike. Data is never touched: DROP of an external
table leaves S3 alone, as in Athena.
"""

from __future__ import annotations

from moto.glue.exceptions import AlreadyExistsException, EntityNotFoundException
from moto.glue.models import glue_backends
from sqlglot import exp

from local_aws import ACCOUNT_ID, REGION
from local_aws.athena.errors import AthenaQueryError

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


def _storage(properties: list[exp.Expression]) -> tuple[dict, dict[str, str]]:
    """StorageDescriptor pieces and table Parameters from the CREATE's properties."""
    location, serde, serde_params, file_format, table_params = None, None, {}, "TEXTFILE", {}
    delimiter = None
    for prop in properties:
        if isinstance(prop, exp.LocationProperty):
            location = _text(prop.this)
        elif isinstance(prop, exp.FileFormatProperty):
            file_format = _text(prop.this).upper()
        elif isinstance(prop, exp.RowFormatSerdeProperty):
            serde = _text(prop.this)
            for p in (prop.args.get("serde_properties") or exp.SerdeProperties()).expressions:
                serde_params[_text(p.this)] = _text(p.args.get("value"))
        elif isinstance(prop, exp.RowFormatDelimitedProperty):
            delimiter = _text(prop.args.get("fields")) or None
        elif isinstance(prop, exp.Property):
            table_params[_text(prop.this)] = _text(prop.args.get("value"))
    if not location or not location.startswith("s3://"):
        raise AthenaQueryError("INVALID_INPUT", "CREATE EXTERNAL TABLE needs a LOCATION 's3://...'")
    if file_format == "PARQUET":
        input_format, output_format = _PARQUET
        serde, classification = serde or _PARQUET_SERDE, "parquet"
    elif file_format == "TEXTFILE":
        input_format, output_format = _TEXT
        serde = serde or _LAZY_SIMPLE
        classification = "json" if "json" in serde.lower() else "csv"
        if classification == "csv":
            serde_params.setdefault("field.delim", delimiter or "\x01")  # Hive's default delimiter
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
