"""What one run of the pipeline cost, from what the run measured, priced from `prices.json` (us-east-1 list prices).

The billing rules (each from the service's pricing page, named in `prices.json` with the date it was read):
- Glue job runs: DPUs x billed seconds. DPUs are NumberOfWorkers x the worker type's DPUs (MaxCapacity for jobs
  without a worker type); the run's own `DPUSeconds` wins where Glue reports it (Flex and auto-scaling runs).
  Billed per second with a 1-minute minimum on Glue 2.0 and later, 10 minutes on 0.9 and 1.0
  (https://aws.amazon.com/glue/pricing/). Failed and stopped runs pay for the time they ran.
- Athena: each query's `DataScannedInBytes` rounded up to the next megabyte, at least 10 MB; DDL statements and
  failed queries are free, cancelled ones pay for what they scanned (https://aws.amazon.com/athena/pricing/).
- Lambda: the REPORT line's `Billed Duration` (duration rounded up to the millisecond) x configured memory in GB,
  plus the request charge (https://aws.amazon.com/lambda/pricing/).
- Step Functions Standard: one transition per state entered, retries included
  (https://aws.amazon.com/step-functions/pricing/).
- Redshift (provisioned, on-demand): the cluster bills per node-hour whether or not anything runs; a run's share
  is node price x nodes x the seconds the run kept it busy (https://aws.amazon.com/redshift/pricing/).

Amounts are `Decimal` US dollars; the summary is JSON-ready (amounts as strings rounded to 1e-6 USD, the total the
sum of the rounded lines).
"""

from __future__ import annotations

import base64
import json
import math
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

PRICES_PATH = Path(__file__).with_name("prices.json")
MB = 1024 * 1024
TB = 1024 ** 4
ATHENA_MINIMUM_BYTES = 10 * MB
# DPUs per worker, from "Defining job properties for Spark jobs" (AWS Glue Developer Guide, Worker type).
WORKER_DPUS = {
    "G.025X": Decimal("0.25"), "G.1X": Decimal(1), "G.2X": Decimal(2), "G.4X": Decimal(4), "G.8X": Decimal(8),
    "G.12X": Decimal(12), "G.16X": Decimal(16), "R.1X": Decimal(1), "R.2X": Decimal(2), "R.4X": Decimal(4),
    "R.8X": Decimal(8), "Z.2X": Decimal(2),
}
_REPORT = re.compile(r"REPORT RequestId: \S+.*?Billed Duration: (\d+) ms.*?Memory Size: (\d+) MB")
_CENT_MICROS = Decimal("0.000001")


class UnpricedUsageError(ValueError):
    """A measured usage the price table or the billing rules do not cover (an unknown worker type, node type)."""


def load_prices(path: Path = PRICES_PATH) -> dict[str, Any]:
    """The price table: {name: {"price": "<USD>", "unit", "page", "date", ...}}."""
    return json.loads(path.read_text())


def _price(prices: dict, name: str) -> Decimal:
    return Decimal(prices[name]["price"])


def glue_minimum_seconds(glue_version: str | None) -> int:
    """Glue's billing minimum for a job run: 60 s on Glue 2.0 and later, 600 s on 0.9 and 1.0 (and a job created
    without a GlueVersion, which AWS runs as 0.9)."""
    if glue_version in (None, "", "0.9", "1.0"):
        return 600
    return 60


def glue_job_run_dpu_seconds(job_run: dict, glue_version: str | None) -> Decimal:
    """Billed DPU-seconds of one GetJobRun `JobRun`: its `DPUSeconds` when present, else DPUs x
    max(ExecutionTime, the version's minimum). ExecutionTime is whole seconds. Raises UnpricedUsageError for a
    worker type without a known DPU size."""
    if job_run.get("DPUSeconds") is not None:
        return Decimal(str(job_run["DPUSeconds"]))
    worker_type = job_run.get("WorkerType")
    if worker_type:
        if worker_type not in WORKER_DPUS:
            raise UnpricedUsageError(f"Glue worker type {worker_type!r} has no known DPU size")
        dpus = WORKER_DPUS[worker_type] * int(job_run.get("NumberOfWorkers") or 0)
    else:
        dpus = Decimal(str(job_run.get("MaxCapacity") or 0))
    seconds = max(int(job_run.get("ExecutionTime") or 0), glue_minimum_seconds(glue_version))
    return dpus * seconds


def athena_billed_bytes(query_execution: dict) -> int:
    """Billed bytes of one GetQueryExecution `QueryExecution`: 0 for DDL and failed queries, else
    DataScannedInBytes rounded up to a whole MB with a 10 MB minimum (cancelled queries included)."""
    state = query_execution["Status"]["State"]
    if query_execution.get("StatementType") == "DDL" or state == "FAILED":
        return 0
    if state not in ("SUCCEEDED", "CANCELLED"):
        raise UnpricedUsageError(f"Athena query {query_execution.get('QueryExecutionId')} is still {state}")
    scanned = int(query_execution.get("Statistics", {}).get("DataScannedInBytes") or 0)
    return max(math.ceil(scanned / MB) * MB, ATHENA_MINIMUM_BYTES)


def lambda_report(log_result: str) -> dict[str, int]:
    """{"billed_ms", "memory_mb"} from an Invoke's base64 `LogResult` (LogType=Tail): its REPORT line.
    Raises ValueError when the tail holds no REPORT line (a tail cut inside it)."""
    text = base64.b64decode(log_result).decode(errors="replace")
    found = _REPORT.search(text)
    if not found:
        raise ValueError("the invocation's log tail has no REPORT line")
    return {"billed_ms": int(found.group(1)), "memory_mb": int(found.group(2))}


def lambda_gb_seconds(billed_ms: int, memory_mb: int) -> Decimal:
    """GB-seconds of one invocation: billed milliseconds x memory (MB / 1024)."""
    return Decimal(billed_ms) / 1000 * Decimal(memory_mb) / 1024


def state_transitions(history_events: list[dict]) -> int:
    """Billed transitions of a Standard execution from its GetExecutionHistory events: one per state entered."""
    return sum(1 for event in history_events if event["type"].endswith("StateEntered"))


def run_cost(usage: dict[str, Any], prices: dict[str, Any] | None = None) -> dict[str, Any]:
    """Price a run's measured usage.

    usage: {"glue_dpu_seconds": Decimal, "athena_billed_bytes": int, "athena_queries": int,
    "lambda_gb_seconds": Decimal, "lambda_requests": int, "state_transitions": int,
    "redshift": {"node_type": str, "nodes": int, "seconds": float}}; missing keys count as zero.
    Returns {"total_usd": str, "lines": [{"item", "quantity", "unit", "usd"}...], "prices": {name: page}}.
    Raises UnpricedUsageError for a Redshift node type the table does not price.
    """
    prices = prices or load_prices()
    dpu_seconds = Decimal(str(usage.get("glue_dpu_seconds", 0)))
    billed_bytes = int(usage.get("athena_billed_bytes", 0))
    gb_seconds = Decimal(str(usage.get("lambda_gb_seconds", 0)))
    requests = int(usage.get("lambda_requests", 0))
    transitions = int(usage.get("state_transitions", 0))
    lines = [
        ("Glue job", dpu_seconds / 3600, "DPU-hours", dpu_seconds / 3600 * _price(prices, "glue_job_dpu_hour")),
        ("Athena", Decimal(billed_bytes) / MB, f"MB billed ({usage.get('athena_queries', 0)} queries)",
         Decimal(billed_bytes) / TB * _price(prices, "athena_per_tb_scanned")),
        ("Lambda duration", gb_seconds, "GB-seconds", gb_seconds * _price(prices, "lambda_gb_second_x86")),
        ("Lambda requests", Decimal(requests), "requests", requests * _price(prices, "lambda_request")),
        ("Step Functions", Decimal(transitions), "state transitions",
         transitions * _price(prices, "stepfunctions_standard_transition")),
    ]
    redshift = usage.get("redshift")
    if redshift:
        node_prices = prices["redshift_node_hour"]
        if redshift["node_type"] not in node_prices:
            raise UnpricedUsageError(f"Redshift node type {redshift['node_type']!r} is not in the price table")
        node_hours = Decimal(redshift["nodes"]) * Decimal(str(redshift["seconds"])) / 3600
        lines.append(("Redshift share", node_hours, f"node-hours ({redshift['node_type']})",
                      node_hours * Decimal(node_prices[redshift["node_type"]]["price"])))
    # The total is the sum of the lines as shown (each rounded to 1e-6 USD), so the record adds up.
    total = sum((usd.quantize(_CENT_MICROS) for *_, usd in lines), Decimal(0))
    return {
        "total_usd": str(total),
        "lines": [{"item": item, "quantity": format(quantity.quantize(_CENT_MICROS).normalize(), "f"), "unit": unit,
                   "usd": str(usd.quantize(_CENT_MICROS))} for item, quantity, unit, usd in lines],
        "region": prices.get("region", "us-east-1"),
    }
