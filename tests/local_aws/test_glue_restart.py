"""Glue state across a crash of the local AWS (SIGKILL), and across moto's reset.

AWS keeps the Data Catalog, every crawler's crawls (GetCrawler ``LastCrawl``, ListCrawls) and every job's runs
(GetJobRun, GetJobRuns) with the ids and times it first returned (AWS Glue API reference: "GetCrawler",
"ListCrawls", "GetTable", "GetPartitions", "GetJobRun"). Locally, what was acknowledged is on disk before the answer
left, so a restart after SIGKILL shows exactly that; work that was in flight (a crawl, a job run) cannot resume and
is settled FAILED with a message saying why.
"""

from __future__ import annotations

import json
import os
import re
import signal
import textwrap
import time
import uuid
from pathlib import Path

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from server_process import start_server, stop_server
from test_glue_jobs import _group_ends

from local_aws.server import free_port

ACTIVE = ("STARTING", "RUNNING", "STOPPING", "WAITING")
RAW_HEADER = "card_id,customer_id,price,product_id,timestamp\n"
ENV = {"LOCAL_AWS_GLUE_WARM_DRIVERS": "0",  # no JVM: these scripts never start Spark
       "LOCAL_AWS_CRAWLER_STARTUP_SECONDS": "1"}  # long enough to SIGKILL a crawl that is RUNNING


class Glue:
    def __init__(self, url: str):
        self.url = url
        self.s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
        self.glue = boto3.client("glue", endpoint_url=url, region_name="us-east-1")

    def wait_crawler(self, name: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while (crawler := self.glue.get_crawler(Name=name)["Crawler"])["State"] != "READY":
            assert time.monotonic() < deadline, crawler["State"]
            time.sleep(0.05)
        return crawler

    def wait_run(self, job: str, run_id: str, states: tuple[str, ...] = ACTIVE, timeout: float = 60) -> dict:
        """The run once its state is no longer one of ``states``."""
        deadline = time.monotonic() + timeout
        while (run := self.glue.get_job_run(JobName=job, RunId=run_id)["JobRun"])["JobRunState"] in states:
            assert time.monotonic() < deadline, run["JobRunState"]
            time.sleep(0.05)
        return run


def _pid_in(driver_log: Path, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while True:
        found = re.search(r"sleeper pid=(\d+)", driver_log.read_text() if driver_log.exists() else "")
        if found:
            return int(found.group(1))
        assert time.monotonic() < deadline, "the sleeping script never printed its pid"
        time.sleep(0.05)


def test_catalog_crawls_and_runs_survive_sigkill_and_moto_reset_clears_them(tmp_path):
    state, port = tmp_path / "state", free_port()
    bucket, db = f"lake-{uuid.uuid4().hex[:8]}", f"db_{uuid.uuid4().hex[:8]}"
    crawler, in_flight, quick, sleeper = "raw-crawler", "late-crawler", "quick-job", "sleeper-job"
    sleeping_pid = None
    proc, url = start_server(state, port, **ENV)
    try:
        aws = Glue(url)
        aws.s3.create_bucket(Bucket=bucket)
        aws.glue.create_database(DatabaseInput={"Name": db})
        for day in ("2021-12-01", "2021-12-02"):
            aws.s3.put_object(Bucket=bucket, Key=f"raw/sales/dt={day}/sales.csv",
                              Body=(RAW_HEADER + f"1,2,3.50,4,{day} 10:00:00\n").encode())
        for name, table_prefix in ((crawler, "raw_"), (in_flight, "late_")):
            aws.glue.create_crawler(Name=name, Role="r", DatabaseName=db, TablePrefix=table_prefix,
                                    Targets={"S3Targets": [{"Path": f"s3://{bucket}/raw/sales/"}]})
        aws.glue.start_crawler(Name=crawler)
        crawled = aws.wait_crawler(crawler)
        assert crawled["LastCrawl"]["Status"] == "SUCCEEDED", crawled["LastCrawl"]
        table = aws.glue.get_table(DatabaseName=db, Name="raw_sales")["Table"]
        partitions = aws.glue.get_partitions(DatabaseName=db, TableName="raw_sales")["Partitions"]
        crawls = aws.glue.list_crawls(CrawlerName=crawler)["Crawls"]

        aws.s3.put_object(Bucket=bucket, Key="scripts/quick.py", Body=textwrap.dedent("""
            import os, sys
            args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
            os.makedirs(args["--out"], exist_ok=True)
            open(os.path.join(args["--out"], args["--JOB_RUN_ID"] + ".txt"), "w").write("done")
            # A bookmark as Job.commit() saves it (awsglue's state module, so no Spark has to start)
            import datetime
            from awsglue import bookmarks
            from awsglue.job import Job
            job = Job(None)
            job.init(args["--JOB_NAME"], args)
            bookmarks.current().select("raw", [("s3://b/k.csv", {"LastModified": datetime.datetime(2021, 12, 1)})])
            job.commit()
        """).encode())
        aws.s3.put_object(Bucket=bucket, Key="scripts/sleeper.py",
                          Body=b"import os, time\nprint('sleeper pid=%d' % os.getpid(), flush=True)\ntime.sleep(120)\n")
        for name, script in ((quick, "quick.py"), (sleeper, "sleeper.py")):
            aws.glue.create_job(Name=name, Role="r", GlueVersion="5.0",
                                Command={"Name": "glueetl", "ScriptLocation": f"s3://{bucket}/scripts/{script}"},
                                DefaultArguments={"--out": f"s3://{bucket}/out/",
                                                  "--job-bookmark-option": "job-bookmark-enable"})
        finished_id = aws.glue.start_job_run(JobName=quick)["JobRunId"]
        finished = aws.wait_run(quick, finished_id)
        assert finished["JobRunState"] == "SUCCEEDED", finished.get("ErrorMessage")
        bookmark = aws.glue.get_job_bookmark(JobName=quick)["JobBookmarkEntry"]
        assert json.loads(bookmark["JobBookmark"]) == {"raw": {"s3://b/k.csv": "2021-12-01T00:00:00"}}
        running_id = aws.glue.start_job_run(JobName=sleeper)["JobRunId"]
        running = aws.wait_run(sleeper, running_id, states=("STARTING",))
        assert running["JobRunState"] == "RUNNING"
        sleeping_pid = _pid_in(state / "glue-jobs" / sleeper / running_id / "driver.log")

        aws.glue.start_crawler(Name=in_flight)
        assert aws.glue.get_crawler(Name=in_flight)["Crawler"]["State"] == "RUNNING"
    finally:
        proc.kill()  # SIGKILL: nothing runs at exit
        proc.wait()
    # The running job's process group does not outlive the killed server: its watchdog sees the parent gone
    # (local_glue_job.launch), so no orphaned driver or Spark JVM keeps running (issue 16).
    assert _group_ends(sleeping_pid, timeout=20), f"job process group {sleeping_pid} outlived the server"

    proc, url = start_server(state, port, **ENV)
    try:
        aws = Glue(url)
        after = aws.glue.get_crawler(Name=crawler)["Crawler"]
        assert after == crawled  # LastCrawl (crawl id, StartTime), CreationTime, Version, Targets: all as they were
        assert aws.glue.get_table(DatabaseName=db, Name="raw_sales")["Table"] == table
        assert aws.glue.get_partitions(DatabaseName=db, TableName="raw_sales")["Partitions"] == partitions
        assert aws.glue.list_crawls(CrawlerName=crawler)["Crawls"] == crawls

        interrupted = aws.glue.get_crawler(Name=in_flight)["Crawler"]
        assert interrupted["State"] == "READY"
        assert interrupted["LastCrawl"]["Status"] == "FAILED"
        assert interrupted["LastCrawl"]["ErrorMessage"] == "the local AWS stopped during the crawl"
        assert aws.glue.get_tables(DatabaseName=db)["TableList"] == [table]  # the cut crawl wrote nothing

        assert aws.glue.get_job_run(JobName=quick, RunId=finished_id)["JobRun"] == finished
        assert aws.glue.get_job_bookmark(JobName=quick)["JobBookmarkEntry"] == bookmark  # durable (GetJobBookmark)
        assert aws.s3.get_object(Bucket=bucket, Key=f"out/{finished_id}.txt")["Body"].read() == b"done"
        settled = aws.glue.get_job_run(JobName=sleeper, RunId=running_id)["JobRun"]
        assert settled["JobRunState"] == "FAILED"
        assert settled["ErrorMessage"] == "the local AWS stopped during the run"
        assert settled["StartedOn"] == running["StartedOn"]
        assert [r["Id"] for r in aws.glue.get_job_runs(JobName=sleeper)["JobRuns"]] == [running_id]

        # What was restored keeps working: a new day lands in the restored table, a new run of the restored job.
        aws.s3.put_object(Bucket=bucket, Key="raw/sales/dt=2021-12-03/sales.csv",
                          Body=(RAW_HEADER + "1,2,3.50,4,2021-12-03 10:00:00\n").encode())
        aws.glue.start_crawler(Name=crawler)
        assert aws.wait_crawler(crawler)["LastCrawl"]["Status"] == "SUCCEEDED"
        assert len(aws.glue.get_partitions(DatabaseName=db, TableName="raw_sales")["Partitions"]) == 3
        assert [c["CrawlId"] for c in aws.glue.list_crawls(CrawlerName=crawler)["Crawls"]][1:] == [
            crawls[0]["CrawlId"]]
        again = aws.glue.start_job_run(JobName=sleeper)["JobRunId"]  # the interrupted run holds no slot
        aws.glue.batch_stop_job_run(JobName=sleeper, JobRunIds=[again])
        assert aws.wait_run(sleeper, again)["JobRunState"] == "STOPPED"

        # moto's reset empties the Glue backends, ours included: the same names start with no history.
        assert requests.post(f"{url}/moto-api/reset", timeout=30).ok
        with pytest.raises(ClientError) as gone:
            aws.glue.get_crawler(Name=crawler)
        assert gone.value.response["Error"]["Code"] == "EntityNotFoundException"
        aws.glue.create_database(DatabaseInput={"Name": db})
        aws.glue.create_crawler(Name=crawler, Role="r", DatabaseName=db,
                                Targets={"S3Targets": [{"Path": f"s3://{bucket}/raw/sales/"}]})
        assert "LastCrawl" not in aws.glue.get_crawler(Name=crawler)["Crawler"]
        assert aws.glue.list_crawls(CrawlerName=crawler)["Crawls"] == []
        aws.glue.create_job(Name=sleeper, Role="r", GlueVersion="5.0",
                            Command={"Name": "glueetl", "ScriptLocation": "s3://x/y.py"})
        assert aws.glue.get_job_runs(JobName=sleeper)["JobRuns"] == []
    finally:
        stop_server(proc)
        if sleeping_pid is not None:  # only if the watchdog failed (asserted above): end it
            try:
                os.killpg(sleeping_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@pytest.mark.spark
def test_moto_reset_stops_the_warm_driver_and_the_next_job_warms_one(tmp_path):
    """The warm Spark driver is a process, not state: moto's reset stops it with the state it served, and the
    pool stays ready, so the next CreateJob starts a driver again (local behaviour; AWS has no such process)."""
    from test_glue_jobs import _processes_with_env

    state, port = tmp_path / "state", free_port()
    proc, url = start_server(state, port, LOCAL_AWS_GLUE_WARM_DRIVERS="1")
    drivers = lambda: _processes_with_env("SPARK_LOCAL_DIRS", str(state))  # noqa: E731 - the driver and its JVM
    try:
        glue = boto3.client("glue", endpoint_url=url, region_name="us-east-1")
        job = {"Role": "r", "GlueVersion": "5.0", "Command": {"Name": "glueetl", "ScriptLocation": "s3://nowhere/job.py"}}
        glue.create_job(Name="first", **job)
        _wait_for(drivers, 30, "creating a job starts a warm driver")
        assert requests.post(f"{url}/moto-api/reset", timeout=60).ok
        _wait_for(lambda: not drivers(), 20, "moto's reset stops the warm driver")
        glue.create_job(Name="second", **job)
        _wait_for(drivers, 30, "after a reset, creating a job starts a warm driver again")
    finally:
        stop_server(proc)
    _wait_for(lambda: not drivers(), 20, "stopping the server stops the warm driver")


def test_a_clean_stop_stops_running_runs_and_says_so_after_restart(tmp_path):
    """Stopping the server (SIGTERM) ends its running job runs STOPPED (their process group is killed), and that
    end is what the restarted server shows (GetJobRun JobRunState STOPPED: Glue API reference, "JobRun")."""
    state, port = tmp_path / "state", free_port()
    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    proc, url = start_server(state, port, **ENV)
    try:
        aws = Glue(url)
        aws.s3.create_bucket(Bucket=bucket)
        aws.s3.put_object(Bucket=bucket, Key="sleeper.py",
                          Body=b"import os, time\nprint('sleeper pid=%d' % os.getpid(), flush=True)\ntime.sleep(120)\n")
        aws.glue.create_job(Name="sleeper", Role="r", GlueVersion="5.0",
                            Command={"Name": "glueetl", "ScriptLocation": f"s3://{bucket}/sleeper.py"})
        run_id = aws.glue.start_job_run(JobName="sleeper")["JobRunId"]
        assert aws.wait_run("sleeper", run_id, states=("STARTING",))["JobRunState"] == "RUNNING"
        pid = _pid_in(state / "glue-jobs" / "sleeper" / run_id / "driver.log")
    finally:
        stop_server(proc)
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # the script's process group is gone with the server

    proc, url = start_server(state, port, **ENV)
    try:
        run = Glue(url).glue.get_job_run(JobName="sleeper", RunId=run_id)["JobRun"]
        assert run["JobRunState"] == "STOPPED" and "CompletedOn" in run
    finally:
        stop_server(proc)
