"""Reliability of whole runs (real Airflow against the local AWS): two runs of one day at once, and a crash of
the local AWS in the middle of a run. Both must end with the tables an uninterrupted single run gives.

- Two Airflow set-ups (separate metadata databases, one lake), one running the daily DAG and one the state-machine
  DAG for the same day at the same time: the day lock in the lake (S3 conditional writes, "Add preconditions to
  S3 operations with conditional requests", Amazon S3 User Guide) makes the second wait, so Redshift holds the
  day once and the processed partition holds one run's file.
- The local AWS killed (SIGKILL) while the day's Redshift load runs, then started again on its state folder: the
  execution the run waited on is still there (the server restores a running execution or job run as FAILED, never
  "does not exist"), and a re-run of the day converges to the tables a run without the crash leaves.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import boto3
import pytest

from local_aws.server import free_port
from pipeline_tools.airflow_env import AIRFLOW, airflow_env, migrate
from tests.e2e.test_pipeline_end_to_end import Stack
from tests.local_aws.server_process import start_server, stop_server

pytestmark = pytest.mark.e2e

DAY = "2021-12-01"
ROWS = 1500


def start_run(env: dict, dag_id: str, log: Path, day: str = DAY) -> subprocess.Popen:
    """`airflow dags test` in the background, its output to ``log``: a pipe nobody reads while the test waits
    fills up and stalls the run mid-task."""
    with log.open("w") as out:
        return subprocess.Popen([AIRFLOW, "dags", "test", dag_id, day, "-c", json.dumps({"rows": ROWS})], env=env,
                                stdout=out, stderr=subprocess.STDOUT, text=True)


def finished(run: subprocess.Popen, log: Path, timeout: float = 900) -> str:
    run.wait(timeout=timeout)
    output = log.read_text(errors="replace")
    failures = [line for line in output.splitlines() if "Task failed with exception" in line or "[error" in line]
    assert run.returncode == 0, "\n".join(failures[-20:]) + "\n...\n" + output[-3000:]
    return output


def day_figures(stack: Stack) -> dict:
    manifest = json.loads(stack.read(f"manifests/sales/dt={DAY}.json"))
    (count,) = stack.redshift(f"select count(*) from public.sales where trunc(\"timestamp\") = '{DAY}'")[0]
    return {"manifest_rows_out": manifest["rows_out"], "warehouse_rows": int(count),
            "processed_files": len(stack.keys("processed/sales/year=2021/month=12/day=1/")),
            "locks": stack.keys("locks/")}


def test_two_setups_running_one_day_at_once_load_it_once(local_aws, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reliability-twice")
    stack = Stack(local_aws.endpoint_url, "twice", tmp)
    other_env = airflow_env(tmp / "other" / "airflow", local_aws.endpoint_url, stack.outputs)
    migrate(other_env)
    logs = [tmp / "daily.log", tmp / "state_machine.log"]
    runs = [start_run(stack.env, "sales_pipeline_daily", logs[0]),
            start_run(other_env, "sales_pipeline_state_machine", logs[1])]
    outputs = [finished(run, log) for run, log in zip(runs, logs, strict=True)]
    assert any("is being processed by run" in output for output in outputs), "the two runs never met at the lock"
    figures = day_figures(stack)
    assert figures == {"manifest_rows_out": figures["warehouse_rows"], "warehouse_rows": figures["warehouse_rows"],
                       "processed_files": 1, "locks": []}
    assert stack.quality(DAY)["processed_rows"] == figures["warehouse_rows"]


def test_a_crash_of_the_local_aws_mid_load_converges_on_a_rerun(tmp_path):
    port = free_port()
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    server, url = start_server(state_dir, port)
    try:
        stack = Stack(url, "crash", tmp_path)
        sfn = boto3.client("stepfunctions", endpoint_url=url)
        log = tmp_path / "crashed-run.log"
        # The task whose trigger lost its connection retries: after 2 s, not the DAG's default 30 s. Unbuffered, so
        # the log below is read as the run writes it.
        run = start_run({**stack.env, "SALES_PIPELINE_RETRY_DELAY_SECONDS": "2", "PYTHONUNBUFFERED": "1"},
                        "sales_pipeline_daily", log)
        # The load's execution once StartExecution has answered the run (the provider's operator logs the ARN it
        # got back): acknowledged, so a crash must not lose it. ListExecutions is no such sign: it can show a start
        # a few milliseconds before that start is committed and answered (CI: killed in that window, the start was
        # gone after the restart; the run, never answered, would have retried it).
        started = re.compile(r"Started State Machine execution for \S+: (arn:\S+:execution:\S+:redshift_load-\S+)")
        deadline = time.monotonic() + 600
        while not (acknowledged := started.search(log.read_text(errors="replace"))):
            assert run.poll() is None and time.monotonic() < deadline, "the run ended before its Redshift load"
            time.sleep(0.2)
        server.kill()  # SIGKILL while the load's execution runs: no clean stop
        server.wait()
        server, url = start_server(state_dir, port)
        # The id the run was waiting on survives the crash: the execution ended, FAILED if it was cut short.
        described = sfn.describe_execution(executionArn=acknowledged.group(1))
        assert described["status"] in ("FAILED", "SUCCEEDED")
        run.wait(timeout=900)
        output = log.read_text(errors="replace")
        # No id the local AWS acknowledged was lost: none of its "no such execution/statement" refusals in the log.
        # (Airflow's own "xcom ... not found" lines, from a retried task looking for its last try, are not ours.)
        lost = ("ExecutionDoesNotExist", "Execution Does Not Exist",  # Step Functions
                "ResourceNotFoundException", "Query does not exist")  # Redshift Data API
        assert not [refusal for refusal in lost if refusal in output]
        # `airflow dags test` fails a task whose in-line trigger lost its connection without retrying it (the
        # scheduler would retry it): whatever that run's outcome, a re-run of the day must end reconciled.
        stack.run("sales_pipeline_daily", DAY)
        figures = day_figures(stack)
        assert figures["warehouse_rows"] == figures["manifest_rows_out"] and figures["locks"] == []
        # ... with the tables a run that never crashed leaves (a second stack on the same server).
        clean = Stack(url, "clean", tmp_path)
        clean.run("sales_pipeline_daily", DAY)
        assert stack.snapshot() == clean.snapshot()
    finally:
        stop_server(server)
