"""CloudFormation types declared by the Redshift and Athena services (services/redshift.py, services/athena.py)."""

from __future__ import annotations

import json
import uuid

TEMPLATE = {
    "Resources": {
        "Warehouse": {"Type": "AWS::Redshift::Cluster", "Properties": {
            "ClusterIdentifier": "CFN-Wh-{suffix}", "NodeType": "ra3.large", "ClusterType": "single-node",
            "MasterUsername": "admin", "MasterUserPassword": "Secret-Passw0rd", "DBName": "dev",
            "IamRoles": ["arn:aws:iam::123456789012:role/cfn-redshift"]}},
        "WorkGroup": {"Type": "AWS::Athena::WorkGroup", "Properties": {
            "Name": "cfn-wg-{suffix}", "Description": "from a template",
            "WorkGroupConfiguration": {"EnforceWorkGroupConfiguration": True,
                                       "ResultConfiguration": {"OutputLocation": "s3://cfn-results/q/"}}}},
    },
    "Outputs": {"ClusterId": {"Value": {"Ref": "Warehouse"}}, "WorkGroupName": {"Value": {"Ref": "WorkGroup"}}},
}


def test_cluster_keeps_its_identifier_and_workgroup_is_created(boto_client):
    """AWS::Redshift::Cluster: ClusterIdentifier names the cluster (stored in lower case, as Redshift does) and Ref
    returns it; AWS::Athena::WorkGroup: created with its configuration, Ref returns the name (CloudFormation User
    Guide, the two resource type pages)."""
    suffix = uuid.uuid4().hex[:6]
    body = json.dumps(TEMPLATE).replace("{suffix}", suffix)
    cfn = boto_client("cloudformation")
    cfn.create_stack(StackName=f"cfn-{suffix}", TemplateBody=body)
    stack = cfn.describe_stacks(StackName=f"cfn-{suffix}")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs == {"ClusterId": f"cfn-wh-{suffix}", "WorkGroupName": f"cfn-wg-{suffix}"}
    cluster = boto_client("redshift").describe_clusters(ClusterIdentifier=f"cfn-wh-{suffix}")["Clusters"][0]
    assert cluster["DBName"] == "dev"
    assert [r["IamRoleArn"] for r in cluster["IamRoles"]] == ["arn:aws:iam::123456789012:role/cfn-redshift"]
    group = boto_client("athena").get_work_group(WorkGroup=f"cfn-wg-{suffix}")["WorkGroup"]
    assert group["Configuration"]["ResultConfiguration"]["OutputLocation"] == "s3://cfn-results/q/"
    assert group["Description"] == "from a template"
