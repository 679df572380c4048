"""The AWS CLI (awscli v1 from the venv) against the local endpoint, as a user or a Makefile drives it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

AWS = os.path.join(os.path.dirname(sys.executable), "aws")


def cli(local_aws, *args: str) -> subprocess.CompletedProcess:
    out = subprocess.run([AWS, "--endpoint-url", local_aws.endpoint_url, "--region", "us-east-1", *args],
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    return out


def test_s3_cp_multipart_round_trip_and_ls(local_aws, boto_client, tmp_path):
    bucket = f"cli-{uuid.uuid4().hex[:8]}"
    boto_client("s3").create_bucket(Bucket=bucket)
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(9 * 1024 * 1024))  # over the CLI's 8 MB multipart threshold
    cli(local_aws, "s3", "cp", str(source), f"s3://{bucket}/raw/big.bin")
    listing = cli(local_aws, "s3", "ls", f"s3://{bucket}/raw/").stdout
    assert "big.bin" in listing and str(source.stat().st_size) in listing
    copy = tmp_path / "copy.bin"
    cli(local_aws, "s3", "cp", f"s3://{bucket}/raw/big.bin", str(copy))
    assert copy.read_bytes() == source.read_bytes()


def test_stepfunctions_create_start_and_describe(local_aws):
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": True}, "End": True}}})
    name = f"cli-{uuid.uuid4().hex[:8]}"
    arn = json.loads(cli(local_aws, "stepfunctions", "create-state-machine", "--name", name, "--definition",
                         definition, "--role-arn", "arn:aws:iam::123456789012:role/cli").stdout)["stateMachineArn"]
    machines = json.loads(cli(local_aws, "stepfunctions", "list-state-machines").stdout)["stateMachines"]
    assert name in {m["name"] for m in machines}
    execution = json.loads(cli(local_aws, "stepfunctions", "start-execution", "--state-machine-arn", arn).stdout)
    for _ in range(100):
        described = json.loads(cli(local_aws, "stepfunctions", "describe-execution", "--execution-arn",
                                   execution["executionArn"]).stdout)
        if described["status"] != "RUNNING":
            break
    assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == {"ok": True}
