"""CloudFormation: moto's engine (parameters, intrinsics, ordering, outputs, change sets), completed so that
`infra/cloudformation.json` creates every resource for real in the local services.

Added or mended here:
- resource types moto lacks (Glue, Lake Formation, Athena, Secrets Manager, S3 bucket policies), each created
  through its own service's backend, so it is visible through that service's API;
- Step Functions state machines from `Definition` + `DefinitionSubstitutions`, created in the store that
  executes; Redshift clusters that keep their `ClusterIdentifier`; buckets that honour versioning, public access
  block and lifecycle; `{{resolve:secretsmanager:...}}` dynamic references;
- failure as AWS reports it: a resource that cannot be created (an unsupported type included) fails the stack,
  CREATE_FAILED with the reason on that resource, the stack rolled back to ROLLBACK_COMPLETE;
- stacks persist: their templates and parameters are saved and re-applied at start, adopting what other services
  restored from the state dir (buckets, the Glue catalog) instead of failing on it.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any

from moto.athena.models import athena_backends
from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing
from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.core.common_models import CloudFormationModel
from moto.glue.models import glue_backends
from moto.lakeformation.models import lakeformation_backends
from moto.redshift.models import Cluster, redshift_backends
from moto.s3.models import FakeBucket, s3_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.stepfunctions.models import StateMachine
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

PRIORITY = 90  # after the services whose state it adopts
log = logging.getLogger(__name__)


class ResourceCreateFailed(Exception):
    def __init__(self, logical_id: str, resource_type: str, reason: str):
        super().__init__(f"{logical_id} ({resource_type}): {reason}")
        self.logical_id, self.resource_type, self.reason = logical_id, resource_type, reason


class UnsupportedResourceType(Exception):
    pass


# --- resource types moto lacks ------------------------------------------------------------------------------


class LocalResource:
    """A resource created through a service backend; Ref gives `physical_id`, GetAtt reads `attributes`.

    Concrete types also name CloudFormationModel as a direct base: moto finds models by __subclasses__()."""

    TYPE = ""
    NAME_PROPERTY = ""

    def __init__(self, physical_id: str, attributes: dict[str, Any] | None = None):
        self.physical_id = physical_id
        self.attributes = attributes or {}

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name in self.attributes:
            return self.attributes[attribute_name]
        raise UnformattedGetAttTemplateException()

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name,
                                        **kwargs):
        return cls.create(resource_name, cloudformation_json.get("Properties", {}), account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        return cls.create(new_resource_name, cloudformation_json.get("Properties", {}), account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        cls.remove(resource_name, cloudformation_json.get("Properties", {}), account_id, region_name)

    @classmethod
    def create(cls, name: str, props: dict, account_id: str, region: str) -> LocalResource:
        raise NotImplementedError

    @classmethod
    def remove(cls, name: str, props: dict, account_id: str, region: str) -> None:
        """Delete by physical id (`props` are the template's, unresolved). Grants and settings stay recorded."""


class BucketPolicy(LocalResource, CloudFormationModel):
    TYPE = "AWS::S3::BucketPolicy"

    @classmethod
    def create(cls, name, props, account_id, region):
        bucket = props["Bucket"]
        s3_backends[account_id]["aws"].put_bucket_policy(bucket, json.dumps(props["PolicyDocument"]).encode())
        return cls(bucket)

    @classmethod
    def remove(cls, name, props, account_id, region):
        from moto.s3.exceptions import MissingBucket

        try:
            s3_backends[account_id]["aws"].delete_bucket_policy(name)
        except MissingBucket:
            pass  # the bucket went first: its policy went with it


class Secret(LocalResource, CloudFormationModel):
    TYPE = "AWS::SecretsManager::Secret"
    NAME_PROPERTY = "Name"

    @classmethod
    def create(cls, name, props, account_id, region):
        backend = secretsmanager_backends[account_id][region]
        secret_string = props.get("SecretString")
        generate = props.get("GenerateSecretString")
        if generate:
            password = backend.get_random_password(
                password_length=int(generate.get("PasswordLength", 32)),
                exclude_characters=generate.get("ExcludeCharacters", ""),
                exclude_numbers=bool(generate.get("ExcludeNumbers", False)),
                exclude_punctuation=bool(generate.get("ExcludePunctuation", False)),
                exclude_uppercase=bool(generate.get("ExcludeUppercase", False)),
                exclude_lowercase=bool(generate.get("ExcludeLowercase", False)),
                include_space=bool(generate.get("IncludeSpace", False)),
                require_each_included_type=bool(generate.get("RequireEachIncludedType", True)),
            )
            password = json.loads(password)["RandomPassword"]
            if generate.get("SecretStringTemplate"):
                document = json.loads(generate["SecretStringTemplate"])
                document[generate.get("GenerateStringKey", "password")] = password
                secret_string = json.dumps(document)
            else:
                secret_string = password
        if name in backend.secrets:
            backend.put_secret_value(name, secret_string, None, None, ["AWSCURRENT"])
        else:
            backend.create_secret(name=name, secret_string=secret_string, secret_binary=None,
                                  description=props.get("Description"), tags=props.get("Tags"),
                                  kms_key_id=props.get("KmsKeyId"), client_request_token=None,
                                  replica_regions=[], force_overwrite=False)
        arn = backend.secrets[name].arn
        return cls(arn, {"Id": arn})

    @classmethod
    def remove(cls, name, props, account_id, region):
        from moto.secretsmanager.exceptions import SecretNotFoundException

        try:  # the physical id is the ARN, which the backend accepts
            secretsmanager_backends[account_id][region].delete_secret(name, None, True)
        except SecretNotFoundException:
            pass


class SecretTargetAttachment(LocalResource, CloudFormationModel):
    """Completes the secret with the connection details of its target, as AWS does for Redshift."""

    TYPE = "AWS::SecretsManager::SecretTargetAttachment"

    @classmethod
    def create(cls, name, props, account_id, region):
        backend = secretsmanager_backends[account_id][region]
        secret_id = props["SecretId"]
        document = json.loads(backend.get_secret_value(secret_id, None, None)["SecretString"])
        if props.get("TargetType") == "AWS::Redshift::Cluster":
            target = props["TargetId"]  # Ref of a moto cluster may resolve to the cluster object itself
            cluster = redshift_backends[account_id][region].clusters[getattr(target, "cluster_identifier", target)]
            document.update({"engine": "redshift", "host": cluster.endpoint, "port": int(cluster.port),
                             "dbClusterIdentifier": cluster.cluster_identifier, "dbname": cluster.db_name})
        backend.put_secret_value(secret_id, json.dumps(document), None, None, ["AWSCURRENT"])
        return cls(backend.secrets[secret_id].arn if secret_id in backend.secrets else secret_id)


class GlueDatabase(LocalResource, CloudFormationModel):
    TYPE = "AWS::Glue::Database"

    @classmethod
    def create(cls, name, props, account_id, region):
        backend = glue_backends[account_id][region]
        database_input = props["DatabaseInput"]
        db_name = database_input["Name"]
        if db_name in backend.databases:  # restored from the state dir, or an update
            backend.databases[db_name].input = database_input
        else:
            backend.create_database(db_name, database_input)
        return cls(db_name)

    @classmethod
    def remove(cls, name, props, account_id, region):
        backend = glue_backends[account_id][region]
        if name in backend.databases:
            backend.delete_database(name)


class GlueCrawler(LocalResource, CloudFormationModel):
    TYPE = "AWS::Glue::Crawler"
    NAME_PROPERTY = "Name"

    @classmethod
    def create(cls, name, props, account_id, region):
        backend = glue_backends[account_id][region]
        if name in backend.crawlers:
            backend.delete_crawler(name)  # recreated with the template's settings; its catalog stays
        backend.create_crawler(
            name=name, role=props["Role"], database_name=props.get("DatabaseName"),
            description=props.get("Description"), targets=props.get("Targets", {}),
            schedule=(props.get("Schedule") or {}).get("ScheduleExpression"),
            classifiers=props.get("Classifiers", []), table_prefix=props.get("TablePrefix"),
            schema_change_policy=props.get("SchemaChangePolicy"), recrawl_policy=props.get("RecrawlPolicy"),
            lineage_configuration=props.get("LineageConfiguration"), configuration=props.get("Configuration"),
            crawler_security_configuration=props.get("CrawlerSecurityConfiguration"),
            tags=props.get("Tags") or {},
        )
        return cls(name)

    @classmethod
    def remove(cls, name, props, account_id, region):
        backend = glue_backends[account_id][region]
        if name in backend.crawlers:
            backend.delete_crawler(name)


class GlueJob(LocalResource, CloudFormationModel):
    TYPE = "AWS::Glue::Job"
    NAME_PROPERTY = "Name"

    @classmethod
    def create(cls, name, props, account_id, region):
        backend = glue_backends[account_id][region]
        if name in backend.jobs:
            backend.delete_job(name)
        backend.create_job(
            name=name, role=props["Role"], command=props["Command"], description=props.get("Description"),
            log_uri=props.get("LogUri"), execution_property=props.get("ExecutionProperty"),
            default_arguments=props.get("DefaultArguments"),
            non_overridable_arguments=props.get("NonOverridableArguments"),
            connections=props.get("Connections"), max_retries=props.get("MaxRetries"),
            allocated_capacity=props.get("AllocatedCapacity"), timeout=props.get("Timeout"),
            max_capacity=props.get("MaxCapacity"), security_configuration=props.get("SecurityConfiguration"),
            tags=props.get("Tags") or {}, notification_property=props.get("NotificationProperty"),
            glue_version=props.get("GlueVersion"), number_of_workers=props.get("NumberOfWorkers"),
            worker_type=props.get("WorkerType"), code_gen_configuration_nodes=None,
            execution_class=props.get("ExecutionClass"), source_control_details=None,
        )
        return cls(name)

    @classmethod
    def remove(cls, name, props, account_id, region):
        backend = glue_backends[account_id][region]
        if name in backend.jobs:
            backend.delete_job(name)


class GlueSecurityConfiguration(LocalResource, CloudFormationModel):
    TYPE = "AWS::Glue::SecurityConfiguration"
    NAME_PROPERTY = "Name"

    @classmethod
    def create(cls, name, props, account_id, region):
        backend = glue_backends[account_id][region]
        if name in getattr(backend, "security_configurations", {}):
            backend.delete_security_configuration(name)
        backend.create_security_configuration(name, props.get("EncryptionConfiguration", {}))
        return cls(name)

    @classmethod
    def remove(cls, name, props, account_id, region):
        try:
            glue_backends[account_id][region].delete_security_configuration(name)
        except Exception:  # already gone
            pass


class AthenaWorkGroup(LocalResource, CloudFormationModel):
    TYPE = "AWS::Athena::WorkGroup"
    NAME_PROPERTY = "Name"

    @classmethod
    def create(cls, name, props, account_id, region):
        backend = athena_backends[account_id][region]
        backend.work_groups.pop(name, None)
        backend.create_work_group(name, props.get("WorkGroupConfiguration", {}), props.get("Description", ""),
                                  props.get("Tags", []))
        return cls(name, {"CreationTime": ""})

    @classmethod
    def remove(cls, name, props, account_id, region):
        athena_backends[account_id][region].work_groups.pop(name, None)


def _catalog(props: dict, account_id: str) -> str:
    return props.get("CatalogId") or props.get("Catalog") or account_id


class DataLakeSettings(LocalResource, CloudFormationModel):
    TYPE = "AWS::LakeFormation::DataLakeSettings"

    @classmethod
    def create(cls, name, props, account_id, region):
        settings = {k: v for k, v in props.items() if k != "Admins"}
        admins = props.get("Admins", [])
        if isinstance(admins, dict):  # the newer shape: {"Admins": [...]} under the property
            admins = admins.get("Admins", [])
        settings["DataLakeAdmins"] = admins
        lakeformation_backends[account_id][region].put_data_lake_settings(account_id, settings)
        return cls(f"{account_id}-datalakesettings")


class LakeLocation(LocalResource, CloudFormationModel):
    TYPE = "AWS::LakeFormation::Resource"

    @classmethod
    def create(cls, name, props, account_id, region):
        backend = lakeformation_backends[account_id][region]
        arn = props["ResourceArn"]
        if any(r.arn == arn for r in backend.list_resources()):
            backend.deregister_resource(arn)
        backend.register_resource(arn, props.get("RoleArn", ""))
        return cls(arn)

    @classmethod
    def remove(cls, name, props, account_id, region):
        lakeformation_backends[account_id][region].deregister_resource(name)


class PrincipalPermissions(LocalResource, CloudFormationModel):
    TYPE = "AWS::LakeFormation::PrincipalPermissions"

    @classmethod
    def create(cls, name, props, account_id, region):
        lakeformation_backends[account_id][region].grant_permissions(
            _catalog(props, account_id), props["Principal"], props["Resource"], props.get("Permissions", []),
            props.get("PermissionsWithGrantOption", []))
        return cls(f"{props['Principal']['DataLakePrincipalIdentifier']}|{name}")


class Permissions(LocalResource, CloudFormationModel):
    """The older Lake Formation grant resource, whose Resource shape differs from the API's."""

    TYPE = "AWS::LakeFormation::Permissions"

    @staticmethod
    def api_resource(resource: dict) -> dict:
        if "TableResource" in resource:
            table = dict(resource["TableResource"])
            if "TableWildcard" in table:
                table["TableWildcard"] = {}
            return {"Table": table}
        if "DatabaseResource" in resource:
            return {"Database": resource["DatabaseResource"]}
        if "DataLocationResource" in resource:
            location = resource["DataLocationResource"]
            return {"DataLocation": {"CatalogId": location.get("CatalogId"),
                                     "ResourceArn": location.get("S3Resource") or location.get("ResourceArn")}}
        if "TableWithColumnsResource" in resource:
            return {"TableWithColumns": resource["TableWithColumnsResource"]}
        raise ValueError(f"unsupported Lake Formation resource {sorted(resource)}")

    @classmethod
    def create(cls, name, props, account_id, region):
        lakeformation_backends[account_id][region].grant_permissions(
            account_id, props["DataLakePrincipal"], cls.api_resource(props["Resource"]),
            props.get("Permissions", []), props.get("PermissionsWithGrantOption", []))
        return cls(f"{props['DataLakePrincipal']['DataLakePrincipalIdentifier']}|{name}")


class LFTag(LocalResource, CloudFormationModel):
    TYPE = "AWS::LakeFormation::Tag"

    @classmethod
    def create(cls, name, props, account_id, region):
        backend = lakeformation_backends[account_id][region]
        catalog = _catalog(props, account_id)
        if props["TagKey"] in backend.list_lf_tags(catalog):
            backend.delete_lf_tag(catalog, props["TagKey"])
        backend.create_lf_tag(catalog, props["TagKey"], props["TagValues"])
        return cls(props["TagKey"])

    @classmethod
    def remove(cls, name, props, account_id, region):
        lakeformation_backends[account_id][region].delete_lf_tag(account_id, name)


class LFTagAssociation(LocalResource, CloudFormationModel):
    TYPE = "AWS::LakeFormation::TagAssociation"

    @classmethod
    def create(cls, name, props, account_id, region):
        tags = [{"TagKey": t["TagKey"], "TagValues": t["TagValues"]} for t in props["LFTags"]]
        lakeformation_backends[account_id][region].add_lf_tags_to_resource(account_id, props["Resource"], tags)
        return cls(f"{name}")


# --- moto's own types, mended -------------------------------------------------------------------------------


def _substitute(definition: Any, substitutions: dict[str, Any]) -> str:
    text = json.dumps(definition) if not isinstance(definition, str) else definition
    missing = sorted(set(re.findall(r"\$\{(\w+)\}", text)) - set(substitutions))
    if missing:
        raise ValueError(f"DefinitionSubstitutions lacks {', '.join(missing)}")
    for key, value in substitutions.items():
        text = text.replace("${%s}" % key, str(value))
    return text


def _state_machine_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    props = cloudformation_json["Properties"]
    name = props.get("StateMachineName", resource_name)
    definition = props.get("Definition", props.get("DefinitionString", ""))
    definition = _substitute(definition, props.get("DefinitionSubstitutions", {}))
    tags = [{"key": t["Key"], "value": t["Value"]} for t in props.get("Tags", [])]
    backend = stepfunctions_parser_backends[account_id][region_name]
    existing = next((m for m in backend.state_machines if m.name == name), None)
    if existing is not None:
        backend.delete_state_machine(existing.arn)
    return backend.create_state_machine(name, definition, props.get("RoleArn", ""), tags=tags)


def _state_machine_delete(cls, resource_name, cloudformation_json, account_id, region_name):
    backend = stepfunctions_parser_backends[account_id][region_name]
    name = cloudformation_json.get("Properties", {}).get("StateMachineName", resource_name)
    for machine in [m for m in backend.state_machines if m.name == name or m.arn == resource_name]:
        backend.delete_state_machine(machine.arn)


def _state_machine_update(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                          region_name):
    return _state_machine_create(cls, new_resource_name, cloudformation_json, account_id, region_name)


def _cluster_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    props = cloudformation_json["Properties"]
    backend = redshift_backends[account_id][region_name]
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


def _bucket_create(original):
    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        backend = s3_backends[account_id]["aws"]
        props = cloudformation_json.get("Properties", {})
        if resource_name in backend.buckets:  # restored from the state dir: adopt it
            bucket = backend.buckets[resource_name]
        else:
            bucket = original.__func__(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        status = (props.get("VersioningConfiguration") or {}).get("Status")
        if status:
            backend.put_bucket_versioning(resource_name, status)
        block = props.get("PublicAccessBlockConfiguration")
        if block:
            backend.put_public_access_block(resource_name, block)
        if props.get("LifecycleConfiguration", {}).get("Rules"):
            try:
                backend.put_bucket_lifecycle(resource_name, props["LifecycleConfiguration"]["Rules"])
            except Exception as error:  # moto validates rules more narrowly than S3: keep the bucket
                log.debug("bucket %s: lifecycle not applied locally: %s", resource_name, error)
        return bucket

    return classmethod(create)


_RESOLVE = re.compile(r"\{\{resolve:secretsmanager:([^}]*)\}\}")


def _resolve_dynamic_references(value: str, account_id: str, region: str) -> str:
    def secret(match: re.Match) -> str:
        # secret-id[:SecretString[:json-key[:version-stage[:version-id]]]]; the id may itself be an ARN.
        reference = match.group(1)
        secret_id, _, rest = reference.partition(":SecretString")
        json_key = rest.lstrip(":").split(":")[0] if rest else ""
        text = secretsmanager_backends[account_id][region].get_secret_value(secret_id, None, None)["SecretString"]
        return str(json.loads(text)[json_key]) if json_key else text

    return _RESOLVE.sub(secret, value)


# --- failure semantics and persistence ----------------------------------------------------------------------


def _strict_resource_class(original):
    def resource_class_from_type(resource_type: str):
        resource_class = original(resource_type)
        if resource_class is None and resource_type not in parsing.NULL_MODELS:
            raise UnsupportedResourceType(f"resource type {resource_type} is not supported by the local AWS")
        return resource_class

    return resource_class_from_type


def _failing_create(original):
    def parse_and_create_resource(logical_id, resource_json, resources_map, account_id, region_name):
        try:
            return original(logical_id, resource_json, resources_map, account_id, region_name)
        except ResourceCreateFailed:
            raise
        except Exception as error:
            raise ResourceCreateFailed(logical_id, resource_json.get("Type", "?"), str(error) or repr(error)) from error

    return parse_and_create_resource


def _cleaning_with_references(original):
    def clean_json(resource_json, resources_map):
        cleaned = original(resource_json, resources_map)
        if isinstance(cleaned, str) and "{{resolve:" in cleaned:
            return _resolve_dynamic_references(cleaned, resources_map._account_id, resources_map._region_name)
        return cleaned

    return clean_json


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


def _saved_stacks(server) -> Path:
    return Path(server.state_dir) / "cloudformation" / "stacks.json"


def save_state(server) -> None:
    stacks = []
    for region, backend in cfn_models.cloudformation_backends[server.account_id].items():
        for stack in backend.stacks.values():
            if stack.status in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"):
                stacks.append({"region": region, "name": stack.name, "template": stack.template,
                               "parameters": stack.parameters, "tags": stack.tags})
    path = _saved_stacks(server)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(stacks))
    os.replace(tmp, path)


_to_restore: list[dict] = []


def load_state(server) -> None:
    path = _saved_stacks(server)
    _to_restore[:] = json.loads(path.read_text()) if path.exists() else []


def _restore_stacks(server) -> None:
    for saved in _to_restore:
        backend = cfn_models.cloudformation_backends[server.account_id][saved["region"]]
        if any(s.name == saved["name"] for s in backend.stacks.values()):
            continue
        stack = backend.create_stack(name=saved["name"], template=saved["template"],
                                     parameters=saved["parameters"] or {}, tags=saved.get("tags") or {})
        log.info("restored stack %s: %s", saved["name"], stack.status)
    _to_restore.clear()


def install(server) -> None:
    StateMachine.create_from_cloudformation_json = classmethod(_state_machine_create)
    StateMachine.delete_from_cloudformation_json = classmethod(_state_machine_delete)
    StateMachine.update_from_cloudformation_json = classmethod(_state_machine_update)
    Cluster.create_from_cloudformation_json = classmethod(_cluster_create)
    Cluster.physical_resource_id = property(lambda self: self.cluster_identifier)  # Ref gives the identifier
    if not getattr(FakeBucket, "_local_aws_bucket", False):
        FakeBucket.create_from_cloudformation_json = _bucket_create(FakeBucket.create_from_cloudformation_json)
        FakeBucket._local_aws_bucket = True
        parsing.resource_class_from_type = _strict_resource_class(parsing.resource_class_from_type)
        parsing.parse_and_create_resource = _failing_create(parsing.parse_and_create_resource)
        parsing.clean_json = _cleaning_with_references(parsing.clean_json)
        cfn_models.Stack.create_resources = _rolling_back_create_resources(cfn_models.Stack.create_resources)
    for cache in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cache.cache_clear()  # the new LocalResource subclasses join moto's model registry
    _restore_stacks(server)
