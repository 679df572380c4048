"""The Glue Data Catalog as JSON: databases, tables (every version), partitions, crawlers and job definitions of
moto's glue backends, so the catalog survives a restart of the local AWS. Job RUNS are not here (the Glue-jobs
service persists them); crawl history is added by the crawler service under ``"crawls"``.

Timestamps are stored as ISO strings and restored as datetimes; anything else is kept as the API gave it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from moto.glue.models import FakePartition, FakeTable, glue_backends

from local_aws import ACCOUNT_ID

FORMAT_VERSION = 1

_CRAWLER_FIELDS = (
    "name", "role", "database_name", "description", "targets", "schedule", "classifiers", "table_prefix",
    "schema_change_policy", "recrawl_policy", "lineage_configuration", "configuration",
    "crawler_security_configuration",
)
_JOB_FIELDS = (
    "name", "role", "command", "description", "log_uri", "execution_property", "default_arguments",
    "non_overridable_arguments", "connections", "max_retries", "allocated_capacity", "timeout", "max_capacity",
    "security_configuration", "notification_property", "glue_version", "number_of_workers", "worker_type",
    "code_gen_configuration_nodes", "execution_class", "source_control_details",
)


def _time(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_time(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in the catalog state")


# --- snapshot --------------------------------------------------------------------------------------------------


def _table_record(table: FakeTable) -> dict[str, Any]:
    return {
        "name": table.name,
        "versions": table.versions,
        "current_version": table._current_version,  # noqa: SLF001 - moto keeps no public accessor
        "created_time": _time(table.created_time),
        "updated_time": _time(table.updated_time),
        "partitions": [
            {"input": p.partition_input, "creation_time": _time(p.creation_time)}
            for p in list(table.partitions.values())
        ],
    }


def snapshot() -> dict[str, Any]:
    """The catalog of every region in use, as JSON-ready data."""
    regions = {}
    account = glue_backends[ACCOUNT_ID]
    for region in list(account.keys()):
        backend = account[region]
        regions[region] = {
            "databases": [
                {
                    "name": db.name,
                    "input": db.input,
                    "created_time": _time(db.created_time),
                    "tables": [_table_record(t) for t in list(db.tables.values())],
                }
                for db in list(backend.databases.values())
            ],
            "crawlers": [
                {
                    **{f: getattr(c, f) for f in _CRAWLER_FIELDS},
                    "creation_time": _time(c.creation_time),
                    "last_updated": _time(c.last_updated),
                    "version": c.version,
                    "tags": backend.get_tags(c.arn),
                }
                for c in list(backend.crawlers.values())
            ],
            "jobs": [
                {
                    **{f: getattr(j, f) for f in _JOB_FIELDS},
                    "created_on": _time(j.created_on),
                    "last_modified_on": _time(j.last_modified_on),
                    "tags": backend.get_tags(j.arn),
                }
                for j in list(backend.jobs.values())
            ],
        }
    return {"format": FORMAT_VERSION, "regions": regions}


def write(path: Path, data: dict[str, Any]) -> None:
    """Atomic: a crash mid-write leaves the previous file intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, default=_json_default))
    os.replace(tmp, path)


# --- restore ---------------------------------------------------------------------------------------------------


def read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{path}: the saved Glue catalog is not valid JSON ({exc}); move it away to start empty"
        ) from exc
    if data.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path}: unknown catalog state format {data.get('format')!r}")
    return data


def restore(data: dict[str, Any]) -> None:
    """Recreate the saved catalog in moto's backends (entries already present are replaced)."""
    for region, saved in data["regions"].items():
        backend = glue_backends[ACCOUNT_ID][region]
        for db_record in saved["databases"]:
            _restore_database(backend, db_record)
        for record in saved["crawlers"]:
            _restore_crawler(backend, record)
        for record in saved["jobs"]:
            _restore_job(backend, record)


def _restore_database(backend, record: dict[str, Any]) -> None:
    backend.databases.pop(record["name"], None)
    database = backend.create_database(record["name"], record["input"])
    database.created_time = _parse_time(record["created_time"]) or database.created_time
    for t in record["tables"]:
        versions = {str(k): v for k, v in t["versions"].items()}
        current = str(t["current_version"])
        table = FakeTable(record["name"], t["name"], versions[current], catalog_id=backend.account_id)
        table.versions = versions
        table._current_version = int(current)  # noqa: SLF001
        table.created_time = _parse_time(t["created_time"]) or table.created_time
        table.updated_time = _parse_time(t["updated_time"])
        for p in t["partitions"]:
            partition = FakePartition(record["name"], t["name"], p["input"])
            partition.creation_time = _parse_time(p["creation_time"]) or partition.creation_time
            table.partitions[str(partition.values)] = partition
        database.tables[t["name"]] = table


def _restore_crawler(backend, record: dict[str, Any]) -> None:
    backend.crawlers.pop(record["name"], None)
    backend.create_crawler(**{f: record[f] for f in _CRAWLER_FIELDS}, tags=record.get("tags") or {})
    crawler = backend.crawlers[record["name"]]
    crawler.creation_time = _parse_time(record["creation_time"]) or crawler.creation_time
    crawler.last_updated = _parse_time(record["last_updated"]) or crawler.last_updated
    crawler.version = record.get("version", crawler.version)


def _restore_job(backend, record: dict[str, Any]) -> None:
    backend.jobs.pop(record["name"], None)
    backend.create_job(**{f: record[f] for f in _JOB_FIELDS}, tags=record.get("tags") or {})
    job = backend.jobs[record["name"]]
    job.created_on = _parse_time(record["created_on"]) or job.created_on
    job.last_modified_on = _parse_time(record["last_modified_on"]) or job.last_modified_on
