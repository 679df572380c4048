"""The pipeline's SQL files rendered as Airflow renders them for a day, for runs that bypass Airflow."""

from __future__ import annotations

from types import SimpleNamespace

import jinja2
from airflow.sdk.execution_time import macros

from pipeline_tools.airflow_env import REPO
from sales_pipeline.stages import REDSHIFT_STAGES, STATE_MACHINE_GATE

SQL_DIR = REPO / "include" / "sql"
_ENVIRONMENT = jinja2.Environment(loader=jinja2.FileSystemLoader(SQL_DIR), undefined=jinja2.StrictUndefined,
                                  autoescape=False)


def render(path: str, day: str, outputs: dict, rows: int) -> str:
    """One file under include/sql with the context the DAGs give it (ds, macros, params, the stack outputs)."""
    context = {
        "ds": day,
        "ds_nodash": day.replace("-", ""),
        "macros": SimpleNamespace(ds_add=macros.ds_add, ds_format=macros.ds_format),
        "params": {"rows": rows},
        "var": {"json": {"sales_pipeline": outputs}},
    }
    return _ENVIRONMENT.get_template(path).render(context)


def redshift_stages(day: str, outputs: dict, rows: int) -> dict[str, list[str]]:
    """Each Redshift stage's statements, in order, as the DAGs send them."""
    return {stage: [render(path, day, outputs, rows) for path in files] for stage, files in REDSHIFT_STAGES.items()}


def state_machine_sql(day: str, outputs: dict, rows: int) -> dict[str, list[str] | str]:
    """The end-to-end machine's `sql` input as the state-machine DAG sends it: the stages and its load check."""
    return {**redshift_stages(day, outputs, rows), "gate": render(STATE_MACHINE_GATE, day, outputs, rows)}
