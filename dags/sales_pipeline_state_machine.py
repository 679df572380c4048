"""
### Sales data lake: the end-to-end state machine as one unit

The lab's own orchestration: one `DataPipeline` Step Functions execution loads, crawls, transforms, loads
Redshift, unloads and crawls the aggregate for the run's day. Airflow only starts it and waits, deferred.

The Redshift statements are rendered here from `include/sql` (the same files the daily DAG runs) and passed in
the execution's input, so the SQL lives in one place. The run ends with the same reconciliation as the daily
DAG. Use this DAG to compare Step Functions orchestration with the stage-by-stage daily DAG; both write the same
tables for a day.

**One run per day at a time.** The run holds the day's lock in the lake (`acquire_day_lock` waits for it,
`release_day_lock` frees it whatever the outcome), the same lock the daily DAG takes, so the two DAGs (and
separate Airflow set-ups sharing the lake) never process one day at once; see `sales_pipeline.day_lock`.
The rejected-rows limit here is the Glue job's default argument `--max_reject_share` (infra/cloudformation.json).
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.providers.amazon.aws.operators.step_function import StepFunctionStartExecutionOperator
from airflow.sdk import DAG, Param, chain

from sales_pipeline.day_lock import acquire_day_lock, release_day_lock
from sales_pipeline.naming import execution_name
from sales_pipeline.stages import state_machine_sql
from sales_pipeline.validation import reconcile

DAG_ID = "sales_pipeline_state_machine"
AWS_CONN_ID = "aws_default"
POLL_SECONDS = int(os.environ.get("SALES_PIPELINE_POLL_SECONDS", "30"))
# The SQL files: include/sql inside the DAG folder (the MWAA layout: MWAA syncs only dags/) or beside it (this
# repository, an Astro project). Two isdir calls: cheap enough for parse time.
_HERE = os.path.dirname(os.path.abspath(__file__))
SQL_DIRS = [path for path in (os.path.join(_HERE, "include", "sql"), os.path.join(_HERE, os.pardir, "include", "sql"))
            if os.path.isdir(path)]

with DAG(
    dag_id=DAG_ID,
    description="Run the DataPipeline state machine for one day",
    doc_md=__doc__,
    schedule=None,  # triggered by hand or by a backfill; the daily DAG owns the schedule
    start_date=pendulum.datetime(2021, 12, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=3),
    template_searchpath=SQL_DIRS,
    user_defined_macros={"execution_name": execution_name},
    params={
        # The loader builds the day in memory (~250 B a row); the template gives it 2 GB, so 5M rows fit.
        "rows": Param(10000, type="integer", minimum=1, maximum=5_000_000,
                      title="Rows", description="Synthetic rows the loader generates for the day"),
    },
    default_args={
        "owner": "data-engineering",
        "aws_conn_id": AWS_CONN_ID,
        "retries": 1,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
    },
    tags=["sales", "data-lake", "step-functions"],
) as dag:
    start = StepFunctionStartExecutionOperator(
        task_id="start_pipeline",
        state_machine_arn="{{ var.json.sales_pipeline.DataPipelineStateMachineArn }}",
        name="{{ execution_name(dag.dag_id, task.task_id, run_id, ti.try_number) }}",
        state_machine_input={"date": "{{ ds }}", "rows": "{{ params.rows }}", "sql": state_machine_sql()},
        deferrable=True,
        waiter_delay=POLL_SECONDS,
        waiter_max_attempts=3 * 3600 // max(POLL_SECONDS, 1),
    )
    # Deferred until the execution ends; a failed execution fails this task with its error and cause.
    validate = reconcile(aws_conn_id=AWS_CONN_ID, poll_seconds=min(POLL_SECONDS, 2))
    chain(start, validate)

    # Reliability (issue 16): one run per day at a time, across both DAGs.
    day_lock = acquire_day_lock(AWS_CONN_ID, poke_seconds=POLL_SECONDS, timeout_seconds=3 * 3600)
    chain(day_lock, start)
    chain(validate, release_day_lock(AWS_CONN_ID).as_teardown(setups=day_lock))
