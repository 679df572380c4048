"""The pipeline's speed on the local AWS and what orchestration costs, measured side by side in one run.

1. one day through the daily DAG under Airflow's real scheduler, per stage, for several sizes; Glue and COPY rows/s
2. the same day three ways: (a) the daily DAG, (b) the DataPipeline state machine alone, (c) the compute floor
4. the cost of waiting: worker-slot seconds and AWS API calls per minute for every waiting task
5. a multi-day backfill against one day
(3, DAG parse time, is bench/parse_time.py.)

Everything runs in one local AWS and one Airflow, after a warm-up day, so the ratios compare like with like.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from datetime import date, timedelta

from bench import compute_floor, engines, state_machine
from bench.dag_runs import DAILY_DAG, DagRunTiming, failed_tasks, run_day
from bench.stack import BenchStack
from pipeline_tools.airflow_services import AirflowServices

WARMUP_DAY = "2021-11-30"
FIRST_DAY = date(2021, 12, 1)
TARGET_1M_SECONDS = 60
TARGET_DAG_OVER_STATE_MACHINE = 1.2
TARGET_DAG_OVER_FLOOR = 2.0
STAGES = ("load_raw", "crawl_raw", "transform", "crawl_processed", "redshift_ddl", "redshift_load",
          "redshift_views", "redshift_unload", "crawl_aggregated", "validate")
# What each kind of waiting task calls, and the class the provider names as the caller when the task's own
# process calls. Calls made from the triggerer name no operator; they are matched by action and time instead.
_POLLS = {
    "start_execution": ("StepFunctionStartExecutionOperator", {"StartExecution", "DescribeExecution"}),
    "wait_for_crawler": ("GlueCrawlerSensor", {"GetCrawler"}),
    "wait_for_statement": ("RedshiftStatementSensor", {"DescribeStatement", "DescribeExecution"}),
    "run_glue_job": ("InputRefusalGlueJobOperator", {"GetJob", "StartJobRun", "GetJobRun"}),
}
# The tasks that wait on AWS (deferred in the triggerer, or a sensor in reschedule mode).
WAITING_SUFFIXES = tuple(_POLLS)


def _verdict(ok: bool) -> str:
    return "met" if ok else "**MISSED**"


def _check(timing: DagRunTiming) -> None:
    if timing.state != "success":
        raise RuntimeError(f"{timing.dag_id} {timing.run_id} ended {timing.state}: {failed_tasks(timing)}")


def per_size(stack, af, sizes: list[int]) -> tuple[list[str], dict[int, DagRunTiming]]:
    lines = ["## 1. One day end to end (daily DAG, real scheduler)", "",
             "Wall time from triggering the run (REST API) to its success; a stage runs from its first task's "
             "start to its last task's end (stages overlap: the warehouse DDL runs beside the lake stages).", "",
             "| raw rows | end to end | " + " | ".join(STAGES) + " | Glue job rows/s | COPY rows/s |",
             "| ---: | ---: | " + " | ".join("---:" for _ in STAGES) + " | ---: | ---: |"]
    timings = {}
    for offset, rows in enumerate(sizes):
        day = (FIRST_DAY + timedelta(days=offset)).isoformat()
        print(f"daily DAG, {rows} rows ({day}) ...", flush=True)
        timing = run_day(af, stack.airflow_home / "airflow.db", DAILY_DAG, day, rows, f"size{rows}")
        _check(timing)
        timings[rows] = timing
        spans = timing.stages()
        glue, copy = engines.glue_job_seconds(stack, day), engines.copy_seconds(stack, day)
        processed = _processed_rows(stack, day)
        cells = [f"{spans[s][1] - spans[s][0]:.1f} s" if s in spans else "-" for s in STAGES]
        lines.append(f"| {rows:,} | {timing.wall_seconds:.1f} s | " + " | ".join(cells)
                     + f" | {_rate(rows, glue)} | {_rate(processed, copy)} |")
        print(f"  {timing.wall_seconds:.1f} s", flush=True)
    if 1_000_000 in timings:
        wall = timings[1_000_000].wall_seconds
        lines += ["", f"Target: 1M rows end to end under {TARGET_1M_SECONDS} s warm: {wall:.1f} s, "
                      f"{_verdict(wall < TARGET_1M_SECONDS)}."]
    lines += ["", "Glue job rows/s: raw rows over the job run's own StartedOn..CompletedOn (local Spark start "
                  "included). COPY rows/s: processed rows over the COPY sub-statement's Duration.", ""]
    return lines, timings


def _rate(rows: int | None, seconds: float | None) -> str:
    return f"{rows / seconds:,.0f}" if rows and seconds else "-"


def _processed_rows(stack, day: str) -> int | None:
    s3 = stack.client("s3")
    body = s3.get_object(Bucket=stack.outputs["DataLakeBucket"], Key=f"manifests/sales/dt={day}.json")["Body"]
    return json.loads(body.read())["rows_out"]


def overhead(stack, af, rows: int, daily: DagRunTiming | None) -> tuple[list[str], DagRunTiming]:
    day = daily.day if daily else (FIRST_DAY + timedelta(days=20)).isoformat()
    if daily is None:
        print(f"daily DAG, {rows} rows ({day}) ...", flush=True)
        daily = run_day(af, stack.airflow_home / "airflow.db", DAILY_DAG, day, rows, "overhead")
        _check(daily)
    print(f"DataPipeline state machine alone, {rows} rows ({day}) ...", flush=True)
    machine = state_machine.run_pipeline(stack, day, rows)
    if machine.status != "SUCCEEDED":
        raise RuntimeError(f"DataPipeline ended {machine.status}: {machine.error}")
    print(f"compute floor, {rows} rows ({day}) ...", flush=True)
    floor = compute_floor.measure(stack, day, rows)
    a, b, c = daily.wall_seconds, machine.wall_seconds, floor.total_seconds
    # The state machine stops after the aggregate crawl; the DAG then reconciles. Compared without that too.
    a_same_work = max(t.end for t in daily.tasks if t.stage != "validate") - daily.started
    spans = daily.stages()
    lines = [f"## 2. Orchestration overhead ({rows:,} rows, {day})", "",
             "(a) the daily DAG under the real scheduler; (b) the DataPipeline state machine alone (boto3 start + "
             "poll); (c) the compute floor: loader generation, the Glue script on local Spark and every Redshift "
             "stage straight on the warehouse engine, no orchestration.", "",
             "| | wall | ratio | target |", "| --- | ---: | ---: | --- |",
             f"| (a) daily DAG | {a:.1f} s | | |",
             f"| (a') daily DAG to the end of crawl_aggregated (the state machine's last step) | {a_same_work:.1f} s "
             f"| (a')/(b) = {a_same_work / b:.2f} | <= {TARGET_DAG_OVER_STATE_MACHINE}: "
             f"{_verdict(a_same_work / b <= TARGET_DAG_OVER_STATE_MACHINE)} |",
             f"| (b) state machine | {b:.1f} s | (a)/(b) = {a / b:.2f} | <= {TARGET_DAG_OVER_STATE_MACHINE}: "
             f"{_verdict(a / b <= TARGET_DAG_OVER_STATE_MACHINE)} |",
             f"| (c) compute floor | {c:.1f} s | (a)/(c) = {a / c:.2f} | <= {TARGET_DAG_OVER_FLOOR}: "
             f"{_verdict(a / c <= TARGET_DAG_OVER_FLOOR)} |", "",
             "Where the time goes, stage by stage (seconds):", "",
             "| stage | (a) DAG stage | (b) state | (c) floor |", "| --- | ---: | ---: | ---: |"]
    machine_state = {"load_raw": "LoadRawSales", "crawl_raw": "CrawlRaw", "transform": "TransformSales",
                     "crawl_processed": "CrawlProcessed", "redshift_ddl": "RedshiftDDL",
                     "redshift_load": "RedshiftLoadDay", "redshift_views": "RedshiftViews",
                     "redshift_unload": "RedshiftUnload", "crawl_aggregated": "CrawlAggregated"}
    floor_part = {"load_raw": floor.loader_seconds, "transform": floor.spark_start_seconds + floor.glue_job_seconds,
                  **{f"redshift_{k}": v for k, v in floor.sql_seconds.items()}}
    for stage in STAGES:
        dag_cell = f"{spans[stage][1] - spans[stage][0]:.1f}" if stage in spans else "-"
        state = machine.states.get(machine_state.get(stage, ""))
        floor_cell = f"{floor_part[stage]:.1f}" if stage in floor_part else "-"
        lines.append(f"| {stage} | {dag_cell} | {f'{state:.1f}' if state is not None else '-'} | {floor_cell} |")
    lines += ["", _gap_explained(a, b, spans, {stage: machine.states.get(state) for stage, state in
                                                machine_state.items()})]
    lines += ["", f"Floor detail: Spark start {floor.spark_start_seconds:.1f} s, Glue job {floor.glue_job_seconds:.1f}"
                  f" s, loader {floor.loader_seconds:.1f} s, SQL {sum(floor.sql_seconds.values()):.1f} s "
                  f"({floor.rows_out:,} rows out).", ""]
    lines += _timeline(daily)
    return lines, daily


def _gap_explained(a: float, b: float, spans: dict, states: dict) -> str:
    """Split (a) - (b) into time inside the stages, the DAG-only validate stage, and time between stages."""
    both = [s for s, seconds in states.items() if seconds is not None and s in spans and s != "redshift_ddl"]
    inside = sum(spans[s][1] - spans[s][0] - states[s] for s in both)  # redshift_ddl overlaps the lake stages
    short = [s for s in both if s not in ("load_raw", "transform")]
    per_short = sum(spans[s][1] - spans[s][0] - states[s] for s in short) / max(len(short), 1)
    validate = spans["validate"][1] - spans["validate"][0] if "validate" in spans else 0.0
    return (f"Of the {a - b:.1f} s between (a) and (b): {inside:.1f} s inside the stages on the critical path "
            f"({per_short:.1f} s more per short stage: the start task, its deferral round trip and the sensor task), "
            f"{validate:.1f} s the validate stage the state machine does not have, and {a - b - inside - validate:.1f}"
            " s between stages (the scheduler starting the next task).")


def _timeline(timing: DagRunTiming) -> list[str]:
    """Where the DAG's wall time goes: each task's start after the last task before it ended (the scheduler's
    and the worker start-up's share), its own wall time and how much of it was deferred."""
    ordered = sorted(timing.tasks, key=lambda t: t.start)
    lines = ["Daily DAG timeline (seconds; 'start lag' is the task's start minus the latest end of the tasks that "
             "had ended before it: scheduling, queueing and the worker's start-up):", "",
             "| task | starts at | start lag | wall | deferred | up for reschedule |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    lag_total = 0.0
    for t in ordered:
        before = [o.end for o in ordered if o.end <= t.start]
        lag = t.start - max(before) if before else t.start - timing.started
        lag_total += lag
        states = timing.state_seconds.get(t.task_id, {})
        lines.append(f"| {t.task_id} | {t.start - timing.started:.1f} | {lag:.1f} | {t.end - t.start:.1f} | "
                     f"{states.get('deferred', 0.0):.1f} | {states.get('up_for_reschedule', 0.0):.1f} |")
    tail = timing.started + timing.wall_seconds - max(t.end for t in ordered)
    lines += ["", f"{len(ordered)} task instances; start lags add up to {lag_total:.1f} s; {tail:.1f} s from the "
                  "last task's end to the run's final state being seen.", ""]
    return lines


def waiting_cost(stack, timing: DagRunTiming) -> list[str]:
    lines = [f"## 4. The cost of waiting ({timing.rows:,} rows, {timing.day})", "",
             "Per waiting task: its wall time; seconds a LocalExecutor worker was busy with it (sampled from the "
             "workers' process titles every 0.2 s; this includes the worker starting the task's process before "
             "the task's own start and winding it down after), in all, while Airflow had the task deferred, and "
             "while deferred for more than 5 s (a slot held during the wait itself); seconds deferred and up for "
             "reschedule; the AWS API calls Airflow made for it (the provider names the operator or sensor in the "
             "User-Agent; calls from the triggerer are matched by action and time); calls per minute for waits of "
             "10 s or more.", "",
             "| task | mode | wall | worker-slot s | slot s while deferred | ... after 5 s deferred | deferred s "
             "| up for reschedule s | calls (by action) | calls/min |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
    waiting = [t for t in sorted(timing.tasks, key=lambda t: t.start) if t.task_id.endswith(WAITING_SUFFIXES)]
    shares = attribute_calls(waiting, stack.calls.between(timing.started, timing.started + timing.wall_seconds))
    for t in waiting:
        states = timing.state_seconds.get(t.task_id, {})
        deferred, rescheduled = states.get("deferred", 0.0), states.get("up_for_reschedule", 0.0)
        mode = "reschedule" if t.task_id.endswith("wait_for_crawler") else "deferrable"
        calls = shares[t.task_id]
        wall = t.end - t.start
        per_minute = f"{sum(calls.values()) / wall * 60:.1f}" if wall >= 10 else "-"
        lines.append(
            f"| {t.task_id} | {mode} | {wall:.1f} s | {timing.slot_seconds.get(t.task_id, 0.0):.1f} | "
            f"{timing.slot_seconds_deferred.get(t.task_id, 0.0):.1f} | "
            f"{timing.slot_seconds_deferred_settled.get(t.task_id, 0.0):.1f} | {deferred:.1f} | {rescheduled:.1f} | "
            + ", ".join(f"{action} {n:g}" for action, n in calls.most_common()) + f" | {per_minute} |")
    held, settled = sum(timing.slot_seconds_deferred.values()), sum(timing.slot_seconds_deferred_settled.values())
    lines += ["", f"Worker-slot seconds while deferred, all tasks: {held:.1f}, of which {settled:.1f} more than 5 s "
                  f"into a deferral (target 0 while deferred: {_verdict(held == 0)}; during the wait itself: "
                  f"{_verdict(settled == 0)}).", ""]
    return lines


def attribute_calls(tasks: list, calls: list) -> dict[str, Counter]:
    """task_id -> calls by action, for the calls Airflow made (boto3 calls outside Airflow name no caller).
    A call that several waiting tasks could have made is shared between them."""
    shares: dict[str, Counter] = {t.task_id: Counter() for t in tasks}
    for call in calls:
        if not call.caller:
            continue
        candidates = []
        for t in tasks:
            caller, actions = _POLLS.get(t.task_id.rsplit(".", 1)[-1], ("", set()))
            if call.action not in actions or not t.start <= call.at <= t.end + 0.5:
                continue
            # The triggerer's calls name no operator ("Unknown"): any waiting task could have made them.
            if call.caller == caller or not call.caller.endswith(("Operator", "Sensor")):
                candidates.append(t.task_id)
        for task_id in candidates:
            shares[task_id][call.action] += 1 / len(candidates)
    return shares


def backfill(stack, af, days: int, rows: int, one_day: DagRunTiming | None) -> list[str]:
    from pipeline_tools.backfill import run_backfill

    start = FIRST_DAY + timedelta(days=40)
    if one_day is None:
        print(f"daily DAG, {rows} rows (one day for the backfill comparison) ...", flush=True)
        one_day = run_day(af, stack.airflow_home / "airflow.db", DAILY_DAG, (start - timedelta(days=1)).isoformat(),
                          rows, "oneday")
        _check(one_day)
    print(f"backfill of {days} days x {rows} rows ...", flush=True)

    args = argparse.Namespace(from_date=start, to_date=start + timedelta(days=days - 1), rows=rows,
                              max_active_runs=3, reprocess="completed")  # as pipeline_tools.backfill's CLI passes
    started = time.monotonic()
    runs = run_backfill(af, args)
    wall = time.monotonic() - started
    ok = sum(r.state.value == "success" for r in runs)
    return [f"## 5. Backfill: {days} days against one day ({rows:,} rows a day)", "",
            f"- one day (triggered alone): {one_day.wall_seconds:.1f} s",
            f"- {days} days through Airflow's backfill (max_active_runs 3): {wall:.1f} s, {ok}/{len(runs)} succeeded",
            f"- ratio: {wall / one_day.wall_seconds:.2f} x one day ({wall / days:.1f} s a day)", ""]


def main(sizes: list[int], overhead_rows: int, backfill_days: int, backfill_rows: int) -> list[str]:
    with BenchStack() as stack, AirflowServices(stack.env, stack.airflow_home, parallelism=8) as af:
        af.wait_for_dag(DAILY_DAG)
        print("warm-up day ...", flush=True)
        _check(run_day(af, stack.airflow_home / "airflow.db", DAILY_DAG, WARMUP_DAY, 10_000, "warmup"))
        lines, timings = per_size(stack, af, sizes)
        more, daily = overhead(stack, af, overhead_rows, timings.get(overhead_rows))
        lines += more
        lines += waiting_cost(stack, daily)
        if backfill_days:
            lines += backfill(stack, af, backfill_days, backfill_rows, timings.get(backfill_rows))
    return lines
