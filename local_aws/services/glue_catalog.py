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

Lake Formation governs the catalog API: each catalog action checks the caller's Lake Formation permissions
(``local_aws.lakeformation.access``) and answers AccessDeniedException worded as AWS words it; GetDatabases and
GetTables list what the caller may see. Creating a database or table applies the data lake settings' default
grants (``local_aws.lakeformation.defaults``).

Crawlers (``AWS::Glue::Crawler``) and jobs (``AWS::Glue::Job``) are declared by ``glue_crawlers`` and
``glue_jobs``. Source: AWS CloudFormation User Guide, "AWS::Glue::Database" and
"AWS::Glue::SecurityConfiguration" and its "EncryptionConfiguration" (Return values: Ref returns the resource name);
AWS Glue API reference, "EncryptionConfiguration".
"""

from __future__ import annotations

import functools

from moto.core.common_models import CloudFormationModel
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.glue.exceptions import EntityNotFoundException
from moto.glue.models import glue_backends
from moto.glue.responses import GlueResponse

from local_aws.cfn_resources import LocalResource
from local_aws.lakeformation import access
from local_aws.patches import patch


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


# --- Lake Formation checks of the catalog API -------------------------------------------------------------------
# With IAMAllowedPrincipals not granted on a database or table (the template revokes it), each catalog action needs
# the caller's Lake Formation permission ("Lake Formation permissions reference", AWS Lake Formation Developer
# Guide): reading metadata DESCRIBE (any permission on the object gives it), CreateTable CREATE_TABLE on the
# database, UpdateTable and partition writes ALTER on the table, DeleteTable DROP, database changes ALTER / DROP on
# the database; a table whose Location lies under a registered location also needs DATA_LOCATION_ACCESS there
# ("Granting data location permissions"). GetDatabases and GetTables list only what the caller may see. A missing
# object is left to moto's EntityNotFoundException, as AWS answers it first. The checks are ``lakeformation.access``'s.


class AccessDenied(JsonRESTError):
    """Glue's AccessDeniedException (HTTP 400), carrying Lake Formation's message."""

    code = 400

    def __init__(self, message: str):
        super().__init__("AccessDeniedException", message)


def _database_exists(self: GlueResponse, database: str | None) -> bool:
    return bool(database) and database in self.glue_backend.databases


def _table_exists(self: GlueResponse, database: str | None, table: str | None) -> bool:
    return _database_exists(self, database) and bool(table) and table in self.glue_backend.databases[database].tables


def _on_database(permission: str, name_param: str = "DatabaseName"):
    def check(self: GlueResponse) -> None:
        database = self.parameters.get(name_param)
        if _database_exists(self, database):
            access.require_database(permission, database)
    return check


def _on_table(permission: str, table_param: str = "TableName"):
    def check(self: GlueResponse) -> None:
        database, table = self.parameters.get("DatabaseName"), self.parameters.get(table_param)
        if _table_exists(self, database, table):
            access.require_table(permission, database, table)
    return check


def _check_create_table(self: GlueResponse) -> None:
    database = self.parameters.get("DatabaseName")
    if _database_exists(self, database):
        access.require_database("CREATE_TABLE", database)
        table_input = self.parameters.get("TableInput") or {}
        access.require_location((table_input.get("StorageDescriptor") or {}).get("Location"))


def _check_update_table(self: GlueResponse) -> None:
    database = self.parameters.get("DatabaseName")
    table_input = self.parameters.get("TableInput") or {}
    if _table_exists(self, database, table_input.get("Name")):
        access.require_table("ALTER", database, table_input["Name"])
        access.require_location((table_input.get("StorageDescriptor") or {}).get("Location"))


def _check_batch_delete_table(self: GlueResponse) -> None:
    database = self.parameters.get("DatabaseName")
    for table in self.parameters.get("TablesToDelete") or []:
        if _table_exists(self, database, table):
            access.require_table("DROP", database, table)


def _check_get_tables(self: GlueResponse) -> None:
    _on_database("DESCRIBE")(self)


def _check_create_database(self: GlueResponse) -> None:
    if not _database_exists(self, (self.parameters.get("DatabaseInput") or {}).get("Name")):
        access.require_create_database()


_CATALOG_CHECKS = {
    "create_database": (_check_create_database, "CreateDatabase needs CREATE_DATABASE on the catalog (held by "
                                                "IAMAllowedPrincipals until revoked)"),
    "get_database": (_on_database("DESCRIBE", "Name"), "GetDatabase needs DESCRIBE on the database"),
    "update_database": (_on_database("ALTER", "Name"), "UpdateDatabase needs ALTER on the database"),
    "delete_database": (_on_database("DROP", "Name"), "DeleteDatabase needs DROP on the database"),
    "get_tables": (_check_get_tables, "GetTables needs DESCRIBE on the database; it lists the tables the caller "
                                      "may see"),
    "create_table": (_check_create_table, "CreateTable needs CREATE_TABLE on the database and DATA_LOCATION_ACCESS "
                                          "on a registered location"),
    "get_table": (_on_table("DESCRIBE", "Name"), "GetTable needs DESCRIBE (any permission) on the table"),
    "update_table": (_check_update_table, "UpdateTable needs ALTER on the table and DATA_LOCATION_ACCESS on a "
                                          "registered location"),
    "delete_table": (_on_table("DROP", "Name"), "DeleteTable needs DROP on the table"),
    "batch_delete_table": (_check_batch_delete_table, "BatchDeleteTable needs DROP on each table"),
    "get_table_versions": (_on_table("DESCRIBE"), "GetTableVersions needs DESCRIBE on the table"),
    "get_table_version": (_on_table("DESCRIBE"), "GetTableVersion needs DESCRIBE on the table"),
    "delete_table_version": (_on_table("ALTER"), "DeleteTableVersion needs ALTER on the table"),
    "get_partitions": (_on_table("DESCRIBE"), "GetPartitions needs DESCRIBE on the table"),
    "get_partition": (_on_table("DESCRIBE"), "GetPartition needs DESCRIBE on the table"),
    "batch_get_partition": (_on_table("DESCRIBE"), "BatchGetPartition needs DESCRIBE on the table"),
    "create_partition": (_on_table("ALTER"), "CreatePartition needs ALTER on the table"),
    "batch_create_partition": (_on_table("ALTER"), "BatchCreatePartition needs ALTER on the table"),
    "update_partition": (_on_table("ALTER"), "UpdatePartition needs ALTER on the table"),
    "batch_update_partition": (_on_table("ALTER"), "BatchUpdatePartition needs ALTER on the table"),
    "delete_partition": (_on_table("ALTER"), "DeletePartition needs ALTER on the table"),
    "batch_delete_partition": (_on_table("ALTER"), "BatchDeletePartition needs ALTER on the table"),
}


def _described(table: dict) -> dict:
    """A GetTable / GetTables entry as the caller may see it: only its granted columns when it holds column-level
    SELECT alone (``access.described_columns``)."""
    storage = table.get("StorageDescriptor") or {}
    columns = [c["Name"] for c in storage.get("Columns") or []] + [k["Name"] for k in table.get("PartitionKeys") or []]
    shown = access.described_columns(table["DatabaseName"], table["Name"], columns)
    if shown is None:
        return table
    keep = {c.lower() for c in shown}
    return {**table, "StorageDescriptor": {**storage, "Columns": [c for c in storage.get("Columns") or []
                                                                   if c["Name"].lower() in keep]},
            "PartitionKeys": [k for k in table.get("PartitionKeys") or [] if k["Name"].lower() in keep]}


def _listed(result: ActionResult, key: str, visible) -> ActionResult:
    items = (result.result or {}).get(key)
    if items is None or access.caller() is None:
        return result
    return ActionResult({**result.result, key: [item for item in items if visible(item)]})


def _checked(action: str, check):
    def factory(original):
        @functools.wraps(original)
        def checked(self: GlueResponse):
            try:
                check(self)
            except access.LakeFormationDenied as exc:
                raise AccessDenied(exc.message) from exc
            result = original(self)
            if action == "get_tables":
                database = self.parameters.get("DatabaseName")
                result = _listed(result, "TableList", lambda t: access.table_visible(database, t["Name"]))
                if access.caller() is not None:
                    return ActionResult({**result.result, "TableList": [_described(t) for t in
                                                                       result.result["TableList"]]})
            elif action == "get_table" and access.caller() is not None:
                return ActionResult({**result.result, "Table": _described(result.result["Table"])})
            return result

        return checked

    return factory


for _action, (_check, _why) in _CATALOG_CHECKS.items():
    patch(f"moto.glue.responses.GlueResponse.{_action}", why=f"Lake Formation: {_why}", wrap=True)(
        _checked(_action, _check))


@patch("moto.glue.responses.GlueResponse.get_databases", wrap=True,
       why="Lake Formation: GetDatabases lists only the databases the caller may see")
def _get_databases(original):
    @functools.wraps(original)
    def get_databases(self: GlueResponse):
        return _listed(original(self), "DatabaseList", lambda d: access.database_visible(d["Name"]))

    return get_databases
