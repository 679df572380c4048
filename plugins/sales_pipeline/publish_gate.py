"""The gate between the day's Redshift load and what publishes it (views, UNLOAD, the aggregate crawl).

The warehouse must hold exactly the rows the Glue job's manifest says it wrote for the day before anything
exports them; otherwise the run fails here and nothing of that day is published. Reconcile, at the end, still
checks every store; this gate only keeps an unreconciled day from leaving the warehouse.
"""

from __future__ import annotations

import json

from airflow.sdk import task


class LoadMismatchError(ValueError):
    """Redshift holds a different number of rows for the day than the job wrote; the message names both."""


def check_loaded(manifest: dict, warehouse: dict) -> dict:
    """Raise LoadMismatchError unless warehouse["row_count"] equals manifest["rows_out"]; return the figures."""
    loaded, written = int(warehouse["row_count"]), int(manifest["rows_out"])
    if loaded != written:
        raise LoadMismatchError(
            f"{manifest['run_date']}: Redshift holds {loaded} rows for the day but the Glue job wrote {written}: "
            "nothing of this day is published (views, UNLOAD) until they agree")
    return {"date": manifest["run_date"], "rows": loaded, "revenue": str(warehouse["revenue"])}


GATE_TEMPLATES = {
    "warehouse_totals": "{% include 'redshift/select_day_totals.sql' %}",
    "manifest_key": "manifests/sales/dt={{ ds }}.json",
}


@task(task_id="check_day_loaded", templates_dict=GATE_TEMPLATES)
def check_day_loaded(aws_conn_id: str, poll_seconds: float, templates_dict: dict | None = None) -> dict:
    """Fail unless Redshift holds exactly the day's rows from the Glue job's manifest."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.sdk import Variable

    from sales_pipeline.queries import redshift_row

    outputs = Variable.get("sales_pipeline", deserialize_json=True)
    rendered = templates_dict or {}
    manifest = json.loads(S3Hook(aws_conn_id=aws_conn_id).read_key(rendered["manifest_key"],
                                                                   outputs["DataLakeBucket"]))
    warehouse = redshift_row(
        rendered["warehouse_totals"], cluster_id=outputs["RedshiftClusterId"],
        database=outputs["RedshiftDatabaseName"], secret_arn=outputs["RedshiftSecretArn"],
        aws_conn_id=aws_conn_id, poll_seconds=poll_seconds,
    )
    return check_loaded(manifest, warehouse)
