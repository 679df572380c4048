"""One crawl of a crawler's S3 targets into the Glue catalog (moto's glue backend), as Glue does it.

A crawler whose database does not exist yet creates it (AWS-recorded behaviour: the crawl succeeds and the database
appears, with the crawler's tables).

Tables ("How does a crawler determine when to create partitions?"): an S3 target is one table,
``<TablePrefix><last folder of the path>``, whose folders are its partitions, when the majority of the schemas of
its first-level folders are similar; otherwise each first-level folder is a table of its own (named after the folder,
``year=2017`` giving ``year_2017``) with the deeper folders as its partitions. Configuration
``Grouping.TableGroupingPolicy: CombineCompatibleSchemas`` ("Creating a single schema for each Amazon S3 include
path") always makes one table of compatible data. ``Grouping.TableLevelConfiguration`` is not emulated: refused.
Classification ("Adding classifiers to a crawler in AWS Glue"): the built-in CSV, JSON and Parquet classifiers
(``schema``), over plain files and the compressed formats they read: ZIP of one file, bzip2, gzip, LZ4, Snappy
(``compression``). A file no classifier recognises (binary data, a ZIP of several files, a corrupt stream or Parquet
footer) is classified UNKNOWN, not a failed crawl: it becomes a table of its own, named after the file, with no
columns (see ``_unknown_plans``), and the recognised files make their table as if it were absent. A codec or type the
local crawler cannot decode fails the crawl naming the file.
The crawl first reads everything it needs (listing, CSV/JSON samples, Parquet footers) and only then writes the
catalog, so a cancelled or failed crawl leaves the catalog as it was.

SchemaChangePolicy: ``UpdateBehavior`` UPDATE_IN_DATABASE (default) rewrites a changed table, LOG leaves the
table's definition alone (new partitions are still added). ``DeleteBehavior`` DELETE_FROM_DATABASE deletes
partitions (and tables) whose data is gone; LOG keeps them and logs it; DEPRECATE_IN_DATABASE (the default) keeps
partitions and marks a table whose data is all gone with the parameter ``DEPRECATED_BY_CRAWLER`` (epoch seconds).
Configuration ``CrawlerOutput.Partitions.AddOrUpdateBehavior: InheritFromTable`` makes partitions take the table's
schema (existing ones are updated when the table changes). Every crawl reads every folder (CRAWL_EVERYTHING); other
RecrawlBehavior values are treated the same way, and the crawl log says so.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from moto.s3.exceptions import MissingBucket

from local_aws.crawler import compression
from local_aws.crawler import layout as layouts
from local_aws.crawler import schema as schemas
from local_aws.crawler.objects import ObjectReader, read_head
from local_aws.crawler.table_input import build_partition_input, build_table_input, build_unknown_table_input, shape
from local_aws.iam import service_roles
from local_aws.lakeformation import engines as lakeformation
from local_aws.lakeformation.errors import LakeFormationDenied

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
    if not database:
        raise CrawlError(f"Crawler {crawler.name} has no DatabaseName")
    targets = (crawler.targets or {}).get("S3Targets") or []
    if not targets:
        raise CrawlError(f"Crawler {crawler.name} has no S3 targets (only S3 targets are crawled locally)")
    grouping = _configuration(crawler).get("Grouping") or {}
    if "TableLevelConfiguration" in grouping:
        raise CrawlError("Configuration Grouping.TableLevelConfiguration is not supported by the local crawler")
    outcome = CrawlOutcome()
    recrawl = (crawler.recrawl_policy or {}).get("RecrawlBehavior") or "CRAWL_EVERYTHING"
    if recrawl != "CRAWL_EVERYTHING":
        outcome.messages.append(f"RecrawlBehavior {recrawl} is crawled locally as CRAWL_EVERYTHING")
    plans = [plan for target in targets for plan in _plan_target(crawler, target, cancelled, outcome)]
    with write_lock or nullcontext():
        if cancelled():
            raise CrawlCancelled()
        if database not in backend.databases:
            # As on AWS, a crawler whose database does not exist yet creates it.
            backend.create_database(database, {"Name": database})
            outcome.messages.append(f"database {database} created")
        for plan in plans + _gone_unknown_tables(crawler, backend, database, plans):
            try:
                _apply(crawler, backend, database, plan, outcome)
            except LakeFormationDenied as exc:  # the crawler's role lacks a grant: the crawl fails with it
                raise CrawlError(exc.message) from exc
    return outcome


def _plan_target(crawler, target: dict[str, Any], cancelled: Callable[[], bool], outcome: CrawlOutcome
                 ) -> list[_TargetPlan]:
    """The tables of one S3 target: one table, or one per first-level folder when their schemas differ."""
    path = _target_path(target)
    bucket, _, prefix = path[len("s3://"):].partition("/")
    service_roles.require_s3("s3:ListBucket", bucket, prefix=prefix)  # as the crawler's role (issue 15)
    try:
        found = layouts.scan_target(path, target.get("Exclusions"))
    except MissingBucket as exc:
        raise CrawlError(f"S3 target {path}: the bucket does not exist") from exc
    name = layouts.table_name(crawler.table_prefix, path)
    for key in found.skipped:
        outcome.messages.append(f"s3://{found.bucket}/{key} is outside the partition layout of {name}: not crawled")
    inferred = _infer_files(found, cancelled, outcome)
    unknown = [f for f in found.files if f.key in inferred and inferred[f.key].classification == schemas.UNKNOWN]
    found = _without(found, {f.key for f in unknown})
    plans = None
    if found.partition_keys and not _combines_compatible_schemas(crawler):
        folders = _first_level_groups(found)
        if len(folders) > 1 and not _majority_similar([
                [inferred[f.key] for f in layout.files if f.key in inferred] for layout in folders.values()]):
            outcome.messages.append(
                f"the folders under {found.location} have dissimilar schemas: one table per folder"
            )
            plans = [_build_plan(crawler, layouts.table_name(crawler.table_prefix, layout.location), layout,
                                 inferred, outcome)
                     for layout in folders.values()]
    plans = plans or [_build_plan(crawler, name, found, inferred, outcome)]
    return plans + _unknown_plans(crawler, found.bucket, unknown, inferred, {p.table for p in plans})


def _target_path(target: dict[str, Any]) -> str:
    path = target.get("Path") or ""
    return path if path.startswith("s3://") else "s3://" + path.lstrip("/")  # Glue accepts bucket/prefix too


def _gone_unknown_tables(crawler, backend, database: str, plans: list[_TargetPlan]) -> list[_TargetPlan]:
    """The tables this crawler made for a file no classifier recognised (classification UNKNOWN, Location the
    object, under one of its targets) that this crawl did not make again: the file was deleted, excluded or is now
    recognised. Their data is gone, so the SchemaChangePolicy's DeleteBehavior applies to them as to any table."""
    planned = {plan.table for plan in plans}
    roots = [_target_path(t) for t in (crawler.targets or {}).get("S3Targets") or []]
    gone = []
    for name, table in list(backend.databases[database].tables.items()):
        description = table.as_dict()
        parameters = description.get("Parameters") or {}
        location = (description.get("StorageDescriptor") or {}).get("Location") or ""
        if (name in planned or parameters.get("classification") != schemas.UNKNOWN
                or parameters.get("UPDATED_BY_CRAWLER") != crawler.name
                or not any(location.startswith(root) for root in roots)):
            continue
        bucket, _, key = location[len("s3://"):].partition("/")
        gone.append(_TargetPlan(name, layouts.TargetLayout(bucket=bucket, prefix=key, partition_keys=[]), None, {}))
    return gone


def _without(found: layouts.TargetLayout, keys: set[str]) -> layouts.TargetLayout:
    """The layout without ``keys``; a partition folder left with no file is no partition."""
    if not keys:
        return found
    kept = layouts.TargetLayout(bucket=found.bucket, prefix=found.prefix, partition_keys=found.partition_keys,
                                skipped=found.skipped)
    for values, files in found.partitions.items():
        files = [f for f in files if f.key not in keys]
        if files:
            kept.partitions[values] = files
    return kept


# Glue's limit on a table name ("How crawlers work": "The crawler truncates generated names to fit within the limit").
_MAX_TABLE_NAME = 128


def _unknown_plans(crawler, bucket: str, files: list[layouts.DataFile], inferred: dict[str, schemas.FileSchema],
                   taken: set[str]) -> list[_TargetPlan]:
    """A table of its own for each file no classifier recognised: "The AWS Glue crawler creates multiple tables
    when your source data files don't use these same configurations: Format ..." (AWS Knowledge Center, "How can I
    prevent the AWS Glue crawler from creating multiple tables?", whose crawler log shows such tables named after
    the file). It is ``<TablePrefix><file name>`` (normalised; a name already taken gets a hash suffix, "If
    duplicate table names are encountered, the crawler adds a hash string suffix", "How crawlers work"),
    classification UNKNOWN, no columns, its location the object itself. The recognised files keep their table."""
    plans = []
    for data_file in sorted(files, key=lambda f: f.key):
        location = f"s3://{bucket}/{data_file.key}"
        name = layouts.table_name(crawler.table_prefix, location)[:_MAX_TABLE_NAME]
        if name in taken:
            suffix = hashlib.sha256(data_file.key.encode()).hexdigest()[:8]
            name = f"{name[:_MAX_TABLE_NAME - 9]}_{suffix}"
        taken.add(name)
        layout = layouts.TargetLayout(bucket=bucket, prefix=data_file.key, partition_keys=[],
                                      partitions={(): [layouts.DataFile(data_file.key, data_file.size, ())]})
        table_input = build_unknown_table_input(
            name=name, location=location, compression=inferred[data_file.key].properties.get("compression", "none"),
            size=data_file.size, crawler_name=crawler.name)
        plans.append(_TargetPlan(name, layout, table_input, {}))
    return plans


def _infer_files(found: layouts.TargetLayout, cancelled: Callable[[], bool], outcome: CrawlOutcome
                 ) -> dict[str, schemas.FileSchema]:
    """Each data file's classification and schema, by key (files deleted meanwhile are left out). A file no
    classifier recognises is classified UNKNOWN, with the reason in the crawl's log; a codec or type the local
    crawler cannot read fails the crawl naming the file."""
    inferred_by_key: dict[str, schemas.FileSchema] = {}
    for data_file in found.files:
        if cancelled():
            raise CrawlCancelled()
        if data_file.size == 0:  # a 0-byte object holds no records: Glue's classifiers skip it
            outcome.messages.append(f"s3://{found.bucket}/{data_file.key} is empty (0 bytes): skipped")
            continue
        service_roles.require_s3("s3:GetObject", found.bucket, data_file.key)
        codec = compression.codec_of(data_file.key)
        try:
            inferred = _classify(found.bucket, data_file, codec)
        except KeyError:  # deleted since the listing
            outcome.messages.append(f"s3://{found.bucket}/{data_file.key} disappeared during the crawl: skipped")
            continue
        except schemas.UnreadableFileError as exc:
            # "If no classifier returns a certainty greater than 0.0, AWS Glue returns the default classification
            # string of UNKNOWN" ("Adding classifiers to a crawler in AWS Glue"): not a failed crawl.
            outcome.messages.append(f"s3://{found.bucket}/{exc}: no classifier recognised the data, "
                                    f"classification {schemas.UNKNOWN}")
            inferred = schemas.FileSchema(classification=schemas.UNKNOWN, columns=[], record_count=None)
        except (compression.CodecUnavailableError, schemas.NotEmulatedError) as exc:
            raise CrawlError(f"cannot read s3://{found.bucket}/{data_file.key}: {exc}") from exc
        if codec:
            inferred.properties["compression"] = codec
        inferred_by_key[data_file.key] = inferred
    return inferred_by_key


def _classify(bucket: str, data_file: layouts.DataFile, codec: str | None) -> schemas.FileSchema:
    """The built-in classifiers' verdict on one object (UnreadableFileError: none recognises it)."""
    if codec:
        head, truncated = compression.read_compressed_head(
            data_file.key, codec, ObjectReader(bucket, data_file.key), schemas.SAMPLE_BYTES)

        def open_file():  # a compressed Parquet file: its footer is in the decompressed bytes
            if truncated:
                raise schemas.NotEmulatedError(f"a {codec} compressed Parquet file over "
                                               f"{schemas.SAMPLE_BYTES} bytes is not read")
            return io.BytesIO(head)

        return schemas.infer(data_file.key, head, truncated=truncated, open_file=open_file)
    head = read_head(bucket, data_file.key, schemas.SAMPLE_BYTES)
    truncated = data_file.size > len(head)
    inferred = schemas.infer(data_file.key, head, truncated=truncated,
                             open_file=lambda: ObjectReader(bucket, data_file.key))
    if inferred.classification != "parquet" and truncated and inferred.record_count:
        # A sampled text file: estimate its records from the sample, as Glue's recordCount is an estimate too.
        inferred.record_count = round(inferred.record_count * data_file.size / len(head))
    return inferred


def _combines_compatible_schemas(crawler) -> bool:
    """Configuration Grouping.TableGroupingPolicy = CombineCompatibleSchemas ("Creating a single schema for each
    Amazon S3 include path"): one table for the include path whenever the data is compatible."""
    grouping = _configuration(crawler).get("Grouping") or {}
    return grouping.get("TableGroupingPolicy") == "CombineCompatibleSchemas"


def _first_level_groups(found: layouts.TargetLayout) -> dict[str, layouts.TargetLayout]:
    """The target's layout split by its first-level folder: folder name -> the layout below that folder."""
    groups: dict[str, layouts.TargetLayout] = {}
    for values, files in found.partitions.items():
        folder = files[0].key[len(found.prefix):].split("/")[0]
        layout = groups.setdefault(folder, layouts.TargetLayout(
            bucket=found.bucket, prefix=f"{found.prefix}{folder}/", partition_keys=found.partition_keys[1:]))
        layout.partitions[values[1:]] = layout.partitions.get(values[1:], []) + [
            layouts.DataFile(f.key, f.size, f.partition_values[1:]) for f in files]
    return groups


# Schema similarity at which folders are partitions of one table. AWS documents "when the majority of schemas at
# a folder level are similar" ("How does a crawler determine when to create partitions?"); AWS Support gives the
# threshold as 70% (re:Post, "grouping behavior for s3 data on crawler") without defining the measure: here, the
# share of the smaller schema's column names found in the other, for the same classification (so a folder whose
# files only add columns stays a partition, as a crawler merges an added column into the table).
SIMILARITY = 0.7


def _similar(a: tuple[str, set[str]], b: tuple[str, set[str]]) -> bool:
    if a[0] != b[0]:
        return False
    smaller = min(len(a[1]), len(b[1]))
    return smaller == 0 or len(a[1] & b[1]) / smaller >= SIMILARITY


def _majority_similar(groups: list[list[schemas.FileSchema]]) -> bool:
    """Whether most folders' schemas are similar to one another (then they are partitions of one table)."""
    shapes = []
    for files in groups:
        if not files:
            continue
        counts = Counter(s.classification for s in files)
        classification = max(counts, key=lambda c: (counts[c], -_PREFERENCE.index(c)))
        names = {n.lower() for s in files if s.classification == classification for n, _ in s.columns}
        shapes.append((classification, names))
    if len(shapes) < 2:
        return True
    best = max(sum(1 for other in shapes if _similar(shape, other)) for shape in shapes)
    return best * 2 > len(shapes)


def _build_plan(crawler, name: str, found: layouts.TargetLayout, inferred: dict[str, schemas.FileSchema],
                outcome: CrawlOutcome) -> _TargetPlan:
    file_schemas = [(f, inferred[f.key]) for f in found.files if f.key in inferred]
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
    decided = [s for _, s in chosen if s.properties.get("header") != "unknown"] or [chosen[0][1]]
    properties = dict(decided[0].properties)
    if properties.get("header") == "unknown":  # only lone lines: read them as a header, as Athena skips it
        properties["header"] = "true"
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
            lakeformation.crawler_deletes(database, plan.table)
            backend.delete_table(database, plan.table)
            outcome.tables_deleted += 1
            outcome.messages.append(f"table {database}.{plan.table} deleted: no data under {plan.layout.location}")
        elif delete_behavior == "DEPRECATE_IN_DATABASE":
            current = _table_input_of(existing)
            if "DEPRECATED_BY_CRAWLER" not in (current.get("Parameters") or {}):
                current["Parameters"] = {**(current.get("Parameters") or {}),
                                         "DEPRECATED_BY_CRAWLER": str(int(time.time()))}
                lakeformation.crawler_writes(database, plan.table, False, plan.layout.location)
                backend.update_table(database, plan.table, current)
                outcome.tables_updated += 1
            outcome.messages.append(f"table {database}.{plan.table} has no data left: marked deprecated")
        else:
            outcome.messages.append(f"table {database}.{plan.table} has no data left; kept (LOG)")
        return
    if existing is None:
        lakeformation.crawler_writes(database, plan.table, True, plan.layout.location)
        backend.create_table(database, plan.table, plan.table_input)
        outcome.tables_created += 1
        outcome.messages.append(f"table {database}.{plan.table} created")
    else:
        current = _table_input_of(existing)
        if shape(current) != shape(plan.table_input):
            if update_behavior == "UPDATE_IN_DATABASE":
                lakeformation.crawler_writes(database, plan.table, False, plan.layout.location)
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


def _configuration(crawler) -> dict[str, Any]:
    try:
        configuration = json.loads(crawler.configuration or "{}")
    except json.JSONDecodeError:
        return {}
    return configuration if isinstance(configuration, dict) else {}


def _inherits_from_table(crawler) -> bool:
    """Configuration CrawlerOutput.Partitions.AddOrUpdateBehavior = InheritFromTable: partitions take the table's
    schema, and a table update is passed on to every partition."""
    configuration = _configuration(crawler)
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
        lakeformation.crawler_writes(database, plan.table, False, plan.layout.location)
        errors = backend.batch_create_partition(database, plan.table, new)
        outcome.partitions_created += len(new) - len(errors)
        outcome.messages.append(f"{len(new) - len(errors)} partitions added to {database}.{plan.table}")
    if inherit:
        _inherit_table_schema(backend, database, plan.table, current, registered, outcome)
    gone = sorted(set(registered) - set(plan.partitions))
    if gone and delete_behavior == "DELETE_FROM_DATABASE":
        lakeformation.crawler_writes(database, plan.table, False, plan.layout.location)
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
        lakeformation.crawler_writes(database, table, False, wanted.get("Location"))
        backend.batch_update_partition(database, table, entries)
        outcome.messages.append(f"{len(entries)} partitions of {database}.{table} now inherit the table's schema")
