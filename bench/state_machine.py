"""(b) of the overhead comparison: the DataPipeline state machine alone, started and polled with boto3.

The same day and SQL as the DAGs; no Airflow. Per-state durations come from the execution history.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from bench.sql import state_machine_sql


@dataclass
class ExecutionTiming:
    status: str
    wall_seconds: float
    states: dict[str, float] = field(default_factory=dict)  # top-level state -> seconds
    error: str = ""


def _state_durations(history: list[dict]) -> dict[str, float]:
    """Seconds from each top-level state's entry to its exit."""
    entered, durations = {}, {}
    for event in history:
        if "stateEnteredEventDetails" in event:
            entered[event["stateEnteredEventDetails"]["name"]] = event["timestamp"]
        elif "stateExitedEventDetails" in event:
            name = event["stateExitedEventDetails"]["name"]
            if name in entered:
                durations[name] = (event["timestamp"] - entered[name]).total_seconds()
    return durations


def run_pipeline(stack, day: str, rows: int, poll: float = 0.25) -> ExecutionTiming:
    sfn = stack.client("stepfunctions")
    execution_input = {"date": day, "rows": rows, "sql": state_machine_sql(day, stack.outputs, rows)}
    started = time.monotonic()
    arn = sfn.start_execution(stateMachineArn=stack.outputs["DataPipelineStateMachineArn"],
                              name=f"bench-{day}-{int(time.time() * 1000)}",
                              input=json.dumps(execution_input))["executionArn"]
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        time.sleep(poll)
    wall = time.monotonic() - started
    history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return ExecutionTiming(described["status"], wall, _state_durations(history),
                           described.get("error", "") + " " + described.get("cause", "")[:300])
