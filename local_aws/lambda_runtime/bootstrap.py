"""Runs inside the function's subprocess: import the handler, call it with the event and a context.

Reads the event (JSON, validated by the caller) from stdin; writes one JSON object to the file named by
LOCAL_AWS_LAMBDA_RESULT: {"result": <the response as JSON text>} or {"result_base64": ...} for a handler that
returned bytes (AWS passes bytes through unchanged), or {"error": {errorMessage, errorType, requestId,
stackTrace}}, plus "init_ms" (importing the handler) and "max_rss_kb". The handler's prints and logging go to
stdout/stderr: the log.

Behaviour of AWS's Python runtime (awslambdaric): a response that is not JSON-serialisable is
Runtime.MarshalError "Unable to marshal response: <reason>" with an empty stackTrace; Decimal is encoded as a
number; a module that does not import is Runtime.ImportModuleError "Unable to import module '<m>': <reason>"; a
missing function is Runtime.HandlerNotFound "Handler '<f>' missing on module '<m>'"; an exception from the
handler is logged as "[ERROR] <Type>: <message>" followed by its traceback.
Standard library only: it runs with the function's code first on sys.path.
"""

import base64
import decimal
import importlib
import json
import os
import resource
import sys
import time
import traceback


class LambdaContext:
    def __init__(self):
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ["LOCAL_AWS_LAMBDA_ARN"]
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = os.environ["LOCAL_AWS_LAMBDA_REQUEST_ID"]
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = None
        self.client_context = None
        self._deadline = float(os.environ["LOCAL_AWS_LAMBDA_DEADLINE"])

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.time()) * 1000))


class _Fault(Exception):
    """A failure of the runtime rather than of the handler's code (no stack trace in the response)."""

    def __init__(self, error_type, message):
        super().__init__(message)
        self.error_type = error_type


def _decimal(value):
    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_nan() else json.loads(str(value))
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _handler():
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except Exception as error:  # noqa: BLE001 - AWS reports any import failure the same way
        raise _Fault("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}") from None
    handler = getattr(module, function_name, None)
    if handler is None:
        raise _Fault("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")
    return handler


def _error(error_type, message, stack):
    return {"errorMessage": message, "errorType": error_type,
            "requestId": os.environ.get("LOCAL_AWS_LAMBDA_REQUEST_ID", ""), "stackTrace": stack}


def main():
    out_path = os.environ["LOCAL_AWS_LAMBDA_RESULT"]
    started = time.monotonic()
    init_ms = 0.0
    try:
        handler = _handler()
        init_ms = (time.monotonic() - started) * 1000
        response = handler(json.loads(sys.stdin.read() or "{}"), LambdaContext())
        if isinstance(response, bytes | bytearray):
            outcome = {"result_base64": base64.b64encode(bytes(response)).decode()}
        else:
            try:
                outcome = {"result": json.dumps(response, default=_decimal, ensure_ascii=False)}
            except (TypeError, ValueError) as error:
                raise _Fault("Runtime.MarshalError", f"Unable to marshal response: {error}") from None
    except _Fault as fault:
        outcome = {"error": _error(fault.error_type, str(fault), [])}
        print(f"[ERROR] {fault.error_type}: {fault}", flush=True)
    except Exception as error:  # noqa: BLE001 - every failure of the function is reported, as AWS does
        frames = traceback.extract_tb(error.__traceback__)[1:]  # the function's frames, not this bootstrap's
        stack = [line.rstrip("\n") for line in traceback.format_list(frames)]
        outcome = {"error": _error(type(error).__name__, str(error), stack)}
        print(f"[ERROR] {type(error).__name__}: {error}\nTraceback (most recent call last):\n" + "\n".join(stack),
              flush=True)
    outcome["init_ms"] = init_ms
    outcome["max_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(out_path, "w") as f:
        json.dump(outcome, f, default=str)


if __name__ == "__main__":
    main()
