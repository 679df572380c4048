"""pipeline_tools.deploy against the local AWS: artefacts, create/update of the project's template, the CLI."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import boto3
import pytest

from local_aws.server import free_port
from pipeline_tools.deploy import (
    GLUE_SCRIPT_KEY,
    LOADER_KEY,
    MAX_TEMPLATE_BODY,
    REPO,
    DeployError,
    deploy_local,
    package_loader,
    upload_artifacts,
)
from tests.local_aws.server_process import start_server

CONTRACT_OUTPUTS = {
    "DataLakeBucket", "AthenaResultsBucket", "GlueDatabaseName", "RawCrawlerName", "ProcessedCrawlerName",
    "AggregatedCrawlerName", "GlueJobName", "LoaderFunctionName", "LoaderFunctionArn", "RedshiftClusterId",
    "RedshiftDatabaseName", "RedshiftSecretArn", "RedshiftRoleArn", "RunGlueCrawlerStateMachineArn",
    "RedshiftQueryStateMachineArn", "DataPipelineStateMachineArn", "AthenaWorkGroup",
}
HANDLER = "def lambda_handler(event, context):\n    return {'date': event['date']}\n"


@pytest.fixture
def repo(tmp_path) -> Path:
    """A checkout with the project's template and small stand-ins for the Glue script and the loader."""
    root = tmp_path / "repo"
    (root / "infra").mkdir(parents=True)
    shutil.copy(REPO / "infra" / "cloudformation.json", root / "infra" / "cloudformation.json")
    (root / "include" / "glue").mkdir(parents=True)
    (root / "include" / "glue" / "sales_job.py").write_text("print('sales job')\n")
    (root / "include" / "loader").mkdir(parents=True)
    (root / "include" / "loader" / "handler.py").write_text(HANDLER)
    (root / "include" / "loader" / "generate.py").write_text("ROWS = 1\n")
    (root / "include" / "loader" / "notes.txt").write_text("not packaged\n")
    return root


@pytest.fixture
def fresh_aws(tmp_path):
    """A local AWS of the test's own (a subprocess): the template's LF-tag is account-wide, so an account holds one
    project stack, as on AWS."""
    proc, url = start_server(tmp_path / "state", free_port())
    yield url
    proc.kill()
    proc.wait(timeout=30)


def unique_project() -> str:
    return f"dp{uuid.uuid4().hex[:8]}"


def test_loader_zip_holds_the_modules_at_its_root_and_is_reproducible(repo):
    loader = repo / "include" / "loader"
    first = package_loader(loader)
    assert first == package_loader(loader)  # same code, same bytes: an unchanged loader is no stack change
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert sorted(archive.namelist()) == ["generate.py", "handler.py"]
        assert archive.read("handler.py").decode() == HANDLER


def test_missing_handler_or_script_is_a_clear_error(repo, boto_client):
    (repo / "include" / "loader" / "handler.py").unlink()
    with pytest.raises(DeployError, match="handler.py is missing"):
        package_loader(repo / "include" / "loader")
    (repo / "include" / "glue" / "sales_job.py").unlink()
    with pytest.raises(DeployError, match="Glue script not found"):
        upload_artifacts(boto_client("s3"), f"{unique_project()}-artifacts", repo=repo)


def test_upload_creates_the_bucket_and_puts_both_artefacts(repo, boto_client):
    s3, bucket = boto_client("s3"), f"{unique_project()}-artifacts"
    keys = upload_artifacts(s3, bucket, repo=repo)
    assert keys == {"GlueScriptKey": GLUE_SCRIPT_KEY, "LoaderCodeKey": LOADER_KEY}
    script = s3.get_object(Bucket=bucket, Key=GLUE_SCRIPT_KEY)["Body"].read()
    assert script == (repo / "include" / "glue" / "sales_job.py").read_bytes()
    loader = s3.get_object(Bucket=bucket, Key=LOADER_KEY)["Body"].read()
    assert loader == package_loader(repo / "include" / "loader")
    upload_artifacts(s3, bucket, repo=repo)  # the bucket exists now: a second upload only overwrites


def test_template_fits_the_template_body_limit_once_minified():
    text = (REPO / "infra" / "cloudformation.json").read_text()
    assert len(json.dumps(json.loads(text), separators=(",", ":")).encode()) <= MAX_TEMPLATE_BODY


def test_deploy_creates_then_updates_and_returns_the_contract_outputs(fresh_aws, repo):
    def boto_client(service):
        return boto3.client(service, endpoint_url=fresh_aws, region_name="us-east-1")

    project = unique_project()
    params = {"ProjectName": project, "GlueDatabaseName": f"{project}_sales"}
    outputs = deploy_local(fresh_aws, repo, stack_name=project, parameters=params)
    assert set(outputs) == CONTRACT_OUTPUTS
    assert outputs["RawCrawlerName"] == f"{project}-raw-sales-crawler"
    assert outputs["RedshiftClusterId"] == f"{project}-warehouse"
    assert outputs["GlueDatabaseName"] == f"{project}_sales"
    assert outputs["DataLakeBucket"] == f"{project}-123456789012-us-east-1-datalake"
    # The artefacts landed where the template's resources point.
    job = boto_client("glue").get_job(JobName=outputs["GlueJobName"])["Job"]
    assert job["Command"]["ScriptLocation"] == f"s3://{project}-artifacts/{GLUE_SCRIPT_KEY}"

    assert deploy_local(fresh_aws, repo, stack_name=project, parameters=params) == outputs
    deploy_local(fresh_aws, repo, stack_name=project, parameters={**params, "PollSeconds": "2"})
    stack = boto_client("cloudformation").describe_stacks(StackName=project)["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["PollSeconds"] == "2"


def test_cli_prints_and_writes_the_outputs(fresh_aws, repo, tmp_path):
    project = unique_project()
    out_file = tmp_path / "outputs.json"
    result = subprocess.run(
        [sys.executable, "-m", "pipeline_tools.deploy", "--endpoint-url", fresh_aws,
         "--stack-name", project, "--repo-root", str(repo), "--artifact-bucket", f"{project}-art",
         "--parameter", f"ProjectName={project}", "--parameter", f"GlueDatabaseName={project}_db",
         "--output-json", str(out_file)],
        capture_output=True, text=True, timeout=180, cwd=REPO)
    assert result.returncode == 0, result.stderr
    written = json.loads(out_file.read_text())
    assert json.loads(result.stdout) == written
    assert set(written) == CONTRACT_OUTPUTS and written["GlueJobName"] == f"{project}-sales-processing"


def test_cli_rejects_a_malformed_parameter():
    result = subprocess.run([sys.executable, "-m", "pipeline_tools.deploy", "--endpoint-url",
                             "http://127.0.0.1:9", "--parameter", "PollSeconds"],
                            capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 2 and "KEY=VALUE" in result.stderr
