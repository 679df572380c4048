"""The project's template deployed into the local AWS: every resource real, visible through its own API.

Each server here holds one account, and the template's LF-tag (`Classification`) is account-wide: a second project
stack in the same account fails as it would on AWS, so these tests deploy into servers of their own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import boto3
import pytest
from server_process import start_server

from local_aws.server import free_port
from pipeline_tools.deploy import DeployError, deploy_local, deploy_stack, upload_template

CONTRACT_OUTPUTS = {
    "DataLakeBucket", "AthenaResultsBucket", "GlueDatabaseName", "RawCrawlerName", "ProcessedCrawlerName",
    "AggregatedCrawlerName", "GlueJobName", "LoaderFunctionName", "LoaderFunctionArn", "RedshiftClusterId",
    "RedshiftDatabaseName", "RedshiftSecretArn", "RedshiftRoleArn", "RunGlueCrawlerStateMachineArn",
    "RedshiftQueryStateMachineArn", "DataPipelineStateMachineArn", "AthenaWorkGroup",
}


@pytest.fixture(scope="module")
def aws_url(tmp_path_factory):
    """A local AWS of this module's own (a subprocess), so this module's project stack is the account's only one."""
    proc, url = start_server(tmp_path_factory.mktemp("cfn") / "state", free_port())
    yield url
    proc.kill()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def client(aws_url):
    def make(service: str):
        return boto3.client(service, endpoint_url=aws_url, region_name="us-east-1")

    return make


# The template's own LF-tag key: deploy_local gives a non-default stack a key of its own unless told otherwise.
CFNTEST = {"ProjectName": "cfntest", "GlueDatabaseName": "cfntest_sales", "ClassificationTagKey": "Classification"}


@pytest.fixture(scope="module")
def stack(aws_url):
    return deploy_local(aws_url, stack_name="cfntest",
                        parameters=CFNTEST)


def test_outputs_follow_the_contract(stack):
    assert set(stack) >= CONTRACT_OUTPUTS
    assert stack["RedshiftClusterId"] == "cfntest-warehouse"
    assert stack["GlueDatabaseName"] == "cfntest_sales"
    assert stack["DataLakeBucket"] == "cfntest-123456789012-us-east-1-datalake"


def test_alert_topic_carries_the_template_policy(stack, client):
    """AWS::SNS::Topic (moto) and AWS::SNS::TopicPolicy (local_aws/services/sns.py, after the AWS CloudFormation User
    Guide, "AWS::SNS::TopicPolicy": the document becomes each topic's Policy attribute)."""
    sns = client("sns")
    assert stack["AlertTopicArn"] == "arn:aws:sns:us-east-1:123456789012:cfntest-alerts"
    policy = json.loads(sns.get_topic_attributes(TopicArn=stack["AlertTopicArn"])["Attributes"]["Policy"])
    assert [st["Sid"] for st in policy["Statement"]] == ["AccountPublishes", "TlsOnly"]
    assert policy["Statement"][1]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_buckets_are_secured(stack, client):
    s3 = client("s3")
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


def test_glue_lambda_redshift_secret_visible(stack, client):
    glue = client("glue")
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
    function = client("lambda").get_function(FunctionName=stack["LoaderFunctionName"])["Configuration"]
    assert function["Runtime"].startswith("python3")
    assert function["Environment"]["Variables"]["DATA_LAKE_BUCKET"] == lake
    cluster = client("redshift").describe_clusters(ClusterIdentifier="cfntest-warehouse")["Clusters"][0]
    assert cluster["Encrypted"] and not cluster["PubliclyAccessible"]
    secret = json.loads(client("secretsmanager").get_secret_value(SecretId=stack["RedshiftSecretArn"])
                        ["SecretString"])
    assert secret["username"] == "admin" and len(secret["password"]) >= 8
    assert secret["dbClusterIdentifier"] == "cfntest-warehouse"


def test_state_machines_have_substituted_definitions(stack, client):
    sfn = client("stepfunctions")
    for key in ("RunGlueCrawlerStateMachineArn", "RedshiftQueryStateMachineArn", "DataPipelineStateMachineArn"):
        definition = sfn.describe_state_machine(stateMachineArn=stack[key])["definition"]
        assert "${" not in definition, key
        json.loads(definition)
    redshift_query = sfn.describe_state_machine(stateMachineArn=stack["RedshiftQueryStateMachineArn"])["definition"]
    assert "cfntest-warehouse" in redshift_query and stack["RedshiftSecretArn"] in redshift_query


def test_lake_formation_and_athena(stack, client):
    lf = client("lakeformation")
    settings = lf.get_data_lake_settings()["DataLakeSettings"]
    assert settings["CreateDatabaseDefaultPermissions"] == [] and settings["CreateTableDefaultPermissions"] == []
    grants = lf.list_permissions()["PrincipalResourcePermissions"]
    redshift_grants = [g for g in grants if g["Principal"]["DataLakePrincipalIdentifier"] == stack["RedshiftRoleArn"]]
    assert any({"SELECT", "DESCRIBE"} <= set(g["Permissions"]) for g in redshift_grants)
    assert any(g["Principal"]["DataLakePrincipalIdentifier"].endswith(":role/analyst") for g in grants)
    assert "Classification" in {t["TagKey"] for t in lf.list_lf_tags()["LFTags"]}
    workgroup = client("athena").get_work_group(WorkGroup=stack["AthenaWorkGroup"])["WorkGroup"]
    assert workgroup["Configuration"]["EnforceWorkGroupConfiguration"] is True
    assert workgroup["Configuration"]["ResultConfiguration"]["OutputLocation"].startswith(
        f"s3://{stack['AthenaResultsBucket']}/")


def test_redeploy_is_an_update_and_a_second_project_in_the_account_is_rolled_back(aws_url, stack, client):
    """Deploying the same stack again changes nothing. A second project stack in the same account fails at its
    LF-tag: during a stack operation CloudFormation calls CreateLFTag ("AWS::LakeFormation::Tag", CloudFormation
    Template Reference), and an LF-tag key is unique per Data Catalog (CreateLFTag: AlreadyExistsException). The
    failed stack rolls back: ROLLBACK_COMPLETE, its resources deleted, the first stack's untouched."""
    again = deploy_local(aws_url, stack_name="cfntest",
                         parameters=CFNTEST)
    assert again == stack
    with pytest.raises(DeployError, match=r"ClassificationTag.*AlreadyExistsException"):
        deploy_local(aws_url, stack_name="cfngone",
                     parameters={"ProjectName": "cfngone", "GlueDatabaseName": "cfngone_sales",
                                 "ClassificationTagKey": "Classification"})
    assert client("cloudformation").describe_stacks(StackName="cfngone")["Stacks"][0]["StackStatus"] == \
        "ROLLBACK_COMPLETE"
    with pytest.raises(client("glue").exceptions.EntityNotFoundException):
        client("glue").get_crawler(Name="cfngone-raw-sales-crawler")
    assert client("glue").get_crawler(Name=stack["RawCrawlerName"])["Crawler"]["Name"] == stack["RawCrawlerName"]
    tags = client("lakeformation").get_resource_lf_tags(Resource={"Database": {"Name": "cfntest_sales"}})
    assert [(t["TagKey"], t["TagValues"]) for t in tags["LFTagOnDatabase"]] == [("Classification", ["internal"])]


def test_unsupported_resource_fails_the_stack_with_its_reason(tmp_path, client):
    template = tmp_path / "bad.json"
    template.write_text(json.dumps({"Resources": {
        "Fine": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "rolled-back-bucket"}},
        "Exotic": {"Type": "AWS::GameLift::Fleet", "DependsOn": "Fine", "Properties": {}}}}))
    client("s3").create_bucket(Bucket="unsupported-artifacts")
    url = upload_template(client("s3"), "unsupported-artifacts", template=template)
    with pytest.raises(DeployError, match="AWS::GameLift::Fleet is not supported"):
        deploy_stack(client("cloudformation"), "unsupported", {}, url)
    stack = client("cloudformation").describe_stacks(StackName="unsupported")["Stacks"][0]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "rolled-back-bucket" not in {b["Name"] for b in client("s3").list_buckets()["Buckets"]}


def stack_picture(url: str, stack_name: str) -> dict:
    """What a restart must not change: outputs, resources' physical ids, the IAM roles the stack made."""
    def client(service):
        return boto3.client(service, endpoint_url=url, region_name="us-east-1")

    stack = client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    resources = client("cloudformation").describe_stack_resources(StackName=stack_name)["StackResources"]
    role_names = [r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::IAM::Role"]
    roles = {name: client("iam").get_role(RoleName=name)["Role"] for name in role_names}
    return {
        "status": stack["StackStatus"],
        "stack_id": stack["StackId"],
        "outputs": {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]},
        "resources": {r["LogicalResourceId"]: (r["ResourceType"], r.get("PhysicalResourceId")) for r in resources},
        "roles": {name: (role["Arn"], role["RoleId"], role["CreateDate"]) for name, role in roles.items()},
    }


def wait_for_execution(sfn, arn: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.2)
    pytest.fail(f"execution {arn} still running after {timeout} s")


def test_the_pipeline_s_load_check_runs_on_the_local_step_functions_and_data_api(stack, client):
    """The DataPipeline machine's gate states, as deployed, in a machine of their own with the pipeline's role: the
    RedshiftQuery child runs the check's SQL and reads its row with GetStatementResult in its own execution (the
    Data API shows a statement's result only to the identity that ran it, which the template's
    redshift-data:statement-owner-iam-userid condition enforces); startExecution.sync:2 hands the child's output
    over as JSON ("Start a new AWS Step Functions state machine from a running execution", Step Functions Developer
    Guide), and NumericEqualsPath compares the two counts."""
    sfn = client("stepfunctions")
    pipeline = sfn.describe_state_machine(stateMachineArn=stack["DataPipelineStateMachineArn"])
    states = json.loads(pipeline["definition"])["States"]
    gate = {"StartAt": "CheckDayLoaded", "States": {
        **{name: states[name] for name in ("CheckDayLoaded", "DayLoaded", "DayNotLoaded", "CheckDayLoadedFailed")},
        "RedshiftViews": {"Type": "Succeed"}}}
    machine = sfn.create_state_machine(name="cfntest-gate", definition=json.dumps(gate),
                                       roleArn=pipeline["roleArn"])["stateMachineArn"]
    outcomes = {}
    for loaded, landed in ((3, 3), (2, 3)):
        sql = f"select cast({loaded} as bigint) as loaded, cast({landed} as bigint) as landed"
        started = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"date": "2021-12-01",
                                                                                 "sql": {"gate": sql}}))
        outcomes[loaded] = wait_for_execution(sfn, started["executionArn"])
    assert outcomes[3]["status"] == "SUCCEEDED", (outcomes[3].get("error"), outcomes[3].get("cause"))
    assert json.loads(outcomes[3]["output"])["results"]["CheckDayLoaded"]["Loaded"] == 3
    assert outcomes[2]["status"] == "FAILED" and outcomes[2]["error"] == "DayNotLoaded", outcomes[2]
    assert outcomes[2]["cause"].startswith("2021-12-01: Redshift holds 2 rows for the day but the Glue job landed 3")


def test_a_crash_leaves_the_deployed_stack_as_it_was(tmp_path):
    """The project's template deployed, the server SIGKILLed and restarted on the same state dir: DescribeStacks
    outputs, DescribeStackResources physical ids and the stack's IAM roles (ARN, RoleId, CreateDate) are identical
    (nothing is re-created: AWS keeps a stack's resources until it is updated or deleted), the state machines run,
    the AWS CLI reads the stack, and deleting the stack deletes its resources ("DeleteStack", AWS CloudFormation
    API Reference)."""
    port = free_port()
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    proc, url = start_server(tmp_path / "state", port)
    try:
        outputs = deploy_local(url, stack_name="restart", parameters={"ProjectName": "restart",
                                                                       "GlueDatabaseName": "restart_sales"})
        before = stack_picture(url, "restart")
    finally:
        proc.kill()  # SIGKILL: nothing is written at exit
        proc.wait(timeout=30)
    assert before["outputs"] == outputs and before["status"] == "CREATE_COMPLETE"
    assert len(before["roles"]) >= 4  # Step Functions, Glue, Lambda, Redshift

    proc, url = start_server(tmp_path / "state", port)
    try:
        assert stack_picture(url, "restart") == before

        sfn = boto3.client("stepfunctions", endpoint_url=url, region_name="us-east-1")
        crawl = sfn.start_execution(stateMachineArn=outputs["RunGlueCrawlerStateMachineArn"], name="after-restart",
                                    input=json.dumps({"Name": outputs["RawCrawlerName"]}))
        described = wait_for_execution(sfn, crawl["executionArn"])
        assert described["status"] == "SUCCEEDED", described
        assert boto3.client("glue", endpoint_url=url, region_name="us-east-1").get_crawler(
            Name=outputs["RawCrawlerName"])["Crawler"]["LastCrawl"]["Status"] == "SUCCEEDED"

        aws = os.path.join(os.path.dirname(sys.executable), "aws")
        cli = subprocess.run([aws, "--endpoint-url", url, "cloudformation", "describe-stacks", "--stack-name",
                              "restart"], capture_output=True, text=True, env=env, timeout=120)
        assert cli.returncode == 0 and "CREATE_COMPLETE" in cli.stdout, cli.stderr

        cfn = boto3.client("cloudformation", endpoint_url=url, region_name="us-east-1")
        cfn.delete_stack(StackName="restart")
        assert cfn.describe_stacks(StackName=before["stack_id"])["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
        with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
            sfn.describe_state_machine(stateMachineArn=outputs["RunGlueCrawlerStateMachineArn"])
        glue = boto3.client("glue", endpoint_url=url, region_name="us-east-1")
        with pytest.raises(glue.exceptions.EntityNotFoundException):
            glue.get_crawler(Name=outputs["RawCrawlerName"])
        lam = boto3.client("lambda", endpoint_url=url, region_name="us-east-1")
        with pytest.raises(lam.exceptions.ResourceNotFoundException):
            lam.get_function(FunctionName=outputs["LoaderFunctionName"])
        iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1")
        for name in before["roles"]:
            with pytest.raises(iam.exceptions.NoSuchEntityException):
                iam.get_role(RoleName=name)
        secrets = boto3.client("secretsmanager", endpoint_url=url, region_name="us-east-1")
        with pytest.raises(secrets.exceptions.ResourceNotFoundException):
            secrets.get_secret_value(SecretId=outputs["RedshiftSecretArn"])
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_dynamic_references_to_secrets_resolve_and_other_kinds_fail_by_name(tmp_path, client):
    """`{{resolve:secretsmanager:secret-id:SecretString:json-key}}` becomes the secret's value, `AWSPREVIOUS`
    picks the previous version; a kind the local AWS does not resolve (`ssm`) and a JSON key the secret lacks fail
    the resource, and the stack rolls back (AWS CloudFormation User Guide, "Get values stored in other services
    using dynamic references": Secrets Manager secrets)."""
    secrets, cfn = client("secretsmanager"), client("cloudformation")
    secrets.create_secret(Name="dynref-source", SecretString=json.dumps({"user": "old-admin"}))
    secrets.put_secret_value(SecretId="dynref-source", SecretString=json.dumps({"user": "admin", "port": 5439}))

    def copy(name: str, reference: str) -> dict:
        return {"Type": "AWS::SecretsManager::Secret",
                "Properties": {"Name": name, "SecretString": f"{{{{resolve:{reference}}}}}"}}

    template = tmp_path / "refs.json"
    template.write_text(json.dumps({"Resources": {
        "Current": copy("dynref-current", "secretsmanager:dynref-source:SecretString:user"),
        "Previous": copy("dynref-previous", "secretsmanager:dynref-source:SecretString:user:AWSPREVIOUS"),
        "Whole": copy("dynref-whole", "secretsmanager:dynref-source")}}))
    client("s3").create_bucket(Bucket="dynref-artifacts")
    deploy_stack(cfn, "dynrefs", {}, upload_template(client("s3"), "dynref-artifacts", template=template))
    value = {name: secrets.get_secret_value(SecretId=name)["SecretString"]
             for name in ("dynref-current", "dynref-previous", "dynref-whole")}
    assert value == {"dynref-current": "admin", "dynref-previous": "old-admin",
                     "dynref-whole": json.dumps({"user": "admin", "port": 5439})}

    for stack_name, reference, reason in (
            ("dynref-ssm", "ssm:/sales/param", r"resolve:ssm:\.\.\.\}\} is not supported"),
            ("dynref-nokey", "secretsmanager:dynref-source:SecretString:password", "no JSON key 'password'")):
        template.write_text(json.dumps({"Resources": {"Copy": copy(stack_name, reference)}}))
        with pytest.raises(DeployError, match=reason):
            deploy_stack(cfn, stack_name, {}, upload_template(client("s3"), "dynref-artifacts", template=template))
        assert cfn.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
