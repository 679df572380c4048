"""Identity: every request is authorised as the principal its credentials name.

AWS docs: IAM User Guide, "AWS security credentials" and "IAM identifiers" (principal ARNs); STS API Reference,
"GetCallerIdentity" and "AssumeRole" (temporary credentials name the role session).
"""

from __future__ import annotations

import json

import boto3
import pytest

from local_aws import ACCOUNT_ID

TRUST_ACCOUNT = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "sts:AssumeRole"}]}


def _client(local_aws, service, **creds):
    return boto3.client(service, endpoint_url=local_aws.endpoint_url, region_name=local_aws.region, **creds)


@pytest.mark.parametrize("key", ["local", "testing"])
def test_default_test_keys_are_the_account_root(local_aws, key):
    """GetCallerIdentity for the root user: UserId is the account id, Arn arn:aws:iam::<account>:root."""
    who = _client(local_aws, "sts", aws_access_key_id=key, aws_secret_access_key=key).get_caller_identity()
    assert (who["Account"], who["UserId"], who["Arn"]) == (ACCOUNT_ID, ACCOUNT_ID, f"arn:aws:iam::{ACCOUNT_ID}:root")


def test_iam_user_key_and_assumed_role_session_name_their_principal(local_aws, boto_client):
    """An IAM user's access key names the user; AssumeRole's temporary credentials name the role session."""
    iam = boto_client("iam")
    iam.create_user(UserName="ident-alice")
    key = iam.create_access_key(UserName="ident-alice")["AccessKey"]
    alice = dict(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    assert _client(local_aws, "sts", **alice).get_caller_identity()["Arn"] == \
        f"arn:aws:iam::{ACCOUNT_ID}:user/ident-alice"

    role = iam.create_role(RoleName="ident-role", AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))["Role"]
    creds = boto_client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="s1")["Credentials"]
    session = dict(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                   aws_session_token=creds["SessionToken"])
    who = _client(local_aws, "sts", **session).get_caller_identity()
    assert who["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/ident-role/s1"
    assert who["UserId"] == f"{role['RoleId']}:s1"


def test_the_principal_is_set_for_the_request_and_cleared_after(local_aws, boto_client, monkeypatch):
    """The seam Lake Formation and IAM read: principal.current() inside a service handler is the caller."""
    from moto.s3.models import S3Backend

    from local_aws import principal

    seen = []
    original = S3Backend.list_buckets

    def spying(self, *args, **kwargs):
        seen.append(principal.current())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(S3Backend, "list_buckets", spying)
    boto_client("s3").list_buckets()
    assert seen and seen[0].is_root and seen[0].account_id == ACCOUNT_ID
    assert principal.current() is None


def test_a_service_role_session_from_before_a_moto_reset_is_not_handed_out_after_it(local_aws):
    """A reset of moto's backends (POST /moto-api/reset) forgets the STS sessions it issued, so their keys no
    longer sign requests ("The security token included in the request is invalid"); a Glue job run after it must
    get a new session of its (re-created) role, not the cached dead one."""
    import requests

    from local_aws.iam import identity, roles
    from tests.unit_test_roles import create_unit_test_roles

    role = f"arn:aws:iam::{ACCOUNT_ID}:role/glue"
    before = roles.session_for(role, "glue.amazonaws.com", "GlueJobRunnerSession")
    assert identity.resolve(before.access_key_id) is not None
    try:
        assert requests.post(local_aws.endpoint_url + "/moto-api/reset", timeout=30).ok
        assert identity.resolve(before.access_key_id) is None
        create_unit_test_roles(local_aws.endpoint_url)
        after = roles.session_for(role, "glue.amazonaws.com", "GlueJobRunnerSession")
        assert after.access_key_id != before.access_key_id
        who = _client(local_aws, "sts", **after.client_kwargs()).get_caller_identity()
        assert who["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/glue/GlueJobRunnerSession"
    finally:
        create_unit_test_roles(local_aws.endpoint_url)
