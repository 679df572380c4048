"""`make run`: the daily pipeline for one day, end to end, on the local AWS.

Starts the local AWS (state kept in .state/local-aws, so days accumulate across runs), deploys the stack with
the Glue script and the loader package, configures Airflow (SQLite, an `aws_default` connection to the local
endpoint, the stack outputs as the `sales_pipeline` Variable), runs the daily DAG with `airflow dags test`,
prints each task as it finishes and a summary, writes a chart of daily revenue, and stops what it started.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

from pipeline_tools.airflow_env import AIRFLOW, REPO, airflow_env, migrate
from pipeline_tools.progress import ProgressPrinter, TaskResult, task_results
from pipeline_tools.report import print_summary, write_revenue_chart

DAILY_DAG = "sales_pipeline_daily"
STATE_DIR = REPO / ".state"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--date", type=date.fromisoformat, default=date(2021, 12, 1), help="YYYY-MM-DD")
    parser.add_argument("--rows", type=int, default=10_000, help="synthetic raw rows for the day")
    parser.add_argument("--dag-id", default=DAILY_DAG, choices=[DAILY_DAG, "sales_pipeline_state_machine"])
    parser.add_argument("--state-dir", type=Path, default=STATE_DIR)
    parser.add_argument("--port", type=int, default=0, help="local AWS port (0: any free port)")
    parser.add_argument("--time-scale", type=float, default=0.1,
                        help="LOCAL_AWS_TIME_SCALE: how much shorter Wait states and retries run")
    parser.add_argument("--airflow", default=AIRFLOW,
                        help="the `airflow` executable that runs the DAG (e.g. .venv-mwaa/bin/airflow for MWAA's pins)")
    return parser.parse_args(argv)


def run_dag(env: dict, dag_id: str, day: date, rows: int, log_path: Path,
            airflow_home: Path, airflow: str = AIRFLOW) -> tuple[bool, list[TaskResult]]:
    """`airflow dags test` for the day: (succeeded, the run's tasks). Its full output goes to log_path.
    airflow: the `airflow` executable, so another venv's Airflow (MWAA's pins) can run the day."""
    cmd = [airflow, "dags", "test", dag_id, day.isoformat(), "-c", json.dumps({"rows": rows})]
    started = datetime.now(UTC)
    with open(log_path, "w") as log, ProgressPrinter(airflow_home / "airflow.db", dag_id, day.isoformat()):
        result = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    results = task_results(airflow_home / "airflow.db", dag_id, day.isoformat(), since=started)
    failed = [r for r in results if r.state not in ("success", "skipped")]
    return result.returncode == 0 and not failed and bool(results), results


def print_failure(log_path: Path, results: list[TaskResult]) -> None:
    """The failing tasks and the error lines Airflow logged for them."""
    failed = [r for r in results if r.state == "failed"]
    print(f"\nFAILED: {', '.join(r.task_id for r in failed) or 'the DAG run'} (full log: {log_path})")
    lines = log_path.read_text(errors="replace").splitlines()
    errors = [line for line in lines if "ERROR" in line or "Error" in line or "Traceback" in line]
    for line in (errors or lines)[-40:]:
        print("  " + line[:400])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from local_aws.server import LocalAWS
    from pipeline_tools.deploy import deploy_local

    os.environ.setdefault("LOCAL_AWS_TIME_SCALE", str(args.time_scale))
    state_dir = args.state_dir.resolve()
    airflow_home = state_dir / "airflow"
    log_path = state_dir / "logs" / f"{args.dag_id}-{args.date}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with LocalAWS(port=args.port, state_dir=state_dir / "local-aws") as aws:
        print(f"local AWS at {aws.endpoint_url} (state in {aws.state_dir})")
        outputs = deploy_local(aws.endpoint_url, REPO)
        print(f"stack deployed: lake s3://{outputs['DataLakeBucket']}, cluster {outputs['RedshiftClusterId']}")
        env = airflow_env(airflow_home, aws.endpoint_url, outputs)
        migrate(env, args.airflow)
        print(f"running {args.dag_id} for {args.date} with {args.rows} rows")
        ok, results = run_dag(env, args.dag_id, args.date, args.rows, log_path, airflow_home, args.airflow)
        if not ok:
            print_failure(log_path, results)
            return 1
        print_summary(aws.endpoint_url, outputs, args.date.isoformat())
        chart = write_revenue_chart(aws.endpoint_url, outputs, state_dir.parent / "reports" / "daily_revenue.png")
        print(f"chart of daily revenue: {chart}")
    print(f"done in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
