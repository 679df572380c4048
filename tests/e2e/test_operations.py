"""Operating the pipeline, end to end: one real day of the daily DAG on the local AWS, then Airflow's scheduler runs
the downstream report DAG from the day's aggregate Asset; the run's cost record is read back from the lake.

The daily run is `airflow dags test` (every task in one process: the quickest way through a day); the report DAG
is started by the real scheduler (LocalExecutor, api-server for the task runner, dag-processor) from the asset event
the daily run left in the metadata database, as it would be in production.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from decimal import Decimal

import boto3
import pytest

from pipeline_tools.airflow_env import AIRFLOW, REPO, airflow_env, lineage_file, migrate
from pipeline_tools.airflow_services import AirflowServices

pytestmark = pytest.mark.e2e

DAY = "2021-12-01"
LATE_DAY = "2021-12-05"  # a run created after its deadline, never started
FAILED_DAY = "2021-12-09"  # a run whose reconcile finds no data
ROWS = 1500
DAILY, REPORT = "sales_pipeline_daily", "sales_revenue_report"
COMPONENTS = ("scheduler", "dag-processor", "triggerer")


def airflow(env: dict, *args: str, timeout: float = 900) -> str:
    done = subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"airflow {' '.join(args)}:\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def report_runs(home) -> list[tuple[str, str, str]]:
    """(run_id, run_type, state) of the report DAG's runs, from the metadata database."""
    with sqlite3.connect(f"file:{home / 'airflow.db'}?mode=ro", uri=True, timeout=5) as db:
        return db.execute("SELECT run_id, run_type, state FROM dag_run WHERE dag_id = ?", (REPORT,)).fetchall()


@pytest.fixture(scope="module")
def operated(local_aws, tmp_path_factory):
    """One daily run of DAY, then the scheduler until the asset-triggered report run has finished."""
    from pipeline_tools.deploy import deploy_local

    name = "operated"
    outputs = deploy_local(local_aws.endpoint_url, REPO, stack_name=name,
                           parameters={"ProjectName": name, "GlueDatabaseName": f"{name}_sales"})
    home = tmp_path_factory.mktemp("operations") / "airflow"
    env = airflow_env(home, local_aws.endpoint_url, outputs)
    migrate(env)
    # Every DAG in the database first, so the report DAG is registered as the aggregate Asset's consumer when the
    # daily run emits its event; the daily DAG stays paused (the scheduler must not start a run of its own).
    deadlines = {**env, "SALES_PIPELINE_DEADLINES": "on"}
    airflow(deadlines, "dags", "reserialize")
    airflow(env, "dags", "pause", DAILY)
    sqs = boto3.client("sqs", endpoint_url=local_aws.endpoint_url)
    queue = sqs.create_queue(QueueName=f"{name}-alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns", endpoint_url=local_aws.endpoint_url).subscribe(
        TopicArn=outputs["AlertTopicArn"], Protocol="sqs", Endpoint=queue_arn)
    (home / "daily.log").write_text(airflow(env, "dags", "test", DAILY, DAY, "-c", json.dumps({"rows": ROWS})))
    # A late run: created long after its deadline (LATE_DAY + 30 h) and never started (the DAG is paused).
    airflow(deadlines, "dags", "reserialize")  # `dags test` stored the DAG without its deadline (airflow_env)
    airflow(deadlines, "dags", "trigger", DAILY, "--logical-date", f"{LATE_DAY}T00:00:00+00:00")
    received: list[dict] = []

    def alerts(sqs) -> list[dict]:
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            received.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        subjects = " ".join(m.get("Subject", "") for m in received)
        return received if f"{LATE_DAY} not reconciled" in subjects and f"failed for {FAILED_DAY}" in subjects \
            else []
    # The api-server first (the LocalExecutor's task runner talks to its execution API), then the scheduler.
    with AirflowServices(env, home, components=("api-server",)) as api:
        scheduler_env = {**api.env, "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "True"}  # asset-triggered runs
        logs = home / "component-logs"
        procs = [subprocess.Popen([AIRFLOW, component], env=scheduler_env, stdout=open(logs / f"{component}.log", "w"),
                                  stderr=subprocess.STDOUT, start_new_session=True)
                 for component in COMPONENTS]
        # A forced failure meanwhile: a day with no data, every task but reconcile marked done, so reconcile
        # finds no manifest and fails for good after its retries (from 2 s, doubling: the DAG's 30 s shortened).
        failing = subprocess.Popen([AIRFLOW, "dags", "test", DAILY, FAILED_DAY, "--mark-success-pattern",
                                    r"(?!validate\.reconcile$).*"],
                                   env={**env, "SALES_PIPELINE_RETRY_DELAY_SECONDS": "2"},
                                   stdout=open(logs / "failing.log", "w"), stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 400
            while time.monotonic() < deadline:
                runs = report_runs(home)
                if runs and all(state in ("success", "failed") for _, _, state in runs) and alerts(sqs):
                    break
                stopped = [c for c, p in zip(COMPONENTS, procs, strict=True) if p.poll() is not None]
                assert not stopped, f"{stopped} stopped; logs in {logs}"
                time.sleep(2)
            failing.wait(timeout=300)
        finally:
            if failing.poll() is None:
                failing.kill()
            for proc in procs:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
    return {"outputs": outputs, "home": home, "runs": report_runs(home), "alerts": received,
            "s3": boto3.client("s3", endpoint_url=local_aws.endpoint_url)}


def test_the_aggregate_asset_triggers_the_report_dag(operated):
    """Airflow's asset-triggered scheduling: the report DAG runs once for the day's event (run_type asset_triggered)
    and writes the week's CSV and chart to the lake."""
    assert [(run_type, state) for _, run_type, state in operated["runs"]] == [("asset_triggered", "success")]
    s3, bucket = operated["s3"], operated["outputs"]["DataLakeBucket"]
    prefix = f"reports/weekly_revenue/week_ending={DAY}/"
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))
    assert keys == [f"{prefix}revenue.csv", f"{prefix}revenue.png"]  # matplotlib is in the dev environment
    lines = s3.get_object(Bucket=bucket, Key=f"{prefix}revenue.csv")["Body"].read().decode().splitlines()
    assert lines[0] == "day,revenue,sales_count" and len(lines) == 8
    # The last day is the day just reconciled: its revenue is the reconciliation's
    record = json.loads(s3.get_object(Bucket=bucket, Key=f"quality/sales/dt={DAY}/reconciliation.json")["Body"].read())
    day, revenue, count = lines[-1].split(",")
    assert (day, Decimal(revenue), int(count)) == (DAY, Decimal(record["revenue_redshift"]), record["processed_rows"])
    assert all(line.endswith(",,") for line in lines[1:-1])  # no earlier day in this stack


def test_the_asset_events_carry_the_day_and_where_it_is(operated):
    bucket = operated["outputs"]["DataLakeBucket"]
    with sqlite3.connect(f"file:{operated['home'] / 'airflow.db'}?mode=ro", uri=True) as db:
        events = db.execute("SELECT a.name, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id").fetchall()
    extras = {name: json.loads(extra) for name, extra in events}
    assert extras == {
        "sales_pipeline.raw_sales": {"date": DAY, "uri": f"s3://{bucket}/raw/sales/dt={DAY}/"},
        "sales_pipeline.processed_sales": {"date": DAY, "uri": f"s3://{bucket}/processed/sales/year=2021/month=12/day=1/"},
        "sales_pipeline.warehouse_sales": {
            "date": DAY, "uri": f"redshift://{operated['outputs']['RedshiftClusterId']}/"
                                f"{operated['outputs']['RedshiftDatabaseName']}/public.sales"},
        "sales_pipeline.daily_sales_revenue": {
            "date": DAY, "uri": f"s3://{bucket}/aggregated/daily_sales_revenue/dt={DAY}/"},
    }


def test_the_run_cost_is_measured_and_kept_in_the_quality_record(operated):
    s3, bucket = operated["s3"], operated["outputs"]["DataLakeBucket"]
    record = json.loads(s3.get_object(Bucket=bucket, Key=f"quality/sales/dt={DAY}/cost.json")["Body"].read())
    usage, lines = record["usage"], {line["item"]: line for line in record["cost"]["lines"]}
    # The template's job: G.1X x 2 workers on Glue 5.0, billed at least a minute
    assert Decimal(usage["glue_dpu_seconds"]) >= 2 * 60
    assert usage["athena_queries"] == 3 and usage["athena_billed_bytes"] == 3 * 10 * 1024 * 1024  # tiny scans
    assert usage["lambda_requests"] == 1 and Decimal(usage["lambda_gb_seconds"]) > 0
    assert usage["state_transitions"] > 7 * 3  # seven executions, each entering several states
    assert usage["redshift"]["node_type"] == "ra3.large" and usage["redshift"]["seconds"] > 0
    assert Decimal(record["cost"]["total_usd"]) == sum(Decimal(line["usd"]) for line in lines.values())


def by_subject(alerts: list[dict], text: str) -> list[dict]:
    return [m for m in alerts if text in m.get("Subject", "")]


def test_a_forced_failure_publishes_to_the_alert_topic(operated):
    """on_failure_callback -> the provider's SnsNotifier -> Publish; read back through an SQS subscription (moto's
    SNS delivers the standard notification envelope: Type, TopicArn, Subject, Message)."""
    [failure] = by_subject(operated["alerts"], f"failed for {FAILED_DAY}")
    assert failure["Type"] == "Notification" and failure["TopicArn"] == operated["outputs"]["AlertTopicArn"]
    assert failure["Subject"] == f"[sales pipeline] validate.reconcile failed for {FAILED_DAY}"
    assert f"task validate.reconcile failed for {FAILED_DAY}" in failure["Message"]
    assert "try 3" in failure["Message"] and "Error: " in failure["Message"]  # retries exhausted, with the error


def test_a_late_run_fires_the_deadline_callback(operated):
    """DeadlineAlert: the run for LATE_DAY was created after LATE_DAY + 30 h and never ran; the scheduler marks the
    deadline missed and the triggerer runs sales_pipeline.alerts.deadline_missed, which publishes to the topic."""
    [late] = by_subject(operated["alerts"], f"{LATE_DAY} not reconciled")
    assert "2021-12-06 06:00:00" in late["Message"] and "queued" in late["Message"]
    # The day that reconciled in time (its run succeeded) raises no deadline alert
    assert by_subject(operated["alerts"], f"{DAY} not reconciled") == []


def lineage_graph(events: list[dict]) -> dict[str, set[str]]:
    """dataset -> the datasets a job that read it wrote, from the COMPLETE events of the daily run of DAY."""
    edges: dict[str, set[str]] = {}
    for event in events:
        if event["eventType"] != "COMPLETE" or not event["job"]["name"].startswith("sales_pipeline_daily."):
            continue
        for source in event.get("inputs", []):
            for target in event.get("outputs", []):
                edges.setdefault(f"{source['namespace']}/{source['name']}", set()).add(
                    f"{target['namespace']}/{target['name']}")
    return edges


def reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_lineage_events_of_the_run_form_the_graph_raw_processed_warehouse_aggregate(operated):
    """The events a real local run wrote through OpenLineage's file transport, read back: the stages' datasets
    (OpenLineage naming: s3://<bucket>, redshift://<cluster>.<region>:5439) chain raw -> processed -> warehouse ->
    aggregate, and reconcile's inputs carry the day's data-quality facets."""
    lines = lineage_file(operated["home"]).read_text().splitlines()
    events = [json.loads(line) for line in lines]
    edges = lineage_graph(events)
    lake = f"s3://{operated['outputs']['DataLakeBucket']}"
    cluster = operated["outputs"]["RedshiftClusterId"]
    raw, processed = f"{lake}/raw/sales/dt={DAY}", f"{lake}/processed/sales/year=2021/month=12/day=1"
    warehouse = f"redshift://{cluster}.us-east-1:5439/dev.public.sales"
    aggregate = f"{lake}/aggregated/daily_sales_revenue/dt={DAY}"
    assert processed in edges[raw]
    assert warehouse in edges[processed]
    assert aggregate in reachable(edges, warehouse)
    assert {processed, warehouse, aggregate} <= reachable(edges, raw)
    [reconciled] = [e for e in events if e["eventType"] == "COMPLETE"
                    and e["job"]["name"] == "sales_pipeline_daily.validate.reconcile" and e.get("inputs")]
    facets = {i["name"]: i.get("inputFacets", {}) for i in reconciled["inputs"]}
    record = json.loads(operated["s3"].get_object(Bucket=operated["outputs"]["DataLakeBucket"],
                                                  Key=f"quality/sales/dt={DAY}/reconciliation.json")["Body"].read())
    assert facets["dev.public.sales"]["dataQualityMetrics"]["rowCount"] == record["processed_rows"]
    glue_raw = f"table/{operated['outputs']['GlueDatabaseName']}/raw_sales"
    assert facets[glue_raw]["dataQualityMetrics"]["rowCount"] == record["raw_rows"]
    assertions = facets[f"table/{operated['outputs']['GlueDatabaseName']}/processed_sales"]["dataQualityAssertions"]
    assert {a["assertion"] for a in assertions["assertions"]} >= {
        f"rejected_{reason}={n}" for reason, n in record["rejected_by_reason"].items()}
