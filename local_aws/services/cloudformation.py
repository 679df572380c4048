"""CloudFormation: moto's engine (parameters, intrinsics, ordering, outputs, change sets), completed so that
`infra/cloudformation.json` creates every resource for real in the local services.

CloudFormation's own concerns live here (each a declared patch, ``local_aws.patches``):
- strict types: a resource type no module provides fails the stack by name (moto skipped it silently and
  reported CREATE_COMPLETE);
- failure as AWS reports it: a resource that cannot be created fails the stack, CREATE_FAILED with the reason on
  that resource, the stack rolled back to ROLLBACK_COMPLETE without outputs;
- a deleted stack has no outputs (moto computed them again on DescribeStacks, re-creating what they refer to);
- dynamic references: ``{{resolve:secretsmanager:...}}`` in a resource's properties is replaced by the secret's
  value (looked up by ``services/secretsmanager.resolve_reference``); other kinds (``ssm``, ``ssm-secure``) fail
  the resource by name. The hook is here because the reference syntax and where it may appear are CloudFormation's,
  and one patch of moto's ``clean_json`` serves every kind; what a secret reference means is Secrets Manager's.

Resource types moto lacks live beside the service they create (``local_aws.cfn_resources``): Step Functions state
machines in ``stepfunctions``, Lake Formation in ``lakeformation``, secrets in ``secretsmanager``, bucket policies
in ``s3``, Glue in ``glue_catalog``/``glue_crawlers``/``glue_jobs``, Athena in ``athena``, Redshift in ``redshift``.
``install`` clears moto's model caches once every service module has declared its types.

Stacks are state like any other: the state store saves them with their resources (references to the other
services' models, ``local_aws.state.pickling``) and restores them as they were, physical ids included. Nothing is
re-created from templates at start.
"""

from __future__ import annotations

import functools
import logging
import re

from moto.cloudformation import parsing

from local_aws.patches import add, patch
from local_aws.services import secretsmanager

log = logging.getLogger(__name__)


class ResourceCreateFailed(Exception):
    """A resource of a stack could not be created; the stack rolls back (CREATE_FAILED, ROLLBACK_COMPLETE)."""

    def __init__(self, logical_id: str, resource_type: str, reason: str):
        super().__init__(f"{logical_id} ({resource_type}): {reason}")
        self.logical_id, self.resource_type, self.reason = logical_id, resource_type, reason


class UnsupportedResourceType(Exception):
    """A template names a resource type the local AWS does not create."""


class UnsupportedDynamicReference(Exception):
    """A template uses a dynamic reference kind the local AWS does not resolve."""


# --- failure semantics and dynamic references ---------------------------------------------------------------


_DYNAMIC_REFERENCE = re.compile(r"\{\{resolve:([a-z-]+):([^}]*)\}\}")


def _resolve_dynamic_references(value: str, account_id: str, region: str) -> str:
    """``value`` with every ``{{resolve:service:reference}}`` replaced (AWS CloudFormation User Guide, "Get values
    stored in other services using dynamic references"). Raises UnsupportedDynamicReference for a kind not emulated
    and what the resolver raises (an unknown secret: SecretNotFoundException)."""

    def resolved(match: re.Match) -> str:
        kind, reference = match.group(1), match.group(2)
        if kind == "secretsmanager":
            return secretsmanager.resolve_reference(reference, account_id, region)
        raise UnsupportedDynamicReference(f"dynamic reference {{{{resolve:{kind}:...}}}} is not supported by the "
                                          "local AWS (secretsmanager is)")

    return _DYNAMIC_REFERENCE.sub(resolved, value)


@patch("moto.cloudformation.parsing.resource_class_from_type", why="moto skips unknown types silently; AWS fails "
       "the stack, and the local AWS refuses by name what it does not emulate", wrap=True)
def _strict_resource_class(original):
    def resource_class_from_type(resource_type: str):
        resource_class = original(resource_type)
        if resource_class is None and resource_type not in parsing.NULL_MODELS:
            raise UnsupportedResourceType(f"resource type {resource_type} is not supported by the local AWS")
        return resource_class

    return resource_class_from_type


@patch("moto.cloudformation.parsing.parse_and_create_resource", why="a resource that cannot be created names "
       "itself and its reason, so the stack can fail as on AWS", wrap=True)
def _failing_create(original):
    def parse_and_create_resource(logical_id, resource_json, resources_map, account_id, region_name):
        try:
            return original(logical_id, resource_json, resources_map, account_id, region_name)
        except ResourceCreateFailed:
            raise
        except Exception as error:
            raise ResourceCreateFailed(logical_id, resource_json.get("Type", "?"), str(error) or repr(error)) from error

    return parse_and_create_resource


@patch("moto.cloudformation.parsing.clean_json", why="moto leaves {{resolve:...}} dynamic references unresolved",
       wrap=True)
def _cleaning_with_references(original):
    def clean_json(resource_json, resources_map):
        cleaned = original(resource_json, resources_map)
        if isinstance(cleaned, str) and "{{resolve:" in cleaned:
            return _resolve_dynamic_references(cleaned, resources_map._account_id, resources_map._region_name)
        return cleaned

    return clean_json


@patch("moto.cloudformation.models.Stack.create_resources", why="a failed resource rolls the stack back: "
       "CREATE_FAILED, ROLLBACK_IN_PROGRESS, resources deleted, ROLLBACK_COMPLETE (moto raises out of CreateStack)",
       wrap=True)
def _rolling_back_create_resources(original):
    def create_resources(self) -> None:
        try:
            original(self)
        except ResourceCreateFailed as failure:
            log.warning("stack %s failed: %s", self.name, failure)
            self._add_stack_event("CREATE_FAILED", resource_status_reason=str(failure))
            self.status = "ROLLBACK_IN_PROGRESS"
            self._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=(
                f"The following resource(s) failed to create: [{failure.logical_id}]. Rollback requested by user."))
            try:
                self.resource_map.delete()
            except Exception:  # the rollback is best effort, as a stuck rollback is on AWS
                log.exception("rollback of stack %s left resources behind", self.name)
            self.output_map = {}  # a rolled-back stack has no outputs (and must not build resources for them)
            self.status = "ROLLBACK_COMPLETE"
            self._add_stack_event("ROLLBACK_COMPLETE")

    return create_resources


@patch("moto.cloudformation.models.Stack.delete", why="moto computes a deleted stack's outputs again when it is "
       "described, which re-creates the resources they refer to (a deleted stack's state machines and functions came "
       "back on DescribeStacks by stack id)", wrap=True)
def _deleting_outputs(original):
    @functools.wraps(original)
    def delete(self) -> None:
        original(self)
        self.output_map = {}  # nothing left to report, and nothing to build again

    return delete


@patch("moto.cloudformation.models.Stack.stack_resources", why="moto lists a resource whose Condition is false "
       "as an empty entry (no LogicalResourceId, no type); AWS lists only the resources it created "
       "(DescribeStackResources, AWS CloudFormation API Reference)", wrap=True)
def _created_resources_only(original: property) -> property:
    return property(lambda self: [r for r in original.fget(self) if r is not None])


# --- GetAtt values moto lacks, for types with no service module here (EC2, IAM) -----------------------------------
# AWS: the "Return values" section of each type's page in the CloudFormation template reference
# (AWS::EC2::Subnet, AWS::EC2::VPC, AWS::EC2::SecurityGroup, AWS::IAM::ManagedPolicy). moto answered these with
# "Template error: ... does not exist" or NotImplementedError, failing any stack that reads them.


def _documented(values_of):
    """Wrap a model's get_cfn_attribute: documented attributes from ``values_of(self)``, the rest as before."""

    def wrap(original):
        @functools.wraps(original)
        def get_cfn_attribute(self, attribute_name: str):
            values = values_of(self)
            if attribute_name in values:
                return values[attribute_name]()
            return original(self, attribute_name)

        return get_cfn_attribute

    return wrap


patch("moto.ec2.models.subnets.Subnet.get_cfn_attribute", wrap=True,
      why="AWS::EC2::Subnet GetAtt AvailabilityZone, AvailabilityZoneId, CidrBlock, Ipv6CidrBlocks, "
          "NetworkAclAssociationId, SubnetId, VpcId as AWS documents them (moto: not implemented)")(_documented(
          lambda subnet: {
          "AvailabilityZone": lambda: subnet.availability_zone,
          "AvailabilityZoneId": lambda: subnet.availability_zone_id,
          "CidrBlock": lambda: subnet.cidr_block,
          "SubnetId": lambda: subnet.id,
          "VpcId": lambda: subnet.vpc_id,
          "Ipv6CidrBlocks": lambda: [a["ipv6CidrBlock"] for a in subnet.ipv6_cidr_block_associations.values()],
          "NetworkAclAssociationId": lambda: _network_acl_association(subnet),
      }))


def _network_acl_association(subnet) -> str:
    """The id of the association of the subnet with its network ACL (the VPC's default one unless replaced)."""
    for acl in subnet.ec2_backend.network_acls.values():
        for association_id, association in acl._associations.items():
            if association.subnet_id == subnet.id:
                return association_id
    raise LookupError(f"subnet {subnet.id} has no network ACL association")


def _default_network_acl(vpc) -> str:
    acls = vpc.ec2_backend.describe_network_acls(filters={"vpc-id": [vpc.id], "default": ["true"]})
    return acls[0].id


patch("moto.ec2.models.vpcs.VPC.get_cfn_attribute", wrap=True,
      why="AWS::EC2::VPC GetAtt DefaultNetworkAcl and Ipv6CidrBlocks as AWS documents them (moto: not "
          "implemented)")(_documented(lambda vpc: {
          "DefaultNetworkAcl": lambda: _default_network_acl(vpc),
          "Ipv6CidrBlocks": lambda: [c["cidr_block"] for c in vpc.get_cidr_block_association_set(ipv6=True)],
      }))
patch("moto.ec2.models.security_groups.SecurityGroup.get_cfn_attribute", wrap=True,
      why="AWS::EC2::SecurityGroup GetAtt VpcId as AWS documents it (moto: GroupId only)")(_documented(
          lambda group: {"VpcId": lambda: group.vpc_id}))


def _iso_seconds(value) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


@add("moto.iam.models.ManagedPolicy.get_cfn_attribute",
     why="AWS::IAM::ManagedPolicy GetAtt (PolicyArn, PolicyId, DefaultVersionId, AttachmentCount, IsAttachable, "
         "CreateDate, UpdateDate) as AWS documents them; moto's model had none")
def _managed_policy_attribute(self, attribute_name: str):
    """GetAtt of AWS::IAM::ManagedPolicy. Raises the template error moto raises for an unknown attribute."""
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    values = {
        "PolicyArn": lambda: self.arn, "PolicyId": lambda: self.id,
        "DefaultVersionId": lambda: self.default_version_id, "AttachmentCount": lambda: self.attachment_count,
        "IsAttachable": lambda: self.is_attachable, "PermissionsBoundaryUsageCount": lambda: 0,
        "CreateDate": lambda: _iso_seconds(self.create_date), "UpdateDate": lambda: _iso_seconds(self.update_date),
    }
    if attribute_name not in values:
        raise UnformattedGetAttTemplateException()
    return values[attribute_name]()



def install(server) -> None:
    # The LocalResource subclasses declared by every service module join moto's model registry.
    for cache in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cache.cache_clear()
