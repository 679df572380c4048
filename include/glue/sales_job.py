"""Daily sales cleansing job (AWS Glue, plain PySpark).

Reads one day of raw sales (`<raw_path>dt=<run_date>/`, CSV with header and JSON lines, plain, .gz or .bz2),
cleanses it the way the original lab did, and writes:
  - processed Parquet to `<processed_path>year=YYYY/month=M/day=D/` (only that partition is replaced),
  - rejected rows (raw strings + `reject_reason`) to `<rejected_path>dt=<run_date>/`,
  - a JSON manifest to `<manifest_path>dt=<run_date>.json` reconciling rows in, out and rejected.

`awsglue` is imported only when present, so the same file runs on Glue and on local Spark:
    python include/glue/sales_job.py --JOB_NAME local --run_date 2024-01-05 --raw_path ... (etc.)
Optional `--max_reject_share` (0-1): when more of the day's rows than that are rejected, the job fails before
writing anything (RejectThresholdExceeded, naming the counts and the top reasons), so the day stays as the last
good run left it.
It targets Glue 5.0 (Spark 3.5.4, Python 3.11): only APIs PySpark 3.5 has (no `Column.try_cast`, which is 4.0+).

Reject reasons, first matching wins, in this order:
  malformed_record            a CSV line with the wrong number of fields or a JSON line that does not parse
  duplicate                   extra copy of a row whose five raw columns are equal after trimming
  missing_card_id             card_id null/empty        | bad_card_id      not an integer
  missing_customer_id         customer_id null/empty    | bad_customer_id  not an integer
  bad_product_id              product_id present but not an integer (an empty product_id is allowed)
  bad_price                   empty, unparseable, negative or too large for decimal(10,2)
  price_scale_exceeded        a non-zero digit after the second decimal (12.505): decimal(10,2) would round it,
                              a silent change of value; trailing zeros (12.500) are the same value and kept
  bad_timestamp               empty or not `yyyy-MM-dd HH:mm:ss`
  timestamp_outside_run_date  valid timestamp on another day (would land in another day's partition)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from dataclasses import dataclass, field
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
OPTIONAL_ARGUMENTS = ("max_reject_share",)
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


class RejectThresholdExceeded(JobInputError):
    """More of the day's rows were rejected than --max_reject_share allows; nothing was written."""


def parse_arguments(argv: list[str]) -> dict[str, str]:
    """Glue's resolver when running on Glue, else argparse with the same names (unknown Glue flags ignored)."""
    # getResolvedOptions fails on a listed name that is absent, so optional names are listed only when passed.
    present = [name for name in OPTIONAL_ARGUMENTS
               if any(arg == f"--{name}" or arg.startswith(f"--{name}=") for arg in argv)]
    if getResolvedOptions is not None:
        args = getResolvedOptions(argv, list(JOB_ARGUMENTS) + present)
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
        for name in JOB_ARGUMENTS:
            parser.add_argument(f"--{name}", required=True)
        for name in OPTIONAL_ARGUMENTS:
            parser.add_argument(f"--{name}")
        # parse_known_args: Glue also passes --job-bookmark-option, --TempDir, --enable-metrics, ...
        known, _unknown = parser.parse_known_args(argv[1:])
        args = vars(known)
    try:
        dt.date.fromisoformat(args["run_date"])
    except ValueError:
        raise JobInputError(f"--run_date must be YYYY-MM-DD, got {args['run_date']!r}") from None
    if len(args["run_date"]) != 10:
        raise JobInputError(f"--run_date must be YYYY-MM-DD, got {args['run_date']!r}")
    if args.get("max_reject_share") is not None:
        try:
            share = float(args["max_reject_share"])
        except ValueError:
            share = -1.0
        if not 0 <= share <= 1:
            raise JobInputError(f"--max_reject_share must be a number from 0 to 1, got {args['max_reject_share']!r}")
    return {name: args[name] for name in JOB_ARGUMENTS + OPTIONAL_ARGUMENTS if args.get(name) is not None}


def folder(path: str) -> str:
    """A folder path with exactly one trailing slash, so `folder(p) + "dt=..."` is always a child."""
    return path.rstrip("/") + "/"


def day_partition(processed_path: str, run_date: str) -> str:
    """Hive-style partition folder without leading zeros, as Spark's partitionBy(year, month, day) names it."""
    day = dt.date.fromisoformat(run_date)
    return f"{folder(processed_path)}year={day.year}/month={day.month}/day={day.day}/"


# Compression Glue reads for CSV and JSON input ("You can read and write bzip and gzip archives", Using the CSV
# format in AWS Glue, https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-etl-format-csv-home.html).
# Spark picks the Hadoop codec from the file name, as Glue does. Other codecs (.zip, .zst, .lz4, .snappy, .xz,
# .deflate, ...) are not read: a file using one fails the job by name instead of being dropped.
CODEC_SUFFIXES = (".gz", ".bz2")


@dataclass(frozen=True)
class InputFiles:
    """The day folder's files, sorted by path: csv and json are read; skipped ({"path", "reason"}) are not, and
    only "empty" (a 0-byte file, or a compressed file without a line) is skipped without failing the job."""

    csv: list[str] = field(default_factory=list)
    json: list[str] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)

    @property
    def read(self) -> list[str]:
        return self.csv + self.json


def input_format(name: str) -> str | None:
    """"csv", "json" or None (not readable) for a file name: one codec suffix Glue reads (lower case, as Hadoop's
    codec lookup matches it: `.GZ` would be read as plain text), then .csv/.json/.jsonl in any case."""
    for codec in CODEC_SUFFIXES:
        if name.endswith(codec):
            name = name[: -len(codec)]
            break
    name = name.lower()
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if name.endswith(JSON_SUFFIXES):
        return "json"
    return None


def list_input_files(spark: SparkSession, day_path: str) -> InputFiles:
    """Every file directly under the day folder, through Hadoop's FileSystem (s3 on Glue, local here).

    Raises JobInputError when the folder is missing, when a file is not one the job reads (naming every such
    file: input is never dropped without a word), or when no file is left to read."""
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(day_path)
    fs = hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(hadoop_path):
        raise JobInputError(f"no input for the day: {day_path} does not exist")
    files = InputFiles()
    unreadable = []
    for status in sorted(fs.listStatus(hadoop_path), key=lambda s: s.getPath().toString()):
        if not status.isFile():
            continue
        file_path = status.getPath().toString()
        kind = input_format(status.getPath().getName())
        if kind is None:
            unreadable.append(file_path)
        elif status.getLen() == 0:
            files.skipped.append({"path": file_path, "reason": "empty"})
        else:
            (files.csv if kind == "csv" else files.json).append(file_path)
    if unreadable:
        raise JobInputError(
            f"{len(unreadable)} file(s) under {day_path} are not CSV or JSON lines (optionally .gz or .bz2), "
            f"so the job cannot read them and will not drop them: {unreadable}")
    if not files.read:
        raise JobInputError(f"no input for the day: no *.csv, *.json or *.jsonl files with data under {day_path}"
                            f"; skipped: {files.skipped}")
    return files


def _with_corrupt_record(schema: StructType) -> StructType:
    return StructType(schema.fields + [StructField(CORRUPT_RECORD, StringType(), True)])


def _raw_columns(frame: DataFrame) -> DataFrame:
    return frame.select(*RAW_COLUMNS, F.col(CORRUPT_RECORD).isNotNull().alias(MALFORMED))


# multiLine: a quoted field may hold line breaks (RFC 4180), so a record, not a line, is a row and rows_in counts
# records. Spark then reads each file as one stream (a .gz file is not splittable anyway).
CSV_OPTIONS = {"header": True, "multiLine": True}


def read_csv_file(spark: SparkSession, path: str) -> DataFrame | None:
    """One CSV file's rows, its columns mapped by its own header (strings, no inference); None for a file
    without a header line (nothing to read). Raises JobInputError naming the file when a column is missing."""
    header = spark.read.csv(path, **CSV_OPTIONS).columns
    if not header:
        return None
    missing = [name for name in RAW_COLUMNS if name not in header]
    if missing:
        raise JobInputError(f"CSV input lacks columns {missing}; header has {header} ({path})")
    # The file's own header gives its schema, so files listing the columns in different orders all land right;
    # extra columns are read and dropped. A line with too few or too many fields lands in the corrupt-record
    # column instead of being padded with nulls or silently cut.
    schema = _with_corrupt_record(StructType([StructField(name, StringType(), True) for name in header]))
    return spark.read.schema(schema).csv(path, enforceSchema=False, mode="PERMISSIVE",
                                         columnNameOfCorruptRecord=CORRUPT_RECORD, **CSV_OPTIONS)


def read_raw(spark: SparkSession, files: InputFiles) -> DataFrame:
    """All five columns as strings, whatever the source format, plus MALFORMED (the record could not be read).
    A CSV file without a header line moves from files.csv to files.skipped (reason "empty")."""
    frames = []
    for path in list(files.csv):
        frame = read_csv_file(spark, path)
        if frame is None:
            files.csv.remove(path)
            files.skipped.append({"path": path, "reason": "empty"})
        else:
            frames.append(_raw_columns(frame))
    if files.json:
        # A string schema keeps JSON numbers as their text, so "12.50" and 12.50 cleanse the same way.
        json_lines = spark.read.schema(_with_corrupt_record(RAW_SCHEMA)).json(
            files.json, mode="PERMISSIVE", columnNameOfCorruptRecord=CORRUPT_RECORD)
        frames.append(_raw_columns(json_lines))
    if not frames:
        raise JobInputError(f"no input for the day: every file is empty; skipped: {files.skipped}")
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
    )

    reason = (
        F.when(F.col(MALFORMED), "malformed_record")
        .when(F.col("_copy") > 1, "duplicate")
        .when(_is_blank(F.col("_t_card_id")), "missing_card_id")
        .when(F.col("_card_id").isNull(), "bad_card_id")
        .when(_is_blank(F.col("_t_customer_id")), "missing_customer_id")
        .when(F.col("_customer_id").isNull(), "bad_customer_id")
        .when(~_is_blank(F.col("_t_product_id")) & F.col("_product_id").isNull(), "bad_product_id")
        .when(F.col("_price").isNull() | (F.col("_price") < 0), "bad_price")
        .when(F.col(PRICE_TEXT).rlike(r"\.[0-9]{2}0*[1-9]"), "price_scale_exceeded")
        .when(F.col("_timestamp").isNull(), "bad_timestamp")
        .when(F.to_date(F.col("_timestamp")) != F.lit(run_date).cast("date"), "timestamp_outside_run_date")
    )
    return typed.withColumn("reject_reason", reason).drop(PRICE_TEXT)


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


def build_manifest(run_date: str, rows_in: int, reason_counts: dict, source_files: list[str],
                   skipped_files: list[dict] | None = None) -> dict:
    """The day's reconciliation; fails loudly if a row was lost or double counted.
    source_files: the files read; skipped_files: [{"path", "reason"}] of the files not read (empty ones)."""
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
        "skipped_files": list(skipped_files or []),
    }


def check_reject_share(manifest: dict, max_reject_share: float | None) -> None:
    """Raise RejectThresholdExceeded when rows_rejected / rows_in passes max_reject_share (None: no limit);
    the message names the counts and the three most frequent reasons."""
    rows_in, rejected = manifest["rows_in"], manifest["rows_rejected"]
    if max_reject_share is None or rows_in == 0 or rejected / rows_in <= max_reject_share:
        return
    top = sorted(manifest["rejected_by_reason"].items(), key=lambda item: (-item[1], item[0]))[:3]
    raise RejectThresholdExceeded(
        f"{manifest['run_date']}: {rejected} of {rows_in} rows rejected ({rejected / rows_in:.1%}), more than "
        f"max_reject_share {max_reject_share:.1%}; top reasons: "
        + ", ".join(f"{reason} {count}" for reason, count in top)
        + "; nothing was written, the day's processed data is as the last good run left it")


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
    files = list_input_files(spark, day_path)

    processed_day = day_partition(args["processed_path"], run_date)
    rejected_day = f"{folder(args['rejected_path'])}dt={run_date}/"
    # Cached after classification, keeping per row only what its output needs: the reason counts and the two
    # writes read it instead of parsing and shuffling the day again.
    classified = only_output_columns(classify(read_raw(spark, files), run_date)).cache()
    try:
        rows_in = classified.count()
        # One aggregation gives the good rows (reason null) and every reject reason at once.
        reason_counts = {row["reject_reason"]: row["count"]
                         for row in classified.groupBy("reject_reason").count().collect()}
        manifest = build_manifest(run_date, rows_in, reason_counts, files.read, files.skipped)
        max_share = args.get("max_reject_share")
        check_reject_share(manifest, None if max_share is None else float(max_share))
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
