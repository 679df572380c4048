"""An engine's end is durable before any client can read it ("nothing acknowledged is lost, whatever kills a
process"; issue 16).

Job runs, crawls, Athena queries, Data API statements and Step Functions executions end on background threads. A
client that reads the end (GetJobRun SUCCEEDED, GetCrawler LastCrawl, GetQueryExecution, DescribeStatement,
DescribeExecution) acts on it, so a crash right after must not take it back: the journal must hold the end before
the end is visible (``local_aws.state.store.finish``). After a crash a restart restores what the journal holds and
settles what was in flight FAILED, so an end answered before it reached the journal would come back FAILED.

Each test watches one record at every journal append of the shared server: what a reader would get at the moment
the append begins (the live record, which every read action answers from) and what the journal holds once the
append is done (the service's entry decoded as a restart decodes it). The end must be journaled at an append that
began while readers still saw the record in flight, and no append may begin with the end visible but not
journaled. Deterministic: without ``finish`` the engines set the end first and commit after, so the appending
commit sees the end already visible, whatever the timing.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from moto.stepfunctions.parser.models import stepfunctions_parser_backends
from redshift_support import Warehouse

from local_aws import ACCOUNT_ID, REGION
from local_aws.services.athena import athena_query_backends
from local_aws.services.glue_crawlers import crawl_backends
from local_aws.services.glue_jobs import job_run_backends
from local_aws.services.redshift_data import redshift_data_backends
from local_aws.state import pickling
from local_aws.state import store as state_store

HERE = (ACCOUNT_ID, REGION)


@pytest.fixture(scope="module")
def aws(local_aws):
    """The suite's shared local AWS (tests/conftest.py): in process, with a state dir, so its store is at hand."""
    assert local_aws.store is not None
    return local_aws


def client(aws, service: str):
    return boto3.client(service, endpoint_url=aws.endpoint_url, region_name=REGION)


def _journaled(store: state_store.StateStore, backend_dict) -> dict | None:
    """The saved state of ``backend_dict`` as a restart would decode it from the journal: {(account, region): the
    backend's attributes}, finished records decoded from their own entries, other references left as live objects."""
    data = store.journal.entries.get(("service", pickling.backend_key(backend_dict)))
    if data is None:
        return None

    def resolve(pid: tuple) -> Any:
        if pid[0] != "frozen":
            return state_store._resolve_uncached(pid)
        cls, attributes, detach = pickling.loads(store.journal.entries[pid], resolve)
        record = cls.__new__(cls)
        record.__dict__.update(attributes)
        return record

    return pickling.loads(data, resolve)


@contextmanager
def appends_watched(store: state_store.StateStore, backend_dict, live: Callable[[], str | None],
                    journaled: Callable[[dict], str | None]) -> Iterator[list[tuple[str | None, str | None]]]:
    """Yields the list of (what readers saw when an append began, what the journal held after it), one per journal
    append while inside. ``live()`` reads the watched record's state from memory, ``journaled(saved)`` from the
    decoded entry of ``backend_dict``."""
    seen: list[tuple[str | None, str | None]] = []
    real = store.journal.append
    key = ("service", pickling.backend_key(backend_dict))

    def append(entries):
        visible = live()
        real(entries)
        saved = _journaled(store, backend_dict) if key in entries else None
        seen.append((visible, journaled(saved) if saved is not None else (seen[-1][1] if seen else None)))

    store.journal.append = append
    try:
        yield seen
    finally:
        del store.journal.append  # the Journal method again


def assert_durable_before_visible(seen: list[tuple[str | None, str | None]], ends: tuple[str, ...]) -> None:
    journaled = None
    for visible, after in seen:
        assert visible not in ends or journaled in ends, (
            f"readers saw {visible} while the journal held {journaled}: a crash now would take the end back "
            f"(appends: {seen})")
        journaled = after
    assert journaled in ends, f"the end never reached the journal (appends: {seen})"


# --- Glue job runs ("GetJobRun": JobRunState) ------------------------------------------------------------------------


@pytest.mark.parametrize("role, ends", [
    ("glue", "SUCCEEDED"),
    # A role Glue cannot assume ends the run before its script starts (local_aws.iam.service_roles): the same end.
    ("no-such-role-for-glue", "FAILED"),
])
def test_a_glue_job_runs_end_is_journaled_before_get_job_run_answers_it(aws, monkeypatch, role, ends):
    monkeypatch.setenv("LOCAL_AWS_GLUE_WARM_DRIVERS", "0")  # the script never starts Spark
    s3, glue = client(aws, "s3"), client(aws, "glue")
    bucket, job = f"ends-{uuid.uuid4().hex[:8]}", f"job-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="quick.py", Body=b"print('done')\n")
    glue.create_job(Name=job, Role=f"arn:aws:iam::123456789012:role/{role}", GlueVersion="5.0",
                    Command={"Name": "glueetl", "ScriptLocation": f"s3://{bucket}/quick.py"})

    def state_of(runs: dict) -> str | None:  # the job's only run (its id is not known before StartJobRun answers)
        found = runs.get(job, [])
        return found[0].state if found else None

    with appends_watched(aws.store, job_run_backends, lambda: state_of(job_run_backends[ACCOUNT_ID][REGION].runs),
                         lambda saved: state_of(saved[HERE]["runs"])) as seen:
        run_id = glue.start_job_run(JobName=job)["JobRunId"]
        deadline = time.monotonic() + 60
        while (run := glue.get_job_run(JobName=job, RunId=run_id)["JobRun"])["JobRunState"] in ("STARTING", "RUNNING"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert run["JobRunState"] == ends, run.get("ErrorMessage")
    if ends == "FAILED":
        assert run["ErrorMessage"].startswith("Service is unable to assume provided role"), run["ErrorMessage"]
    assert_durable_before_visible(seen, (ends,))


# --- Glue crawls ("GetCrawler": State, LastCrawl) --------------------------------------------------------------------


def test_a_crawls_end_is_journaled_before_get_crawler_answers_it(aws, monkeypatch):
    monkeypatch.setenv("LOCAL_AWS_CRAWLER_STARTUP_SECONDS", "0")
    s3, glue = client(aws, "s3"), client(aws, "glue")
    bucket, name, db = f"ends-{uuid.uuid4().hex[:8]}", f"crawler-{uuid.uuid4().hex[:8]}", f"db_{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="raw/day/part-0.csv", Body=b"id,price\n1,2.50\n")
    glue.create_database(DatabaseInput={"Name": db})
    glue.create_crawler(Name=name, Role="r", DatabaseName=db, Targets={"S3Targets": [{"Path": f"s3://{bucket}/raw/"}]})

    def phase_of(crawls: dict) -> str | None:
        history = crawls.get(name)
        return f"{history[-1].phase} {history[-1].status}" if history else None

    with appends_watched(aws.store, crawl_backends, lambda: phase_of(crawl_backends[ACCOUNT_ID][REGION].crawls),
                         lambda saved: phase_of(saved[HERE]["crawls"])) as seen:
        glue.start_crawler(Name=name)
        deadline = time.monotonic() + 60
        while (crawler := glue.get_crawler(Name=name)["Crawler"])["State"] != "READY":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED", crawler["LastCrawl"]
    assert_durable_before_visible(seen, ("DONE SUCCEEDED",))


# --- Athena ("GetQueryExecution": Status.State) -----------------------------------------------------------------------


def test_an_athena_querys_end_is_journaled_before_get_query_execution_answers_it(aws):
    s3, athena = client(aws, "s3"), client(aws, "athena")
    bucket = f"ends-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    query = f"SELECT 1 AS one_{uuid.uuid4().hex}"  # it may end before StartQueryExecution answers its id

    def state_of(executions: dict) -> str | None:
        found = [e for e in executions.values() if e.query == query]
        return found[0].state if found else None

    with appends_watched(aws.store, athena_query_backends,
                         lambda: state_of(athena_query_backends[ACCOUNT_ID][REGION].executions),
                         lambda saved: state_of(saved[HERE]["executions"])) as seen:
        query_id = athena.start_query_execution(
            QueryString=query, ResultConfiguration={"OutputLocation": f"s3://{bucket}/results/"},
        )["QueryExecutionId"]
        deadline = time.monotonic() + 60
        while (state := athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"][
                "State"]) in ("QUEUED", "RUNNING"):
            assert time.monotonic() < deadline
            time.sleep(0.02)
    assert state == "SUCCEEDED"
    assert_durable_before_visible(seen, ("SUCCEEDED",))


# --- Redshift Data API ("DescribeStatement": Status) ----------------------------------------------------------------


def test_a_data_api_statements_end_is_journaled_before_describe_statement_answers_it(aws):
    warehouse = Warehouse(aws)
    sql = f"select 1 as one_{uuid.uuid4().hex}"  # it may end before ExecuteStatement answers its id

    def status_of(statements: dict) -> str | None:
        found = [s for s in statements.values() if s.query_string == sql]
        return found[0].status if found else None

    with appends_watched(aws.store, redshift_data_backends,
                         lambda: status_of(redshift_data_backends[ACCOUNT_ID][REGION].statements),
                         lambda saved: status_of(saved[HERE]["statements"])) as seen:
        described = warehouse.wait(warehouse.data.execute_statement(Sql=sql, **warehouse.target())["Id"])
    assert described["Status"] == "FINISHED", described.get("Error")
    assert_durable_before_visible(seen, ("FINISHED",))


# --- Step Functions ("DescribeExecution": status) --------------------------------------------------------------------


def _described(execution) -> str:
    """The status DescribeExecution and ListExecutions answer."""
    return execution.exec_status.value


def _history_end(execution) -> str:
    """The end GetExecutionHistory shows: its closing event (ExecutionSucceeded ...), else RUNNING."""
    types = [event["type"] for event in execution.to_history_output()["events"]]
    return types[-1].removeprefix("Execution").upper() if types and types[-1].startswith("Execution") and \
        types[-1] != "ExecutionStarted" else "RUNNING"


@pytest.mark.parametrize("read", [_described, _history_end], ids=["DescribeExecution", "GetExecutionHistory"])
def test_a_step_functions_executions_end_is_journaled_before_a_reader_answers_it(aws, read):
    sfn = client(aws, "stepfunctions")
    machine = sfn.create_state_machine(
        name=f"ends-{uuid.uuid4().hex[:8]}", roleArn="arn:aws:iam::123456789012:role/sfn-test",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
    )["stateMachineArn"]

    def executions(machines: list) -> list:  # the machine's only execution: it ends before StartExecution answers
        return [e for m in machines if m.arn == machine for e in m.executions]

    def live() -> str | None:
        found = executions(stepfunctions_parser_backends[ACCOUNT_ID][REGION].state_machines)
        return read(found[0]) if found else None

    def journaled(saved: dict) -> str | None:
        found = executions(saved[HERE]["state_machines"])
        return found[0].exec_status.value if found else None

    with appends_watched(aws.store, stepfunctions_parser_backends, live, journaled) as seen:
        execution_arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
        deadline = time.monotonic() + 60
        while (status := sfn.describe_execution(executionArn=execution_arn)["status"]) == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.02)
    assert status == "SUCCEEDED"
    events = sfn.get_execution_history(executionArn=execution_arn)["events"]
    assert [e["type"] for e in events][-1] == "ExecutionSucceeded"
    assert_durable_before_visible(seen, ("SUCCEEDED",))


def test_finish_stages_the_end_and_publishes_it_after_the_commit(aws):
    """The mechanism itself: the function runs on a copy, the journal record holds the new values, and the live
    record changes only after the append (and at once without a state store)."""
    backend = athena_query_backends[ACCOUNT_ID][REGION]
    from local_aws.athena.executions import QueryExecution

    execution = QueryExecution(f"q-{uuid.uuid4()}", "SELECT 1", "primary", None, None, "s3://b/x.csv")
    backend.executions[execution.query_id] = execution
    try:
        def end(ending: QueryExecution) -> None:
            ending.state, ending.completed = "SUCCEEDED", 1.0

        with appends_watched(aws.store, athena_query_backends, lambda: execution.state,
                             lambda saved: saved[HERE]["executions"][execution.query_id].state) as seen:
            assert state_store.finish([(execution, end)], "athena")
        assert seen == [("QUEUED", "SUCCEEDED")]
        assert (execution.state, execution.completed) == ("SUCCEEDED", 1.0)
    finally:
        backend.executions.pop(execution.query_id, None)
        state_store.touch_and_commit("athena")


def test_a_restored_running_execution_drops_a_closing_event_it_never_published():
    """An execution journaled RUNNING whose history already held its closing event (the interpreter records it a
    moment before the end is journaled) was never answered as ended: the restart ends it FAILED, and its history
    ends with that ExecutionFailed only (AWS ends a failed execution's history with ExecutionFailed:
    "GetExecutionHistory", HistoryEvent)."""
    from types import SimpleNamespace

    from moto.stepfunctions.parser.api import ExecutionStatus

    from local_aws.services.stepfunctions import INTERRUPTED_ERROR, SettledWorker, _settle

    started = {"id": 1, "previousEventId": 0, "type": "ExecutionStarted", "timestamp": "2026-11-30T10:00:00.000Z"}
    unpublished = {"id": 2, "previousEventId": 1, "type": "ExecutionSucceeded", "timestamp": "2026-11-30T10:00:01.000Z"}
    execution = SimpleNamespace(exec_status=ExecutionStatus.RUNNING, exec_worker=SettledWorker([started, unpublished]),
                                stop_date=None, error=None, cause=None)
    assert _settle(execution)
    events = execution.exec_worker.env.event_manager.get_event_history()
    assert [(e["id"], e["type"]) for e in events] == [(1, "ExecutionStarted"), (2, "ExecutionFailed")]
    assert events[1]["executionFailedEventDetails"]["error"] == INTERRUPTED_ERROR
    assert execution.exec_status == ExecutionStatus.FAILED
