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
- `check_day_loaded`: Redshift holds exactly the rows the job wrote for the day, or the day's aggregate is not
  published (UNLOAD, aggregate crawl). The views need only the DDL (late-binding views bind their tables when
  queried) and read the sales table live, so holding them back would hold back nothing.
- `validate`: rows and revenue reconciled across the Glue job's manifest, Athena and Redshift; then `run_cost`
  prices what the run used (Glue DPU-seconds, Athena bytes, Lambda GB-seconds, state transitions, the cluster's
  share) into `quality/sales/dt=<ds>/cost.json`.

Alerts (`sales_pipeline.alerts`): a task that fails for good publishes to the stack's SNS topic; so does a
run that has not succeeded by 06:00 UTC the day after the day it processes (a DeadlineAlert).

Assets (`sales_pipeline.assets`): `load_raw` produces `sales_pipeline.raw_sales`, `transform`
`sales_pipeline.processed_sales`, `redshift_load` `sales_pipeline.warehouse_sales` and `validate.reconcile`
`sales_pipeline.daily_sales_revenue`; each event's extra holds the day and where its data is. The
`sales_revenue_report` DAG is scheduled on the last.

**One run per day at a time.** `acquire_day_lock` waits (reschedule mode) until the run holds the day's lock, an
object `locks/sales/dt=<ds>.json` in the lake written with S3's conditional PutObject (`If-None-Match: *`);
`release_day_lock` (a teardown) deletes it whatever the outcome. The state-machine DAG takes the same lock. A lock
in the lake, not an Airflow pool, because the runs that collide can come from two DAGs and from separate Airflow
set-ups that share only the lake; see `sales_pipeline.day_lock`.

**Early failure.** The **max_reject_share** parameter (default 0.25) is passed to the Glue job, which fails
before writing anything when more of the day's rows are rejected, naming the counts and the top reasons. The task
then fails without retries (a retry would read the same files), as it does when the job cannot read the day's files.

Every name and ARN comes from the Airflow Variable `sales_pipeline` (the CloudFormation stack's outputs).
Each stage only touches its own day, so re-runs and backfills in any order give the same tables.
Manual runs: the **rows** parameter sets how many synthetic rows the loader makes for the day.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.providers.amazon.aws.operators.step_function import StepFunctionStartExecutionOperator
from airflow.providers.amazon.aws.sensors.glue_crawler import GlueCrawlerSensor
from airflow.sdk import DAG, AsyncCallback, DeadlineAlert, DeadlineReference, Param, TaskGroup, chain
from airflow.timetables.interval import CronDataIntervalTimetable

from sales_pipeline.alerts import RECONCILED_BY, deadline_missed, failure_notifier
from sales_pipeline.assets import DAILY_AGGREGATE, PROCESSED_DAY, RAW_DAY, WAREHOUSE_TABLE, day_event
from sales_pipeline.cost_record import run_cost_record
from sales_pipeline.day_lock import acquire_day_lock, release_day_lock
from sales_pipeline.glue_job import InputRefusalGlueJobOperator
from sales_pipeline.lambda_invoke import BilledLambdaInvokeOperator
from sales_pipeline.naming import execution_name
from sales_pipeline.publish_gate import check_day_loaded
from sales_pipeline.redshift_statement_sensor import RedshiftStatementSensor
from sales_pipeline.stages import REDSHIFT_STAGES, included
from sales_pipeline.validation import reconcile

DAG_ID = "sales_pipeline_daily"
AWS_CONN_ID = "aws_default"
# Seconds between status checks; small on the local AWS, the default suits AWS.
POLL_SECONDS = int(os.environ.get("SALES_PIPELINE_POLL_SECONDS", "30"))
# The first retry's delay (doubling after it, up to 10 minutes); a test of retries may shorten it.
RETRY_DELAY_SECONDS = int(os.environ.get("SALES_PIPELINE_RETRY_DELAY_SECONDS", "30"))
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
# Airflow 3.3's `airflow dags test` fails a successful run of a DAG with a deadline at its very end (it looks the
# alerts up by their serialized form instead of their database ids, airflow/models/dagrun.py update_state): local
# `dags test` runs set SALES_PIPELINE_DEADLINES=off (pipeline_tools.airflow_env). Scheduled runs keep the deadline.
DEADLINES = os.environ.get("SALES_PIPELINE_DEADLINES", "on") != "off"
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


def produces(asset) -> dict:
    """Task arguments declaring the Asset a task produces, its event carrying the day (sales_pipeline.assets)."""
    return {"outlets": [asset], "post_execute": day_event(asset)}


def redshift(stage: str, **sensor_args) -> TaskGroup:
    """Run one Redshift stage's statements (one transaction) through the RedshiftQuery state machine."""
    with TaskGroup(f"redshift_{stage}") as group:
        start = start_execution("RedshiftQueryStateMachineArn", {"sqls": included(REDSHIFT_STAGES[stage])})
        statement = RedshiftStatementSensor(
            task_id="wait_for_statement",
            execution_arn=start.output,  # the execution's output is the statement's final description
            deferrable=True,
            poll_interval=POLL_SECONDS,
            timeout=STAGE_TIMEOUT_SECONDS,
            **sensor_args,
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
        # The loader's own dirty shapes are ~5% of rows; a source that changed format rejects nearly all.
        "max_reject_share": Param(0.25, type="number", minimum=0, maximum=1, title="Max reject share",
                                  description="Fail right after the transform when more of the rows are rejected"),
    },
    default_args={
        "owner": "data-engineering",
        "aws_conn_id": AWS_CONN_ID,
        "retries": 2,
        "retry_delay": timedelta(seconds=RETRY_DELAY_SECONDS),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
        "on_failure_callback": failure_notifier(AWS_CONN_ID),  # retries exhausted: to the alert topic (SNS)
    },
    tags=["sales", "data-lake", "redshift", "step-functions"],
    # "The day is reconciled by 06:00 UTC": a run not done by then alerts the SNS topic (sales_pipeline.alerts).
    deadline=DeadlineAlert(reference=DeadlineReference.DAGRUN_LOGICAL_DATE, interval=RECONCILED_BY,
                           callback=AsyncCallback(deadline_missed, kwargs={"aws_conn_id": AWS_CONN_ID}))
    if DEADLINES else None,
) as dag:
    with TaskGroup("load_raw") as load_raw:
        BilledLambdaInvokeOperator(  # the provider's operator, keeping the REPORT line's billed duration
            task_id="invoke_loader",
            function_name=cfg("LoaderFunctionName"),
            payload='{"date": "{{ ds }}", "rows": {{ params.rows }}}',
            log_type="Tail",
            botocore_config=LONG_INVOKE,
            **produces(RAW_DAY),
        )

    with TaskGroup("transform") as transform:
        InputRefusalGlueJobOperator(  # the provider's operator; a day refused for its input is not retried
            task_id="run_glue_job",
            job_name=cfg("GlueJobName"),
            script_args={"--run_date": "{{ ds }}", "--max_reject_share": "{{ params.max_reject_share }}"},
            deferrable=True,
            **WAITER,
            **produces(PROCESSED_DAY),
        )

    with TaskGroup("validate") as validate:
        # What the run cost, priced from what it measured: quality/sales/dt=<ds>/cost.json.
        # The day's aggregate is announced once reconciled: downstream DAGs schedule on DAILY_AGGREGATE.
        chain(reconcile.override(**produces(DAILY_AGGREGATE))(aws_conn_id=AWS_CONN_ID,
                                                               poll_seconds=min(POLL_SECONDS, 2)),
              run_cost_record(aws_conn_id=AWS_CONN_ID))

    crawl_raw = crawl("crawl_raw", "RawCrawlerName")
    crawl_processed = crawl("crawl_processed", "ProcessedCrawlerName")
    crawl_aggregated = crawl("crawl_aggregated", "AggregatedCrawlerName")
    redshift_ddl = redshift("ddl")
    redshift_load = redshift("load", **produces(WAREHOUSE_TABLE))  # the day's rows are committed in Redshift
    redshift_views, redshift_unload = redshift("views"), redshift("unload")

    chain(load_raw, crawl_raw, transform, crawl_processed, redshift_load)
    # The warehouse DDL and the views need no day's data: they run beside the lake stages (late-binding views
    # check the tables they name, the processed table among them, only when queried; a view reads the sales table
    # live, so holding it back would hold back nothing; the day's rows are guarded by the load's transaction).
    # The day's aggregate is not unloaded unless the warehouse holds exactly what the job wrote.
    day_loaded = check_day_loaded(aws_conn_id=AWS_CONN_ID, poll_seconds=min(POLL_SECONDS, 2))
    chain(redshift_ddl, redshift_load, day_loaded, redshift_unload, crawl_aggregated, validate)
    chain(redshift_ddl, redshift_views, redshift_unload)

    # One run per day at a time (issue 16), whichever DAG or Airflow set-up starts it.
    day_lock = acquire_day_lock(AWS_CONN_ID, poke_seconds=POLL_SECONDS, timeout_seconds=STAGE_TIMEOUT_SECONDS)
    chain(day_lock, [load_raw, redshift_ddl])
    chain(validate, release_day_lock(AWS_CONN_ID).as_teardown(setups=day_lock))
