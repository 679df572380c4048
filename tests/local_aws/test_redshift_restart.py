"""The local Redshift across a crash of `python -m local_aws serve`: clusters, tables, statements and their results.

What the Data API acknowledged is on disk before the answer: after SIGKILL and a restart on the same state dir the
cluster is there with the same identifier and creation time, the table keeps its rows, and a finished statement is
found by its id with its status and result ("Considerations when calling the Amazon Redshift Data API": results are
kept 24 hours). A statement running at the crash ends FAILED, saying why.
"""

from __future__ import annotations

import time

import boto3
import requests
from redshift_support import DONE, records_to_rows
from server_process import start_server, stop_server

from local_aws.server import free_port

CLUSTER = "restart-wh"
TARGET = {"ClusterIdentifier": CLUSTER, "Database": "dev", "DbUser": "admin"}
DIGITS = "with d(x) as (select 0 union all select 1 union all select 2 union all select 3 union all select 4 " \
         "union all select 5 union all select 6 union all select 7 union all select 8 union all select 9) "
SLOW = DIGITS + "select sum(a.x * b.x + c.x * e.x + f.x * g.x + h.x * i.x + j.x) from d a, d b, d c, d e, d f, " \
                "d g, d h, d i, d j, d k"


def clients(url: str):
    return (boto3.client("redshift", endpoint_url=url, region_name="us-east-1"),
            boto3.client("redshift-data", endpoint_url=url, region_name="us-east-1"))


def wait(data, statement_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        described = data.describe_statement(Id=statement_id)
        if described["Status"] in DONE:
            return described
        assert time.monotonic() < deadline, f"statement still {described['Status']}"
        time.sleep(0.02)


def run(data, sql: str) -> dict:
    described = wait(data, data.execute_statement(Sql=sql, **TARGET)["Id"])
    assert described["Status"] == "FINISHED", described.get("Error")
    return described


def crash(proc) -> None:
    proc.kill()  # SIGKILL: nothing runs at exit
    proc.wait(timeout=30)


def test_cluster_table_and_finished_statement_survive_sigkill(tmp_path):
    """A cluster, a table of 3 rows and a SELECT's result, all written through the API, are there after a crash;
    DescribeStatement and GetStatementResult answer for the same statement id (Data API reference)."""
    port = free_port()
    proc, url = start_server(tmp_path / "state", port)
    try:
        redshift, data = clients(url)
        created = redshift.create_cluster(ClusterIdentifier=CLUSTER, NodeType="ra3.large", MasterUsername="admin",
                                          MasterUserPassword="Secret-Passw0rd", DBName="dev")["Cluster"]
        run(data, "create table sales (id int, amount decimal(10,2))")
        run(data, "insert into sales values (1, 10.50), (2, 5.25), (3, 1.00)")
        selected = run(data, "select id, amount from sales order by id")
        batch = wait(data, data.batch_execute_statement(Sqls=["select count(*) from sales", "select 7"],
                                                        StatementName="restart-batch", **TARGET)["Id"])
        before = data.describe_statement(Id=selected["Id"])
    finally:
        crash(proc)

    proc, url = start_server(tmp_path / "state", port)
    try:
        redshift, data = clients(url)
        cluster = redshift.describe_clusters(ClusterIdentifier=CLUSTER)["Clusters"][0]
        assert cluster["ClusterIdentifier"] == CLUSTER and cluster["ClusterCreateTime"] == created["ClusterCreateTime"]
        after = data.describe_statement(Id=selected["Id"])
        after.pop("ResponseMetadata"), before.pop("ResponseMetadata")
        assert after == before
        result = data.get_statement_result(Id=selected["Id"])
        assert records_to_rows(result["Records"]) == [[1, "10.50"], [2, "5.25"], [3, "1.00"]]
        assert [c["name"] for c in result["ColumnMetadata"]] == ["id", "amount"]
        restored_batch = data.describe_statement(Id=batch["Id"])
        assert [s["Status"] for s in restored_batch["SubStatements"]] == ["FINISHED", "FINISHED"]
        assert data.get_statement_result(Id=f"{batch['Id']}:1")["Records"] == [[{"longValue": 3}]]
        listed = data.list_statements(StatementName="restart-batch")["Statements"]
        assert [s["Id"] for s in listed] == [batch["Id"]]
        # the table itself, through a new statement; its ids do not repeat the previous run's
        count = run(data, "select count(*), sum(amount) from sales")
        assert records_to_rows(data.get_statement_result(Id=count["Id"])["Records"]) == [[3, "16.75"]]
        assert count["RedshiftPid"] > before["RedshiftPid"]
        assert count["RedshiftQueryId"] > before["RedshiftQueryId"]
    finally:
        stop_server(proc)


def test_statement_running_at_a_crash_ends_failed_and_sessions_are_gone(tmp_path):
    """A statement STARTED when the server died cannot finish after the restart: it is FAILED with an error that
    says so (AWS would have finished it). A session does not outlive the process: its id is refused."""
    port = free_port()
    proc, url = start_server(tmp_path / "state", port)
    try:
        redshift, data = clients(url)
        redshift.create_cluster(ClusterIdentifier=CLUSTER, NodeType="ra3.large", MasterUsername="admin",
                                MasterUserPassword="Secret-Passw0rd", DBName="dev")
        session = wait(data, data.execute_statement(Sql="create temp table t as select 1 as v",
                                                    SessionKeepAliveSeconds=600, **TARGET)["Id"])["SessionId"]
        running = data.execute_statement(Sql=SLOW, **TARGET)["Id"]
        deadline = time.monotonic() + 20
        while data.describe_statement(Id=running)["Status"] != "STARTED":
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        crash(proc)

    proc, url = start_server(tmp_path / "state", port)
    try:
        _, data = clients(url)
        described = data.describe_statement(Id=running)
        assert described["Status"] == "FAILED"
        assert "local AWS stopped before this statement finished" in described["Error"]
        failed = data.list_statements(Status="FAILED")["Statements"]
        assert running in [s["Id"] for s in failed]
        try:
            data.execute_statement(Sql="select v from t", SessionId=session)
            raise AssertionError("a session survived the restart")
        except data.exceptions.ValidationException as exc:
            assert "Session" in str(exc)
    finally:
        stop_server(proc)


def test_moto_reset_drops_the_warehouse(tmp_path):
    """moto's reset empties every service: the local Redshift's databases go too, so a cluster created again
    under the same identifier starts empty."""
    port = free_port()
    proc, url = start_server(tmp_path / "state", port)
    try:
        redshift, data = clients(url)
        cluster = dict(ClusterIdentifier=CLUSTER, NodeType="ra3.large", MasterUsername="admin",
                       MasterUserPassword="Secret-Passw0rd", DBName="dev")
        redshift.create_cluster(**cluster)
        kept = run(data, "create table kept (id int)")
        assert list((tmp_path / "state" / "redshift").rglob("dev.duckdb"))
        assert requests.post(url + "/moto-api/reset", timeout=30).ok
        assert not list((tmp_path / "state" / "redshift").rglob("*.duckdb"))
        try:
            data.describe_statement(Id=kept["Id"])
            raise AssertionError("a statement survived the reset")
        except data.exceptions.ResourceNotFoundException:
            pass
        redshift.create_cluster(**cluster)
        missing = wait(data, data.execute_statement(Sql="select * from kept", **TARGET)["Id"])
        assert missing["Error"] == 'ERROR: relation "kept" does not exist'
    finally:
        stop_server(proc)
