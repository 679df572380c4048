"""Run one small query and return its single row, on Athena or on Redshift through the Data API."""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.athena import AthenaHook
from airflow.providers.amazon.aws.hooks.redshift_data import RedshiftDataHook


class QueryFailedError(RuntimeError):
    """The engine rejected or failed the query; the message carries its own error."""


def athena_row(sql: str, *, database: str, workgroup: str, aws_conn_id: str, poll_seconds: float = 1,
               allow_no_row: bool = False, executed: list[str] | None = None) -> dict | None:
    """The first row of an Athena query as {column: string value}; None for no row when allow_no_row; `executed`
    (if given) gets the query's id."""
    hook = AthenaHook(aws_conn_id=aws_conn_id)
    query_id = hook.run_query(sql, query_context={"Database": database}, result_configuration={},
                              workgroup=workgroup)
    if executed is not None:  # the run's cost record prices the queries it ran
        executed.append(query_id)
    state = hook.poll_query_status(query_id, sleep_time=poll_seconds)
    if state != "SUCCEEDED":
        reason = hook.get_state_change_reason(query_id)
        raise QueryFailedError(f"Athena query {query_id} ended {state}: {reason}\n{sql}")
    rows = hook.get_query_results(query_id)["ResultSet"]["Rows"]
    if len(rows) < 2:
        if allow_no_row:
            return None
        raise QueryFailedError(f"Athena query {query_id} returned no row:\n{sql}")
    header = [cell.get("VarCharValue") for cell in rows[0]["Data"]]
    return {name: cell.get("VarCharValue") for name, cell in zip(header, rows[1]["Data"], strict=True)}


def _field_value(field: dict[str, Any]) -> Any:
    if field.get("isNull"):
        return None
    return next(iter(field.values()))


def redshift_row(
    sql: str, *, cluster_id: str, database: str, secret_arn: str, aws_conn_id: str, poll_seconds: float = 1
) -> dict:
    """The first row of a Redshift query as {column: value}."""
    hook = RedshiftDataHook(aws_conn_id=aws_conn_id)
    output = hook.execute_query(
        sql=sql,
        cluster_identifier=cluster_id,
        database=database,
        secret_arn=secret_arn,
        wait_for_completion=True,
        poll_interval=poll_seconds,
    )
    result = hook.conn.get_statement_result(Id=output.statement_id)
    if not result["Records"]:
        raise QueryFailedError(f"Redshift statement {output.statement_id} returned no row:\n{sql}")
    names = [column["name"] for column in result["ColumnMetadata"]]
    return {name: _field_value(field) for name, field in zip(names, result["Records"][0], strict=True)}
