"""The server as a user runs it: `python -m local_aws serve`, health, SIGTERM, state across restarts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from server_process import start_server, stop_server

from local_aws.server import HEALTH_PATH, free_port

TLS_ONLY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
     "Resource": ["arn:aws:s3:::lake-persist", "arn:aws:s3:::lake-persist/*"],
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}


def test_serve_health_sigterm_and_state_survives_restart(tmp_path):
    port = free_port()
    proc, url = start_server(tmp_path / "state", port)
    try:
        health = requests.get(url + HEALTH_PATH).json()
        assert health["status"] == "running" and "s3" in health["services"]
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
        s3.create_bucket(Bucket="lake-persist")
        s3.put_bucket_versioning(Bucket="lake-persist", VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_policy(Bucket="lake-persist", Policy=json.dumps(TLS_ONLY))
        s3.put_object(Bucket="lake-persist", Key="raw/sales/dt=2021-12-01/sales.csv", Body=b"a,b\n1,2\n")
    finally:
        stop_server(proc)
    assert (tmp_path / "state" / "state" / "journal").is_dir()

    proc, url = start_server(tmp_path / "state", port)
    try:
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
        body = s3.get_object(Bucket="lake-persist", Key="raw/sales/dt=2021-12-01/sales.csv")["Body"].read()
        assert body == b"a,b\n1,2\n"
        assert s3.get_bucket_versioning(Bucket="lake-persist")["Status"] == "Enabled"
        assert json.loads(s3.get_bucket_policy(Bucket="lake-persist")["Policy"]) == TLS_ONLY
    finally:
        stop_server(proc)


def test_unconditional_bucket_policy_deny_is_enforced(boto_client):
    s3 = boto_client("s3")
    s3.create_bucket(Bucket="locked-bucket")
    s3.put_bucket_policy(Bucket="locked-bucket", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        TLS_ONLY["Statement"][0] | {"Resource": "arn:aws:s3:::locked-bucket/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
         "Resource": "arn:aws:s3:::locked-bucket/keep/*"}]}))
    s3.put_object(Bucket="locked-bucket", Key="keep/x", Body=b"1")  # TLS-only does not deny local calls
    with pytest.raises(ClientError, match="403|Forbidden|AccessDenied"):
        s3.delete_object(Bucket="locked-bucket", Key="keep/x")


def test_aws_cli_lists_buckets(local_aws, boto_client):
    boto_client("s3").create_bucket(Bucket="cli-visible-bucket")
    aws = os.path.join(os.path.dirname(sys.executable), "aws")
    out = subprocess.run([aws, "--endpoint-url", local_aws.endpoint_url, "s3api", "list-buckets", "--output",
                          "json"], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"})
    assert out.returncode == 0, out.stderr
    assert "cli-visible-bucket" in {b["Name"] for b in json.loads(out.stdout)["Buckets"]}
