"""The Context object (``$$`` in JSONPath, ``$states.context`` in JSONata) with the fields and formats AWS gives.

AWS: "Accessing execution data from the Context object in Step Functions" (Developer Guide):

    Execution: Id, Input, Name, RoleArn, StartTime (ISO 8601), RedriveCount (Number), RedriveTime (after a redrive)
    State: EnteredTime (ISO 8601), Name, RetryCount (Number)
    StateMachine: Id, Name
    Task: Token (in a .waitForTaskToken task)

moto's interpreter gives Execution.StartTime as a datetime, State.EnteredTime in Python's isoformat
(``+00:00``, microseconds) and no RedriveCount. Here the
times are ISO 8601 with milliseconds and ``Z`` as AWS writes them ("2019-03-26T20:14:13.192Z"), RedriveCount is 0
(RedriveExecution is not emulated, so every execution is a first run and RedriveTime never appears). RetryCount is
in the State of Task, Map and Parallel states only (moto's, and what AWS-recorded executions show: a Pass state's
State is {Name, EnteredTime}).
"""

from __future__ import annotations

import datetime
import functools

from moto.stepfunctions.parser.asl.eval.environment import Environment

from local_aws.patches import patch, set_value


def iso_time(value: datetime.datetime | str) -> str:
    """A time as AWS writes it in the Context object: ISO 8601, UTC, milliseconds, ``Z``."""
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return value.astimezone(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@patch("moto.stepfunctions.parser.backend.execution_worker.ExecutionWorker._get_evaluation_environment",
       wrap=True, why="$$.Execution has RedriveCount (0 on a first run) and StartTime in ISO 8601, as on AWS")
def _execution_context(original):
    @functools.wraps(original)
    def _get_evaluation_environment(self) -> Environment:
        env = original(self)
        execution = env.states.context_object.context_object_data["Execution"]
        execution["StartTime"] = iso_time(execution["StartTime"])
        execution["RedriveCount"] = 0
        return env

    return _get_evaluation_environment


def state_data(EnteredTime: str, Name: str) -> dict:  # noqa: N803 - the Context object's own field names
    """``$$.State`` on entering a state (Task, Map and Parallel states add RetryCount, as moto does)."""
    return {"EnteredTime": iso_time(EnteredTime), "Name": Name}


set_value("moto.stepfunctions.parser.asl.component.state.state.StateData", state_data,
          why="$$.State.EnteredTime in AWS's ISO 8601 form (ms, Z)")
