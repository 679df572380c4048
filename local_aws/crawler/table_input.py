"""The TableInput and PartitionInput a Glue crawler writes for a crawled target, with the SerDe, input/output
formats and parameters Glue uses for each classification (what ``local_aws.catalog_tables`` reads back)."""

from __future__ import annotations

import copy
from typing import Any

TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
LAZY_SIMPLE_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
OPEN_CSV_SERDE = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"

# Parameters that change with every crawl of new data; a table whose other settings are unchanged is not updated
# (no new table version) just because of them.
STATISTICS = ("averageRecordSize", "objectCount", "recordCount", "sizeKey", "UPDATED_BY_CRAWLER")


def _format(classification: str, columns: list[tuple[str, str]], properties: dict[str, str]):
    """(InputFormat, OutputFormat, SerdeInfo, extra table parameters) for a classification."""
    if classification == "parquet":
        return PARQUET_INPUT, PARQUET_OUTPUT, {
            "SerializationLibrary": PARQUET_SERDE, "Parameters": {"serialization.format": "1"},
        }, {"compressionType": properties.get("compression", "none")}
    if classification == "json":
        return TEXT_INPUT, TEXT_OUTPUT, {
            "SerializationLibrary": JSON_SERDE, "Parameters": {"paths": ",".join(name for name, _ in columns)},
        }, {"compressionType": properties.get("compression", "none")}
    delimiter = properties.get("delimiter", ",")
    extra = {"compressionType": properties.get("compression", "none"), "delimiter": delimiter,
             "areColumnsQuoted": properties.get("quoted", "false")}
    if properties.get("header", "true") == "true":
        extra["skip.header.line.count"] = "1"  # no header detected: the first line is data
    if properties.get("quoted") == "true":  # Glue switches to OpenCSVSerde when values are quoted
        serde = {"SerializationLibrary": OPEN_CSV_SERDE,
                 "Parameters": {"separatorChar": delimiter, "quoteChar": '"', "escapeChar": "\\"}}
    else:
        serde = {"SerializationLibrary": LAZY_SIMPLE_SERDE, "Parameters": {"field.delim": delimiter}}
    return TEXT_INPUT, TEXT_OUTPUT, serde, extra


def build_table_input(
    *,
    name: str,
    location: str,
    classification: str,
    columns: list[tuple[str, str]],
    partition_keys: list[str],
    properties: dict[str, str],
    statistics: dict[str, str],
    crawler_name: str,
) -> dict[str, Any]:
    input_format, output_format, serde, extra = _format(classification, columns, properties)
    parameters = {
        "classification": classification,
        "typeOfData": "file",
        "CrawlerSchemaSerializerVersion": "1.0",
        "CrawlerSchemaDeserializerVersion": "1.0",
        **extra,
        **statistics,
        "UPDATED_BY_CRAWLER": crawler_name,
    }
    return _table_input(name, parameters, partition_keys, location, columns,
                        {"InputFormat": input_format, "OutputFormat": output_format, "SerdeInfo": serde})


def _table_input(name: str, parameters: dict[str, str], partition_keys: list[str], location: str,
                 columns: list[tuple[str, str]], formats: dict[str, Any]) -> dict[str, Any]:
    """A crawler's TableInput: ``formats`` are the storage descriptor's InputFormat, OutputFormat and SerdeInfo
    (as many as the classifier gave)."""
    return {
        "Name": name,
        "Owner": "owner",
        "Retention": 0,
        "TableType": "EXTERNAL_TABLE",
        "PartitionKeys": [{"Name": key, "Type": "string"} for key in partition_keys],
        "Parameters": parameters,
        "StorageDescriptor": {
            "Columns": [{"Name": n, "Type": t} for n, t in columns],
            "Location": location,
            **formats,
            "Compressed": False,
            "NumberOfBuckets": -1,
            "BucketColumns": [],
            "SortColumns": [],
            "Parameters": dict(parameters),
            "StoredAsSubDirectories": False,
        },
    }


def build_partition_input(table_input: dict[str, Any], values: tuple[str, ...], location: str) -> dict[str, Any]:
    """A partition inherits the table's storage descriptor with its own Location."""
    descriptor = copy.deepcopy(table_input["StorageDescriptor"])
    descriptor["Location"] = location
    return {"Values": list(values), "StorageDescriptor": descriptor, "Parameters": dict(descriptor["Parameters"])}


def shape(table_input: dict[str, Any]) -> dict[str, Any]:
    """The parts of a TableInput a schema change is about (statistics and bookkeeping left out)."""
    descriptor = table_input.get("StorageDescriptor") or {}
    parameters = {k: v for k, v in (table_input.get("Parameters") or {}).items() if k not in STATISTICS}
    return {
        "columns": [(c["Name"], c["Type"]) for c in descriptor.get("Columns") or []],
        "partition_keys": [(c["Name"], c["Type"]) for c in table_input.get("PartitionKeys") or []],
        "location": descriptor.get("Location"),
        "input": descriptor.get("InputFormat"),
        "serde": descriptor.get("SerdeInfo"),
        "parameters": parameters,
    }


def build_unknown_table_input(*, name: str, location: str, compression: str, size: int, crawler_name: str
                              ) -> dict[str, Any]:
    """The table of one file no classifier recognised: classification UNKNOWN ("If no classifier returns a
    certainty greater than 0.0, AWS Glue returns the default classification string of UNKNOWN", "Adding classifiers
    to a crawler in AWS Glue"), with no columns and no SerDe since no classifier gave a schema (the AWS Knowledge
    Center article "athena-syntax-error-select-not-allowed" names crawler tables of classification UNKNOWN and
    tables without defined columns as ones Athena cannot query). ``location`` is the object."""
    parameters = {
        "classification": "UNKNOWN",
        "typeOfData": "file",
        "compressionType": compression,
        "objectCount": "1",
        "sizeKey": str(size),
        "UPDATED_BY_CRAWLER": crawler_name,
    }
    return _table_input(name, parameters, [], location, [], {"SerdeInfo": {}})
