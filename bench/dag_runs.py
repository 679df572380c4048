"""One day through a DAG under Airflow's real scheduler (LocalExecutor, triggerer), timed per task and stage.

The run is triggered through the REST API, as a user or a deployment tool would, and followed to its end; the
task instances' start and end come back from the same API. A stage is a TaskGroup (`crawl_raw`, `transform`,
...); its wall time runs from its first task's start to its last task's end.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from airflow_client.client import DagRunApi, TaskInstanceApi, TriggerDAGRunPostBody

from bench.slots import SlotSampler
from pipeline_tools.airflow_api import ApiException
from pipeline_tools.airflow_services import AirflowServices

DAILY_DAG = "sales_pipeline_daily"
STATE_MACHINE_DAG = "sales_pipeline_state_machine"


@dataclass
class TaskTiming:
    task_id: str
    state: str
    start: float  # epoch seconds
    end: float
    try_number: int

    @property
    def stage(self) -> str:
        return self.task_id.split(".", 1)[0]


@dataclass
class DagRunTiming:
    dag_id: str
    run_id: str
    day: str
    rows: int
    state: str
    wall_seconds: float  # trigger to final state, as the caller saw it
    started: float  # epoch seconds, the bench's clock at trigger
    tasks: list[TaskTiming] = field(default_factory=list)
    slot_seconds: dict[str, float] = field(default_factory=dict)  # task_id -> seconds a worker ran it
    slot_seconds_deferred: dict[str, float] = field(default_factory=dict)  # ... while Airflow had it deferred
    slot_seconds_deferred_settled: dict[str, float] = field(default_factory=dict)  # ... over 5 s into the deferral
    state_seconds: dict[str, dict[str, float]] = field(default_factory=dict)

    def stages(self) -> dict[str, tuple[float, float]]:
        """stage -> (start, end) in epoch seconds, in the order the stages started."""
        spans: dict[str, tuple[float, float]] = {}
        for t in sorted(self.tasks, key=lambda t: t.start):
            first, last = spans.get(t.stage, (t.start, t.end))
            spans[t.stage] = (min(first, t.start), max(last, t.end))
        return spans

    def task(self, task_id: str) -> TaskTiming:
        return next(t for t in self.tasks if t.task_id == task_id)


def _epoch(stamp: datetime | None) -> float | None:
    return stamp.timestamp() if stamp else None


def run_day(af: AirflowServices, db_path, dag_id: str, day: str, rows: int, tag: str,
            timeout: float = 3600) -> DagRunTiming:
    """Trigger `dag_id` for `day` with `rows` and wait for it; sampled worker slots come with the timing."""
    run_id = f"bench__{tag}__{day}"
    with SlotSampler(db_path, dag_id) as sampler:
        started = time.time()
        _trigger(af, dag_id, run_id, day, rows)
        deadline = time.monotonic() + timeout
        while True:
            state = DagRunApi(af.client).get_dag_run(dag_id, run_id).state.value
            if state in ("success", "failed"):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} {run_id} still {state} after {timeout} s")
            time.sleep(0.5)
        wall = time.time() - started
    instances = TaskInstanceApi(af.client).get_task_instances(dag_id, run_id, limit=100).task_instances
    tasks = [
        TaskTiming(ti.task_id, ti.state.value, _epoch(ti.start_date), _epoch(ti.end_date), ti.try_number)
        for ti in instances if ti.start_date and ti.end_date
    ]
    return DagRunTiming(
        dag_id=dag_id, run_id=run_id, day=day, rows=rows, state=state, wall_seconds=wall, started=started,
        tasks=tasks,
        slot_seconds={task: s for (r, task), s in sampler.slot_seconds.items() if r == run_id},
        slot_seconds_deferred={task: s.get("deferred", 0.0)
                               for (r, task), s in sampler.slot_seconds_by_state.items() if r == run_id},
        slot_seconds_deferred_settled={task: s for (r, task), s in sampler.slot_seconds_deferred_settled.items()
                                       if r == run_id},
        state_seconds={task: dict(s) for (r, task), s in sampler.state_seconds.items() if r == run_id},
    )


def _trigger(af: AirflowServices, dag_id: str, run_id: str, day: str, rows: int) -> None:
    """Create the run; a 500 (SQLite busy under load) is retried, and a 409 then means an earlier try got in."""
    body = TriggerDAGRunPostBody(dag_run_id=run_id, logical_date=datetime.fromisoformat(f"{day}T00:00:00+00:00"),
                                 conf={"rows": rows})
    for attempt in range(4):
        try:
            DagRunApi(af.client).trigger_dag_run(dag_id, body)
            return
        except ApiException as exc:
            if attempt and exc.status == 409:
                return
            if exc.status != 500 or attempt == 3:
                raise
            time.sleep(2)


def failed_tasks(timing: DagRunTiming) -> list[str]:
    return [t.task_id for t in timing.tasks if t.state != "success"]
