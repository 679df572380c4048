"""One crawl of a crawler's S3 targets into the Glue catalog (moto's glue backend), as Glue does it.

Each S3 target becomes ONE table, ``<TablePrefix><last folder of the path>``. The crawl first reads everything it
needs (listing, CSV/JSON samples, Parquet footers) and only then writes the catalog, so a cancelled or failed crawl
leaves the catalog as it was.

SchemaChangePolicy: ``UpdateBehavior`` UPDATE_IN_DATABASE (default) rewrites a changed table, LOG leaves the
table's definition alone (new partitions are still added). ``DeleteBehavior`` DELETE_FROM_DATABASE deletes
partitions (and tables) whose data is gone; LOG keeps them and logs it; DEPRECATE_IN_DATABASE (the default) keeps
partitions and marks a table whose data is all gone with the parameter ``DEPRECATED_BY_CRAWLER`` (epoch seconds).
Configuration ``CrawlerOutput.Partitions.AddOrUpdateBehavior: InheritFromTable`` makes partitions take the table's
schema (existing ones are updated when the table changes). Every crawl reads every folder (CRAWL_EVERYTHING); other
RecrawlBehavior values are treated the same way, and the crawl log says so.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from moto.s3.exceptions import MissingBucket

from local_aws.crawler import layout as layouts
from local_aws.crawler import schema as schemas
from local_aws.crawler.objects import ObjectReader, read_head
from local_aws.crawler.table_input import build_partition_input, build_table_input, shape

log = logging.getLogger(__name__)


class CrawlError(RuntimeError):
    """The crawl cannot complete; the message becomes LastCrawl.ErrorMessage."""


class CrawlCancelled(Exception):  # noqa: N818 - a control-flow signal, not an error
    """StopCrawler was called while the crawl was reading."""


@dataclass
class CrawlOutcome:
    tables_created: int = 0
    tables_updated: int = 0
    tables_deleted: int = 0
    partitions_created: int = 0
    partitions_deleted: int = 0
    messages: list[str] = field(default_factory=list)  # what a crawler log would say


# A target mixing formats gets the table of its most common one; a tie goes to the first here (the raw layout has
# CSV, and optionally JSON lines beside it).
_PREFERENCE = ("csv", "parquet", "json")


@dataclass
class _TargetPlan:
    """What the crawl found for one target, before anything is written."""

    table: str
    layout: layouts.TargetLayout
    table_input: dict[str, Any] | None  # None: no data under the target
    partitions: dict[tuple[str, ...], dict[str, Any]]  # values -> PartitionInput


def crawl(crawler, backend, cancelled: Callable[[], bool], write_lock: AbstractContextManager | None = None
          ) -> CrawlOutcome:
    """Crawl ``crawler``'s S3 targets and write the catalog of ``backend``; CrawlError / CrawlCancelled stop it.

    ``write_lock`` is held only while the catalog is written (reading S3 runs unlocked)."""
    database = crawler.database_name
    if not database or database not in backend.databases:
        raise CrawlError(f"Database {database} not found (crawler {crawler.name}): create it before crawling")
    targets = (crawler.targets or {}).get("S3Targets") or []
    if not targets:
        raise CrawlError(f"Crawler {crawler.name} has no S3 targets (only S3 targets are crawled locally)")
    outcome = CrawlOutcome()
    recrawl = (crawler.recrawl_policy or {}).get("RecrawlBehavior") or "CRAWL_EVERYTHING"
    if recrawl != "CRAWL_EVERYTHING":
        outcome.messages.append(f"RecrawlBehavior {recrawl} is crawled locally as CRAWL_EVERYTHING")
    plans = [_plan_target(crawler, target, cancelled, outcome) for target in targets]
    with write_lock or nullcontext():
        if cancelled():
            raise CrawlCancelled()
        for plan in plans:
            _apply(crawler, backend, database, plan, outcome)
    return outcome


def _plan_target(crawler, target: dict[str, Any], cancelled: Callable[[], bool], outcome: CrawlOutcome) -> _TargetPlan:
    path = target.get("Path") or ""
    if not path.startswith("s3://"):
        path = "s3://" + path.lstrip("/")  # Glue accepts bucket/prefix without the scheme
    try:
        found = layouts.scan_target(path, target.get("Exclusions"))
    except MissingBucket as exc:
        raise CrawlError(f"S3 target {path}: the bucket does not exist") from exc
    name = layouts.table_name(crawler.table_prefix, path)
    for key in found.skipped:
        outcome.messages.append(f"s3://{found.bucket}/{key} is outside the partition layout of {name}: not crawled")
    file_schemas: list[tuple[layouts.DataFile, schemas.FileSchema]] = []
    for data_file in found.files:
        if cancelled():
            raise CrawlCancelled()
        try:
            head = read_head(found.bucket, data_file.key, schemas.SAMPLE_BYTES)
        except KeyError:  # deleted since the listing
            outcome.messages.append(f"s3://{found.bucket}/{data_file.key} disappeared during the crawl: skipped")
            continue
        try:
            inferred = schemas.infer(
                data_file.key, head, truncated=data_file.size > len(head),
                open_file=lambda k=data_file.key: ObjectReader(found.bucket, k),
            )
        except schemas.UnreadableFileError as exc:
            raise CrawlError(f"cannot read s3://{found.bucket}/{exc}") from exc
        if inferred.classification != "parquet" and data_file.size > len(head) and inferred.record_count:
            # A sampled text file: estimate its records from the sample, as Glue's recordCount is an estimate too.
            inferred.record_count = round(inferred.record_count * data_file.size / len(head))
        file_schemas.append((data_file, inferred))
    if not file_schemas:
        return _TargetPlan(name, found, None, {})
    counts = Counter(s.classification for _, s in file_schemas)
    classification = max(counts, key=lambda c: (counts[c], -_PREFERENCE.index(c)))
    chosen = [(f, s) for f, s in file_schemas if s.classification == classification]
    for data_file, inferred in file_schemas:
        if inferred.classification != classification:
            outcome.messages.append(
                f"s3://{found.bucket}/{data_file.key} is {inferred.classification}, table {name} is "
                f"{classification}: not part of its schema"
            )
    properties = dict(chosen[0][1].properties)
    if any(s.properties.get("quoted") == "true" for _, s in chosen):
        properties["quoted"] = "true"
    columns = schemas.merge_columns([s.columns for _, s in chosen])
    partition_keys = {k.lower() for k in found.partition_keys}
    columns = [(n, t) for n, t in columns if n.lower() not in partition_keys]  # Hive: a key is not also a column
    records = sum(s.record_count or 0 for _, s in chosen)
    size = sum(f.size for f, _ in chosen)
    statistics = {
        "objectCount": str(len(chosen)),
        "recordCount": str(records),
        "sizeKey": str(size),
        "averageRecordSize": str(size // records if records else 0),
    }
    table_input = build_table_input(
        name=name, location=found.location, classification=classification, columns=columns,
        partition_keys=found.partition_keys, properties=properties, statistics=statistics,
        crawler_name=crawler.name,
    )
    partitions = {
        values: build_partition_input(table_input, values, found.partition_location(values))
        for values in found.partitions
    } if found.partition_keys else {}
    return _TargetPlan(name, found, table_input, partitions)


def _apply(crawler, backend, database: str, plan: _TargetPlan, outcome: CrawlOutcome) -> None:
    policy = crawler.schema_change_policy or {}
    update_behavior = policy.get("UpdateBehavior") or "UPDATE_IN_DATABASE"
    delete_behavior = policy.get("DeleteBehavior") or "DEPRECATE_IN_DATABASE"
    tables = backend.databases[database].tables
    existing = tables.get(plan.table)
    if plan.table_input is None:
        if existing is None:
            outcome.messages.append(f"no data under {plan.layout.location}: no table")
        elif delete_behavior == "DELETE_FROM_DATABASE":
            backend.delete_table(database, plan.table)
            outcome.tables_deleted += 1
            outcome.messages.append(f"table {database}.{plan.table} deleted: no data under {plan.layout.location}")
        elif delete_behavior == "DEPRECATE_IN_DATABASE":
            current = _table_input_of(existing)
            if "DEPRECATED_BY_CRAWLER" not in (current.get("Parameters") or {}):
                current["Parameters"] = {**(current.get("Parameters") or {}),
                                         "DEPRECATED_BY_CRAWLER": str(int(time.time()))}
                backend.update_table(database, plan.table, current)
                outcome.tables_updated += 1
            outcome.messages.append(f"table {database}.{plan.table} has no data left: marked deprecated")
        else:
            outcome.messages.append(f"table {database}.{plan.table} has no data left; kept (LOG)")
        return
    if existing is None:
        backend.create_table(database, plan.table, plan.table_input)
        outcome.tables_created += 1
        outcome.messages.append(f"table {database}.{plan.table} created")
    else:
        current = _table_input_of(existing)
        if shape(current) != shape(plan.table_input):
            if update_behavior == "UPDATE_IN_DATABASE":
                backend.update_table(database, plan.table, plan.table_input)
                outcome.tables_updated += 1
                outcome.messages.append(f"table {database}.{plan.table} updated")
            else:
                outcome.messages.append(f"table {database}.{plan.table} changed in S3; definition kept (LOG)")
    _sync_partitions(backend, database, plan, delete_behavior, _inherits_from_table(crawler), outcome)


def _table_input_of(fake_table) -> dict[str, Any]:
    description = fake_table.as_dict()
    return {k: v for k, v in description.items() if k not in ("DatabaseName", "CreateTime", "UpdateTime",
                                                                 "VersionId", "CatalogId")}


def _inherits_from_table(crawler) -> bool:
    """Configuration CrawlerOutput.Partitions.AddOrUpdateBehavior = InheritFromTable: partitions take the table's
    schema, and a table update is passed on to every partition."""
    try:
        configuration = json.loads(crawler.configuration or "{}")
    except json.JSONDecodeError:
        return False
    partitions = ((configuration.get("CrawlerOutput") or {}).get("Partitions") or {})
    return partitions.get("AddOrUpdateBehavior") == "InheritFromTable"


def _sync_partitions(backend, database: str, plan: _TargetPlan, delete_behavior: str, inherit: bool,
                     outcome: CrawlOutcome) -> None:
    table = backend.get_table(database, plan.table)
    current = _table_input_of(table)
    width = len(current.get("PartitionKeys") or [])
    if width != len(plan.layout.partition_keys):
        if plan.partitions:
            outcome.messages.append(
                f"table {database}.{plan.table} has {width} partition keys, S3 has "
                f"{len(plan.layout.partition_keys)}: partitions not changed"
            )
        return
    registered = {tuple(str(v) for v in p.values): p for p in list(table.partitions.values())}
    new = [
        build_partition_input(current, values, partition["StorageDescriptor"]["Location"]) if inherit else partition
        for values, partition in plan.partitions.items() if values not in registered
    ]
    if new:
        errors = backend.batch_create_partition(database, plan.table, new)
        outcome.partitions_created += len(new) - len(errors)
        outcome.messages.append(f"{len(new) - len(errors)} partitions added to {database}.{plan.table}")
    if inherit:
        _inherit_table_schema(backend, database, plan.table, current, registered, outcome)
    gone = sorted(set(registered) - set(plan.partitions))
    if gone and delete_behavior == "DELETE_FROM_DATABASE":
        backend.batch_delete_partition(database, plan.table, [{"Values": list(v)} for v in gone])
        outcome.partitions_deleted += len(gone)
        outcome.messages.append(f"{len(gone)} partitions of {database}.{plan.table} deleted: their data is gone")
    elif gone:
        outcome.messages.append(
            f"{len(gone)} partitions of {database}.{plan.table} have no data left; kept ({delete_behavior})"
        )


def _inherit_table_schema(backend, database: str, table: str, current: dict[str, Any], registered: dict,
                          outcome: CrawlOutcome) -> None:
    wanted = current["StorageDescriptor"]
    entries = []
    for values, partition in registered.items():
        descriptor = partition.partition_input.get("StorageDescriptor") or {}
        if all(descriptor.get(k) == wanted.get(k) for k in ("Columns", "SerdeInfo", "InputFormat", "OutputFormat")):
            continue
        location = descriptor.get("Location") or wanted["Location"]
        entries.append({"PartitionValueList": list(values),
                        "PartitionInput": build_partition_input(current, values, location)})
    if entries:
        backend.batch_update_partition(database, table, entries)
        outcome.messages.append(f"{len(entries)} partitions of {database}.{table} now inherit the table's schema")
