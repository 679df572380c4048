"""The Glue Data Catalog: moto's, made durable by the state store, plus its CloudFormation resource types.

Databases, tables (every version), partitions, crawler and job definitions and security configurations are moto's
``GlueBackend`` models, served by moto's Glue API unchanged. There is no persistence of our own: the state store
(``local_aws.state``) pickles moto's Glue backend, with the crawl history (``glue_crawlers``) and the job runs
(``glue_jobs``) in the same journal record, after every Glue request that may change something and before its
answer leaves; a crawl, which writes the catalog in-process, commits when it ends. A restart restores the catalog
exactly as it was (creation times and table versions included); nothing is re-created from templates.

CloudFormation types created here through moto's Glue backend, so they are visible through the Glue API:

- ``AWS::Glue::Database`` (Ref: the database name). ``DatabaseInput`` is the CreateDatabase input; an update of
  the same name replaces the database's input and keeps its tables.
- ``AWS::Glue::SecurityConfiguration`` (Ref: the name). ``EncryptionConfiguration`` is recorded in the API's shape
  (the template's ``S3Encryptions`` list is the API's ``S3Encryption``), not applied (the local lake is not
  encrypted).

Crawlers (``AWS::Glue::Crawler``) and jobs (``AWS::Glue::Job``) are declared by ``glue_crawlers`` and
``glue_jobs``. Source: AWS CloudFormation User Guide, "AWS::Glue::Database" and
"AWS::Glue::SecurityConfiguration" and its "EncryptionConfiguration" (Return values: Ref returns the resource name);
AWS Glue API reference, "EncryptionConfiguration".
"""

from __future__ import annotations

from moto.core.common_models import CloudFormationModel
from moto.glue.exceptions import EntityNotFoundException
from moto.glue.models import glue_backends

from local_aws.cfn_resources import LocalResource


class GlueDatabase(LocalResource, CloudFormationModel):
    TYPE = "AWS::Glue::Database"

    @classmethod
    def create(cls, name, props, account_id, region):
        backend = glue_backends[account_id][region]
        database_input = props["DatabaseInput"]
        db_name = database_input["Name"]
        if db_name in backend.databases:  # a stack update: the database keeps its tables
            backend.databases[db_name].input = database_input
        else:
            backend.create_database(db_name, database_input)
        return cls(db_name)

    @classmethod
    def remove(cls, name, props, account_id, region):
        backend = glue_backends[account_id][region]
        if name in backend.databases:
            backend.delete_database(name)


def api_encryption_configuration(template: dict) -> dict:
    """The template's EncryptionConfiguration in the API's shape: ``S3Encryptions`` is named ``S3Encryption``."""
    configuration = {k: v for k, v in template.items() if k != "S3Encryptions"}
    if "S3Encryptions" in template:
        configuration["S3Encryption"] = template["S3Encryptions"]
    return configuration


class GlueSecurityConfiguration(LocalResource, CloudFormationModel):
    TYPE = "AWS::Glue::SecurityConfiguration"
    NAME_PROPERTY = "Name"

    @classmethod
    def create(cls, name, props, account_id, region):
        backend = glue_backends[account_id][region]
        if name in backend.security_configurations:  # a stack update replaces it
            backend.delete_security_configuration(name)
        backend.create_security_configuration(name, api_encryption_configuration(
            props.get("EncryptionConfiguration") or {}))
        return cls(name)

    @classmethod
    def remove(cls, name, props, account_id, region):
        try:
            glue_backends[account_id][region].delete_security_configuration(name)
        except EntityNotFoundException:
            pass  # already gone
