"""Invoke a function: unpack its deployment package once, run the handler in a fresh Python process.

AWS sources: "Lambda function errors in Python", "Troubleshoot invocation issues in Lambda" (Runtime.ExitError,
Sandbox.Timedout), "Working with Lambda function logs" (START, END and REPORT lines), and the behaviour of AWS's
Python runtime interface client (awslambdaric) for marshalling."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

from local_aws.iam import service_roles

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
CODE_CACHE = Path(tempfile.gettempdir()) / "local-aws-lambda"
TAIL_BYTES = 4096


@dataclass
class Invocation:
    payload: bytes
    function_error: str | None  # "Unhandled" when the handler raised, timed out or the runtime failed
    log: str  # the invocation's log: START, the function's output, END, REPORT (one line an event)
    request_id: str = ""
    log_stream_name: str = ""
    started_ms: int = 0  # epoch milliseconds
    ended_ms: int = 0


def unpack(code: bytes) -> Path:
    """The package's folder, extracted once per distinct zip."""
    folder = CODE_CACHE / hashlib.sha256(code).hexdigest()
    if not folder.exists():
        CODE_CACHE.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=CODE_CACHE))
        with zipfile.ZipFile(io.BytesIO(code)) as archive:
            archive.extractall(tmp)
        try:
            tmp.rename(folder)
        except OSError:  # another invocation unpacked it first
            pass
    return folder


def _exit_message(request_id: str, returncode: int) -> str:
    """AWS's words when the runtime process ends without answering (Runtime.ExitError)."""
    if returncode == 0:
        reason = "Runtime exited without providing a reason"
    elif returncode < 0:
        reason = f"Runtime exited with error: signal: {_signal_name(-returncode)}"
    else:
        reason = f"Runtime exited with error: exit status {returncode}"
    return f"RequestId: {request_id} Error: {reason}"


def _signal_name(number: int) -> str:
    import signal

    names = {signal.SIGKILL: "killed", signal.SIGTERM: "terminated", signal.SIGSEGV: "segmentation fault",
             signal.SIGABRT: "aborted"}
    return names.get(number, f"signal {number}")


def invoke(*, code: bytes, handler: str, function_name: str, function_arn: str, env_vars: dict,
           timeout: float, memory_mb: int, endpoint_url: str, region: str, event: bytes) -> Invocation:
    """Run the handler once in a fresh process (a fresh execution environment: every invocation is a cold start).

    Returns the payload as AWS's Invoke returns it and the invocation's log. Error payloads (FunctionError
    "Unhandled"): the handler's exception {errorMessage, errorType, requestId, stackTrace};
    Runtime.MarshalError / ImportModuleError / HandlerNotFound (see ``bootstrap``); Sandbox.Timedout
    "RequestId: <id> Error: Task timed out after <timeout>.00 seconds"; Runtime.ExitError "RequestId: <id> Error:
    Runtime exited with error: exit status <n>" when the process ends without answering."""
    request_id = str(uuid.uuid4())
    code_dir = unpack(code)
    stream = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
    with tempfile.TemporaryDirectory() as work:
        result_path = Path(work) / "result.json"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": work,
            "TMPDIR": work,
            **{k: str(v) for k, v in (env_vars or {}).items()},
            "PYTHONPATH": str(code_dir),
            "_HANDLER": handler,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            **service_roles.lambda_credentials(function_arn),  # the execution role's session (issue 15)
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_LAMBDA_FUNCTION_NAME": function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "LOCAL_AWS_LAMBDA_ARN": function_arn,
            "LOCAL_AWS_LAMBDA_REQUEST_ID": request_id,
            "LOCAL_AWS_LAMBDA_DEADLINE": str(time.time() + timeout),
            "LOCAL_AWS_LAMBDA_RESULT": str(result_path),
        }
        started_ms = int(time.time() * 1000)
        started = time.monotonic()
        try:
            proc = subprocess.run([sys.executable, str(BOOTSTRAP)], input=event or b"{}", env=env, cwd=code_dir,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
            output = proc.stdout.decode(errors="replace")
            if result_path.exists():
                outcome = json.loads(result_path.read_text())
            else:
                message = _exit_message(request_id, proc.returncode)
                output += f"{message}\nRuntime.ExitError\n"
                outcome = {"error": {"errorType": "Runtime.ExitError", "errorMessage": message}}
        except subprocess.TimeoutExpired as expired:
            output = (expired.stdout or b"").decode(errors="replace")
            now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            output += f"{now}Z {request_id} Task timed out after {timeout:.2f} seconds\n"
            outcome = {"error": {"errorType": "Sandbox.Timedout",
                                 "errorMessage": f"RequestId: {request_id} Error: Task timed out after "
                                                 f"{timeout:.2f} seconds"}}
        elapsed_ms = (time.monotonic() - started) * 1000
    if output and not output.endswith("\n"):
        output += "\n"
    report = (f"REPORT RequestId: {request_id}\tDuration: {elapsed_ms:.2f} ms\t"
              f"Billed Duration: {math.ceil(elapsed_ms)} ms\tMemory Size: {memory_mb} MB\t"
              f"Max Memory Used: {math.ceil(outcome.get('max_rss_kb', 0) / 1024)} MB\t"
              f"Init Duration: {outcome.get('init_ms', 0.0):.2f} ms")
    log = f"START RequestId: {request_id} Version: $LATEST\n{output}END RequestId: {request_id}\n{report}\n"
    common = {"request_id": request_id, "log_stream_name": stream, "started_ms": started_ms,
              "ended_ms": started_ms + int(elapsed_ms)}
    if "error" in outcome:
        return Invocation(json.dumps(outcome["error"]).encode(), "Unhandled", log, **common)
    if "result_base64" in outcome:
        return Invocation(base64.b64decode(outcome["result_base64"]), None, log, **common)
    return Invocation(outcome["result"].encode(), None, log, **common)


def log_tail(log: str) -> str:
    """The last 4 KB of the log, as `LogType=Tail` returns it (base64 is the caller's job)."""
    return log.encode()[-TAIL_BYTES:].decode(errors="ignore")
