"""`make run`: the daily pipeline for one day, end to end, on the local AWS.

Starts the local AWS (state kept in .state/local-aws, so days accumulate across runs), deploys the stack with
the Glue script and the loader package, configures Airflow (SQLite, an `aws_default` connection to the local
endpoint, the stack outputs as the `sales_pipeline` Variable), runs the daily DAG with `airflow dags test` (tasks
in one process, no scheduler: the quickest way through one day) beside an Airflow api-server on the same metadata
database, shows each task's state live from the api-server's REST API (and prints where to watch it in the UI),
then a summary, writes a chart of daily revenue, and stops what it started.

The api-server is the price of the live view: about 6.5 s of CPU to start (begun before the stack's deployment,
which it does not need, but on 2 cores it still overlaps the run's first seconds) and about 25 ms of its CPU per poll
(one a second). Measured on a 1M-row day (2026-11-30, load average 3.6-4.5 from other work): 90.9 s against 79.3 s
without it, 9 s more CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from rich.console import Console

from pipeline_tools import cli_args
from pipeline_tools.airflow_env import AIRFLOW, REPO, airflow_env, migrate
from pipeline_tools.progress import Progress, TaskLines, task_table
from pipeline_tools.state_lock import StateLock

DAILY_DAG = "sales_pipeline_daily"
STATE_DIR = REPO / ".state"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--date", type=cli_args.day, default=date(2021, 12, 1), help="the day, YYYY-MM-DD")
    parser.add_argument("--rows", type=cli_args.rows, default=10_000, help="synthetic raw rows for the day")
    parser.add_argument("--dag-id", default=DAILY_DAG, choices=[DAILY_DAG, "sales_pipeline_state_machine"])
    parser.add_argument("--state-dir", type=Path, default=STATE_DIR)
    parser.add_argument("--port", type=cli_args.port, default=0, help="local AWS port (0: any free port)")
    parser.add_argument("--ui-port", type=cli_args.port, default=0,
                        help="the Airflow api-server's port (0: any free port)")
    parser.add_argument("--time-scale", type=cli_args.positive_float, default=0.1,
                        help="LOCAL_AWS_TIME_SCALE: how much shorter Wait states and retries run")
    parser.add_argument("--airflow", default=AIRFLOW,
                        help="the `airflow` executable that runs the DAG (e.g. .venv-mwaa/bin/airflow for MWAA's pins)")
    return parser.parse_args(argv)


def dags_test_command(dag_id: str, day: date, rows: int, airflow: str = AIRFLOW) -> list[str]:
    """`airflow dags test` for the day with its rows; `airflow` may be another venv's (MWAA's pins)."""
    return [airflow, "dags", "test", dag_id, day.isoformat(), "-c", json.dumps({"rows": rows})]


def follow_run(client, proc: subprocess.Popen, dag_id: str, day: date, since: datetime, progress: Progress,
               interval: float = 1.0):
    """Show the run `airflow dags test` makes for the day until the run has ended (or the process has, before
    any run started); returns the run (or None). The process may still be shutting down."""
    from airflow_client.client import DagRunApi, TaskInstanceApi
    from airflow_client.client.exceptions import NotFoundException

    runs, task_instances = DagRunApi(client), TaskInstanceApi(client)
    logical = datetime(day.year, day.month, day.day, tzinfo=UTC)
    run = None
    while True:
        finished = proc.poll() is not None
        if run is None:
            try:
                found = runs.get_dag_runs(dag_id, logical_date_gte=logical, logical_date_lte=logical,
                                          run_after_gte=since, limit=1).dag_runs
            except NotFoundException:  # `dags test` has not stored the DAG yet (a fresh state dir)
                found = []
            run = found[0] if found else None
        if run is not None:
            run = runs.get_dag_run(dag_id, run.dag_run_id)
            progress.update(task_instances.get_task_instances(dag_id, run.dag_run_id, limit=100).task_instances)
            if run.state.value in ("success", "failed"):
                return run
        if finished:
            return run
        time.sleep(interval)


def run_dag(env: dict, af, args: argparse.Namespace, log_path: Path, console: Console) -> bool:
    """`airflow dags test` for the day, followed through the api-server `af` beside it; True when the run
    succeeded (the api-server is then already stopping)."""
    from airflow_client.client import TaskInstanceApi

    from pipeline_tools.failures import print_failures

    cmd = dags_test_command(args.dag_id, args.date, args.rows, args.airflow)
    since = datetime.now(UTC) - timedelta(seconds=1)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        af.wait_ready()  # the api-server only reads what `dags test` writes to the database
        console.print(f"watch it in the {af.login}")
        title = f"{args.dag_id} {args.date} ({args.rows:,} rows)"
        with Progress(console, lambda tis, now: task_table(tis, now, title), TaskLines().changes) as progress:
            run = follow_run(af.client, proc, args.dag_id, args.date, since, progress)
        succeeded = run is not None and run.state.value == "success"
        if succeeded:
            af.stop()  # nothing more to show: the api-server stops while `dags test` exits
        proc.wait()
        if succeeded and proc.returncode == 0:
            return True
        if succeeded:
            console.print(f"[bold red]FAILED[/]: `airflow dags test` exited with {proc.returncode} after the run "
                          f"succeeded; see {log_path}")
        else:
            print_failures(console, TaskInstanceApi(af.client), args.dag_id, run, console_log=log_path)
        return False
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(highlight=False, soft_wrap=True)
    from local_aws.server import LocalAWS

    os.environ.setdefault("LOCAL_AWS_TIME_SCALE", str(args.time_scale))
    state_dir = args.state_dir.resolve()
    airflow_home = state_dir / "airflow"
    log_path = state_dir / "logs" / f"{args.dag_id}-{args.date}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with StateLock(state_dir), ThreadPoolExecutor(1) as background:
        # The metadata database needs no AWS: it is migrated while the local AWS starts (~3 s each).
        migrated = background.submit(migrate, airflow_env(airflow_home, None, {}), args.airflow)
        with LocalAWS(port=args.port, state_dir=state_dir / "local-aws") as aws:
            console.print(f"local AWS at {aws.endpoint_url} (state in {aws.state_dir})")
            migrated.result()
            if not run_with_aws(aws, airflow_home, args, log_path, console):
                return 1
    console.print(f"done in {time.monotonic() - started:.1f} s")
    return 0


def run_with_aws(aws, airflow_home: Path, args: argparse.Namespace, log_path: Path, console: Console) -> bool:
    """Deploy, run the DAG beside the api-server, then print the summary, the cost and the chart; False when the
    run failed (its failures printed)."""
    from pipeline_tools.airflow_services import AirflowServices
    from pipeline_tools.cost import cost_lines, read_cost_record
    from pipeline_tools.deploy import deploy_local
    from pipeline_tools.report import print_summary, write_revenue_chart

    bare = airflow_env(airflow_home, aws.endpoint_url, {})
    # The api-server needs neither the stack nor its outputs: it starts while the stack deploys.
    with AirflowServices(bare, airflow_home, components=("api-server",), port=args.ui_port or None,
                         wait=False) as af:
        outputs = deploy_local(aws.endpoint_url, REPO)
        console.print(f"stack deployed: lake s3://{outputs['DataLakeBucket']}, "
                      f"cluster {outputs['RedshiftClusterId']}")
        console.print(f"running {args.dag_id} for {args.date} with {args.rows:,} rows "
                      f"(airflow dags test; its output: {log_path})")
        if not run_dag(airflow_env(airflow_home, aws.endpoint_url, outputs), af, args, log_path, console):
            return False
        # The api-server is stopping already; the summary is read while it does.
        print_summary(aws.endpoint_url, outputs, args.date.isoformat())
        if cost := read_cost_record(aws.endpoint_url, outputs["DataLakeBucket"], args.date.isoformat()):
            print(f"\ncost of the run ({cost['run_id']})", *cost_lines(cost), sep="\n")
        chart = write_revenue_chart(aws.endpoint_url, outputs,
                                    args.state_dir.resolve().parent / "reports" / "daily_revenue.png")
        console.print(f"chart of daily revenue: {chart}")
    return True


if __name__ == "__main__":
    sys.exit(main())
