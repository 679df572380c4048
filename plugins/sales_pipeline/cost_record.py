"""The `run_cost` task: what this run of the daily DAG cost, kept in the lake beside the day's reconciliation."""

from __future__ import annotations

import json

from airflow.sdk import task

COST_TEMPLATES = {"cost_key": "quality/sales/dt={{ ds }}/cost.json"}


@task(task_id="run_cost", templates_dict=COST_TEMPLATES)
def run_cost_record(aws_conn_id: str, templates_dict: dict | None = None) -> dict:
    """Measure what the run's tasks used (their XComs name the Glue job run, the executions, the Athena queries and
    the loader's REPORT), price it (`sales_pipeline.cost`) and write `quality/sales/dt=<ds>/cost.json`:
    {"date", "run_id", "usage": {...}, "cost": {"total_usd", "lines"}}. Returns the record."""
    import time

    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    from airflow.sdk import Variable, get_current_context

    from sales_pipeline.cost import run_cost
    from sales_pipeline.lambda_invoke import REPORT_XCOM
    from sales_pipeline.usage import measure_run

    cpu_started = time.thread_time()
    context = get_current_context()
    ti, dag_run = context["ti"], context["dag_run"]
    task_ids = context["dag"].task_ids

    def pulled(ids, key="return_value"):
        found = ti.xcom_pull(task_ids=list(ids), key=key) if ids else []
        return [value for value in (found or []) if value]

    outputs = Variable.get("sales_pipeline", deserialize_json=True)
    executions = pulled(t for t in task_ids if t.endswith(".start_execution"))
    job_runs = pulled(t for t in task_ids if t.endswith(".run_glue_job"))
    reports = pulled((t for t in task_ids if t.startswith("load_raw.")), key=REPORT_XCOM)
    query_ids = [q for ids in pulled(["validate.reconcile"], key="athena_query_ids") for q in ids]
    hook = AwsBaseHook(aws_conn_id=aws_conn_id)  # one session, one client a service
    session, conn = hook.get_session(), hook.conn_config

    def client(name):
        return session.client(name, endpoint_url=conn.get_service_endpoint_url(name), config=hook.config,
                              verify=hook.verify)

    usage = measure_run(
        client,
        job_name=outputs["GlueJobName"], job_run_ids=job_runs, query_ids=query_ids, execution_arns=executions,
        lambda_reports=reports, cluster_id=outputs["RedshiftClusterId"],
        redshift_state_machine_arn=outputs["RedshiftQueryStateMachineArn"],
    )
    record = {"date": context["ds"], "run_id": dag_run.run_id, "usage": json.loads(json.dumps(usage, default=str)),
              "cost": run_cost(usage)}
    key = (templates_dict or {})["cost_key"]
    client("s3").put_object(Bucket=outputs["DataLakeBucket"], Key=key, Body=json.dumps(record, indent=2).encode(),
                            ContentType="application/json")
    print(f"run cost {record['cost']['total_usd']} USD, measured and priced in "
          f"{time.thread_time() - cpu_started:.2f} s of this thread's CPU")
    return record
