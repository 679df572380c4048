"""Step Functions: moto's ASL interpreter, enabled by the server and mended where it falls short of AWS.

Mended here:
- `aws-sdk:redshiftdata:*` reaches the Redshift Data API (moto knows no service called "redshiftdata");
- errors from aws-sdk integrations are named as AWS names them (`Glue.EntityNotFoundException`,
  `RedshiftData.ValidationException`), so Retry and Catch written for AWS match;
- optimised integrations (`states:startExecution.sync:2`, `glue:startJobRun.sync`) translate their ASL
  parameters to the API's own casing and their results back, as AWS does;
- timestamps in task results and execution outputs become ISO-8601 strings (moto 500s on a datetime);
- an execution started without a name gets a unique one (moto's ARN would end in ":None" and collide);
- `.sync` tasks of services without `.waitForTaskToken` (glue:startJobRun.sync) ran into a missing callback
  endpoint and failed with States.Runtime; they now poll to the end and fail as AWS does (States.TaskFailed);
- LOCAL_AWS_TIME_SCALE (read at each wait) shortens Wait states and Retry intervals; 1.0 is real time.
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
import os
import time
import uuid
from typing import Any

import botocore.session
from moto.stepfunctions import responses as sfn_responses
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.models import StepFunctionsParserBackend, stepfunctions_parser_backends

from local_aws import ACCOUNT_ID, REGION

PRIORITY = 20
log = logging.getLogger(__name__)

# ASL service names that boto3 spells differently.
BOTO_SERVICE_NAMES = {"redshiftdata": "redshift-data"}
# The prefix AWS gives errors of an aws-sdk integration, by the service name in the resource ARN.
ERROR_PREFIXES = {
    "glue": "Glue", "redshiftdata": "RedshiftData", "lambda": "Lambda", "s3": "S3", "athena": "Athena",
    "secretsmanager": "SecretsManager", "sfn": "Sfn", "dynamodb": "DynamoDb", "lakeformation": "LakeFormation",
}


def time_scale() -> float:
    """LOCAL_AWS_TIME_SCALE, read at call time so a test or a run can change it."""
    try:
        return max(0.0, float(os.environ.get("LOCAL_AWS_TIME_SCALE", "1")))
    except ValueError:
        return 1.0


def _scaled_sleep(seconds: float) -> None:
    time.sleep(seconds * time_scale())


class _RetrierTime:
    """Stands in for the `time` module inside moto's retrier, whose only use of it is sleep()."""

    sleep = staticmethod(_scaled_sleep)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def _wait_interval(self: WaitFunction, env, wait_seconds: float) -> None:
    """Wait the (scaled) seconds unless the execution stops first."""
    deadline = time.monotonic() + max(0.0, float(wait_seconds)) * time_scale()
    while env.is_running():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        if env.program_state_event.wait(remaining):
            time.sleep(min(remaining, 0.05))  # set by an unrelated state change: keep waiting


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


@functools.cache
def _operation_model(service: str, snake_action: str):
    model = botocore.session.get_session().get_service_model(service)
    for name in model.operation_names:
        if botocore.xform_name(name) == snake_action:
            return model.operation_model(name)
    return None


def _normalise_parameters(self: StateTaskService, parameters: dict, boto_service_name: str | None = None,
                          service_action_name: str | None = None) -> None:
    """ASL writes parameters as PascalCase (StateMachineArn); some APIs take camelCase (stateMachineArn)."""
    if isinstance(self, state_task_service_aws_sdk.StateTaskServiceAwsSdk):
        return  # aws-sdk integrations pass parameters through as the API names them
    operation = _operation_model(self._get_boto_service_name(boto_service_name),
                                 self._get_boto_service_action(service_action_name))
    if operation is not None and operation.input_shape is not None:
        self._to_boto_request(parameters, operation.input_shape)


def _normalise_response(self: StateTaskService, response: Any, boto_service_name: str | None = None,
                        service_action_name: str | None = None) -> None:
    """Results come back PascalCase (ExecutionArn, Output) with ISO timestamps, as AWS returns them."""
    _without_datetimes(response)
    if isinstance(self, state_task_service_aws_sdk.StateTaskServiceAwsSdk):
        return
    operation = _operation_model(self._get_boto_service_name(boto_service_name),
                                 self._get_boto_service_action(service_action_name))
    if operation is not None and operation.output_shape is not None:
        self._from_boto_response(response, operation.output_shape)


def _sync_without_callback(original):
    """moto's callback pattern always releases a WaitForTaskToken endpoint, which only exists for services that
    support `.waitForTaskToken`; for the others (Glue) run the sync poll alone."""

    @functools.wraps(original)
    def eval_integration_pattern(self, env, resource_runtime_part, normalised_parameters, state_credentials):
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

    return eval_integration_pattern


def _named_start_execution(original):
    @functools.wraps(original)
    def start_execution(self, state_machine_arn, name=None, execution_input=None, trace_header=None):
        return original(self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)

    return start_execution


def create_state_machine(name: str, definition_json: str, role_arn: str, tags: list[dict] | None = None,
                         account_id: str = ACCOUNT_ID, region: str = REGION):
    """Create a state machine in the one store that executes (for CloudFormation and other in-process callers)."""
    backend = stepfunctions_parser_backends[account_id][region]
    return backend.create_state_machine(name, definition_json, role_arn, tags=tags or [])


def install(server) -> None:
    StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES.update(BOTO_SERVICE_NAMES)
    state_task_service_aws_sdk._SERVICE_ERROR_NAMES.update(ERROR_PREFIXES)
    StateTaskService._normalise_parameters = _normalise_parameters
    StateTaskService._normalise_response = _normalise_response
    WaitFunction._wait_interval = _wait_interval
    retrier_decl.time = _RetrierTime()
    sfn_responses.json = _ResponsesJson
    if not getattr(StateTaskServiceCallback._eval_integration_pattern, "__wrapped__", None):
        StateTaskServiceCallback._eval_integration_pattern = _sync_without_callback(
            StateTaskServiceCallback._eval_integration_pattern)
    if not getattr(StepFunctionsParserBackend.start_execution, "__wrapped__", None):
        StepFunctionsParserBackend.start_execution = _named_start_execution(StepFunctionsParserBackend.start_execution)
    # The interpreter logs each caught task failure with a dump of the whole state; the execution history
    # carries the error and cause, which is what a user reads.
    if not log.isEnabledFor(logging.DEBUG):
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.ERROR)
