"""Suite-wide fixtures: one local AWS server per test process (moto's backends are process-global)."""

from __future__ import annotations

import os

import boto3
import pytest

for _name, _value in (("AWS_ACCESS_KEY_ID", "local"), ("AWS_SECRET_ACCESS_KEY", "local"),
                      ("AWS_DEFAULT_REGION", "us-east-1")):
    os.environ.setdefault(_name, _value)


@pytest.fixture(scope="session")
def local_aws(tmp_path_factory):
    """The started local AWS (free port, state in a temporary folder). Use unique resource names per test."""
    from local_aws.server import LocalAWS

    with LocalAWS(port=0, state_dir=tmp_path_factory.mktemp("local-aws-state")) as server:
        yield server


@pytest.fixture(scope="session")
def boto_client(local_aws):
    """boto_client("s3") -> a boto3 client bound to the local AWS."""

    def make(service: str):
        return boto3.client(service, endpoint_url=local_aws.endpoint_url, region_name=local_aws.region)

    return make
