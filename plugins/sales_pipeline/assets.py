"""The Airflow Assets the daily DAG produces, and the extra each asset event carries.

The bucket, cluster and database names are the stack's outputs, known only at run time, so the Assets are named
(`sales_pipeline.<what>`) rather than addressed by a URI; each event's extra says where the day's data is:
{"date": "YYYY-MM-DD", "uri": "s3://<lake>/<prefix>" or "redshift://<cluster>/<database>/public.sales"}.
Downstream DAGs schedule on these Assets (`schedule=[DAILY_AGGREGATE]`) and read the day from the event.
"""

from __future__ import annotations

from collections.abc import Callable

from airflow.sdk import Asset

RAW_DAY = Asset("sales_pipeline.raw_sales", group="sales")
PROCESSED_DAY = Asset("sales_pipeline.processed_sales", group="sales")
WAREHOUSE_TABLE = Asset("sales_pipeline.warehouse_sales", group="sales")
DAILY_AGGREGATE = Asset("sales_pipeline.daily_sales_revenue", group="sales")


def _where(asset: Asset, day: str, outputs: dict) -> str:
    lake = f"s3://{outputs['DataLakeBucket']}"
    year, month, dom = (int(part) for part in day.split("-"))
    return {
        RAW_DAY: f"{lake}/raw/sales/dt={day}/",
        PROCESSED_DAY: f"{lake}/processed/sales/year={year}/month={month}/day={dom}/",
        WAREHOUSE_TABLE: f"redshift://{outputs['RedshiftClusterId']}/{outputs['RedshiftDatabaseName']}/public.sales",
        DAILY_AGGREGATE: f"{lake}/aggregated/daily_sales_revenue/dt={day}/",
    }[asset]


def day_event(asset: Asset) -> Callable:
    """A `post_execute` hook that puts the day and its location into the asset event the task emits
    (it runs after the task's execute, and after execute_complete for a deferred task)."""

    def add_day(context, result=None) -> None:
        from airflow.sdk import Variable

        outputs = Variable.get("sales_pipeline", deserialize_json=True)
        context["outlet_events"][asset].extra = {"date": context["ds"], "uri": _where(asset, context["ds"], outputs)}

    return add_day
