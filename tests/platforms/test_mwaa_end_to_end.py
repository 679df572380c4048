"""One day end to end on MWAA's Airflow: the packaged MWAA DAG folder, run by Airflow 3.3.1 on Python 3.12 with
MWAA's constraint set (.venv-mwaa), against the local AWS (run by this test process, the development venv).

The day runs the way `make run` runs one (pipeline_tools.run_day: `airflow dags test`); the `airflow` executable
and the DAG folder differ, and Airflow reads the `sales_pipeline` Variable as it would on AWS: from the secret the
stack wrote, through the Amazon provider's SecretsManagerBackend (no AIRFLOW_VAR_ in the environment).
"""

from __future__ import annotations

import json
import subprocess
import time
from datetime import date
from decimal import Decimal

import boto3
import pytest
from platform_support import REPO, mwaa_python

from pipeline_tools.airflow_env import airflow_env, migrate
from pipeline_tools.package import build_mwaa
from pipeline_tools.run_day import dags_test_command
from tests.local_aws.tiny_airflow import task_states

pytestmark = pytest.mark.e2e

DAY = date(2021, 12, 4)
ROWS = 1200


def test_one_day_on_mwaa_airflow_from_the_packaged_dag_folder(local_aws, tmp_path):
    from pipeline_tools.deploy import deploy_local

    airflow = str(mwaa_python().with_name("airflow"))
    version = subprocess.run([airflow, "version"], capture_output=True, text=True, timeout=120)
    assert version.stdout.strip().splitlines()[-1] == "3.3.1", version.stderr[-2000:]

    started = time.monotonic()
    outputs = deploy_local(local_aws.endpoint_url, stack_name="mwaa",
                           parameters={"ProjectName": "mwaa", "GlueDatabaseName": "mwaa_sales"})
    package = build_mwaa(REPO, tmp_path / "dist")
    (tmp_path / "plugins").mkdir()  # MWAA's plugins folder holds nothing of ours: the code is in the DAG folder
    home = tmp_path / "airflow"
    env = airflow_env(home, local_aws.endpoint_url, outputs, dags_folder=package / "dags",
                      plugins_folder=tmp_path / "plugins", secrets_backend=True)
    assert "AIRFLOW_VAR_SALES_PIPELINE" not in env
    migrate(env, airflow)
    log = tmp_path / "dags-test.log"
    with open(log, "w") as output:
        done = subprocess.run(dags_test_command("sales_pipeline_daily", DAY, ROWS, airflow), env=env,
                              stdout=output, stderr=subprocess.STDOUT, timeout=900)
    states = task_states(home, "sales_pipeline_daily", DAY.isoformat())
    assert done.returncode == 0, f"{states}\n{log.read_text()[-6000:]}"
    assert len(states) == 21 and set(states.values()) == {"success"}  # 17 stages + lock, release, gate, cost
    print(f"MWAA 3.3.1 day: {time.monotonic() - started:.1f} s (deploy, migrate, dags test)")

    s3 = boto3.client("s3", endpoint_url=local_aws.endpoint_url, region_name="us-east-1")
    report = json.loads(s3.get_object(Bucket=outputs["DataLakeBucket"],
                                      Key=f"quality/sales/dt={DAY}/reconciliation.json")["Body"].read())
    assert report["raw_rows"] == ROWS and 0 < report["processed_rows"] <= ROWS
    assert Decimal(report["revenue_athena"]) == Decimal(report["revenue_redshift"]) > 0
    cost = json.loads(s3.get_object(Bucket=outputs["DataLakeBucket"],
                                    Key=f"quality/sales/dt={DAY}/cost.json")["Body"].read())
    assert Decimal(cost["cost"]["total_usd"]) > 0 and cost["usage"]["lambda_requests"] == 1

