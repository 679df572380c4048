"""Lake Formation through boto3: settings, grants, LF-tags as AWS answers them, and state across a crash."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError
from server_process import start_server

from local_aws.server import free_port

ANALYST = "arn:aws:iam::123456789012:role/analyst"


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def glue_db(boto_client):
    name = unique("lfdb")
    glue = boto_client("glue")
    glue.create_database(DatabaseInput={"Name": name})
    glue.create_table(DatabaseName=name, TableInput={"Name": "sales", "StorageDescriptor": {
        "Columns": [{"Name": "price", "Type": "double"}], "Location": "s3://lake/sales/"}})
    return name


def permissions_of(lf, principal: str, resource: dict) -> list[dict]:
    return lf.list_permissions(Principal={"DataLakePrincipalIdentifier": principal},
                               Resource=resource)["PrincipalResourcePermissions"]


def test_settings_round_trip(boto_client):
    lf = boto_client("lakeformation")
    before = lf.get_data_lake_settings()["DataLakeSettings"]
    admin = "arn:aws:iam::123456789012:role/lf-admin"
    lf.put_data_lake_settings(DataLakeSettings={"DataLakeAdmins": [{"DataLakePrincipalIdentifier": admin}],
                                                "CreateDatabaseDefaultPermissions": [],
                                                "CreateTableDefaultPermissions": []})
    try:
        settings = lf.get_data_lake_settings()["DataLakeSettings"]
        assert settings["DataLakeAdmins"] == [{"DataLakePrincipalIdentifier": admin}]
        assert settings["CreateTableDefaultPermissions"] == []
    finally:  # the account's settings decide what later tests' databases grant: put them back
        lf.put_data_lake_settings(DataLakeSettings=before)


def test_grant_list_and_revoke_on_a_table(boto_client, glue_db):
    lf = boto_client("lakeformation")
    resource = {"Table": {"DatabaseName": glue_db, "Name": "sales"}}
    lf.grant_permissions(Principal={"DataLakePrincipalIdentifier": ANALYST}, Resource=resource,
                         Permissions=["SELECT", "DESCRIBE"])
    granted = permissions_of(lf, ANALYST, resource)
    assert len(granted) == 1 and sorted(granted[0]["Permissions"]) == ["DESCRIBE", "SELECT"]

    lf.revoke_permissions(Principal={"DataLakePrincipalIdentifier": ANALYST}, Resource=resource,
                          Permissions=["SELECT"])
    assert [p["Permissions"] for p in permissions_of(lf, ANALYST, resource)] == [["DESCRIBE"]]
    lf.revoke_permissions(Principal={"DataLakePrincipalIdentifier": ANALYST}, Resource=resource,
                          Permissions=["DESCRIBE"])
    assert permissions_of(lf, ANALYST, resource) == []


def test_grant_on_missing_catalog_objects_is_entity_not_found(boto_client, glue_db):
    lf = boto_client("lakeformation")
    principal = {"DataLakePrincipalIdentifier": ANALYST}
    with pytest.raises(ClientError) as missing_db:
        lf.grant_permissions(Principal=principal, Resource={"Database": {"Name": unique("nodb")}},
                             Permissions=["DESCRIBE"])
    assert missing_db.value.response["Error"]["Code"] == "EntityNotFoundException"
    with pytest.raises(ClientError) as missing_table:
        lf.grant_permissions(Principal=principal, Resource={"Table": {"DatabaseName": glue_db, "Name": "nope"}},
                             Permissions=["SELECT"])
    assert missing_table.value.response["Error"]["Code"] == "EntityNotFoundException"
    assert "nope" in missing_table.value.response["Error"]["Message"]
    # A table wildcard needs only the database.
    lf.grant_permissions(Principal=principal, Resource={"Table": {"DatabaseName": glue_db, "TableWildcard": {}}},
                         Permissions=["SELECT"])


def test_lf_tags_define_assign_and_read(boto_client, glue_db):
    lf = boto_client("lakeformation")
    key = unique("classification")
    lf.create_lf_tag(TagKey=key, TagValues=["public", "internal"])
    with pytest.raises(ClientError) as duplicate:
        lf.create_lf_tag(TagKey=key, TagValues=["x"])
    assert duplicate.value.response["Error"]["Code"] == "AlreadyExistsException"
    assert any(t["TagKey"] == key and sorted(t["TagValues"]) == ["internal", "public"]
               for t in lf.list_lf_tags()["LFTags"])

    database = {"Database": {"Name": glue_db}}
    # Untagged: empty answer (moto returned 500).
    assert "LFTagOnDatabase" not in lf.get_resource_lf_tags(Resource=database)

    assert lf.add_lf_tags_to_resource(Resource=database, LFTags=[{"TagKey": key, "TagValues": ["internal"]}]
                                      )["Failures"] == []
    # Re-assigning the key replaces its value instead of adding a second one.
    lf.add_lf_tags_to_resource(Resource=database, LFTags=[{"TagKey": key, "TagValues": ["public"]}])
    tags = lf.get_resource_lf_tags(Resource=database)["LFTagOnDatabase"]
    assert [(t["TagKey"], t["TagValues"]) for t in tags] == [(key, ["public"])]

    failures = lf.add_lf_tags_to_resource(Resource=database, LFTags=[{"TagKey": key, "TagValues": ["secret"]}]
                                          )["Failures"]
    assert failures and failures[0]["Error"]["ErrorCode"] == "InvalidInputException"
    failures = lf.add_lf_tags_to_resource(Resource=database, LFTags=[{"TagKey": unique("nokey"),
                                                                      "TagValues": ["a"]}])["Failures"]
    assert failures and failures[0]["Error"]["ErrorCode"] == "EntityNotFoundException"

    with pytest.raises(ClientError) as wildcard:
        lf.get_resource_lf_tags(Resource={"Table": {"DatabaseName": glue_db, "TableWildcard": {}}})
    assert wildcard.value.response["Error"]["Code"] == "InvalidInputException"

    lf.remove_lf_tags_from_resource(Resource=database, LFTags=[{"TagKey": key, "TagValues": ["public"]}])
    assert "LFTagOnDatabase" not in lf.get_resource_lf_tags(Resource=database)
    lf.delete_lf_tag(TagKey=key)
    with pytest.raises(ClientError) as gone:
        lf.get_lf_tag(TagKey=key)
    assert gone.value.response["Error"]["Code"] == "EntityNotFoundException"


def test_aws_cli_lists_permissions(local_aws, boto_client, glue_db):
    boto_client("lakeformation").grant_permissions(
        Principal={"DataLakePrincipalIdentifier": ANALYST}, Resource={"Database": {"Name": glue_db}},
        Permissions=["DESCRIBE"])
    result = subprocess.run([sys.executable, "-m", "awscli", "--endpoint-url", local_aws.endpoint_url,
                             "--region", "us-east-1", "lakeformation", "list-permissions", "--resource",
                             f'{{"Database": {{"Name": "{glue_db}"}}}}', "--output", "json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert ANALYST in result.stdout and glue_db in result.stdout


# A stack whose grant goes to a role it creates. The stack is restored, not re-created: the role keeps its ARN and
# the grant stays one grant to it; deleting the stack revokes it.
STACK = {"Resources": {
    "Db": {"Type": "AWS::Glue::Database", "Properties": {"CatalogId": {"Ref": "AWS::AccountId"},
                                                          "DatabaseInput": {"Name": "lf_stack_db"}}},
    "Reader": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}}},
    "Grant": {"Type": "AWS::LakeFormation::PrincipalPermissions", "Properties": {
        "Principal": {"DataLakePrincipalIdentifier": {"Fn::GetAtt": ["Reader", "Arn"]}},
        "Resource": {"Database": {"CatalogId": {"Ref": "AWS::AccountId"}, "Name": {"Ref": "Db"}}},
        "Permissions": ["DESCRIBE"], "PermissionsWithGrantOption": []}}}}


def stack_grants(lf) -> list[dict]:
    return [p for p in lf.list_permissions(Resource={"Database": {"Name": "lf_stack_db"}})
            ["PrincipalResourcePermissions"] if ":role/" in p["Principal"]["DataLakePrincipalIdentifier"]]


def test_settings_grants_and_tags_survive_a_crash(tmp_path):
    """Everything Lake Formation acknowledged before a SIGKILL is there after the restart: settings, registered
    locations, grants, LF-tags and their assignments ("Lake Formation permissions reference" and "LF-tags", AWS
    Lake Formation Developer Guide). A stack's grant keeps its principal (the stack's role, same ARN) and goes when
    the stack is deleted, as a PrincipalPermissions resource's grant does on AWS."""
    state, port = tmp_path / "state", free_port()
    resource = {"DataLocation": {"ResourceArn": "arn:aws:s3:::lake-lf/raw"}}
    proc, url = start_server(state, port)
    try:
        lf = boto3.client("lakeformation", endpoint_url=url, region_name="us-east-1")
        lf.put_data_lake_settings(DataLakeSettings={"DataLakeAdmins": [{"DataLakePrincipalIdentifier": ANALYST}]})
        lf.register_resource(ResourceArn="arn:aws:s3:::lake-lf/raw", RoleArn=ANALYST)
        lf.grant_permissions(Principal={"DataLakePrincipalIdentifier": ANALYST}, Resource=resource,
                             Permissions=["DATA_LOCATION_ACCESS"])
        lf.create_lf_tag(TagKey="tier", TagValues=["gold", "silver"])
        cfn = boto3.client("cloudformation", endpoint_url=url, region_name="us-east-1")
        cfn.create_stack(StackName="lf-stack", TemplateBody=json.dumps(STACK), Capabilities=["CAPABILITY_IAM"])
        lf.add_lf_tags_to_resource(Resource={"Database": {"Name": "lf_stack_db"}},
                                   LFTags=[{"TagKey": "tier", "TagValues": ["gold"]}])
        before = stack_grants(lf)
        assert len(before) == 1
    finally:
        proc.kill()  # SIGKILL: nothing is written at exit
        proc.wait(timeout=30)

    proc, url = start_server(state, port)
    try:
        lf = boto3.client("lakeformation", endpoint_url=url, region_name="us-east-1")
        assert lf.get_data_lake_settings()["DataLakeSettings"]["DataLakeAdmins"] == [
            {"DataLakePrincipalIdentifier": ANALYST}]
        assert [r["ResourceArn"] for r in lf.list_resources()["ResourceInfoList"]] == ["arn:aws:s3:::lake-lf/raw"]
        assert [p["Permissions"] for p in permissions_of(lf, ANALYST, resource)] == [["DATA_LOCATION_ACCESS"]]
        assert sorted(lf.get_lf_tag(TagKey="tier")["TagValues"]) == ["gold", "silver"]
        tags = lf.get_resource_lf_tags(Resource={"Database": {"Name": "lf_stack_db"}})["LFTagOnDatabase"]
        assert [(t["TagKey"], t["TagValues"]) for t in tags] == [("tier", ["gold"])]
        assert stack_grants(lf) == before

        cfn = boto3.client("cloudformation", endpoint_url=url, region_name="us-east-1")
        cfn.delete_stack(StackName="lf-stack")
        assert [s["StackStatus"] for s in cfn.list_stacks()["StackSummaries"]
                if s["StackName"] == "lf-stack"] == ["DELETE_COMPLETE"]
        assert stack_grants(lf) == []
        # The grants that were not the stack's stay.
        assert [p["Permissions"] for p in permissions_of(lf, ANALYST, resource)] == [["DATA_LOCATION_ACCESS"]]
    finally:
        proc.kill()
        proc.wait(timeout=30)
