"""Helpers shared by the local Redshift tests: a fresh moto cluster and Data API round trips."""

from __future__ import annotations

import time
import uuid

import boto3

DONE = ("FINISHED", "FAILED", "ABORTED")


class Warehouse:
    """A fresh moto cluster and helpers to run SQL on it through the Data API."""

    def __init__(self, aws, database: str = "dev",
                 iam_roles: tuple[str, ...] = ("arn:aws:iam::123456789012:role/salespipe-redshift-role",)):
        self.aws = aws
        self.cluster = f"wh-{uuid.uuid4().hex[:10]}"
        self.database = database
        self.data = self.client("redshift-data")
        self.client("redshift").create_cluster(
            ClusterIdentifier=self.cluster, NodeType="ra3.large", MasterUsername="admin",
            MasterUserPassword="Secret-Passw0rd", DBName=database,
            # COPY/UNLOAD act as their IAM_ROLE, which must be associated with the cluster (tests/conftest.py)
            IamRoles=list(iam_roles),
        )

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.aws.endpoint_url, region_name="us-east-1")

    def target(self, **extra) -> dict:
        return {"ClusterIdentifier": self.cluster, "Database": self.database, "DbUser": "admin", **extra}

    def wait(self, statement_id: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            described = self.data.describe_statement(Id=statement_id)
            if described["Status"] in DONE:
                return described
            assert time.monotonic() < deadline, f"statement still {described['Status']}"
            time.sleep(0.02)

    def run(self, sql: str, **extra) -> dict:
        return self.wait(self.data.execute_statement(Sql=sql, **self.target(**extra))["Id"])

    def ok(self, sql: str, **extra) -> dict:
        described = self.run(sql, **extra)
        assert described["Status"] == "FINISHED", described.get("Error")
        return described

    def batch(self, sqls: list[str], **extra) -> dict:
        return self.wait(self.data.batch_execute_statement(Sqls=sqls, **self.target(**extra))["Id"])

    def rows(self, sql: str, **extra) -> list[list]:
        return records_to_rows(self.data.get_statement_result(Id=self.ok(sql, **extra)["Id"])["Records"])


def records_to_rows(records: list[list[dict]]) -> list[list]:
    return [[None if f.get("isNull") else next(iter(f.values())) for f in record] for record in records]
