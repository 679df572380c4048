"""SigV4 checked as AWS checks it: a wrong secret, a wrong session token or an unknown key is refused, worded
per service.

AWS docs: IAM User Guide, "Create a signed AWS API request" and "Troubleshoot signing errors"
(SignatureDoesNotMatch; JSON services: InvalidSignatureException); STS/IAM errors InvalidClientTokenId "The
security token included in the request is invalid."; Amazon S3 API Reference, "Error responses"
(SignatureDoesNotMatch, InvalidAccessKeyId) and "Authenticating Requests: Using Query Parameters" (presigned URLs).
"""

from __future__ import annotations

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError


def _client(local_aws, service, key="local", secret="local", token=None):
    return boto3.client(service, endpoint_url=local_aws.endpoint_url, region_name=local_aws.region,
                        aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token)


def _code(call) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        call()
    return err.value.response["Error"]["Code"], err.value.response["Error"].get("Message", "")


def test_right_secret_signs_every_protocol(local_aws):
    """Header-signed S3 (odd key characters), JSON, query and form requests all verify with the right secret."""
    s3 = _client(local_aws, "s3")
    s3.create_bucket(Bucket="sig-ok")
    key = "raw/sales/dt=2021-12-01/a b+c~(1).csv"
    s3.put_object(Bucket="sig-ok", Key=key, Body=b"x")
    assert s3.get_object(Bucket="sig-ok", Key=key)["Body"].read() == b"x"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="sig-ok", Prefix="raw/sales/dt=")["Contents"]] == [key]
    _client(local_aws, "glue").get_databases()
    _client(local_aws, "sts").get_caller_identity()
    _client(local_aws, "iam").list_roles()


def test_wrong_secret_is_signature_does_not_match_per_service(local_aws):
    assert _code(lambda: _client(local_aws, "s3", secret="wrong").list_buckets()) == (
        "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.")
    assert _code(lambda: _client(local_aws, "sts", secret="wrong").get_caller_identity())[0] == \
        "SignatureDoesNotMatch"
    assert _code(lambda: _client(local_aws, "glue", secret="wrong").get_databases())[0] == \
        "InvalidSignatureException"


def test_unknown_key_and_wrong_session_token(local_aws, boto_client):
    assert _code(lambda: _client(local_aws, "s3", key="AKIANOBODY").list_buckets()) == (
        "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
    assert _code(lambda: _client(local_aws, "sts", key="AKIANOBODY").get_caller_identity()) == (
        "InvalidClientTokenId", "The security token included in the request is invalid.")
    assert _code(lambda: _client(local_aws, "glue", key="AKIANOBODY").get_databases())[0] == \
        "UnrecognizedClientException"
    iam = boto_client("iam")
    role = iam.create_role(RoleName="sig-role", AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": '
                           '[{"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "sts:AssumeRole"}]}')
    creds = boto_client("sts").assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName="sig")["Credentials"]
    assert _code(lambda: _client(local_aws, "sts", creds["AccessKeyId"], creds["SecretAccessKey"],
                                 "not-the-token").get_caller_identity())[0] == "InvalidClientTokenId"
    assert _client(local_aws, "sts", creds["AccessKeyId"], creds["SecretAccessKey"],
                   creds["SessionToken"]).get_caller_identity()["Arn"].endswith(":assumed-role/sig-role/sig")


def test_presigned_url_verifies_and_a_tampered_one_does_not(local_aws):
    s3 = boto3.client("s3", endpoint_url=local_aws.endpoint_url, region_name=local_aws.region,
                      aws_access_key_id="local", aws_secret_access_key="local",
                      config=Config(signature_version="s3v4"))
    s3.create_bucket(Bucket="sig-presign")
    s3.put_object(Bucket="sig-presign", Key="a/b.csv", Body=b"presigned")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "sig-presign", "Key": "a/b.csv"}, ExpiresIn=60)
    assert requests.get(url).content == b"presigned"
    tampered = requests.get(url.replace("a/b.csv", "a/c.csv"))
    assert tampered.status_code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in tampered.content
    v2 = _client(local_aws, "s3").generate_presigned_url("get_object", Params={"Bucket": "sig-presign",
                                                                               "Key": "a/b.csv"})
    refused = requests.get(v2)  # Signature Version 2 is not emulated: refused by name, never let through
    assert refused.status_code == 501 and b"Signature Version 4" in refused.content


def test_unsigned_requests_are_anonymous(local_aws):
    """Anonymous S3 access needs a bucket policy allowing "*"; other services want a signature."""
    _client(local_aws, "s3").create_bucket(Bucket="sig-anon")
    assert requests.get(f"{local_aws.endpoint_url}/sig-anon").status_code == 403
    assert requests.post(local_aws.endpoint_url + "/", data={"Action": "ListRoles"}).status_code == 403


def test_request_time_more_than_15_minutes_off_is_refused(local_aws, monkeypatch):
    """"Troubleshoot signing errors": a request signed more than 15 minutes from AWS's clock is refused
    (S3: RequestTimeTooSkewed; others: "Signature expired")."""
    import datetime as dt

    import botocore.auth

    late = botocore.auth.get_current_datetime() - dt.timedelta(minutes=20)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: late)
    assert _code(lambda: _client(local_aws, "s3").list_buckets())[0] == "RequestTimeTooSkewed"
    code, message = _code(lambda: _client(local_aws, "sts").get_caller_identity())
    assert code == "SignatureDoesNotMatch" and message.startswith("Signature expired: ")
