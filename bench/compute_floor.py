"""(c) of the overhead comparison: the day's compute with no orchestration at all.

- loader: the synthetic day generated in this process (what the Lambda computes, without the upload);
- glue: the Glue script in a fresh Python process with local Spark, on local copies of the day's raw files, with
  the same runtime (the job's GlueVersion's interpreter and PySpark) and Spark settings the local Glue runner uses;
  Spark's start-up is reported apart from the job itself;
- sql: every Redshift stage's statements straight on the warehouse engine (DuckDB through our Redshift
  translator), one transaction per stage as the Data API batches run them, reading the lake's processed Parquet.

Run against the same day the DAG already processed, so the lake holds the same inputs.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.sql import redshift_stages
from pipeline_tools.airflow_env import REPO

GLUE_SCRIPT = REPO / "include" / "glue" / "sales_job.py"
GLUE_VERSION = "5.0"  # infra/cloudformation.json's

# Runs in the child: Spark start and the job timed apart, the manifest printed last.
_GLUE_DRIVER = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from pyspark.sql import SparkSession
import sales_job
args = json.loads(sys.argv[2])
t0 = time.perf_counter()
spark = SparkSession.builder.appName("compute-floor").getOrCreate()
t1 = time.perf_counter()
manifest = sales_job.run(spark, args)
t2 = time.perf_counter()
spark.stop()
print(json.dumps({"spark_start": t1 - t0, "job": t2 - t1, "manifest": manifest}))
"""


@dataclass
class FloorTiming:
    loader_seconds: float
    spark_start_seconds: float
    glue_job_seconds: float
    sql_seconds: dict[str, float] = field(default_factory=dict)
    rows_out: int = 0

    @property
    def total_seconds(self) -> float:
        return self.loader_seconds + self.spark_start_seconds + self.glue_job_seconds + sum(self.sql_seconds.values())


def _time_loader(day: str, rows: int) -> float:
    from include.loader.synthetic import generate_csv

    started = time.perf_counter()
    generate_csv(dt.date.fromisoformat(day), rows)
    return time.perf_counter() - started


def _stage_raw_day(bucket: str, day: str, target: Path) -> None:
    from local_aws import s3io

    prefix = f"raw/sales/dt={day}/"
    keys = s3io.list_keys(bucket, prefix)
    if not keys:
        raise RuntimeError(f"no raw files for {day} in s3://{bucket}/{prefix}: run the DAG for the day first")
    folder = target / f"dt={day}"
    folder.mkdir(parents=True, exist_ok=True)
    for key in keys:
        (folder / key.rsplit("/", 1)[-1]).write_bytes(s3io.get_bytes(bucket, key))


def _time_glue(day: str, workdir: Path, bucket: str) -> tuple[float, float, int]:
    from local_aws.gluejob import runtimes
    from local_aws.gluejob.runner import SPARK_SUBMIT_ARGS

    python = runtimes.RUNTIMES[GLUE_VERSION].interpreter()

    raw = workdir / "raw"
    _stage_raw_day(bucket, day, raw)
    args = {"JOB_NAME": "compute-floor", "run_date": day, "raw_path": str(raw),
            "processed_path": str(workdir / "processed"), "rejected_path": str(workdir / "rejected"),
            "manifest_path": str(workdir / "manifests")}
    env = {**os.environ, "PYSPARK_SUBMIT_ARGS": SPARK_SUBMIT_ARGS, "PYSPARK_PYTHON": python,
           "SPARK_LOCAL_IP": "127.0.0.1"}
    out = subprocess.run([python, "-c", _GLUE_DRIVER, str(GLUE_SCRIPT.parent), json.dumps(args)],
                         env=env, capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"the Glue script failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["spark_start"], result["job"], result["manifest"]["rows_out"]


def _time_sql(day: str, outputs: dict, rows: int, workdir: Path) -> dict[str, float]:
    from local_aws.redshift.engine import Database

    database = Database("compute-floor", "dev", workdir / "warehouse.duckdb")
    connection = database.cursor()
    seconds = {}
    try:
        for stage, statements in redshift_stages(day, outputs, rows).items():
            started = time.perf_counter()
            connection.begin()
            for statement in statements:
                connection.run(statement)
            connection.commit()
            seconds[stage] = time.perf_counter() - started
    finally:
        connection.close()
        database.close()
    return seconds


def measure(stack, day: str, rows: int) -> FloorTiming:
    """The floor for a day the stack's lake already holds (raw and processed)."""
    workdir = stack.workdir / f"compute-floor-{day}"
    workdir.mkdir(parents=True, exist_ok=True)
    loader = _time_loader(day, rows)
    spark_start, job, rows_out = _time_glue(day, workdir, stack.outputs["DataLakeBucket"])
    sql = _time_sql(day, stack.outputs, rows, workdir)
    return FloorTiming(loader, spark_start, job, sql, rows_out)
