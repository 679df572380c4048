"""The Glue CloudFormation types of the local AWS (services/glue_catalog.py, glue_crawlers.py, glue_jobs.py), each
created through moto's Glue backend and visible through the Glue API."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError


def _wait(cfn, name: str) -> dict:
    deadline = time.monotonic() + 60
    while True:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            return stack
        assert time.monotonic() < deadline, stack["StackStatus"]
        time.sleep(0.1)


def test_glue_resources_from_a_stack_are_glue_resources(boto_client, monkeypatch):
    """AWS CloudFormation User Guide, "AWS::Glue::Database", "AWS::Glue::SecurityConfiguration",
    "AWS::Glue::Crawler", "AWS::Glue::Job": Ref returns the name of each; deleting the stack deletes them. The
    template's EncryptionConfiguration ``S3Encryptions`` is the API's ``S3Encryption`` (AWS Glue API reference,
    "EncryptionConfiguration")."""
    monkeypatch.setenv("LOCAL_AWS_GLUE_WARM_DRIVERS", "0")  # the job would otherwise start a Spark driver
    suffix = uuid.uuid4().hex[:8]
    db, crawler, job, security = f"cfn_db_{suffix}", f"cfn-crawler-{suffix}", f"cfn-job-{suffix}", f"cfn-sc-{suffix}"
    template = {
        "Resources": {
            "Database": {"Type": "AWS::Glue::Database", "Properties": {
                "CatalogId": {"Ref": "AWS::AccountId"},
                "DatabaseInput": {"Name": db, "Description": "from a stack"}}},
            "Security": {"Type": "AWS::Glue::SecurityConfiguration", "Properties": {
                "Name": security, "EncryptionConfiguration": {"S3Encryptions": [{"S3EncryptionMode": "SSE-S3"}]}}},
            "Crawler": {"Type": "AWS::Glue::Crawler", "Properties": {
                "Name": crawler, "Role": "arn:aws:iam::123456789012:role/glue", "DatabaseName": {"Ref": "Database"},
                "TablePrefix": "raw_", "Targets": {"S3Targets": [{"Path": "s3://somewhere/raw/"}]},
                "CrawlerSecurityConfiguration": {"Ref": "Security"}}},
            "Job": {"Type": "AWS::Glue::Job", "Properties": {
                "Name": job, "Role": "arn:aws:iam::123456789012:role/glue", "GlueVersion": "5.0",
                "Command": {"Name": "glueetl", "ScriptLocation": "s3://somewhere/job.py"},
                "DefaultArguments": {"--run_date": "2021-12-01"}, "Timeout": 15,
                "ExecutionProperty": {"MaxConcurrentRuns": 1}}},
        },
        "Outputs": {name: {"Value": {"Ref": name}} for name in ("Database", "Security", "Crawler", "Job")},
    }
    cfn, glue = boto_client("cloudformation"), boto_client("glue")
    stack_name = f"glue-types-{suffix}"
    stack_id = cfn.create_stack(StackName=stack_name, TemplateBody=json.dumps(template))["StackId"]
    stack = _wait(cfn, stack_id)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    assert {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]} == {
        "Database": db, "Security": security, "Crawler": crawler, "Job": job}

    assert glue.get_database(Name=db)["Database"]["Description"] == "from a stack"
    assert glue.get_security_configuration(Name=security)["SecurityConfiguration"]["EncryptionConfiguration"] == {
        "S3Encryption": [{"S3EncryptionMode": "SSE-S3"}]}
    created = glue.get_crawler(Name=crawler)["Crawler"]
    assert (created["DatabaseName"], created["TablePrefix"], created["State"]) == (db, "raw_", "READY")
    assert created["CrawlerSecurityConfiguration"] == security
    defined = glue.get_job(JobName=job)["Job"]
    assert (defined["DefaultArguments"], defined["Timeout"], defined["GlueVersion"]) == (
        {"--run_date": "2021-12-01"}, 15, "5.0")

    cfn.delete_stack(StackName=stack_name)
    assert _wait(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"  # a deleted stack is described by its id
    for missing in (lambda: glue.get_database(Name=db), lambda: glue.get_crawler(Name=crawler),
                    lambda: glue.get_job(JobName=job), lambda: glue.get_security_configuration(Name=security)):
        with pytest.raises(ClientError) as gone:
            missing()
        assert gone.value.response["Error"]["Code"] == "EntityNotFoundException"
