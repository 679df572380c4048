"""The IAM roles the service tests name for their state machines, Glue jobs and crawlers, Lambda functions and
clusters: with authorization on, a service acts as its role, which must exist and trust the service, as on AWS."""

from __future__ import annotations

import json

import boto3

# They may do anything: those tests are about the services; least privilege is tested in tests/local_aws/test_iam_*.py.
UNIT_TEST_ROLES = ("sfn-test", "sfn", "glue", "r", "durable", "cli", "salespipe-redshift-role", "cfn-redshift",
                   "sforchlab/sforchlab-RedshiftExecutionRole")
SERVICES = ("states.amazonaws.com", "glue.amazonaws.com", "lambda.amazonaws.com", "redshift.amazonaws.com")


def create_unit_test_roles(endpoint_url: str, names=UNIT_TEST_ROLES) -> None:
    iam = boto3.client("iam", endpoint_url=endpoint_url, region_name="us-east-1")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": list(SERVICES)}, "Action": "sts:AssumeRole"}]}
    anything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    for path_and_name in names:
        path, _, name = path_and_name.rpartition("/")
        try:
            iam.create_role(RoleName=name, Path=f"/{path}/" if path else "/",
                            AssumeRolePolicyDocument=json.dumps(trust))
        except iam.exceptions.EntityAlreadyExistsException:  # a restarted server kept them
            continue
        iam.put_role_policy(RoleName=name, PolicyName="anything", PolicyDocument=json.dumps(anything))
