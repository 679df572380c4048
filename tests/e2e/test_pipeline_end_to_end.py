"""The main job end to end: real Airflow runs of both DAGs against the local AWS, checked against the lake.

Each scenario deploys its own copy of the stack (its own ProjectName and Glue database) into one local AWS,
so "in order", "reverse order" and "state machine" can be compared side by side; the three are built at once.
"""

from __future__ import annotations

import io
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import boto3
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline_tools.airflow_env import AIRFLOW, REPO, airflow_env, migrate

pytestmark = pytest.mark.e2e

# Two days are enough to show the order of runs does not matter (a third cost ~100 s of the suite, no new case).
DAYS = ["2021-12-01", "2021-12-02"]
ROWS = 1500


class Stack:
    """One deployed copy of the pipeline with its own Airflow home."""

    def __init__(self, endpoint_url: str, name: str, tmp: Path):
        from pipeline_tools.deploy import deploy_local

        self.endpoint_url = endpoint_url
        self.outputs = deploy_local(endpoint_url, REPO, stack_name=name,
                                    parameters={"ProjectName": name, "GlueDatabaseName": f"{name}_sales"})
        self.home = tmp / name / "airflow"
        self.env = airflow_env(self.home, endpoint_url, self.outputs)
        migrate(self.env)
        self.s3 = boto3.client("s3", endpoint_url=endpoint_url)
        self.rsd = boto3.client("redshift-data", endpoint_url=endpoint_url)
        self.bucket = self.outputs["DataLakeBucket"]

    def run(self, dag_id: str, day: str, rows: int = ROWS) -> None:
        # Each run of a day gets its own run id, as a re-run triggered by hand would.
        result = subprocess.run(
            [AIRFLOW, "dags", "test", dag_id, day, "-c", json.dumps({"rows": rows})],
            env=self.env, capture_output=True, text=True, timeout=900,
        )
        # `airflow dags test` exits non-zero when the run fails.
        assert result.returncode == 0, f"{dag_id} {day}:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"

    def keys(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def parquet_rows(self, prefix: str) -> list[tuple]:
        """Every row of the Parquet files under prefix, sorted, keyed by their file's folder."""
        rows = []
        for key in self.keys(prefix):
            if key.endswith(".parquet") or "/part-" in key or key.rsplit("/", 1)[-1].startswith("0"):
                folder = key.rsplit("/", 1)[0].removeprefix(prefix)
                table = pq.read_table(io.BytesIO(self.read(key)))
                rows += [(folder, *r.values()) for r in table.to_pylist()]
        return sorted(rows, key=repr)

    def redshift(self, sql: str) -> list[list]:
        o = self.outputs
        statement = self.rsd.execute_statement(ClusterIdentifier=o["RedshiftClusterId"],
                                               Database=o["RedshiftDatabaseName"],
                                               SecretArn=o["RedshiftSecretArn"], Sql=sql)
        waiter_status = None
        for _ in range(600):
            waiter_status = self.rsd.describe_statement(Id=statement["Id"])
            if waiter_status["Status"] in ("FINISHED", "FAILED", "ABORTED"):
                break
        assert waiter_status["Status"] == "FINISHED", waiter_status.get("Error")
        result = self.rsd.get_statement_result(Id=statement["Id"])
        return [[next(iter(f.values())) if not f.get("isNull") else None for f in rec] for rec in result["Records"]]

    def snapshot(self) -> dict:
        """Everything a run leaves behind that must not depend on run order or repetition."""
        return {
            "warehouse": self.redshift(
                'select card_id, customer_id, price, product_id, "timestamp" from public.sales '
                'order by "timestamp", card_id, customer_id, price, product_id'),
            "daily_revenue": self.redshift("select * from public.daily_sales_revenue order by 1"),
            "processed": self.parquet_rows("processed/sales/"),
            "aggregated_keys": [k.split("/", 2)[-1] for k in self.keys("aggregated/daily_sales_revenue/")],
            "aggregated": self.parquet_rows("aggregated/daily_sales_revenue/"),
            "rejected": self.parquet_rows("rejected/sales/"),
        }

    def quality(self, day: str) -> dict:
        return json.loads(self.read(f"quality/sales/dt={day}/reconciliation.json"))


def expected_day(raw_csv: bytes, day: str) -> tuple[int, int, Decimal]:
    """An independent reading of the cleansing rules in pandas: (raw rows, clean rows, revenue)."""
    raw = pd.read_csv(io.BytesIO(raw_csv), dtype=str, keep_default_na=False)
    raw = raw.apply(lambda col: col.str.strip())

    def price(value: str) -> Decimal | None:
        try:
            p = Decimal(value.replace("$", ""))
        except InvalidOperation:
            return None
        return p if p >= 0 else None

    def stamp(value: str) -> datetime | None:
        try:
            return datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return None

    deduped = raw.drop_duplicates()
    ok = (
        deduped.card_id.str.fullmatch(r"-?\d+") & deduped.customer_id.str.fullmatch(r"-?\d+")
        & deduped.price.map(lambda v: price(v) is not None)
        & deduped.timestamp.map(lambda v: (s := stamp(v)) is not None and s.date().isoformat() == day)
    )
    clean = deduped[ok]
    revenue = sum((price(v) for v in clean.price), Decimal(0))
    return len(raw), len(clean), revenue.quantize(Decimal("0.01"))


# Each scenario: the DAG and the days it runs, in that order.
SCENARIOS = {"ordered": ("sales_pipeline_daily", DAYS),
             "reversed": ("sales_pipeline_daily", DAYS[::-1]),
             "machine": ("sales_pipeline_state_machine", DAYS[:1])}


@pytest.fixture(scope="module")
def stacks(local_aws, tmp_path_factory) -> dict[str, Stack]:
    """Every scenario's stack, its days run. The scenarios run at once (separate stacks in one account, as
    separate deployments would be): a scenario's own days still run one after another."""
    tmp = tmp_path_factory.mktemp("e2e")
    built = {name: Stack(local_aws.endpoint_url, name, tmp) for name in SCENARIOS}

    def run_days(name: str) -> None:
        dag_id, days = SCENARIOS[name]
        for day in days:
            built[name].run(dag_id, day)

    with ThreadPoolExecutor(len(SCENARIOS)) as pool:
        for done in [pool.submit(run_days, name) for name in SCENARIOS]:
            done.result()  # a scenario's failure fails the module, with its run's output
    return built


@pytest.fixture(scope="module")
def in_order(stacks) -> Stack:
    return stacks["ordered"]


def test_one_day_reconciles_with_an_independent_computation(in_order):
    day = DAYS[0]
    raw_keys = in_order.keys(f"raw/sales/dt={day}/")
    assert raw_keys
    raw_rows, clean_rows, revenue = expected_day(b"".join(in_order.read(k) for k in raw_keys[:1]), day)
    quality = in_order.quality(day)
    assert quality["raw_rows"] == raw_rows == ROWS
    assert quality["processed_rows"] == clean_rows
    assert quality["raw_rows"] == quality["processed_rows"] + quality["rejected_rows"]
    assert Decimal(quality["revenue_athena"]) == Decimal(quality["revenue_redshift"]) == revenue
    warehouse_rows, warehouse_revenue = in_order.redshift(
        f"select count(*), sum(price) from public.sales where trunc(\"timestamp\") = '{day}'")[0]
    assert int(warehouse_rows) == clean_rows
    assert Decimal(str(warehouse_revenue)).quantize(Decimal("0.01")) == revenue


def test_rerunning_a_day_three_times_changes_nothing(in_order):
    before = in_order.snapshot()
    for _ in range(2):
        in_order.run("sales_pipeline_daily", DAYS[0])
    assert in_order.snapshot() == before


def test_reverse_order_gives_the_same_tables(in_order, stacks):
    reverse = stacks["reversed"]
    assert reverse.snapshot() == in_order.snapshot()
    # Spectrum: the late-binding view spans every loaded day.
    days = reverse.redshift('select distinct trunc("timestamp") from public.sales_all_days order by 1')
    assert [str(d[0])[:10] for d in days] == DAYS


def test_state_machine_dag_gives_the_same_results(in_order, stacks):
    machine = stacks["machine"]
    daily = in_order.snapshot()
    mine = machine.snapshot()
    day_one = [r for r in daily["warehouse"] if str(r[4]).startswith(DAYS[0])]
    assert mine["warehouse"] == day_one
    assert mine["aggregated"] == [r for r in daily["aggregated"] if r[0] == f"dt={DAYS[0]}"]
    assert machine.quality(DAYS[0])["revenue_redshift"] == in_order.quality(DAYS[0])["revenue_redshift"]
