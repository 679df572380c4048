"""Secrets Manager: moto's, plus the CloudFormation resource types moto lacks and the secret lookup behind
CloudFormation's ``{{resolve:secretsmanager:...}}`` dynamic references.

- ``AWS::SecretsManager::Secret``: `SecretString`, or `GenerateSecretString` (a random password, put under
  `GenerateStringKey` of `SecretStringTemplate` when given), created through moto's backend, so GetSecretValue
  sees it. Ref and GetAtt Id give the ARN. Creating a name that exists fails (ResourceExistsException), as the
  API does. An update puts a new `SecretString` when the template gives one; a generated password is not
  regenerated (AWS keeps it unless `GenerateSecretString` changes). Deleting the stack deletes the secret without
  a recovery window.
- ``AWS::SecretsManager::SecretTargetAttachment``: completes the secret's JSON with its target's connection
  details, as AWS does (Redshift clusters: engine, host, port, dbClusterIdentifier, dbname). Other target types
  fail the resource by name (not emulated).
- ``resolve_reference``: the value a dynamic reference names (`secret-id[:SecretString[:json-key[:version-stage
  [:version-id]]]]`); ``services/cloudformation.py`` finds the references in templates and calls it.

State: moto's Secrets Manager backend, saved by the state store like every moto backend.
"""

from __future__ import annotations

import json
import logging

from moto.core.common_models import CloudFormationModel
from moto.redshift.models import redshift_backends
from moto.secretsmanager.exceptions import SecretNotFoundException
from moto.secretsmanager.models import secretsmanager_backends

from local_aws.cfn_resources import LocalResource

log = logging.getLogger(__name__)


class ReferenceError(ValueError):  # noqa: A001 - the name CloudFormation's message uses
    """A dynamic reference that cannot be resolved (malformed, or naming a key the secret lacks)."""


def _split_reference(reference: str) -> tuple[str, str, str, str, str]:
    """(secret id, field, json key, version stage, version id) of `secret-id[:SecretString[:json-key[:stage[:id]]]]`;
    the secret id may be an ARN (seven colon-separated parts)."""
    parts = reference.split(":")
    id_parts = 7 if reference.startswith("arn:") else 1
    secret_id, rest = ":".join(parts[:id_parts]), parts[id_parts:]
    rest += [""] * (4 - len(rest))
    if len(rest) > 4:
        raise ReferenceError(f"malformed secretsmanager reference {reference!r}")
    field, json_key, stage, version_id = rest
    if field not in ("", "SecretString"):
        raise ReferenceError(f"secretsmanager reference {reference!r}: only SecretString can be referenced")
    return secret_id, field, json_key, stage, version_id


def resolve_reference(reference: str, account_id: str, region: str) -> str:
    """The text `{{resolve:secretsmanager:<reference>}}` stands for (AWS: "Using dynamic references to specify
    template values", Secrets Manager). Raises SecretNotFoundException for an unknown secret and ReferenceError
    for a malformed reference or a JSON key the secret lacks."""
    secret_id, _, json_key, stage, version_id = _split_reference(reference)
    value = secretsmanager_backends[account_id][region].get_secret_value(
        secret_id, version_id or None, stage or None)
    text = value.get("SecretString")
    if text is None:
        raise ReferenceError(f"secret {secret_id} has no SecretString")
    if not json_key:
        return text
    try:
        return str(json.loads(text)[json_key])
    except (ValueError, KeyError, TypeError):
        raise ReferenceError(f"secret {secret_id} has no JSON key {json_key!r}") from None


def _generated(backend, generate: dict) -> str:
    password = json.loads(backend.get_random_password(
        password_length=int(generate.get("PasswordLength", 32)),
        exclude_characters=generate.get("ExcludeCharacters", ""),
        exclude_numbers=bool(generate.get("ExcludeNumbers", False)),
        exclude_punctuation=bool(generate.get("ExcludePunctuation", False)),
        exclude_uppercase=bool(generate.get("ExcludeUppercase", False)),
        exclude_lowercase=bool(generate.get("ExcludeLowercase", False)),
        include_space=bool(generate.get("IncludeSpace", False)),
        require_each_included_type=bool(generate.get("RequireEachIncludedType", True)),
    ))["RandomPassword"]
    if not generate.get("SecretStringTemplate"):
        return password
    document = json.loads(generate["SecretStringTemplate"])
    document[generate.get("GenerateStringKey", "password")] = password
    return json.dumps(document)


class Secret(LocalResource, CloudFormationModel):
    TYPE = "AWS::SecretsManager::Secret"
    NAME_PROPERTY = "Name"

    @classmethod
    def create(cls, name, props, account_id, region):
        backend = secretsmanager_backends[account_id][region]
        secret_string = props.get("SecretString")
        if props.get("GenerateSecretString"):
            secret_string = _generated(backend, props["GenerateSecretString"])
        backend.create_secret(name=name, secret_string=secret_string, secret_binary=None,
                              description=props.get("Description"), tags=props.get("Tags"),
                              kms_key_id=props.get("KmsKeyId"), client_request_token=None,
                              replica_regions=[], force_overwrite=False)
        arn = backend.secrets[name].arn
        return cls(arn, {"Id": arn})

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        props = cloudformation_json.get("Properties", {})
        if props.get("SecretString") is not None:
            secretsmanager_backends[account_id][region_name].put_secret_value(
                original_resource.physical_resource_id, props["SecretString"], None, None, ["AWSCURRENT"])
        return original_resource

    @classmethod
    def remove(cls, name, props, account_id, region):
        try:  # the physical id is the ARN, which the backend accepts
            secretsmanager_backends[account_id][region].delete_secret(name, None, True)
        except SecretNotFoundException:
            pass  # deleted outside the stack: nothing left to delete


class SecretTargetAttachment(LocalResource, CloudFormationModel):
    """Completes the secret with the connection details of its target, as AWS does for Redshift."""

    TYPE = "AWS::SecretsManager::SecretTargetAttachment"

    @classmethod
    def create(cls, name, props, account_id, region):
        backend = secretsmanager_backends[account_id][region]
        secret_id = props["SecretId"]
        document = json.loads(backend.get_secret_value(secret_id, None, None)["SecretString"])
        if props.get("TargetType") != "AWS::Redshift::Cluster":
            raise NotImplementedError(f"SecretTargetAttachment TargetType {props.get('TargetType')} is not "
                                      "supported by the local AWS (AWS::Redshift::Cluster is)")
        target = props["TargetId"]  # Ref of a moto cluster may resolve to the cluster object itself
        identifier = getattr(target, "cluster_identifier", target)
        clusters = redshift_backends[account_id][region].clusters
        if identifier not in clusters:
            raise ValueError(f"SecretTargetAttachment: Redshift cluster {identifier} does not exist")
        cluster = clusters[identifier]
        document.update({"engine": "redshift", "host": cluster.endpoint, "port": int(cluster.port),
                         "dbClusterIdentifier": cluster.cluster_identifier, "dbname": cluster.db_name})
        backend.put_secret_value(secret_id, json.dumps(document), None, None, ["AWSCURRENT"])
        return cls(backend.secrets[secret_id].arn)
