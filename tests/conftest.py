"""Suite-wide fixtures: one local AWS server per test process (moto's backends are process-global)."""

from __future__ import annotations

import os

import boto3
import pytest

from tests.unit_test_roles import create_unit_test_roles

for _name, _value in (("AWS_ACCESS_KEY_ID", "local"), ("AWS_SECRET_ACCESS_KEY", "local"),
                      ("AWS_DEFAULT_REGION", "us-east-1"), ("LOCAL_AWS_AUTHORIZATION", "on")):
    os.environ.setdefault(_name, _value)


def pytest_collection_modifyitems(config, items):
    """Files holding end-to-end tests run first, each file's tests in their own order: `make test` hands whole
    files to its two workers in collection order (`--dist loadfile`), so a long file collected late ran alone at
    the end (CI: the crash test ran alone for its last minutes while the other worker had finished)."""
    slow_files = {item.path for item in items if item.get_closest_marker("e2e")}
    items.sort(key=lambda item: item.path not in slow_files)


@pytest.fixture(scope="session")
def local_aws(tmp_path_factory):
    """The started local AWS (free port, state in a temporary folder). Use unique resource names per test."""
    from local_aws.server import LocalAWS

    with LocalAWS(port=0, state_dir=tmp_path_factory.mktemp("local-aws-state")) as server:
        create_unit_test_roles(server.endpoint_url)
        _in_process_servers.append(server)
        yield server
        _in_process_servers.remove(server)


_in_process_servers: list = []


@pytest.fixture(scope="module", autouse=True)
def account_defaults_per_module():
    """Each module starts on the shared server with the unit-test roles in place and leaves the account's defaults
    behind it, so no module depends on which ran before it on its worker: a module may reset moto (which deletes
    the roles) or deploy the template, whose data lake settings are account-wide (Lake Formation Developer Guide,
    "Changing the default settings for your data lake": CreateDatabaseDefaultPermissions becomes [] for every
    database created after it)."""
    if _in_process_servers:
        create_unit_test_roles(_in_process_servers[0].endpoint_url)  # ~10 ms when they exist
    yield
    if _in_process_servers:
        from moto.lakeformation.models import lakeformation_backends

        for _, _, backend in lakeformation_backends.iter_backends():
            backend.settings.clear()  # a defaultdict: each catalog's settings are the defaults again


@pytest.fixture(scope="session")
def boto_client(local_aws):
    """boto_client("s3") -> a boto3 client bound to the local AWS."""

    def make(service: str):
        return boto3.client(service, endpoint_url=local_aws.endpoint_url, region_name=local_aws.region)

    return make
