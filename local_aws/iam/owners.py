"""Who ran each Redshift Data API statement: the ``redshift-data:statement-owner-iam-userid`` condition key.

Source: "Authorizing access to the Amazon Redshift Data API" (Amazon Redshift Management Guide): DescribeStatement,
GetStatementResult and CancelStatement may be limited to the statements the caller ran, with the condition key
``redshift-data:statement-owner-iam-userid`` equal to ``${aws:userid}``. Kept durable with the Data API's state.
"""

from __future__ import annotations

from moto.core.base_backend import BackendDict

from local_aws import ACCOUNT_ID, REGION
from local_aws.backends import LocalBackend


class StatementOwnersBackend(LocalBackend):
    SERVICE = "redshiftdata"

    def __init__(self, region_name: str, account_id: str):
        super().__init__(region_name, account_id)
        self.owners: dict[str, str] = {}  # statement id -> aws:userid of the caller that ran it


statement_owner_backends = BackendDict(StatementOwnersBackend, "redshift")


def record(statement_id: str, userid: str, region: str = REGION) -> None:
    statement_owner_backends[ACCOUNT_ID][region].owners[statement_id] = userid


def statement_owner(statement_id: str, region: str = REGION) -> str | None:
    return statement_owner_backends[ACCOUNT_ID][region].owners.get(statement_id)
