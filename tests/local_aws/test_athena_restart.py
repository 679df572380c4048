"""Athena across a crash of `python -m local_aws serve`: executions, results, tokens and DDL are durable.

After SIGKILL and a restart on the same state dir, GetQueryExecution and GetQueryResults answer for a finished
query's id exactly as before ("Athena keeps a query history for 45 days", ListQueryExecutions in the Athena API
reference), the result files are in S3, a ClientRequestToken retried after the restart returns the same execution
(StartQueryExecution: the token makes the call idempotent), a table created by DDL is in the Glue catalog, and a
query running at the crash ends FAILED with a StateChangeReason that says why.
"""

from __future__ import annotations

import time
import uuid

import boto3
import requests
from server_process import start_server, stop_server

from local_aws.server import free_port

RESULTS = "athena-restart-results"
SLOW = "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 100000000) SELECT count(*) FROM t"


def clients(url: str):
    return tuple(boto3.client(s, endpoint_url=url, region_name="us-east-1") for s in ("athena", "s3", "glue"))


def start(athena, sql: str, **kwargs) -> str:
    return athena.start_query_execution(
        QueryString=sql, QueryExecutionContext={"Database": "restart_db"},
        ResultConfiguration={"OutputLocation": f"s3://{RESULTS}/adhoc/"}, **kwargs)["QueryExecutionId"]


def wait(athena, query_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        if execution["Status"]["State"] not in ("QUEUED", "RUNNING"):
            return execution
        assert time.monotonic() < deadline, execution["Status"]
        time.sleep(0.02)


def crash(proc) -> None:
    proc.kill()  # SIGKILL: nothing runs at exit
    proc.wait(timeout=30)


def test_finished_query_results_tokens_and_ddl_survive_sigkill(tmp_path):
    """GetQueryExecution/GetQueryResults, the result CSV, a retried ClientRequestToken and a DDL-created table are
    all there after a crash, for the same query id."""
    port = free_port()
    token = uuid.uuid4().hex * 2
    proc, url = start_server(tmp_path / "state", port)
    try:
        athena, s3, glue = clients(url)
        s3.create_bucket(Bucket=RESULTS)
        glue.create_database(DatabaseInput={"Name": "restart_db"})
        query_id = start(athena, "SELECT 1 AS one, 'x' AS letter", ClientRequestToken=token)
        before = wait(athena, query_id)
        assert before["Status"]["State"] == "SUCCEEDED"
        results_before = athena.get_query_results(QueryExecutionId=query_id)
        ddl = wait(athena, start(athena, "CREATE EXTERNAL TABLE events (id bigint) STORED AS PARQUET "
                                         "LOCATION 's3://athena-restart-results/events/'"))
        assert ddl["Status"]["State"] == "SUCCEEDED", ddl["Status"]
    finally:
        crash(proc)

    proc, url = start_server(tmp_path / "state", port)
    try:
        athena, s3, glue = clients(url)
        after = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        assert after == before
        results_after = athena.get_query_results(QueryExecutionId=query_id)
        assert results_after["ResultSet"] == results_before["ResultSet"]
        body = s3.get_object(Bucket=RESULTS, Key=f"adhoc/{query_id}.csv")["Body"].read()
        assert body == b'"one","letter"\n"1","x"\n'
        assert start(athena, "SELECT 1 AS one, 'x' AS letter", ClientRequestToken=token) == query_id
        assert glue.get_table(DatabaseName="restart_db", Name="events")["Table"]["Name"] == "events"
        assert query_id in athena.list_query_executions()["QueryExecutionIds"]
    finally:
        stop_server(proc)


def test_query_running_at_a_crash_ends_failed(tmp_path):
    """A query RUNNING at the crash ends FAILED after the restart, saying why; moto's reset then forgets it."""
    port = free_port()
    proc, url = start_server(tmp_path / "state", port)
    try:
        athena, s3, glue = clients(url)
        s3.create_bucket(Bucket=RESULTS)
        glue.create_database(DatabaseInput={"Name": "restart_db"})
        query_id = start(athena, SLOW)
        deadline = time.monotonic() + 10
        while athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"] != (
                "RUNNING"):
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        crash(proc)

    proc, url = start_server(tmp_path / "state", port)
    try:
        athena, _, _ = clients(url)
        status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        assert status["State"] == "FAILED"
        assert "local AWS stopped before this query finished" in status["StateChangeReason"]
        assert status["AthenaError"]["ErrorMessage"] == status["StateChangeReason"]
        assert "CompletionDateTime" in status
        # moto's reset empties the local Athena too: the execution is gone
        assert requests.post(url + "/moto-api/reset", timeout=30).ok
        try:
            athena.get_query_execution(QueryExecutionId=query_id)
            raise AssertionError("an execution survived moto's reset")
        except athena.exceptions.InvalidRequestException:
            pass
    finally:
        stop_server(proc)
