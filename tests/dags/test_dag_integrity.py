"""The DAGs parse cleanly, have the stages in the right order, and follow the house rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import pytest
from conftest import REPO

DAILY = "sales_pipeline_daily"
STATE_MACHINE = "sales_pipeline_state_machine"
REPORT = "sales_revenue_report"


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bag = DagBag(dag_folder=str(REPO / "dags"))
    bag.parse_warnings = [w for w in caught if "/dags/" in str(w.filename)]
    return bag


def test_no_import_errors_or_warnings(dagbag):
    assert dagbag.import_errors == {}
    assert [str(w.message) for w in dagbag.parse_warnings] == []
    assert set(dagbag.dag_ids) == {DAILY, STATE_MACHINE, REPORT}


@pytest.mark.parametrize("dag_id", [DAILY, STATE_MACHINE])
def test_house_rules(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert dag.doc_md and dag.tags and dag.owner == "data-engineering"
    assert "rows" in dag.params
    for t in dag.tasks:
        assert t.retries >= 1, f"{t.task_id} does not retry"


def upstream(dag, task_id):
    return set(dag.get_task(task_id).upstream_task_ids)


def test_daily_stages_in_order(dagbag):
    dag = dagbag.dags[DAILY]
    assert dag.timetable.summary == "0 0 * * *" and dag.timetable.periodic
    stages = ["crawl_raw", "crawl_processed", "crawl_aggregated"]
    for stage in stages:
        assert upstream(dag, f"{stage}.wait_for_crawler") == {f"{stage}.start_execution"}
    for stage in ("ddl", "load", "views", "unload"):
        group = f"redshift_{stage}"
        assert upstream(dag, f"{group}.wait_for_statement") == {f"{group}.start_execution"}
        # The statement is found in the output of the execution the start task waited for.
        assert dag.get_task(f"{group}.wait_for_statement").execution_arn.operator.task_id == \
            f"{group}.start_execution"
    assert upstream(dag, "crawl_raw.start_execution") == {"load_raw.invoke_loader"}
    assert upstream(dag, "transform.run_glue_job") == {"crawl_raw.wait_for_crawler"}
    assert upstream(dag, "crawl_processed.start_execution") == {"transform.run_glue_job"}
    assert upstream(dag, "redshift_load.start_execution") == {
        "crawl_processed.wait_for_crawler", "redshift_ddl.wait_for_statement"}
    assert upstream(dag, "check_day_loaded") == {"redshift_load.wait_for_statement"}
    assert upstream(dag, "redshift_views.start_execution") == {"redshift_ddl.wait_for_statement"}
    assert upstream(dag, "redshift_unload.start_execution") == {"check_day_loaded", "redshift_views.wait_for_statement"}
    assert upstream(dag, "crawl_aggregated.start_execution") == {"redshift_unload.wait_for_statement"}
    assert upstream(dag, "validate.reconcile") == {"crawl_aggregated.wait_for_crawler"}
    assert upstream(dag, "validate.run_cost") == {"validate.reconcile"}
    assert len(dag.tasks) == 1 + 3 * 2 + 1 + 4 * 2 + 2 + 3  # + day lock, release and load check


def test_daily_dag_declares_its_assets_and_the_report_consumes_the_aggregate(dagbag):
    from sales_pipeline.assets import DAILY_AGGREGATE, PROCESSED_DAY, RAW_DAY, WAREHOUSE_TABLE

    daily = dagbag.dags[DAILY]
    produced = {t.task_id: [a.name for a in t.outlets] for t in daily.tasks if t.outlets}
    assert produced == {"load_raw.invoke_loader": [RAW_DAY.name], "transform.run_glue_job": [PROCESSED_DAY.name],
                        "redshift_load.wait_for_statement": [WAREHOUSE_TABLE.name],
                        "validate.reconcile": [DAILY_AGGREGATE.name]}
    for task_id in produced:  # each event carries the day: the hook runs after execute (and execute_complete)
        assert daily.get_task(task_id)._post_execute_hook is not None, task_id
    report = dagbag.dags[REPORT]
    assert list(report.timetable.asset_condition.objects) == [DAILY_AGGREGATE]
    assert report.doc_md and report.owner == "data-engineering"
    assert all(t.retries >= 1 for t in report.tasks)


def test_failures_and_lateness_alert_the_sns_topic(dagbag):
    from airflow.providers.amazon.aws.notifications.sns import SnsNotifier
    from airflow.sdk import DeadlineReference

    from sales_pipeline.alerts import RECONCILED_BY, TOPIC

    daily = dagbag.dags[DAILY]
    for t in daily.tasks:
        [notifier] = t.on_failure_callback
        assert isinstance(notifier, SnsNotifier) and notifier.target_arn == TOPIC, t.task_id
    [deadline] = daily.deadline
    # the logical date is the day's 00:00 UTC: reconciled by 06:00 UTC the next day
    assert deadline.reference == DeadlineReference.DAGRUN_LOGICAL_DATE and RECONCILED_BY.total_seconds() == 30 * 3600
    assert deadline.callback.path == "sales_pipeline.alerts.deadline_missed"


def test_waiting_does_not_hold_worker_slots(dagbag):
    dag = dagbag.dags[DAILY]
    for t in dag.tasks:
        if t.task_id.endswith(("start_execution", "run_glue_job", "wait_for_statement")):
            assert t.deferrable, t.task_id
        elif t.task_id.endswith("wait_for_crawler"):
            assert t.mode == "reschedule", t.task_id


def test_nothing_hard_coded(dagbag):
    """Names and ARNs come from the stack outputs, never from literals in the DAG files."""
    for path in (REPO / "dags").glob("*.py"):
        text = path.read_text()
        for needle in ("arn:aws:", "s3://", "123456789012", "salespipe"):
            assert needle not in text, f"{path.name} hard-codes {needle!r}"


def test_state_machine_dag(dagbag):
    dag = dagbag.dags[STATE_MACHINE]
    assert upstream(dag, "reconcile") == {"start_pipeline"}
    assert dag.get_task("start_pipeline").deferrable
    start = dag.get_task("start_pipeline")
    assert set(start.state_machine_input["sql"]) == {"ddl", "load", "views", "unload", "gate"}


def test_parse_time_report(tmp_path):
    """`airflow dags report` parses every file; its per-file duration is shown, not asserted (see bench/)."""
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "60"}
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    migrate = subprocess.run([airflow, "db", "migrate"], capture_output=True, text=True, env=env, timeout=180)
    assert migrate.returncode == 0, migrate.stderr[-2000:]
    result = subprocess.run([airflow, "dags", "report", "-o", "plain"], capture_output=True, text=True,
                            env=env, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    print(result.stdout)
    for name in ("sales_pipeline_daily.py", "sales_pipeline_state_machine.py"):
        assert name in result.stdout


def test_glue_job_accepts_every_active_run(dagbag):
    """A backfill runs up to max_active_runs days at once: the Glue job must take that many runs, or the extra
    ones fail with ConcurrentRunsExceededException and burn their retries."""
    template = json.loads((REPO / "infra" / "cloudformation.json").read_text())
    (job,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Glue::Job"]
    limit = job["Properties"]["ExecutionProperty"]["MaxConcurrentRuns"]
    for dag_id in (DAILY, STATE_MACHINE):
        assert dagbag.dags[dag_id].max_active_runs <= limit, dag_id


def test_loader_invoke_outlasts_the_function_and_is_sent_once(dagbag):
    """A big day's loader runs for minutes: the SDK's 60 s read timeout would re-send the invoke and run the
    loader twice at once."""
    template = json.loads((REPO / "infra" / "cloudformation.json").read_text())
    (function,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    config = dagbag.dags[DAILY].get_task("load_raw.invoke_loader").botocore_config
    assert config["read_timeout"] > function["Properties"]["Timeout"]
    assert config["retries"] == {"total_max_attempts": 1}


def test_reject_limit_is_the_same_in_both_dags(dagbag):
    """The daily DAG passes its max_reject_share param to the Glue job; the state machine's Glue task passes only
    --run_date, so the job's default argument gives it the same limit."""
    template = json.loads((REPO / "infra" / "cloudformation.json").read_text())
    (job,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Glue::Job"]
    default = dagbag.dags[DAILY].params["max_reject_share"]
    assert float(job["Properties"]["DefaultArguments"]["--max_reject_share"]) == default == 0.25
    args = dagbag.dags[DAILY].get_task("transform.run_glue_job").script_args
    assert args["--max_reject_share"] == "{{ params.max_reject_share }}"
