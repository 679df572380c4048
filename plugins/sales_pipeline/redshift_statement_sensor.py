"""Wait for a Redshift Data API statement to finish, deferring to the triggerer while it runs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.redshift_data import FAILURE_STATES, FINISHED_STATE, RedshiftDataHook
from airflow.providers.amazon.aws.hooks.step_function import StepFunctionHook
from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.triggers.redshift_data import RedshiftDataTrigger
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

try:
    from airflow.providers.common.compat.sdk import AirflowException, conf
except ImportError:  # common-compat older than 1.8 (e.g. beside Airflow 3.0.x): the same objects, older homes
    from airflow.configuration import conf
    from airflow.exceptions import AirflowException

if TYPE_CHECKING:
    from airflow.sdk import Context


class RedshiftStatementFailedError(AirflowException):
    """The statement ended FAILED or ABORTED; the message carries Redshift's own error text."""


def statement_error(description: dict[str, Any]) -> str:
    """Redshift's error for a failed statement, naming the failing sub-statement of a batch."""
    parts = [f"Redshift statement {description['Id']} ended {description['Status']}"]
    if description.get("Error"):
        parts.append(description["Error"])
    for sub in description.get("SubStatements") or []:
        if sub.get("Status") in FAILURE_STATES and sub.get("Error"):
            query = " ".join(str(sub.get("QueryString", "")).split())[:200]
            parts.append(f"sub-statement {sub['Id']} [{query}]: {sub['Error']}")
    return ": ".join(parts[:2]) + "".join(f"; {p}" for p in parts[2:])


def statement_summary(description: dict[str, Any]) -> dict[str, Any]:
    """The JSON-safe fields of a finished statement worth keeping in XCom."""
    keys = ("Id", "Status", "ResultRows", "HasResultSet", "Duration", "QueryString")
    summary = {k: description[k] for k in keys if k in description}
    if description.get("SubStatements"):
        summary["SubStatements"] = [
            {k: sub[k] for k in ("Id", "Status", "ResultRows") if k in sub}
            for sub in description["SubStatements"]
        ]
    return summary


class RedshiftStatementSensor(AwsBaseSensor[RedshiftDataHook]):
    """
    Succeed when a Redshift Data API statement (or batch) is FINISHED; fail with Redshift's error when it
    ends FAILED or ABORTED.

    :param statement_id: the statement's Id (templated).
    :param execution_arn: instead of statement_id: a finished Step Functions execution whose output is the
        statement's final DescribeStatement result (as the RedshiftQuery state machine returns it; templated).
        The sensor then reads the statement's outcome from that output and never calls the Data API: the
        statement belongs to the state machine's role, not to Airflow's (see execute).
    :param deferrable: wait in the triggerer instead of holding a worker slot (statement_id only; an execution's
        statement has finished when the execution has).
    :param poll_interval: seconds between DescribeStatement calls while deferred.

    On success the statement's summary (Id, Status, ResultRows, ...) is the task's return value.
    """

    aws_hook_class = RedshiftDataHook
    template_fields: Sequence[str] = aws_template_fields("statement_id", "execution_arn")
    ui_color = "#e0c4ff"

    def __init__(
        self,
        *,
        statement_id: str | None = None,
        execution_arn: str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: int = 10,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if bool(statement_id) == bool(execution_arn):
            raise ValueError("RedshiftStatementSensor needs exactly one of statement_id and execution_arn")
        self.statement_id = statement_id
        self.execution_arn = execution_arn
        self.deferrable = deferrable
        self.poll_interval = poll_interval

    def _describe(self) -> dict[str, Any]:
        return self.hook.conn.describe_statement(Id=self.statement_id)

    def _finished(self, description: dict[str, Any]) -> bool:
        status = description["Status"]
        self.log.info("Statement %s is %s", self.statement_id, status)
        if status in FAILURE_STATES:
            raise RedshiftStatementFailedError(statement_error(description))
        return status == FINISHED_STATE

    def poke(self, context: Context) -> bool:
        return self._finished(self._describe())

    def _description_of_execution(self) -> dict[str, Any]:
        """The final DescribeStatement result that the RedshiftQuery execution returned as its output.

        Raises AirflowException when the execution did not succeed or its output names no statement.
        """
        hook = StepFunctionHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify,
                                config=self.botocore_config)
        execution = hook.describe_execution(self.execution_arn)
        if execution["status"] != "SUCCEEDED":
            raise AirflowException(f"execution {self.execution_arn} is {execution['status']}, not SUCCEEDED: "
                                   f"{execution.get('error', '')} {execution.get('cause', '')}".strip())
        try:
            description = json.loads(execution.get("output") or "{}")
        except ValueError:
            description = None
        if not isinstance(description, dict) or not description.get("Id") or not description.get("Status"):
            raise AirflowException(f"the output of execution {self.execution_arn} names no statement Id and "
                                   f"Status: {str(execution.get('output'))[:300]}")
        return description

    def execute(self, context: Context) -> dict[str, Any] | None:
        if self.execution_arn:
            # The state machine's role ran the statement, not Airflow's. Redshift Data API access to a statement
            # is keyed on the IAM identity that ran it (condition key redshift-data:statement-owner-iam-userid,
            # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonredshiftdataapi.html;
            # ListStatements' RoleLevel, https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_ListStatements.html,
            # scopes statements to the caller's role and session), and the least-privilege policies here allow
            # DescribeStatement only on the caller's own statements. So the statement is never described with
            # Airflow's credentials: the execution's output already is its final description.
            description = self._description_of_execution()
            self.statement_id = description["Id"]
            if self._finished(description):
                return statement_summary(description)
            raise AirflowException(f"execution {self.execution_arn} ended with statement {self.statement_id} "
                                   f"{description['Status']}: the RedshiftQuery machine ends only on FINISHED")
        if not self.statement_id:
            raise AirflowException("RedshiftStatementSensor needs a statement Id; the template rendered empty")
        if not self.deferrable:
            super().execute(context)
            return statement_summary(self._describe())
        description = self._describe()
        if self._finished(description):
            return statement_summary(description)
        self.defer(
            trigger=RedshiftDataTrigger(
                statement_id=self.statement_id,
                task_id=self.task_id,
                poll_interval=self.poll_interval,
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
                verify=self.verify,
                botocore_config=self.botocore_config,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )
        return None

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        # Only a statement_id sensor defers (an execution's statement is read from the execution's output).
        self.statement_id = self.statement_id or (event or {}).get("statement_id")
        # The trigger's message is a dump of the whole response; describe again for a readable error.
        description = self._describe()
        if self._finished(description):
            return statement_summary(description)
        raise AirflowException(f"Statement {self.statement_id} not finished after the trigger fired: {event}")
