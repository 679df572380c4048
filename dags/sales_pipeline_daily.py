"""
### Sales data lake: the daily pipeline

One run processes one day (the run's logical date, `ds`) end to end:

- `load_raw`: the loader Lambda writes `raw/sales/dt=<ds>/`.
- `crawl_raw`, `crawl_processed`, `crawl_aggregated`: the RunGlueCrawler state machine runs one crawler;
  Airflow waits on the execution (deferred), then checks the crawler's last crawl succeeded.
- `transform`: the Glue job cleanses the day into `processed/sales/year=/month=/day=/` (deferrable).
- `redshift_ddl` (sales table, Spectrum schema; idempotent, runs beside the lake stages), `redshift_load` (delete
  the day + COPY the day, one transaction), `redshift_views` (daily revenue, warm + cold late-binding view),
  `redshift_unload` (the day's aggregate to `aggregated/daily_sales_revenue/dt=<ds>/`): the RedshiftQuery state
  machine runs the stage's statements; Airflow waits on the execution, then on the statement (both deferred).
- `validate`: rows and revenue reconciled across the Glue job's manifest, Athena and Redshift.

Every name and ARN comes from the Airflow Variable `sales_pipeline` (the CloudFormation stack's outputs).
Each stage only touches its own day, so re-runs and backfills in any order give the same tables.
Manual runs: the **rows** parameter sets how many synthetic rows the loader makes for the day.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.providers.amazon.aws.operators.lambda_function import LambdaInvokeFunctionOperator
from airflow.providers.amazon.aws.operators.step_function import StepFunctionStartExecutionOperator
from airflow.providers.amazon.aws.sensors.glue_crawler import GlueCrawlerSensor
from airflow.sdk import DAG, Param, TaskGroup, chain
from airflow.timetables.interval import CronDataIntervalTimetable

from sales_pipeline.naming import execution_name
from sales_pipeline.redshift_statement_sensor import RedshiftStatementSensor
from sales_pipeline.stages import REDSHIFT_STAGES, included
from sales_pipeline.validation import reconcile

DAG_ID = "sales_pipeline_daily"
AWS_CONN_ID = "aws_default"
# Seconds between status checks; small on the local AWS, the default suits AWS.
POLL_SECONDS = int(os.environ.get("SALES_PIPELINE_POLL_SECONDS", "30"))
# The SQL files: include/sql inside the DAG folder (the MWAA layout: MWAA syncs only dags/) or beside it (this
# repository, an Astro project). Two isdir calls: cheap enough for parse time.
_HERE = os.path.dirname(os.path.abspath(__file__))
SQL_DIRS = [path for path in (os.path.join(_HERE, "include", "sql"), os.path.join(_HERE, os.pardir, "include", "sql"))
            if os.path.isdir(path)]


def cfg(output: str) -> str:
    """A template reading one stack output from the `sales_pipeline` Variable at run time."""
    return "{{ var.json.sales_pipeline.%s }}" % output


EXECUTION_NAME = "{{ execution_name(dag.dag_id, task.task_id, run_id, ti.try_number) }}"
STAGE_TIMEOUT_SECONDS = 60 * 60
WAIT = {"mode": "reschedule", "poke_interval": POLL_SECONDS, "timeout": STAGE_TIMEOUT_SECONDS}
# A synchronous Lambda invoke answers when the function ends (a 5M-row day takes minutes): wait as long as the
# function's Timeout (300 s in the template) and never let the SDK re-send it while the first call still runs;
# the task's own retries handle failures (the loader rewrites its day, so a retry is safe).
LONG_INVOKE = {"read_timeout": 330, "retries": {"total_max_attempts": 1}}
# Deferrable operators wait at most this long in the triggerer.
WAITER = {"waiter_delay": POLL_SECONDS, "waiter_max_attempts": STAGE_TIMEOUT_SECONDS // max(POLL_SECONDS, 1)}


def start_execution(state_machine_output: str, execution_input: dict) -> StepFunctionStartExecutionOperator:
    """Start one execution and wait, deferred, until it succeeds (it fails the task when the execution fails)."""
    return StepFunctionStartExecutionOperator(
        task_id="start_execution",
        state_machine_arn=cfg(state_machine_output),
        name=EXECUTION_NAME,
        state_machine_input=execution_input,
        deferrable=True,
        **WAITER,
    )


def crawl(stage: str, crawler_output: str) -> TaskGroup:
    """Run one crawler through the RunGlueCrawler state machine and check its crawl succeeded."""
    with TaskGroup(stage) as group:
        start = start_execution("RunGlueCrawlerStateMachineArn", {"Name": cfg(crawler_output)})
        crawler = GlueCrawlerSensor(task_id="wait_for_crawler", crawler_name=cfg(crawler_output), **WAIT)
        chain(start, crawler)
    return group


def redshift(stage: str) -> TaskGroup:
    """Run one Redshift stage's statements (one transaction) through the RedshiftQuery state machine."""
    with TaskGroup(f"redshift_{stage}") as group:
        start = start_execution("RedshiftQueryStateMachineArn", {"sqls": included(REDSHIFT_STAGES[stage])})
        statement = RedshiftStatementSensor(
            task_id="wait_for_statement",
            execution_arn=start.output,  # the execution's output is the statement's final description
            deferrable=True,
            poll_interval=POLL_SECONDS,
            timeout=STAGE_TIMEOUT_SECONDS,
        )
        chain(start, statement)
    return group


with DAG(
    dag_id=DAG_ID,
    description="Load, crawl, cleanse, warehouse and aggregate one day of sales",
    doc_md=__doc__,
    # A run covers [midnight, next midnight) and starts when the day is over; `ds` is the day it processes.
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2021, 12, 1, tz="UTC"),
    catchup=False,  # history is loaded with `airflow backfill create`, never by surprise on deploy
    max_active_runs=3,
    max_active_tasks=16,
    dagrun_timeout=timedelta(hours=3),
    template_searchpath=SQL_DIRS,
    user_defined_macros={"execution_name": execution_name},
    render_template_as_native_obj=False,
    params={
        # The loader builds the day in memory (~250 B a row); the template gives it 2 GB, so 5M rows fit.
        "rows": Param(10000, type="integer", minimum=1, maximum=5_000_000,
                      title="Rows", description="Synthetic rows the loader generates for the day"),
    },
    default_args={
        "owner": "data-engineering",
        "aws_conn_id": AWS_CONN_ID,
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
    },
    tags=["sales", "data-lake", "redshift", "step-functions"],
) as dag:
    with TaskGroup("load_raw") as load_raw:
        LambdaInvokeFunctionOperator(
            task_id="invoke_loader",
            function_name=cfg("LoaderFunctionName"),
            payload='{"date": "{{ ds }}", "rows": {{ params.rows }}}',
            log_type="Tail",
            botocore_config=LONG_INVOKE,
        )

    with TaskGroup("transform") as transform:
        GlueJobOperator(
            task_id="run_glue_job",
            job_name=cfg("GlueJobName"),
            script_args={"--run_date": "{{ ds }}"},
            deferrable=True,
            **WAITER,
        )

    with TaskGroup("validate") as validate:
        reconcile(aws_conn_id=AWS_CONN_ID, poll_seconds=min(POLL_SECONDS, 2))

    crawl_raw = crawl("crawl_raw", "RawCrawlerName")
    crawl_processed = crawl("crawl_processed", "ProcessedCrawlerName")
    crawl_aggregated = crawl("crawl_aggregated", "AggregatedCrawlerName")
    redshift_ddl, redshift_load, redshift_views, redshift_unload = (
        redshift(stage) for stage in ("ddl", "load", "views", "unload")
    )

    chain(load_raw, crawl_raw, transform, crawl_processed, redshift_load)
    # The warehouse DDL does not need the day's data: it runs beside the lake stages.
    chain(redshift_ddl, redshift_load, redshift_views, redshift_unload, crawl_aggregated, validate)
