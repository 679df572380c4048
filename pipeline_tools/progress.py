"""Follow a DAG run in Airflow's SQLite metadata database: one line per task as it finishes."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

TERMINAL = {"success", "failed", "skipped", "upstream_failed", "removed"}


@dataclass(frozen=True)
class TaskResult:
    task_id: str
    state: str
    seconds: float
    try_number: int


def _parse(ts: str | None) -> datetime | None:
    return datetime.fromisoformat(ts) if ts else None


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def task_results(db_path: Path, dag_id: str, logical_date: str, since: datetime | None = None) -> list[TaskResult]:
    """The finished task instances of the DAG's latest run for the date (ended after `since`, when given: a
    re-run of a date replaces the earlier run, whose rows linger until the new run reaches them)."""
    if not db_path.exists():
        return []
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5) as db:
        run = db.execute(
            "SELECT run_id FROM dag_run WHERE dag_id = ? AND logical_date LIKE ? ORDER BY id DESC LIMIT 1",
            (dag_id, f"{logical_date}%"),
        ).fetchone()
        if not run:
            return []
        rows = db.execute(
            "SELECT task_id, state, start_date, end_date, try_number FROM task_instance "
            "WHERE dag_id = ? AND run_id = ? AND state IS NOT NULL",
            (dag_id, run[0]),
        ).fetchall()
    results = []
    for task_id, state, start, end, try_number in rows:
        if state not in TERMINAL:
            continue
        started, ended = _parse(start), _parse(end)
        if since and (ended is None or _aware(ended) < since):
            continue
        seconds = (ended - started).total_seconds() if started and ended else 0.0
        results.append(TaskResult(task_id, state, seconds, try_number or 1))
    return sorted(results, key=lambda r: r.task_id)


class ProgressPrinter:
    """Prints each task of the run as it reaches a final state, from a background thread."""

    def __init__(self, db_path: Path, dag_id: str, logical_date: str, interval: float = 1.0, out=print):
        self._args = (db_path, dag_id, logical_date, datetime.now(UTC))
        self._interval = interval
        self._out = out
        self._seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ProgressPrinter:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._report()  # whatever finished between the last poll and the end

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._report()

    def _report(self) -> None:
        try:
            results = task_results(*self._args)
        except sqlite3.Error:
            return  # the run is writing; try again at the next tick
        for r in results:
            if r.task_id not in self._seen:
                self._seen.add(r.task_id)
                mark = "ok  " if r.state == "success" else r.state.upper()
                self._out(f"  {mark:<8} {r.task_id:<36} {r.seconds:7.1f} s")
