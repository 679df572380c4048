"""``awsglue.context.GlueContext`` on PySpark ("GlueContext class", AWS Glue developer guide).

Reads and writes go to the local S3 through the job process's mirror (``local_glue_job.s3``); the catalog is the
local AWS's Glue Data Catalog (``awsglue.catalog``). Sources:

- ``create_dynamic_frame.from_options`` (S3 only): ``connection_options`` ``paths`` (objects or folders),
  ``recurse`` (default false: only the objects directly in a folder), ``groupFiles``/``groupSize``/
  ``useS3ListImplementation`` (grouping and listing hints, no effect on the records; also accepted in from_catalog's
  additional_options); formats csv (``withHeader``, ``separator``, ``quoteChar``, ``escaper``; each value
  typed as Glue's CSV reader does: a field with numbers and text is a choice; fields of a header-less file are
  ``col0``, ``col1``...), json (``multiline``), parquet ("Data format options for inputs and outputs").
- ``create_dynamic_frame.from_catalog``: the table's location, format (classification or SerDe) and partitions;
  ``push_down_predicate`` (a Spark SQL predicate on partition columns, evaluated on the partition values before
  any file is listed) and ``additional_options={"catalogPartitionPredicate": ...}`` (a GetPartitions expression,
  evaluated by the catalog); partition columns are added to the records ("Managing partitions for ETL output",
  "Pre-filtering using pushdown predicates").
- Both read only new objects under job bookmarks (``awsglue.bookmarks``) when given a ``transformation_ctx``.

Sinks: ``write_dynamic_frame.from_options`` (S3; ``path``, ``partitionKeys``; parquet/glueparquet, csv, json) and
``write_dynamic_frame.from_catalog`` (the table's location, format and partition keys); both add files, never
replace them, as Glue's S3 sink does.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys

from local_glue_job import s3
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from awsglue import Unimplemented, bookmarks, catalog, not_implemented
from awsglue.dynamicframe import DynamicFrame, sql_type, text_value_type

# Hints that change how files are grouped or listed, never which records are read: accepted.
_LISTING_HINTS = {"groupFiles", "groupSize", "useS3ListImplementation"}
_READ_OPTIONS = {"paths", "recurse", *_LISTING_HINTS}
_CSV_OPTIONS = {"withHeader", "separator", "quoteChar", "escaper", "skipFirst", "optimizePerformance"}
_WRITE_FORMATS = {"parquet": "parquet", "glueparquet": "parquet", "csv": "csv", "json": "json"}


def _listing(uri: str, recurse: bool) -> list[tuple[str, dict]]:
    """(uri, listing entry) of the objects a path names: the object, or a folder's (all levels when recurse)."""
    bucket, key = s3.split(uri)
    objects = s3.list_visible(bucket, key)
    exact = [o for o in objects if o["Key"] == key]
    if key and exact:
        return [(f"s3://{bucket}/{key}", exact[0])]
    folder = key if not key or key.endswith("/") else key + "/"
    chosen = []
    for o in objects:
        if not o["Key"].startswith(folder):
            continue
        rest = o["Key"][len(folder):]
        if any(part.startswith(("_", ".")) for part in rest.split("/")):  # _SUCCESS, _temporary/, .crc: hidden
            continue
        if recurse or "/" not in rest:
            chosen.append((f"s3://{bucket}/{o['Key']}", o))
    return chosen


def _stage(listing: list[tuple[str, dict]]) -> list[str]:
    by_bucket: dict[str, list[dict]] = {}
    for uri, o in listing:
        if o.get("Local"):
            continue  # the run's own file: already local
        by_bucket.setdefault(s3.split(uri)[0], []).append(o)
    for bucket, objects in by_bucket.items():
        s3.stage_objects(bucket, objects)
    return [s3.local_path(uri) for uri, _ in listing]


def _typed_text(df):
    """Type each CSV field from its values (long, double, string; numbers and text together make a choice)."""
    if not df.columns:
        return df, {}
    kinds = df.agg(*[F.collect_set(text_value_type(F.col(f"`{c}`"))).alias(c) for c in df.columns]).first()
    columns, choices = [], {}
    for c in df.columns:
        seen = set(kinds[c])
        numeric = "double" if "double" in seen else "long" if "long" in seen else None
        ref = F.col(f"`{c}`")
        if not seen:
            columns.append(F.lit(None).alias(c))  # NullType: null in every record
        elif "string" in seen and numeric:
            choices[c] = [numeric, "string"]
            columns.append(ref)
        elif numeric:
            columns.append(ref.cast(sql_type(numeric)).alias(c))
        else:
            columns.append(ref)
    return df.select(*columns), choices


def _read(spark: SparkSession, files: list[str], data_format: str, options: dict):
    """(DataFrame, choices) of the staged files."""
    options = dict(options or {})
    if data_format == "csv":
        unknown = set(options) - _CSV_OPTIONS
        if unknown:
            raise not_implemented(f"csv format_options {sorted(unknown)}")
        header = bool(options.get("withHeader", False))
        reader = spark.read.option("header", header).option("sep", options.get("separator", ","))
        reader = reader.option("quote", options.get("quoteChar", '"'))
        if "escaper" in options:
            reader = reader.option("escape", options["escaper"])
        if options.get("skipFirst"):
            raise not_implemented("csv format_options skipFirst")
        df = reader.csv(files) if files else None
        if df is None:
            return spark.createDataFrame([], T.StructType([])), {}
        if not header:
            df = df.toDF(*[f"col{i}" for i in range(len(df.columns))])
        return _typed_text(df)
    if data_format == "json":
        unknown = set(options) - {"multiline"}
        if unknown:
            raise not_implemented(f"json format_options {sorted(unknown)}")
        if not files:
            return spark.createDataFrame([], T.StructType([])), {}
        return spark.read.option("multiLine", bool(options.get("multiline", False))).json(files), {}
    if data_format == "parquet":
        if options:
            raise not_implemented(f"parquet format_options {sorted(options)}")
        if not files:
            return spark.createDataFrame([], T.StructType([])), {}
        return spark.read.parquet(*files), {}
    raise not_implemented(f"the format {data_format!r}")


class _Reader:
    def __init__(self, context: GlueContext):
        self._context = context

    def from_options(self, connection_type: str, connection_options: dict | None = None, format: str | None = None,
                     format_options: dict | None = None, transformation_ctx: str = "", push_down_predicate: str = "",
                     **kwargs) -> DynamicFrame:
        return self._context.create_dynamic_frame_from_options(
            connection_type, connection_options, format, format_options, transformation_ctx, push_down_predicate,
            **kwargs)

    def from_catalog(self, database: str | None = None, table_name: str | None = None, redshift_tmp_dir: str = "",
                     transformation_ctx: str = "", push_down_predicate: str = "",
                     additional_options: dict | None = None, catalog_id: str | None = None, **kwargs
                     ) -> DynamicFrame:
        if "name_space" in kwargs:
            if database is not None:
                raise Exception("Parameter name_space and database are both specified, choose one.")
            database = kwargs.pop("name_space")
        return self._context.create_dynamic_frame_from_catalog(
            database, table_name, redshift_tmp_dir, transformation_ctx, push_down_predicate, additional_options,
            catalog_id, **kwargs)


class _Writer:
    def __init__(self, context: GlueContext):
        self._context = context

    def from_options(self, frame: DynamicFrame, connection_type: str, connection_options: dict | None = None,
                     format: str | None = None, format_options: dict | None = None, transformation_ctx: str = ""
                     ) -> DynamicFrame:
        return self._context.write_dynamic_frame_from_options(
            frame, connection_type, connection_options, format, format_options, transformation_ctx)

    def from_catalog(self, frame: DynamicFrame, database: str | None = None, table_name: str | None = None,
                     redshift_tmp_dir: str = "", transformation_ctx: str = "",
                     additional_options: dict | None = None, catalog_id: str | None = None) -> DynamicFrame:
        return self._context.write_dynamic_frame_from_catalog(
            frame, database, table_name, redshift_tmp_dir, transformation_ctx, additional_options, catalog_id)


class _Logger:
    """``get_logger()``: messages go to the driver log (CloudWatch Logs ``/aws-glue/jobs/output``)."""

    def __init__(self):
        self._log = logging.getLogger("GlueLogger")
        if not self._log.handlers:
            handler = logging.StreamHandler(sys.stdout)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s GlueLogger: %(message)s"))
            self._log.addHandler(handler)
            self._log.setLevel(logging.INFO)
            self._log.propagate = False

    def info(self, message: str) -> None:
        self._log.info(message)

    def warn(self, message: str) -> None:
        self._log.warning(message)

    warning = warn

    def error(self, message: str) -> None:
        self._log.error(message)

    def debug(self, message: str) -> None:
        self._log.debug(message)


class GlueContext(Unimplemented):
    """``GlueContext(spark_context)``; ``spark_session`` is the job's SparkSession."""

    def __init__(self, sparkContext, **options):
        if options:
            raise not_implemented(f"GlueContext options {sorted(options)}")
        self._sc = sparkContext
        self.spark_session = SparkSession.builder.getOrCreate()
        self.create_dynamic_frame = _Reader(self)
        self.write_dynamic_frame = _Writer(self)

    @property
    def sparkSession(self) -> SparkSession:
        return self.spark_session

    def get_logger(self) -> _Logger:
        return _Logger()

    # --- sources ------------------------------------------------------------------------------------------------

    def create_dynamic_frame_from_options(self, connection_type: str, connection_options: dict | None = None,
                                          format: str | None = None, format_options: dict | None = None,
                                          transformation_ctx: str = "", push_down_predicate: str = "",
                                          **kwargs) -> DynamicFrame:
        if kwargs:
            raise not_implemented(f"create_dynamic_frame.from_options arguments {sorted(kwargs)}")
        if connection_type != "s3":
            raise not_implemented(f"create_dynamic_frame.from_options with connection_type {connection_type!r}")
        if push_down_predicate:
            raise not_implemented("create_dynamic_frame.from_options with push_down_predicate")
        options = dict(connection_options or {})
        unknown = set(options) - _READ_OPTIONS
        if unknown:
            raise not_implemented(f"create_dynamic_frame.from_options connection_options {sorted(unknown)}")
        paths = options.get("paths") or []
        if isinstance(paths, str) or not paths:
            raise ValueError("connection_options['paths'] must be a non-empty list of s3:// paths")
        recurse = str(options.get("recurse", False)).lower() == "true"
        listing = [item for p in paths for item in _listing(p, recurse)]
        listing = bookmarks.current().select(transformation_ctx, listing)
        df, choices = _read(self.spark_session, _stage(listing), format, format_options)
        return DynamicFrame(df, self, transformation_ctx, choices)

    def create_dynamic_frame_from_catalog(self, database: str | None = None, table_name: str | None = None,
                                          redshift_tmp_dir: str = "", transformation_ctx: str = "",
                                          push_down_predicate: str = "", additional_options: dict | None = None,
                                          catalog_id: str | None = None, **kwargs) -> DynamicFrame:
        if kwargs:
            raise not_implemented(f"create_dynamic_frame.from_catalog arguments {sorted(kwargs)}")
        if not database or not table_name:
            raise ValueError("create_dynamic_frame.from_catalog needs database and table_name")
        options = {k: v for k, v in (additional_options or {}).items() if k not in _LISTING_HINTS}
        expression = options.pop("catalogPartitionPredicate", None)
        if options:
            raise not_implemented(f"create_dynamic_frame.from_catalog additional_options {sorted(options)}")
        table = catalog.table(database, table_name, catalog_id)
        storage = table["StorageDescriptor"]
        data_format, format_options = catalog.data_format(storage, table.get("Parameters", {}))
        keys = table.get("PartitionKeys", [])
        if keys:
            found = catalog.partitions(database, table_name, expression, catalog_id)
            values = [p["Values"] for p in found]
            if push_down_predicate:
                values = self._prune(keys, values, push_down_predicate)
            wanted = {tuple(v) for v in values}
            locations = [(p["StorageDescriptor"]["Location"], p["Values"]) for p in found
                         if tuple(p["Values"]) in wanted]
        else:
            if push_down_predicate:
                raise ValueError(f"push_down_predicate on {database}.{table_name}, which has no partition keys")
            locations = [(storage["Location"], [])]
        listing, file_values = [], {}
        for location, partition_values in locations:
            for uri, o in _listing(location, recurse=True):
                listing.append((uri, o))
                file_values[uri] = partition_values
        listing = bookmarks.current().select(transformation_ctx, listing)
        files = _stage(listing)
        df, choices = _read(self.spark_session, files, data_format, format_options)
        if not files:
            schema = T.StructType([T.StructField(c["Name"], T.StringType(), True) for c in storage["Columns"]])
            df = self.spark_session.createDataFrame([], schema)
        if data_format == "csv" and not format_options.get("withHeader"):
            names = [c["Name"] for c in storage["Columns"]]
            df = df.toDF(*names[: len(df.columns)])
            choices = {names[int(k[3:])]: v for k, v in choices.items()}
        if keys:
            df = self._with_partition_columns(df, keys, [(s3.local_path(u), file_values[u]) for u, _ in listing])
        return DynamicFrame(df, self, transformation_ctx, choices)

    def _prune(self, keys: list[dict], values: list[list[str]], predicate: str) -> list[list[str]]:
        """The partitions whose values satisfy the Spark SQL predicate (keys typed as the catalog says)."""
        if not values:
            return []
        frame = self.spark_session.createDataFrame(values, [k["Name"] for k in keys])
        frame = frame.select(*[F.col(f"`{k['Name']}`").cast(sql_type(k["Type"])).alias(k["Name"]) for k in keys],
                             F.array(*[F.col(f"`{k['Name']}`") for k in keys]).alias("__values"))
        return [list(r["__values"]) for r in frame.where(predicate).select("__values").collect()]

    def _with_partition_columns(self, df, keys: list[dict], files: list[tuple[str, list[str]]]):
        if not files:
            for k in keys:
                df = df.withColumn(k["Name"], F.lit(None).cast(sql_type(k["Type"])))
            return df
        names = [k["Name"] for k in keys]
        lookup = self.spark_session.createDataFrame(
            [(path, *vals) for path, vals in files], ["__file", *[f"__p{i}" for i in range(len(names))]])
        local = F.expr("url_decode(regexp_replace(input_file_name(), '^file:(//)?', ''))")
        joined = df.withColumn("__file", local).join(F.broadcast(lookup), "__file", "left")
        return joined.select(*[F.col(f"`{c}`") for c in df.columns],
                             *[F.col(f"__p{i}").cast(sql_type(k["Type"])).alias(k["Name"])
                               for i, k in enumerate(keys)])

    # --- sinks --------------------------------------------------------------------------------------------------

    def write_dynamic_frame_from_options(self, frame: DynamicFrame, connection_type: str,
                                         connection_options: dict | None = None, format: str | None = None,
                                         format_options: dict | None = None, transformation_ctx: str = ""
                                         ) -> DynamicFrame:
        if connection_type != "s3":
            raise not_implemented(f"write_dynamic_frame.from_options with connection_type {connection_type!r}")
        options = dict(connection_options or {})
        path = options.pop("path", None)
        keys = options.pop("partitionKeys", []) or []
        if options:
            raise not_implemented(f"write_dynamic_frame.from_options connection_options {sorted(options)}")
        if not path:
            raise ValueError("connection_options['path'] is required for an S3 sink")
        self._write(frame, path, format or "", dict(format_options or {}), keys)
        return frame

    def write_dynamic_frame_from_catalog(self, frame: DynamicFrame, database: str | None = None,
                                         table_name: str | None = None, redshift_tmp_dir: str = "",
                                         transformation_ctx: str = "", additional_options: dict | None = None,
                                         catalog_id: str | None = None) -> DynamicFrame:
        options = dict(additional_options or {})
        keys = options.pop("partitionKeys", None)
        if options:
            raise not_implemented(f"write_dynamic_frame.from_catalog additional_options {sorted(options)}")
        table = catalog.table(database, table_name, catalog_id)
        storage = table["StorageDescriptor"]
        data_format, read_options = catalog.data_format(storage, table.get("Parameters", {}))
        if keys is None:
            keys = [k["Name"] for k in table.get("PartitionKeys", [])]
        format_options = {"writeHeader": read_options.get("withHeader", False),
                          "separator": read_options.get("separator", ",")} if data_format == "csv" else {}
        self._write(frame, storage["Location"], data_format, format_options, keys)
        return frame

    def _write(self, frame: DynamicFrame, path: str, data_format: str, options: dict, keys: list[str]) -> None:
        if data_format not in _WRITE_FORMATS:
            raise not_implemented(f"writing the format {data_format!r}")
        writer = frame.toDF().write.mode("append")  # Glue's S3 sink adds files; it never replaces
        if keys:
            writer = writer.partitionBy(*keys)
        if _WRITE_FORMATS[data_format] == "parquet":
            compression = options.pop("compression", "snappy")
            options.pop("blockSize", None), options.pop("pageSize", None)
            if options:
                raise not_implemented(f"parquet format_options {sorted(options)}")
            writer.option("compression", compression).parquet(path)
        elif data_format == "csv":
            writer = writer.option("header", bool(options.pop("writeHeader", True)))
            writer = writer.option("sep", options.pop("separator", ",")).option("quote", options.pop("quoteChar", '"'))
            if options:
                raise not_implemented(f"csv format_options {sorted(options)}")
            writer.csv(path)
        else:
            if options:
                raise not_implemented(f"json format_options {sorted(options)}")
            writer.json(path)

    # --- S3 housekeeping ----------------------------------------------------------------------------------------

    def purge_s3_path(self, s3_path: str, options: dict | None = None, transformation_ctx: str = "") -> None:
        """Delete the objects under ``s3_path`` older than ``retentionPeriod`` hours (default 168: objects newer
        than 7 days are kept), except those of ``excludeStorageClasses`` ("purge_s3_path", GlueContext class)."""
        options = dict(options or {})
        hours = float(options.pop("retentionPeriod", 168))
        excluded = set(options.pop("excludeStorageClasses", []) or [])
        if options:
            raise not_implemented(f"purge_s3_path options {sorted(options)}")
        bucket, key = s3.split(s3_path)
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)
        doomed = [o["Key"] for o in s3.list_objects(bucket, key)
                  if o["LastModified"] <= cutoff and o.get("StorageClass", "STANDARD") not in excluded]
        for start in range(0, len(doomed), 1000):
            s3.client().delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in
                                                                           doomed[start:start + 1000]]})
        s3.forget(bucket, doomed)
