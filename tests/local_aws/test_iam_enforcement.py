"""IAM enforced on the wire: each service refuses as AWS words it.

AWS docs: IAM User Guide, "Policy evaluation logic" and "Troubleshoot access denied error messages" (the
"User: <arn> is not authorized to perform: <action> on resource: <arn> because ..." wording); Service
Authorization Reference for each action's resource ARN; Amazon S3 User Guide, "Bucket policy examples using
condition keys" (s3:prefix).
"""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from local_aws import ACCOUNT_ID

TRUST_ACCOUNT = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "sts:AssumeRole"}]}


def _doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def as_user(local_aws, boto_client):
    """as_user(*statements) -> (make_client, user arn): a fresh IAM user with one inline policy."""

    def make(*statements):
        iam = boto_client("iam")
        name = f"u-{uuid.uuid4().hex[:8]}"
        iam.create_user(UserName=name)
        if statements:
            iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=_doc(*statements))
        key = iam.create_access_key(UserName=name)["AccessKey"]

        def client(service):
            return boto3.client(service, endpoint_url=local_aws.endpoint_url, region_name=local_aws.region,
                                aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])

        return client, f"arn:aws:iam::{ACCOUNT_ID}:user/{name}"

    return make


def _crawler(boto_client, name):
    iam = boto_client("iam")
    role = f"crawl-{name}"
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
    boto_client("glue").create_crawler(Name=name, Role=f"arn:aws:iam::{ACCOUNT_ID}:role/{role}",
                                       Targets={"S3Targets": [{"Path": "s3://nowhere/x/"}]})
    return f"arn:aws:glue:us-east-1:{ACCOUNT_ID}:crawler/{name}"


def test_no_identity_policy_denies_with_glue_wording(as_user, boto_client):
    arn = _crawler(boto_client, "enf-c1")
    client, user = as_user()
    with pytest.raises(ClientError) as err:
        client("glue").get_crawler(Name="enf-c1")
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert err.value.response["Error"]["Message"] == (
        f"User: {user} is not authorized to perform: glue:GetCrawler on resource: {arn} "
        "because no identity-based policy allows the glue:GetCrawler action")


def test_explicit_deny_on_an_assumed_role_wins(local_aws, boto_client):
    """The issue's case: an explicit Deny of glue:StartCrawler on a role stops it, as on AWS."""
    arn = _crawler(boto_client, "enf-c2")
    iam = boto_client("iam")
    role = iam.create_role(RoleName="enf-deny", AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))["Role"]
    iam.put_role_policy(RoleName="enf-deny", PolicyName="p", PolicyDocument=_doc(
        {"Effect": "Allow", "Action": "glue:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "glue:StartCrawler", "Resource": arn}))
    creds = boto_client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="s1")["Credentials"]
    glue = boto3.client("glue", endpoint_url=local_aws.endpoint_url, region_name=local_aws.region,
                        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"])
    assert glue.get_crawler(Name="enf-c2")["Crawler"]["Name"] == "enf-c2"
    with pytest.raises(ClientError) as err:
        glue.start_crawler(Name="enf-c2")
    assert err.value.response["Error"]["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/enf-deny/s1 is not authorized to perform: glue:StartCrawler "
        f"on resource: {arn} with an explicit deny in an identity-based policy")


def test_s3_prefix_condition_and_s3_wording(as_user, boto_client):
    """ListBucket limited by s3:prefix (the loader role's ListRaw statement): other prefixes are denied."""
    boto_client("s3").create_bucket(Bucket="enf-lake")
    client, user = as_user({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::enf-lake",
                            "Condition": {"StringLike": {"s3:prefix": ["raw/sales/*"]}}})
    s3 = client("s3")
    assert s3.list_objects_v2(Bucket="enf-lake", Prefix="raw/sales/dt=1/")["KeyCount"] == 0
    with pytest.raises(ClientError) as err:
        s3.list_objects_v2(Bucket="enf-lake", Prefix="processed/")
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    assert err.value.response["Error"]["Message"] == (
        f'User: {user} is not authorized to perform: s3:ListBucket on resource: "arn:aws:s3:::enf-lake" '
        "because no identity-based policy allows the s3:ListBucket action")


def test_bucket_policy_grants_without_identity_policy_and_denies_root(as_user, boto_client):
    """Within one account a bucket policy naming the user allows; its explicit Deny applies to root too."""
    s3_root = boto_client("s3")
    s3_root.create_bucket(Bucket="enf-shared")
    s3_root.put_object(Bucket="enf-shared", Key="a/x", Body=b"1")
    client, user = as_user()
    s3_root.put_bucket_policy(Bucket="enf-shared", Policy=_doc(
        {"Effect": "Allow", "Principal": {"AWS": user}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::enf-shared/a/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::enf-shared/*"}))
    assert client("s3").get_object(Bucket="enf-shared", Key="a/x")["Body"].read() == b"1"
    with pytest.raises(ClientError) as err:
        s3_root.delete_object(Bucket="enf-shared", Key="a/x")
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    assert "with an explicit deny in a resource-based policy" in err.value.response["Error"]["Message"]


def test_topic_policy_grants_and_denies_like_a_bucket_policy(as_user, boto_client):
    """Amazon SNS Developer Guide, "Using identity-based policies with Amazon SNS" and "Example cases for Amazon SNS
    access control": the topic's access policy is a resource-based policy, evaluated with the caller's; a topic
    with AWS's default policy (its AWS:SourceOwner condition) leaves a same-account user to its identity policy.
    The wording is AWS-recorded ("... not authorized to perform: SNS:Publish on resource: ... because no
    identity-based policy allows the SNS:Publish action")."""
    sns = boto_client("sns")
    granted = sns.create_topic(Name="enf-granted")["TopicArn"]
    denied = sns.create_topic(Name="enf-denied")["TopicArn"]
    default = sns.create_topic(Name="enf-default")["TopicArn"]
    client, user = as_user({"Effect": "Allow", "Action": "sns:Publish", "Resource": denied})
    sns.set_topic_attributes(TopicArn=granted, AttributeName="Policy", AttributeValue=_doc(
        {"Effect": "Allow", "Principal": {"AWS": user}, "Action": "sns:Publish", "Resource": granted}))
    sns.set_topic_attributes(TopicArn=denied, AttributeName="Policy", AttributeValue=_doc(
        {"Effect": "Deny", "Principal": "*", "Action": "sns:Publish", "Resource": denied}))
    assert client("sns").publish(TopicArn=granted, Message="m")["MessageId"]
    for arn, because in ((denied, "with an explicit deny in a resource-based policy"),
                         (default, "because no identity-based policy allows the SNS:Publish action")):
        with pytest.raises(ClientError) as err:
            client("sns").publish(TopicArn=arn, Message="m")
        assert err.value.response["Error"]["Code"] == "AuthorizationError"
        assert err.value.response["Error"]["Message"] == (
            f"User: {user} is not authorized to perform: SNS:Publish on resource: {arn} {because}")


def test_query_protocol_services_say_access_denied(as_user):
    client, user = as_user({"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"})
    with pytest.raises(ClientError) as err:
        client("iam").create_role(RoleName="enf-nope", AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    assert err.value.response["Error"]["Message"] == (
        f"User: {user} is not authorized to perform: iam:CreateRole on resource: "
        f"arn:aws:iam::{ACCOUNT_ID}:role/enf-nope because no identity-based policy allows the iam:CreateRole action")


def test_get_caller_identity_needs_no_permission(as_user):
    """STS API Reference, GetCallerIdentity: "No permissions are required ... even if explicitly denied"."""
    client, user = as_user({"Effect": "Deny", "Action": "*", "Resource": "*"})
    assert client("sts").get_caller_identity()["Arn"] == user


def test_assume_role_needs_the_trust_policy_and_an_identity_allow(as_user, boto_client):
    """"IAM roles: How to use a trust policy": a trust policy naming the account delegates to identity policies;
    a role whose trust policy names only a service cannot be assumed by a user."""
    iam = boto_client("iam")
    open_role = iam.create_role(RoleName="enf-trusting", AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))["Role"]
    glue_only = iam.create_role(RoleName="enf-glue-only", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}))["Role"]
    client, user = as_user({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"})
    sts = client("sts")
    assert sts.assume_role(RoleArn=open_role["Arn"], RoleSessionName="ok")["Credentials"]["AccessKeyId"]
    with pytest.raises(ClientError) as err:
        sts.assume_role(RoleArn=glue_only["Arn"], RoleSessionName="no")
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    assert err.value.response["Error"]["Message"] == (
        f"User: {user} is not authorized to perform: sts:AssumeRole on resource: {glue_only['Arn']} "
        "because no resource-based policy allows the sts:AssumeRole action")
    nothing, _ = as_user()
    with pytest.raises(ClientError, match="because no identity-based policy allows the sts:AssumeRole action"):
        nothing("sts").assume_role(RoleArn=open_role["Arn"], RoleSessionName="no")


def test_session_policy_limits_the_role_session(local_aws, boto_client):
    """"Policy evaluation logic" / "Session policies": an AssumeRole session policy intersects with the role's."""
    _crawler(boto_client, "enf-c3")
    iam = boto_client("iam")
    role = iam.create_role(RoleName="enf-session", AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))["Role"]
    iam.put_role_policy(RoleName="enf-session", PolicyName="p",
                        PolicyDocument=_doc({"Effect": "Allow", "Action": "glue:*", "Resource": "*"}))
    creds = boto_client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="narrow", Policy=_doc(
        {"Effect": "Allow", "Action": "glue:GetCrawler", "Resource": "*"}))["Credentials"]
    glue = boto3.client("glue", endpoint_url=local_aws.endpoint_url, region_name=local_aws.region,
                        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"])
    assert glue.get_crawler(Name="enf-c3")["Crawler"]["Name"] == "enf-c3"
    with pytest.raises(ClientError, match="because no session policy allows the glue:StartCrawler action"):
        glue.start_crawler(Name="enf-c3")


def test_creating_a_state_machine_needs_iam_pass_role(as_user, boto_client):
    """IAM User Guide, "Grant a user permissions to pass a role to an AWS service": iam:PassRole on the role,
    limited by iam:PassedToService."""
    iam = boto_client("iam")
    role = iam.create_role(RoleName="enf-passed", AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))["Role"]["Arn"]
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    create = {"Effect": "Allow", "Action": "states:CreateStateMachine", "Resource": "*"}
    client, user = as_user(create)
    with pytest.raises(ClientError) as err:
        client("stepfunctions").create_state_machine(name="enf-pass-1", roleArn=role, definition=definition)
    assert err.value.response["Error"]["Message"] == (
        f"User: {user} is not authorized to perform: iam:PassRole on resource: {role} "
        "because no identity-based policy allows the iam:PassRole action")
    wrong_service, _ = as_user(create, {"Effect": "Allow", "Action": "iam:PassRole", "Resource": role,
                                        "Condition": {"StringEquals": {"iam:PassedToService": "glue.amazonaws.com"}}})
    with pytest.raises(ClientError, match="iam:PassRole"):
        wrong_service("stepfunctions").create_state_machine(name="enf-pass-2", roleArn=role, definition=definition)
    allowed, _ = as_user(create, {"Effect": "Allow", "Action": "iam:PassRole", "Resource": role,
                                  "Condition": {"StringEquals": {"iam:PassedToService": "states.amazonaws.com"}}})
    assert allowed("stepfunctions").create_state_machine(name="enf-pass-3", roleArn=role,
                                                         definition=definition)["stateMachineArn"]


def test_delete_objects_authorises_each_key(as_user, boto_client):
    """Amazon S3 API Reference, DeleteObjects: s3:DeleteObject is needed on each key (a prefix-limited grant)."""
    s3_root = boto_client("s3")
    s3_root.create_bucket(Bucket="enf-multi")
    for key in ("raw/a", "raw/b", "keep/c"):
        s3_root.put_object(Bucket="enf-multi", Key=key, Body=b"1")
    client, user = as_user({"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::enf-multi/raw/*"})
    client("s3").delete_objects(Bucket="enf-multi", Delete={"Objects": [{"Key": "raw/a"}, {"Key": "raw/b"}]})
    with pytest.raises(ClientError, match="s3:DeleteObject"):
        client("s3").delete_objects(Bucket="enf-multi", Delete={"Objects": [{"Key": "raw/a"}, {"Key": "keep/c"}]})
    assert [o["Key"] for o in s3_root.list_objects_v2(Bucket="enf-multi")["Contents"]] == ["keep/c"]


def test_missing_key_is_403_without_list_bucket(as_user, boto_client):
    """Amazon S3 API Reference, GetObject "Permissions": a missing key is 404 NoSuchKey for a caller with
    s3:ListBucket on the bucket, else 403 Access Denied."""
    boto_client("s3").create_bucket(Bucket="enf-missing")
    read = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::enf-missing/*"}
    reader, _ = as_user(read)
    with pytest.raises(ClientError) as err:
        reader("s3").get_object(Bucket="enf-missing", Key="nope")
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    lister, _ = as_user(read, {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::enf-missing"})
    with pytest.raises(ClientError) as err:
        lister("s3").get_object(Bucket="enf-missing", Key="nope")
    assert err.value.response["Error"]["Code"] == "NoSuchKey"
