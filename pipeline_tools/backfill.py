"""`make backfill FROM=... TO=...`: Airflow's own backfill of the daily DAG, against the local AWS.

A backfill needs a scheduler, so this starts Airflow's components (pipeline_tools.airflow_services), creates the
backfill through the REST API with bounded parallel runs, follows its runs to the end and prints one line a day.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

from pipeline_tools.airflow_env import REPO, airflow_env, migrate
from pipeline_tools.airflow_services import AirflowServices

DAILY_DAG = "sales_pipeline_daily"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-date", type=date.fromisoformat, required=True)
    parser.add_argument("--to-date", type=date.fromisoformat, required=True)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--max-active-runs", type=int, default=2, help="days processed at once")
    parser.add_argument("--reprocess", choices=["none", "failed", "completed"], default="completed",
                        help="what to do with days that already have a run")
    parser.add_argument("--state-dir", type=Path, default=REPO / ".state")
    parser.add_argument("--time-scale", type=float, default=0.1)
    args = parser.parse_args(argv)
    if args.to_date < args.from_date:
        parser.error("--to-date is before --from-date")
    return args


def run_backfill(af: AirflowServices, args: argparse.Namespace) -> list[dict]:
    af.wait_for_dag(DAILY_DAG)
    backfill = af.api("POST", "/backfills", json={
        "dag_id": DAILY_DAG,
        # A daily run for day D covers [D, D+1): the range is of logical dates, both ends included.
        "from_date": f"{args.from_date.isoformat()}T00:00:00Z",
        "to_date": f"{args.to_date.isoformat()}T00:00:00Z",
        "max_active_runs": args.max_active_runs,
        "reprocess_behavior": args.reprocess,
        "dag_run_conf": {"rows": args.rows},
    })
    print(f"backfill {backfill['id']} created: {args.from_date} .. {args.to_date}, "
          f"{args.max_active_runs} run(s) at a time")
    while True:
        state = af.api("GET", f"/backfills/{backfill['id']}")
        if state.get("completed_at"):
            break
        time.sleep(3)
    runs = af.api("GET", f"/dags/{DAILY_DAG}/dagRuns", params={"limit": 1000, "run_type": "backfill"})
    mine = [r for r in runs["dag_runs"] if r.get("backfill_id") in (None, backfill["id"])]
    return af.wait_for_runs(DAILY_DAG, run_ids=[r["dag_run_id"] for r in mine])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from local_aws.server import LocalAWS
    from pipeline_tools.deploy import deploy_local

    os.environ.setdefault("LOCAL_AWS_TIME_SCALE", str(args.time_scale))
    state_dir = args.state_dir.resolve()
    started = time.monotonic()
    with LocalAWS(port=0, state_dir=state_dir / "local-aws") as aws:
        outputs = deploy_local(aws.endpoint_url, REPO)
        env = airflow_env(state_dir / "airflow-backfill", aws.endpoint_url, outputs, poll_seconds=1)
        migrate(env)
        with AirflowServices(env, state_dir / "airflow-backfill") as af:
            runs = run_backfill(af, args)
    failed = 0
    for run in sorted(runs, key=lambda r: r["logical_date"]):
        failed += run["state"] != "success"
        print(f"  {run['logical_date'][:10]}  {run['state']}")
    print(f"{len(runs)} day(s), {failed} failed, {time.monotonic() - started:.0f} s")
    return 1 if failed or not runs else 0


if __name__ == "__main__":
    sys.exit(main())
