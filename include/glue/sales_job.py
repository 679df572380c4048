"""Daily sales cleansing job (AWS Glue, plain PySpark).

Reads one day of raw sales (`<raw_path>dt=<run_date>/`, CSV with header and JSON lines), cleanses it the
way the original lab did, and writes:
  - processed Parquet to `<processed_path>year=YYYY/month=M/day=D/` (only that partition is replaced),
  - rejected rows (raw strings + `reject_reason`) to `<rejected_path>dt=<run_date>/`,
  - a JSON manifest to `<manifest_path>dt=<run_date>.json` reconciling rows in, out and rejected.

`awsglue` is imported only when present, so the same file runs on Glue and on local Spark:
    python include/glue/sales_job.py --JOB_NAME local --run_date 2024-01-05 --raw_path ... (etc.)
It targets Glue 5.0 (Spark 3.5.4, Python 3.11): only APIs PySpark 3.5 has (no `Column.try_cast`, which is 4.0+).

Reject reasons, first matching wins, in this order:
  malformed_record            a CSV line with the wrong number of fields or a JSON line that does not parse
  duplicate                   extra copy of a row whose five raw columns are equal after trimming
  missing_card_id             card_id null/empty        | bad_card_id      not an integer
  missing_customer_id         customer_id null/empty    | bad_customer_id  not an integer
  bad_product_id              product_id present but not an integer (an empty product_id is allowed)
  bad_price                   empty, unparseable, negative or too large for decimal(10,2)
  bad_timestamp               empty or not `yyyy-MM-dd HH:mm:ss`
  timestamp_outside_run_date  valid timestamp on another day (would land in another day's partition)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from urllib.parse import urlparse

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

try:  # Present only inside AWS Glue.
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
except ImportError:
    GlueContext = Job = getResolvedOptions = None

RAW_COLUMNS = ("card_id", "customer_id", "price", "product_id", "timestamp")
JOB_ARGUMENTS = ("JOB_NAME", "run_date", "raw_path", "processed_path", "rejected_path", "manifest_path")
TIMESTAMP_FORMAT = "yyyy-MM-dd HH:mm:ss"
CSV_SUFFIXES = (".csv",)
JSON_SUFFIXES = (".json", ".jsonl")
RAW_SCHEMA = StructType([StructField(name, StringType(), True) for name in RAW_COLUMNS])
# Spark's PERMISSIVE mode puts a line it cannot split or parse into this column (and nulls in the others);
# read_raw turns it into the boolean MALFORMED column.
CORRUPT_RECORD = "_corrupt_record"
MALFORMED = "_malformed"


class JobInputError(ValueError):
    """Bad arguments or missing input: an upstream problem the job must not paper over."""


def parse_arguments(argv: list[str]) -> dict[str, str]:
    """Glue's resolver when running on Glue, else argparse with the same names (unknown Glue flags ignored)."""
    if getResolvedOptions is not None:
        args = getResolvedOptions(argv, list(JOB_ARGUMENTS))
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
        for name in JOB_ARGUMENTS:
            parser.add_argument(f"--{name}", required=True)
        # parse_known_args: Glue also passes --job-bookmark-option, --TempDir, --enable-metrics, ...
        known, _unknown = parser.parse_known_args(argv[1:])
        args = vars(known)
    try:
        dt.date.fromisoformat(args["run_date"])
    except ValueError:
        raise JobInputError(f"--run_date must be YYYY-MM-DD, got {args['run_date']!r}") from None
    if len(args["run_date"]) != 10:
        raise JobInputError(f"--run_date must be YYYY-MM-DD, got {args['run_date']!r}")
    return {name: args[name] for name in JOB_ARGUMENTS}


def folder(path: str) -> str:
    """A folder path with exactly one trailing slash, so `folder(p) + "dt=..."` is always a child."""
    return path.rstrip("/") + "/"


def day_partition(processed_path: str, run_date: str) -> str:
    """Hive-style partition folder without leading zeros, as Spark's partitionBy(year, month, day) names it."""
    day = dt.date.fromisoformat(run_date)
    return f"{folder(processed_path)}year={day.year}/month={day.month}/day={day.day}/"


def list_input_files(spark: SparkSession, day_path: str) -> tuple[list[str], list[str]]:
    """(csv_files, json_files) directly under the day folder, through Hadoop's FileSystem (s3 on Glue, local here)."""
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(day_path)
    fs = hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(hadoop_path):
        raise JobInputError(f"no input for the day: {day_path} does not exist")
    csv_files, json_files = [], []
    for status in fs.listStatus(hadoop_path):
        if not status.isFile():
            continue
        file_path = status.getPath().toString()
        name = status.getPath().getName().lower()
        if name.endswith(CSV_SUFFIXES):
            csv_files.append(file_path)
        elif name.endswith(JSON_SUFFIXES):
            json_files.append(file_path)
    if not csv_files and not json_files:
        raise JobInputError(f"no input for the day: no *.csv, *.json or *.jsonl files under {day_path}")
    return sorted(csv_files), sorted(json_files)


def _with_corrupt_record(schema: StructType) -> StructType:
    return StructType(schema.fields + [StructField(CORRUPT_RECORD, StringType(), True)])


def _raw_columns(frame: DataFrame) -> DataFrame:
    return frame.select(*RAW_COLUMNS, F.col(CORRUPT_RECORD).isNotNull().alias(MALFORMED))


def read_raw(spark: SparkSession, csv_files: list[str], json_files: list[str]) -> DataFrame:
    """All five columns as strings, whatever the source format, plus MALFORMED (the line could not be read).
    CSV columns are matched by header name."""
    frames = []
    if csv_files:
        # Columns are taken by header name: the first file's header gives the order (all strings, no inference).
        header = spark.read.csv(csv_files[0], header=True, inferSchema=False).columns
        missing = [name for name in RAW_COLUMNS if name not in header]
        if missing:
            raise JobInputError(f"CSV input lacks columns {missing}; header has {header} ({csv_files[0]})")
        # Spark maps the other files' columns by position; enforceSchema=false makes it check every file's
        # header against that order and fail naming the file, instead of silently swapping columns.
        # The corrupt-record column is not part of the header check. A line with too few or too many fields
        # lands there instead of being padded with nulls or silently cut.
        schema = _with_corrupt_record(StructType([StructField(name, StringType(), True) for name in header]))
        csv = spark.read.schema(schema).csv(csv_files, header=True, enforceSchema=False, mode="PERMISSIVE",
                                            columnNameOfCorruptRecord=CORRUPT_RECORD)
        frames.append(_raw_columns(csv))
    if json_files:
        # A string schema keeps JSON numbers as their text, so "12.50" and 12.50 cleanse the same way.
        json_lines = spark.read.schema(_with_corrupt_record(RAW_SCHEMA)).json(
            json_files, mode="PERMISSIVE", columnNameOfCorruptRecord=CORRUPT_RECORD)
        frames.append(_raw_columns(json_lines))
    raw = frames[0]
    for frame in frames[1:]:
        raw = raw.unionByName(frame)
    return raw


def _is_blank(column):
    return column.isNull() | (column == "")


def _try_cast(column_name: str, sql_type: str):
    """SQL `try_cast(<column> AS <type>)`: null where the value does not convert, whatever
    spark.sql.ansi.enabled says. `Column.try_cast` does the same but only from PySpark 4.0 (Glue 5.0 is 3.5)."""
    return F.expr(f"try_cast(`{column_name}` AS {sql_type})")


INPUT_POSITION = "_position"
PRICE_TEXT = "_price_text"  # the trimmed price without its "$"


def with_input_position(raw: DataFrame) -> DataFrame:
    """``raw`` plus its rows' input order (Spark's read order: partition, then line within the partition)."""
    return raw.withColumn(INPUT_POSITION, F.monotonically_increasing_id())


def with_copy_number(keyed: DataFrame) -> DataFrame:
    """``keyed`` (raw rows with trimmed ``_t_*`` columns) plus ``_copy``: which copy of its duplicate key a row
    is (1 = the first in input order, or the only one). The key is the five trimmed values (null and "" count
    as equal). The window shuffles these narrow rows; parsing them into typed values waits until after it."""
    key = [F.coalesce(F.col(f"_t_{name}"), F.lit("")) for name in RAW_COLUMNS]
    input_order = Window.partitionBy(*key).orderBy(INPUT_POSITION)
    return keyed.withColumn("_copy", F.row_number().over(input_order))


def classify(raw: DataFrame, run_date: str) -> DataFrame:
    """The raw rows with their typed values (``_card_id``...) and ``reject_reason`` (null for a good row)."""
    malformed = F.col(MALFORMED) if MALFORMED in raw.columns else F.lit(False)
    keyed = with_input_position(raw).select(
        *[F.col(name) for name in RAW_COLUMNS],
        malformed.alias(MALFORMED),
        F.col(INPUT_POSITION),
        *[F.trim(F.col(name)).alias(f"_t_{name}") for name in RAW_COLUMNS],
    )
    # Parsing comes after the duplicate detection, so its shuffle carries strings only.
    trimmed = {name: F.col(f"_t_{name}") for name in RAW_COLUMNS}
    price_text = F.regexp_replace(trimmed["price"], r"^\$\s*", "")
    typed = with_copy_number(keyed).withColumn(PRICE_TEXT, price_text).select(
        "*",
        _try_cast("_t_card_id", "bigint").alias("_card_id"),
        _try_cast("_t_customer_id", "bigint").alias("_customer_id"),
        _try_cast("_t_product_id", "bigint").alias("_product_id"),
        # Only plain decimals: try_cast alone would also accept "1e3" or "Infinity"-like spellings.
        F.when(F.col(PRICE_TEXT).rlike(r"^-?[0-9]+(\.[0-9]+)?$"), _try_cast(PRICE_TEXT, "decimal(10,2)"))
        .alias("_price"),
        F.try_to_timestamp(trimmed["timestamp"], F.lit(TIMESTAMP_FORMAT)).alias("_timestamp"),
    ).drop(PRICE_TEXT)

    reason = (
        F.when(F.col(MALFORMED), "malformed_record")
        .when(F.col("_copy") > 1, "duplicate")
        .when(_is_blank(F.col("_t_card_id")), "missing_card_id")
        .when(F.col("_card_id").isNull(), "bad_card_id")
        .when(_is_blank(F.col("_t_customer_id")), "missing_customer_id")
        .when(F.col("_customer_id").isNull(), "bad_customer_id")
        .when(~_is_blank(F.col("_t_product_id")) & F.col("_product_id").isNull(), "bad_product_id")
        .when(F.col("_price").isNull() | (F.col("_price") < 0), "bad_price")
        .when(F.col("_timestamp").isNull(), "bad_timestamp")
        .when(F.to_date(F.col("_timestamp")) != F.lit(run_date).cast("date"), "timestamp_outside_run_date")
    )
    return typed.withColumn("reject_reason", reason)


def split(classified: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(good rows in the processed schema, rejected raw rows + reject_reason) of a classified frame."""
    good = classified.where(F.col("reject_reason").isNull()).select(
        F.col("_card_id").alias("card_id"),
        F.col("_customer_id").alias("customer_id"),
        F.col("_price").alias("price"),
        F.col("_product_id").alias("product_id"),
        F.col("_timestamp").alias("timestamp"),
    )
    rejected = classified.where(F.col("reject_reason").isNotNull()).select(*RAW_COLUMNS, "reject_reason")
    return good, rejected


def only_output_columns(classified: DataFrame) -> DataFrame:
    """A classified frame cut to what split() reads: typed values for good rows, raw strings for rejected rows
    (nulls elsewhere, which the columnar cache stores almost for free)."""
    good = F.col("reject_reason").isNull()
    return classified.select(
        "reject_reason",
        *[F.when(good, F.col(f"_{name}")).alias(f"_{name}") for name in RAW_COLUMNS],
        *[F.when(~good, F.col(name)).alias(name) for name in RAW_COLUMNS],
    )


def cleanse(raw: DataFrame, run_date: str) -> tuple[DataFrame, DataFrame]:
    """Split raw string rows into (good, rejected).

    good: card_id bigint, customer_id bigint, price decimal(10,2), product_id bigint, timestamp timestamp.
    rejected: the five raw columns as read + reject_reason.
    """
    return split(classify(raw, run_date))


def build_manifest(run_date: str, rows_in: int, reason_counts: dict, source_files: list[str]) -> dict:
    """The day's reconciliation; fails loudly if a row was lost or double counted."""
    rows_out = reason_counts.get(None, 0)
    rejected_by_reason = {reason: reason_counts[reason] for reason in sorted(filter(None, reason_counts))}
    rows_rejected = sum(rejected_by_reason.values())
    if rows_in != rows_out + rows_rejected:
        raise AssertionError(
            f"row reconciliation failed for {run_date}: rows_in={rows_in} != rows_out={rows_out} "
            f"+ rows_rejected={rows_rejected}"
        )
    return {
        "run_date": run_date,
        "rows_in": rows_in,
        "rows_out": rows_out,
        "rows_rejected": rows_rejected,
        "rejected_by_reason": rejected_by_reason,
        "source_files": source_files,
    }


def check_landed(manifest: dict, rows_out_landed: int, rows_rejected_landed: int) -> None:
    """The written Parquet holds exactly the rows the manifest counts; fails loudly otherwise."""
    if (manifest["rows_out"], manifest["rows_rejected"]) != (rows_out_landed, rows_rejected_landed):
        raise AssertionError(
            f"written output does not match the manifest for {manifest['run_date']}: "
            f"rows_out={manifest['rows_out']} vs {rows_out_landed} landed, "
            f"rows_rejected={manifest['rows_rejected']} vs {rows_rejected_landed} landed"
        )


def write_manifest(manifest: dict, manifest_path: str, run_date: str) -> str:
    """`<manifest_path>dt=<run_date>.json` through boto3 for s3://, plain file I/O for local paths."""
    target = f"{folder(manifest_path)}dt={run_date}.json"
    body = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    parsed = urlparse(target)
    if parsed.scheme in ("s3", "s3a"):
        import boto3  # Only needed on the S3 path; Glue ships it.

        boto3.client("s3").put_object(
            Bucket=parsed.netloc, Key=parsed.path.lstrip("/"), Body=body.encode(), ContentType="application/json"
        )
    elif parsed.scheme in ("", "file"):
        local = parsed.path if parsed.scheme == "file" else target
        os.makedirs(os.path.dirname(local), exist_ok=True)
        with open(local, "w", encoding="utf-8") as handle:
            handle.write(body)
    else:
        raise JobInputError(f"unsupported manifest path scheme {parsed.scheme!r}: {manifest_path}")
    return target


def configure(spark: SparkSession) -> None:
    # UTC so a "10:00:00" string is stored and read back as 10:00:00 whatever the driver's zone.
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    # INT96 (Spark's legacy default on some setups) is read inconsistently; micros are read by DuckDB,
    # pyarrow, Athena and Redshift COPY/Spectrum alike.
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    # No _SUCCESS marker in the partition folders: readers that glob the folder (DuckDB, local tools) would
    # trip on a non-Parquet file; the manifest is the run's completion record.
    spark.sparkContext._jsc.hadoopConfiguration().set("mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")


def run(spark: SparkSession, args: dict[str, str]) -> dict:
    """Cleanse one day and write processed, rejected and manifest. Returns the manifest."""
    configure(spark)
    run_date = args["run_date"]
    day_path = f"{folder(args['raw_path'])}dt={run_date}/"
    csv_files, json_files = list_input_files(spark, day_path)
    source_files = csv_files + json_files

    processed_day = day_partition(args["processed_path"], run_date)
    rejected_day = f"{folder(args['rejected_path'])}dt={run_date}/"
    # Cached after classification, keeping per row only what its output needs: the reason counts and the two
    # writes read it instead of parsing and shuffling the day again.
    classified = only_output_columns(classify(read_raw(spark, csv_files, json_files), run_date)).cache()
    try:
        rows_in = classified.count()
        # One aggregation gives the good rows (reason null) and every reject reason at once.
        reason_counts = {row["reject_reason"]: row["count"]
                         for row in classified.groupBy("reject_reason").count().collect()}
        manifest = build_manifest(run_date, rows_in, reason_counts, source_files)
        good, rejected = split(classified)
        # The day folder is written directly with mode overwrite rather than partitionBy + dynamic overwrite:
        # every good row is already checked to belong to run_date, so this replaces exactly one partition,
        # never touches other days, and does not depend on a session setting being right. It also replaces the
        # day when a re-run has no good rows, where a dynamic overwrite would leave the old files in place.
        # One file per day keeps the partition easy for crawlers, Spectrum and COPY.
        good.coalesce(1).write.mode("overwrite").parquet(processed_day)
        rejected.coalesce(1).write.mode("overwrite").parquet(rejected_day)
    finally:
        classified.unpersist()
    # Counted from what landed (Parquet footers only), so the manifest vouches for the written files.
    check_landed(manifest, spark.read.parquet(processed_day).count(), spark.read.parquet(rejected_day).count())
    write_manifest(manifest, args["manifest_path"], run_date)
    return manifest


def main(argv: list[str] | None = None) -> dict:
    args = parse_arguments(sys.argv if argv is None else argv)
    if GlueContext is not None:
        from pyspark.context import SparkContext

        glue_context = GlueContext(SparkContext.getOrCreate())
        spark = glue_context.spark_session
        job = Job(glue_context)
        job.init(args["JOB_NAME"], args)
        manifest = run(spark, args)
        job.commit()
        return manifest
    spark = SparkSession.builder.appName(args["JOB_NAME"]).getOrCreate()
    try:
        return run(spark, args)
    finally:
        spark.stop()


if __name__ == "__main__":
    print(json.dumps(main(), sort_keys=True))
