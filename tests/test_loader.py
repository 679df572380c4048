"""The loader Lambda: deterministic synthetic days, dirty-row shares, S3 keys, copy mode and bad input."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from include.loader import handler
from include.loader.synthetic import DUPLICATE_SHARE, HEADER, generate_csv, generate_rows, parse_date, seed_for

LOADER_DIR = Path(__file__).resolve().parents[1] / "include" / "loader"
BUCKET = "test-lake"
SOURCE_BUCKET = "test-source"


@pytest.fixture
def s3(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # moto intercepts; no server
    monkeypatch.delenv("SOURCE_URI", raising=False)
    monkeypatch.delenv("ROWS_PER_DAY", raising=False)
    monkeypatch.setenv("DATA_LAKE_BUCKET", BUCKET)
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        client.create_bucket(Bucket=SOURCE_BUCKET)
        yield client


def keys_under(s3, bucket, prefix):
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))


def test_same_date_same_bytes_and_dates_differ():
    day = dt.date(2024, 1, 5)
    assert generate_csv(day, 3000) == generate_csv(day, 3000)
    assert generate_csv(day, 3000) != generate_csv(dt.date(2024, 1, 6), 3000)
    assert seed_for(day) == seed_for(dt.date(2024, 1, 5)) != seed_for(dt.date(2024, 1, 6))


def test_csv_shape_row_count_and_timestamps_within_the_day():
    day = dt.date(2024, 1, 5)
    for rows in (0, 1, 2, 999):
        records = list(csv.reader(io.StringIO(generate_csv(day, rows).decode())))
        assert tuple(records[0]) == HEADER
        assert len(records) - 1 == rows
    records = list(csv.DictReader(io.StringIO(generate_csv(day, 5000).decode())))
    good_stamps = [r["timestamp"] for r in records if r["timestamp"].startswith("2024-01-05 ")]
    for stamp in good_stamps:
        assert dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").date() == day
    assert len(good_stamps) > 0.95 * len(records)


def test_dirty_shapes_in_plausible_shares():
    rows = list(generate_rows(dt.date(2024, 3, 1), 20_000))
    shares = {shape: count / len(rows) for shape, count in Counter(s for _r, s in rows).items()}
    for shape in ("dollar_price", "empty_price", "bad_timestamp", "duplicate"):
        assert 0.005 <= shares[shape] <= 0.03, (shape, shares[shape])
    assert 0.001 <= shares["missing_customer_id"] < shares["empty_price"]
    by_shape = {}
    for row, shape in rows:
        by_shape.setdefault(shape, []).append(row)
    assert all(r[2].startswith("$") for r in by_shape["dollar_price"])
    assert all(r[2] == "" for r in by_shape["empty_price"])
    assert all(r[1] == "" for r in by_shape["missing_customer_id"])
    seen = Counter(r for r, _s in rows)
    assert all(seen[r] >= 2 for r in by_shape["duplicate"])  # a copy of a row already emitted
    clean = [r for r, s in rows if s == "clean"]
    assert len(set(clean)) == len(clean)  # clean rows never collide by accident


def test_realistic_distributions():
    rows = [r for r, s in generate_rows(dt.date(2024, 3, 1), 20_000) if s == "clean"]
    customers = Counter(r[1] for r in rows)
    top_decile = sum(c for _k, c in customers.most_common(len(customers) // 10))
    assert top_decile > 0.3 * len(rows)  # repeat customers dominate
    products = Counter(r[3] for r in rows)
    assert products.most_common(1)[0][1] > 10 * (len(rows) / len(products))  # skewed popularity
    prices_per_product = {}
    for r in rows:
        prices_per_product.setdefault(r[3], set()).add(r[2])
    assert all(len(p) == 1 for p in prices_per_product.values())  # one price per product
    cards_per_customer = {}
    for r in rows:
        cards_per_customer.setdefault(r[1], set()).add(r[0])
    assert max(len(c) for c in cards_per_customer.values()) > 1
    hours = Counter(int(r[4][11:13]) for r in rows)
    assert sum(hours[h] for h in range(9, 21)) > 2 * sum(hours[h] for h in (*range(0, 6), 22, 23))


def test_handler_writes_the_day_key_and_reruns_overwrite(s3, monkeypatch):
    monkeypatch.setenv("ROWS_PER_DAY", "1500")
    result = handler.lambda_handler({"date": "2024-01-05"}, None)
    key = "raw/sales/dt=2024-01-05/sales.csv"
    assert result == {"date": "2024-01-05", "bucket": BUCKET, "keys": [key], "rows": 1500}
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert body == generate_csv(dt.date(2024, 1, 5), 1500)

    again = handler.lambda_handler({"date": "2024-01-05", "rows": 200}, None)  # event rows win over env
    assert again["rows"] == 200
    assert keys_under(s3, BUCKET, "raw/sales/") == [key]
    assert body != s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert len(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().splitlines()) == 201


def test_handler_default_rows(s3):
    assert handler.lambda_handler({"date": "2024-01-07"}, None)["rows"] == 10_000


def test_large_day_uses_multipart(s3, monkeypatch):
    monkeypatch.setattr(handler, "MULTIPART_ABOVE_BYTES", 5 * 1024 * 1024)
    result = handler.lambda_handler({"date": "2024-01-08", "rows": 120_000}, None)
    head = s3.head_object(Bucket=BUCKET, Key=result["keys"][0])
    assert "-" in head["ETag"]  # multipart ETags end in -<parts>
    body = s3.get_object(Bucket=BUCKET, Key=result["keys"][0])["Body"].read()
    assert body == generate_csv(dt.date(2024, 1, 8), 120_000)


def test_copy_mode_copies_and_removes_stale_objects(s3, monkeypatch):
    handler.lambda_handler({"date": "2024-01-05", "rows": 10}, None)  # leaves a generated sales.csv
    s3.put_object(Bucket=SOURCE_BUCKET, Key="feed/dt=2024-01-05/part-1.csv", Body=b"a")
    s3.put_object(Bucket=SOURCE_BUCKET, Key="feed/dt=2024-01-05/part-2.json", Body=b"b")
    s3.put_object(Bucket=SOURCE_BUCKET, Key="feed/dt=2024-01-06/part-1.csv", Body=b"other day")
    monkeypatch.setenv("SOURCE_URI", f"s3://{SOURCE_BUCKET}/feed")
    result = handler.lambda_handler({"date": "2024-01-05"}, None)
    expected = ["raw/sales/dt=2024-01-05/part-1.csv", "raw/sales/dt=2024-01-05/part-2.json"]
    assert result == {"date": "2024-01-05", "bucket": BUCKET, "keys": expected, "rows": None}
    assert keys_under(s3, BUCKET, "raw/sales/") == expected
    assert s3.get_object(Bucket=BUCKET, Key=expected[1])["Body"].read() == b"b"


def test_copy_mode_fails_clearly_without_source_objects(s3, monkeypatch):
    monkeypatch.setenv("SOURCE_URI", f"s3://{SOURCE_BUCKET}/feed/")
    with pytest.raises(FileNotFoundError, match=r"s3://test-source/feed/dt=2024-01-09/"):
        handler.lambda_handler({"date": "2024-01-09"}, None)
    monkeypatch.setenv("SOURCE_URI", "https://example.com/feed/")
    with pytest.raises(ValueError, match="SOURCE_URI"):
        handler.lambda_handler({"date": "2024-01-09"}, None)


@pytest.mark.parametrize("event", [{}, {"date": "2024-1-5"}, {"date": "2024-02-30"}, {"date": 20240105}, "x"])
def test_bad_date_rejected(s3, event):
    with pytest.raises(ValueError, match="date"):
        handler.lambda_handler(event, None)


@pytest.mark.parametrize("rows", [-1, "many", 1.5, True])
def test_bad_rows_rejected(s3, rows):
    with pytest.raises(ValueError, match="rows"):
        handler.lambda_handler({"date": "2024-01-05", "rows": rows}, None)


def test_missing_bucket_env(s3, monkeypatch):
    monkeypatch.delenv("DATA_LAKE_BUCKET")
    with pytest.raises(ValueError, match="DATA_LAKE_BUCKET"):
        handler.lambda_handler({"date": "2024-01-05"}, None)


def test_parse_date_is_strict():
    assert parse_date("2024-02-29") == dt.date(2024, 2, 29)
    with pytest.raises(ValueError):
        parse_date("20240229")


def test_the_zip_layout_runs_with_the_standard_library_and_boto3(tmp_path):
    # As Lambda runs it: handler.py and synthetic.py at the root, no `include` package importable.
    for name in ("handler.py", "synthetic.py"):
        shutil.copy(LOADER_DIR / name, tmp_path / name)
    code = ("import handler, sys; assert 'include' not in sys.modules; "
            "print(len(handler.generate_csv(handler.parse_date('2024-01-05'), 5).splitlines()))")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "6"


def test_honours_aws_endpoint_url(local_aws, monkeypatch):
    # The Lambda creates a plain boto3.client("s3"): the standard variable must be enough to redirect it.
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_aws.endpoint_url)
    monkeypatch.setenv("DATA_LAKE_BUCKET", "loader-endpoint-test")
    monkeypatch.delenv("SOURCE_URI", raising=False)
    client = boto3.client("s3", endpoint_url=local_aws.endpoint_url, region_name="us-east-1")
    client.create_bucket(Bucket="loader-endpoint-test")
    handler.lambda_handler({"date": "2024-01-05", "rows": 20}, None)
    body = client.get_object(Bucket="loader-endpoint-test", Key="raw/sales/dt=2024-01-05/sales.csv")["Body"].read()
    assert body == generate_csv(dt.date(2024, 1, 5), 20)


def test_a_big_day_is_made_and_only_duplicates_repeat():
    """At a few million rows a frequent customer has more bad timestamps than there are products: the generator
    used to walk the products forever. Every row but the deliberate duplicates stays unique (else the Glue job
    would reject it as a duplicate while the loader meant another reason)."""
    import faulthandler

    faulthandler.dump_traceback_later(120, exit=True)  # a hang shows where, instead of stalling the suite
    try:
        rows = Counter(row for row, shape in generate_rows(dt.date(2021, 12, 3), 3_000_000) if shape != "duplicate")
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert rows.most_common(1)[0][1] == 1
    assert sum(rows.values()) == 3_000_000 - round(3_000_000 * DUPLICATE_SHARE)
