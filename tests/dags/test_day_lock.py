"""The day lock (one run per day at a time), the load gate before publishing, and reconcile of an empty day.

The lock follows Amazon S3's conditional writes ("Add preconditions to S3 operations with conditional requests",
https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-requests.html): PutObject with
`If-None-Match: *` fails 412 PreconditionFailed when the key exists, and with `If-Match: <ETag>` when the
object changed. moto implements both on PutObject.
"""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
from moto import mock_aws

from sales_pipeline import day_lock
from sales_pipeline.publish_gate import LoadMismatchError, check_loaded

DAY = "2024-01-05"
NOW = dt.datetime(2024, 1, 6, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def s3(monkeypatch):
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket="lake")
        yield client


def lock_body(s3) -> dict:
    return json.loads(s3.get_object(Bucket="lake", Key="locks/sales/dt=2024-01-05.json")["Body"].read())


def test_one_run_holds_a_day_and_a_second_run_of_either_dag_waits(s3):
    assert day_lock.try_acquire(s3, "lake", DAY, "sales_pipeline_daily", "scheduled__1", now=NOW) is None
    for dag_id, run_id in (("sales_pipeline_daily", "manual__2"), ("sales_pipeline_state_machine", "manual__3")):
        holder = day_lock.try_acquire(s3, "lake", DAY, dag_id, run_id, now=NOW)
        assert (holder.dag_id, holder.run_id) == ("sales_pipeline_daily", "scheduled__1")
        assert "run 'scheduled__1' of DAG 'sales_pipeline_daily'" in holder.describe("lake", day_lock.lock_key(DAY))
    # Other days are free.
    assert day_lock.try_acquire(s3, "lake", "2024-01-06", "sales_pipeline_daily", "manual__2", now=NOW) is None
    assert lock_body(s3)["run_id"] == "scheduled__1"


def test_a_retry_of_the_holder_finds_its_own_lock(s3):
    assert day_lock.try_acquire(s3, "lake", DAY, "d", "r", now=NOW) is None
    assert day_lock.try_acquire(s3, "lake", DAY, "d", "r", now=NOW + dt.timedelta(minutes=5)) is None
    assert lock_body(s3)["acquired_at"] == NOW.isoformat(timespec="seconds")


def test_release_frees_only_its_own_lock(s3):
    day_lock.try_acquire(s3, "lake", DAY, "d", "r1", now=NOW)
    assert day_lock.release(s3, "lake", DAY, "d", "r2") is False
    assert lock_body(s3)["run_id"] == "r1"
    assert day_lock.release(s3, "lake", DAY, "d", "r1") is True
    assert day_lock.release(s3, "lake", DAY, "d", "r1") is False  # already gone: a re-run teardown is harmless
    assert day_lock.try_acquire(s3, "lake", DAY, "d", "r2", now=NOW) is None


def test_an_expired_lock_is_taken_over_once(s3):
    day_lock.try_acquire(s3, "lake", DAY, "d", "dead", now=NOW)
    later = NOW + day_lock.LOCK_TTL + dt.timedelta(seconds=1)
    assert day_lock.try_acquire(s3, "lake", DAY, "d", "r2", now=later) is None
    assert lock_body(s3)["run_id"] == "r2"
    # The next waiter sees r2's fresh lock, not the expired one.
    assert day_lock.try_acquire(s3, "lake", DAY, "d", "r3", now=later).run_id == "r2"


def test_a_takeover_with_a_stale_etag_is_refused(s3):
    """If-Match with an ETag the object no longer has: 412, so two waiters never both take an expired lock."""
    day_lock.try_acquire(s3, "lake", DAY, "d", "dead", now=NOW)
    stale = s3.head_object(Bucket="lake", Key=day_lock.lock_key(DAY))["ETag"]
    s3.put_object(Bucket="lake", Key=day_lock.lock_key(DAY), Body=b'{"other": 1}')
    with pytest.raises(s3.exceptions.ClientError, match="PreconditionFailed"):
        s3.put_object(Bucket="lake", Key=day_lock.lock_key(DAY), Body=b"{}", IfMatch=stale)


def test_the_load_gate_passes_equal_counts_and_names_both_otherwise():
    manifest = {"run_date": DAY, "rows_out": 4777}
    assert check_loaded(manifest, {"row_count": 4777, "revenue": "161755.04"})["rows"] == 4777
    with pytest.raises(LoadMismatchError, match="Redshift holds 7607 rows for the day but the Glue job wrote 4777"):
        check_loaded(manifest, {"row_count": 7607, "revenue": "255404.00"})


def test_reconcile_takes_a_missing_aggregate_row_as_zero(monkeypatch):
    """A day without a sale has no row in the daily view, so its UNLOAD exports none: zero, not a failure."""
    from sales_pipeline import queries

    class Hook:
        def __init__(self, **_):
            pass

        def run_query(self, *_a, **_k):
            return "q1"

        def poll_query_status(self, *_a, **_k):
            return "SUCCEEDED"

        def get_query_results(self, _query_id):
            return {"ResultSet": {"Rows": [{"Data": [{"VarCharValue": "row_count"}]}]}}

    monkeypatch.setattr(queries, "AthenaHook", Hook)
    kwargs = {"database": "db", "workgroup": "wg", "aws_conn_id": "aws_default"}
    assert queries.athena_row("select 1", allow_no_row=True, **kwargs) is None
    with pytest.raises(queries.QueryFailedError, match="returned no row"):
        queries.athena_row("select 1", **kwargs)
