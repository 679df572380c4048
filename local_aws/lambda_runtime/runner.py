"""Invoke a function: unpack its deployment package once, run the handler in a fresh Python process."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
CODE_CACHE = Path(tempfile.gettempdir()) / "local-aws-lambda"
TAIL_BYTES = 4096


@dataclass
class Invocation:
    payload: bytes
    function_error: str | None  # "Unhandled" when the handler raised or timed out
    log: str


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


def invoke(*, code: bytes, handler: str, function_name: str, function_arn: str, env_vars: dict,
           timeout: float, memory_mb: int, endpoint_url: str, region: str, event: bytes) -> Invocation:
    request_id = str(uuid.uuid4())
    code_dir = unpack(code)
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
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_SESSION_TOKEN": "local",
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_LAMBDA_FUNCTION_NAME": function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{request_id.replace('-', '')}",
            "LOCAL_AWS_LAMBDA_ARN": function_arn,
            "LOCAL_AWS_LAMBDA_REQUEST_ID": request_id,
            "LOCAL_AWS_LAMBDA_DEADLINE": str(time.time() + timeout),
            "LOCAL_AWS_LAMBDA_RESULT": str(result_path),
        }
        started = time.monotonic()
        try:
            proc = subprocess.run([sys.executable, str(BOOTSTRAP)], input=event or b"{}", env=env, cwd=code_dir,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
            output = proc.stdout.decode(errors="replace")
            outcome = json.loads(result_path.read_text()) if result_path.exists() else {
                "error": {"errorType": "Runtime.ExitError", "errorMessage":
                          f"RequestId: {request_id} Error: Runtime exited with error: exit status {proc.returncode}"}}
        except subprocess.TimeoutExpired as expired:
            output = (expired.stdout or b"").decode(errors="replace")
            message = f"{time.strftime('%Y-%m-%dT%H:%M:%S')}Z {request_id} Task timed out after {timeout:.2f} seconds"
            output += message + "\n"
            outcome = {"error": {"errorType": "Sandbox.Timedout", "errorMessage": message}}
        elapsed_ms = (time.monotonic() - started) * 1000
    log = (f"START RequestId: {request_id} Version: $LATEST\n{output}"
           f"END RequestId: {request_id}\n"
           f"REPORT RequestId: {request_id}\tDuration: {elapsed_ms:.2f} ms\tBilled Duration: {int(elapsed_ms) + 1} ms"
           f"\tMemory Size: {memory_mb} MB\n")
    if "error" in outcome:
        return Invocation(json.dumps(outcome["error"]).encode(), "Unhandled", log)
    return Invocation(json.dumps(outcome["result"]).encode(), None, log)


def log_tail(log: str) -> str:
    """The last 4 KB of the log, as `LogType=Tail` returns it (base64 is the caller's job)."""
    return log.encode()[-TAIL_BYTES:].decode(errors="ignore")
