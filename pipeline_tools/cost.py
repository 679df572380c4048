"""The run's cost as `make run` prints it, from the record the daily DAG's `validate.run_cost` task leaves in the
lake (`quality/sales/dt=<day>/cost.json`; the pricing itself is `sales_pipeline.cost`, which the DAG imports on
every platform)."""

from __future__ import annotations

import json

import boto3

COST_KEY = "quality/sales/dt={day}/cost.json"


def read_cost_record(endpoint_url: str, bucket: str, day: str) -> dict | None:
    """The day's cost record, or None when the run left none (the state machine DAG does not price itself)."""
    s3 = boto3.client("s3", endpoint_url=endpoint_url)
    try:
        body = s3.get_object(Bucket=bucket, Key=COST_KEY.format(day=day))["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return json.loads(body)


def cost_lines(record: dict) -> list[str]:
    """The record as aligned text lines: one per priced item, then the total (USD, us-east-1 list prices)."""
    cost = record["cost"]
    rows = [(line["item"], f"{line['quantity']} {line['unit']}", f"${line['usd']}") for line in cost["lines"]]
    rows.append((f"total ({cost['region']} list prices)", "", f"${cost['total_usd']}"))
    width = [max(len(row[i]) for row in rows) for i in range(3)]
    return [f"  {a:<{width[0]}}  {b:<{width[1]}}  {c:>{width[2]}}" for a, b, c in rows]
