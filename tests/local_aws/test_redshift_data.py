"""Redshift Data API on the local AWS, through boto3's `redshift-data` client against a moto cluster."""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).parent))  # the shared helper module next to this file
from redshift_support import Warehouse, records_to_rows  # noqa: E402

# 10^4 rows from a digits CTE, in Redshift SQL (no generate_series on a leader-node-free query)
DIGITS = "with d(x) as (select 0 union all select 1 union all select 2 union all select 3 union all select 4 " \
         "union all select 5 union all select 6 union all select 7 union all select 8 union all select 9) "

@pytest.fixture(scope="module")
def wh(local_aws) -> Warehouse:
    return Warehouse(local_aws)


def test_typed_result_with_column_metadata(wh):
    wh.ok("create table typed (id bigint, name varchar(20), price decimal(10,2), ratio float8, flag boolean, "
          "day date, at timestamp) diststyle all")
    inserted = wh.ok("insert into typed values (1, 'a', 12.50, 0.5, true, '2021-12-01', '2021-12-01 10:11:12'), "
                     "(2, null, null, null, null, null, null)")
    assert inserted["ResultRows"] == 2 and inserted["HasResultSet"] is False
    described = wh.ok("select * from typed order by id")
    assert described["HasResultSet"] is True and described["ResultRows"] == 2 and described["ResultSize"] > 0
    assert described["Duration"] > 0 and described["RedshiftPid"] > 0 and described["RedshiftQueryId"] > 0
    assert described["UpdatedAt"] >= described["CreatedAt"]
    assert described["QueryString"] == "select * from typed order by id"
    result = wh.data.get_statement_result(Id=described["Id"])
    assert result["TotalNumRows"] == 2
    first, second = result["Records"]
    assert first == [{"longValue": 1}, {"stringValue": "a"}, {"stringValue": "12.50"}, {"doubleValue": 0.5},
                     {"booleanValue": True}, {"stringValue": "2021-12-01"}, {"stringValue": "2021-12-01 10:11:12"}]
    assert second[0] == {"longValue": 2} and all(f == {"isNull": True} for f in second[1:])
    meta = {c["name"]: c for c in result["ColumnMetadata"]}
    assert [c["name"] for c in result["ColumnMetadata"]] == ["id", "name", "price", "ratio", "flag", "day", "at"]
    assert meta["id"]["typeName"] == "int8"
    assert (meta["price"]["typeName"], meta["price"]["precision"], meta["price"]["scale"]) == ("numeric", 10, 2)
    assert meta["name"]["typeName"] == "varchar" and meta["at"]["typeName"] == "timestamp"
    assert meta["flag"]["typeName"] == "bool" and meta["ratio"]["typeName"] == "float8"


def test_get_statement_result_pages_with_next_token(wh):
    described = wh.ok(DIGITS + "select a.x * 1000 + b.x * 100 + c.x * 10 + e.x as n from d a, d b, d c, d e "
                      "where a.x * 1000 + b.x * 100 + c.x * 10 + e.x < 2500 order by n")
    assert described["ResultRows"] == 2500
    numbers, token, pages = [], None, 0
    while True:
        page = wh.data.get_statement_result(Id=described["Id"], **({"NextToken": token} if token else {}))
        assert page["TotalNumRows"] == 2500
        numbers += [r[0]["longValue"] for r in page["Records"]]
        pages += 1
        token = page.get("NextToken")
        if not token:
            break
    assert numbers == list(range(2500)) and pages > 1
    paginator = wh.data.get_paginator("get_statement_result")
    assert sum(len(p["Records"]) for p in paginator.paginate(Id=described["Id"])) == 2500
    with pytest.raises(ClientError, match="NextToken"):
        wh.data.get_statement_result(Id=described["Id"], NextToken="garbage")


def test_parameters_are_bound_as_literals(wh):
    wh.ok("create table people (id int, name varchar(30))")
    wh.ok("insert into people values (:id, :name)",
          Parameters=[{"name": "id", "value": "7"}, {"name": "name", "value": "O'Brien; drop table people"}])
    assert wh.rows("select id, name from people where name = :n and id = :i",
                   Parameters=[{"name": "n", "value": "O'Brien; drop table people"}, {"name": "i", "value": "7"}]
                   ) == [[7, "O'Brien; drop table people"]]
    described = wh.ok("select ':id' as literal, id from people where id = :id",
                      Parameters=[{"name": "id", "value": "7"}])
    assert records_to_rows(wh.data.get_statement_result(Id=described["Id"])["Records"]) == [[":id", 7]]
    with pytest.raises(ClientError, match="ValidationException.*missing"):
        wh.data.execute_statement(Sql="select :missing", Parameters=[{"name": "other", "value": "1"}], **wh.target())


def test_multi_statement_sql_splits_on_semicolons_outside_quotes(wh):
    described = wh.ok("create table notes (t varchar(40)); insert into notes values ('a;b'), ('it''s; fine'); "
                      "-- trailing comment; with a semicolon\nselect count(*) from notes")
    assert described["ResultRows"] == 1
    assert wh.rows("select t from notes order by t") == [["a;b"], ["it's; fine"]]


def test_batch_runs_as_one_transaction(wh):
    wh.ok("create table ledger (id int not null, amount decimal(10,2))")
    good = wh.batch(["insert into ledger values (1, 10.00)", "insert into ledger values (2, 5.50)",
                     "select sum(amount) from ledger"], StatementName="ledger-good")
    assert good["Status"] == "FINISHED"
    subs = good["SubStatements"]
    assert [s["Id"] for s in subs] == [f"{good['Id']}:{i}" for i in (1, 2, 3)]
    assert [s["Status"] for s in subs] == ["FINISHED"] * 3
    assert subs[0]["ResultRows"] == 1 and subs[2]["HasResultSet"] is True
    assert wh.data.get_statement_result(Id=subs[2]["Id"])["Records"] == [[{"stringValue": "15.50"}]]
    with pytest.raises(ClientError, match="sub-statement"):
        wh.data.get_statement_result(Id=good["Id"])

    bad = wh.batch(["delete from ledger", "insert into ledger values (3, 1.00)",
                    "insert into ledger values (null, 1.00)", "insert into ledger values (4, 1.00)"])
    assert bad["Status"] == "FAILED"
    assert bad["Error"].startswith("Query #3 failed with ERROR:") and "NULL" in bad["Error"]
    assert [s["Status"] for s in bad["SubStatements"]] == ["FINISHED", "FINISHED", "FAILED", "ABORTED"]
    assert wh.rows("select id from ledger order by id") == [[1], [2]]  # the delete and insert were rolled back
    described = wh.data.describe_statement(Id=f"{bad['Id']}:3")
    assert described["Status"] == "FAILED" and "NULL" in described["Error"]


def test_session_keeps_temp_tables_and_open_transactions(wh):
    wh.ok("create table shared_rows (id int)")
    first = wh.ok("create temp table scratch as select 41 as v", SessionKeepAliveSeconds=60)
    session = first["SessionId"]
    second = wh.wait(wh.data.execute_statement(Sql="select v + 1 from scratch", SessionId=session)["Id"])
    assert second["Status"] == "FINISHED" and second["SessionId"] == session
    assert wh.data.get_statement_result(Id=second["Id"])["Records"] == [[{"longValue": 42}]]
    assert wh.run("select * from scratch")["Error"] == 'ERROR: relation "scratch" does not exist'

    opened = wh.wait(
        wh.data.execute_statement(Sql="begin; insert into shared_rows values (1)", SessionId=session)["Id"]
    )
    assert opened["Status"] == "FINISHED"
    assert wh.rows("select count(*) from shared_rows") == [[0]]  # not committed yet: invisible elsewhere
    committed = wh.wait(wh.data.execute_statement(Sql="commit", SessionId=session)["Id"])
    assert committed["Status"] == "FINISHED"
    assert wh.rows("select count(*) from shared_rows") == [[1]]


def test_session_expires(wh):
    session = wh.ok("select 1", SessionKeepAliveSeconds=1)["SessionId"]
    time.sleep(1.5)
    with pytest.raises(ClientError, match="ValidationException.*Session"):
        wh.data.execute_statement(Sql="select 1", SessionId=session)


def test_cancel_a_running_statement(wh):
    slow = DIGITS + "select sum(a.x * b.x + c.x * e.x + f.x * g.x + h.x * i.x + j.x) from d a, d b, d c, d e, d f, " \
                    "d g, d h, d i, d j, d k"
    statement_id = wh.data.execute_statement(Sql=slow, **wh.target())["Id"]
    seen = set()
    deadline = time.monotonic() + 20
    while "STARTED" not in seen and time.monotonic() < deadline:
        seen.add(wh.data.describe_statement(Id=statement_id)["Status"])
        time.sleep(0.01)
    assert "STARTED" in seen
    assert wh.data.cancel_statement(Id=statement_id)["Status"] is True
    assert wh.wait(statement_id)["Status"] == "ABORTED"
    with pytest.raises(ClientError, match="ValidationException.*ABORTED"):
        wh.data.cancel_statement(Id=statement_id)


def test_list_statements_filters_by_status_and_name(wh):
    tag = uuid.uuid4().hex[:6]
    ok = wh.ok("select 1", StatementName=f"listing-{tag}-ok")
    bad = wh.run("select * from no_such_table", StatementName=f"listing-{tag}-bad")
    listed = wh.data.list_statements(StatementName=f"listing-{tag}")["Statements"]
    assert {s["Id"] for s in listed} == {ok["Id"], bad["Id"]}
    failed = wh.data.list_statements(StatementName=f"listing-{tag}", Status="FAILED")["Statements"]
    assert [s["Id"] for s in failed] == [bad["Id"]]
    assert failed[0]["QueryString"] == "select * from no_such_table" and failed[0]["IsBatchStatement"] is False
    page = wh.data.list_statements(MaxResults=1)
    assert len(page["Statements"]) == 1 and page["NextToken"]


def test_errors_as_the_data_api_words_them(wh):
    with pytest.raises(ClientError) as unknown_cluster:
        wh.data.execute_statement(Sql="select 1", ClusterIdentifier="no-such-cluster", Database="dev", DbUser="a")
    assert unknown_cluster.value.response["Error"]["Code"] == "ValidationException"
    assert unknown_cluster.value.response["Error"]["Message"] == "Redshift endpoint doesn't exist in this region."
    with pytest.raises(ClientError, match="DbUser or SecretArn"):
        wh.data.execute_statement(Sql="select 1", ClusterIdentifier=wh.cluster, Database="dev")
    with pytest.raises(ClientError) as unknown_id:
        wh.data.describe_statement(Id=str(uuid.uuid4()))
    assert unknown_id.value.response["Error"]["Code"] == "ResourceNotFoundException"

    missing_db = wh.wait(wh.data.execute_statement(
        Sql="select 1", ClusterIdentifier=wh.cluster, Database="nodb", SecretArn="arn:aws:secretsmanager:x")["Id"])
    assert (missing_db["Status"], missing_db["Error"]) == ("FAILED", 'ERROR: database "nodb" does not exist')
    wh.ok("create table if not exists errors_probe (id bigint)")  # its own table: tests may run on any worker
    assert wh.run("select nope from errors_probe")["Error"] == 'ERROR: column "nope" does not exist'
    unsupported = wh.run("vacuum errors_probe")
    assert unsupported["Status"] == "FAILED" and "VACUUM" in unsupported["Error"]
    with pytest.raises(ClientError, match="Query does not have result"):
        wh.data.get_statement_result(Id=unsupported["Id"])


def test_concurrent_statements_on_one_database(wh):
    wh.ok("create table hits (n int)")
    ids = [wh.data.execute_statement(Sql=f"insert into hits values ({i})", **wh.target())["Id"] for i in range(12)]
    ids += [wh.data.execute_statement(Sql="select count(*) from hits", **wh.target())["Id"] for _ in range(4)]
    assert {wh.wait(i)["Status"] for i in ids} == {"FINISHED"}
    assert wh.rows("select count(*), sum(n) from hits") == [[12, sum(range(12))]]


def test_databases_are_files_that_outlive_the_warehouse(tmp_path):
    """A new warehouse on the same directory (a restart) finds the tables committed by the previous one."""
    from local_aws.redshift.statements import Counters, RedshiftData

    first = RedshiftData(tmp_path, {}, Counters())
    connection = first.database("wh-persist", "dev").cursor()
    connection.run("create table kept (id int) diststyle all")
    connection.run("insert into kept values (1), (2)")
    connection.close()
    first.close()
    assert (tmp_path / "wh-persist" / "dev.duckdb").is_file()

    second = RedshiftData(tmp_path, {}, Counters())
    connection = second.database("wh-persist", "dev").cursor()
    assert connection.run("select count(*) from kept").rows == [(2,)]
    connection.close()
    second.close()


def test_deleting_a_cluster_deletes_its_databases(local_aws):
    """DeleteCluster (Redshift API reference): the cluster and its data go; a new cluster of the same identifier
    starts with an empty database."""
    wh = Warehouse(local_aws)  # its own cluster: the module's is shared
    wh.ok("create table doomed (id int); insert into doomed values (1)")
    redshift = wh.client("redshift")
    redshift.delete_cluster(ClusterIdentifier=wh.cluster, SkipFinalClusterSnapshot=True)
    assert not (local_aws.state_dir / "redshift" / local_aws.account_id / local_aws.region / wh.cluster).exists()
    redshift.create_cluster(ClusterIdentifier=wh.cluster, NodeType="ra3.large", MasterUsername="admin",
                            MasterUserPassword="Secret-Passw0rd", DBName=wh.database)
    assert wh.run("select * from doomed")["Error"] == 'ERROR: relation "doomed" does not exist'


def test_results_are_kept_24_hours(wh, local_aws):
    """"The maximum retention time for query results is 24 hours" (Considerations when calling the Amazon Redshift
    Data API): an older statement is unknown, and it leaves the saved state at the next submission."""
    from local_aws.services.redshift_data import redshift_data_backends

    statements = redshift_data_backends[local_aws.account_id][local_aws.region].statements
    old = wh.ok("select 1", StatementName="retention-old")
    recent = wh.ok("select 2", StatementName="retention-recent")
    statements[old["Id"]].updated_at -= 24 * 3600 + 1
    with pytest.raises(ClientError) as gone:
        wh.data.describe_statement(Id=old["Id"])
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"
    listed = {s["Id"] for s in wh.data.list_statements(StatementName="retention-")["Statements"]}
    assert listed == {recent["Id"]}
    wh.ok("select 3")
    assert old["Id"] not in statements and recent["Id"] in statements


def test_too_many_active_statements_on_a_cluster(local_aws):
    """At most 200 active (SUBMITTED and STARTED) queries per cluster (Considerations when calling the Amazon
    Redshift Data API); one more is refused with ActiveStatementsExceededException."""
    from local_aws.redshift.statements import ACTIVE_STATEMENTS_PER_CLUSTER, Statement
    from local_aws.services.redshift_data import redshift_data_backends

    busy = Warehouse(local_aws)  # its own cluster: the limit is per cluster
    statements = redshift_data_backends[local_aws.account_id][local_aws.region].statements
    waiting = [Statement(id=str(uuid.uuid4()), query_string="select 1", cluster=busy.cluster, database="dev")
               for _ in range(ACTIVE_STATEMENTS_PER_CLUSTER)]
    statements.update({s.id: s for s in waiting})
    try:
        with pytest.raises(ClientError) as refused:
            busy.data.execute_statement(Sql="select 1", **busy.target())
        assert refused.value.response["Error"]["Code"] == "ActiveStatementsExceededException"
        statements.pop(waiting[0].id)
        assert busy.ok("select 1")["Status"] == "FINISHED"
    finally:
        for statement in waiting:
            statements.pop(statement.id, None)
