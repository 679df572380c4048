"""Loader Lambda: puts one day of raw sales at s3://$DATA_LAKE_BUCKET/raw/sales/dt=YYYY-MM-DD/.

Event: {"date": "YYYY-MM-DD", "rows": N (optional)}. Environment: DATA_LAKE_BUCKET, ROWS_PER_DAY (default
10000), SOURCE_URI (optional s3://bucket/prefix/). Without SOURCE_URI it generates a deterministic synthetic
day (sales.csv); with it, it copies every object under <SOURCE_URI>dt=<date>/. Either way the day's raw
folder ends up holding exactly this run's objects, so a re-run replaces rather than adds.
Returns {"date", "bucket", "keys", "rows"} ("rows" is None in copy mode: the objects are not read).
Standard library + boto3 only: the Lambda is zipped without dependencies.
"""

from __future__ import annotations

import io
import logging
import os
from urllib.parse import urlparse

import boto3
from boto3.s3.transfer import TransferConfig

try:  # Package import (tests, tools) or flat import (handler.py and synthetic.py at the zip root).
    from include.loader.synthetic import generate_csv, parse_date
except ImportError:
    from synthetic import generate_csv, parse_date

logger = logging.getLogger()
logger.setLevel(logging.INFO)

RAW_PREFIX = "raw/sales/"
DEFAULT_ROWS_PER_DAY = 10_000
MULTIPART_ABOVE_BYTES = 50 * 1024 * 1024


def _rows_requested(event: dict) -> int:
    value = event.get("rows")
    source = "event rows"
    if value is None:
        value, source = os.environ.get("ROWS_PER_DAY", DEFAULT_ROWS_PER_DAY), "ROWS_PER_DAY"
    try:
        rows = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{source} must be a non-negative integer, got {value!r}") from None
    if isinstance(value, bool) or rows < 0 or (isinstance(value, float) and value != rows):
        raise ValueError(f"{source} must be a non-negative integer, got {value!r}")
    return rows


def _parse_source_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"SOURCE_URI must look like s3://bucket/prefix/, got {uri!r}")
    prefix = parsed.path.lstrip("/")
    return parsed.netloc, prefix.rstrip("/") + "/" if prefix else ""


def _list_keys(s3, bucket: str, prefix: str) -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []) if not item["Key"].endswith("/"))
    return keys


def _upload(s3, bucket: str, key: str, body: bytes) -> None:
    if len(body) > MULTIPART_ABOVE_BYTES:
        config = TransferConfig(multipart_threshold=MULTIPART_ABOVE_BYTES, multipart_chunksize=16 * 1024 * 1024)
        s3.upload_fileobj(io.BytesIO(body), bucket, key, ExtraArgs={"ContentType": "text/csv"}, Config=config)
    else:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/csv")


def _copy_day(s3, source_uri: str, date: str, bucket: str, target_prefix: str) -> list[str]:
    source_bucket, source_prefix = _parse_source_uri(source_uri)
    day_prefix = f"{source_prefix}dt={date}/"
    source_keys = _list_keys(s3, source_bucket, day_prefix)
    if not source_keys:
        raise FileNotFoundError(f"no source objects for {date} under s3://{source_bucket}/{day_prefix}")
    written = []
    for source_key in source_keys:
        target_key = target_prefix + source_key[len(day_prefix):]
        # Managed copy: a single CopyObject for small objects, multipart copy above 5 GB.
        s3.copy({"Bucket": source_bucket, "Key": source_key}, bucket, target_key)
        written.append(target_key)
    return written


def lambda_handler(event, context):
    if not isinstance(event, dict):
        raise ValueError(f"event must be an object with a 'date', got {type(event).__name__}")
    day = parse_date(event.get("date"))
    date = day.isoformat()
    bucket = os.environ.get("DATA_LAKE_BUCKET")
    if not bucket:
        raise ValueError("DATA_LAKE_BUCKET environment variable is not set")
    target_prefix = f"{RAW_PREFIX}dt={date}/"
    s3 = boto3.client("s3")  # honours AWS_ENDPOINT_URL on its own

    source_uri = os.environ.get("SOURCE_URI", "").strip()
    if source_uri:
        keys, rows = _copy_day(s3, source_uri, date, bucket, target_prefix), None
    else:
        rows = _rows_requested(event)
        key = f"{target_prefix}sales.csv"
        _upload(s3, bucket, key, generate_csv(day, rows))
        keys = [key]

    # Objects left by an earlier run of this date in another mode would be read as extra input: remove them.
    stale = [key for key in _list_keys(s3, bucket, target_prefix) if key not in keys]
    for start in range(0, len(stale), 1000):
        s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": key} for key in stale[start : start + 1000]], "Quiet": True}
        )
    logger.info("loaded %s: %s rows into s3://%s/%s (%d stale removed)", date, rows, bucket, keys, len(stale))
    return {"date": date, "bucket": bucket, "keys": keys, "rows": rows}
