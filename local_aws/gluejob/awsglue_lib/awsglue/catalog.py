"""The local Glue Data Catalog as a job process sees it: GetTable and GetPartitions over the local AWS's API
(boto3 with AWS_ENDPOINT_URL, as a Glue job calls the catalog)."""

from __future__ import annotations

_client = None


def client():
    global _client
    if _client is None:
        import boto3

        _client = boto3.client("glue")
    return _client


def table(database: str, name: str, catalog_id: str | None = None) -> dict:
    kwargs = {"CatalogId": catalog_id} if catalog_id else {}
    return client().get_table(DatabaseName=database, Name=name, **kwargs)["Table"]


def columns(database: str, name: str, catalog_id: str | None = None) -> list[dict]:
    t = table(database, name, catalog_id)
    return t["StorageDescriptor"]["Columns"] + t.get("PartitionKeys", [])


def partitions(database: str, name: str, expression: str | None = None, catalog_id: str | None = None) -> list[dict]:
    kwargs = {"CatalogId": catalog_id} if catalog_id else {}
    if expression:
        kwargs["Expression"] = expression
    found = []
    for page in client().get_paginator("get_partitions").paginate(DatabaseName=database, TableName=name, **kwargs):
        found.extend(page["Partitions"])
    return found


def data_format(storage: dict, parameters: dict) -> tuple[str, dict]:
    """(format, format_options) of a table or partition: csv, json or parquet, from its classification or its
    SerDe and input format. Raises NotImplementedError for other formats."""
    serde = storage.get("SerdeInfo", {})
    library = serde.get("SerializationLibrary", "") or ""
    input_format = storage.get("InputFormat", "") or ""
    classification = (parameters.get("classification") or storage.get("Parameters", {}).get("classification")
                      or "").lower()
    serde_params = serde.get("Parameters", {}) or {}
    if classification == "parquet" or "Parquet" in input_format or "parquet" in library.lower():
        return "parquet", {}
    if classification == "json" or "JsonSerDe" in library:
        return "json", {}
    if classification == "csv" or "LazySimpleSerDe" in library or "OpenCSVSerde" in library:
        skip = parameters.get("skip.header.line.count") or storage.get("Parameters", {}).get(
            "skip.header.line.count") or "0"
        options = {"withHeader": skip == "1",
                   "separator": serde_params.get("separatorChar") or serde_params.get("field.delim") or ","}
        if serde_params.get("quoteChar"):
            options["quoteChar"] = serde_params["quoteChar"]
        return "csv", options
    raise NotImplementedError(f"reading a catalog table of format {classification or library or input_format!r} "
                              "is not implemented by the local AWS's awsglue library")
