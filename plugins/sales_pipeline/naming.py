"""Deterministic Step Functions execution names derived from the Airflow run."""

from __future__ import annotations

import hashlib
import re

# Step Functions: 1-80 characters from [A-Za-z0-9-_].
_MAX_LEN = 80
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def execution_name(dag_id: str, task_id: str, run_id: str, try_number: int) -> str:
    """The same run, task and try always give the same name, so a resubmitted start is idempotent,
    while a retry (new try number) or a new run of the same day gets a fresh execution."""
    digest = hashlib.sha256(f"{dag_id}|{task_id}|{run_id}|{try_number}".encode()).hexdigest()[:12]
    stage = _UNSAFE.sub("-", task_id.split(".")[0])
    readable = _UNSAFE.sub("-", run_id)
    prefix = f"{stage}-{readable}"[: _MAX_LEN - len(digest) - len(str(try_number)) - 2]
    return f"{prefix}-{try_number}-{digest}"
