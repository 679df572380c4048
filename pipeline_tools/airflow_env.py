"""Configure a local Airflow (SQLite metadata, this repo's DAGs) against an AWS endpoint and a stack's outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from local_aws import REGION

REPO = Path(__file__).resolve().parents[1]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def aws_connection(endpoint_url: str | None) -> str:
    """The `aws_default` connection as Airflow reads it from AIRFLOW_CONN_AWS_DEFAULT."""
    extra: dict = {"region_name": REGION}
    if endpoint_url:
        extra["endpoint_url"] = endpoint_url
    return json.dumps({"conn_type": "aws", "login": "local", "password": "local", "extra": extra})


def airflow_env(airflow_home: Path, endpoint_url: str | None, outputs: dict, poll_seconds: int = 1,
                dags_folder: Path = REPO / "dags", plugins_folder: Path = REPO / "plugins",
                secrets_backend: bool = False) -> dict:
    """Environment for `airflow` commands: the DAGs read the stack outputs from the `sales_pipeline` Variable.

    By default the Variable is the outputs themselves (AIRFLOW_VAR_SALES_PIPELINE). With secrets_backend, Airflow
    reads it instead as it does on AWS: from the secret the stack wrote, through the Amazon provider's
    SecretsManagerBackend with the stack's AirflowSecretsBackendKwargs (pointed at endpoint_url).
    dags_folder / plugins_folder: this repository's by default; a packaged layout (dist/mwaa/dags with an empty
    plugins folder, see pipeline_tools.package) runs the same way.
    """
    airflow_home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW_CONN_AWS_DEFAULT": aws_connection(endpoint_url),
        "AIRFLOW_VAR_SALES_PIPELINE": json.dumps(outputs),
        "SALES_PIPELINE_POLL_SECONDS": str(poll_seconds),
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": REGION,
        "NO_PROXY": "*",
    }
    if endpoint_url:
        env["AWS_ENDPOINT_URL"] = endpoint_url
    if secrets_backend:
        del env["AIRFLOW_VAR_SALES_PIPELINE"]
        kwargs = {**json.loads(outputs["AirflowSecretsBackendKwargs"]), "region_name": REGION}
        if endpoint_url:
            kwargs["endpoint_url"] = endpoint_url
        env["AIRFLOW__SECRETS__BACKEND"] = "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
        env["AIRFLOW__SECRETS__BACKEND_KWARGS"] = json.dumps(kwargs)
    return env


def migrate(env: dict, airflow: str = AIRFLOW) -> None:
    """Create or upgrade the SQLite metadata database (a no-op when it is current).

    airflow: the `airflow` executable (another venv's, e.g. .venv-mwaa/bin/airflow, runs that Airflow).
    Raises RuntimeError with the end of Airflow's stderr when the migration fails.
    """
    result = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{result.stderr[-3000:]}")
