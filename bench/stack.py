"""The benchmark's world: the local AWS in this process, the stack deployed, Airflow configured, and a record of
every AWS API call the local AWS served (with the caller the Amazon provider names in its User-Agent).

Everything lives in a throwaway directory, so a benchmark never touches `make run`'s .state.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from pipeline_tools.airflow_env import REPO, airflow_env, migrate

# Seconds between status checks in the DAGs and the state machines' Wait states, as `make run` uses.
POLL_SECONDS = 1
TIME_SCALE = "0.1"

_CALLER = re.compile(r"Caller/(\S+)")


@dataclass(frozen=True)
class ApiCall:
    at: float  # time.time() when the call was answered
    service: str
    action: str
    caller: str  # the provider's Caller/<class> from the User-Agent; "" for boto3 outside Airflow


class ApiCallRecorder(logging.Handler):
    """Collects the local AWS's one-debug-line-per-call records."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self._lock = threading.Lock()
        self.calls: list[ApiCall] = []

    def emit(self, record: logging.LogRecord) -> None:
        call = getattr(record, "aws_call", None)  # set on the server's one line per API call
        if call is None:
            return
        service, action = call
        match = _CALLER.search(getattr(record, "user_agent", ""))
        with self._lock:
            self.calls.append(ApiCall(record.created, service, action, match.group(1) if match else ""))

    def between(self, start: float, end: float) -> list[ApiCall]:
        with self._lock:
            return [c for c in self.calls if start <= c.at <= end]


class BenchStack:
    """`with BenchStack() as stack:` gives stack.endpoint_url, stack.outputs, stack.env (for `airflow`),
    stack.airflow_home, stack.workdir and stack.calls."""

    def __init__(self, workdir: Path | None = None):
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="sales-bench-")
        self.workdir = Path(workdir or self._tmp.name)
        self.calls = ApiCallRecorder()
        self._aws = None

    def __enter__(self) -> BenchStack:
        from local_aws.server import LocalAWS
        from pipeline_tools.deploy import deploy_local

        os.environ.setdefault("LOCAL_AWS_TIME_SCALE", TIME_SCALE)
        server_log = logging.getLogger("local_aws")
        server_log.setLevel(logging.DEBUG)
        server_log.propagate = False  # one line per call is for the recorder, not the console
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server_log.addHandler(self.calls)
        self._server_log = logging.FileHandler(self.workdir / "local-aws.log")
        self._server_log.setLevel(logging.INFO)
        self._server_log.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        server_log.addHandler(self._server_log)
        self._aws = LocalAWS(port=0, state_dir=self.workdir / "local-aws").__enter__()
        self.endpoint_url = self._aws.endpoint_url
        self.outputs = deploy_local(self.endpoint_url, REPO)
        self.airflow_home = self.workdir / "airflow"
        self.env = airflow_env(self.airflow_home, self.endpoint_url, self.outputs, poll_seconds=POLL_SECONDS)
        migrate(self.env)
        return self

    def __exit__(self, *exc) -> None:
        if self._aws is not None:
            self._aws.__exit__(*exc)
        logging.getLogger("local_aws").removeHandler(self.calls)
        logging.getLogger("local_aws").removeHandler(self._server_log)
        self._server_log.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def client(self, service: str):
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint_url, region_name="us-east-1",
                            aws_access_key_id="local", aws_secret_access_key="local")
