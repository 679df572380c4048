"""Glue job runs on the local AWS: scripts run in their own process on their GlueVersion's Spark and Python,
s3:// arguments staged and synced."""

from __future__ import annotations

import io
import json
import sys
import textwrap
import time
import uuid
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from local_aws.gluejob.runner import error_from_log

REPO = Path(__file__).resolve().parents[2]


def client(aws, service: str):
    return boto3.client(service, endpoint_url=aws.endpoint_url, region_name="us-east-1")


@pytest.fixture(scope="session")
def aws(local_aws):
    """The suite's shared local AWS (tests/conftest.py)."""
    return local_aws


class Jobs:
    def __init__(self, aws):
        self.aws = aws
        self.s3, self.glue = client(aws, "s3"), client(aws, "glue")
        self.bucket = f"jobs-{uuid.uuid4().hex[:8]}"
        self.s3.create_bucket(Bucket=self.bucket)

    def put(self, key: str, body: bytes | str) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body.encode() if isinstance(body, str) else body)

    def keys(self, prefix: str) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for o in listing.get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def create(self, script: str, default_arguments: dict | None = None, max_concurrent: int = 1,
               timeout: int = 10) -> str:
        name = f"job-{uuid.uuid4().hex[:8]}"
        self.put(f"scripts/{name}.py", textwrap.dedent(script))
        self.glue.create_job(
            Name=name, Role="arn:aws:iam::123456789012:role/glue", GlueVersion="5.0",
            Command={"Name": "glueetl", "ScriptLocation": f"s3://{self.bucket}/scripts/{name}.py",
                     "PythonVersion": "3"},
            DefaultArguments=default_arguments or {}, ExecutionProperty={"MaxConcurrentRuns": max_concurrent},
            Timeout=timeout, WorkerType="G.1X", NumberOfWorkers=2,
        )
        return name

    def wait(self, job: str, run_id: str, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            run = self.glue.get_job_run(JobName=job, RunId=run_id)["JobRun"]
            if run["JobRunState"] not in ("STARTING", "RUNNING", "STOPPING", "WAITING"):
                return run
            assert time.monotonic() < deadline, f"run still {run['JobRunState']}"
            time.sleep(0.1)

    def wait_running(self, job: str, run_id: str) -> None:
        deadline = time.monotonic() + 30
        while self.glue.get_job_run(JobName=job, RunId=run_id)["JobRun"]["JobRunState"] != "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.05)


@pytest.fixture(scope="module")
def jobs(aws) -> Jobs:
    return Jobs(aws)


@pytest.fixture(autouse=True)
def cold_runs_unless_asked(monkeypatch):
    """Most scripts here never start Spark: a warm driver (a JVM start-up) would only slow them down. Tests of
    the warm drivers ask for them with ``warm_pool_enabled``; the rest cover the cold path."""
    monkeypatch.setenv("LOCAL_AWS_GLUE_WARM_DRIVERS", "0")


@pytest.fixture()
def warm_pool_enabled(monkeypatch):
    monkeypatch.setenv("LOCAL_AWS_GLUE_WARM_DRIVERS", "1")


SLEEPER = "import time\ntime.sleep(60)\n"


def test_failing_script_ends_failed_with_its_exception(jobs):
    job = jobs.create("""
        import sys
        args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
        print("checking the day")
        raise ValueError("no rows for " + args["--run_date"] + " under " + args["--raw_path"])
    """, default_arguments={"--raw_path": f"s3://{jobs.bucket}/raw/"})
    run_id = jobs.glue.start_job_run(JobName=job, Arguments={"--run_date": "2021-12-01"})["JobRunId"]
    run = jobs.wait(job, run_id)
    assert run["JobRunState"] == "FAILED"
    # the staged local path is reported as the S3 URI the job was given
    assert run["ErrorMessage"].startswith(f"ValueError: no rows for 2021-12-01 under s3://{jobs.bucket}/raw/ ")
    log_path = Path(run["ErrorMessage"].split("(driver log: ")[1].rstrip(")"))
    assert log_path.name == "driver.log" and log_path.parent.name == run_id
    # stderr is the error log, beside the driver log (stdout), as Glue splits them ("Logging for AWS Glue jobs")
    assert "Traceback (most recent call last):" in log_path.with_name("driver-error.log").read_text()
    logs = client(jobs.aws, "logs")
    errors = logs.filter_log_events(logGroupName="/aws-glue/jobs/error", logStreamNames=[run_id])["events"]
    assert errors[-1]["message"].startswith("ValueError: no rows for 2021-12-01")
    output = logs.filter_log_events(logGroupName="/aws-glue/jobs/output", logStreamNames=[run_id])["events"]
    assert [e["message"] for e in output] == ["checking the day"]
    assert run["CompletedOn"] >= run["StartedOn"] and run["LogGroupName"] == "/aws-glue/jobs"
    assert "DPUSeconds" not in run  # a STANDARD run without auto scaling has none (GetJobRun, JobRun.DPUSeconds)


def test_flex_run_reports_dpu_seconds(jobs):
    """GetJobRun (JobRun.DPUSeconds): set for FLEX runs, the executors' time times the worker type's DPU factor
    (2 for G.2X); locally NumberOfWorkers - 1 executors over the whole ExecutionTime."""
    job = f"flex-{uuid.uuid4().hex[:8]}"
    jobs.put(f"scripts/{job}.py", "import time\ntime.sleep(1.2)\n")
    jobs.glue.create_job(Name=job, Role="arn:aws:iam::123456789012:role/glue", GlueVersion="5.0",
                         Command={"Name": "glueetl", "ScriptLocation": f"s3://{jobs.bucket}/scripts/{job}.py"},
                         WorkerType="G.2X", NumberOfWorkers=3, ExecutionClass="FLEX")
    run = jobs.wait(job, jobs.glue.start_job_run(JobName=job)["JobRunId"])
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    assert run["ExecutionTime"] >= 1
    assert run["DPUSeconds"] == run["ExecutionTime"] * 2 * 2
    assert (run["WorkerType"], run["NumberOfWorkers"], run["ExecutionClass"]) == ("G.2X", 3, "FLEX")


def test_arguments_as_glue_passes_them_and_outputs_synced(jobs):
    jobs.put("config/settings.json", '{"threshold": 3}')
    job = jobs.create("""
        import json, os, sys
        args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
        settings = json.load(open(args["--settings"]))
        os.makedirs(args["--out"], exist_ok=True)
        with open(os.path.join(args["--out"], "argv.json"), "w") as f:
            json.dump({"argv": sys.argv[1:], "settings": settings}, f)
    """, default_arguments={"--out": f"s3://{jobs.bucket}/out/", "--mode": "default", "--keep": "yes",
                            "--settings": f"s3://{jobs.bucket}/config/settings.json"})
    run_id = jobs.glue.start_job_run(JobName=job, Arguments={"--mode": "run"})["JobRunId"]
    run = jobs.wait(job, run_id)
    assert run["JobRunState"] == "SUCCEEDED", run
    assert run["Arguments"] == {"--mode": "run"}
    written = json.loads(jobs.read("out/argv.json"))
    argv = written["argv"]
    args = dict(zip(argv[::2], argv[1::2], strict=True))
    assert argv[:8] == ["--JOB_ID", f"j_{job}", "--JOB_RUN_ID", run_id, "--job-bookmark-option",
                        "job-bookmark-disable", "--JOB_NAME", job]
    assert args["--mode"] == "run" and args["--keep"] == "yes"
    assert not args["--out"].startswith("s3://") and args["--out"].endswith("/out/")
    assert written["settings"] == {"threshold": 3}


def test_extra_py_files_are_importable(jobs):
    jobs.put("libs/sales_rules.py", "THRESHOLD = 7\n")
    job = jobs.create("""
        import os, sys
        import sales_rules
        args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
        os.makedirs(args["--out"], exist_ok=True)
        open(os.path.join(args["--out"], "threshold.txt"), "w").write(str(sales_rules.THRESHOLD))
    """, default_arguments={"--out": f"s3://{jobs.bucket}/extra/",
                            "--extra-py-files": f"s3://{jobs.bucket}/libs/sales_rules.py"})
    run = jobs.wait(job, jobs.glue.start_job_run(JobName=job)["JobRunId"])
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    assert jobs.read("extra/threshold.txt") == b"7"


def test_sync_back_replaces_only_what_the_script_rewrote(jobs):
    for day, body in (("2021-11-30", "a,b\n1,2\n"), ("2021-12-01", "a,b\n3,4\n5,6\n")):
        jobs.put(f"lake/raw/dt={day}/sales.csv", body)
    jobs.put("lake/out/dt=2021-12-01/old-part.txt", "stale")
    jobs.put("lake/out/dt=2021-11-30/part.txt", "other day, untouched")
    job = jobs.create("""
        import os, shutil, sys
        args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
        day = args["--run_date"]
        rows = open(os.path.join(args["--raw_path"], f"dt={day}", "sales.csv")).read().splitlines()[1:]
        other = os.path.join(args["--raw_path"], "dt=2021-11-30", "sales.csv")
        assert os.path.exists(other) and os.path.getsize(other) == 0  # listed, not downloaded
        target = os.path.join(args["--out_path"], f"dt={day}")
        shutil.rmtree(target, ignore_errors=True)  # overwrite this day's folder, like Spark's overwrite
        os.makedirs(target)
        open(os.path.join(target, "part-0.txt"), "w").write(str(len(rows)))
    """, default_arguments={"--raw_path": f"s3://{jobs.bucket}/lake/raw/",
                            "--out_path": f"s3://{jobs.bucket}/lake/out/"})
    run_id = jobs.glue.start_job_run(JobName=job, Arguments={"--run_date": "2021-12-01"})["JobRunId"]
    assert jobs.wait(job, run_id)["JobRunState"] == "SUCCEEDED"
    assert jobs.keys("lake/") == [
        "lake/out/dt=2021-11-30/part.txt", "lake/out/dt=2021-12-01/part-0.txt",
        "lake/raw/dt=2021-11-30/sales.csv", "lake/raw/dt=2021-12-01/sales.csv",
    ]
    assert jobs.read("lake/out/dt=2021-12-01/part-0.txt") == b"2"
    assert jobs.read("lake/out/dt=2021-11-30/part.txt") == b"other day, untouched"
    assert jobs.read("lake/raw/dt=2021-11-30/sales.csv") == b"a,b\n1,2\n"  # placeholder never uploaded


def test_max_concurrent_runs_and_batch_stop(jobs):
    job = jobs.create(SLEEPER, max_concurrent=1)
    first = jobs.glue.start_job_run(JobName=job)["JobRunId"]
    with pytest.raises(ClientError) as raised:
        jobs.glue.start_job_run(JobName=job)
    assert raised.value.response["Error"]["Code"] == "ConcurrentRunsExceededException"
    jobs.wait_running(job, first)

    stopped = jobs.glue.batch_stop_job_run(JobName=job, JobRunIds=[first, "jr_unknown"])
    assert [s["JobRunId"] for s in stopped["SuccessfulSubmissions"]] == [first]
    assert [e["JobRunId"] for e in stopped["Errors"]] == ["jr_unknown"]
    assert jobs.wait(job, first, timeout=20)["JobRunState"] == "STOPPED"

    second = jobs.glue.start_job_run(JobName=job)["JobRunId"]  # the slot is free again
    jobs.glue.batch_stop_job_run(JobName=job, JobRunIds=[second])
    assert jobs.wait(job, second, timeout=20)["JobRunState"] == "STOPPED"
    runs = jobs.glue.get_job_runs(JobName=job)["JobRuns"]
    assert [r["Id"] for r in runs] == [second, first]
    page = jobs.glue.get_job_runs(JobName=job, MaxResults=1)
    assert [r["Id"] for r in page["JobRuns"]] == [second]
    rest = jobs.glue.get_job_runs(JobName=job, MaxResults=1, NextToken=page["NextToken"])
    assert [r["Id"] for r in rest["JobRuns"]] == [first] and "NextToken" not in rest


def test_timeout_ends_run_timed_out(jobs, monkeypatch):
    monkeypatch.setenv("LOCAL_AWS_GLUE_SECONDS_PER_TIMEOUT_MINUTE", "0.5")
    job = jobs.create(SLEEPER, timeout=2880)
    run_id = jobs.glue.start_job_run(JobName=job, Timeout=2)["JobRunId"]  # the run's Timeout wins
    run = jobs.wait(job, run_id, timeout=20)
    assert run["JobRunState"] == "TIMEOUT"
    assert run["Timeout"] == 2
    assert run["ErrorMessage"].startswith("Job run timed out after 2 minutes")


def test_unknown_job_and_missing_script(jobs):
    with pytest.raises(ClientError) as raised:
        jobs.glue.start_job_run(JobName="no-such-job")
    assert raised.value.response["Error"]["Code"] == "EntityNotFoundException"
    job = jobs.create("print('never uploaded')")
    jobs.s3.delete_object(Bucket=jobs.bucket, Key=f"scripts/{job}.py")
    run = jobs.wait(job, jobs.glue.start_job_run(JobName=job)["JobRunId"])
    assert run["JobRunState"] == "FAILED"
    assert f"script s3://{jobs.bucket}/scripts/{job}.py not found" in run["ErrorMessage"]


def test_error_from_log_takes_the_final_exception_line():
    log = textwrap.dedent("""\
        25/11/29 INFO SparkContext: Running Spark
        Traceback (most recent call last):
          File "job.py", line 3, in <module>
            raise KeyError("a")
        KeyError: 'a'

        During handling of the above exception, another exception occurred:

        Traceback (most recent call last):
          File "job.py", line 5, in <module>
            raise RuntimeError("rows_in != rows_out + rows_rejected")
        RuntimeError: rows_in != rows_out + rows_rejected
        25/11/29 INFO ShutdownHookManager: Shutdown hook called
    """)
    assert error_from_log(log) == "RuntimeError: rows_in != rows_out + rows_rejected"
    assert error_from_log("no traceback here") is None


SPARK_JOB = """
    import sys
    from pyspark.sql import SparkSession, functions as F

    args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
    spark = (SparkSession.builder.appName(args["--JOB_NAME"])
             .config("spark.sql.sources.partitionOverwriteMode", "dynamic").getOrCreate())
    raw = spark.read.option("header", True).csv(args["--raw_path"] + "dt=" + args["--run_date"] + "/")
    out = (raw.withColumn("amount", F.col("amount").cast("long"))
              .withColumn("ts", F.to_timestamp("ts"))
              .withColumn("year", F.year("ts")).withColumn("month", F.month("ts"))
              .withColumn("day", F.dayofmonth("ts")))
    out.write.mode("overwrite").partitionBy("year", "month", "day").parquet(args["--processed_path"])
    spark.stop()
"""


@pytest.mark.spark
def test_spark_script_writes_parquet_partitions_to_s3(jobs):
    jobs.put("spark/raw/dt=2021-12-01/sales.csv", "amount,ts\n5,2021-12-01 10:00:00\n7,2021-12-01 11:00:00\n")
    jobs.put("spark/processed/year=2021/month=11/day=30/part-old.parquet", b"kept as is")
    jobs.put("spark/processed/year=2021/month=12/day=1/part-stale.parquet", b"replaced")
    job = jobs.create(SPARK_JOB, default_arguments={
        "--raw_path": f"s3://{jobs.bucket}/spark/raw/", "--processed_path": f"s3://{jobs.bucket}/spark/processed/",
    })
    run_id = jobs.glue.start_job_run(JobName=job, Arguments={"--run_date": "2021-12-01"})["JobRunId"]
    run = jobs.wait(job, run_id, timeout=300)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    keys = jobs.keys("spark/processed/")
    day = [k for k in keys if k.startswith("spark/processed/year=2021/month=12/day=1/")]
    assert day and all(k.endswith(".parquet") for k in day), keys
    assert "spark/processed/year=2021/month=11/day=30/part-old.parquet" in keys
    assert not any(".crc" in k or "_temporary" in k for k in keys)
    rows = [r for k in day for r in pq.read_table(io.BytesIO(jobs.read(k))).to_pylist()]
    assert sorted(r["amount"] for r in rows) == [5, 7]


@pytest.mark.spark
@pytest.mark.e2e
def test_project_sales_job_on_a_small_raw_day(jobs, warm_pool_enabled):
    script = REPO / "include" / "glue" / "sales_job.py"
    if not script.exists():
        pytest.skip("include/glue/sales_job.py has not landed yet")
    jobs.put("artifacts/glue/sales_job.py", script.read_bytes())
    lake = f"s3://{jobs.bucket}/sales-lake/"
    jobs.put("sales-lake/raw/sales/dt=2021-12-01/sales.csv",
             "card_id,customer_id,price,product_id,timestamp\n"
             "1,10,$3.50,100,2021-12-01 10:00:00\n2,11,7.25,101,2021-12-01 11:30:00\n"
             "2,11,7.25,101,2021-12-01 11:30:00\n3,,oops,102,2021-12-01 12:00:00\n")
    name = f"sales-{uuid.uuid4().hex[:8]}"
    jobs.glue.create_job(Name=name, Role="r", GlueVersion="5.0", Command={
        "Name": "glueetl", "ScriptLocation": f"s3://{jobs.bucket}/artifacts/glue/sales_job.py"},
        DefaultArguments={"--processed_path": lake + "processed/sales/", "--raw_path": lake + "raw/sales/",
                          "--rejected_path": lake + "rejected/sales/", "--manifest_path": lake + "manifests/sales/"},
        Timeout=30)
    run_id = jobs.glue.start_job_run(JobName=name, Arguments={"--run_date": "2021-12-01"})["JobRunId"]
    run = jobs.wait(name, run_id, timeout=600)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    manifest = json.loads(jobs.read("sales-lake/manifests/sales/dt=2021-12-01.json"))
    assert (manifest["rows_in"], manifest["rows_out"]) == (4, 2)
    assert manifest["rejected_by_reason"] == {"duplicate": 1, "missing_customer_id": 1}
    assert jobs.keys("sales-lake/processed/sales/year=2021/month=12/day=1/")
    assert jobs.keys("sales-lake/rejected/sales/dt=2021-12-01/")
    events = client(jobs.aws, "logs").filter_log_events(logGroupName="/aws-glue/jobs/output",
                                                        logStreamNames=[run_id])["events"]
    assert any("Spark driver pre-started" in e["message"] for e in events)  # the project's job runs warm


GLUE_DAG = '''
from datetime import datetime

from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.sdk import DAG

with DAG(dag_id="local_glue_job_check", start_date=datetime(2021, 12, 1), schedule=None, catchup=False):
    GlueJobOperator(
        task_id="run_job", job_name="{job}", script_args={{"--run_date": "{{{{ ds }}}}"}},
        wait_for_completion=True, verbose=True, job_poll_interval=1,
    )
'''


@pytest.mark.e2e
def test_glue_job_operator_in_airflow_dags_test(jobs, tmp_path):
    from tiny_airflow import TinyAirflow

    job = jobs.create("""
        import os, sys
        args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
        target = os.path.join(args["--out"], "dt=" + args["--run_date"])
        os.makedirs(target, exist_ok=True)
        open(os.path.join(target, "done.txt"), "w").write(args["--JOB_RUN_ID"])
        print("wrote", target)
    """, default_arguments={"--out": f"s3://{jobs.bucket}/airflow/out/"})
    airflow = TinyAirflow(tmp_path, jobs.aws.endpoint_url, "local_glue_job_check.py", GLUE_DAG.format(job=job))
    returncode, _, output = airflow.dags_test("local_glue_job_check")
    assert returncode == 0, output[-8000:]
    assert "wrote " in output  # verbose=True shows the driver log from CloudWatch Logs
    assert jobs.keys("airflow/out/") == ["airflow/out/dt=2021-12-01/done.txt"]
    run_id = jobs.read("airflow/out/dt=2021-12-01/done.txt").decode()
    assert jobs.glue.get_job_run(JobName=job, RunId=run_id)["JobRun"]["JobRunState"] == "SUCCEEDED"


def test_run_history_is_state_and_interrupted_runs_fail_on_restore(jobs):
    """Runs are state of the Glue backends (saved without their process), and a run that was active when the local
    AWS died is restored FAILED, since its process died too (AWS reports a run that could not finish as FAILED
    with an ErrorMessage: Glue API reference, "JobRun")."""
    from local_aws.services.glue_jobs import JobRunsBackend, job_run_backends
    from local_aws.state import pickling

    job = jobs.create("print('done')")
    finished = jobs.glue.start_job_run(JobName=job)["JobRunId"]
    assert jobs.wait(job, finished)["JobRunState"] == "SUCCEEDED"
    backend = job_run_backends["123456789012"]["us-east-1"]
    saved = pickling.loads(pickling.dumps(backend.saved_state()), resolve=None)
    assert "lock" not in saved
    (run,) = saved["runs"][job]
    assert (run.run_id, run.state, run.process, run.on_done) == (finished, "SUCCEEDED", None, None)

    run.run_id, run.state, run.completed_on = "jr_interrupted", "RUNNING", None  # as a crash left it
    fresh = JobRunsBackend("us-east-1", "123456789012")
    fresh.restore_state(saved)
    restored = fresh.find(job, "jr_interrupted")
    assert (restored.state, restored.error_message) == ("FAILED", "the local AWS stopped during the run")
    assert restored.completed_on == restored.modified_on  # its last recorded moment: restoring twice is the same


# --- pre-started ("warm") Spark drivers -------------------------------------------------------------------------

WARM_PROBE = """
    import os, sys, time
    args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
    warm = "pyspark.sql" in sys.modules  # a cold `python script.py` has not imported Spark yet
    print("probe pid=%d warm=%s" % (os.getpid(), warm), flush=True)
    if args["--mode"] == "fail":
        raise RuntimeError("rows_in != rows_out + rows_rejected on " + args["--JOB_NAME"])
    if args["--mode"] == "exit":
        sys.exit(0)
    if args["--mode"] == "sleep":
        time.sleep(60)
    from pyspark.sql import SparkSession
    spark = SparkSession.builder.appName(args["--JOB_NAME"]).getOrCreate()
    rows = spark.range(5).count()
    os.makedirs(args["--out"], exist_ok=True)
    with open(os.path.join(args["--out"], args["--JOB_RUN_ID"] + ".txt"), "w") as f:
        f.write("%d %s %d %s %s" % (os.getpid(), warm, rows, spark.version, os.getcwd()))
"""


def _probe_line(jobs: Jobs, run_id: str, timeout: float = 60) -> dict:
    """The probe's line as shipped to CloudWatch Logs: {"pid": ..., "warm": ...}."""
    logs = client(jobs.aws, "logs")
    deadline = time.monotonic() + timeout
    while True:
        events = logs.filter_log_events(logGroupName="/aws-glue/jobs/output", logStreamNames=[run_id])["events"]
        line = next((e["message"] for e in events if e["message"].startswith("probe pid=")), None)
        if line:
            pid, warm = (part.split("=")[1] for part in line.split()[1:3])
            return {"pid": int(pid), "warm": warm == "True"}
        assert time.monotonic() < deadline, "the probe line never reached CloudWatch Logs"
        time.sleep(0.2)


def _group_ends(pgid: int, timeout: float = 15) -> bool:
    """Whether every process of the group is gone within the timeout (a JVM takes a moment to exit)."""
    deadline = time.monotonic() + timeout
    while _live_group_members(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _live_group_members(pgid: int) -> list[int]:
    """Processes (zombies aside) in a process group, from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


@pytest.mark.spark
@pytest.mark.e2e
def test_runs_on_warm_drivers_one_process_each(jobs, warm_pool_enabled):
    job = jobs.create(WARM_PROBE, default_arguments={"--out": f"s3://{jobs.bucket}/warm/", "--mode": "count"})
    outputs, pids = [], []
    for _ in range(2):  # the second run gets the replacement started after the first
        run_id = jobs.glue.start_job_run(JobName=job)["JobRunId"]
        run = jobs.wait(job, run_id, timeout=180)
        assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
        pid, warm, rows, spark_version, cwd = jobs.read(f"warm/{run_id}.txt").decode().split(" ", 4)
        assert (warm, rows, spark_version) == ("True", "5", "3.5.4")  # the driver was started on Glue 5.0's Spark
        assert Path(cwd).name == "work" and Path(cwd).parent.name == run_id  # the run's own working dir
        outputs.append(run_id)
        pids.append(int(pid))
        assert _group_ends(int(pid))  # one-shot: the driver and its JVM are gone
    assert pids[0] != pids[1]
    log_text = client(jobs.aws, "logs").filter_log_events(
        logGroupName="/aws-glue/jobs/output", logStreamNames=[outputs[0]])["events"]
    messages = [e["message"] for e in log_text]
    # the JVM's start-up output, written before the run existed, is part of the run's driver log
    assert any("pre-started" in m for m in messages) and any("probe pid=" in m for m in messages)

    failed = jobs.glue.start_job_run(JobName=job, Arguments={"--mode": "fail"})["JobRunId"]
    run = jobs.wait(job, failed, timeout=180)
    assert run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"].startswith(f"RuntimeError: rows_in != rows_out + rows_rejected on {job} ")
    assert _probe_line(jobs, failed)["warm"] is True

    sleeping = jobs.glue.start_job_run(JobName=job, Arguments={"--mode": "sleep"})["JobRunId"]
    probe = _probe_line(jobs, sleeping)
    assert probe["warm"] is True and _live_group_members(probe["pid"])
    jobs.glue.batch_stop_job_run(JobName=job, JobRunIds=[sleeping])
    assert jobs.wait(job, sleeping, timeout=30)["JobRunState"] == "STOPPED"
    assert _group_ends(probe["pid"])


def test_no_warm_drivers_when_disabled_or_with_extra_py_files(jobs, monkeypatch):
    jobs.put("libs/helper.py", "VALUE = 1\n")
    monkeypatch.setenv("LOCAL_AWS_GLUE_WARM_DRIVERS", "0")
    job = jobs.create(WARM_PROBE, default_arguments={"--mode": "fail"})  # fails before it would start Spark
    run_id = jobs.glue.start_job_run(JobName=job)["JobRunId"]
    assert jobs.wait(job, run_id)["JobRunState"] == "FAILED"
    assert _probe_line(jobs, run_id)["warm"] is False

    monkeypatch.setenv("LOCAL_AWS_GLUE_WARM_DRIVERS", "1")
    run_id = jobs.glue.start_job_run(
        JobName=job, Arguments={"--extra-py-files": f"s3://{jobs.bucket}/libs/helper.py"})["JobRunId"]
    assert jobs.wait(job, run_id)["JobRunState"] == "FAILED"
    assert _probe_line(jobs, run_id)["warm"] is False  # extra files must be on the PYTHONPATH at JVM start


def test_bad_warm_driver_setting_fails_the_run_with_its_name(jobs, monkeypatch):
    monkeypatch.setenv("LOCAL_AWS_GLUE_WARM_DRIVERS", "two")
    job = jobs.create("print('never runs')")
    run = jobs.wait(job, jobs.glue.start_job_run(JobName=job)["JobRunId"])
    assert run["JobRunState"] == "FAILED"
    assert "LOCAL_AWS_GLUE_WARM_DRIVERS must be a whole number" in run["ErrorMessage"]


def test_a_warm_driver_that_cannot_start_spark_falls_back_to_cold(jobs, warm_pool_enabled, monkeypatch):
    from local_aws.services import glue_jobs

    monkeypatch.setenv("JAVA_HOME", "/nonexistent-java")  # the warm driver's Spark start fails
    job = jobs.create(WARM_PROBE, default_arguments={"--mode": "exit"})  # this script needs no Spark
    run_id = jobs.glue.start_job_run(JobName=job)["JobRunId"]
    run = jobs.wait(job, run_id, timeout=60)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")  # SystemExit(0) is a success
    assert _probe_line(jobs, run_id)["warm"] is False
    # Died before the run came (discarded then), or took the run and failed starting Spark (its output kept):
    failed_start = glue_jobs._base_dir() / job / run_id / "warm-driver-failed.log"
    if failed_start.exists():
        errors = failed_start.with_name("warm-driver-failed-error.log")  # its stderr, beside its stdout
        assert "JAVA" in (failed_start.read_text() + errors.read_text()).upper()


def _processes_with_env(name: str, prefix: str) -> list[int]:
    """Live processes whose environment variable `name` starts with `prefix`."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            variables = environ.read_bytes().split(b"\0")
        except OSError:
            continue
        if any(v.startswith(f"{name}={prefix}".encode()) for v in variables):
            found.append(int(environ.parent.name))
    return found


# Runs in its own interpreter (one server per process); stays alive after the server stops, so what stops the
# driver is LocalAWS.stop(), not the interpreter's exit.
_STOP_PROBE = """
import sys, time
from pathlib import Path
import boto3
from local_aws.server import LocalAWS
sys.path.insert(0, sys.argv[2])
from test_glue_jobs import _processes_with_env

state = sys.argv[1]
with LocalAWS(port=0, state_dir=Path(state)) as aws:
    glue = boto3.client("glue", endpoint_url=aws.endpoint_url, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local")
    glue.create_job(Name="warm-on-create", Role="arn:aws:iam::123456789012:role/glue", GlueVersion="5.0",
                    Command={"Name": "glueetl", "ScriptLocation": "s3://nowhere/script.py"})
    deadline = time.monotonic() + 30
    while not _processes_with_env("SPARK_LOCAL_DIRS", state) and time.monotonic() < deadline:
        time.sleep(0.2)
    print("started", bool(_processes_with_env("SPARK_LOCAL_DIRS", state)))
deadline = time.monotonic() + 15
while _processes_with_env("SPARK_LOCAL_DIRS", state) and time.monotonic() < deadline:
    time.sleep(0.2)
print("left", len(_processes_with_env("SPARK_LOCAL_DIRS", state)))
"""


@pytest.mark.spark
def test_stopping_the_server_stops_its_warm_driver(tmp_path):
    """Creating a job starts a warm driver; stopping the server (not only exiting the process) stops it."""
    import os
    import subprocess
    import sys

    state = tmp_path / "state"
    out = subprocess.run([sys.executable, "-c", _STOP_PROBE, str(state), str(Path(__file__).parent)],
                         capture_output=True, text=True, timeout=120, cwd=REPO,
                         env={**os.environ, "LOCAL_AWS_GLUE_WARM_DRIVERS": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["started", "True", "left", "0"], out.stdout + out.stderr[-2000:]


# --- runtimes per GlueVersion -------------------------------------------------------------------------------------
# AWS Glue versions (https://docs.aws.amazon.com/glue/latest/dg/release-notes.html): Glue 5.0 runs Spark 3.5.4 on
# Python 3.11; a job created without GlueVersion is a 0.9 job (Job.GlueVersion,
# https://docs.aws.amazon.com/glue/latest/dg/aws-glue-api-jobs-job.html).

REFUSED_4_0 = ("GlueVersion 4.0 cannot be run by the local AWS: it runs Glue jobs on GlueVersion 5.0 "
               "(Spark 3.5.4, Python 3.11) only")


def test_runtime_mapping_glue_version_to_spark_and_python(monkeypatch, tmp_path):
    from local_aws.gluejob import runtimes

    glue5 = runtimes.for_glue_version("5.0")
    assert (glue5.spark_version, glue5.python_version) == ("3.5.4", "3.11")
    assert glue5.python == REPO / ".venv-glue5" / "bin" / "python"
    assert runtimes.supported_versions() == ["5.0"]
    monkeypatch.setenv("LOCAL_AWS_GLUE_RUNTIMES_DIR", str(tmp_path))
    assert glue5.python == tmp_path / ".venv-glue5" / "bin" / "python"
    for version in ("0.9", "1.0", "2.0", "3.0", "4.0", "5.1", "5", "banana"):
        with pytest.raises(runtimes.UnsupportedGlueVersion, match=f"^GlueVersion {version} cannot be run"):
            runtimes.for_glue_version(version)
    with pytest.raises(runtimes.UnsupportedGlueVersion) as raised:
        runtimes.for_glue_version(None)
    assert str(raised.value).startswith("GlueVersion 0.9 (the version of a job created without GlueVersion) ")


def test_the_glue_5_runtime_is_installed_with_its_spark():
    """`make test` builds .venv-glue5 first: its interpreter is Python 3.11 with PySpark 3.5.4."""
    from local_aws.gluejob import runtimes

    python = runtimes.RUNTIMES["5.0"].interpreter()
    assert runtimes.installed_pyspark(Path(python).parents[1]) == "3.5.4"


def test_a_missing_or_wrong_runtime_environment_names_the_make_target(monkeypatch, tmp_path):
    from local_aws.gluejob import runtimes

    monkeypatch.setenv("LOCAL_AWS_GLUE_RUNTIMES_DIR", str(tmp_path))
    glue5 = runtimes.RUNTIMES["5.0"]
    with pytest.raises(runtimes.RuntimeNotInstalled) as raised:
        glue5.interpreter()
    assert str(raised.value) == (
        f"the Glue 5.0 runtime (Spark 3.5.4, Python 3.11) is not installed: {tmp_path}/.venv-glue5/bin/python "
        "does not exist; create it with `make glue-runtime` in the project root")
    # An environment holding the dev venv's Spark is not Glue 5.0's.
    env = tmp_path / ".venv-glue5"
    (env / "bin").mkdir(parents=True)
    (env / "bin" / "python").symlink_to(sys.executable)
    (env / "pyvenv.cfg").write_text("version_info = 3.11.7\n")
    (env / "lib" / "python3.11" / "site-packages" / "pyspark-4.3.0.dist-info").mkdir(parents=True)
    with pytest.raises(runtimes.RuntimeNotInstalled, match=r"has PySpark 4\.3\.0, Glue 5\.0 runs Spark 3\.5\.4; "
                                                           r"create it with `make glue-runtime`"):
        glue5.interpreter()


def test_create_job_refuses_a_glue_version_it_cannot_run(jobs):
    for version in ("4.0", None, "latest"):
        name = f"refused-{uuid.uuid4().hex[:8]}"
        extra = {"GlueVersion": version} if version else {}
        with pytest.raises(ClientError) as raised:
            jobs.glue.create_job(Name=name, Role="r", Command={"Name": "glueetl", "ScriptLocation": "s3://b/s.py"},
                                 **extra)
        error = raised.value.response["Error"]
        assert error["Code"] == "InvalidInputException"
        shown = version or "0.9 (the version of a job created without GlueVersion)"
        assert error["Message"] == (f"GlueVersion {shown} cannot be run by the local AWS: it runs Glue jobs on "
                                    "GlueVersion 5.0 (Spark 3.5.4, Python 3.11) only")
        with pytest.raises(ClientError, match="EntityNotFoundException"):
            jobs.glue.get_job(JobName=name)  # nothing was stored


def test_start_job_run_refuses_a_glue_version_it_cannot_run(jobs):
    """Jobs can reach the backend without CreateJob (a CloudFormation AWS::Glue::Job, saved state): StartJobRun
    refuses them as well, and no run is recorded."""
    from moto.glue.models import glue_backends

    job = jobs.create("print('never runs')")
    glue_backends["123456789012"]["us-east-1"].get_job(job).glue_version = "4.0"
    with pytest.raises(ClientError) as raised:
        jobs.glue.start_job_run(JobName=job)
    assert raised.value.response["Error"]["Code"] == "InvalidInputException"
    assert raised.value.response["Error"]["Message"] == REFUSED_4_0
    assert jobs.glue.get_job_runs(JobName=job)["JobRuns"] == []


def test_a_run_without_its_runtime_environment_fails_naming_the_make_target(jobs, monkeypatch, tmp_path):
    monkeypatch.setenv("LOCAL_AWS_GLUE_RUNTIMES_DIR", str(tmp_path))  # read by the in-process server per run
    job = jobs.create("print('would have run on the wrong Spark')")
    run = jobs.wait(job, jobs.glue.start_job_run(JobName=job)["JobRunId"])
    assert run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"].startswith(
        "RuntimeNotInstalled: the Glue 5.0 runtime (Spark 3.5.4, Python 3.11) is not installed: "
        f"{tmp_path}/.venv-glue5/bin/python does not exist; create it with `make glue-runtime`")


VERSION_PROBE = """
    import json, os, platform, sys
    import pyspark
    from pyspark.sql import SparkSession
    args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
    spark = SparkSession.builder.appName(args["--JOB_NAME"]).getOrCreate()
    versions = {"pyspark": pyspark.__version__, "spark": spark.version, "python": platform.python_version(),
                "executable": sys.executable, "worker_python": spark.sparkContext.pythonExec}
    os.makedirs(args["--out"], exist_ok=True)
    json.dump(versions, open(os.path.join(args["--out"], "versions.json"), "w"))
    spark.stop()
"""


@pytest.mark.spark
def test_a_glue_5_job_runs_on_spark_3_5_and_python_3_11(jobs):
    """Glue 5.0: Spark 3.5.4, Python 3.11 (AWS Glue versions). The script itself reports it: the Python package,
    the JVM's Spark and the interpreter of the driver and of the Python workers are all the runtime's."""
    from local_aws.gluejob import runtimes

    job = jobs.create(VERSION_PROBE, default_arguments={"--out": f"s3://{jobs.bucket}/versions/"})
    run = jobs.wait(job, jobs.glue.start_job_run(JobName=job)["JobRunId"], timeout=180)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    assert run["GlueVersion"] == "5.0"
    versions = json.loads(jobs.read("versions/versions.json"))
    assert versions["pyspark"] == versions["spark"] == "3.5.4"
    assert versions["python"].startswith("3.11.")
    assert versions["executable"] == versions["worker_python"] == str(runtimes.RUNTIMES["5.0"].python)
