"""Lake Formation: moto's store of settings, registered locations, grants and LF-tags, made to answer as AWS does,
and its CloudFormation resource types.

Mended here (moto 5.2.5; each a declared patch, ``local_aws.patches``):
- GetResourceLFTags on a database or table without tags returned 500 (KeyError); AWS answers empty lists;
- AddLFTagsToResource replaced every tag of the resource and never checked values; AWS assigns per key (one value
  list per key) and reports an unknown key or value as a failure;
- RemoveLFTagsFromResource raised on a tag the resource did not have;
- GetLFTag / CreateLFTag: an unknown key is EntityNotFoundException, a duplicate AlreadyExistsException;
- GrantPermissions / RevokePermissions on a Glue database or table that does not exist is EntityNotFoundException;
  the caller must be a data lake administrator or hold what it grants with the grant option (AccessDeniedException,
  ``local_aws.lakeformation.access.require_grant``); a grant on a DataCellsFilter needs the filter to exist;
- CreateDataCellsFilter, GetDataCellsFilter, DeleteDataCellsFilter (moto has none) and ListDataCellsFilter (moto's
  lists nothing): filters live in ``local_aws.lakeformation.filters``;
- BatchGrantPermissions / BatchRevokePermissions checked per entry (Failures), keeping the grant option moto drops.
The API-level checks sit on the responses class only; CloudFormation's resource handlers call the backend.

CloudFormation types (beside the service they create): AWS::LakeFormation::DataLakeSettings, ::Resource,
::PrincipalPermissions, ::Permissions, ::Tag, ::TagAssociation. Deleting a stack revokes its grants, deregisters
its locations, deletes its LF-tags and removes its tag associations, as AWS does; DataLakeSettings stay as they
are (AWS keeps the account's settings too).

State: moto's Lake Formation backend, saved by the state store (``local_aws.state``) after every request that
changes it and restored as it was, grants to stack-created roles included (their ARNs are restored unchanged).
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.core.exceptions import JsonRESTError
from moto.glue.models import glue_backends
from moto.lakeformation import urls as _lf_urls
from moto.lakeformation.exceptions import AlreadyExists, EntityNotFound, InvalidInput
from moto.lakeformation.models import LakeFormationBackend, lakeformation_backends
from moto.lakeformation.responses import LakeFormationResponse

from local_aws.cfn_resources import LocalResource
from local_aws.lakeformation import access, filters
from local_aws.patches import add, patch, set_value

log = logging.getLogger(__name__)


# --- backend: tag assignment as AWS does it -----------------------------------------------------------------


def _resource_keys(backend: LakeFormationBackend, resource: dict[str, Any]) -> list[tuple[dict, tuple]]:
    """(store, key) pairs under which `resource`'s LF-tags live."""
    keys = []
    if "Database" in resource:
        db = resource["Database"]
        keys.append((backend.lf_database_tags, (db.get("CatalogId", backend.account_id), db["Name"])))
    if "Table" in resource:
        table = resource["Table"]
        if "Name" not in table:  # LF-tags go on named tables only; a TableWildcard is not taggable
            raise InvalidInput("Resource.Table.Name is required for LF-tags.")
        keys.append((backend.lf_table_tags,
                     (table.get("CatalogId", backend.account_id), table["DatabaseName"], table["Name"])))
    if "TableWithColumns" in resource:
        table = resource["TableWithColumns"]
        base = (table.get("CatalogId", backend.account_id), table["DatabaseName"], table["Name"])
        keys.extend((backend.lf_columns_tags, (*base, column)) for column in table.get("ColumnNames", []))
    return keys


@patch("moto.lakeformation.models.LakeFormationBackend.add_lf_tags_to_resource",
       why="moto replaces every tag of the resource and never checks values; AWS assigns per key and reports an "
           "unknown key or value as a failure")
def _add_lf_tags_to_resource(self: LakeFormationBackend, catalog_id: str, resource: dict[str, Any],
                             tags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    failures = []
    for tag in tags:
        tag.setdefault("CatalogId", catalog_id)
        defined = self.list_lf_tags(tag["CatalogId"])
        if tag["TagKey"] not in defined:
            failures.append({"LFTag": tag, "Error": {"ErrorCode": "EntityNotFoundException",
                                                     "ErrorMessage": f"Tag key {tag['TagKey']} does not exist."}})
        elif unknown := sorted(set(tag.get("TagValues", [])) - set(defined[tag["TagKey"]] or [])):
            failures.append({"LFTag": tag, "Error": {"ErrorCode": "InvalidInputException",
                                                     "ErrorMessage": f"Tag values {unknown} are not defined "
                                                                     f"for tag key {tag['TagKey']}."}})
    if failures:
        return failures
    for store, key in _resource_keys(self, resource):
        assigned = {existing["TagKey"]: existing for existing in store.get(key, [])}
        assigned.update({tag["TagKey"]: dict(tag) for tag in tags})  # one value list per key: the new one wins
        store[key] = list(assigned.values())
    return []


@patch("moto.lakeformation.models.LakeFormationBackend.get_resource_lf_tags",
       why="moto 500s (KeyError) on an untagged database or table; AWS answers empty lists")
def _get_resource_lf_tags(self: LakeFormationBackend, catalog_id: str, resource: dict[str, Any]):
    database_tags: list = []
    table_tags: list = []
    column_tags: list = []
    for store, key in _resource_keys(self, resource):
        tags = store.get(key, [])
        if store is self.lf_database_tags:
            database_tags = tags
        elif store is self.lf_table_tags:
            table_tags = tags
        elif tags:
            column_tags.append({"Name": key[-1], "LFTags": tags})
    return database_tags, table_tags, column_tags


@patch("moto.lakeformation.models.LakeFormationBackend.remove_lf_tags_from_resource",
       why="moto raises on a tag the resource does not have")
def _remove_lf_tags_from_resource(self: LakeFormationBackend, catalog_id: str, resource: dict[str, Any],
                                  tags: list[dict[str, Any]]) -> None:
    removed = {tag["TagKey"] for tag in tags}
    for store, key in _resource_keys(self, resource):
        store[key] = [tag for tag in store.get(key, []) if tag["TagKey"] not in removed]


def _with_catalog_id(resource: dict[str, Any], catalog_id: str) -> dict[str, Any]:
    """``resource`` with each part's CatalogId filled in (AWS defaults it to the caller's account and lists it)."""
    filled = {}
    for kind, spec in (resource or {}).items():
        if isinstance(spec, dict) and kind in ("Database", "Table", "TableWithColumns", "DataLocation",
                                               "LFTagPolicy", "LFTag", "DataCellsFilter"):
            key = "TableCatalogId" if kind == "DataCellsFilter" else "CatalogId"
            spec = {**spec, key: spec.get(key) or catalog_id}
        filled[kind] = spec
    return filled


def _same_catalog_id(original):
    def action(self: LakeFormationBackend, catalog_id: str, principal: dict[str, str], resource: dict[str, Any],
               *permissions: Any, **named: Any) -> None:
        return original(self, catalog_id, principal, _with_catalog_id(resource, catalog_id), *permissions, **named)

    return action


patch("moto.lakeformation.models.LakeFormationBackend.grant_permissions", wrap=True,
      why="moto keeps a grant's Resource as given, so a grant naming CatalogId and a revoke omitting it (both valid, "
          "AWS defaults it to the account) never meet; AWS lists it filled in")(_same_catalog_id)
patch("moto.lakeformation.models.LakeFormationBackend.revoke_permissions", wrap=True,
      why="as grant_permissions: the Resource's CatalogId defaults to the account")(_same_catalog_id)


# --- API-level checks ---------------------------------------------------------------------------------------


def _check_catalog_resource(account_id: str, region: str, resource: dict[str, Any] | None) -> None:
    """A grant on a Glue database or named table needs it to exist (AWS: EntityNotFoundException)."""
    if not resource:
        raise InvalidInput("Resource is required.")
    glue = glue_backends[account_id][region]
    for kind in ("Database", "Table", "TableWithColumns"):
        if kind not in resource:
            continue
        spec = resource[kind]
        database = spec.get("Name") if kind == "Database" else spec.get("DatabaseName")
        if database not in glue.databases:
            raise _not_found(f"Database {database} not found.")
        table = None if kind == "Database" or "TableWildcard" in spec else spec.get("Name")
        if table and table not in glue.databases[database].tables:
            raise _not_found(f"Table {table} not found.")


def _not_found(message: str) -> JsonRESTError:
    """moto's EntityNotFound, with AWS's message naming the missing entity (moto's says only 'Entity not found')."""
    error = EntityNotFound()
    JsonRESTError.__init__(error, "EntityNotFoundException", message)
    return error


def _checked(check):
    """A response action that runs ``check`` (raising AWS's error) before moto's action."""

    def factory(original):
        @functools.wraps(original)
        def action(self: LakeFormationResponse) -> str:
            check(self)
            return original(self)

        return action

    return factory


class AccessDenied(JsonRESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__("AccessDeniedException", message)


def _check_grant_entry(account_id: str, region: str, principal: dict | None, permissions: list[str] | None,
                       resource: dict[str, Any] | None) -> None:
    """What GrantPermissions / RevokePermissions (and each Batch entry) check, raising AWS's error."""
    if not (principal or {}).get("DataLakePrincipalIdentifier"):
        raise InvalidInput("Principal.DataLakePrincipalIdentifier is required.")
    if not permissions:
        raise InvalidInput("Permissions must not be empty.")
    if resource and "DataCellsFilter" in resource:
        spec = resource["DataCellsFilter"]
        if filters.key(spec.get("DatabaseName") or "", spec.get("TableName") or "", spec.get("Name") or "") \
                not in filters.filters_backends[account_id][region].filters:
            raise _not_found(f"Data cells filter {spec.get('Name')} not found.")
    _check_catalog_resource(account_id, region, resource)
    try:  # the caller must be a data lake administrator, or hold what it grants with the grant option
        access.require_grant(resource, permissions, account=account_id, region=region)
    except access.LakeFormationDenied as exc:
        raise AccessDenied(exc.message) from exc


def _check_grant(self: LakeFormationResponse) -> None:
    _check_grant_entry(self.current_account, self.region, self._get_param("Principal"),
                       self._get_param("Permissions"), self._get_param("Resource"))


def _batch(revoke: bool):
    """BatchGrantPermissions / BatchRevokePermissions: each entry checked as the single call is; a refused entry
    is reported in Failures (its RequestEntry and Error) and the others are applied, as AWS answers a batch."""

    def action(self: LakeFormationResponse) -> str:
        catalog_id = self._get_param("CatalogId") or self.current_account
        failures = []
        for entry in self._get_param("Entries") or []:
            try:
                _check_grant_entry(self.current_account, self.region, entry.get("Principal"),
                                   entry.get("Permissions"), entry.get("Resource"))
            except JsonRESTError as exc:
                failures.append({"RequestEntry": entry, "Error": {"ErrorCode": exc.error_type,
                                                                   "ErrorMessage": exc.message}})
                continue
            apply = (self.lakeformation_backend.revoke_permissions if revoke
                     else self.lakeformation_backend.grant_permissions)
            apply(catalog_id, entry["Principal"], entry["Resource"], entry.get("Permissions") or [],
                  entry.get("PermissionsWithGrantOption") or [])
        return json.dumps({"Failures": failures})

    return action


def _check_tag_exists(self: LakeFormationResponse) -> None:
    catalog_id = self._get_param("CatalogId") or self.current_account
    if self._get_param("TagKey") not in self.lakeformation_backend.list_lf_tags(catalog_id):
        raise _not_found(f"Tag key {self._get_param('TagKey')} does not exist.")


def _check_tag_new(self: LakeFormationResponse) -> None:
    catalog_id = self._get_param("CatalogId") or self.current_account
    if self._get_param("TagKey") in self.lakeformation_backend.list_lf_tags(catalog_id):
        raise AlreadyExists(f"Tag key {self._get_param('TagKey')} already exists.")
    if not self._get_param("TagValues"):
        raise InvalidInput("TagValues must not be empty.")


_RESPONSES = "moto.lakeformation.responses.LakeFormationResponse"
for _action, _check, _why in (
        ("grant_permissions", _check_grant, "a grant needs a principal, permissions and an existing Glue database "
                                            "or table (AWS: InvalidInputException / EntityNotFoundException)"),
        ("revoke_permissions", _check_grant, "as GrantPermissions: the catalog object must exist"),
        ("get_lf_tag", _check_tag_exists, "an unknown LF-tag key is EntityNotFoundException"),
        ("delete_lf_tag", _check_tag_exists, "an unknown LF-tag key is EntityNotFoundException"),
        ("update_lf_tag", _check_tag_exists, "an unknown LF-tag key is EntityNotFoundException"),
        ("create_lf_tag", _check_tag_new, "a duplicate LF-tag key is AlreadyExistsException; values are required")):
    patch(f"{_RESPONSES}.{_action}", why=_why, wrap=True)(_checked(_check))
# --- data cells filters ("Data filtering and cell-level security"; API: CreateDataCellsFilter ...) -------------------


def _filters(self: LakeFormationResponse) -> dict:
    return filters.filters_backends[self.current_account][self.region].filters


def _filter_key(self: LakeFormationResponse) -> tuple[str, str, str]:
    return filters.key(self._get_param("DatabaseName") or "", self._get_param("TableName") or "",
                       self._get_param("Name") or "")


set_value("moto.lakeformation.urls.url_paths", {
    **_lf_urls.url_paths, **{f"{{0}}/{action}$": _lf_urls.response.dispatch
                             for action in ("CreateDataCellsFilter", "GetDataCellsFilter", "DeleteDataCellsFilter")}},
    why="routes for the data cells filter actions moto lacks")


@add(f"{_RESPONSES}.create_data_cells_filter", why="moto has no CreateDataCellsFilter")
def _create_data_cells_filter(self: LakeFormationResponse) -> str:
    data = dict(self._get_param("TableData") or {})
    data.setdefault("TableCatalogId", self.current_account)
    for required in ("DatabaseName", "TableName", "Name"):
        if not data.get(required):
            raise InvalidInput(f"TableData.{required} is required.")
    row = data.get("RowFilter") or {}
    if ("FilterExpression" in row) == ("AllRowsWildcard" in row):
        raise InvalidInput("RowFilter needs exactly one of FilterExpression and AllRowsWildcard.")
    if bool(data.get("ColumnNames")) == ("ColumnWildcard" in data):
        raise InvalidInput("TableData needs exactly one of ColumnNames and ColumnWildcard.")
    _check_catalog_resource(self.current_account, self.region,
                            {"Table": {"DatabaseName": data["DatabaseName"], "Name": data["TableName"]}})
    try:  # creating a filter needs SELECT with the grant option on the table (or an administrator)
        access.require_grant({"DataCellsFilter": data}, ["SELECT"], account=self.current_account, region=self.region)
    except access.LakeFormationDenied as exc:
        raise AccessDenied(exc.message) from exc
    key = filters.key(data["DatabaseName"], data["TableName"], data["Name"])
    if key in _filters(self):
        raise AlreadyExists(f"Data cells filter {data['Name']} already exists.")
    _filters(self)[key] = data
    return "{}"


@add(f"{_RESPONSES}.get_data_cells_filter", why="moto has no GetDataCellsFilter")
def _get_data_cells_filter(self: LakeFormationResponse) -> str:
    found = _filters(self).get(_filter_key(self))
    if found is None:
        raise _not_found(f"Data cells filter {self._get_param('Name')} not found.")
    return json.dumps({"DataCellsFilter": found})


@add(f"{_RESPONSES}.delete_data_cells_filter", why="moto has no DeleteDataCellsFilter")
def _delete_data_cells_filter(self: LakeFormationResponse) -> str:
    key = _filter_key(self)
    if key not in _filters(self):
        raise _not_found(f"Data cells filter {self._get_param('Name')} not found.")
    try:
        access.require_grant({"DataCellsFilter": _filters(self)[key]}, ["SELECT"], account=self.current_account,
                             region=self.region)
    except access.LakeFormationDenied as exc:
        raise AccessDenied(exc.message) from exc
    del _filters(self)[key]
    catalog = self.lakeformation_backend.grants.get(self.current_account)
    if catalog is not None:  # the grants on a deleted filter go with it
        catalog.permissions = {g for g in catalog.permissions if "DataCellsFilter" not in g.resource or filters.key(
            g.resource["DataCellsFilter"].get("DatabaseName") or "", g.resource["DataCellsFilter"].get("TableName")
            or "", g.resource["DataCellsFilter"].get("Name") or "") != key}
    return "{}"


@patch(f"{_RESPONSES}.list_data_cells_filter", why="moto lists no filters (it has no CreateDataCellsFilter)")
def _list_data_cells_filter(self: LakeFormationResponse) -> str:
    table = self._get_param("Table") or {}
    database, name = (table.get("DatabaseName") or "").lower(), (table.get("Name") or "").lower()
    found = [f for (db, t, _), f in sorted(_filters(self).items())
             if (not database or db == database) and (not name or "TableWildcard" in table or t == name)]
    return json.dumps({"DataCellsFilters": found})


patch(f"{_RESPONSES}.batch_grant_permissions",
      why="each entry is checked as GrantPermissions is (refusals in Failures); moto reads the grant option from a "
          "misspelt key (PermissionsWithGrantOptions) and so drops it")(_batch(revoke=False))
patch(f"{_RESPONSES}.batch_revoke_permissions",
      why="each entry is checked as RevokePermissions is (refusals in Failures); moto misspells the grant-option "
          "key")(_batch(revoke=True))


# --- CloudFormation resource types ----------------------------------------------------------------------------


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
    """A registered S3 location. Creating one that is registered already fails (AlreadyExistsException), as the
    RegisterResource API does; an update re-registers it with the new role."""

    TYPE = "AWS::LakeFormation::Resource"

    @classmethod
    def create(cls, name, props, account_id, region):
        lakeformation_backends[account_id][region].register_resource(props["ResourceArn"], props.get("RoleArn", ""))
        return cls(props["ResourceArn"])

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        backend = lakeformation_backends[account_id][region_name]
        if original_resource.physical_resource_id in backend.resources:
            backend.deregister_resource(original_resource.physical_resource_id)
        return cls.create(new_resource_name, cloudformation_json.get("Properties", {}), account_id, region_name)

    @classmethod
    def remove(cls, name, props, account_id, region):
        backend = lakeformation_backends[account_id][region]
        if name in backend.resources:
            backend.deregister_resource(name)


class _Grant(LocalResource):
    """A grant made by a stack: deleting the resource revokes exactly what it granted (its resolved principal,
    resource and permissions are kept on the stack's record)."""

    REPLACE_ON_UPDATE = True

    def delete(self, account_id: str, region: str) -> None:
        grant = self.attributes["_grant"]
        backend = lakeformation_backends[account_id][region]
        if grant["catalog"] in backend.grants:
            backend.revoke_permissions(grant["catalog"], grant["principal"], grant["resource"],
                                       grant["permissions"], grant["grantable"])

    @classmethod
    def _granted(cls, physical_id: str, catalog: str, principal: dict, resource: dict, permissions: list[str],
                 grantable: list[str], account_id: str, region: str) -> _Grant:
        lakeformation_backends[account_id][region].grant_permissions(catalog, principal, resource, permissions,
                                                                     grantable)
        return cls(physical_id, {"_grant": {"catalog": catalog, "principal": principal, "resource": resource,
                                            "permissions": list(permissions), "grantable": list(grantable)}})


class PrincipalPermissions(_Grant, CloudFormationModel):
    TYPE = "AWS::LakeFormation::PrincipalPermissions"

    @classmethod
    def create(cls, name, props, account_id, region):
        return cls._granted(f"{props['Principal']['DataLakePrincipalIdentifier']}|{name}", _catalog(props, account_id),
                            props["Principal"], props["Resource"], props.get("Permissions", []),
                            props.get("PermissionsWithGrantOption", []), account_id, region)


class Permissions(_Grant, CloudFormationModel):
    """The older Lake Formation grant resource, whose Resource shape differs from the API's."""

    TYPE = "AWS::LakeFormation::Permissions"

    @staticmethod
    def api_resource(resource: dict) -> dict:
        """The API's Resource for the resource type's shape; ValueError for a shape not emulated."""
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
        principal = props["DataLakePrincipal"]
        return cls._granted(f"{principal['DataLakePrincipalIdentifier']}|{name}", account_id, principal,
                            cls.api_resource(props["Resource"]), props.get("Permissions", []),
                            props.get("PermissionsWithGrantOption", []), account_id, region)


class LFTag(LocalResource, CloudFormationModel):
    """An LF-tag. Creating a key that exists fails (AlreadyExistsException), as CreateLFTag does; an update
    replaces the values."""

    TYPE = "AWS::LakeFormation::Tag"
    REPLACE_ON_UPDATE = True

    @classmethod
    def create(cls, name, props, account_id, region):
        catalog = _catalog(props, account_id)
        backend = lakeformation_backends[account_id][region]
        if props["TagKey"] in backend.list_lf_tags(catalog):
            raise AlreadyExists(f"Tag key {props['TagKey']} already exists.")
        backend.create_lf_tag(catalog, props["TagKey"], props["TagValues"])
        return cls(props["TagKey"], {"_catalog": catalog})

    def delete(self, account_id: str, region: str) -> None:
        backend = lakeformation_backends[account_id][region]
        catalog = self.attributes.get("_catalog", account_id)
        if self.physical_id in backend.list_lf_tags(catalog):
            backend.delete_lf_tag(catalog, self.physical_id)


class LFTagAssociation(LocalResource, CloudFormationModel):
    """LF-tags assigned to a database, table or columns; deleting the resource removes those assignments."""

    TYPE = "AWS::LakeFormation::TagAssociation"
    REPLACE_ON_UPDATE = True

    @classmethod
    def create(cls, name, props, account_id, region):
        tags = [{"TagKey": t["TagKey"], "TagValues": t["TagValues"]} for t in props["LFTags"]]
        failures = lakeformation_backends[account_id][region].add_lf_tags_to_resource(account_id, props["Resource"],
                                                                                      tags)
        if failures:  # AWS fails the resource; the API call reports them as Failures
            raise InvalidInput("; ".join(f["Error"]["ErrorMessage"] for f in failures))
        return cls(name, {"_association": {"resource": props["Resource"], "tags": tags}})

    def delete(self, account_id: str, region: str) -> None:
        association = self.attributes["_association"]
        lakeformation_backends[account_id][region].remove_lf_tags_from_resource(
            account_id, association["resource"], association["tags"])
