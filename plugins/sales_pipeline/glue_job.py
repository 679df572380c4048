"""The provider's GlueJobOperator, except that a day the job refused for its input fails at once, without retries.

The sales job refuses a day before writing anything when its input cannot be read (`JobInputError`, naming the
files) or when too many rows are rejected (`RejectThresholdExceeded`, naming the counts and the top reasons;
include/glue/sales_job.py). A retry would read the same files and refuse them again, each time after a Glue run
and a retry delay. Other failures (throttling, a lost worker, an outage) keep the task's retries.

Deferrable, as the DAGs run it: the provider's GlueJobCompleteTrigger ends a failed run with the event
``{"status": "error", "message": "AWS Glue job failed.: Status of AWS Glue job is: FAILED - <JobRun.ErrorMessage>
...", "run_id": ...}`` (AwsBaseWaiterTrigger.run, providers-amazon 9.34 and 9.39), and GlueJobOperator
.execute_complete raises AirflowException, which Airflow retries. Here that failure is an AirflowFailException
when the run's error names one of the job's input refusals.
"""

from __future__ import annotations

import re
from typing import Any

from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.sdk.exceptions import AirflowFailException

# The exception classes include/glue/sales_job.py raises for a day it will never accept as it is; the run's
# ErrorMessage is the script's last exception line.
INPUT_REFUSAL = re.compile(r"\b(?:RejectThresholdExceeded|JobInputError)\b[^\n]*")


class InputRefusalGlueJobOperator(GlueJobOperator):
    """GlueJobOperator (deferrable=True) that fails without retries when the job refused the day's input."""

    def execute_complete(self, context, event: dict[str, Any] | None = None) -> str:
        if event and event.get("status") != "success":
            refusal = INPUT_REFUSAL.search(str(event.get("message", "")))
            if refusal is not None:
                raise AirflowFailException(f"the Glue job refused the day's input, which a retry would read again: "
                                           f"{refusal.group(0).strip()}")
        return super().execute_complete(context, event)
