"""Nothing acknowledged is lost: SIGKILL the server at random moments while clients write to every service.

Each writer loops (bounded in count and time, loopback only), remembering what the local AWS acknowledged: a
200 answer, or for the Redshift Data API a statement DescribeStatement reported FINISHED. The server is killed
with SIGKILL at a random moment (the seed is in the test id, so a failure can be replayed), restarted on the same
state dir, and every acknowledged write must be there with the same ids and ARNs. Nothing half-written may be
visible: every S3 object that exists has exactly the body that was sent for its key.
"""

from __future__ import annotations

import io
import json
import random
import threading
import time
import zipfile

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from server_process import start_server, stop_server

from local_aws.server import free_port

MAX_WRITES = 150  # per writer and round
MAX_SECONDS = 6.0
ROLE_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
PASS_MACHINE = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": 1}, "End": True}}})
FAILURES = (ClientError, BotoCoreError, OSError)


def _clients(url: str) -> dict:
    config = Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=20)
    return {name: boto3.client(name, endpoint_url=url, region_name="us-east-1", config=config)
            for name in ("s3", "glue", "iam", "stepfunctions", "secretsmanager", "redshift-data", "redshift",
                         "lambda", "athena")}


def _body(key: str) -> bytes:
    seed = sum(key.encode())
    return (key.encode() + b"|") * (1 + seed % 4000)  # up to ~100 KB


def _lambda_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


class Writers:
    """One thread per service writing until stopped; `acked` holds what the server acknowledged."""

    def __init__(self, clients: dict, round_id: int):
        self.c, self.round = clients, round_id
        self.acked: dict[str, list] = {name: [] for name in (
            "s3", "glue", "iam", "sfn", "executions", "secrets", "redshift", "lambda", "athena")}
        self.attempted_keys: set[str] = set()
        self.stop = threading.Event()

    def _loop(self, name, write):
        deadline = time.monotonic() + MAX_SECONDS
        for i in range(MAX_WRITES):
            if self.stop.is_set() or time.monotonic() > deadline:
                return
            try:
                result = write(i)
            except FAILURES:
                return  # the server died under us: this write was never acknowledged
            if result is not None:
                self.acked[name].append(result)

    def s3(self, i):
        key = f"r{self.round}/part-{i:04d}.csv"
        self.attempted_keys.add(key)
        self.c["s3"].put_object(Bucket="durable-lake", Key=key, Body=_body(key))
        return key

    def glue(self, i):
        name = f"r{self.round}_t{i}"
        self.c["glue"].create_table(DatabaseName="durable", TableInput={
            "Name": name, "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "bigint"}],
                                                "Location": f"s3://durable-lake/{name}/"}})
        return name

    def iam(self, i):
        return self.c["iam"].create_role(RoleName=f"r{self.round}-role-{i}",
                                         AssumeRolePolicyDocument=ROLE_POLICY)["Role"]["Arn"]

    def sfn(self, i):
        arn = self.c["stepfunctions"].create_state_machine(
            name=f"r{self.round}-m{i}", definition=PASS_MACHINE,
            roleArn="arn:aws:iam::123456789012:role/durable")["stateMachineArn"]
        execution = self.c["stepfunctions"].start_execution(stateMachineArn=arn, name="run")["executionArn"]
        self.acked["executions"].append(execution)
        return arn

    def secrets(self, i):
        return self.c["secretsmanager"].create_secret(Name=f"r{self.round}/s{i}", SecretString=f"v{i}")["ARN"]

    def redshift(self, i):
        statement = self.c["redshift-data"].execute_statement(
            ClusterIdentifier="durable", Database="dev", DbUser="admin",
            Sql=f"insert into acked values ({self.round * 1000 + i})")["Id"]
        while True:  # acknowledged once FINISHED is reported
            status = self.c["redshift-data"].describe_statement(Id=statement).get("Status")
            if status is None:  # killed mid-answer (seen in CI: a reply with no body): never acknowledged
                return None
            if status == "FINISHED":
                return self.round * 1000 + i
            if status in ("FAILED", "ABORTED"):
                raise AssertionError(f"insert {i} {status}")
            time.sleep(0.02)

    def lambda_(self, i):
        if i >= 10:
            return None
        return self.c["lambda"].create_function(
            FunctionName=f"r{self.round}-f{i}", Runtime="python3.11", Handler="handler.handler",
            Role="arn:aws:iam::123456789012:role/durable", Code={"ZipFile": _lambda_zip()})["FunctionArn"]

    def athena(self, i):
        return self.c["athena"].start_query_execution(
            QueryString=f"SELECT {i}", ResultConfiguration={"OutputLocation": "s3://durable-lake/athena/"})[
            "QueryExecutionId"]

    def run(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._loop, args=(name, getattr(self, method)), daemon=True)
                   for name, method in (("s3", "s3"), ("glue", "glue"), ("iam", "iam"), ("sfn", "sfn"),
                                        ("secrets", "secrets"), ("redshift", "redshift"), ("lambda", "lambda_"),
                                        ("athena", "athena"))]
        for thread in threads:
            thread.start()
        return threads


def _setup(c: dict) -> None:
    c["s3"].create_bucket(Bucket="durable-lake")
    c["glue"].create_database(DatabaseInput={"Name": "durable"})
    c["redshift"].create_cluster(ClusterIdentifier="durable", NodeType="ra3.large", MasterUsername="admin",
                                 MasterUserPassword="Secret123", DBName="dev")
    statement = c["redshift-data"].execute_statement(ClusterIdentifier="durable", Database="dev", DbUser="admin",
                                                     Sql="create table acked (id int)")["Id"]
    while c["redshift-data"].describe_statement(Id=statement)["Status"] not in ("FINISHED", "FAILED"):
        time.sleep(0.05)
    assert c["redshift-data"].describe_statement(Id=statement)["Status"] == "FINISHED"


def _check(c: dict, writers: list[Writers], seed: int) -> None:
    where = f"(seed {seed})"
    keys = {o["Key"] for page in c["s3"].get_paginator("list_objects_v2").paginate(Bucket="durable-lake")
            for o in page.get("Contents", []) if not o["Key"].startswith("athena/")}
    attempted = set().union(*(w.attempted_keys for w in writers))
    for w in writers:
        missing = set(w.acked["s3"]) - keys
        assert not missing, f"acknowledged objects lost {where}: {sorted(missing)[:5]}"
    assert keys <= attempted, where
    for key in keys:  # nothing half-written: every object is whole
        assert c["s3"].get_object(Bucket="durable-lake", Key=key)["Body"].read() == _body(key), f"{key} {where}"
    tables = {t["Name"] for page in c["glue"].get_paginator("get_tables").paginate(DatabaseName="durable")
              for t in page["TableList"]}
    roles = {r["Arn"] for page in c["iam"].get_paginator("list_roles").paginate() for r in page["Roles"]}
    machines = {m["stateMachineArn"] for m in c["stepfunctions"].list_state_machines()["stateMachines"]}
    secrets = {s["ARN"] for page in c["secretsmanager"].get_paginator("list_secrets").paginate()
               for s in page["SecretList"]}
    functions = {f["FunctionArn"] for f in c["lambda"].list_functions()["Functions"]}
    statement = c["redshift-data"].execute_statement(ClusterIdentifier="durable", Database="dev", DbUser="admin",
                                                     Sql="select id from acked")["Id"]
    while c["redshift-data"].describe_statement(Id=statement)["Status"] not in ("FINISHED", "FAILED"):
        time.sleep(0.05)
    rows = {r[0]["longValue"] for r in c["redshift-data"].get_statement_result(Id=statement)["Records"]}
    for w in writers:
        assert set(w.acked["glue"]) <= tables, where
        assert set(w.acked["iam"]) <= roles, where
        assert set(w.acked["sfn"]) <= machines, where
        assert set(w.acked["secrets"]) <= secrets, where
        assert set(w.acked["lambda"]) <= functions, where
        assert set(w.acked["redshift"]) <= rows, f"acknowledged inserts lost {where}"
        for execution in w.acked["executions"]:
            status = c["stepfunctions"].describe_execution(executionArn=execution)["status"]
            assert status in ("SUCCEEDED", "FAILED"), f"{execution} {status} {where}"
        for query in w.acked["athena"]:
            state = c["athena"].get_query_execution(QueryExecutionId=query)["QueryExecution"]["Status"]["State"]
            assert state in ("SUCCEEDED", "FAILED"), f"{query} {state} {where}"


@pytest.mark.parametrize("seed", [11, 23])
def test_sigkill_while_writing_loses_no_acknowledged_write(tmp_path, seed):
    rng = random.Random(seed)
    port = free_port()
    state = tmp_path / "state"
    proc, url = start_server(state, port)
    c = _clients(url)
    _setup(c)
    writers = []
    for round_id in range(2):
        w = Writers(c, round_id)
        writers.append(w)
        threads = w.run()
        time.sleep(rng.uniform(1.0, 3.0))
        proc.kill()  # SIGKILL: no clean stop, nothing written at exit
        proc.wait(timeout=30)
        w.stop.set()
        for thread in threads:
            thread.join(timeout=30)
        assert sum(len(v) for v in w.acked.values()) > 0, "the writers never got an answer"
        print(f"round {round_id}: acknowledged", {k: len(v) for k, v in w.acked.items()})
        proc, url = start_server(state, port)
        c = _clients(url)
        _check(c, writers, seed)
    stop_server(proc)


def test_moto_reset_empties_the_saved_state_too(tmp_path):
    """POST /moto-api/reset (moto's own reset) clears moto's backends and ours; a restart must not bring the
    state back from disk."""
    import requests

    port = free_port()
    state = tmp_path / "state"
    proc, url = start_server(state, port)
    c = _clients(url)
    c["s3"].create_bucket(Bucket="reset-lake")
    c["s3"].put_object(Bucket="reset-lake", Key="a.csv", Body=b"a")
    c["glue"].create_database(DatabaseInput={"Name": "reset_db"})
    c["athena"].start_query_execution(QueryString="SELECT 1",
                                      ResultConfiguration={"OutputLocation": "s3://reset-lake/athena/"})
    assert requests.post(url + "/moto-api/reset", timeout=30).ok
    assert c["s3"].list_buckets()["Buckets"] == []
    assert c["athena"].list_query_executions()["QueryExecutionIds"] == []
    proc.kill()
    proc.wait(timeout=30)
    proc, url = start_server(state, port)
    c = _clients(url)
    try:
        assert c["s3"].list_buckets()["Buckets"] == []
        assert c["glue"].get_databases()["DatabaseList"] == []
        assert c["athena"].list_query_executions()["QueryExecutionIds"] == []
    finally:
        stop_server(proc)


def test_a_second_server_on_the_same_state_dir_is_refused(tmp_path):
    """Two servers on one state dir would each overwrite what the other acknowledged: the second refuses to
    start, naming the first."""
    import subprocess
    import sys

    port = free_port()
    proc, _ = start_server(tmp_path / "state", port)
    try:
        second = subprocess.run([sys.executable, "-m", "local_aws", "serve", "--port", str(free_port()),
                                 "--state-dir", str(tmp_path / "state")], capture_output=True, text=True, timeout=120)
        assert second.returncode == 2, second.stderr[-2000:]
        assert f"in use by another local AWS (pid {proc.pid})" in second.stderr
    finally:
        stop_server(proc)
    proc, _ = start_server(tmp_path / "state", port)  # the lock went with the first server
    stop_server(proc)
