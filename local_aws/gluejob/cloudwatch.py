"""Ship a run's driver logs to the local CloudWatch Logs, where Glue puts them ("Logging for AWS Glue jobs"): its
stdout to log group ``/aws-glue/jobs/output``, its stderr (Spark's log4j output, tracebacks) to
``/aws-glue/jobs/error``, stream ``<run id>`` in both. The Amazon provider's GlueJobOperator(verbose=True) reads both
from there."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from moto.logs.exceptions import ResourceAlreadyExistsException
from moto.logs.models import logs_backends

from local_aws import ACCOUNT_ID, REGION

log = logging.getLogger(__name__)

LOG_GROUP_PREFIX = "/aws-glue/jobs"
OUTPUT_GROUP = f"{LOG_GROUP_PREFIX}/output"
ERROR_GROUP = f"{LOG_GROUP_PREFIX}/error"
_BATCH = 1000  # lines per PutLogEvents, well under CloudWatch's 10,000 events limit


class DriverLogShipper:
    """Appends a log file's new complete lines to the run's stream in ``group`` on each ``ship()``."""

    def __init__(self, driver_log: Path, run_id: str, group: str = OUTPUT_GROUP):
        self.driver_log = driver_log
        self.run_id = run_id
        self.group = group
        self._offset = 0
        self._ready = False

    def _ensure_stream(self) -> None:
        backend = logs_backends[ACCOUNT_ID][REGION]
        try:
            backend.create_log_group(self.group, {})
        except ResourceAlreadyExistsException:
            pass
        try:
            backend.create_log_stream(self.group, self.run_id)
        except ResourceAlreadyExistsException:
            pass
        self._ready = True

    def ship(self, final: bool = False) -> None:
        """Best effort: a logging failure must never fail the job run."""
        try:
            if not self.driver_log.exists():
                return
            with open(self.driver_log, "rb") as f:
                f.seek(self._offset)
                chunk = f.read()
            if not final:
                chunk = chunk[: chunk.rfind(b"\n") + 1]  # only complete lines until the end
            if not chunk:
                return
            self._offset += len(chunk)
            if not self._ready:
                self._ensure_stream()
            now = int(time.time() * 1000)
            lines = chunk.decode("utf-8", errors="replace").splitlines()
            backend = logs_backends[ACCOUNT_ID][REGION]
            for start in range(0, len(lines), _BATCH):
                events = [{"timestamp": now, "message": line} for line in lines[start : start + _BATCH] if line]
                if events:
                    backend.put_log_events(self.group, self.run_id, events)
        except Exception:
            log.warning("could not ship the driver log of %s to CloudWatch Logs", self.run_id, exc_info=True)
