"""The Glue sales job on the Glue 5.0 runtime: cleansing, rejects, layout, manifest and per-day idempotency.

The job runs where Glue 5.0 would run it: PySpark 3.5.4 on Python 3.11 (AWS Glue versions,
https://docs.aws.amazon.com/glue/latest/dg/release-notes.html), in a worker process on the ``.venv-glue5``
interpreter (``glue_runtime_session``), not on the dev venv's PySpark 4. Only the pure-Python helpers are called
in-process.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.spark

pyspark = pytest.importorskip("pyspark")

from glue_runtime_session import GlueRuntimeError, GlueRuntimeSession  # noqa: E402

from include.glue import sales_job  # noqa: E402
from include.loader.synthetic import generate_csv, generate_rows  # noqa: E402
from local_aws.gluejob import runtimes  # noqa: E402

DIRTY_SAMPLE = Path(__file__).parent / "data" / "sales_dirty"
RUN_DATE = "2024-01-05"
EXPECTED_REJECTS = {
    "malformed_record": 2,
    "duplicate": 3,
    "missing_card_id": 1,
    "bad_card_id": 1,
    "missing_customer_id": 1,
    "bad_customer_id": 1,
    "bad_product_id": 1,
    "bad_price": 3,
    "bad_timestamp": 2,
    "timestamp_outside_run_date": 2,
}


GLUE_RUNTIME = runtimes.RUNTIMES["5.0"]  # infra/cloudformation.json's GlueVersion


@pytest.fixture(scope="module")
def glue5(tmp_path_factory):
    """The sales job's runner on the Glue 5.0 runtime (missing environment: RuntimeNotInstalled naming
    `make glue-runtime`, never a fallback to the dev venv's Spark)."""
    session = GlueRuntimeSession(GLUE_RUNTIME.interpreter(), tmp_path_factory.mktemp("glue5-worker"))
    yield session
    session.close()


def test_the_job_runs_on_the_spark_and_python_of_glue_5(glue5):
    """Glue 5.0 is Spark 3.5.4 on Python 3.11 (https://docs.aws.amazon.com/glue/latest/dg/release-notes.html):
    the worker's JVM and Python say so, whatever the dev venv runs."""
    assert glue5.versions["pyspark"] == glue5.versions["spark"] == "3.5.4"
    assert glue5.versions["python"].startswith("3.11.")


def job_args(root: Path, run_date: str = RUN_DATE, *, file_scheme: bool = False) -> dict[str, str]:
    base = f"file://{root}" if file_scheme else str(root)
    return {
        "JOB_NAME": "test",
        "run_date": run_date,
        "raw_path": f"{base}/raw/sales/",
        "processed_path": f"{base}/processed/sales",  # no trailing slash on purpose
        "rejected_path": f"{base}/rejected/sales/",
        "manifest_path": f"{base}/manifests/sales/",
    }


def place_raw(root: Path, run_date: str, files: dict[str, bytes]) -> None:
    day = root / "raw" / "sales" / f"dt={run_date}"
    day.mkdir(parents=True, exist_ok=True)
    for name, body in files.items():
        (day / name).write_bytes(body)


def read_parquet_folder(folder: Path):
    files = sorted(folder.glob("*.parquet"))
    assert files, f"no parquet files in {folder}"
    # partitioning=None: the schema of the files themselves, not columns guessed from the hive-style path.
    return pq.ParquetDataset([str(f) for f in files], partitioning=None).read()


@pytest.fixture(scope="module")
def dirty_run(glue5, tmp_path_factory):
    root = tmp_path_factory.mktemp("lake")
    place_raw(root, RUN_DATE, {p.name: p.read_bytes() for p in DIRTY_SAMPLE.glob("sales.*")})
    manifest = glue5.run_sales_job(job_args(root))
    return root, manifest


def test_manifest_reconciles_every_reason(dirty_run):
    root, manifest = dirty_run
    assert manifest["rows_in"] == 23
    assert manifest["rows_out"] == 6
    assert manifest["rows_rejected"] == 17
    assert manifest["rejected_by_reason"] == EXPECTED_REJECTS
    assert manifest["rows_in"] == manifest["rows_out"] + manifest["rows_rejected"]
    assert [Path(f).name for f in manifest["source_files"]] == ["sales.csv", "sales.jsonl"]
    assert manifest["skipped_files"] == []
    on_disk = json.loads((root / "manifests" / "sales" / f"dt={RUN_DATE}.json").read_text())
    assert on_disk == manifest


def test_processed_partition_schema_and_values(dirty_run):
    root, _ = dirty_run
    processed = root / "processed" / "sales"
    partitions = sorted(p.relative_to(processed) for p in processed.glob("*/*/*"))
    assert partitions == [Path("year=2024/month=1/day=5")]
    table = read_parquet_folder(root / "processed" / "sales" / "year=2024" / "month=1" / "day=5")
    assert [(f.name, str(f.type)) for f in table.schema] == [
        ("card_id", "int64"),
        ("customer_id", "int64"),
        ("price", "decimal128(10, 2)"),
        ("product_id", "int64"),
        ("timestamp", "timestamp[us, tz=UTC]"),  # TIMESTAMP_MICROS, UTC-adjusted
    ]
    rows = sorted(table.to_pylist(), key=lambda r: r["card_id"])
    by_card = {r["card_id"]: r for r in rows}
    assert set(by_card) == {
        4000000000000001, 4000000000000002, 4000000000000003, 4000000000000004, 4000000000000101, 4000000000000102,
    }
    assert by_card[4000000000000002]["customer_id"] == 100002  # whitespace trimmed
    assert by_card[4000000000000002]["price"] == Decimal("7.99")  # "$" stripped
    assert by_card[4000000000000003]["price"] == Decimal("1200.00")
    assert by_card[4000000000000003]["product_id"] is None  # empty product id is allowed
    assert by_card[4000000000000101]["price"] == Decimal("19.99")
    assert by_card[4000000000000102]["price"] == Decimal("2.50")  # JSON number read as text
    stamp = by_card[4000000000000002]["timestamp"]
    assert stamp.replace(tzinfo=None) == dt.datetime(2024, 1, 5, 23, 59, 59)  # trimmed, no zone shift
    assert by_card[4000000000000003]["timestamp"].replace(tzinfo=None) == dt.datetime(2024, 1, 5, 0, 0, 0)


def test_rejected_rows_keep_raw_strings_and_reason(dirty_run):
    root, _ = dirty_run
    table = read_parquet_folder(root / "rejected" / "sales" / f"dt={RUN_DATE}")
    assert table.column_names == ["card_id", "customer_id", "price", "product_id", "timestamp", "reject_reason"]
    assert all(str(t) == "string" for t in table.schema.types)
    rows = table.to_pylist()
    reasons = {}
    for row in rows:
        reasons[row["reject_reason"]] = reasons.get(row["reject_reason"], 0) + 1
    assert reasons == EXPECTED_REJECTS
    by_reason = {(r["reject_reason"], r["card_id"]) for r in rows}
    assert ("bad_card_id", "4000-0005") in by_reason
    assert ("malformed_record", "4000000000000015") in by_reason  # a sixth field: kept as read, not cut
    assert ("malformed_record", None) in by_reason  # a JSON line that does not parse
    assert ("bad_price", "4000000000000011") in by_reason  # negative
    assert ("timestamp_outside_run_date", "4000000000000014") in by_reason
    assert ("timestamp_outside_run_date", "4000000000000103") in by_reason
    assert {r["card_id"] for r in rows if r["reject_reason"] == "duplicate"} == {"4000000000000004"}


def test_rerun_replaces_only_its_day(glue5, tmp_path):
    place_raw(tmp_path, RUN_DATE, {p.name: p.read_bytes() for p in DIRTY_SAMPLE.glob("sales.*")})
    other_day = "2024-01-06"
    other_csv = b"card_id,customer_id,price,product_id,timestamp\n1,2,3.00,4,2024-01-06 10:00:00\n"
    place_raw(tmp_path, other_day, {"sales.csv": other_csv})
    glue5.run_sales_job(job_args(tmp_path, other_day, file_scheme=True))
    other_partition = tmp_path / "processed" / "sales" / "year=2024" / "month=1" / "day=6"
    other_before = {p.name: p.read_bytes() for p in other_partition.iterdir()}

    first = glue5.run_sales_job(job_args(tmp_path, file_scheme=True))
    day = tmp_path / "processed" / "sales" / "year=2024" / "month=1" / "day=5"
    rows_first = sorted(read_parquet_folder(day).to_pylist(), key=lambda r: r["card_id"])
    second = glue5.run_sales_job(job_args(tmp_path, file_scheme=True))
    rows_second = sorted(read_parquet_folder(day).to_pylist(), key=lambda r: r["card_id"])

    assert first == second
    assert rows_first == rows_second and len(rows_second) == 6
    assert read_parquet_folder(tmp_path / "rejected" / "sales" / f"dt={RUN_DATE}").num_rows == 17
    assert {p.name: p.read_bytes() for p in other_partition.iterdir()} == other_before


def test_all_rows_rejected_gives_empty_partition(glue5, tmp_path):
    place_raw(tmp_path, RUN_DATE, {"sales.csv": b"card_id,customer_id,price,product_id,timestamp\n,1,1.00,1,bad\n"})
    manifest = glue5.run_sales_job(job_args(tmp_path))
    assert (manifest["rows_in"], manifest["rows_out"], manifest["rows_rejected"]) == (1, 0, 1)
    table = read_parquet_folder(tmp_path / "processed" / "sales" / "year=2024" / "month=1" / "day=5")
    assert table.num_rows == 0
    assert table.column_names == ["card_id", "customer_id", "price", "product_id", "timestamp"]


def test_missing_day_fails_naming_the_path(glue5, tmp_path):
    with pytest.raises(sales_job.JobInputError, match=r"dt=2024-01-05"):
        glue5.run_sales_job(job_args(tmp_path))
    place_raw(tmp_path, RUN_DATE, {"empty.csv": b""})
    with pytest.raises(sales_job.JobInputError, match=r"no \*\.csv.*dt=2024-01-05.*empty\.csv"):
        glue5.run_sales_job(job_args(tmp_path))


def test_a_file_the_job_cannot_read_fails_the_day_naming_every_such_file(glue5, tmp_path):
    """Glue reads bzip and gzip CSV/JSON (Using the CSV format in AWS Glue,
    https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-etl-format-csv-home.html); anything else
    beside good input fails the job by name rather than vanishing from the day."""
    good = b"card_id,customer_id,price,product_id,timestamp\n1,2,3.00,4,2024-01-05 10:00:00\n"
    place_raw(tmp_path, RUN_DATE, {"a.csv": good, "notes.txt": b"not sales", "b.csv.zst": b"\x28\xb5\x2f\xfd"})
    with pytest.raises(sales_job.JobInputError, match=r"2 file\(s\).*b\.csv\.zst.*notes\.txt"):
        glue5.run_sales_job(job_args(tmp_path))


def test_input_format_follows_the_name_and_one_codec_suffix():
    assert [sales_job.input_format(n) for n in ("a.csv", "A.CSV.gz", "b.jsonl.bz2", "c.JSON", "d.csv.zip",
                                                  "e.gz", "f.csv.gz.gz", "g.txt", "h.csv.GZ")] == [
        "csv", "csv", "json", "json", None, None, None, None, None]


def test_csv_without_required_columns_is_rejected_clearly(glue5, tmp_path):
    place_raw(tmp_path, RUN_DATE, {"sales.csv": b"card,customer\n1,2\n"})
    with pytest.raises(sales_job.JobInputError, match="lacks columns"):
        glue5.run_sales_job(job_args(tmp_path))


def test_arguments_ignore_glue_flags_and_check_the_date():
    argv = ["sales_job.py", "--JOB_NAME", "j", "--job-bookmark-option", "job-bookmark-disable", "--enable-metrics",
            "true", "--TempDir", "s3://t/", "--job-language", "python", "--run_date", "2024-01-05",
            "--raw_path", "r/", "--processed_path", "p/", "--rejected_path", "x/", "--manifest_path", "m/"]
    args = sales_job.parse_arguments(argv)
    assert args == {"JOB_NAME": "j", "run_date": "2024-01-05", "raw_path": "r/", "processed_path": "p/",
                    "rejected_path": "x/", "manifest_path": "m/"}
    bad = [a if a != "2024-01-05" else "2024-1-5" for a in argv]
    with pytest.raises(sales_job.JobInputError, match="run_date"):
        sales_job.parse_arguments(bad)
    with pytest.raises(SystemExit):
        sales_job.parse_arguments(["sales_job.py", "--JOB_NAME", "j"])


def test_day_partition_has_no_leading_zeros():
    assert sales_job.day_partition("s3://lake/processed/sales/", "2024-03-07") == (
        "s3://lake/processed/sales/year=2024/month=3/day=7/"
    )


def test_loader_output_through_the_job(glue5, tmp_path):
    day = dt.date(2024, 2, 29)
    shapes = [shape for _row, shape in generate_rows(day, 2000)]
    place_raw(tmp_path, day.isoformat(), {"sales.csv": generate_csv(day, 2000)})
    manifest = glue5.run_sales_job(job_args(tmp_path, day.isoformat()))

    assert manifest["rows_in"] == 2000
    assert manifest["rows_in"] == manifest["rows_out"] + manifest["rows_rejected"]
    expected = {
        "bad_price": shapes.count("empty_price"),
        "bad_timestamp": shapes.count("bad_timestamp"),
        "missing_customer_id": shapes.count("missing_customer_id"),
        "duplicate": shapes.count("duplicate"),
    }
    assert all(expected.values()), expected  # every dirty shape is present in this day
    assert manifest["rejected_by_reason"] == expected
    # "$" prices are cleansable: they are in the output, not in the rejects.
    assert manifest["rows_out"] == shapes.count("clean") + shapes.count("dollar_price")
    processed = read_parquet_folder(tmp_path / "processed" / "sales" / "year=2024" / "month=2" / "day=29")
    assert processed.num_rows == manifest["rows_out"]


def test_manifest_goes_to_s3_through_boto3(monkeypatch):
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    manifest = {"run_date": RUN_DATE, "rows_in": 1, "rows_out": 1, "rows_rejected": 0, "rejected_by_reason": {}}
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="lake")
        target = sales_job.write_manifest(manifest, "s3://lake/manifests/sales", RUN_DATE)
        assert target == "s3://lake/manifests/sales/dt=2024-01-05.json"
        body = s3.get_object(Bucket="lake", Key="manifests/sales/dt=2024-01-05.json")["Body"].read()
    assert json.loads(body) == manifest
    with pytest.raises(sales_job.JobInputError, match="scheme"):
        sales_job.write_manifest(manifest, "gs://lake/manifests/", RUN_DATE)


def test_build_manifest_fails_loudly_when_rows_do_not_reconcile():
    with pytest.raises(AssertionError, match="rows_in=5"):
        sales_job.build_manifest(RUN_DATE, 5, {None: 3, "bad_price": 1}, [])



def test_csv_columns_are_taken_by_each_files_own_header(glue5, tmp_path):
    place_raw(tmp_path, RUN_DATE, {"a.csv": b"timestamp,price,product_id,customer_id,card_id\n"
                                            b"2024-01-05 10:00:00,$2.00,7,11,1\n"})
    manifest = glue5.run_sales_job(job_args(tmp_path))
    assert manifest["rows_out"] == 1
    row = read_parquet_folder(tmp_path / "processed" / "sales" / "year=2024" / "month=1" / "day=5").to_pylist()[0]
    assert (row["card_id"], row["customer_id"], row["product_id"], row["price"]) == (1, 11, 7, Decimal("2.00"))
    # A second file in another column order (and with an extra column) is mapped by its own header.
    place_raw(tmp_path, RUN_DATE, {"b.csv": b"card_id,customer_id,note,price,product_id,timestamp\n"
                                            b"2,12,hi,3.00,8,2024-01-05 11:00:00\n"})
    manifest = glue5.run_sales_job(job_args(tmp_path))
    assert manifest["rows_out"] == 2
    rows = read_parquet_folder(tmp_path / "processed" / "sales" / "year=2024" / "month=1" / "day=5").to_pylist()
    assert sorted((r["card_id"], r["customer_id"], r["product_id"], r["price"]) for r in rows) == [
        (1, 11, 7, Decimal("2.00")), (2, 12, 8, Decimal("3.00"))]


def test_the_first_copy_in_input_order_is_kept_across_files(glue5, tmp_path):
    # Copies differ only in whitespace, so the rejected raw strings show which copy was kept. CSV rows come
    # before JSON rows in input order; within a file, line order counts.
    csv = (b"card_id,customer_id,price,product_id,timestamp\n"
           b"1, 2,3.00,4,2024-01-05 10:00:00\n"
           b"5,6,1.00,7,2024-01-05 11:00:00\n"
           b"1,2,3.00,4,2024-01-05 10:00:00\n")
    jsonl = (b'{"card_id": "5", "customer_id": "6", "price": "1.00", "product_id": "7", '
             b'"timestamp": " 2024-01-05 11:00:00"}\n'
             b'{"card_id": "9", "customer_id": "9", "price": "9.00", "product_id": "9", '
             b'"timestamp": "2024-01-05 12:00:00 "}\n'
             b'{"card_id": "9", "customer_id": "9", "price": "9.00", "product_id": "9", '
             b'"timestamp": "2024-01-05 12:00:00"}\n')
    place_raw(tmp_path, RUN_DATE, {"sales.csv": csv, "sales.jsonl": jsonl})
    manifest = glue5.run_sales_job(job_args(tmp_path))
    assert (manifest["rows_out"], manifest["rejected_by_reason"]) == (3, {"duplicate": 3})
    rejected = read_parquet_folder(tmp_path / "rejected" / "sales" / f"dt={RUN_DATE}").to_pylist()
    assert sorted((r["card_id"], r["customer_id"], r["timestamp"]) for r in rejected) == [
        ("1", "2", "2024-01-05 10:00:00"),
        ("5", "6", " 2024-01-05 11:00:00"),
        ("9", "9", "2024-01-05 12:00:00"),
    ]
    processed = read_parquet_folder(tmp_path / "processed" / "sales" / "year=2024" / "month=1" / "day=5")
    assert sorted(r["card_id"] for r in processed.to_pylist()) == [1, 5, 9]


def test_check_landed_fails_loudly_when_the_written_rows_differ():
    manifest = {"run_date": RUN_DATE, "rows_in": 5, "rows_out": 3, "rows_rejected": 2}
    sales_job.check_landed(manifest, 3, 2)
    with pytest.raises(AssertionError, match="rows_out=3 vs 2 landed"):
        sales_job.check_landed(manifest, 2, 2)

@pytest.mark.e2e
def test_script_runs_as_a_glue_style_command(tmp_path):
    """The script as Glue 5.0 starts it: its interpreter, `--name=value` arguments among Glue's own flags."""
    place_raw(tmp_path, RUN_DATE, {p.name: p.read_bytes() for p in DIRTY_SAMPLE.glob("sales.*")})
    glue_flags = ["--job-bookmark-option", "job-bookmark-disable", "--enable-metrics", "true",
                  "--TempDir", "s3://tmp/", "--job-language", "python"]
    args = [f"--{name}={value}" for name, value in job_args(tmp_path, file_scheme=True).items()]
    result = subprocess.run(
        [GLUE_RUNTIME.interpreter(), sales_job.__file__, *glue_flags, *args],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = json.loads(result.stdout.strip().splitlines()[-1])
    assert manifest["rejected_by_reason"] == EXPECTED_REJECTS
    day = tmp_path / "processed" / "sales" / "year=2024" / "month=1" / "day=5"
    assert not (day / "_SUCCESS").exists()
    assert read_parquet_folder(day).num_rows == 6


@pytest.fixture(autouse=True)
def _no_leftover_warehouse():
    yield
    shutil.rmtree("spark-warehouse", ignore_errors=True)


def test_a_price_with_more_than_two_decimals_is_rejected_not_rounded(glue5, tmp_path):
    """decimal(10,2) would round 12.505 to 12.51: a silent change of value, so the row is rejected instead;
    12.500 is the same value as 12.50 and kept."""
    csv = (b"card_id,customer_id,price,product_id,timestamp\n"
           b"1,2,12.505,4,2024-01-05 10:00:00\n"
           b"2,2,$12.999,4,2024-01-05 10:00:01\n"
           b"3,2,12.500,4,2024-01-05 10:00:02\n"
           b"4,2,-1.005,4,2024-01-05 10:00:03\n")
    place_raw(tmp_path, RUN_DATE, {"sales.csv": csv})
    manifest = glue5.run_sales_job(job_args(tmp_path))
    assert manifest["rejected_by_reason"] == {"bad_price": 1, "price_scale_exceeded": 2}
    rows = read_parquet_folder(tmp_path / "processed" / "sales" / "year=2024" / "month=1" / "day=5").to_pylist()
    assert [(r["card_id"], r["price"]) for r in rows] == [(3, Decimal("12.50"))]


def test_too_many_rejects_fail_before_anything_is_written(glue5, tmp_path):
    csv = (b"card_id,customer_id,price,product_id,timestamp\n"
           b"1,2,1.00,4,2024-01-05T10:00:00\n"
           b"2,2,1.00,4,2024-01-05T10:00:01\n"
           b"3,2,1.00,4,2024-01-05 10:00:02\n"
           b"4,2,1.00,4,2024-01-05 10:00:03\n")
    place_raw(tmp_path, RUN_DATE, {"sales.csv": csv})
    args = {**job_args(tmp_path), "max_reject_share": "0.5"}
    assert glue5.run_sales_job(args)["rows_rejected"] == 2  # 50% is not more than 50%
    manifest_file = tmp_path / "manifests" / "sales" / f"dt={RUN_DATE}.json"
    before = manifest_file.read_bytes()
    place_raw(tmp_path, RUN_DATE, {"sales.csv": csv.replace(b"3,2,1.00,4,2024-01-05 10:00:02",
                                                             b"3,2,1.00,4,2024-01-05T10:00:02")})
    expected = r"RejectThresholdExceeded: 2024-01-05: 3 of 4 rows rejected"
    expected += r" \(75\.0%\).*50\.0%.*reasons: bad_timestamp 3;"
    with pytest.raises(GlueRuntimeError, match=expected):
        glue5.run_sales_job(args)
    assert manifest_file.read_bytes() == before
    with pytest.raises(sales_job.JobInputError, match="max_reject_share"):
        sales_job.parse_arguments(["job", *[f"--{k}={v}" for k, v in {**args, "max_reject_share": "2"}.items()]])
