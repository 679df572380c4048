"""Lambda: Invoke runs the function's Python handler from its deployment package, in a subprocess.

moto without Docker only echoes the payload; here the handler really runs (local_aws.lambda_runtime) with the
function's environment, its timeout, and AWS_ENDPOINT_URL pointing back at this server, so boto3 inside the
handler talks to the local AWS. Errors come back as AWS returns them: `FunctionError: Unhandled` and a payload
{errorType, errorMessage, stackTrace} (the handler's exception, Runtime.MarshalError, Runtime.ExitError,
Sandbox.Timedout "Task timed out after N seconds": ``local_aws.lambda_runtime``); bytes a handler returns are the
payload as they are. A payload that is not JSON is refused before the handler runs (InvalidRequestContentException,
HTTP 400). Each invocation's log (START, the function's output, END, REPORT) goes to CloudWatch Logs,
`/aws/lambda/<function>` (``local_aws.lambda_runtime.cloudwatch``), and `LogType=Tail` returns the last 4 KB of
the same lines. Runtimes other than Python are refused by name (NotImplementedError, a 500), never echoed.

AWS sources: Invoke API reference (InvalidRequestContentException, X-Amz-Log-Result), "Lambda function errors in
Python", "Sending Lambda function logs to CloudWatch Logs".

Functions (configuration and code) are moto's Lambda backend, saved by the state store like any moto backend, so
they survive a restart and stay invocable. The only module-level value is runtime wiring: the server's endpoint
URL handed to handlers, set by ``install``.
"""

from __future__ import annotations

import base64
import json
import logging
import threading

from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import LambdaFunction

from local_aws.lambda_runtime import cloudwatch, runner
from local_aws.patches import patch
from local_aws.state import store as state_store

log = logging.getLogger(__name__)


class _Wiring:
    """Runtime wiring, not state: where handlers reach the local AWS (set by ``install``)."""

    endpoint_url: str | None = None


_wiring = _Wiring()


def _endpoint_url() -> str:
    if _wiring.endpoint_url is None:
        raise RuntimeError("the local AWS server is not started: Lambda handlers have no endpoint to call")
    return _wiring.endpoint_url


def validated_payload(body: bytes | str | None) -> bytes:
    """The request's payload, checked before any handler runs: it must be JSON (AWS: HTTP 400
    InvalidRequestContentException, "Could not parse request body into json: ..."). An empty payload is {}."""
    payload = body.encode() if isinstance(body, str) else (body or b"")
    if not payload.strip():
        return b"{}"
    try:
        json.loads(payload)
    except ValueError as error:
        raise LambdaClientError("InvalidRequestContentException",
                                f"Could not parse request body into json: Could not parse payload into json: "
                                f"{error}") from None
    return payload


def _run(fn: LambdaFunction, event: bytes | str) -> runner.Invocation:
    if not (fn.run_time or "").startswith("python"):
        raise NotImplementedError(f"local Lambda runs Python runtimes only, not {fn.run_time!r}")
    invocation = runner.invoke(
        code=fn.code_bytes, handler=fn.handler, function_name=fn.function_name, function_arn=fn.function_arn,
        env_vars=fn.environment_vars, timeout=float(fn.timeout), memory_mb=int(fn.memory_size),
        endpoint_url=_endpoint_url(), region=fn.region,
        event=event.encode() if isinstance(event, str) else (event or b"{}"),
    )
    cloudwatch.write(invocation, fn.function_name, fn.account_id, fn.region)
    return invocation


def _run_async(fn: LambdaFunction, event: bytes | str) -> None:
    """InvocationType=Event: nobody reads the result, so a failure must at least reach the server's log."""
    try:
        result = _run(fn, event)
        state_store.touch_and_commit("logs")  # outside any request: its log is made durable here
    except Exception:
        log.exception("lambda %s: async invocation could not run", fn.function_name)
        return
    if result.function_error:
        log.warning("lambda %s: async invocation failed: %s", fn.function_name, result.payload.decode(errors="replace"))


@patch("moto.awslambda.models.LambdaFunction.invoke", why="without Docker moto only echoes the payload; the "
       "handler really runs in a subprocess, as AWS Lambda runs it")
def invoke(self: LambdaFunction, body, request_headers, response_headers) -> bytes:
    """Invoke with the API's headers: RequestResponse runs and returns the payload (FunctionError and the
    base64 log tail in the response headers), Event starts a background run and returns b"", DryRun returns b"".
    Raises NotImplementedError for a non-Python runtime."""
    invocation_type = request_headers.get("x-amz-invocation-type", "RequestResponse")
    body = validated_payload(body)
    if invocation_type == "DryRun":
        return b""
    if invocation_type == "Event":
        threading.Thread(target=_run_async, args=(self, body), name=f"lambda-{self.function_name}", daemon=True).start()
        return b""
    result = _run(self, body)
    log.debug("lambda %s: %s", self.function_name, "error" if result.function_error else "ok")
    if result.function_error:
        response_headers["x-amz-function-error"] = result.function_error
    response_headers["x-amz-log-result"] = base64.b64encode(runner.log_tail(result.log).encode()).decode()
    response_headers["x-amz-executed-version"] = "$LATEST"
    return result.payload


# SnapStart is not emulated, so a function has it off, as AWS reports a function without it (DescribeFunction
# SnapStart: ApplyOn "None", OptimizationStatus "Off"; the AWS::Lambda::Function return values).
_SNAP_START_OFF = {"SnapStartResponse.ApplyOn": "None", "SnapStartResponse.OptimizationStatus": "Off"}


@patch("moto.awslambda.models.LambdaFunction.get_cfn_attribute", wrap=True,
       why="AWS::Lambda::Function GetAtt SnapStartResponse.* as AWS documents them (moto: template error)")
def _function_attribute(original):
    def get_cfn_attribute(self, attribute_name: str):
        if attribute_name in _SNAP_START_OFF:
            return _SNAP_START_OFF[attribute_name]
        return original(self, attribute_name)

    return get_cfn_attribute


def install(server) -> None:
    _wiring.endpoint_url = server.endpoint_url
