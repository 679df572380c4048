"""Lake Formation: moto's store of settings, registered locations, grants and LF-tags, made to answer as AWS does
and persisted in the state dir.

Mended here (moto 5.2.5):
- GetResourceLFTags on a database or table without tags returned 500 (KeyError); AWS answers empty lists;
- AddLFTagsToResource replaced every tag of the resource and never checked values; AWS assigns per key (one value
  list per key) and reports an unknown key or value as a failure;
- RemoveLFTagsFromResource raised on a tag the resource did not have;
- GetLFTag / CreateLFTag: an unknown key is EntityNotFoundException, a duplicate AlreadyExistsException;
- GrantPermissions / RevokePermissions on a Glue database or table that does not exist is EntityNotFoundException.
The API-level checks sit on the responses class only, so CloudFormation's resource handlers (which call the
backend directly and re-apply stacks at start) keep working on restored state.

State: `<state_dir>/lakeformation/state.json` (written atomically).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from moto.cloudformation import models as cfn_models
from moto.core.exceptions import JsonRESTError
from moto.glue.models import glue_backends
from moto.iam.models import Role
from moto.lakeformation.exceptions import AlreadyExists, InvalidInput
from moto.lakeformation.models import LakeFormationBackend, PermissionCatalog, lakeformation_backends
from moto.lakeformation.responses import LakeFormationResponse

PRIORITY = 50  # before CloudFormation (90), which re-applies its stacks on top of the restored state
log = logging.getLogger(__name__)
_TAG_ARN = "arn:lakeformation:"  # moto keeps a catalog's LF-tag definitions under this pseudo ARN + catalog id


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


def _remove_lf_tags_from_resource(self: LakeFormationBackend, catalog_id: str, resource: dict[str, Any],
                                  tags: list[dict[str, Any]]) -> None:
    removed = {tag["TagKey"] for tag in tags}
    for store, key in _resource_keys(self, resource):
        store[key] = [tag for tag in store.get(key, []) if tag["TagKey"] not in removed]


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


class _NotFound(JsonRESTError):
    def __init__(self, message: str):
        super().__init__("EntityNotFoundException", message)


def _not_found(message: str) -> JsonRESTError:
    return _NotFound(message)


def _checked(original, check):
    def action(self: LakeFormationResponse) -> str:
        check(self)
        return original(self)

    action.__name__ = original.__name__
    action._local_aws_checked = True
    return action


def _check_grant(self: LakeFormationResponse) -> None:
    if not (self._get_param("Principal") or {}).get("DataLakePrincipalIdentifier"):
        raise InvalidInput("Principal.DataLakePrincipalIdentifier is required.")
    if not self._get_param("Permissions"):
        raise InvalidInput("Permissions must not be empty.")
    _check_catalog_resource(self.current_account, self.region, self._get_param("Resource"))


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


def install(server) -> None:
    LakeFormationBackend.add_lf_tags_to_resource = _add_lf_tags_to_resource
    LakeFormationBackend.get_resource_lf_tags = _get_resource_lf_tags
    LakeFormationBackend.remove_lf_tags_from_resource = _remove_lf_tags_from_resource
    checks = {"grant_permissions": _check_grant, "revoke_permissions": _check_grant,
              "get_lf_tag": _check_tag_exists, "delete_lf_tag": _check_tag_exists,
              "update_lf_tag": _check_tag_exists, "create_lf_tag": _check_tag_new}
    for name, check in checks.items():
        original = getattr(LakeFormationResponse, name)
        if not getattr(original, "_local_aws_checked", False):  # install twice (a second server) patches once
            setattr(LakeFormationResponse, name, _checked(original, check))


# --- persistence --------------------------------------------------------------------------------------------


def _state_file(server) -> Path:
    return Path(server.state_dir) / "lakeformation" / "state.json"


def _stack_owned_principals() -> set[str]:
    """ARNs of IAM roles that CloudFormation stacks created. Their names carry a random suffix and the stacks are
    re-applied at start (with new roles and new grants), so saving their grants would only leave stale ones."""
    arns = set()
    for regions in cfn_models.cloudformation_backends.values():
        for backend in regions.values():
            for stack in list(backend.stacks.values()):
                resources = dict(getattr(stack.resource_map, "_parsed_resources", {}))
                arns.update(resource.arn for resource in resources.values() if isinstance(resource, Role))
    return arns


def _dump_backend(backend: LakeFormationBackend, skip_principals: set[str]) -> dict[str, Any]:
    # Snapshots (list(...)) because request threads may change the stores while the autosave runs.
    return {
        "resources": {arn: resource.role_arn for arn, resource in list(backend.resources.items())},
        "settings": dict(list(backend.settings.items())),
        "grants": {catalog: [permission.to_external_form() for permission in list(grants.permissions)
                             if permission.principal.get("DataLakePrincipalIdentifier") not in skip_principals]
                   for catalog, grants in list(backend.grants.items())},
        "lf_tags": {arn[len(_TAG_ARN):]: backend.tagger.get_tag_dict_for_resource(arn)
                    for arn in list(backend.tagger.tags) if arn.startswith(_TAG_ARN)},
        "database_tags": [[list(key), tags] for key, tags in list(backend.lf_database_tags.items())],
        "table_tags": [[list(key), tags] for key, tags in list(backend.lf_table_tags.items())],
        "column_tags": [[list(key), tags] for key, tags in list(backend.lf_columns_tags.items())],
    }


def _load_backend(backend: LakeFormationBackend, state: dict[str, Any]) -> None:
    for arn, role_arn in state.get("resources", {}).items():
        backend.resources.pop(arn, None)
        backend.register_resource(arn, role_arn)
    backend.settings.update(state.get("settings", {}))
    for catalog, grants in state.get("grants", {}).items():
        backend.grants[catalog] = PermissionCatalog()
        for grant in grants:
            backend.grant_permissions(catalog, grant["Principal"], grant["Resource"], grant["Permissions"],
                                      grant["PermissionsWithGrantOption"])
    for catalog, tags in state.get("lf_tags", {}).items():
        for key, values in tags.items():
            backend.create_lf_tag(catalog, key, values)
    for field, store in (("database_tags", backend.lf_database_tags), ("table_tags", backend.lf_table_tags),
                         ("column_tags", backend.lf_columns_tags)):
        for key, tags in state.get(field, []):
            store[tuple(key)] = tags


def save_state(server) -> None:
    skip = _stack_owned_principals()
    state = {f"{account}/{region}": dumped
             for account, regions in lakeformation_backends.items() for region, backend in regions.items()
             if any((dumped := _dump_backend(backend, skip)).values())}
    path = _state_file(server)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, indent=1, sort_keys=True, default=str))
    os.replace(temporary, path)  # a crash mid-write leaves the previous state, never half a file


def load_state(server) -> None:
    path = _state_file(server)
    if not path.is_file():
        return
    try:
        state = json.loads(path.read_text())
    except ValueError as exc:
        raise RuntimeError(f"Lake Formation state {path} is not valid JSON: {exc}") from exc
    for scope, backend_state in state.items():
        account, region = scope.split("/", 1)
        _load_backend(lakeformation_backends[account][region], backend_state)
    log.info("Lake Formation state restored from %s", path)
