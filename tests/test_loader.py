"""The loader Lambda: deterministic synthetic days, dirty shapes, S3 writes, copy mode and input checks."""

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
from include.loader.synthetic import HEADER, generate_csv, generate_rows, seed_for

LOADER_DIR = Path(__file__).resolve().parents[1] / "include" / "loader"
BUCKET = "test-lake"
DAY = dt.date(2024, 1, 5)


def parse(body: bytes) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert tuple(rows[0]) == HEADER
    return rows[1:]


@pytest.fixture
def s3(monkeypatch):
    monkeypatch.setenv("DATA_LAKE_BUCKET", BUCKET)
    monkeypatch.delenv("SOURCE_URI", raising=False)
    monkeypatch.delenv("ROWS_PER_DAY", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def keys(client, bucket: str, prefix: str) -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))


# ------------------------------------------------------------------------------------------ synthetic data


def test_same_date_gives_the_same_bytes_and_dates_differ():
    assert generate_csv(DAY, 3000) == generate_csv(DAY, 3000)
    assert generate_csv(DAY, 3000) != generate_csv(DAY + dt.timedelta(days=1), 3000)
    # The seed comes from the date string, not hash() (salted per process): a fresh interpreter agrees.
    other = subprocess.run(
        [sys.executable, "-c", "import datetime, synthetic; print(synthetic.seed_for(datetime.date(2024, 1, 5)))"],
        cwd=LOADER_DIR, capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "123"})
    assert int(other.stdout) == seed_for(DAY)


@pytest.mark.parametrize("rows", [0, 1, 2, 7, 1234])
def test_row_count_is_honoured(rows):
    assert len(parse(generate_csv(DAY, rows))) == rows


def test_dirty_shapes_are_present_in_a_plausible_share():
    rows = 20_000
    body = generate_csv(DAY, rows)
    data = parse(body)
    # Counted from the CSV text itself, not from the generator's labels.
    dollar = sum(r[2].startswith("$") for r in data)
    empty_price = sum(r[2] == "" for r in data)
    missing_customer = sum(r[1] == "" for r in data)
    good_stamp = 0
    for r in data:
        try:
            stamp = dt.datetime.strptime(r[4], "%Y-%m-%d %H:%M:%S")
        except ValueError:
            continue
        assert stamp.date() == DAY, r  # every parseable timestamp is within the day
        good_stamp += 1
    bad_stamp = rows - good_stamp
    line_counts = Counter(tuple(r) for r in data)
    extra_copies = sum(n - 1 for n in line_counts.values())
    for name, count, low, high in [
        ("$ price", dollar, 0.01, 0.03),
        ("empty price", empty_price, 0.01, 0.03),
        ("bad timestamp", bad_stamp, 0.01, 0.03),
        ("duplicate", extra_copies, 0.01, 0.03),
        ("missing customer_id", missing_customer, 0.001, 0.01),
    ]:
        assert low * rows <= count <= high * rows, (name, count)
    # The labels the job test relies on agree with the text.
    shapes = Counter(shape for _row, shape in generate_rows(DAY, rows))
    assert (shapes["dollar_price"], shapes["empty_price"], shapes["missing_customer_id"], shapes["duplicate"]) == (
        dollar, empty_price, missing_customer, extra_copies)
    # Duplicates copy clean rows only, so each duplicate is rejected as "duplicate" and nothing else.
    assert all(r[1] and r[2] and not r[2].startswith("$") for r, n in line_counts.items() if n > 1)


def test_distributions_look_like_sales():
    data = [r for r in parse(generate_csv(DAY, 10_000)) if r[1] and r[2]]
    customers = Counter(r[1] for r in data)
    assert len(customers) < len(data) / 2  # repeat customers
    assert customers.most_common(1)[0][1] >= 10
    cards = {}
    for r in data:
        cards.setdefault(r[1], set()).add(r[0])
    assert max(len(c) for c in cards.values()) in (2, 3) and min(len(c) for c in cards.values()) == 1
    assert len({r[0] for r in data}) == sum(len(c) for c in cards.values())  # a card belongs to one customer
    products = Counter(r[3] for r in data)
    ranked = [n for _p, n in products.most_common()]
    assert ranked[0] > 10 * ranked[len(ranked) // 2]  # skewed popularity
    prices = {}
    for r in data:
        prices.setdefault(r[3], set()).add(r[2].lstrip("$"))
    assert all(len(p) == 1 for p in prices.values())  # a price per product
    hours = Counter(int(r[4][11:13]) for r in data if len(r[4]) == 19 and r[4][:10] == DAY.isoformat())
    assert sum(hours[h] for h in range(10, 14)) > 4 * sum(hours[h] for h in range(0, 4))  # daytime heavier


# ------------------------------------------------------------------------------------------ the handler


def test_writes_the_day_through_boto3_and_reruns_overwrite(s3):
    result = handler.lambda_handler({"date": "2024-01-05", "rows": 500}, None)
    key = "raw/sales/dt=2024-01-05/sales.csv"
    assert result == {"date": "2024-01-05", "bucket": BUCKET, "keys": [key], "rows": 500}
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert body == generate_csv(DAY, 500)
    handler.lambda_handler({"date": "2024-01-05", "rows": 500}, None)
    assert keys(s3, BUCKET, "raw/sales/") == [key]
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body


def test_rows_come_from_the_event_then_env_then_default(s3, monkeypatch):
    monkeypatch.setenv("ROWS_PER_DAY", "40")
    assert handler.lambda_handler({"date": "2024-01-05"}, None)["rows"] == 40
    assert handler.lambda_handler({"date": "2024-01-05", "rows": 3}, None)["rows"] == 3
    body = s3.get_object(Bucket=BUCKET, Key="raw/sales/dt=2024-01-05/sales.csv")["Body"].read()
    assert len(parse(body)) == 3
    monkeypatch.delenv("ROWS_PER_DAY")
    assert handler.lambda_handler({"date": "2024-01-05"}, None)["rows"] == 10_000


def test_large_days_use_a_multipart_upload(s3, monkeypatch):
    monkeypatch.setattr(handler, "MULTIPART_ABOVE_BYTES", 1024)
    handler.lambda_handler({"date": "2024-01-05", "rows": 200}, None)
    head = s3.head_object(Bucket=BUCKET, Key="raw/sales/dt=2024-01-05/sales.csv")
    assert "-" in head["ETag"]  # a multipart ETag
    assert s3.get_object(Bucket=BUCKET, Key="raw/sales/dt=2024-01-05/sales.csv")["Body"].read() == generate_csv(
        DAY, 200)


def test_copy_mode_copies_the_day_and_replaces_a_generated_one(s3, monkeypatch):
    s3.create_bucket(Bucket="source")
    s3.put_object(Bucket="source", Key="exports/dt=2024-01-05/part-1.csv", Body=b"a")
    s3.put_object(Bucket="source", Key="exports/dt=2024-01-05/part-2.json", Body=b"b")
    s3.put_object(Bucket="source", Key="exports/dt=2024-01-06/part-1.csv", Body=b"other day")
    handler.lambda_handler({"date": "2024-01-05", "rows": 10}, None)  # a generated day first
    monkeypatch.setenv("SOURCE_URI", "s3://source/exports/")
    result = handler.lambda_handler({"date": "2024-01-05"}, None)
    expected = ["raw/sales/dt=2024-01-05/part-1.csv", "raw/sales/dt=2024-01-05/part-2.json"]
    assert sorted(result["keys"]) == expected
    assert keys(s3, BUCKET, "raw/sales/") == expected  # the generated sales.csv would double the day
    assert s3.get_object(Bucket=BUCKET, Key=expected[1])["Body"].read() == b"b"


def test_copy_mode_fails_clearly_without_source_objects(s3, monkeypatch):
    s3.create_bucket(Bucket="source")
    monkeypatch.setenv("SOURCE_URI", "s3://source/exports")
    with pytest.raises(FileNotFoundError, match=r"s3://source/exports/dt=2024-01-05/"):
        handler.lambda_handler({"date": "2024-01-05"}, None)
    monkeypatch.setenv("SOURCE_URI", "/local/folder/")
    with pytest.raises(ValueError, match="SOURCE_URI"):
        handler.lambda_handler({"date": "2024-01-05"}, None)


@pytest.mark.parametrize("event", [
    {"date": "2024-02-30"}, {"date": "2024/01/05"}, {"date": "20240105"}, {"date": "2024-1-5"}, {"date": 20240105},
    {"date": None}, {}, "2024-01-05", {"date": "2024-01-05", "rows": -1}, {"date": "2024-01-05", "rows": "many"},
    {"date": "2024-01-05", "rows": True}, {"date": "2024-01-05", "rows": 2.5},
])
def test_bad_events_are_rejected_before_writing(s3, event):
    with pytest.raises(ValueError):
        handler.lambda_handler(event, None)
    assert keys(s3, BUCKET, "") == []


def test_bucket_setting_is_required(s3, monkeypatch):
    monkeypatch.delenv("DATA_LAKE_BUCKET")
    with pytest.raises(ValueError, match="DATA_LAKE_BUCKET"):
        handler.lambda_handler({"date": "2024-01-05"}, None)


def test_the_zip_layout_runs_with_the_standard_library_and_boto3(tmp_path):
    # As Lambda runs it: handler.py and synthetic.py at the root, no `include` package importable.
    for name in ("handler.py", "synthetic.py"):
        shutil.copy(LOADER_DIR / name, tmp_path / name)
    code = ("import handler, sys; assert 'include' not in sys.modules; "
            "print(len(handler.generate_csv(handler.parse_date('2024-01-05'), 5).splitlines()))")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env)
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
    assert body == generate_csv(DAY, 20)
