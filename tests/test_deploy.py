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
from botocore.exceptions import ClientError

from local_aws.server import free_port
from pipeline_tools.deploy import (
    GLUE_SCRIPT_KEY,
    LOADER_KEY,
    MAX_TEMPLATE_URL_BYTES,
    REPO,
    TEMPLATE_KEY,
    DeployError,
    deploy_local,
    deploy_stack,
    package_loader,
    template_url,
    upload_artifacts,
    upload_template,
)
from tests.local_aws.server_process import start_server

CONTRACT_OUTPUTS = {
    "DataLakeBucket", "AthenaResultsBucket", "GlueDatabaseName", "RawCrawlerName", "ProcessedCrawlerName",
    "AggregatedCrawlerName", "GlueJobName", "LoaderFunctionName", "LoaderFunctionArn", "RedshiftClusterId",
    "RedshiftDatabaseName", "RedshiftSecretArn", "RedshiftRoleArn", "RunGlueCrawlerStateMachineArn",
    "RedshiftQueryStateMachineArn", "DataPipelineStateMachineArn", "AthenaWorkGroup", "AlertTopicArn",
}
# The hand-off to Airflow on AWS: the policy for its role, the Variable's secret, the secrets backend setting.
AIRFLOW_OUTPUTS = {"AirflowPolicyArn", "AirflowVariableSecretArn", "AirflowSecretsBackendKwargs"}
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


def test_template_is_uploaded_unchanged_and_deployed_by_url(boto_client, tmp_path):
    """Over the 51,200-byte TemplateBody quota, within the 1 MB quota of a template in S3 (AWS CloudFormation User
    Guide, "Understand CloudFormation quotas"): the stack is created from TemplateURL, never from a minified body."""
    template = REPO / "infra" / "cloudformation.json"
    assert 51_200 < template.stat().st_size <= MAX_TEMPLATE_URL_BYTES
    s3, bucket = boto_client("s3"), f"{unique_project()}-artifacts"
    s3.create_bucket(Bucket=bucket)
    url = upload_template(s3, bucket, "us-east-1", template)
    assert url == f"https://{bucket}.s3.us-east-1.amazonaws.com/{TEMPLATE_KEY}" == template_url(bucket, TEMPLATE_KEY,
                                                                                               "us-east-1")
    assert s3.get_object(Bucket=bucket, Key=TEMPLATE_KEY)["Body"].read() == template.read_bytes()

    class RecordingCloudFormation:
        """Stands in for the client: records the create call, then reports a completed stack."""

        calls: list = []

        def describe_stacks(self, StackName):  # noqa: N803 (boto3's argument names)
            if not self.calls:
                raise ClientError({"Error": {"Code": "ValidationError", "Message": "does not exist"}}, "Describe")
            return {"Stacks": [{"StackStatus": "CREATE_COMPLETE", "Outputs": []}]}

        def create_stack(self, **kwargs):
            self.calls.append(kwargs)

        def get_waiter(self, name):
            return type("Waiter", (), {"wait": lambda self, **kwargs: None})()

    cfn = RecordingCloudFormation()
    assert deploy_stack(cfn, "s", {"PollSeconds": "1"}, url) == {}
    (call,) = cfn.calls
    assert call["TemplateURL"] == url and "TemplateBody" not in call


def test_a_template_that_is_not_json_or_too_big_is_refused(boto_client, tmp_path):
    s3, bucket = boto_client("s3"), f"{unique_project()}-artifacts"
    s3.create_bucket(Bucket=bucket)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(DeployError, match="is not JSON"):
        upload_template(s3, bucket, template=broken)
    huge = tmp_path / "huge.json"
    huge.write_text(json.dumps({"Description": "x" * MAX_TEMPLATE_URL_BYTES}))
    with pytest.raises(DeployError, match="over CloudFormation's 1000000-byte quota"):
        upload_template(s3, bucket, template=huge)


def test_deploy_creates_then_updates_and_returns_the_contract_outputs(fresh_aws, repo):
    def boto_client(service):
        return boto3.client(service, endpoint_url=fresh_aws, region_name="us-east-1")

    project = unique_project()
    params = {"ProjectName": project, "GlueDatabaseName": f"{project}_sales"}
    outputs = deploy_local(fresh_aws, repo, stack_name=project, parameters=params)
    assert set(outputs) == CONTRACT_OUTPUTS | AIRFLOW_OUTPUTS
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
    assert set(written) == CONTRACT_OUTPUTS | AIRFLOW_OUTPUTS
    assert written["GlueJobName"] == f"{project}-sales-processing"


def test_cli_rejects_a_malformed_parameter():
    result = subprocess.run([sys.executable, "-m", "pipeline_tools.deploy", "--endpoint-url",
                             "http://127.0.0.1:9", "--parameter", "PollSeconds"],
                            capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 2 and "KEY=VALUE" in result.stderr


def test_stack_hands_airflow_its_variable_and_policy(local_aws, boto_client, repo):
    """The stack writes the Variable where Airflow's Secrets Manager backend reads it (`<variables_prefix>/<key>`:
    Amazon provider docs, "AWS Secrets Manager Backend") and exports the policy for Airflow's role."""
    from airflow.providers.amazon.aws.secrets.secrets_manager import SecretsManagerBackend

    project = unique_project()
    outputs = deploy_local(local_aws.endpoint_url, repo, stack_name=project,
                           parameters={"ProjectName": project, "GlueDatabaseName": f"{project}_sales"})
    kwargs = json.loads(outputs["AirflowSecretsBackendKwargs"])
    assert kwargs == {"connections_prefix": None, "variables_prefix": f"{project}/airflow/variables",
                      "config_prefix": None}
    secret = boto_client("secretsmanager").get_secret_value(SecretId=f"{project}/airflow/variables/sales_pipeline")
    assert secret["ARN"] == outputs["AirflowVariableSecretArn"]
    assert json.loads(secret["SecretString"]) == {k: outputs[k] for k in CONTRACT_OUTPUTS}
    # Airflow's own backend, pointed at the local AWS, finds the same Variable.
    backend = SecretsManagerBackend(**kwargs, endpoint_url=local_aws.endpoint_url, region_name="us-east-1")
    assert json.loads(backend.get_variable("sales_pipeline")) == {k: outputs[k] for k in CONTRACT_OUTPUTS}

    iam = boto_client("iam")
    policy = iam.get_policy(PolicyArn=outputs["AirflowPolicyArn"])["Policy"]
    assert policy["PolicyName"] == f"{project}-airflow-us-east-1"
    document = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])
    statements = document["PolicyVersion"]["Document"]["Statement"]
    resources = json.dumps(statements)
    assert outputs["AirflowVariableSecretArn"] in resources and outputs["RedshiftSecretArn"] in resources
    assert f"job/{outputs['GlueJobName']}" in resources and f"workgroup/{outputs['AthenaWorkGroup']}" in resources
