"""Who holds a worker slot, sampled: the LocalExecutor's busy workers (from their process titles) and every task
instance's state (from the metadata database), a few times a second.

A LocalExecutor worker titles itself `airflow worker -- LocalExecutor: <task instance id>` while it runs a task
and `... <idle>` otherwise, so the OS tells which task holds a slot, independently of what Airflow records.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import defaultdict
from pathlib import Path

WORKER_TITLE = "airflow worker -- LocalExecutor: "
SETTLE_SECONDS = 5.0


def _uuid_key(value: str) -> str:
    """The database keeps a task instance id as 32 hex digits; the process title shows the dashed form."""
    return str(value).replace("-", "").lower()


def busy_workers(proc: Path = Path("/proc")) -> list[str]:
    """Task instance ids the LocalExecutor's workers are running right now."""
    ids = []
    for cmdline in proc.glob("[0-9]*/cmdline"):
        try:
            title = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue  # the process ended while we looked
        if title.startswith(WORKER_TITLE):
            name = title[len(WORKER_TITLE):].strip()
            if name and name != "<idle>":
                ids.append(name)
    return ids


class SlotSampler:
    """`with SlotSampler(db_path, dag_id) as sampler:` then sampler.slot_seconds[task_id] and
    sampler.state_seconds[task_id][state], for the task instances of `dag_id` seen while it ran."""

    def __init__(self, db_path: Path, dag_id: str, interval: float = 0.2):
        self._db_path, self._dag_id, self._interval = db_path, dag_id, interval
        self.slot_seconds: dict[tuple[str, str], float] = defaultdict(float)  # (run_id, task_id) -> seconds
        # Slot seconds split by the state Airflow recorded at the same moment (e.g. "deferred" should stay 0).
        self.slot_seconds_by_state: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.state_seconds: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
        # Slot seconds while deferred, more than SETTLE_SECONDS after the deferral began: a slot held during
        # the wait itself rather than while the worker winds the task's process down.
        self.slot_seconds_deferred_settled: dict[tuple[str, str], float] = defaultdict(float)
        self._deferred_since: dict[tuple[str, str], float] = {}
        self._names: dict[str, tuple[str, str]] = {}  # task instance id -> (run_id, task_id)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SlotSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _task_states(self) -> list[tuple[str, str, str, str]]:
        with sqlite3.connect(f"file:{self._db_path}?mode=ro", uri=True, timeout=2) as db:
            return db.execute("SELECT id, run_id, task_id, state FROM task_instance WHERE dag_id = ?",
                              (self._dag_id,)).fetchall()

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(self._interval):
            now = time.monotonic()
            elapsed, last = now - last, now
            try:
                states = self._task_states()
            except sqlite3.Error:
                continue  # a writer holds the database; the next sample catches up
            current = {}
            for ti_id, run_id, task_id, state in states:
                self._names[_uuid_key(ti_id)] = (run_id, task_id)
                current[(run_id, task_id)] = state
                if state == "deferred":
                    self._deferred_since.setdefault((run_id, task_id), now)
                else:
                    self._deferred_since.pop((run_id, task_id), None)
                if state:
                    self.state_seconds[(run_id, task_id)][state] += elapsed
            for ti_id in busy_workers():
                key = self._names.get(_uuid_key(ti_id))
                if key is not None:
                    self.slot_seconds[key] += elapsed
                    self.slot_seconds_by_state[key][current.get(key) or "none"] += elapsed
                    since = self._deferred_since.get(key)
                    if since is not None and now - since > SETTLE_SECONDS:
                        self.slot_seconds_deferred_settled[key] += elapsed
