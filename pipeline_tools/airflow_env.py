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


ROOT_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


def aws_connection(endpoint_url: str | None, credentials: dict[str, str] | None = None) -> str:
    """The `aws_default` connection as Airflow reads it from AIRFLOW_CONN_AWS_DEFAULT (credentials: boto3's
    keyword names; the session token goes in the extra, where the Amazon provider reads it)."""
    credentials = credentials or ROOT_CREDENTIALS
    extra: dict = {"region_name": REGION}
    if endpoint_url:
        extra["endpoint_url"] = endpoint_url
    if credentials.get("aws_session_token"):
        extra["aws_session_token"] = credentials["aws_session_token"]
    return json.dumps({"conn_type": "aws", "login": credentials["aws_access_key_id"],
                       "password": credentials["aws_secret_access_key"], "extra": extra})


def lineage_file(airflow_home: Path) -> Path:
    """Where local runs' OpenLineage events go (JSON lines)."""
    return airflow_home / "openlineage" / "events.jsonl"


def airflow_env(airflow_home: Path, endpoint_url: str | None, outputs: dict, poll_seconds: int = 1,
                dags_folder: Path = REPO / "dags", plugins_folder: Path = REPO / "plugins",
                secrets_backend: bool = False, credentials: dict[str, str] | None = None) -> dict:
    """Environment for `airflow` commands: the DAGs read the stack outputs from the `sales_pipeline` Variable.

    By default the Variable is the outputs themselves (AIRFLOW_VAR_SALES_PIPELINE). With secrets_backend, Airflow
    reads it instead as it does on AWS: from the secret the stack wrote, through the Amazon provider's
    SecretsManagerBackend with the stack's AirflowSecretsBackendKwargs (pointed at endpoint_url).
    dags_folder / plugins_folder: this repository's by default; a packaged layout (dist/mwaa/dags with an empty
    plugins folder, see pipeline_tools.package) runs the same way.
    credentials: boto3-style keys Airflow calls AWS with. By default, against the local AWS with a stack's outputs,
    Airflow runs as the stack's local Airflow role, which holds only the AirflowPolicyArn managed policy (so a
    local run proves that policy is enough); without outputs, as the account root's test keys.
    """
    if credentials is None and endpoint_url and outputs.get("AirflowPolicyArn"):
        from pipeline_tools.deploy import airflow_credentials

        credentials = airflow_credentials(endpoint_url, outputs)
    credentials = credentials or ROOT_CREDENTIALS
    lineage_file(airflow_home).parent.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW_CONN_AWS_DEFAULT": aws_connection(endpoint_url, credentials),
        "AIRFLOW_VAR_SALES_PIPELINE": json.dumps(outputs),
        "SALES_PIPELINE_POLL_SECONDS": str(poll_seconds),
        # `airflow dags test` cannot finish a DAG with a deadline (see dags/sales_pipeline_daily.py); the
        # scheduler's components turn it back on (pipeline_tools.airflow_services)
        "SALES_PIPELINE_DEADLINES": "off",
        # OpenLineage events (apache-airflow-providers-openlineage) to a file, one JSON event a line; the daily DAG's
        # datasets come from the project's extractor (plugins/sales_pipeline/lineage.py)
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "file", "append": True,
                                                       "log_file_path": str(lineage_file(airflow_home))}),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "sales_pipeline_local",
        "AIRFLOW__OPENLINEAGE__EXTRACTORS": "sales_pipeline.lineage.SalesPipelineExtractor",
        # emit from a thread of the task's process, not a forked child per event (the provider's default)
        "AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD": "True",
        "AWS_ACCESS_KEY_ID": credentials["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": credentials["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": REGION,
        "NO_PROXY": "*",
    }
    env.pop("AWS_SESSION_TOKEN", None)
    if credentials.get("aws_session_token"):
        env["AWS_SESSION_TOKEN"] = credentials["aws_session_token"]
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
