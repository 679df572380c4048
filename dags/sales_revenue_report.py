"""
### Sales data lake: the weekly revenue report

Runs whenever the daily DAG announces a reconciled day (the `sales_pipeline.daily_sales_revenue` Asset): reads the
daily aggregates of the seven days ending on that day from the lake and writes
`reports/weekly_revenue/week_ending=<day>/revenue.csv` and a chart beside it (`revenue.png` with matplotlib,
else `revenue.svg`). The day comes from the triggering asset event's extra; a manual run reports the week ending
on its logical date.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from sales_pipeline.assets import DAILY_AGGREGATE

DAG_ID = "sales_revenue_report"
AWS_CONN_ID = "aws_default"


@task(retries=2)
def weekly_report(triggering_asset_events=None, ds=None) -> dict:
    """Write the week's CSV and chart; returns {"week_ending", "csv_key", "chart_key", "days_with_data"}."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.sdk import Variable

    from sales_pipeline.revenue_report import AGGREGATE_PREFIX, REPORT_PREFIX, chart, read_day, to_csv, week_ending

    events = (triggering_asset_events or {}).get(DAILY_AGGREGATE, [])
    # Several days reconciled before this run started are queued into one run: report the latest of them.
    day = max((event.extra["date"] for event in events), default=ds)
    bucket = Variable.get("sales_pipeline", deserialize_json=True)["DataLakeBucket"]
    s3 = S3Hook(aws_conn_id=AWS_CONN_ID)
    rows = []
    for each in week_ending(day):
        keys = s3.list_keys(bucket, prefix=AGGREGATE_PREFIX.format(day=each)) or []
        bodies = [s3.get_key(key, bucket).get()["Body"].read() for key in keys if not key.endswith("/")]
        rows.append((each, read_day(bodies)))
    prefix = REPORT_PREFIX.format(day=day)
    s3.load_string(to_csv(rows), f"{prefix}revenue.csv", bucket, replace=True)
    name, body, content_type = chart(rows, f"Daily sales revenue, week ending {day}")
    s3.get_conn().put_object(Bucket=bucket, Key=f"{prefix}{name}", Body=body, ContentType=content_type)
    return {"week_ending": day, "csv_key": f"{prefix}revenue.csv", "chart_key": f"{prefix}{name}",
            "days_with_data": sum(1 for _, figures in rows if figures)}


with DAG(
    dag_id=DAG_ID,
    description="Weekly revenue CSV and chart, each time a day is reconciled",
    doc_md=__doc__,
    schedule=[DAILY_AGGREGATE],
    start_date=pendulum.datetime(2021, 12, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "data-engineering", "retries": 2},
    tags=["sales", "report", "assets"],
) as dag:
    weekly_report()
