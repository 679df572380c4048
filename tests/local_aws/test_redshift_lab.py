"""The original lab's Redshift steps (tests/data/lab_statements.sql) through the Data API, checked against pandas
over the same Parquet, and RedshiftDataOperator against the local Redshift in `airflow dags test`."""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import jinja2
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS), str(Path(__file__).parent)]  # tests/ and this folder
from redshift_support import Warehouse  # noqa: E402
from sql_context import template_context  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/sforchlab/sforchlab-RedshiftExecutionRole"


def lab_frame(day: int, rows: int) -> pd.DataFrame:
    """The lab's processed sales: price as text, some of it empty (the view filters price != '')."""
    start = pd.Timestamp(2021, 12, day)
    return pd.DataFrame({
        "card_id": [day * 10_000 + i for i in range(rows)],
        "customer_id": [i % 13 for i in range(rows)],
        "price": ["" if i % 9 == 4 else f"{(i * 53 + day) % 300}.{(i * 7) % 100:02d}" for i in range(rows)],
        "product_id": [i % 6 for i in range(rows)],
        "timestamp": [start + pd.Timedelta(minutes=23 * i) for i in range(rows)],
    })


@pytest.fixture(scope="module")
def lab(local_aws):
    wh = Warehouse(local_aws, iam_roles=(ROLE,))  # COPY/UNLOAD act as the lab role, associated (issue 15)
    bucket = f"lab-{uuid.uuid4().hex[:10]}"
    s3 = wh.client("s3")
    s3.create_bucket(Bucket=bucket)
    frames = []
    for day, rows in ((1, 60), (2, 45), (15, 70)):
        frame = lab_frame(day, rows)
        frames.append(frame)
        sink = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
        s3.put_object(Bucket=bucket, Key=f"processed/sales/year=2021/month=12/day={day}/part-0000.snappy.parquet",
                      Body=sink.getvalue())
    # another month: outside the lab's COPY prefix
    other = lab_frame(3, 10).assign(timestamp=lambda f: f["timestamp"] - pd.Timedelta(days=32))
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(other, preserve_index=False), sink)
    s3.put_object(Bucket=bucket, Key="processed/sales/year=2021/month=11/day=1/part-0000.parquet", Body=sink.getvalue())
    context = template_context("2021-12-01")
    context["var"]["json"]["sales_pipeline"].update(DataLakeBucket=bucket, RedshiftRoleArn=ROLE)
    sql = jinja2.Template((TESTS / "data" / "lab_statements.sql").read_text(), undefined=jinja2.StrictUndefined)
    # the file holds one statement per line, after its comment header
    statements = [line.strip().rstrip(";") for line in sql.render(context).splitlines()
                  if line.strip() and not line.startswith("--")]
    return wh, bucket, s3, pd.concat(frames, ignore_index=True), statements


def test_lab_statements_give_the_pandas_numbers(lab):
    wh, bucket, s3, sales, statements = lab
    drop_create, copy, view, unload = "; ".join(statements[:2]), statements[2], statements[3], statements[4]
    for step in (drop_create, copy, view):  # one ExecuteStatement per lab state, as the state machine ran them
        described = wh.run(step)
        assert described["Status"] == "FINISHED", described.get("Error")
    assert wh.run(copy)["ResultRows"] == len(sales)  # COPY appends: the table now holds the days twice
    assert wh.run(drop_create)["Status"] == "FINISHED"  # DROP ... CASCADE drops the view too; start again
    for step in (copy, view):
        described = wh.run(step)
        assert described["Status"] == "FINISHED", described.get("Error")

    priced = sales[sales["price"] != ""]
    expected = (priced.assign(day=priced["timestamp"].dt.date, amount=priced["price"].map(Decimal))
                .groupby("day")["amount"].sum().sort_index())
    rows = wh.rows("select * from daily_sales_revenue")
    assert [(dt.date.fromisoformat(day), Decimal(revenue)) for revenue, day in rows] == list(expected.items())

    described = wh.run(unload)
    assert described["Status"] == "FINISHED", described.get("Error")
    assert described["ResultRows"] == len(expected)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="aggregated/")["Contents"]]
    assert keys == ["aggregated/daily_sales_revenue/0000_part_00.parquet"]
    body = s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read()
    exported = pq.read_table(io.BytesIO(body)).to_pandas()
    assert list(exported.columns) == ["daily_sales_revenue", "day"]
    assert dict(zip(exported["day"], exported["daily_sales_revenue"], strict=True)) == dict(expected.items())
    again = wh.run(unload)  # no ALLOWOVERWRITE in the lab: a second run fails as on Redshift
    assert again["Status"] == "FAILED" and "ALLOWOVERWRITE" in again["Error"]


REDSHIFT_DAG = '''
from datetime import datetime

from airflow.providers.amazon.aws.operators.redshift_data import RedshiftDataOperator
from airflow.sdk import DAG, chain

TARGET = dict(cluster_identifier="{cluster}", database="dev", db_user="admin", poll_interval=1)

with DAG(dag_id="local_redshift_ok", start_date=datetime(2021, 12, 1), schedule=None, catchup=False):
    chain(
        RedshiftDataOperator(task_id="create", sql="create table if not exists airflow_days (day date)", **TARGET),
        RedshiftDataOperator(
            task_id="reload",
            sql=[
                "delete from airflow_days where day = '{{{{ ds }}}}'",
                "insert into airflow_days values ('{{{{ ds }}}}')",
            ],
            **TARGET,
        ),
        RedshiftDataOperator(
            task_id="count_deferred", sql="select count(*) from airflow_days", deferrable=True, **TARGET
        ),
    )

with DAG(dag_id="local_redshift_bad", start_date=datetime(2021, 12, 1), schedule=None, catchup=False):
    RedshiftDataOperator(task_id="bad", sql="select * from no_such_table", **TARGET)

with DAG(dag_id="local_redshift_bad_deferred", start_date=datetime(2021, 12, 1), schedule=None, catchup=False):
    RedshiftDataOperator(task_id="bad_deferred", sql="select missing_column from airflow_days", deferrable=True,
                         **TARGET)
'''


@pytest.mark.e2e
def test_redshift_data_operator_in_airflow_dags_test(local_aws, tmp_path):
    aws = local_aws
    from tiny_airflow import TinyAirflow

    wh = Warehouse(aws)
    airflow = TinyAirflow(tmp_path, aws.endpoint_url, "local_redshift_dags.py",
                          REDSHIFT_DAG.format(cluster=wh.cluster), AIRFLOW_CONN_AWS_DEFAULT=json.dumps(
                              {"conn_type": "aws", "extra": {"endpoint_url": aws.endpoint_url,
                                                             "region_name": "us-east-1"}}))

    def dags_test(dag_id: str) -> tuple[dict[str, str], str]:
        _, states, output = airflow.dags_test(dag_id)
        return states, output

    for _ in range(2):  # the delete + insert batch makes the day idempotent
        states, output = dags_test("local_redshift_ok")
        assert states == dict.fromkeys(["create", "reload", "count_deferred"], "success"), output[-6000:]
    assert wh.rows("select count(*), min(day) from airflow_days") == [[1, "2021-12-01"]]
    states, output = dags_test("local_redshift_bad")
    assert states == {"bad": "failed"}, output[-6000:]
    assert 'ERROR: relation "no_such_table" does not exist' in output
    states, output = dags_test("local_redshift_bad_deferred")
    assert states == {"bad_deferred": "failed"}, output[-6000:]
    assert 'column "missing_column" does not exist' in output
