"""The benchmark's bookkeeping (bench/): how it reads worker slots, attributes API calls and splits stages.

The benchmarks themselves are scripts (`make bench`); these tests keep their arithmetic honest without running them.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from bench.dag_runs import DagRunTiming, TaskTiming
from bench.end_to_end import attribute_calls
from bench.engines import _first_word
from bench.run_all import parse_args
from bench.slots import busy_workers
from bench.stack import ApiCall, ApiCallRecorder
from bench.state_machine import _state_durations


def test_busy_workers_reads_the_local_executor_titles(tmp_path):
    titles = {
        "101": b"airflow worker -- LocalExecutor: 0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        "102": b"airflow worker -- LocalExecutor: <idle>",
        "103": b"airflow worker -- 0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",  # the task process, not a slot
        "104": b"/usr/bin/python\0-m\0local_aws\0serve",
    }
    for pid, title in titles.items():
        (tmp_path / pid).mkdir()
        (tmp_path / pid / "cmdline").write_bytes(title)
    assert busy_workers(tmp_path) == ["0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"]


def task(task_id: str, start: float, end: float) -> TaskTiming:
    return TaskTiming(task_id, "success", start, end, 1)


def test_calls_go_to_the_task_that_made_them():
    tasks = [task("crawl_raw.start_execution", 0, 10), task("redshift_ddl.start_execution", 0, 10),
             task("crawl_raw.wait_for_crawler", 11, 12)]
    calls = [
        ApiCall(1, "states", "StartExecution", "StepFunctionStartExecutionOperator"),  # either start task
        ApiCall(5, "states", "DescribeExecution", "Unknown"),  # the triggerer: shared by both deferred starts
        ApiCall(5, "glue", "GetCrawler", ""),  # boto3 outside Airflow (the state machine itself): nobody's
        ApiCall(11.5, "glue", "GetCrawler", "GlueCrawlerSensor"),
        ApiCall(11.6, "glue", "GetCrawler", "GlueJobOperator"),  # another operator's call: not the sensor's
    ]
    shares = attribute_calls(tasks, calls)
    assert shares["crawl_raw.start_execution"] == {"StartExecution": 0.5, "DescribeExecution": 0.5}
    assert shares["redshift_ddl.start_execution"] == {"StartExecution": 0.5, "DescribeExecution": 0.5}
    assert shares["crawl_raw.wait_for_crawler"] == {"GetCrawler": 1}


def test_stage_spans_cover_their_tasks():
    timing = DagRunTiming("d", "r", "2021-12-01", 10, "success", 30.0, 0.0, tasks=[
        task("crawl_raw.start_execution", 1, 4), task("crawl_raw.wait_for_crawler", 5, 6),
        task("transform.run_glue_job", 7, 20)])
    assert timing.stages() == {"crawl_raw": (1, 6), "transform": (7, 20)}


def test_state_durations_from_the_execution_history():
    t0 = datetime(2021, 12, 1, tzinfo=UTC)
    history = [
        {"timestamp": t0, "stateEnteredEventDetails": {"name": "LoadRawSales"}},
        {"timestamp": t0 + timedelta(seconds=2), "stateExitedEventDetails": {"name": "LoadRawSales"}},
        {"timestamp": t0 + timedelta(seconds=2), "stateEnteredEventDetails": {"name": "CrawlRaw"}},
        {"timestamp": t0 + timedelta(seconds=3.5), "stateExitedEventDetails": {"name": "CrawlRaw"}},
        {"timestamp": t0 + timedelta(seconds=4), "executionSucceededEventDetails": {}},
    ]
    assert _state_durations(history) == {"LoadRawSales": 2.0, "CrawlRaw": 1.5}


def test_the_copy_is_told_from_the_delete_that_mentions_it():
    assert _first_word("-- the COPY follows\ndelete from public.sales where x") == "delete"
    assert _first_word("copy public.sales from 's3://b/p/'") == "copy"


def test_default_run_is_the_issue_s_set():
    args = parse_args([])
    assert args.sizes == [100_000, 1_000_000, 5_000_000]
    assert (args.overhead_rows, args.backfill_days) == (1_000_000, 7)


def test_recorder_keeps_the_server_s_call_lines_with_their_caller():
    recorder = ApiCallRecorder()
    server = logging.getLogger("local_aws")
    server.addHandler(recorder)
    old_level = server.level
    server.setLevel(logging.DEBUG)
    try:
        server.debug("%s %s %s %.0f ms", "glue", "GetCrawler", "200", 3.0, extra={
            "aws_call": ("glue", "GetCrawler"),
            "user_agent": "Boto3/1.43 Airflow/3.3.2 AmPP/9.39.0 Caller/GlueCrawlerSensor DagRunKey/abc"})
        server.debug("%s %s %s %.0f ms", "states", "DescribeExecution", "200", 1.0,
                     extra={"aws_call": ("states", "DescribeExecution"), "user_agent": "Boto3/1.43"})
        server.debug("saved the state of %s", "glue")  # not a call line
    finally:
        server.removeHandler(recorder)
        server.setLevel(old_level)
    assert [(c.service, c.action, c.caller) for c in recorder.calls] == [
        ("glue", "GetCrawler", "GlueCrawlerSensor"), ("states", "DescribeExecution", "")]
