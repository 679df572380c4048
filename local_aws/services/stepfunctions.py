"""Step Functions: moto's ASL interpreter, enabled by the server and mended where it falls short of AWS.

Mended here (each a declared patch, ``local_aws.patches``):
- JSONata and variables (``local_aws.stepfunctions.jsonata``): a real evaluator, States.QueryEvaluationError;
- a definite JSONPath ($.Records[0][0].LongValue) yields its node, not a list of it (``...json_paths``);
- a state's Assign takes effect after its output (``local_aws.stepfunctions.variables``), as on AWS;
- the Context object's fields and formats (``local_aws.stepfunctions.context``): RedriveCount, ISO 8601 times;
- create-time validation as AWS does it (``local_aws.stepfunctions.validation``): InvalidDefinition with AWS's codes;
- runtime errors with AWS's names and causes (``local_aws.stepfunctions.runtime``): a Choice on an absent path;
- DescribeExecution's output is the JSON text of the execution's output, also for a string or null;
- `aws-sdk:redshiftdata:*` reaches the Redshift Data API (moto knows no service called "redshiftdata");
- errors from aws-sdk integrations are named as AWS names them (`Glue.EntityNotFoundException`,
  `RedshiftData.ValidationException`), so Retry and Catch written for AWS match;
- optimised integrations (`states:startExecution.sync:2`, `glue:startJobRun.sync`) translate their ASL
  parameters to the API's own casing and their results back, as AWS does;
- timestamps in task results and execution outputs become ISO-8601 strings (moto 500s on a datetime);
- an execution started without a name gets a unique one (moto's ARN would end in ":None" and collide);
- `.sync` tasks of services without `.waitForTaskToken` (glue:startJobRun.sync) ran into a missing callback
  endpoint and failed with States.Runtime; they now poll to the end and fail as AWS does (States.TaskFailed);
- LOCAL_AWS_TIME_SCALE (``local_aws.settings``, read at each wait) shortens Wait states and Retry intervals; 1.0
  is real time; a bad value fails the wait with the settings error (it is never silently real time).

CloudFormation: ``AWS::StepFunctions::StateMachine`` takes `Definition` (an object) + `DefinitionSubstitutions`
as well as `DefinitionString`, and creates the machine in the store that executes (moto's own handler uses the
non-interpreting store and ignores `Definition`). An update with the same name updates the machine in place (same
ARN, executions kept), as AWS does. The stack's resource is a reference (ARN, name), not a second copy of the
machine.

Durability: state machines and executions live in moto's parser backend and are saved with it. An execution runs
in a thread; its end (success, failure, abort, time-out) is committed by that thread before DescribeExecution and
ListExecutions answer it (``state_store.finish``), and GetExecutionHistory shows the closing event (which the
interpreter records a moment before) only with that end. The interpreter's
environment (thread events, callback endpoints, map-run records) is not state: a saved execution keeps its status,
input, output, error, cause and history. After a restart, an execution that was RUNNING is FAILED (error
``LocalAWS.Interrupted``, which no AWS execution gives, and a cause saying the local AWS stopped during the
execution; AWS would have continued it) with the ``ExecutionFailed`` history event AWS ends a failed execution
with. Map-run records of executions from before a restart are not kept (DescribeMapRun: ResourceNotFound).
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
import re
import time
import uuid
from typing import Any

import botocore.session
from moto.core.utils import iso_8601_datetime_with_milliseconds
from moto.stepfunctions.exceptions import ValidationException
from moto.stepfunctions.parser.api import ExecutionStatus, HistoryEventType
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_aws_sdk
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackPoolManager
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.backend.execution import Execution
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from local_aws import ACCOUNT_ID, REGION, settings
from local_aws.cfn_resources import LocalResource
from local_aws.patches import patch, set_value
from local_aws.state import store as state_store
from local_aws.stepfunctions import context as _context  # noqa: F401 - declares its patches
from local_aws.stepfunctions import json_paths as _json_paths  # noqa: F401 - declares its patches
from local_aws.stepfunctions import jsonata as _jsonata  # noqa: F401 - declares its patches
from local_aws.stepfunctions import runtime as _runtime  # noqa: F401 - declares its patches
from local_aws.stepfunctions import validation as _validation  # noqa: F401 - declares its patches
from local_aws.stepfunctions import variables as _variables  # noqa: F401 - declares its patches

log = logging.getLogger(__name__)

# ASL service names that boto3 spells differently.
BOTO_SERVICE_NAMES = {"redshiftdata": "redshift-data"}
# The prefix AWS gives errors of an aws-sdk integration, by the service name in the resource ARN.
ERROR_PREFIXES = {
    "glue": "Glue", "redshiftdata": "RedshiftData", "lambda": "Lambda", "s3": "S3", "athena": "Athena",
    "secretsmanager": "SecretsManager", "sfn": "Sfn", "dynamodb": "DynamoDb", "lakeformation": "LakeFormation",
}
INTERRUPTED_ERROR = "LocalAWS.Interrupted"
INTERRUPTED_CAUSE = ("The local AWS stopped while this execution was running; AWS would have continued it. "
                     "Start a new execution.")

set_value("moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service."
          "StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES",
          {**StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES, **BOTO_SERVICE_NAMES},
          why="aws-sdk:redshiftdata:* must reach boto3's redshift-data (moto: 'Unknown service')")
set_value("moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk."
          "_SERVICE_ERROR_NAMES", {**state_task_service_aws_sdk._SERVICE_ERROR_NAMES, **ERROR_PREFIXES},
          why="aws-sdk errors are named Glue.X / RedshiftData.X as on AWS (moto: glue.X), so Retry/Catch match")


# --- time --------------------------------------------------------------------------------------------------------


def time_scale() -> float:
    """LOCAL_AWS_TIME_SCALE (a factor >= 0), read at call time so a test or a run can change it.

    Raises ``settings.SettingsError`` for a value the settings module refuses."""
    return settings.current().time_scale


def _scaled_sleep(seconds: float) -> None:
    time.sleep(seconds * time_scale())


class _RetrierTime:
    """Stands in for the `time` module inside moto's retrier, whose only use of it is sleep()."""

    sleep = staticmethod(_scaled_sleep)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


set_value("moto.stepfunctions.parser.asl.component.common.retry.retrier_decl.time", _RetrierTime(),
          why="Retry intervals scale with LOCAL_AWS_TIME_SCALE (moto sleeps for real)")


@patch("moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function.WaitFunction._wait_interval",
       why="Wait states scale with LOCAL_AWS_TIME_SCALE and end early when the execution stops")
def _wait_interval(self: WaitFunction, env, wait_seconds: int) -> None:
    """Wait the (scaled) seconds unless the execution stops first."""
    deadline = time.monotonic() + max(0.0, float(wait_seconds)) * time_scale()
    while env.is_running():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        if env.program_state_event.wait(remaining):
            time.sleep(min(remaining, 0.05))  # set by an unrelated state change: keep waiting


# --- wire format -----------------------------------------------------------------------------------------------


def _iso(value: datetime.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    text = value.astimezone(datetime.UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def _without_datetimes(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return _iso(value)
    if isinstance(value, dict):
        for key, inner in value.items():
            value[key] = _without_datetimes(inner)
    elif isinstance(value, list):
        value[:] = [_without_datetimes(inner) for inner in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return _iso(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class _ResponsesJson:
    """moto's Step Functions responses dump execution input/output with plain json, which fails on the
    datetimes of the context object ($$.Execution.StartTime): serialise them as AWS does, ISO-8601."""

    loads = staticmethod(json.loads)

    @staticmethod
    def dumps(value: Any, **kwargs: Any) -> str:
        return json.dumps(value, default=_json_default, **kwargs)


set_value("moto.stepfunctions.responses.json", _ResponsesJson,
          why="an execution output holding a datetime made DescribeExecution 500; AWS gives ISO-8601")


@patch("moto.stepfunctions.responses.StepFunctionResponse.describe_execution", wrap=True,
       why="an execution whose output is a JSON string (\"done\") or null was answered as bare text or without "
           "output (AWS: always the JSON text of the value); inputDetails and the redrive fields were missing")
def _describe_execution_output(original):
    @functools.wraps(original)
    def describe_execution(self):
        answer = original(self)
        execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
        if isinstance(execution, Execution):
            # AWS: inputDetails.included is "always true for API calls"; redriveCount is 0 until a redrive
            # (RedriveExecution is not emulated).
            answer.result["inputDetails"] = {"included": True}
            answer.result.update(_redrive_fields(execution.exec_status))
            if execution.exec_status == ExecutionStatus.SUCCEEDED:
                answer.result["output"] = json.dumps(execution.output, default=_json_default, separators=(",", ":"))
        return answer

    return describe_execution


def _redrive_fields(status: str) -> dict:
    """DescribeExecution's redrive fields as AWS answers them (AWS-recorded): redriveCount 0 (RedriveExecution is
    not emulated, so no execution was redriven); a failed, aborted or timed-out execution is REDRIVABLE on AWS, any
    other NOT_REDRIVABLE with the reason "Execution is <STATUS> and cannot be redriven"."""
    if status in (ExecutionStatus.FAILED, ExecutionStatus.ABORTED, ExecutionStatus.TIMED_OUT):
        return {"redriveCount": 0, "redriveStatus": "REDRIVABLE"}
    return {"redriveCount": 0, "redriveStatus": "NOT_REDRIVABLE",
            "redriveStatusReason": f"Execution is {getattr(status, 'value', status)} and cannot be redriven"}


# The result of states:startExecution.sync(:2) as AWS-recorded executions show it: DescribeExecution without its
# redrive fields.
_NOT_IN_SYNC_RESULTS = ("redriveCount", "redriveStatus", "redriveStatusReason")


@functools.cache
def _operation_model(service: str, snake_action: str):
    model = botocore.session.get_session().get_service_model(service)
    for name in model.operation_names:
        if botocore.xform_name(name) == snake_action:
            return model.operation_model(name)
    return None


_TASK_SERVICE = "moto.stepfunctions.parser.asl.component.state.exec.state_task.service"


@patch(f"{_TASK_SERVICE}.state_task_service.StateTaskService._normalise_parameters",
       why="optimised and aws-sdk integrations (states:startExecution.sync:2, aws-sdk:sfn:startExecution) take "
           "ASL PascalCase; moto's stub passes them through and the API call fails")
def _normalise_parameters(self: StateTaskService, parameters: dict, boto_service_name: str | None = None,
                          service_action_name: str | None = None) -> None:
    """ASL writes parameters as PascalCase (StateMachineArn); some APIs take camelCase (stateMachineArn).

    aws-sdk integrations: AWS takes each member in PascalCase and passes values as given (no JSON encoding of
    an object into a string parameter), so only the names are mapped to the API's own."""
    operation = _operation_model(self._get_boto_service_name(boto_service_name),
                                 self._get_boto_service_action(service_action_name))
    if operation is None or operation.input_shape is None:
        return
    if isinstance(self, state_task_service_aws_sdk.StateTaskServiceAwsSdk):
        _to_api_names(parameters, operation.input_shape)
    else:
        self._to_boto_request(parameters, operation.input_shape)


def _rename_members(value: Any, shape, rename) -> None:
    """Rename the members of the structures in ``value`` by ``rename(key, shape) -> (name, member shape)``, walking
    lists and map values along ``shape`` (botocore's); map keys and document values are data and stay."""
    if shape is None:
        return
    if shape.type_name == "structure" and isinstance(value, dict):
        for key in list(value):
            name, member = rename(key, shape)
            inner = value.pop(key)
            _rename_members(inner, member, rename)
            value[name] = inner
    elif shape.type_name == "list" and isinstance(value, list):
        for inner in value:
            _rename_members(inner, shape.member, rename)
    elif shape.type_name == "map" and isinstance(value, dict):
        for inner in value.values():
            _rename_members(inner, shape.value, rename)


def _api_name(key: str, shape) -> tuple[str, Any]:
    for name, member in shape.members.items():
        if name.lower() == key.lower():
            return name, member
    return key, None


def _to_api_names(value: Any, shape) -> None:
    """Rename the keys of ``value`` (and of the structures inside it) to the API's member names, matched without
    regard to case (StateMachineArn -> stateMachineArn). Keys the API lacks are left for botocore to refuse."""
    _rename_members(value, shape, _api_name)


def _to_pascal_names(value: Any, shape) -> None:
    """aws-sdk results name each member with a capital first letter (executionArn -> ExecutionArn), as AWS
    returns them; map keys and document values are data and stay as they are."""
    _rename_members(value, shape, lambda key, structure: (key[:1].upper() + key[1:], structure.members.get(key)))


@patch(f"{_TASK_SERVICE}.state_task_service.StateTaskService._normalise_response",
       why="optimised and aws-sdk integrations return PascalCase with ISO timestamps on AWS; moto's stub leaves "
           "camelCase and datetimes")
def _normalise_response(self: StateTaskService, response: Any, boto_service_name: str | None = None,
                        service_action_name: str | None = None) -> None:
    """Results come back PascalCase (ExecutionArn, Output) with ISO timestamps, as AWS returns them."""
    _without_datetimes(response)
    operation = _operation_model(self._get_boto_service_name(boto_service_name),
                                 self._get_boto_service_action(service_action_name))
    if operation is None or operation.output_shape is None:
        return
    if isinstance(self, state_task_service_aws_sdk.StateTaskServiceAwsSdk):
        _to_pascal_names(response, operation.output_shape)
        return
    if operation.name == "DescribeExecution" and isinstance(response, dict):
        for field in _NOT_IN_SYNC_RESULTS:
            response.pop(field, None)
    self._from_boto_response(response, operation.output_shape)


@patch(f"{_TASK_SERVICE}.state_task_service_callback.StateTaskServiceCallback._eval_integration_pattern",
       why="moto's callback pattern always opens a WaitForTaskToken endpoint; for services without "
           ".waitForTaskToken (glue:startJobRun.sync) that fails with States.Runtime instead of polling",
       wrap=True)
def _sync_without_callback(original):
    @functools.wraps(original)
    def _eval_integration_pattern(self, env, resource_runtime_part, normalised_parameters, state_credentials):
        if ResourceCondition.WaitForTaskToken in self._supported_integration_patterns:
            return original(self, env, resource_runtime_part, normalised_parameters, state_credentials)
        task_output = env.stack.pop()
        self.timeout.eval(env=env)
        timeout_seconds = env.stack.pop()
        env.stack.append(task_output)  # the resolvers read the start call's output from the stack
        build = (self._build_sync_resolver if self.resource.condition == ResourceCondition.Sync
                 else self._build_sync2_resolver)
        resolver = build(env=env, resource_runtime_part=resource_runtime_part,
                         normalised_parameters=normalised_parameters, state_credentials=state_credentials)
        outcome = self._eval_sync(env=env, sync_resolver=resolver, timeout_seconds=timeout_seconds,
                                  callback_endpoint=None, heartbeat_endpoint=None)
        env.stack.append(outcome)

    return _eval_integration_pattern


@patch("moto.stepfunctions.parser.models.StepFunctionsParserBackend.start_execution",
       why="an execution started without a name gets ARN ...:None in moto (and the next one collides); AWS "
           "names it with a UUID", wrap=True)
def _named_start_execution(original):
    @functools.wraps(original)
    def start_execution(self, state_machine_arn, name=None, execution_input=None, trace_header=None):
        _check_input_size(execution_input)
        return original(self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)

    return start_execution


# Step Functions API Reference, StartExecution, "input": "Length constraints apply to the payload size, and are
# expressed as bytes in UTF-8 encoding. Maximum length of 262144" (the 256 KiB payload quota); a request breaking
# a length constraint is refused with AWS's generic ValidationException wording.
MAX_INPUT_BYTES = 262_144


def _check_input_size(execution_input: str | None) -> None:
    if execution_input is not None and len(execution_input.encode("utf-8")) > MAX_INPUT_BYTES:
        raise ValidationException(
            "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length "
            f"less than or equal to {MAX_INPUT_BYTES}")


# A state's (or task's) result over the same quota fails the execution with States.DataLimitExceeded (Step Functions
# Developer Guide, "Error names"); moto checks it with `len < 256 KiB`, refusing a result of exactly 262144 bytes,
# which AWS allows: its bound is set one past AWS's maximum so that `<` keeps AWS's `<=`.
set_value("moto.stepfunctions.parser.quotas.MAX_STATE_SIZE_UTF8_BYTES", MAX_INPUT_BYTES + 1,
          why="a state result of exactly 262144 bytes is within AWS's payload quota (moto refuses it)")


# --- durability ----------------------------------------------------------------------------------------------


class _SettledEnvironment:
    """What is left of a saved execution's interpreter environment: its history. Callbacks and map runs of a
    restored execution are gone (SendTaskSuccess: InvalidToken; DescribeMapRun: ResourceNotFound)."""

    def __init__(self, history: list[dict]):
        self.event_manager = EventManager()
        self.event_manager._history_event_list.extend(history)
        self.event_manager._event_id_gen._next_id = len(history) + 1
        self.callback_pool_manager = CallbackPoolManager(activity_store={})
        from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor.map_run_record import (  # noqa: E501
            MapRunRecordPoolManager,
        )

        self.map_run_record_pool_manager = MapRunRecordPoolManager()

    @staticmethod
    def is_running() -> bool:
        return False

    def set_stop(self, stop_date, cause, error) -> None:
        """A settled execution has nothing left to stop."""


class SettledWorker(ExecutionWorker):
    """The worker of a restored execution: no thread, no interpreter; its history only."""

    def __init__(self, history: list[dict]):  # noqa: D107 - ExecutionWorker's own state is runtime
        self.env = _SettledEnvironment(history)

    def start(self):
        raise RuntimeError("a restored execution cannot be started again")


def _history_of(worker: ExecutionWorker) -> list[dict]:
    env = getattr(worker, "env", None)
    return env.event_manager.get_event_history() if env is not None else []


@patch("moto.stepfunctions.parser.backend.execution_worker.ExecutionWorker.__reduce__",
       why="durability: an execution's worker (thread, interpreter environment, events, callback endpoints) is "
           "runtime; it is saved as its history only", check_signature=False)
def _reduce_worker(self, /):
    return SettledWorker, (_history_of(self),)


@patch("moto.stepfunctions.parser.backend.execution.BaseExecutionWorkerCommunication.terminated",
       why="durability: an execution ends in its own thread, outside any request; its end (status, stop date, "
           "output, error, cause) is committed before DescribeExecution or ListExecutions can answer it",
       wrap=True)
def _committing_terminated(original):
    @functools.wraps(original)
    def terminated(self) -> None:
        execution = self.execution

        def end(ending) -> None:  # moto's own end, set on the copy that state_store.finish hands it
            self.execution = ending
            try:
                original(self)
            finally:
                self.execution = execution

        state_store.finish([(execution, end)], "stepfunctions")

    return terminated


# The events that close an execution's history ("GetExecutionHistory", HistoryEvent types).
_CLOSING_EVENTS = (HistoryEventType.ExecutionSucceeded, HistoryEventType.ExecutionFailed,
                   HistoryEventType.ExecutionAborted, HistoryEventType.ExecutionTimedOut)


@patch("moto.stepfunctions.parser.backend.execution.Execution.to_history_output", wrap=True,
       why="durability: the interpreter records the closing event (ExecutionSucceeded, ...) a moment before the "
           "execution's end is journaled and published (state_store.finish); GetExecutionHistory shows it with the "
           "end, as DescribeExecution does, never an end a crash would turn into FAILED")
def _history_with_published_end(original):
    @functools.wraps(original)
    def to_history_output(self):
        output = original(self)
        if self.exec_status == ExecutionStatus.RUNNING:
            output["events"] = [e for e in output["events"] if e["type"] not in _CLOSING_EVENTS]
        return output

    return to_history_output


def _settle(execution) -> bool:
    """Fail an execution restored as RUNNING, with the event AWS ends a failed execution with."""
    if execution.exec_status != ExecutionStatus.RUNNING:
        return False
    now = datetime.datetime.now(tz=datetime.UTC)
    worker = execution.exec_worker
    if not isinstance(worker, SettledWorker):
        worker = execution.exec_worker = SettledWorker(_history_of(worker) if worker is not None else [])
    history = worker.env.event_manager._history_event_list
    while history and history[-1]["type"] in _CLOSING_EVENTS:  # an end that was never published (journaled)
        history.pop()
    if not history:  # saved before its worker recorded the start: every execution's history begins with it
        history.append({
            "id": 1, "previousEventId": 0, "type": HistoryEventType.ExecutionStarted,
            "timestamp": iso_8601_datetime_with_milliseconds(execution.start_date),
            "executionStartedEventDetails": {"input": json.dumps(execution.input_data),
                                             "inputDetails": {"truncated": False}, "roleArn": execution.role_arn},
        })
    history.append({
        "id": len(history) + 1,
        "previousEventId": history[-1]["id"] if history else 0,
        "type": HistoryEventType.ExecutionFailed,
        "timestamp": iso_8601_datetime_with_milliseconds(now),
        "executionFailedEventDetails": {"error": INTERRUPTED_ERROR, "cause": INTERRUPTED_CAUSE},
    })
    worker.env.event_manager._event_id_gen._next_id = len(history) + 1
    execution.exec_status = ExecutionStatus.FAILED
    execution.stop_date = now
    execution.error, execution.cause = INTERRUPTED_ERROR, INTERRUPTED_CAUSE
    return True


# An ended execution never changes again: the store saves it once, not with every later commit of Step Functions
# (each StartExecution would otherwise rewrite the whole execution history). Its state machine is the live one.
state_store.register_finished(
    Execution, lambda e: e.exec_arn if e.exec_status != ExecutionStatus.RUNNING else None,
    detach=("state_machine",))


def restored(server) -> None:
    """Ended executions get their state machine back; executions RUNNING when the previous server stopped are
    FAILED (see the module docstring)."""
    settled = 0
    for _, _, backend in list(stepfunctions_parser_backends.iter_backends()):
        for machine in list(backend.state_machines):
            for execution in list(machine.executions):
                if execution.state_machine is None:
                    execution.state_machine = machine
                settled += _settle(execution)
    if settled:
        log.warning("%d Step Functions execution(s) were running when the local AWS stopped: now FAILED", settled)
        state_store.touch_and_commit("stepfunctions")


# --- CloudFormation: AWS::StepFunctions::StateMachine ----------------------------------------------------------


class StateMachineReference(LocalResource):
    """The stack's record of a state machine it created: Ref gives the ARN, GetAtt Arn / Name. Not a
    CloudFormationModel (moto's StateMachine stays the registered type); the machine itself lives only in the
    Step Functions backend."""

    TYPE = "AWS::StepFunctions::StateMachine"

    @staticmethod
    def is_created() -> bool:
        """Created synchronously (moto asks every resource of a stack)."""
        return True


def _substitute(definition: Any, substitutions: dict[str, Any]) -> str:
    """The definition as a string with every ${Var} replaced. Raises ValueError naming undefined variables
    (AWS fails the resource: the definition would not be valid ASL)."""
    text = json.dumps(definition) if not isinstance(definition, str) else definition
    missing = sorted(set(re.findall(r"\$\{(\w+)\}", text)) - set(substitutions))
    if missing:
        raise ValueError(f"DefinitionSubstitutions lacks {', '.join(missing)}")
    for key, value in substitutions.items():
        text = text.replace("${%s}" % key, str(value))
    return text


def _machine_reference(machine) -> StateMachineReference:
    return StateMachineReference(machine.arn, {"Arn": machine.arn, "Name": machine.name})


def create_state_machine(name: str, definition_json: str, role_arn: str, tags: list[dict] | None = None,
                         account_id: str = ACCOUNT_ID, region: str = REGION):
    """Create a state machine in the one store that executes (for CloudFormation and other in-process callers).

    Raises moto's InvalidDefinition / StateMachineAlreadyExists as CreateStateMachine does."""
    backend = stepfunctions_parser_backends[account_id][region]
    return backend.create_state_machine(name, definition_json, role_arn, tags=tags or [])


def _create_or_update(resource_name: str, props: dict, account_id: str, region: str) -> StateMachineReference:
    name = props.get("StateMachineName", resource_name)
    definition = _substitute(props.get("Definition", props.get("DefinitionString", "")),
                             props.get("DefinitionSubstitutions", {}))
    backend = stepfunctions_parser_backends[account_id][region]
    existing = next((m for m in backend.state_machines if m.name == name), None)
    if existing is not None:  # an update with the same name: in place, same ARN (AWS: no interruption)
        return _machine_reference(backend.update_state_machine(existing.arn, definition=definition,
                                                               role_arn=props.get("RoleArn") or None))
    tags = [{"key": t["Key"], "value": t["Value"]} for t in props.get("Tags", [])]
    return _machine_reference(create_state_machine(name, definition, props.get("RoleArn", ""), tags,
                                                   account_id, region))


@patch("moto.stepfunctions.models.StateMachine.create_from_cloudformation_json",
       why="moto ignores Definition + DefinitionSubstitutions and creates the machine in the store that does "
           "not execute", wrap=True)
def _state_machine_create(original):
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name,
                                        **kwargs):
        return _create_or_update(resource_name, cloudformation_json["Properties"], account_id, region_name)

    return classmethod(create_from_cloudformation_json)


@patch("moto.stepfunctions.models.StateMachine.update_from_cloudformation_json",
       why="the machine lives in the executing store; same name: updated in place (ARN and executions kept)",
       wrap=True)
def _state_machine_update(original):
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        props = cloudformation_json.get("Properties", {})
        name = props.get("StateMachineName", new_resource_name)
        backend = stepfunctions_parser_backends[account_id][region_name]
        old_arn = original_resource.physical_resource_id
        reference = _create_or_update(name, props, account_id, region_name)
        if reference.physical_id != old_arn and any(m.arn == old_arn for m in backend.state_machines):
            backend.delete_state_machine(old_arn)  # a new name is a replacement: the old machine goes
        return reference

    return classmethod(update_from_cloudformation_json)


@patch("moto.stepfunctions.models.StateMachine.delete_from_cloudformation_json",
       why="the machine lives in the executing store", wrap=True)
def _state_machine_delete(original):
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        backend = stepfunctions_parser_backends[account_id][region_name]
        name = cloudformation_json.get("Properties", {}).get("StateMachineName", resource_name)
        for machine in [m for m in backend.state_machines if m.arn == resource_name or m.name == name]:
            backend.delete_state_machine(machine.arn)

    return classmethod(delete_from_cloudformation_json)


def install(server) -> None:
    # The interpreter logs each caught task failure with a dump of the whole state; the execution history
    # carries the error and cause, which is what a user reads. (A logging level, not a change to moto.)
    if not log.isEnabledFor(logging.DEBUG):
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.ERROR)
