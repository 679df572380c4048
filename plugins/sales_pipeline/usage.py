"""What one run used, read back from the services that ran it (the input of `sales_pipeline.cost.run_cost`).

Each figure comes from the service's own record of the work: GetJobRun (ExecutionTime, WorkerType,
NumberOfWorkers, DPUSeconds), GetQueryExecution (Statistics.DataScannedInBytes, StatementType, Status),
GetExecutionHistory (the states entered), the loader invocation's REPORT line, DescribeClusters (node type and
count). `session` is a boto3 Session (an Airflow AwsBaseHook's `get_session()` carries the endpoint too).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sales_pipeline.cost import athena_billed_bytes, glue_job_run_dpu_seconds, lambda_gb_seconds, state_transitions


def glue_usage(glue, job_name: str, run_ids: list[str]) -> Decimal:
    """Billed DPU-seconds of the job's runs."""
    if not run_ids:
        return Decimal(0)
    version = glue.get_job(JobName=job_name)["Job"].get("GlueVersion")
    return sum((glue_job_run_dpu_seconds(glue.get_job_run(JobName=job_name, RunId=run_id)["JobRun"],
                                         version) for run_id in run_ids), Decimal(0))


def athena_usage(athena, query_ids: list[str]) -> tuple[int, int]:
    """(billed bytes, billed queries) of the queries; BatchGetQueryExecution takes 50 ids a call."""
    billed, count = 0, 0
    for start in range(0, len(query_ids), 50):
        found = athena.batch_get_query_execution(QueryExecutionIds=query_ids[start:start + 50])
        for execution in found["QueryExecutions"]:
            bytes_ = athena_billed_bytes(execution)
            billed += bytes_
            count += 1 if bytes_ else 0
    return billed, count


def transitions_usage(sfn, execution_arns: list[str]) -> int:
    """State transitions of the executions (every page of each history)."""
    total = 0
    paginator = sfn.get_paginator("get_execution_history")
    for arn in execution_arns:
        for page in paginator.paginate(executionArn=arn):
            total += state_transitions(page["events"])
    return total


def busy_seconds(sfn, execution_arns: list[str], state_machine_arn: str) -> float:
    """Seconds the executions of one state machine ran (DescribeExecution startDate to stopDate, summed): for the
    RedshiftQuery machine, the time the run kept the cluster busy. A running execution counts up to now."""
    total = 0.0
    for arn in execution_arns:
        execution = sfn.describe_execution(executionArn=arn)
        if execution["stateMachineArn"] != state_machine_arn:
            continue
        stop = execution.get("stopDate") or datetime.now(execution["startDate"].tzinfo)
        total += (stop - execution["startDate"]).total_seconds()
    return total


def measure_run(client, *, job_name: str, job_run_ids: list[str], query_ids: list[str],
                execution_arns: list[str], lambda_reports: list[dict], cluster_id: str,
                redshift_state_machine_arn: str) -> dict[str, Any]:
    """The usage dict `run_cost` prices. The cluster's share is the time the run's RedshiftQuery executions ran
    (the cluster bills around the clock; this is the part of it the run used)."""
    sfn = client("stepfunctions")
    billed_bytes, queries = athena_usage(client("athena"), query_ids)
    cluster = client("redshift").describe_clusters(ClusterIdentifier=cluster_id)["Clusters"][0]
    return {
        "glue_dpu_seconds": glue_usage(client("glue"), job_name, job_run_ids),
        "athena_billed_bytes": billed_bytes,
        "athena_queries": queries,
        "lambda_gb_seconds": sum((lambda_gb_seconds(r["billed_ms"], r["memory_mb"]) for r in lambda_reports),
                                 Decimal(0)),
        "lambda_requests": len(lambda_reports),
        "state_transitions": transitions_usage(sfn, execution_arns),
        "redshift": {"node_type": cluster["NodeType"], "nodes": int(cluster.get("NumberOfNodes") or 1),
                     "seconds": round(busy_seconds(sfn, execution_arns, redshift_state_machine_arn), 3)},
    }
