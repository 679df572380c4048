"""The live progress (pipeline_tools.progress) on recorded REST API answers, rich and plain.

tests/data/airflow_api/ holds task instance lists as Airflow 3.3.2's api-server answered them while a run went on:
`dags_test_run.json.gz` (a daily run under `airflow dags test`, the first answer still the previous run's retries) and
`failed_run.json.gz` (a run under the scheduler whose Glue job fails three tries: deferrals, retries, a failure and the
tasks downstream of it). Each holds the answers in which some task's state or try changed.
"""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from airflow_client.client import TaskInstanceCollectionResponse
from rich.console import Console

from pipeline_tools.progress import (
    GroupLines,
    GroupStatus,
    Progress,
    TaskLines,
    backfill_table,
    group_names,
    group_status,
    groups,
    task_table,
)

DATA = Path(__file__).parent / "data" / "airflow_api"
NOW = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)


def answers(name: str) -> list[list]:
    """Each recorded answer of the file, as the client deserialises it."""
    with gzip.open(DATA / f"{name}.gz", "rt") as f:
        return [TaskInstanceCollectionResponse.from_json(json.dumps(a)).task_instances for a in json.load(f)]


def plain_lines(name: str) -> list[str]:
    lines, out = TaskLines(), []
    for tis in answers(name):
        out += lines.changes(tis, NOW)
    return out


def terminal(width: int = 140) -> Console:
    return Console(file=io.StringIO(), force_terminal=True, color_system="standard", width=width)


def plain() -> Console:
    return Console(file=io.StringIO(), width=80)


def test_plain_lines_follow_a_dags_test_run():
    lines = plain_lines("dags_test_run.json")
    words = [line.split() for line in lines]
    # The previous run's failed tries, then every task's end exactly once, with its duration.
    assert words[0][:2] == ["up_for_retry", "redshift_ddl.start_execution"]
    successes = [w[1] for w in words if w[0] == "success"]
    assert len(successes) == len(set(successes)) == 17
    assert all(w[-1] == "s" and float(w[-2]) >= 0 for w in words if w[0] == "success")
    assert any(w[0] == "deferred" for w in words)
    # Hand-overs (scheduled, queued) are not worth a line in a CI log.
    assert not any(w[0] in ("queued", "scheduled", "none") for w in words)


def test_plain_lines_show_retries_and_the_failure():
    lines = plain_lines("failed_run.json")
    glue = [line.split() for line in lines if "transform.run_glue_job" in line]
    assert [w[0] for w in glue] == ["running", "up_for_retry", "running", "up_for_retry", "running", "failed"]
    assert glue[-1][1:4] == ["transform.run_glue_job", "(try", "3)"]
    assert sum(line.split()[0] == "upstream_failed" for line in lines) == 11


def test_task_table_in_a_terminal_has_every_task_coloured_by_state():
    final = answers("failed_run.json")[-1]
    console = terminal()
    console.print(task_table(final, NOW, title="sales_pipeline_daily 2021-12-01"))
    out = console.file.getvalue()
    assert "\x1b[" in out  # colour
    text = Console(file=io.StringIO(), width=140)
    text.print(task_table(final, NOW))
    rows = {line.split()[0]: line.split()[1:] for line in text.file.getvalue().splitlines()[1:] if line.strip()}
    assert rows["transform.run_glue_job"][:2] == ["failed", "3"]
    assert rows["load_raw.invoke_loader"][0] == "success" and rows["load_raw.invoke_loader"][-1] == "s"
    assert rows["validate.reconcile"] == ["upstream_failed"]
    assert len(rows) == 17


def test_a_running_task_counts_its_time_until_now():
    running = next(tis for tis in answers("failed_run.json")
                   if any(ti.state and ti.state.value == "running" for ti in tis))
    ti = next(ti for ti in running if ti.state.value == "running")
    console = Console(file=io.StringIO(), width=140)
    console.print(task_table([ti], ti.start_date + timedelta(seconds=12.5)))
    assert "running" in console.file.getvalue() and "12.5 s" in console.file.getvalue()


def test_group_states():
    final = groups(answers("failed_run.json")[-1])
    assert group_status(final["transform"], NOW).state == "failed"
    assert group_status(final["crawl_processed"], NOW) == GroupStatus("upstream_failed", None)
    crawl = group_status(final["crawl_raw"], NOW)
    assert crawl.state == "success" and crawl.seconds > 0
    # Between two of its tasks (one done, the next not yet scheduled) a group is running.
    midway = next(tis for tis in answers("failed_run.json")
                  if sorted(str(ti.state and ti.state.value) for ti in tis if ti.task_id.startswith("crawl_raw."))
                  == ["None", "success"])
    assert group_status(groups(midway)["crawl_raw"], NOW).state == "running"


def test_backfill_table_has_a_row_a_day_and_a_column_a_group():
    runs = {"2021-12-01": ("failed", answers("failed_run.json")[-1]),
            "2021-12-02": ("success", answers("dags_test_run.json")[-1])}
    names = group_names(ti for _, tis in runs.values() for ti in tis)
    assert len(names) == 10 and names[0] in ("load_raw", "redshift_ddl")
    console = Console(file=io.StringIO(), width=140)
    console.print(backfill_table(runs, names, NOW))
    lines = console.file.getvalue().splitlines()
    day1 = next(line for line in lines if line.startswith("2021-12-01"))
    day2 = next(line for line in lines if line.startswith("2021-12-02"))
    assert day1.split()[1] == "✗" and "✗" in day1 and "✓" in day1
    assert day2.split()[1] == "✓" and day2.count("✓") == 11


def test_group_lines_for_a_backfill():
    lines, out = GroupLines(), []
    for tis in answers("failed_run.json"):
        run_state = "failed" if all(ti.state and ti.state.value in ("success", "failed", "upstream_failed")
                                    for ti in tis) else "running"
        out += lines.changes({"2021-12-01": (run_state, tis)}, [], NOW)
    transform = [line.split()[2] for line in out if line.split()[1] == "transform"]
    assert transform == ["running", "up_for_retry", "running", "up_for_retry", "running", "failed"]
    assert out[-1].split() == ["2021-12-01", "run", "failed"]
    assert sum(line.split()[1] == "crawl_raw" and line.split()[2] == "success" for line in out) == 1


@pytest.mark.parametrize("is_terminal", [True, False])
def test_progress_redraws_on_a_terminal_and_prints_lines_elsewhere(is_terminal):
    console = terminal() if is_terminal else plain()
    with Progress(console, lambda tis, now: task_table(tis, now, "run"), TaskLines().changes,
                  clock=lambda: NOW) as progress:
        for tis in answers("failed_run.json"):
            progress.update(tis)
    out = console.file.getvalue()
    if is_terminal:
        assert "\x1b[" in out and "transform.run_glue_job" in out
        assert "\x1b[2K" in out or "\x1b[1A" in out  # redrawn in place
    else:
        assert "\x1b[" not in out
        assert out.splitlines() == plain_lines("failed_run.json")
