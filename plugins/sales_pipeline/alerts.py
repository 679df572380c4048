"""Failure and deadline alerts, published to the stack's SNS topic (the `AlertTopicArn` output).

- A task that fails for good (retries exhausted) calls `failure_notifier()`: the Amazon provider's SnsNotifier with
  the topic from the `sales_pipeline` Variable, the task, the day and the error.
- The daily DAG's DeadlineAlert ("the day is reconciled by 06:00 UTC": the run's logical date, the start of the
  day it processes, + 30 h) calls `deadline_missed` in the triggerer when the run has not succeeded by then. The
  triggerer gives a callback only {"dag_run", "deadline"}, not the template context, so it reads the topic from
  the Variable itself. Backfill runs are loads of history whose deadline passed long ago: they publish nothing.

Subjects follow SNS's limits (Publish: at most 100 ASCII characters, no line breaks).
"""

from __future__ import annotations

from datetime import timedelta

RECONCILED_BY = timedelta(hours=30)  # the logical date is the day's 00:00 UTC; 06:00 UTC on the next day
TOPIC = "{{ var.json.sales_pipeline.AlertTopicArn }}"
FAILURE_SUBJECT = "[sales pipeline] {{ ti.task_id[:60] }} failed for {{ ds }}"
FAILURE_MESSAGE = (
    "{{ dag.dag_id }}: task {{ ti.task_id }} failed for {{ ds }} (run {{ run_id }}, try {{ ti.try_number }}).\n"
    "Error: {{ exception }}\n"
)


def failure_notifier(aws_conn_id: str):
    """The provider's SnsNotifier for on_failure_callback (rendered with the failed task's context)."""
    from airflow.providers.amazon.aws.notifications.sns import SnsNotifier

    return SnsNotifier(aws_conn_id=aws_conn_id, target_arn=TOPIC, subject=FAILURE_SUBJECT, message=FAILURE_MESSAGE)


def deadline_message(dag_run: dict, deadline_time) -> tuple[str, str]:
    """(subject, message) for a missed deadline, from the triggerer's context."""
    day = str(dag_run.get("logical_date", ""))[:10]
    subject = f"[sales pipeline] {day} not reconciled by its deadline"[:100]
    message = (f"{dag_run.get('dag_id')}: the run {dag_run.get('dag_run_id')} for {day} had not succeeded by "
               f"{deadline_time} (state {dag_run.get('state')}).\n")
    return subject, message


async def deadline_missed(context: dict, aws_conn_id: str = "aws_default") -> str | None:
    """The DeadlineAlert's callback (an AsyncCallback: it runs in the triggerer). Publishes to the alert topic;
    returns the SNS MessageId, or None for a backfill run."""
    from airflow.providers.amazon.aws.hooks.sns import SnsHook
    from airflow.sdk import Variable
    from asgiref.sync import sync_to_async

    dag_run = context["dag_run"]
    if dag_run.get("run_type") == "backfill":
        return None
    subject, message = deadline_message(dag_run, context["deadline"]["deadline_time"])
    # Variable.get is synchronous: off the triggerer's event loop, as Airflow's own async connection lookup does
    topic = (await sync_to_async(Variable.get)("sales_pipeline", deserialize_json=True))["AlertTopicArn"]
    response = await SnsHook(aws_conn_id=aws_conn_id).apublish_to_target(target_arn=topic, message=message,
                                                                           subject=subject)
    return response["MessageId"]  # the triggerer stores a callback's return value as text
