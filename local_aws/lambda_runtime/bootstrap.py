"""Runs inside the function's subprocess: import the handler, call it with the event and a context.

Reads the event from stdin; writes {"result": ...} or {"error": {errorType, errorMessage, stackTrace}} as JSON to
the file named by LOCAL_AWS_LAMBDA_RESULT. The handler's prints and logging go to stdout/stderr: the log.
Standard library only: it runs with the function's code first on sys.path.
"""

import importlib
import json
import os
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


def main():
    out_path = os.environ["LOCAL_AWS_LAMBDA_RESULT"]
    try:
        module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
        handler = getattr(importlib.import_module(module_name.replace("/", ".")), function_name)
        event = json.loads(sys.stdin.read() or "{}")
        outcome = {"result": handler(event, LambdaContext())}
        json.dumps(outcome)  # an unserialisable result is the function's error, as on AWS
    except Exception as error:  # noqa: BLE001 - every failure of the function is reported, as AWS does
        frames = traceback.extract_tb(error.__traceback__)[1:]  # the function's frames, not this bootstrap's
        outcome = {"error": {"errorMessage": str(error), "errorType": type(error).__name__,
                             "requestId": os.environ.get("LOCAL_AWS_LAMBDA_REQUEST_ID", ""),
                             "stackTrace": [line.rstrip("\n") for line in traceback.format_list(frames)]}}
        traceback.print_exc()
    with open(out_path, "w") as f:
        json.dump(outcome, f, default=str)


if __name__ == "__main__":
    main()
