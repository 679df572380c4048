"""`make backfill FROM=... TO=...`: Airflow's own backfill of the daily DAG, against the local AWS.

A backfill needs a scheduler, so this starts Airflow's components (pipeline_tools.airflow_services), prints the
UI's address and login (the run can be watched there), creates the backfill through the REST API with bounded
parallel runs, and shows each day's task groups live until every day has finished; failed tasks are shown with
their error and log.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

from rich.console import Console

from pipeline_tools import cli_args
from pipeline_tools.airflow_env import REPO
from pipeline_tools.local_stack import airflow_on_local_aws
from pipeline_tools.progress import FINISHED, GroupLines, Progress, backfill_table, group_names

DAILY_DAG = "sales_pipeline_daily"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-date", type=cli_args.day, required=True, help="first day, YYYY-MM-DD")
    parser.add_argument("--to-date", type=cli_args.day, required=True, help="last day (included), YYYY-MM-DD")
    parser.add_argument("--rows", type=cli_args.rows, default=10_000, help="synthetic raw rows a day")
    parser.add_argument("--max-active-runs", type=cli_args.positive_int, default=2, help="days processed at once")
    parser.add_argument("--reprocess", choices=["none", "failed", "completed"], default="completed",
                        help="what to do with days that already have a run")
    parser.add_argument("--state-dir", type=Path, default=REPO / ".state")
    parser.add_argument("--ui-port", type=cli_args.port, default=0, help="the Airflow UI's port (0: any free port)")
    parser.add_argument("--time-scale", type=cli_args.positive_float, default=0.1)
    args = parser.parse_args(argv)
    if args.to_date < args.from_date:
        parser.error(f"--to-date {args.to_date} is before --from-date {args.from_date}")
    if args.to_date >= datetime.now(UTC).date():
        parser.error(f"--to-date {args.to_date} is not over yet: a daily run covers a day that has ended")
    return args


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def create_backfill(client, args: argparse.Namespace):
    from airflow_client.client import BackfillApi, BackfillPostBody, ReprocessBehavior

    return BackfillApi(client).create_backfill(BackfillPostBody(
        dag_id=DAILY_DAG,
        # A daily run for day D covers [D, D+1): the range is of logical dates, both ends included.
        from_date=_midnight(args.from_date),
        to_date=_midnight(args.to_date),
        max_active_runs=args.max_active_runs,
        reprocess_behavior=ReprocessBehavior(args.reprocess),
        dag_run_conf={"rows": args.rows},
    ))


def follow_backfill(af, backfill, args: argparse.Namespace, progress: Progress | None,
                    interval: float = 2.0) -> list:
    """Until the backfill has completed and its runs have finished; returns the runs (DAGRunResponse)."""
    from airflow_client.client import BackfillApi, DagRunApi, TaskInstanceApi

    backfills, runs_api, task_instances = BackfillApi(af.client), DagRunApi(af.client), TaskInstanceApi(af.client)
    while True:
        if stopped := af.exited():
            raise RuntimeError(stopped)
        completed = backfills.get_backfill(backfill.id).completed_at is not None
        runs = runs_api.get_dag_runs(DAILY_DAG, logical_date_gte=_midnight(args.from_date),
                                     logical_date_lte=_midnight(args.to_date), limit=100).dag_runs
        if progress is not None:
            days = {r.logical_date.date().isoformat(): (r.state.value, task_instances.get_task_instances(
                DAILY_DAG, r.dag_run_id, limit=100).task_instances) for r in runs}
            progress.update(days, group_names(ti for _, tis in days.values() for ti in tis))
        if completed and runs and all(r.state.value in FINISHED for r in runs):
            return runs
        time.sleep(interval)


def run_backfill(af, args: argparse.Namespace, progress: Progress | None = None) -> list:
    """Airflow's backfill of the daily DAG for args.from_date .. args.to_date, followed to its end (shown on
    `progress` when given); returns its runs."""
    af.wait_for_dag(DAILY_DAG)
    backfill = create_backfill(af.client, args)
    return follow_backfill(af, backfill, args, progress)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(highlight=False, soft_wrap=True)
    from airflow_client.client import TaskInstanceApi

    from pipeline_tools.failures import print_failures

    os.environ.setdefault("LOCAL_AWS_TIME_SCALE", str(args.time_scale))
    started = time.monotonic()
    with airflow_on_local_aws(args.state_dir, console, port=args.ui_port or None) as af:
        console.print(str(af.login))
        console.print(f"backfill of {DAILY_DAG}: {args.from_date} .. {args.to_date}, {args.rows:,} rows a day, "
                      f"{args.max_active_runs} day(s) at a time")
        title = f"{DAILY_DAG} {args.from_date} .. {args.to_date} (each task group: state, seconds)"
        with Progress(console, lambda days, names, now: backfill_table(days, names, now, title),
                      GroupLines().changes) as progress:
            runs = run_backfill(af, args, progress)
        failed = [r for r in runs if r.state.value != "success"]
        for run in failed:
            print_failures(console, TaskInstanceApi(af.client), DAILY_DAG, run)
    console.print(f"{len(runs)} day(s), {len(failed)} failed, {time.monotonic() - started:.0f} s")
    return 1 if failed or not runs else 0


if __name__ == "__main__":
    sys.exit(main())
