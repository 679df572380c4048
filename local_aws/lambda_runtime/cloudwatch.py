"""An invocation's log in CloudWatch Logs, where AWS Lambda writes it.

AWS ("Sending Lambda function logs to CloudWatch Logs"): the group ``/aws/lambda/<function name>`` (created on
first use), one stream per execution environment named ``YYYY/MM/DD/[$LATEST]<32 hex>``, one log event per line:
START, the function's output, END and REPORT. Every local invocation runs in a fresh process, that is a fresh
execution environment, so each has its own stream (on AWS a warm environment appends to its stream).

The events go straight into moto's CloudWatch Logs backend (the same one GetLogEvents / FilterLogEvents / the CLI
read) and are made durable with it.
"""

from __future__ import annotations

import threading

from moto.logs.models import logs_backends

from local_aws.lambda_runtime.runner import Invocation
from local_aws.state import store as state_store

_lock = threading.Lock()  # moto's log backend is not thread-safe; invocations run concurrently


def group_name(function_name: str) -> str:
    return f"/aws/lambda/{function_name}"


def write(invocation: Invocation, function_name: str, account_id: str, region: str) -> None:
    """Put the invocation's log lines into its group and stream (creating them as Lambda does)."""
    lines = invocation.log.splitlines()
    events = [{"timestamp": invocation.started_ms if index == 0 else invocation.ended_ms, "message": line}
              for index, line in enumerate(lines)]
    backend = logs_backends[account_id][region]
    group = group_name(function_name)
    with _lock:
        if group not in backend.groups:
            backend.create_log_group(group, tags={})
        backend.ensure_log_stream(group, invocation.log_stream_name)
        backend.put_log_events(group, invocation.log_stream_name, events)
    state = state_store.active()
    if state is not None:
        state.touch("logs")  # committed with the Invoke request (or by the caller for background runs)
