"""What failed in a DAG run, from Airflow's REST API: each failed task, its error and the path of its log.

The log comes from the API's task log endpoint (`get_log`): structured events, the first group naming the log
file(s) it was read from, an `error_detail` on the event that carries the exception. It is read as the raw JSON
answer (`get_log_without_preload_content`): the client's typed model keeps only `event` and `timestamp` of a line.

A task run by `airflow dags test` ran inside that command's process and has no task log in Airflow: then the
command's own output is its log, and the lines between its "[DAG TEST] starting task_id=..." and "end task" markers
are the task's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

FAILED = "failed"
ERROR_LEVELS = {"error", "critical", "exception"}
SOURCE_GROUP = "::group::Log message source details"


@dataclass
class TaskFailure:
    task_id: str
    operator: str | None
    try_number: int
    max_tries: int
    duration: float | None
    errors: list[str] = field(default_factory=list)  # the error events, the exception last
    log_paths: list[str] = field(default_factory=list)


def read_log(events: list[dict]) -> tuple[list[str], list[str]]:
    """(error lines, log file paths) from a task log's structured events (the answer's `content`)."""
    errors, paths, in_sources = [], [], False
    for event in events:
        if not isinstance(event, dict):
            continue  # a plain-text line
        text = str(event.get("event", ""))
        if text == SOURCE_GROUP:
            in_sources = True
            continue
        if in_sources:
            if text == "::endgroup::":
                in_sources = False
            elif text.startswith("/") and "level" not in event:
                paths.append(text)
            continue
        if str(event.get("level", "")).lower() not in ERROR_LEVELS:
            continue
        for detail in event.get("error_detail") or []:
            text = f"{text}: {detail.get('exc_type')}: {detail.get('exc_value')}"
        if text not in errors:
            errors.append(text)
    return errors, paths


def dags_test_section(console_log: Path, task_id: str) -> list[str]:
    """The last stretch of `airflow dags test` output that ran `task_id` (its own lines, in its markers)."""
    start, end = f"[DAG TEST] starting task_id={task_id} ", f"[DAG TEST] end task task_id={task_id} "
    section: list[str] = []
    inside = False
    for line in console_log.read_text(errors="replace").splitlines():
        if start in line:
            section, inside = [], True
        if inside:
            section.append(line)
            if end in line:
                inside = False
    return section


def collect(api, dag_id: str, run_id: str) -> tuple[list[TaskFailure], list[str]]:
    """(the run's failed tasks with their errors and logs, the ids of tasks not run because of them), asked of
    `api`, a TaskInstanceApi."""
    tis = api.get_task_instances(dag_id, run_id, limit=100).task_instances
    failures = []
    for ti in sorted((t for t in tis if t.state is not None and t.state.value == FAILED), key=lambda t: t.task_id):
        failure = TaskFailure(ti.task_id, ti.operator, ti.try_number, ti.max_tries + 1, ti.duration)
        if ti.try_number:
            log = api.get_log_without_preload_content(dag_id, run_id, ti.task_id, ti.try_number, full_content=True)
            failure.errors, failure.log_paths = read_log(json.loads(log.data).get("content") or [])
        failures.append(failure)
    upstream = sorted(t.task_id for t in tis if t.state is not None and t.state.value == "upstream_failed")
    return failures, upstream


def print_failures(console: Console, api, dag_id: str, run, console_log: Path | None = None) -> None:
    """The failed tasks of `run` (a DAGRunResponse; None: the run never started), each with its error and log, asked
    of `api` (a TaskInstanceApi). `console_log`: the output of the `airflow dags test` that ran it, if one did."""
    if run is None:
        console.print(f"[bold red]FAILED[/]: no run of {dag_id} started" +
                      (f"; see {console_log}" if console_log else ""))
        return
    failures, upstream = collect(api, dag_id, run.dag_run_id)
    console.print(f"\n[bold red]FAILED[/]: {dag_id} run {run.dag_run_id} is {run.state.value}")
    for f in failures:
        took = f", {f.duration:.1f} s" if f.duration is not None else ""
        console.print(f"  [bold red]{f.task_id}[/] ({f.operator}, try {f.try_number} of {f.max_tries}{took})")
        for error in f.errors[-6:]:
            console.print("    " + error.replace("\n", "\n    "), markup=False)
        if f.log_paths:
            for path in f.log_paths:
                console.print(f"    log: {path}", markup=False)
        elif console_log is not None:
            section = dags_test_section(console_log, f.task_id)
            errors = [line for line in section if "[error" in line or "Traceback" in line] or section[-10:]
            for line in errors[-6:]:
                console.print("    " + line[:400], markup=False)
            console.print(f"    log: {console_log} (airflow dags test ran the task in its own process: "
                          "Airflow keeps no task log for it)", markup=False)
    if upstream:
        console.print(f"  not run (upstream failed): {', '.join(upstream)}", markup=False)
