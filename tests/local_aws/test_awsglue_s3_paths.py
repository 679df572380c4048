"""Any s3:// path a Glue job names is readable and writable, not only the arguments the runner staged; and a
staged argument holding a partitioned prefix reads whole (the issue's `--input s3://bucket/processed/sales/`, which
read empty placeholders and failed with UNABLE_TO_INFER_SCHEMA).

AWS Glue jobs read and write S3 through EMRFS: "s3://" paths work in every Spark reader and writer (AWS Glue
developer guide, "Data format options for inputs and outputs in AWS Glue for Spark"; Spark's save modes as the
PySpark 3.5 DataFrameWriter.mode documents them). One job run covers it all, since each run starts Spark.
"""

from __future__ import annotations

import io
import json

import pyarrow.parquet as pq
import pytest

from tests.local_aws.test_glue_jobs import Jobs


@pytest.fixture(scope="module")
def jobs(local_aws) -> Jobs:
    return Jobs(local_aws)


@pytest.fixture(autouse=True)
def cold_runs(monkeypatch):
    monkeypatch.setenv("LOCAL_AWS_GLUE_WARM_DRIVERS", "0")


S3_PATHS_JOB = """
import json, sys
from pyspark.sql import SparkSession, functions as F

args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
bucket = args["--bucket"]  # a plain name: nothing below is a staged argument
spark = SparkSession.builder.getOrCreate()
# The same prefix as a staged argument first: staged lazily (no partition is in the run's scope), it reads whole
given = spark.read.parquet(args["--input"]).count()
sales = spark.read.parquet(f"s3://{bucket}/processed/sales/")  # year=/month= partitions, discovered by Spark
totals = sales.groupBy("year", "month").agg(F.sum("price").alias("revenue"), F.count("*").alias("n"))
totals.write.partitionBy("year").parquet(f"s3://{bucket}/aggregated/monthly/")
# errorifexists (the default) fails on a prefix that holds objects, as on AWS
try:
    totals.write.parquet(f"s3://{bucket}/aggregated/monthly/")
    refused = None
except Exception as exc:
    refused = type(exc).__name__
spark.createDataFrame([(1,)], "x int").write.mode("overwrite").json(f"s3://{bucket}/replaced/")
spark.createDataFrame([(2,)], "x int").coalesce(1).write.mode("append").csv(f"s3://{bucket}/appended/")
csv_rows = spark.read.csv(f"s3://{bucket}/raw/*/part.csv", header=True).count()  # a glob
lines = spark.sparkContext.textFile(f"s3://{bucket}/raw/a/part.csv").count()
spark.createDataFrame([(json.dumps({"refused": refused, "csv_rows": csv_rows, "lines": lines, "given": given}),)],
                      "v string") \\
    .coalesce(1).write.text(f"s3://{bucket}/report/")
"""


def _parquet(jobs: Jobs, **columns) -> bytes:
    import pyarrow as pa

    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink)
    return sink.getvalue()


@pytest.mark.spark
def test_a_job_reads_a_partitioned_prefix_it_was_not_given_and_writes_another(jobs):
    jobs.put("processed/sales/year=2021/month=11/part-0.parquet", _parquet(jobs, price=[1.5, 2.5]))
    jobs.put("processed/sales/year=2021/month=12/part-0.parquet", _parquet(jobs, price=[10.0]))
    jobs.put("processed/sales/year=2022/month=1/part-0.parquet", _parquet(jobs, price=[4.0, 6.0, 1.0]))
    jobs.put("replaced/old.json", b'{"x": 0}\n')
    jobs.put("appended/old.csv", b"0\n")
    jobs.put("raw/a/part.csv", "id\n1\n2\n")
    jobs.put("raw/b/part.csv", "id\n3\n")
    job = jobs.create(S3_PATHS_JOB)
    run_id = jobs.glue.start_job_run(JobName=job, Arguments={
        "--bucket": jobs.bucket, "--input": f"s3://{jobs.bucket}/processed/sales/"})["JobRunId"]
    run = jobs.wait(job, run_id, timeout=300)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")

    written = [k for k in jobs.keys("aggregated/monthly/") if k.endswith(".parquet")]
    assert {k.split("/")[2] for k in written} == {"year=2021", "year=2022"}
    rows = {(k.split("/")[2], r["month"]): (r["revenue"], r["n"])
            for k in written for r in pq.read_table(io.BytesIO(jobs.read(k))).to_pylist()}
    assert rows == {("year=2021", 11): (4.0, 2), ("year=2021", 12): (10.0, 1), ("year=2022", 1): (11.0, 3)}
    # overwrite replaced the old object; append kept it
    assert "replaced/old.json" not in jobs.keys("replaced/") and any(
        k.endswith(".json") for k in jobs.keys("replaced/"))
    assert "appended/old.csv" in jobs.keys("appended/") and len(
        [k for k in jobs.keys("appended/") if k.endswith(".csv")]) == 2
    report_key = next(k for k in jobs.keys("report/") if k.endswith(".txt"))
    report = json.loads(jobs.read(report_key))
    assert report == {"refused": "AnalysisException", "csv_rows": 3, "lines": 3, "given": 6}
    assert jobs.read("processed/sales/year=2021/month=12/part-0.parquet")[:4] == b"PAR1"  # read, never rewritten
