"""The project's template deployed into the local AWS: every resource real, visible through its own API."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3
import pytest
from server_process import start_server, stop_server

from local_aws.server import free_port
from pipeline_tools.deploy import DeployError, deploy_local, deploy_stack, upload_template

CONTRACT_OUTPUTS = {
    "DataLakeBucket", "AthenaResultsBucket", "GlueDatabaseName", "RawCrawlerName", "ProcessedCrawlerName",
    "AggregatedCrawlerName", "GlueJobName", "LoaderFunctionName", "LoaderFunctionArn", "RedshiftClusterId",
    "RedshiftDatabaseName", "RedshiftSecretArn", "RedshiftRoleArn", "RunGlueCrawlerStateMachineArn",
    "RedshiftQueryStateMachineArn", "DataPipelineStateMachineArn", "AthenaWorkGroup",
}


@pytest.fixture(scope="module")
def stack(local_aws):
    return deploy_local(local_aws.endpoint_url, stack_name="cfntest",
                        parameters={"ProjectName": "cfntest", "GlueDatabaseName": "cfntest_sales"})


def test_outputs_follow_the_contract(stack):
    assert set(stack) >= CONTRACT_OUTPUTS
    assert stack["RedshiftClusterId"] == "cfntest-warehouse"
    assert stack["GlueDatabaseName"] == "cfntest_sales"
    assert stack["DataLakeBucket"] == "cfntest-123456789012-us-east-1-datalake"


def test_buckets_are_secured(stack, boto_client):
    s3 = boto_client("s3")
    for bucket in (stack["DataLakeBucket"], stack["AthenaResultsBucket"]):
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values()), bucket
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        assert any(st["Effect"] == "Deny" and "aws:SecureTransport" in json.dumps(st.get("Condition", {}))
                   for st in policy["Statement"])
    assert s3.get_bucket_versioning(Bucket=stack["DataLakeBucket"])["Status"] == "Enabled"
    s3.put_object(Bucket=stack["DataLakeBucket"], Key="probe.txt", Body=b"ok")  # TLS-only holds locally


def test_glue_lambda_redshift_secret_visible(stack, boto_client):
    glue = boto_client("glue")
    assert glue.get_database(Name=stack["GlueDatabaseName"])["Database"]["Name"] == "cfntest_sales"
    prefixes = {}
    for key in ("RawCrawlerName", "ProcessedCrawlerName", "AggregatedCrawlerName"):
        crawler = glue.get_crawler(Name=stack[key])["Crawler"]
        assert crawler["DatabaseName"] == "cfntest_sales"
        prefixes[crawler["TablePrefix"]] = crawler["Targets"]["S3Targets"][0]["Path"]
    lake = stack["DataLakeBucket"]
    assert prefixes == {"raw_": f"s3://{lake}/raw/sales/", "processed_": f"s3://{lake}/processed/sales/",
                        "aggregated_": f"s3://{lake}/aggregated/daily_sales_revenue/"}
    job = glue.get_job(JobName=stack["GlueJobName"])["Job"]
    assert job["ExecutionProperty"]["MaxConcurrentRuns"] == 3
    assert job["Command"]["ScriptLocation"] == "s3://cfntest-artifacts/artifacts/glue/sales_job.py"
    assert job["DefaultArguments"]["--raw_path"] == f"s3://{lake}/raw/sales/"
    function = boto_client("lambda").get_function(FunctionName=stack["LoaderFunctionName"])["Configuration"]
    assert function["Runtime"].startswith("python3")
    assert function["Environment"]["Variables"]["DATA_LAKE_BUCKET"] == lake
    cluster = boto_client("redshift").describe_clusters(ClusterIdentifier="cfntest-warehouse")["Clusters"][0]
    assert cluster["Encrypted"] and not cluster["PubliclyAccessible"]
    secret = json.loads(boto_client("secretsmanager").get_secret_value(SecretId=stack["RedshiftSecretArn"])
                        ["SecretString"])
    assert secret["username"] == "admin" and len(secret["password"]) >= 8
    assert secret["dbClusterIdentifier"] == "cfntest-warehouse"


def test_state_machines_have_substituted_definitions(stack, boto_client):
    sfn = boto_client("stepfunctions")
    for key in ("RunGlueCrawlerStateMachineArn", "RedshiftQueryStateMachineArn", "DataPipelineStateMachineArn"):
        definition = sfn.describe_state_machine(stateMachineArn=stack[key])["definition"]
        assert "${" not in definition, key
        json.loads(definition)
    redshift_query = sfn.describe_state_machine(stateMachineArn=stack["RedshiftQueryStateMachineArn"])["definition"]
    assert "cfntest-warehouse" in redshift_query and stack["RedshiftSecretArn"] in redshift_query


def test_lake_formation_and_athena(stack, boto_client):
    lf = boto_client("lakeformation")
    settings = lf.get_data_lake_settings()["DataLakeSettings"]
    assert settings["CreateDatabaseDefaultPermissions"] == [] and settings["CreateTableDefaultPermissions"] == []
    grants = lf.list_permissions()["PrincipalResourcePermissions"]
    redshift_grants = [g for g in grants if g["Principal"]["DataLakePrincipalIdentifier"] == stack["RedshiftRoleArn"]]
    assert any({"SELECT", "DESCRIBE"} <= set(g["Permissions"]) for g in redshift_grants)
    assert any(g["Principal"]["DataLakePrincipalIdentifier"].endswith(":role/analyst") for g in grants)
    assert "Classification" in {t["TagKey"] for t in lf.list_lf_tags()["LFTags"]}
    workgroup = boto_client("athena").get_work_group(WorkGroup=stack["AthenaWorkGroup"])["WorkGroup"]
    assert workgroup["Configuration"]["EnforceWorkGroupConfiguration"] is True
    assert workgroup["Configuration"]["ResultConfiguration"]["OutputLocation"].startswith(
        f"s3://{stack['AthenaResultsBucket']}/")


def test_redeploy_is_an_update_and_delete_removes(local_aws, stack, boto_client):
    again = deploy_local(local_aws.endpoint_url, stack_name="cfntest",
                         parameters={"ProjectName": "cfntest", "GlueDatabaseName": "cfntest_sales"})
    assert again == stack
    other = deploy_local(local_aws.endpoint_url, stack_name="cfngone",
                         parameters={"ProjectName": "cfngone", "GlueDatabaseName": "cfngone_sales"})
    cfn = boto_client("cloudformation")
    cfn.delete_stack(StackName="cfngone")
    with pytest.raises(boto_client("glue").exceptions.EntityNotFoundException):
        boto_client("glue").get_crawler(Name=other["RawCrawlerName"])


def test_unsupported_resource_fails_the_stack_with_its_reason(local_aws, tmp_path, boto_client):
    template = tmp_path / "bad.json"
    template.write_text(json.dumps({"Resources": {
        "Fine": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "rolled-back-bucket"}},
        "Exotic": {"Type": "AWS::GameLift::Fleet", "DependsOn": "Fine", "Properties": {}}}}))
    boto_client("s3").create_bucket(Bucket="unsupported-artifacts")
    url = upload_template(boto_client("s3"), "unsupported-artifacts", template=template)
    with pytest.raises(DeployError, match="AWS::GameLift::Fleet is not supported"):
        deploy_stack(boto_client("cloudformation"), "unsupported", {}, url)
    stack = boto_client("cloudformation").describe_stacks(StackName="unsupported")["Stacks"][0]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "rolled-back-bucket" not in {b["Name"] for b in boto_client("s3").list_buckets()["Buckets"]}


def test_stack_survives_a_restart_and_the_cli_deploys(tmp_path):
    port = free_port()
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}

    proc, url = start_server(tmp_path / "state", port)
    try:
        outputs = deploy_local(url, stack_name="restart", parameters={"ProjectName": "restart",
                                                                       "GlueDatabaseName": "restart_sales"})
    finally:
        stop_server(proc)
    proc, url = start_server(tmp_path / "state", port)
    try:
        cfn = boto3.client("cloudformation", endpoint_url=url, region_name="us-east-1")
        stack = cfn.describe_stacks(StackName="restart")["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        restored = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        assert restored["DataLakeBucket"] == outputs["DataLakeBucket"]
        assert boto3.client("redshift", endpoint_url=url, region_name="us-east-1").describe_clusters(
            ClusterIdentifier="restart-warehouse")["Clusters"]
        aws = os.path.join(os.path.dirname(sys.executable), "aws")
        cli = subprocess.run([aws, "--endpoint-url", url, "cloudformation", "describe-stacks", "--stack-name",
                              "restart"], capture_output=True, text=True, env=env, timeout=120)
        assert cli.returncode == 0 and "CREATE_COMPLETE" in cli.stdout, cli.stderr
    finally:
        stop_server(proc)
