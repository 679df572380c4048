"""The provider's LambdaInvokeFunctionOperator, keeping what the invocation was billed for.

With `log_type="Tail"` Lambda returns the last 4 KB of the invocation's log, whose REPORT line carries the billed
duration and the memory size (https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html). The operator
logs that tail and drops it; this subclass also pushes the REPORT figures as the XCom `lambda_report`
({"billed_ms", "memory_mb"}), which the run's cost record reads.
"""

from __future__ import annotations

from airflow.providers.amazon.aws.operators.lambda_function import LambdaInvokeFunctionOperator

from sales_pipeline.cost import lambda_report

REPORT_XCOM = "lambda_report"


class BilledLambdaInvokeOperator(LambdaInvokeFunctionOperator):
    """LambdaInvokeFunctionOperator (log_type must be "Tail") that pushes the invocation's REPORT figures."""

    def execute(self, context):
        if self.log_type != "Tail":
            raise ValueError("BilledLambdaInvokeOperator needs log_type='Tail': the REPORT line is in the log tail")
        invoke = self.hook.invoke_lambda

        def invoke_and_keep_report(**kwargs):
            response = invoke(**kwargs)
            if response.get("LogResult"):
                try:
                    context["ti"].xcom_push(key=REPORT_XCOM, value=lambda_report(response["LogResult"]))
                except ValueError as missing:  # a tail cut inside the REPORT line: the cost shows no Lambda
                    self.log.warning("no billing figures for this invocation: %s", missing)
            return response

        self.hook.invoke_lambda = invoke_and_keep_report
        return super().execute(context)
