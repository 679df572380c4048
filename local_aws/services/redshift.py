"""Redshift (the control plane): moto's clusters, mended where the local AWS needs them.

- CloudFormation: the subnet and parameter groups have their name as physical id and GetAtt value;
  ``AWS::Redshift::Cluster`` GetAtt Endpoint.Address is the host name; the cluster keeps its
  ``ClusterIdentifier`` (moto names the cluster after the
  logical id), resolves subnet and parameter group references, attaches ``IamRoles``, and ``Ref`` gives the
  cluster identifier, as AWS documents for the type (moto returns the model object).
- DeleteCluster also deletes the cluster's databases in the local warehouse (``services/redshift_data.py``), so a
  cluster created again under the same identifier starts empty, as a new cluster does on AWS.

moto's ``RedshiftBackend`` holds all the state (clusters, subnet groups, snapshots); the state store saves it with
every request to the service.
"""

from __future__ import annotations

from moto.redshift.models import Cluster, redshift_backends

from local_aws.patches import add, patch
from local_aws.services.redshift_data import redshift_data_backends


@patch("moto.redshift.models.Cluster.create_from_cloudformation_json", why="the cluster keeps the template's "
       "ClusterIdentifier (moto uses the logical id), group references resolve to names, IamRoles attach; an "
       "existing cluster of that identifier is adopted")
@classmethod
def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    props = cloudformation_json["Properties"]
    backend = redshift_backends[account_id][region_name]
    # AWS lower-cases cluster identifiers
    identifier = (props.get("ClusterIdentifier") or resource_name).lower()
    if identifier in backend.clusters:
        return backend.clusters[identifier]
    subnet_group = props.get("ClusterSubnetGroupName")
    subnet_group = getattr(subnet_group, "cluster_subnet_group_name", subnet_group)
    parameter_group = props.get("ClusterParameterGroupName")
    parameter_group = getattr(parameter_group, "cluster_parameter_group_name", parameter_group)
    cluster = backend.create_cluster(
        cluster_identifier=identifier, node_type=props.get("NodeType"),
        master_username=props.get("MasterUsername"), master_user_password=props.get("MasterUserPassword"),
        db_name=props.get("DBName"), cluster_type=props.get("ClusterType"),
        cluster_security_groups=props.get("ClusterSecurityGroups", []),
        vpc_security_group_ids=props.get("VpcSecurityGroupIds", []), cluster_subnet_group_name=subnet_group,
        availability_zone=props.get("AvailabilityZone"),
        preferred_maintenance_window=props.get("PreferredMaintenanceWindow"),
        cluster_parameter_group_name=parameter_group,
        automated_snapshot_retention_period=props.get("AutomatedSnapshotRetentionPeriod"),
        port=props.get("Port"), cluster_version=props.get("ClusterVersion"),
        allow_version_upgrade=props.get("AllowVersionUpgrade"),
        enhanced_vpc_routing=props.get("EnhancedVpcRouting"), number_of_nodes=props.get("NumberOfNodes"),
        publicly_accessible=props.get("PubliclyAccessible"), encrypted=props.get("Encrypted"),
        region_name=region_name, kms_key_id=props.get("KmsKeyId"),
    )
    if props.get("IamRoles"):
        cluster.iam_roles_arn = list(props["IamRoles"])
    return cluster


@add("moto.redshift.models.Cluster.physical_resource_id", why="Ref of AWS::Redshift::Cluster gives the cluster "
     "identifier (moto's cluster has no physical id, so Ref yields the model)")
@property
def physical_resource_id(self: Cluster) -> str:
    return self.cluster_identifier


@patch("moto.redshift.models.Cluster.get_cfn_attribute", wrap=True,
       why="GetAtt Endpoint.Address is the host name, as AWS documents it (moto gave the whole endpoint dict)")
def _cluster_attribute(original):
    def get_cfn_attribute(self, attribute_name: str):
        return self.address if attribute_name == "Endpoint.Address" else original(self, attribute_name)

    return get_cfn_attribute


@add("moto.redshift.models.SubnetGroup.physical_resource_id", why="Ref of AWS::Redshift::ClusterSubnetGroup gives "
     "its name and the stack lists it as the PhysicalResourceId (moto's model had none)")
@property
def _subnet_group_physical_id(self) -> str:
    return self.cluster_subnet_group_name


@add("moto.redshift.models.SubnetGroup.get_cfn_attribute", why="GetAtt ClusterSubnetGroupName, as AWS documents it")
def _subnet_group_attribute(self, attribute_name: str) -> str:
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    if attribute_name != "ClusterSubnetGroupName":
        raise UnformattedGetAttTemplateException()
    return self.cluster_subnet_group_name


@add("moto.redshift.models.ParameterGroup.physical_resource_id", why="Ref of AWS::Redshift::ClusterParameterGroup "
     "gives its name and the stack lists it as the PhysicalResourceId (moto's model had none)")
@property
def _parameter_group_physical_id(self) -> str:
    return self.name


@add("moto.redshift.models.ParameterGroup.get_cfn_attribute", why="GetAtt ParameterGroupName, as AWS documents it")
def _parameter_group_attribute(self, attribute_name: str) -> str:
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    if attribute_name != "ParameterGroupName":
        raise UnformattedGetAttTemplateException()
    return self.name


@patch("moto.redshift.models.RedshiftBackend.delete_cluster", why="a deleted cluster's databases go with it in "
       "the local warehouse", wrap=True)
def _delete_cluster(original):
    def delete_cluster(self, **cluster_kwargs):
        identifier = cluster_kwargs.get("cluster_identifier")
        cluster = original(self, **cluster_kwargs)
        redshift_data_backends[self.account_id][self.region_name].drop_cluster(identifier)
        return cluster

    return delete_cluster
