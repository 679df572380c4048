"""Live progress of DAG runs, drawn from Airflow's REST API answers (task instances, as `apache-airflow-client` returns
them) with rich.

Two views: `task_table` (one run, a row per task: state, try, duration) for `make run`, and `backfill_table` (a row per
day, a column per task group) for `make backfill`. `Progress` redraws a view in place where the console is a terminal,
and prints one plain line per change where it is not (CI logs, a pipe): `TaskLines` / `GroupLines` say which lines.
rich decides about colour (none when not a terminal, or with NO_COLOR set; FORCE_COLOR forces it).

A task group is the part of a task id before its last dot, which is how Airflow names the tasks of a TaskGroup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.console import Console, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

FINISHED = {"success", "failed", "skipped", "upstream_failed", "removed"}
# States a plain log reports: a task started, waits, will retry or has finished (not scheduled/queued hand-offs).
REPORTED = FINISHED | {"running", "deferred", "up_for_retry", "up_for_reschedule", "restarting"}
STYLES = {
    "success": "green", "failed": "bold red", "upstream_failed": "red", "skipped": "magenta", "removed": "dim",
    "running": "bold cyan", "deferred": "blue", "up_for_retry": "yellow", "up_for_reschedule": "cyan",
    "restarting": "yellow", "queued": "grey62", "scheduled": "grey62", "none": "grey50",
}
SYMBOLS = {
    "success": "✓", "failed": "✗", "upstream_failed": "✗", "skipped": "-", "removed": "-", "running": "▶",
    "deferred": "⏸", "up_for_retry": "↻", "up_for_reschedule": "↻", "restarting": "↻", "queued": "…",
    "scheduled": "…", "none": "·",
}
# Which state a group shows when its tasks differ: the first one of these that any of its tasks is in.
GROUP_PRECEDENCE = ["failed", "upstream_failed", "up_for_retry", "restarting", "running", "deferred",
                    "up_for_reschedule", "queued", "scheduled"]


def state_of(ti) -> str:
    """The task instance's state as Airflow names it ("none" before the scheduler looked at it)."""
    return ti.state.value if ti.state is not None else "none"


def seconds(start: datetime | None, end: datetime | None, now: datetime) -> float | None:
    if start is None:
        return None
    return ((end or now) - start).total_seconds()


def task_seconds(ti, now: datetime) -> float | None:
    """Airflow's duration once the try ended, else the time since its start (None for a task never tried)."""
    if not ti.try_number:
        return None
    if state_of(ti) in FINISHED | {"up_for_retry"} and ti.duration is not None:
        return float(ti.duration)
    return seconds(ti.start_date, None, now)


def group_of(task_id: str) -> str:
    return task_id.rsplit(".", 1)[0]


def in_run_order(tis: Iterable) -> list:
    """Started tasks in the order they started, then the others upstream first (Airflow's priority weight counts a
    task's downstream tasks), then by task id."""
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(tis, key=lambda ti: (ti.start_date or far, -(ti.priority_weight or 0), ti.task_id))


@dataclass(frozen=True)
class GroupStatus:
    state: str
    seconds: float | None


def group_status(tis: Sequence, now: datetime) -> GroupStatus:
    """One task group's state (all success: success; else the most telling of its tasks' states) and its time
    from its first task's start to its last task's end (or now, while it runs)."""
    states = {state_of(ti) for ti in tis}
    if states <= {"success", "skipped"}:
        state = "success" if "success" in states else "skipped"
    else:
        state = next((s for s in GROUP_PRECEDENCE if s in states), "none")
        if state in ("queued", "scheduled", "none") and states & {"success", "skipped"}:
            state = "running"  # between two of its tasks
    tried = [ti for ti in tis if ti.try_number]  # an upstream_failed task has a start and end, but never ran
    starts = [ti.start_date for ti in tried if ti.start_date]
    ends = [ti.end_date for ti in tried if ti.end_date]
    done = state in FINISHED
    return GroupStatus(state, seconds(min(starts), max(ends) if done and ends else None, now) if starts else None)


def groups(tis: Iterable) -> dict[str, list]:
    """Task instances by task group, the groups in the order their first task started."""
    out: dict[str, list] = {}
    for ti in in_run_order(tis):
        out.setdefault(group_of(ti.task_id), []).append(ti)
    return out


def group_names(tis: Iterable) -> list[str]:
    """Every task group among the task instances (of any runs), upstream first: by the highest priority weight of
    their tasks (Airflow's weight counts a task's downstream tasks), so the columns keep their place as runs go."""
    weights: dict[str, int] = {}
    for ti in tis:
        group = group_of(ti.task_id)
        weights[group] = max(weights.get(group, 0), ti.priority_weight or 0)
    return sorted(weights, key=lambda g: (-weights[g], g))


def styled(state: str, text: str | None = None) -> Text:
    return Text(text if text is not None else state, style=STYLES.get(state, ""))


def fmt_seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f} s"


def task_table(tis: Sequence, now: datetime, title: str | None = None) -> Table:
    """A row per task of one run: task id, state, try, duration."""
    table = Table(title=title, title_justify="left", box=None, pad_edge=False)
    table.add_column("task")
    table.add_column("state")
    table.add_column("try", justify="right")
    table.add_column("duration", justify="right")
    for ti in in_run_order(tis):
        state = state_of(ti)
        table.add_row(ti.task_id, styled(state), str(ti.try_number) if ti.try_number else "",
                      fmt_seconds(task_seconds(ti, now)))
    return table


def backfill_table(runs: Mapping[str, tuple[str, Sequence]], group_names: Sequence[str], now: datetime,
                   title: str | None = None) -> Table:
    """A row per day (logical date -> (run state, its task instances)), a column per task group: each cell is the
    group's state as a symbol and its seconds, the run's state a symbol."""
    table = Table(title=title, title_justify="left", box=None, pad_edge=False, collapse_padding=True,
                  caption="  ".join(f"{SYMBOLS[s]} {s}" for s in ("success", "running", "deferred", "up_for_retry",
                                                                   "queued", "failed")),
                  caption_justify="left")
    table.add_column("day", no_wrap=True)
    table.add_column("run", no_wrap=True)
    for name in group_names:
        table.add_column(name.replace("_", "\n"), justify="right", no_wrap=True)
    for day, (run_state, tis) in sorted(runs.items()):
        by_group = groups(tis)
        cells = []
        for name in group_names:
            if name not in by_group:
                cells.append(styled("none", SYMBOLS["none"]))
                continue
            status = group_status(by_group[name], now)
            secs = "" if status.seconds is None else f" {status.seconds:.0f}"
            cells.append(styled(status.state, SYMBOLS.get(status.state, "?") + secs))
        table.add_row(day, styled(run_state, SYMBOLS.get(run_state, "?")), *cells)
    return table


class TaskLines:
    """Plain lines for one run: a line each time a task reaches a reported state (or retries)."""

    def __init__(self):
        self._seen: dict[str, tuple[str, int]] = {}

    def changes(self, tis: Sequence, now: datetime) -> list[str]:
        lines = []
        for ti in in_run_order(tis):
            key = (state_of(ti), ti.try_number)
            if key[0] not in REPORTED or self._seen.get(ti.task_id) == key:
                continue
            self._seen[ti.task_id] = key
            attempt = f" (try {ti.try_number})" if ti.try_number and ti.try_number > 1 else ""
            took = fmt_seconds(task_seconds(ti, now)) if key[0] in FINISHED or key[0] == "up_for_retry" else ""
            lines.append(f"  {key[0]:<17} {ti.task_id + attempt:<44} {took:>8}".rstrip())
        return lines


class GroupLines:
    """Plain lines for a backfill: a line when a day's task group starts, waits, retries or ends, and when a day's
    run ends."""

    def __init__(self):
        self._seen: dict[tuple[str, str], str] = {}

    def changes(self, runs: Mapping[str, tuple[str, Sequence]], group_names: Sequence[str],
                now: datetime) -> list[str]:
        lines = []
        for day, (run_state, tis) in sorted(runs.items()):
            for name, group in groups(tis).items():
                status = group_status(group, now)
                if status.state not in REPORTED or self._seen.get((day, name)) == status.state:
                    continue
                self._seen[(day, name)] = status.state
                took = fmt_seconds(status.seconds) if status.state in FINISHED else ""
                lines.append(f"  {day}  {name:<18} {status.state:<17} {took:>8}".rstrip())
            if run_state in FINISHED and self._seen.get((day, "")) != run_state:
                self._seen[(day, "")] = run_state
                lines.append(f"  {day}  run {run_state}")
        return lines


class Progress:
    """`with Progress(console, draw, lines) as p: p.update(*data)` redraws `draw(*data, now)` in place on a terminal;
    elsewhere prints `lines(*data, now)` (the plain lines for what changed)."""

    def __init__(self, console: Console, draw: Callable[..., RenderableType], lines: Callable[..., list[str]],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.console = console
        self._draw = draw
        self._lines = lines
        self._clock = clock
        self._live = Live(console=console, auto_refresh=False, transient=False) if console.is_terminal else None

    def __enter__(self) -> Progress:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._live is not None:
            self._live.stop()

    def update(self, *data) -> None:
        now = self._clock()
        if self._live is not None:
            self._live.update(self._draw(*data, now), refresh=True)
        else:
            for line in self._lines(*data, now):
                self.console.print(line, highlight=False, markup=False)
