"""What creating a Glue database or table grants, as Lake Formation does it.

- "Changing the default settings for your data lake" (AWS Lake Formation Developer Guide): a new database gets the
  data lake settings' ``CreateDatabaseDefaultPermissions`` (by default ALL to ``IAM_ALLOWED_PRINCIPALS``: "Use only
  IAM access control for new databases") and keeps, as its own ``CreateTableDefaultPermissions``, the settings'
  ``CreateTableDefaultPermissions`` unless its DatabaseInput names its own (the template's ``[]``). A new table gets
  its database's ``CreateTableDefaultPermissions`` as grants.
- A new account's catalog grants CREATE_DATABASE to IAM_ALLOWED_PRINCIPALS (the console's "Database creators"
  list starts with IAMAllowedPrincipals; revoking it leaves CreateDatabase to administrators and explicit grants).
- "Implicit Lake Formation permissions": the principal that creates a database or table holds every permission on
  it; kept here as the creator's record (``CreatorsBackend``), not as a grant, so it never shows in ListPermissions
  and cannot be revoked, as on AWS.

Both apply to every way the catalog is written (the Glue API, CloudFormation, a crawler, Athena DDL): they are
declared on moto's ``GlueBackend.create_database`` / ``create_table``. Dropping a database or table drops its
grants and its creator's record (AWS removes the permissions of a deleted resource).
"""

from __future__ import annotations

from typing import Any

from moto.core.base_backend import BackendDict
from moto.lakeformation.models import lakeformation_backends

from local_aws import principal
from local_aws.backends import LocalBackend
from local_aws.lakeformation.model import IAM_ALLOWED_PRINCIPALS
from local_aws.patches import patch
from local_aws.state import store as state_store


class CreatorsBackend(LocalBackend):
    """Who created each database (key ``(db,)``) and table (``(db, table)``): the DataLakePrincipalIdentifier
    (role or user ARN) of the creating principal. Objects created by no principal (internal calls) or by the root
    user have no entry."""

    SERVICE = "glue"

    def __init__(self, region_name: str, account_id: str):
        super().__init__(region_name, account_id)
        self.creators: dict[tuple[str, ...], str] = {}


creators_backends = BackendDict(CreatorsBackend, "glue")


def identifier(caller: principal.Principal) -> str:
    """The DataLakePrincipalIdentifier a principal is granted under: its role's ARN for a role session, else its
    own ARN (an IAM user)."""
    return caller.role_arn or caller.arn


def _record_creator(account_id: str, region: str, key: tuple[str, ...]) -> None:
    caller = principal.current()
    creators = creators_backends[account_id][region].creators
    if caller is not None and not caller.is_root:
        creators[key] = identifier(caller)
    else:
        creators.pop(key, None)


def _grant_defaults(account_id: str, region: str, defaults: list[dict[str, Any]] | None,
                    resource: dict[str, Any]) -> None:
    lf = lakeformation_backends[account_id][region]
    for default in defaults or []:
        if default.get("Permissions"):
            lf.grant_permissions(account_id, dict(default["Principal"]), resource, list(default["Permissions"]), [])
    if defaults:
        store = state_store.active()
        if store is not None:
            store.touch("lakeformation")  # written by a Glue request: saved with it


def _drop_grants(account_id: str, region: str, matches) -> None:
    lf = lakeformation_backends[account_id][region]
    catalog = lf.grants.get(account_id)
    if catalog is None:
        return
    kept = {g for g in catalog.permissions if not matches(g.resource)}
    if len(kept) != len(catalog.permissions):
        catalog.permissions = kept  # rebuilt, not discarded from: moto's merge leaves stale hashes in the set
        store = state_store.active()
        if store is not None:
            store.touch("lakeformation")


def _settings(account_id: str, region: str) -> dict[str, Any]:
    return lakeformation_backends[account_id][region].get_data_lake_settings(account_id)


@patch("moto.lakeformation.models.LakeFormationBackend.__init__", wrap=True,
       why="a new account's catalog grants CREATE_DATABASE to IAM_ALLOWED_PRINCIPALS (IAMAllowedPrincipals is a "
           "database creator by default, listed by ListPermissions, revocable)")
def _lakeformation_init(original):
    def __init__(self, region_name: str, account_id: str) -> None:
        original(self, region_name, account_id)
        self.grant_permissions(account_id, {"DataLakePrincipalIdentifier": IAM_ALLOWED_PRINCIPALS}, {"Catalog": {}},
                               ["CREATE_DATABASE"], [])

    return __init__


@patch("moto.glue.models.GlueBackend.create_database", wrap=True,
       why="a new database gets the data lake settings' CreateDatabaseDefaultPermissions as grants and keeps its "
           "CreateTableDefaultPermissions; its creator holds every permission on it (Lake Formation)")
def _create_database(original):
    def create_database(self, database_name: str, database_input: dict[str, Any], tags: dict[str, str] | None = None):
        settings = _settings(self.account_id, self.region_name)
        database_input = dict(database_input)
        if database_input.get("CreateTableDefaultPermissions") is None:
            database_input["CreateTableDefaultPermissions"] = [
                dict(p) for p in settings.get("CreateTableDefaultPermissions") or []]
        database = original(self, database_name, database_input, tags)
        _grant_defaults(self.account_id, self.region_name, settings.get("CreateDatabaseDefaultPermissions"),
                        {"Database": {"CatalogId": self.account_id, "Name": database_name}})
        _record_creator(self.account_id, self.region_name, (database_name.lower(),))
        return database

    return create_database


@patch("moto.glue.models.GlueBackend.create_table", wrap=True,
       why="a new table gets its database's CreateTableDefaultPermissions as grants; its creator holds every "
           "permission on it (Lake Formation)")
def _create_table(original):
    def create_table(self, database_name: str, table_name: str, table_input: dict[str, Any],
                     open_table_format_input: dict[str, Any] | None = None):
        table = original(self, database_name, table_name, table_input, open_table_format_input)
        defaults = self.databases[database_name].input.get("CreateTableDefaultPermissions")
        _grant_defaults(self.account_id, self.region_name, defaults, {"Table": {
            "CatalogId": self.account_id, "DatabaseName": database_name, "Name": table_name}})
        _record_creator(self.account_id, self.region_name, (database_name.lower(), table_name.lower()))
        return table

    return create_table


def _names(resource: dict[str, Any]) -> tuple[str, str | None]:
    for kind in ("Table", "TableWithColumns"):
        if kind in resource:
            return (resource[kind].get("DatabaseName") or "").lower(), (resource[kind].get("Name") or "").lower()
    if "Database" in resource:
        return (resource["Database"].get("Name") or "").lower(), None
    return "", None


@patch("moto.glue.models.GlueBackend.delete_table", wrap=True,
       why="dropping a table drops the Lake Formation grants on it and its creator's record")
def _delete_table(original):
    def delete_table(self, database_name: str, table_name: str) -> None:
        original(self, database_name, table_name)
        key = (database_name.lower(), table_name.lower())
        creators_backends[self.account_id][self.region_name].creators.pop(key, None)
        _drop_grants(self.account_id, self.region_name, lambda r: _names(r) == key)

    return delete_table


@patch("moto.glue.models.GlueBackend.delete_database", wrap=True,
       why="dropping a database drops the Lake Formation grants on it and its tables, and their creators' records")
def _delete_database(original):
    def delete_database(self, database_name: str) -> None:
        original(self, database_name)
        name = database_name.lower()
        creators = creators_backends[self.account_id][self.region_name].creators
        for key in [k for k in creators if k[0] == name]:
            del creators[key]
        _drop_grants(self.account_id, self.region_name, lambda r: _names(r)[0] == name)

    return delete_database
