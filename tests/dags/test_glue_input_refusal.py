"""A day the Glue job refuses for its input fails the task without retries; other job failures keep them.

The failure reaches the operator as it does in Airflow: the provider's GlueJobCompleteTrigger polls a real (local)
Glue job run until it FAILED and yields its event, which the task resumes with in execute_complete.
"""

from __future__ import annotations

import asyncio
import textwrap
import uuid

import boto3
import pytest
from airflow.exceptions import AirflowException
from airflow.providers.amazon.aws.triggers.glue import GlueJobCompleteTrigger
from airflow.sdk.exceptions import AirflowFailException

from sales_pipeline.glue_job import InputRefusalGlueJobOperator

REFUSING = """
class RejectThresholdExceeded(Exception):
    pass

raise RejectThresholdExceeded("2021-12-01: 9 of 10 rows rejected (90.0%), more than max_reject_share 25.0%; "
                              "top reasons: bad_price 9")
"""
CRASHING = "raise MemoryError('the driver ran out of memory')\n"


@pytest.fixture
def failed_run(local_aws, monkeypatch):
    """failed_run(script) -> the trigger's event for a Glue job run of ``script`` that FAILED."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_aws.endpoint_url)
    monkeypatch.setenv("LOCAL_AWS_GLUE_WARM_DRIVERS", "0")  # the scripts never start Spark
    s3, glue = (boto3.client(service, endpoint_url=local_aws.endpoint_url, region_name=local_aws.region)
                for service in ("s3", "glue"))
    bucket = f"refusal-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)

    def run(script: str) -> dict:
        name = f"job-{uuid.uuid4().hex[:8]}"
        s3.put_object(Bucket=bucket, Key=f"{name}.py", Body=textwrap.dedent(script).encode())
        glue.create_job(Name=name, Role="arn:aws:iam::123456789012:role/glue", GlueVersion="5.0",
                        Command={"Name": "glueetl", "ScriptLocation": f"s3://{bucket}/{name}.py"})
        run_id = glue.start_job_run(JobName=name)["JobRunId"]
        trigger = GlueJobCompleteTrigger(job_name=name, run_id=run_id, aws_conn_id=None, region_name="us-east-1",
                                         waiter_delay=1, waiter_max_attempts=120)

        async def first_event():
            return await anext(trigger.run(), None)

        event = asyncio.run(first_event()).payload
        assert event["status"] == "error"
        return event

    return run


def _operator() -> InputRefusalGlueJobOperator:
    return InputRefusalGlueJobOperator(task_id="run_glue_job", job_name="sales", deferrable=True)


def test_a_refused_input_fails_without_retries_naming_the_refusal(failed_run):
    event = failed_run(REFUSING)
    with pytest.raises(AirflowFailException) as failed:
        _operator().execute_complete(context={}, event=event)
    assert str(failed.value).startswith(  # then where the local run's driver log is
        "the Glue job refused the day's input, which a retry would read again: RejectThresholdExceeded: "
        "2021-12-01: 9 of 10 rows rejected (90.0%), more than max_reject_share 25.0%; top reasons: bad_price 9")


def test_another_job_failure_keeps_the_retries(failed_run):
    event = failed_run(CRASHING)
    assert "MemoryError: the driver ran out of memory" in event["message"]
    with pytest.raises(AirflowException) as failed:
        _operator().execute_complete(context={}, event=event)
    assert not isinstance(failed.value, AirflowFailException)
