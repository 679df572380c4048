"""The alert texts (plugins/sales_pipeline/alerts.py) within SNS Publish's limits: a Subject is at most 100
printable ASCII characters with no line break (Amazon SNS API Reference, Publish, Subject)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from sales_pipeline.alerts import FAILURE_SUBJECT, deadline_message, deadline_missed  # noqa: E402


def test_deadline_message_names_the_day_the_deadline_and_the_state():
    subject, message = deadline_message(
        {"dag_id": "sales_pipeline_daily", "dag_run_id": "scheduled__2021-12-05T00:00:00+00:00",
         "logical_date": "2021-12-05T00:00:00Z", "state": "running"}, "2021-12-06 06:00:00+00:00")
    assert subject == "[sales pipeline] 2021-12-05 not reconciled by its deadline"
    assert len(subject) <= 100 and subject.isascii() and "\n" not in subject
    assert "2021-12-06 06:00:00" in message and "state running" in message


def test_failure_subject_stays_within_the_limit_for_the_longest_task_id():
    rendered = FAILURE_SUBJECT.replace("{{ ti.task_id[:60] }}", "x" * 60).replace("{{ ds }}", "2021-12-05")
    assert len(rendered) <= 100


def test_backfill_runs_publish_nothing():
    context = {"dag_run": {"run_type": "backfill", "logical_date": "2021-12-05T00:00:00Z"},
               "deadline": {"deadline_time": "2021-12-06T06:00:00Z"}}
    assert asyncio.run(deadline_missed(context)) is None
