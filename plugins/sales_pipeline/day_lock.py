"""One run per day at a time: a lock object in the lake, taken with an S3 conditional write.

Why a lock in the lake and not an Airflow pool: the runs that must not overlap can come from two DAGs and from
separate Airflow set-ups (a second deployment, a developer's `airflow dags test`) that share only the lake. A pool
or `max_active_runs` is per DAG and per metadata database, so it cannot see them; the lake is what they share.
S3 makes the lock safe: PutObject with `If-None-Match: *` succeeds for exactly one writer and answers the others
`412 PreconditionFailed` ("Add preconditions to S3 operations with conditional requests", Amazon S3 User Guide,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-requests.html); a lock left behind by a run
that died is taken over only after it expires, with `If-Match: <its ETag>`, so two waiters cannot both take it.

The lock is `locks/sales/dt=<ds>.json` in the data lake bucket, holding {"dag_id", "run_id" (the run id and the
run's start), "acquired_at", "expires_at"} (ISO 8601 UTC). A retry of the run that holds it finds it its own and
goes on. A run that died without its teardown (its Airflow gone) leaves the lock until it expires; delete the
object to free the day sooner.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

LOCK_PREFIX = "locks/sales/"
# Longer than a run may last (the DAGs' dagrun_timeout is 3 h): past it, the holder is taken to be dead.
LOCK_TTL = dt.timedelta(hours=3)


def lock_key(day: str) -> str:
    """The lock object's key for a day (YYYY-MM-DD)."""
    return f"{LOCK_PREFIX}dt={day}.json"


class DayLockedError(RuntimeError):
    """Another run holds the day's lock; the message names it."""


@dataclass(frozen=True)
class Holder:
    dag_id: str
    run_id: str
    acquired_at: str
    expires_at: str
    etag: str

    def describe(self, bucket: str, key: str) -> str:
        return (f"run {self.run_id!r} of DAG {self.dag_id!r} since {self.acquired_at} "
                f"(lock s3://{bucket}/{key}, expires {self.expires_at})")


def _error_code(exc: Exception) -> str | None:
    return getattr(exc, "response", {}).get("Error", {}).get("Code")


def _holder(s3: Any, bucket: str, key: str) -> Holder | None:
    try:
        obj = s3.get_object(Bucket=bucket, Key=key)
    except Exception as exc:  # botocore ClientError; imported lazily with the hook
        if _error_code(exc) in ("NoSuchKey", "404"):
            return None
        raise
    body = json.loads(obj["Body"].read())
    return Holder(body["dag_id"], body["run_id"], body["acquired_at"], body["expires_at"], obj["ETag"])


def try_acquire(s3: Any, bucket: str, day: str, dag_id: str, run_id: str,
                now: dt.datetime | None = None) -> Holder | None:
    """Take the day's lock for (dag_id, run_id). Returns None when this run holds it (newly or already), else
    the other run that holds it. s3: a boto3 S3 client. Raises botocore's ClientError on any other S3 error."""
    now = now or dt.datetime.now(dt.UTC)
    key = lock_key(day)
    body = json.dumps({"dag_id": dag_id, "run_id": run_id, "acquired_at": now.isoformat(timespec="seconds"),
                       "expires_at": (now + LOCK_TTL).isoformat(timespec="seconds")}).encode()
    for _ in range(3):  # the lock may change between the refused write and the read: look again
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", IfNoneMatch="*")
            return None
        except Exception as exc:
            if _error_code(exc) not in ("PreconditionFailed", "412"):
                raise
        holder = _holder(s3, bucket, key)
        if holder is None:
            continue  # released in between: try again
        if (holder.dag_id, holder.run_id) == (dag_id, run_id):
            return None  # a retry of the run that holds it
        if dt.datetime.fromisoformat(holder.expires_at) > now:
            return holder
        try:  # expired: take it over, unless another waiter did first
            s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", IfMatch=holder.etag)
            return None
        except Exception as exc:
            if _error_code(exc) not in ("PreconditionFailed", "412", "NoSuchKey", "404"):
                raise
    holder = _holder(s3, bucket, key)
    if holder is None or (holder.dag_id, holder.run_id) == (dag_id, run_id):
        raise DayLockedError(f"the lock for {day} (s3://{bucket}/{key}) keeps changing hands; try again")
    return holder


def release(s3: Any, bucket: str, day: str, dag_id: str, run_id: str) -> bool:
    """Delete the day's lock if (dag_id, run_id) holds it; True when deleted. Never deletes another run's lock."""
    key = lock_key(day)
    holder = _holder(s3, bucket, key)
    if holder is None or (holder.dag_id, holder.run_id) != (dag_id, run_id):
        return False
    s3.delete_object(Bucket=bucket, Key=key)
    return True


def _run_identity() -> tuple[str, str, str]:
    """(dag_id, run key, ds). The run key is the run id and the run's start: two Airflow set-ups running the same
    DAG for the same day have the same run id (scheduled__<date>), but not the same start; a task's retry keeps it."""
    from airflow.sdk import get_current_context

    context = get_current_context()
    started = context["dag_run"].start_date
    return context["dag"].dag_id, f"{context['run_id']}@{started.isoformat() if started else '-'}", context["ds"]


def _lake(aws_conn_id: str) -> tuple[Any, str]:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.sdk import Variable

    bucket = Variable.get("sales_pipeline", deserialize_json=True)["DataLakeBucket"]
    return S3Hook(aws_conn_id=aws_conn_id).get_conn(), bucket


def acquire_day_lock(aws_conn_id: str, poke_seconds: float, timeout_seconds: float):
    """A sensor task (reschedule mode: no worker slot held while waiting) that waits until this run holds the
    lock of its day (`ds`), logging the run that holds it meanwhile."""
    import logging

    from airflow.sdk import PokeReturnValue, task

    @task.sensor(task_id="acquire_day_lock", poke_interval=poke_seconds, timeout=timeout_seconds,
                 mode="reschedule")
    def acquire_day_lock() -> PokeReturnValue:
        """Wait until this run holds its day's lock in the lake (one run per day at a time, across DAGs)."""
        dag_id, run_id, day = _run_identity()
        s3, bucket = _lake(aws_conn_id)
        holder = try_acquire(s3, bucket, day, dag_id, run_id)
        if holder is not None:
            logging.getLogger(__name__).warning("%s is being processed by %s: waiting", day,
                                                holder.describe(bucket, lock_key(day)))
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value=f"s3://{bucket}/{lock_key(day)}")

    return acquire_day_lock()


def release_day_lock(aws_conn_id: str):
    """The teardown task that deletes the day's lock if this run holds it (whatever the run's outcome)."""
    from airflow.sdk import task

    @task(task_id="release_day_lock")
    def release_day_lock() -> bool:
        """Release this run's day lock (another run's lock is never touched)."""
        dag_id, run_id, day = _run_identity()
        s3, bucket = _lake(aws_conn_id)
        return release(s3, bucket, day, dag_id, run_id)

    return release_day_lock()
