"""A lab-style awsglue job on the local AWS after a raw crawl, with job bookmarks.

Follows the AWS Glue developer guide: "GlueContext class" (create_dynamic_frame.from_catalog with
push_down_predicate, write_dynamic_frame.from_options with partitionKeys), "ResolveChoice class", "ApplyMapping
class", "DropNullFields class", "Job class"/"Tracking processed data using job bookmarks" (a bookmarked run reads
only the S3 objects that are new since the last committed run; ResetJobBookmark makes the next run read all) and
the API reference "GetJobBookmark", "ResetJobBookmark" (JobBookmarkEntry). The job's numbers are checked against
an independent pandas computation of the same cleansing.

The three runs share one server and one warm-driver pool: each run's Spark starts while the previous one runs.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from tests.local_aws.test_glue_jobs import Jobs

SCRIPT = Path(__file__).resolve().parents[1] / "data" / "glue" / "lab_sales_job.py"
HEADER = "card_id,customer_id,price,product_id,timestamp,notes\n"
DAY_1 = HEADER + (
    "4111,17,12.50,P-1,2021-12-01 10:00:00,\n"
    "4112,n/a,$3.25,P-2,2021-12-01 11:30:00,\n"
    "4113,19,7,P-3,2021-12-01 23:59:59,\n"
)
DAY_2 = HEADER + (
    "4114,20,$100.00,P-1,2021-12-02 00:00:01,\n"
    "4115,21,0.75,P-4,2021-12-02 08:15:00,\n"
)
LATE = HEADER + "4116,22,$5.00,P-5,2021-12-02 20:00:00,\n"  # lands after the first run
OLDER = HEADER + "4000,1,1.00,P-0,2021-11-30 09:00:00,\n"  # pruned by push_down_predicate "dt >= '2021-12-01'"


@pytest.fixture(scope="module")
def jobs(local_aws) -> Jobs:
    return Jobs(local_aws)


@pytest.fixture(autouse=True)
def warm_driver(monkeypatch):
    monkeypatch.setenv("LOCAL_AWS_GLUE_WARM_DRIVERS", "1")


def _expected(raw_files: list[str]) -> pd.DataFrame:
    """The job's cleansing in pandas: per (year, month, day), rows, revenue and null customer ids."""
    frame = pd.concat([pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False) for text in raw_files])
    frame["price"] = frame["price"].str.replace("$", "", regex=False).astype(float)
    frame["customer_id"] = pd.to_numeric(frame["customer_id"], errors="coerce")
    ts = pd.to_datetime(frame["timestamp"])
    frame["year"], frame["month"], frame["day"] = ts.dt.year, ts.dt.month, ts.dt.day
    return (frame.groupby(["year", "month", "day"])
            .agg(rows=("price", "size"), revenue=("price", "sum"), null_customers=("customer_id",
                                                                                  lambda s: int(s.isna().sum())))
            .reset_index())


def _processed(jobs: Jobs, prefix: str) -> pd.DataFrame:
    parts = []
    for key in jobs.keys(prefix):
        if not key.endswith(".parquet"):
            continue
        table = pq.read_table(io.BytesIO(jobs.read(key))).to_pandas()
        for folder in key[len(prefix):].split("/")[:-1]:
            name, _, value = folder.partition("=")
            table[name] = int(value)
        parts.append(table)
    frame = pd.concat(parts)
    return frame


def _summary(frame: pd.DataFrame) -> pd.DataFrame:
    return (frame.groupby(["year", "month", "day"])
            .agg(rows=("price", "size"), revenue=("price", "sum"),
                 null_customers=("customer_id", lambda s: int(s.isna().sum())))
            .reset_index())


def _report(jobs: Jobs, prefix: str) -> dict:
    key = next(k for k in jobs.keys(prefix) if k.endswith(".txt"))
    return json.loads(jobs.read(key))


def _run(jobs: Jobs, job: str, arguments: dict) -> dict:
    run_id = jobs.glue.start_job_run(JobName=job, Arguments=arguments)["JobRunId"]
    run = jobs.wait(job, run_id, timeout=420)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    return run


@pytest.mark.spark
@pytest.mark.e2e
def test_lab_style_job_after_a_raw_crawl_and_its_bookmarks(jobs):
    database = f"sales_{uuid.uuid4().hex[:8]}"
    jobs.glue.create_database(DatabaseInput={"Name": database})
    jobs.put("raw/sales/dt=2021-11-30/sales.csv", OLDER)
    jobs.put("raw/sales/dt=2021-12-01/sales.csv", DAY_1)
    jobs.put("raw/sales/dt=2021-12-02/sales.csv", DAY_2)
    crawler = f"raw-{database}"
    jobs.glue.create_crawler(Name=crawler, Role="r", DatabaseName=database, TablePrefix="raw_",
                             Targets={"S3Targets": [{"Path": f"s3://{jobs.bucket}/raw/sales/"}]})
    jobs.glue.start_crawler(Name=crawler)
    deadline = time.monotonic() + 60
    while (state := jobs.glue.get_crawler(Name=crawler)["Crawler"])["State"] != "READY" or "LastCrawl" not in state:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert state["LastCrawl"]["Status"] == "SUCCEEDED", state["LastCrawl"]

    jobs.put("scripts/lab_sales_job.py", SCRIPT.read_bytes())
    job = f"lab-{uuid.uuid4().hex[:8]}"
    jobs.glue.create_job(
        Name=job, Role="arn:aws:iam::123456789012:role/glue", GlueVersion="5.0", WorkerType="G.1X",
        NumberOfWorkers=2, Command={"Name": "glueetl", "ScriptLocation": f"s3://{jobs.bucket}/scripts/lab_sales_job.py"},
        DefaultArguments={
            "--job-bookmark-option": "job-bookmark-enable", "--database": database, "--table": "raw_sales",
            "--processed_path": f"s3://{jobs.bucket}/processed/sales/", "--report_path": f"s3://{jobs.bucket}/report/",
        })
    with pytest.raises(ClientError) as none_yet:  # no run has committed a bookmark
        jobs.glue.get_job_bookmark(JobName=job)
    assert none_yet.value.response["Error"]["Code"] == "EntityNotFoundException"

    # Run 1: everything from 2021-12-01 on (the older day is pruned by the predicate, never read)
    run = _run(jobs, job, {})
    got = _summary(_processed(jobs, "processed/sales/"))
    pd.testing.assert_frame_equal(got.reset_index(drop=True), _expected([DAY_1, DAY_2]), check_dtype=False)
    report = _report(jobs, "report/")
    assert report["rows"] == 5
    # DropNullFields dropped notes (null in every record), ApplyMapping kept only the mapped fields
    assert report["fields"] == ["card_id", "customer_id", "price", "product_id", "timestamp"]
    assert run["WorkerType"] == "G.1X" and run["NumberOfWorkers"] == 2
    bookmark = jobs.glue.get_job_bookmark(JobName=job)["JobBookmarkEntry"]
    assert bookmark["JobName"] == job and bookmark["RunId"] == run["Id"] and bookmark["Version"] == 1
    assert sorted(json.loads(bookmark["JobBookmark"])["raw_sales"]) == [
        f"s3://{jobs.bucket}/raw/sales/dt=2021-12-01/sales.csv", f"s3://{jobs.bucket}/raw/sales/dt=2021-12-02/sales.csv"]

    # Run 2: one new object in a known partition; the bookmark makes the run read only it
    jobs.put("raw/sales/dt=2021-12-02/late.csv", LATE)
    _run(jobs, job, {})
    assert _report(jobs, "report/")["rows"] == 1
    got = _summary(_processed(jobs, "processed/sales/"))
    pd.testing.assert_frame_equal(got.reset_index(drop=True), _expected([DAY_1, DAY_2, LATE]), check_dtype=False)

    # Run 3 after ResetJobBookmark: everything again (the sink appends, as Glue's does: rows now twice)
    reset = jobs.glue.reset_job_bookmark(JobName=job)["JobBookmarkEntry"]
    assert json.loads(reset["JobBookmark"]) == {}
    _run(jobs, job, {"--processed_path": f"s3://{jobs.bucket}/processed/again/"})
    assert _report(jobs, "report/")["rows"] == 6
    got = _summary(_processed(jobs, "processed/again/"))
    pd.testing.assert_frame_equal(got.reset_index(drop=True), _expected([DAY_1, DAY_2, LATE]), check_dtype=False)
