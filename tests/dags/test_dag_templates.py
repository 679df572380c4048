"""Every SQL a DAG task sends renders through that DAG's own Jinja environment (search path, macros)."""

from __future__ import annotations

import sys

import jinja2
import pytest
import sqlglot
from conftest import REPO

sys.path.insert(0, str(REPO / "tests"))
from sql_context import template_context  # noqa: E402

DAY = "2021-01-05"


@pytest.fixture(scope="module")
def dags():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags")).dags


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def render(dag, template: str) -> str:
    env = dag.get_template_env()
    env.undefined = jinja2.StrictUndefined
    return env.from_string(template).render(**template_context(DAY), **dag.user_defined_macros)


@pytest.mark.parametrize("dag_id", ["sales_pipeline_daily", "sales_pipeline_state_machine"])
def test_state_machine_inputs_render_to_sql(dags, dag_id):
    dag = dags[dag_id]
    rendered = 0
    for task in dag.tasks:
        for template in strings(getattr(task, "state_machine_input", None)):
            text = render(dag, template)
            assert "{{" not in text and "{%" not in text
            if "include" in template:
                rendered += 1
                assert sqlglot.parse(text, read="redshift"), template
    # The stages' seven files; the state machine's input also carries its load check.
    assert rendered == {"sales_pipeline_daily": 7, "sales_pipeline_state_machine": 8}[dag_id]


def test_reconcile_templates_render(dags):
    for dag in (dags["sales_pipeline_daily"], dags["sales_pipeline_state_machine"]):
        task = dag.get_task("validate.reconcile" if dag.dag_id == "sales_pipeline_daily" else "reconcile")
        for key, template in task.templates_dict.items():
            text = render(dag, template)
            if key == "processed_totals":  # filters on the partition columns, without leading zeros
                assert "= '2021'" in text and "= '1'" in text and "= '5'" in text
            else:
                assert DAY in text, key


def test_execution_name_template_renders(dags):
    dag = dags["sales_pipeline_daily"]
    task = dag.get_task("redshift_load.start_execution")
    context = {"dag": dag, "task": task, "run_id": "scheduled__2021-01-05T00:00:00+00:00",
               "ti": type("TI", (), {"try_number": 1})()}
    name = dag.get_template_env().from_string(task.name).render(**context, **dag.user_defined_macros)
    assert name.startswith("redshift_load-scheduled__2021-01-05") and len(name) <= 80
