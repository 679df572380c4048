"""The Airflow UI in a real browser: a daily run triggered through the REST API shows success everywhere."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from airflow_client.client import DagRunApi, TaskInstanceApi, TriggerDAGRunPostBody

from pipeline_tools.airflow_env import REPO, airflow_env, migrate
from pipeline_tools.airflow_services import ADMIN, AirflowServices, read_password
from pipeline_tools.ui_check import read_run_page

pytestmark = pytest.mark.e2e

DAG_ID = "sales_pipeline_daily"
SCREENSHOT = REPO / "test-artifacts" / "ui" / "sales_pipeline_daily_run.png"


def test_triggered_run_shows_success_in_the_ui(local_aws, tmp_path):
    from pipeline_tools.deploy import deploy_local

    outputs = deploy_local(local_aws.endpoint_url, REPO, stack_name="uicheck",
                           parameters={"ProjectName": "uicheck", "GlueDatabaseName": "uicheck_sales"})
    env = airflow_env(tmp_path / "airflow", local_aws.endpoint_url, outputs)
    migrate(env)
    with AirflowServices(env, tmp_path / "airflow") as af:
        af.wait_for_dag(DAG_ID)
        run = DagRunApi(af.client).trigger_dag_run(DAG_ID, TriggerDAGRunPostBody(
            logical_date=datetime(2021, 12, 5, tzinfo=UTC), conf={"rows": 500}))
        [finished] = af.wait_for_runs(DAG_ID, run_ids=[run.dag_run_id], timeout=900)
        tasks = TaskInstanceApi(af.client).get_task_instances(DAG_ID, run.dag_run_id).task_instances
        assert finished.state.value == "success", {t.task_id: t.state for t in tasks}
        # The login is the one Airflow generated and the tools print.
        assert af.login.username == ADMIN and af.login.password == read_password(tmp_path / "airflow")
        page = read_run_page(af.base_url, ADMIN, af.password, DAG_ID, run.dag_run_id, SCREENSHOT,
                             expected_tasks=len(tasks))
    assert page.run_state == "Success"
    assert set(page.task_states) == {t.task_id for t in tasks}
    assert set(page.task_states.values()) == {"Success"}, page.task_states
    assert SCREENSHOT.stat().st_size > 10_000
