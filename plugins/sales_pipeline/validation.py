"""The `reconcile` task both DAGs end with: the day's rows and revenue must agree everywhere."""

from __future__ import annotations

import json

from airflow.sdk import task

RECONCILE_TEMPLATES = {
    "raw_count": "{% include 'athena/raw_day_count.sql' %}",
    "processed_totals": "{% include 'athena/processed_day_totals.sql' %}",
    "aggregated_revenue": "{% include 'athena/aggregated_day_revenue.sql' %}",
    "warehouse_totals": "{% include 'redshift/select_day_totals.sql' %}",
    "manifest_key": "manifests/sales/dt={{ ds }}.json",
    "report_key": "quality/sales/dt={{ ds }}/reconciliation.json",
}

# The last summary each run reconciled in this process, for the OpenLineage listener that runs after the task in the
# same task process (sales_pipeline.lineage): it must not call back into Airflow for the XCom from there.
RECONCILED: dict[str, dict] = {}


@task(task_id="reconcile", templates_dict=RECONCILE_TEMPLATES)
def reconcile(aws_conn_id: str, poll_seconds: float, templates_dict: dict | None = None) -> dict:
    """Fail unless the Glue job's manifest, Athena and Redshift agree on the day's rows and revenue;
    keep the day's record in the lake beside the data it describes."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.sdk import Variable, get_current_context

    from sales_pipeline.queries import athena_row, redshift_row
    from sales_pipeline.reconcile import reconcile_day

    outputs = Variable.get("sales_pipeline", deserialize_json=True)
    rendered = templates_dict or {}
    s3 = S3Hook(aws_conn_id=aws_conn_id)
    manifest = json.loads(s3.read_key(rendered["manifest_key"], outputs["DataLakeBucket"]))
    query_ids: list[str] = []
    athena = {"database": outputs["GlueDatabaseName"], "workgroup": outputs["AthenaWorkGroup"],
              "aws_conn_id": aws_conn_id, "poll_seconds": poll_seconds, "executed": query_ids}
    warehouse = redshift_row(
        rendered["warehouse_totals"], cluster_id=outputs["RedshiftClusterId"],
        database=outputs["RedshiftDatabaseName"], secret_arn=outputs["RedshiftSecretArn"],
        aws_conn_id=aws_conn_id, poll_seconds=poll_seconds,
    )
    summary = reconcile_day(
        manifest=manifest,
        raw_rows=int(athena_row(rendered["raw_count"], **athena)["row_count"]),
        processed=athena_row(rendered["processed_totals"], **athena),
        warehouse=warehouse,
        # A day without a sale has no aggregated row (the view groups by day): zero rows, not a failure.
        aggregated=athena_row(rendered["aggregated_revenue"], allow_no_row=True, **athena)
        or {"row_count": 0, "revenue": 0},
    )
    context = get_current_context()
    context["ti"].xcom_push(key="athena_query_ids", value=query_ids)  # for the run's cost
    RECONCILED[context["run_id"]] = summary
    s3.load_string(json.dumps(summary, indent=2), rendered["report_key"], outputs["DataLakeBucket"], replace=True)
    return summary
