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


@task(task_id="reconcile", templates_dict=RECONCILE_TEMPLATES)
def reconcile(aws_conn_id: str, poll_seconds: float, templates_dict: dict | None = None) -> dict:
    """Fail unless the Glue job's manifest, Athena and Redshift agree on the day's rows and revenue;
    keep the day's record in the lake beside the data it describes."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.sdk import Variable

    from sales_pipeline.queries import athena_row, redshift_row
    from sales_pipeline.reconcile import reconcile_day

    outputs = Variable.get("sales_pipeline", deserialize_json=True)
    rendered = templates_dict or {}
    s3 = S3Hook(aws_conn_id=aws_conn_id)
    manifest = json.loads(s3.read_key(rendered["manifest_key"], outputs["DataLakeBucket"]))
    athena = {"database": outputs["GlueDatabaseName"], "workgroup": outputs["AthenaWorkGroup"],
              "aws_conn_id": aws_conn_id, "poll_seconds": poll_seconds}
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
        aggregated=athena_row(rendered["aggregated_revenue"], **athena),
    )
    s3.load_string(json.dumps(summary, indent=2), rendered["report_key"], outputs["DataLakeBucket"], replace=True)
    return summary
