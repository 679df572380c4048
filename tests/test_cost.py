"""The billing rules of `sales_pipeline.cost` on their edge cases (minimums, rounding), each from its pricing page,
and the price table's provenance."""

from __future__ import annotations

import base64
import sys
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from sales_pipeline import cost  # noqa: E402
from sales_pipeline.cost import (  # noqa: E402
    MB,
    UnpricedUsageError,
    athena_billed_bytes,
    glue_job_run_dpu_seconds,
    lambda_gb_seconds,
    lambda_report,
    run_cost,
    state_transitions,
)

PRICES = cost.load_prices()


def test_every_price_names_its_page_date_and_whether_it_was_confirmed():
    entries = [v for k, v in PRICES.items() if isinstance(v, dict) and k != "redshift_node_hour"]
    entries += list(PRICES["redshift_node_hour"].values())
    assert len(entries) == 6
    for entry in entries:
        assert entry["page"].startswith("https://aws.amazon.com/") and entry["page"].endswith("/pricing/")
        assert entry["date"] and entry["confirmed"] and Decimal(entry["price"]) > 0


# AWS Glue pricing (https://aws.amazon.com/glue/pricing/): per second, 1-minute minimum on Glue 2.0+,
# 10-minute minimum on 0.9/1.0; DPUs per worker from "Defining job properties for Spark jobs" (Worker type).
@pytest.mark.parametrize(("execution_time", "version", "expected"), [
    (1, "5.0", 2 * 60),        # under a minute bills the minute
    (60, "5.0", 2 * 60),       # exactly the minimum
    (61, "5.0", 2 * 61),       # per second past it
    (0, "5.0", 2 * 60),        # a run that failed at once still bills the minimum
    (61, "1.0", 2 * 600),      # Glue 1.0: ten minutes
    (61, None, 2 * 600),       # no GlueVersion is 0.9
])
def test_glue_minimums_and_per_second_billing(execution_time, version, expected):
    run = {"WorkerType": "G.1X", "NumberOfWorkers": 2, "ExecutionTime": execution_time}
    assert glue_job_run_dpu_seconds(run, version) == expected


def test_glue_worker_types_and_reported_dpu_seconds():
    assert glue_job_run_dpu_seconds({"WorkerType": "G.025X", "NumberOfWorkers": 2, "ExecutionTime": 100},
                                    "5.0") == Decimal("50")
    assert glue_job_run_dpu_seconds({"WorkerType": "G.2X", "NumberOfWorkers": 10, "ExecutionTime": 90},
                                    "5.0") == 1800
    # Flex and auto-scaling runs report what they used: that is what is billed
    assert glue_job_run_dpu_seconds({"WorkerType": "G.1X", "NumberOfWorkers": 10, "ExecutionTime": 90,
                                     "DPUSeconds": 123.5}, "5.0") == Decimal("123.5")
    assert glue_job_run_dpu_seconds({"MaxCapacity": 0.0625, "ExecutionTime": 30}, "3.0") == Decimal("3.75")
    with pytest.raises(UnpricedUsageError, match="X.9X"):
        glue_job_run_dpu_seconds({"WorkerType": "X.9X", "NumberOfWorkers": 1, "ExecutionTime": 1}, "5.0")


def _query(scanned, state="SUCCEEDED", statement="DML"):
    return {"QueryExecutionId": "q", "StatementType": statement, "Status": {"State": state},
            "Statistics": {"DataScannedInBytes": scanned}}


# Amazon Athena pricing (https://aws.amazon.com/athena/pricing/): bytes scanned rounded up to the nearest MB,
# 10 MB minimum per query; no charge for DDL or failed queries; cancelled queries pay for what they scanned.
@pytest.mark.parametrize(("query", "billed"), [
    (_query(0), 10 * MB),                      # an empty scan bills the minimum
    (_query(1), 10 * MB),
    (_query(10 * MB), 10 * MB),                # exactly the minimum
    (_query(10 * MB + 1), 11 * MB),            # one byte over rounds up a whole MB
    (_query(25 * MB - 1), 25 * MB),
    (_query(5 * MB, state="CANCELLED"), 10 * MB),
    (_query(5 * MB, state="FAILED"), 0),
    (_query(0, statement="DDL"), 0),
])
def test_athena_rounding_and_minimum(query, billed):
    assert athena_billed_bytes(query) == billed


def test_athena_refuses_to_price_a_running_query():
    with pytest.raises(UnpricedUsageError, match="RUNNING"):
        athena_billed_bytes(_query(0, state="RUNNING"))


# AWS Lambda pricing (https://aws.amazon.com/lambda/pricing/): duration rounded up to the nearest 1 ms (the REPORT
# line's Billed Duration) x memory in GB, plus $0.20 per 1M requests.
def test_lambda_report_and_gb_seconds():
    tail = ("START RequestId: abc Version: $LATEST\nEND RequestId: abc\nREPORT RequestId: abc\tDuration: 1000.20 ms"
            "\tBilled Duration: 1001 ms\tMemory Size: 2048 MB\tMax Memory Used: 90 MB\n")
    report = lambda_report(base64.b64encode(tail.encode()).decode())
    assert report == {"billed_ms": 1001, "memory_mb": 2048}
    assert lambda_gb_seconds(**report) == Decimal("2.002")
    assert lambda_gb_seconds(1, 128) == Decimal("0.000125")
    with pytest.raises(ValueError, match="REPORT"):
        lambda_report(base64.b64encode(b"END RequestId: abc\nREPORT Reque").decode())


# AWS Step Functions pricing (https://aws.amazon.com/step-functions/pricing/): Standard workflows bill each state
# transition; a retried state is entered again and counts again.
def test_state_transitions_count_states_entered():
    history = [{"type": "ExecutionStarted"}, {"type": "TaskStateEntered"}, {"type": "TaskScheduled"},
               {"type": "TaskStateExited"}, {"type": "WaitStateEntered"}, {"type": "WaitStateExited"},
               {"type": "ChoiceStateEntered"}, {"type": "TaskStateEntered"}, {"type": "SucceedStateEntered"},
               {"type": "ExecutionSucceeded"}]
    assert state_transitions(history) == 5


def test_run_cost_prices_each_line_and_totals():
    usage = {"glue_dpu_seconds": Decimal(3600), "athena_billed_bytes": 1024 ** 4, "athena_queries": 4,
             "lambda_gb_seconds": Decimal(1_000_000), "lambda_requests": 1_000_000, "state_transitions": 1000,
             "redshift": {"node_type": "ra3.large", "nodes": 2, "seconds": 1800}}
    priced = run_cost(usage, PRICES)
    usd = {line["item"]: Decimal(line["usd"]) for line in priced["lines"]}
    assert usd == {"Glue job": Decimal("0.44"), "Athena": Decimal("5"), "Lambda duration": Decimal("16.6667"),
                   "Lambda requests": Decimal("0.2"), "Step Functions": Decimal("0.025"),
                   "Redshift share": Decimal("0.543")}
    assert Decimal(priced["total_usd"]) == sum(usd.values())
    with pytest.raises(UnpricedUsageError, match="dc2.large"):
        run_cost({"redshift": {"node_type": "dc2.large", "nodes": 1, "seconds": 1}}, PRICES)


def test_the_total_is_the_sum_of_the_lines_as_shown():
    usage = {"glue_dpu_seconds": Decimal(136), "athena_billed_bytes": 3 * 10 * MB, "lambda_gb_seconds":
             Decimal("6.062"), "lambda_requests": 1, "state_transitions": 79,
             "redshift": {"node_type": "ra3.large", "nodes": 1, "seconds": 5.69}}
    priced = run_cost(usage, PRICES)
    assert Decimal(priced["total_usd"]) == sum(Decimal(line["usd"]) for line in priced["lines"])
