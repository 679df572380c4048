"""The run's summary table and a chart of daily revenue, from the quality records the DAG leaves in the lake."""

from __future__ import annotations

import json
from pathlib import Path

import boto3

QUALITY_PREFIX = "quality/sales/"


def _s3(endpoint_url: str):
    return boto3.client("s3", endpoint_url=endpoint_url)


def quality_records(endpoint_url: str, bucket: str) -> list[dict]:
    """Every day's reconciliation record, sorted by date."""
    s3 = _s3(endpoint_url)
    records = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=QUALITY_PREFIX):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith("/reconciliation.json"):
                records.append(json.loads(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()))
    return sorted(records, key=lambda r: r["date"])


def print_summary(endpoint_url: str, outputs: dict, day: str) -> dict:
    bucket = outputs["DataLakeBucket"]
    key = f"{QUALITY_PREFIX}dt={day}/reconciliation.json"
    record = json.loads(_s3(endpoint_url).get_object(Bucket=bucket, Key=key)["Body"].read())
    rows = [
        ("raw rows", record["raw_rows"]),
        ("processed rows", record["processed_rows"]),
        ("rejected rows", record["rejected_rows"]),
        *((f"  rejected: {reason}", n) for reason, n in sorted(record["rejected_by_reason"].items())),
        ("revenue (Athena)", record["revenue_athena"]),
        ("revenue (Redshift)", record["revenue_redshift"]),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"\nsummary for {day}")
    for name, value in rows:
        print(f"  {name:<{width}}  {value:>14}")
    return record


def write_revenue_chart(endpoint_url: str, outputs: dict, path: Path) -> Path:
    """A bar chart of daily revenue (Redshift) for every day present in the lake."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = quality_records(endpoint_url, outputs["DataLakeBucket"])
    days = [r["date"] for r in records]
    revenue = [float(r["revenue_redshift"]) for r in records]
    fig, ax = plt.subplots(figsize=(max(6, len(days) * 0.6), 4))
    ax.bar(days, revenue, color="#3b7dd8")
    ax.set_title("Daily sales revenue")
    ax.set_ylabel("revenue")
    ax.tick_params(axis="x", labelrotation=45)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
