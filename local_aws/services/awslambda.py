"""Lambda: Invoke runs the function's Python handler from its deployment package, in a subprocess.

moto without Docker only echoes the payload; here the handler really runs (local_aws.lambda_runtime) with the
function's environment, its timeout, and AWS_ENDPOINT_URL pointing back at this server, so boto3 inside the
handler talks to the local AWS. Errors come back as AWS returns them: `FunctionError: Unhandled` and a payload
{errorType, errorMessage, stackTrace}; `LogType=Tail` returns the log's last 4 KB. Runtimes other than Python
are refused by name (NotImplementedError, a 500), never echoed.

Functions (configuration and code) are moto's Lambda backend, saved by the state store like any moto backend, so
they survive a restart and stay invocable. The only module-level value is runtime wiring: the server's endpoint
URL handed to handlers, set by ``install``.
"""

from __future__ import annotations

import base64
import logging
import threading

from moto.awslambda.models import LambdaFunction

from local_aws.lambda_runtime import runner
from local_aws.patches import patch

log = logging.getLogger(__name__)


class _Wiring:
    """Runtime wiring, not state: where handlers reach the local AWS (set by ``install``)."""

    endpoint_url: str | None = None


_wiring = _Wiring()


def _endpoint_url() -> str:
    if _wiring.endpoint_url is None:
        raise RuntimeError("the local AWS server is not started: Lambda handlers have no endpoint to call")
    return _wiring.endpoint_url


def _run(fn: LambdaFunction, event: bytes | str) -> runner.Invocation:
    if not (fn.run_time or "").startswith("python"):
        raise NotImplementedError(f"local Lambda runs Python runtimes only, not {fn.run_time!r}")
    return runner.invoke(
        code=fn.code_bytes, handler=fn.handler, function_name=fn.function_name, function_arn=fn.function_arn,
        env_vars=fn.environment_vars, timeout=float(fn.timeout), memory_mb=int(fn.memory_size),
        endpoint_url=_endpoint_url(), region=fn.region,
        event=event.encode() if isinstance(event, str) else (event or b"{}"),
    )


def _run_async(fn: LambdaFunction, event: bytes | str) -> None:
    """InvocationType=Event: nobody reads the result, so a failure must at least reach the server's log."""
    try:
        result = _run(fn, event)
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


def install(server) -> None:
    _wiring.endpoint_url = server.endpoint_url
