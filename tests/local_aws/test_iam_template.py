"""The template's IAM, enforced: each role and policy statement is needed by the stage that uses it, and without
it that stage fails locally with AWS's error, where it would fail on AWS.

A statement is removed from the deployed role (the same policy a variant template would deploy) and put back.
AWS docs: IAM User Guide, "Policy evaluation logic" and "Troubleshoot access denied error messages"; AWS Step
Functions Developer Guide, "How Step Functions works with IAM" (the execution role makes the service calls);
AWS Lambda Developer Guide, "Lambda execution role"; Amazon MWAA User Guide, "Amazon MWAA execution role".
"""

from __future__ import annotations

import contextlib
import json
import time

import boto3
import pytest
from botocore.exceptions import ClientError

from pipeline_tools.deploy import airflow_credentials, deploy_local

ACCOUNT = "123456789012"
PROJECT = "iamtpl"


@pytest.fixture(scope="module")
def stack(local_aws):
    return deploy_local(local_aws.endpoint_url, stack_name=PROJECT,
                        parameters={"ProjectName": PROJECT, "GlueDatabaseName": f"{PROJECT}_sales"})


@pytest.fixture(scope="module")
def airflow(local_aws, stack):
    """airflow(service) -> a client with the local Airflow role's credentials (only AirflowPolicyArn)."""
    creds = airflow_credentials(local_aws.endpoint_url, stack)

    def make(service):
        return boto3.client(service, endpoint_url=local_aws.endpoint_url, region_name="us-east-1", **creds)

    return make


@contextlib.contextmanager
def without_statement(iam, role: str, sid: str, extra: list | None = None):
    """The role's inline policy minus statement ``sid`` (plus ``extra`` statements) for the block."""
    original = iam.get_role_policy(RoleName=role, PolicyName="least-privilege")["PolicyDocument"]
    original = json.loads(original) if isinstance(original, str) else original
    changed = {**original, "Statement": [s for s in original["Statement"] if s.get("Sid") != sid] + (extra or [])}
    assert len(changed["Statement"]) != len(original["Statement"]) or extra
    iam.put_role_policy(RoleName=role, PolicyName="least-privilege", PolicyDocument=json.dumps(changed))
    try:
        yield
    finally:
        iam.put_role_policy(RoleName=role, PolicyName="least-privilege", PolicyDocument=json.dumps(original))


def _role_name(iam, prefix: str) -> str:
    return next(r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(prefix))


def _run(sfn, machine: str, payload: dict) -> dict:
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps(payload))["executionArn"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.2)
    raise AssertionError(f"{arn} still running")


def test_airflow_role_holds_only_the_exported_policy(boto_client, stack):
    iam = boto_client("iam")
    role = stack["AirflowPolicyArn"].rsplit("/", 1)[-1]
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]] == \
        [stack["AirflowPolicyArn"]]
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == []


def test_airflow_may_start_the_pipeline_machines_and_nothing_outside_its_policy(airflow, stack):
    """AirflowPolicy's StartPipelineExecutions allows the three machines; glue:StartCrawler is not Airflow's."""
    sfn = airflow("stepfunctions")
    with pytest.raises(ClientError) as err:
        airflow("glue").start_crawler(Name=stack["RawCrawlerName"])
    role = stack["AirflowPolicyArn"].rsplit("/", 1)[-1]
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert err.value.response["Error"]["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role}/airflow is not authorized to perform: glue:StartCrawler "
        f"on resource: arn:aws:glue:us-east-1:{ACCOUNT}:crawler/{stack['RawCrawlerName']} "
        "because no identity-based policy allows the glue:StartCrawler action")
    with pytest.raises(ClientError, match="states:StartExecution"):
        sfn.start_execution(stateMachineArn=stack["RunGlueCrawlerStateMachineArn"].replace("RunGlueCrawler", "X"))


def test_airflow_without_invoke_loader_cannot_invoke_it(boto_client, airflow, stack):
    iam = boto_client("iam")
    arn = stack["AirflowPolicyArn"]
    doc = iam.get_policy_version(PolicyArn=arn, VersionId=iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"])
    document = doc["PolicyVersion"]["Document"]
    document = json.loads(document) if isinstance(document, str) else document
    variant = {**document, "Statement": [s for s in document["Statement"] if s.get("Sid") != "InvokeLoader"]}
    version = iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(variant), SetAsDefault=True)
    try:
        with pytest.raises(ClientError) as err:
            airflow("lambda").invoke(FunctionName=stack["LoaderFunctionName"], Payload=b'{"date": "2021-12-01"}')
        assert err.value.response["Error"]["Code"] == "AccessDeniedException"
        assert "lambda:InvokeFunction on resource: " + stack["LoaderFunctionArn"] in \
            err.value.response["Error"]["Message"]
    finally:
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(document), SetAsDefault=True)
        iam.delete_policy_version(PolicyArn=arn, VersionId=version["PolicyVersion"]["VersionId"])


@pytest.mark.parametrize("sid, extra", [
    ("Crawlers", None),
    # The issue's case: an explicit Deny of glue:StartCrawler on the state machines' role stops the crawl machine.
    ("", [{"Effect": "Deny", "Action": "glue:StartCrawler", "Resource": "*"}]),
])
def test_crawl_machine_needs_the_crawlers_statement(boto_client, stack, sid, extra):
    iam = boto_client("iam")
    role = _role_name(iam, f"{PROJECT}-StepFunctionsRole")
    with without_statement(iam, role, sid, extra):
        failed = _run(boto_client("stepfunctions"), stack["RunGlueCrawlerStateMachineArn"],
                      {"Name": stack["RawCrawlerName"]})
    assert failed["status"] == "FAILED"
    causes = failed.get("cause", "")
    assert "Glue.AccessDeniedException" in causes
    assert f"assumed-role/{role}/" in causes and "glue:StartCrawler" in causes


def test_loader_needs_write_raw(boto_client, stack):
    """The loader Lambda writes raw sales as LoaderRole; without WriteRaw its PutObject is AccessDenied."""
    iam = boto_client("iam")
    role = _role_name(iam, f"{PROJECT}-LoaderRole")
    with without_statement(iam, role, "WriteRaw"):
        result = boto_client("lambda").invoke(FunctionName=stack["LoaderFunctionName"],
                                              Payload=json.dumps({"date": "2021-12-01", "rows": 10}))
    payload = json.loads(result["Payload"].read())
    assert result.get("FunctionError") == "Unhandled"
    assert "AccessDenied" in payload["errorMessage"] and "s3:PutObject" in payload["errorMessage"]
    assert f"assumed-role/{role}/{stack['LoaderFunctionName']}" in payload["errorMessage"]


def _crawl(glue, name: str) -> dict:
    glue.start_crawler(Name=name)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        crawler = glue.get_crawler(Name=name)["Crawler"]
        if crawler["State"] == "READY" and crawler.get("LastCrawl"):
            return crawler["LastCrawl"]
        time.sleep(0.2)
    raise AssertionError(f"crawler {name} still running")


def test_raw_crawler_needs_read_lake(boto_client, stack):
    """The crawler reads the lake as GlueRole (AWS Glue Developer Guide, "Crawler prerequisites"); without
    ReadLake the crawl fails naming s3:GetObject."""
    s3, glue, iam = boto_client("s3"), boto_client("glue"), boto_client("iam")
    s3.put_object(Bucket=stack["DataLakeBucket"], Key="raw/sales/dt=2021-12-01/sales.csv",
                  Body=b"sale_id,amount\n1,2.5\n")
    role = _role_name(iam, f"{PROJECT}-GlueRole")
    with without_statement(iam, role, "ReadLake"):
        last = _crawl(glue, stack["RawCrawlerName"])
    assert last["Status"] == "FAILED"
    assert f"assumed-role/{role}/AWS-Crawler is not authorized to perform: s3:GetObject" in last["ErrorMessage"]
    assert _crawl(glue, stack["RawCrawlerName"])["Status"] == "SUCCEEDED"


def test_glue_job_needs_read_script(boto_client, stack):
    """Glue reads the job's script as the job's role (AWS Glue Developer Guide, "Setting up IAM permissions for
    AWS Glue"); without ReadScript the run fails before Spark starts."""
    glue, iam = boto_client("glue"), boto_client("iam")
    role = _role_name(iam, f"{PROJECT}-GlueRole")
    with without_statement(iam, role, "ReadScript"):
        run_id = glue.start_job_run(JobName=stack["GlueJobName"], Arguments={"--run_date": "2021-12-01"})["JobRunId"]
        deadline = time.monotonic() + 60
        while (run := glue.get_job_run(JobName=stack["GlueJobName"], RunId=run_id)["JobRun"])["JobRunState"] in (
                "STARTING", "RUNNING") and time.monotonic() < deadline:
            time.sleep(0.2)
    assert run["JobRunState"] == "FAILED"
    assert f"assumed-role/{role}/GlueJobRunnerSession is not authorized to perform: s3:GetObject" in \
        run["ErrorMessage"]
    assert "sales_job.py" in run["ErrorMessage"]


def _sql(data, stack, sql: str) -> dict:
    statement = data.execute_statement(ClusterIdentifier=stack["RedshiftClusterId"],
                                       Database=stack["RedshiftDatabaseName"], SecretArn=stack["RedshiftSecretArn"],
                                       Sql=sql)["Id"]
    deadline = time.monotonic() + 60
    while (described := data.describe_statement(Id=statement))["Status"] not in ("FINISHED", "FAILED", "ABORTED"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return described


def test_copy_acts_as_the_attached_iam_role(boto_client, stack):
    """Amazon Redshift Database Developer Guide, "Authorizing COPY, UNLOAD ... using IAM roles": COPY reads S3 as
    the IAM_ROLE, which must be associated with the cluster; without CopyAndSpectrumRead the read is denied."""
    s3, data, iam = boto_client("s3"), boto_client("redshift-data"), boto_client("iam")
    s3.put_object(Bucket=stack["DataLakeBucket"], Key="processed/iamcopy/part-0.csv", Body=b"1,2.5\n")
    assert _sql(data, stack, "create table if not exists iam_copy (id int, amount decimal(10,2))")["Status"] == \
        "FINISHED"
    copy = (f"copy iam_copy from 's3://{stack['DataLakeBucket']}/processed/iamcopy/' "
            f"iam_role '{stack['RedshiftRoleArn']}' csv")
    role = stack["RedshiftRoleArn"].rsplit("/", 1)[-1]
    with without_statement(iam, role, "CopyAndSpectrumRead"):
        denied = _sql(data, stack, copy)
    assert denied["Status"] == "FAILED"
    assert "S3ServiceException:Access Denied" in denied["Error"]
    assert f"assumed-role/{role}/RedshiftIamRoleSession is not authorized to perform: s3:GetObject" in denied["Error"]
    assert _sql(data, stack, copy)["Status"] == "FINISHED"
    other = f"arn:aws:iam::{ACCOUNT}:role/glue"  # exists (tests/conftest.py) but is not associated with the cluster
    unattached = _sql(data, stack, copy.replace(stack["RedshiftRoleArn"], other))
    assert unattached["Status"] == "FAILED" and f"is not authorized to assume IAM Role {other}" in unattached["Error"]


def test_spectrum_reads_as_the_external_schemas_role(boto_client, stack):
    """"IAM policies for Amazon Redshift Spectrum": the external schema's IAM_ROLE needs the Glue catalog
    (SpectrumCatalog) and the S3 data (CopyAndSpectrumRead)."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    s3, glue, data, iam = (boto_client(s) for s in ("s3", "glue", "redshift-data", "iam"))
    body = io.BytesIO()
    pq.write_table(pa.table({"id": [1, 2], "amount": [2.5, 3.5]}), body)
    s3.put_object(Bucket=stack["DataLakeBucket"], Key="processed/iamspec/part-0.parquet", Body=body.getvalue())
    glue.create_table(DatabaseName=stack["GlueDatabaseName"], TableInput={
        "Name": "iamspec", "TableType": "EXTERNAL_TABLE", "Parameters": {"classification": "parquet"},
        "StorageDescriptor": {
            "Columns": [{"Name": "id", "Type": "bigint"}, {"Name": "amount", "Type": "double"}],
            "Location": f"s3://{stack['DataLakeBucket']}/processed/iamspec/",
            "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"}}})
    schema = (f"create external schema if not exists iamspec from data catalog database "
              f"'{stack['GlueDatabaseName']}' iam_role '{stack['RedshiftRoleArn']}'")
    assert _sql(data, stack, schema)["Status"] == "FINISHED", _sql(data, stack, schema)
    query = "select count(*) from iamspec.iamspec"
    assert _sql(data, stack, query)["Status"] == "FINISHED"
    role = stack["RedshiftRoleArn"].rsplit("/", 1)[-1]
    with without_statement(iam, role, "SpectrumCatalog"):
        no_catalog = _sql(data, stack, query)
    assert no_catalog["Status"] == "FAILED" and "glue:GetDatabase" in no_catalog["Error"]
    with without_statement(iam, role, "CopyAndSpectrumRead"):
        no_data = _sql(data, stack, query)
    assert no_data["Status"] == "FAILED"
    assert "S3ServiceException:Access Denied" in no_data["Error"] and "s3:GetObject" in no_data["Error"]


def test_airflow_takes_and_releases_the_day_lock(airflow, stack):
    """The DAGs' day lock (plugins/sales_pipeline/day_lock.py) is an object under locks/sales/ that Airflow gets,
    puts conditionally and deletes: AirflowPolicy's DayLock allows exactly that prefix."""
    s3 = airflow("s3")
    key = "locks/sales/dt=2021-12-09.json"
    with pytest.raises(ClientError) as absent:  # DayLockAbsentIsNotFound: 404, so the lock task can take it
        s3.get_object(Bucket=stack["DataLakeBucket"], Key=key)
    assert absent.value.response["Error"]["Code"] == "NoSuchKey"
    s3.put_object(Bucket=stack["DataLakeBucket"], Key=key, Body=b"{}", IfNoneMatch="*")
    assert s3.get_object(Bucket=stack["DataLakeBucket"], Key=key)["Body"].read() == b"{}"
    s3.delete_object(Bucket=stack["DataLakeBucket"], Key=key)
    with pytest.raises(ClientError, match="s3:PutObject"):
        s3.put_object(Bucket=stack["DataLakeBucket"], Key="locks/other/x.json", Body=b"{}")
