"""The template context the pipeline's SQL is rendered with in tests, mirroring what Airflow passes.

`template_context(ds)` builds it; `render(path, ds)` renders one file under include/sql. The Jinja environment
uses StrictUndefined, so a misspelt variable or stack output fails the render instead of yielding ''.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import jinja2
from airflow.sdk.execution_time import macros as airflow_macros

SQL_DIR = Path(__file__).resolve().parent.parent / "include" / "sql"

PROJECT = "salespipe"
REGION = "us-east-1"
# AWS's documentation account id: realistic, yet never a real account.
ACCOUNT = "111122223333"

# The DAG's params and their defaults (dags/sales_pipeline_daily.py).
DAG_PARAMS = {"rows": 10000}

# Every stack output named in docs/architecture.md, shaped as a deploy of the stack would write them.
STACK_OUTPUTS = {
    "DataLakeBucket": f"{PROJECT}-{ACCOUNT}-{REGION}-datalake",
    "AthenaResultsBucket": f"{PROJECT}-{ACCOUNT}-{REGION}-athena",
    "GlueDatabaseName": "sales",
    "RawCrawlerName": f"{PROJECT}-raw-sales-crawler",
    "ProcessedCrawlerName": f"{PROJECT}-processed-sales-crawler",
    "AggregatedCrawlerName": f"{PROJECT}-aggregated-sales-crawler",
    "GlueJobName": f"{PROJECT}-sales-processing",
    "LoaderFunctionName": f"{PROJECT}-loader",
    "LoaderFunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{PROJECT}-loader",
    "RedshiftClusterId": f"{PROJECT}-warehouse",
    "RedshiftDatabaseName": "dev",
    "RedshiftSecretArn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{PROJECT}-redshift-admin-AbCdEf",
    "RedshiftRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{PROJECT}-redshift-role",
    "RunGlueCrawlerStateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{PROJECT}-RunGlueCrawler",
    "RedshiftQueryStateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{PROJECT}-RedshiftQuery",
    "DataPipelineStateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{PROJECT}-DataPipeline",
    "AthenaWorkGroup": f"{PROJECT}-analytics",
    "AlertTopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:{PROJECT}-alerts",
}

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(SQL_DIR),
    undefined=jinja2.StrictUndefined,
    autoescape=False,
)


def template_context(ds: str) -> dict:
    """The subset of Airflow's task context the SQL may use, for a run whose logical day is `ds`."""
    day = airflow_macros.ds_format(ds, "%Y-%m-%d", "%Y-%m-%d")  # rejects a malformed ds early
    return {
        "ds": day,
        "ds_nodash": day.replace("-", ""),
        "macros": SimpleNamespace(ds_add=airflow_macros.ds_add, ds_format=airflow_macros.ds_format),
        "params": dict(DAG_PARAMS),
        "var": {"json": {"sales_pipeline": dict(STACK_OUTPUTS)}},
    }


def render(path: str | Path, ds: str) -> str:
    """Render one SQL file: a path relative to include/sql (e.g. 'redshift/copy_sales_day.sql') or an absolute
    path anywhere (its `{% include %}`s still resolve in include/sql)."""
    path = Path(path)
    if not path.is_absolute():
        return _ENVIRONMENT.get_template(path.as_posix()).render(template_context(ds))
    return _ENVIRONMENT.from_string(path.read_text()).render(template_context(ds))
