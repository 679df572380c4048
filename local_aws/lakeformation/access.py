"""The Lake Formation checks the catalog API and the engines call, for the principal of the call being served.

    from local_aws.lakeformation import access
    access.require_table("SELECT", "sales", "raw_sales")         # LakeFormationDenied if the caller may not
    access.readable_columns(glue_table)                          # None: every column; else the granted ones
    access.require_location("s3://lake/raw/sales/")              # DATA_LOCATION_ACCESS when the path is registered

Who is checked: ``principal.current()``. Nobody is checked when ``LOCAL_AWS_AUTHORIZATION`` is off, when no
principal was established (an internal call), or for the account's root user (the default test keys, which the
local AWS takes as root so that ad-hoc use keeps working: a local choice; on AWS Lake Formation does not exempt
root). Everyone else passes when any of these holds, in the order AWS documents them ("Lake Formation
permissions reference", "Implicit Lake Formation permissions", "Changing the default settings for your data
lake"): the object has a grant to IAM_ALLOWED_PRINCIPALS (IAM alone decides); the caller is a data lake
administrator and needs DESCRIBE or data location access; the caller created the object; the caller holds the
permission through a grant (named, wildcard, columns or LF-tags).

Each check reads moto's Lake Formation and Glue backends directly (no copies): a few microseconds for the
template's dozen grants (``bench/lakeformation_checks.py``).
"""

from __future__ import annotations

from typing import Any

from moto.glue.models import glue_backends
from moto.lakeformation.models import lakeformation_backends

from local_aws import ACCOUNT_ID, REGION, principal
from local_aws.lakeformation import errors, model
from local_aws.lakeformation.defaults import creators_backends, identifier
from local_aws.lakeformation.errors import LakeFormationDenied, NotEmulated
from local_aws.lakeformation.filters import columns_of, filters_backends, row_condition

__all__ = ["LakeFormationDenied", "NotEmulated", "caller", "database_visible", "described_columns", "read_scope",
           "readable_columns", "require_create_database", "require_database",
           "require_grant", "require_location", "require_table", "table_columns", "table_visible"]


def caller() -> principal.Principal | None:
    """The principal Lake Formation checks, or None when nothing is checked (see the module's docstring)."""
    current = principal.current()
    if current is None or current.is_root or not principal.enforcing():  # the settings read last: it costs most
        return None
    return current


class _Scope:
    """One account's Lake Formation state, seen by one principal."""

    __slots__ = ("account", "cell_filters", "creators", "glue", "ids", "lf")

    def __init__(self, who: principal.Principal, account: str, region: str):
        self.account = account
        self.lf = lakeformation_backends[account][region]
        self.glue = glue_backends[account][region]
        self.creators = creators_backends[account][region].creators
        self.cell_filters = filters_backends[account][region].filters
        self.ids = frozenset({identifier(who)})

    def admin(self) -> bool:
        return model.is_admin(self.lf, self.account, self.ids)

    def created(self, *key: str) -> bool:
        return self.creators.get(tuple(k.lower() for k in key)) in self.ids


def _scope(who: principal.Principal | None, account: str | None, region: str | None) -> _Scope | None:
    """The state ``who`` (default: the current caller) is checked against; None when nothing is checked."""
    if who is None:
        who = caller()
        if who is None:
            return None
    elif who.is_root or not principal.enforcing():
        return None
    return _Scope(who, account or who.account_id or ACCOUNT_ID, region or REGION)


def table_columns(glue, database: str, table: str) -> list[str]:
    """The table's column names then its partition keys, as the catalog has them now ([] if it is gone)."""
    db = glue.databases.get(database)
    fake = db.tables.get(table) if db is not None else None
    if fake is None:
        return []
    current = fake.versions[str(fake._current_version)]
    return [c["Name"] for c in (current.get("StorageDescriptor") or {}).get("Columns") or []] + \
        [k["Name"] for k in current.get("PartitionKeys") or []]


# --- databases --------------------------------------------------------------------------------------------------


def _database_allows(scope: _Scope, permission: str, database: str) -> bool:
    if model.iam_allowed_on_database(scope.lf, scope.account, database) or scope.created(database):
        return True
    if permission == "DESCRIBE" and scope.admin():
        return True
    permissions, _ = model.database_holding(scope.lf, scope.account, scope.ids, database)
    if permission == "DESCRIBE":
        return bool(permissions) or _any_table_visible(scope, database)
    return permission in permissions


def _any_table_visible(scope: _Scope, database: str) -> bool:
    """A principal that holds something on a table sees its database ("Implicit Lake Formation permissions")."""
    db = scope.glue.databases.get(database)
    return db is not None and any(_table_allows(scope, "DESCRIBE", database, t) for t in db.tables)


def require_database(permission: str, database: str, *, who: principal.Principal | None = None,
                     account: str | None = None, region: str | None = None) -> None:
    """Raise LakeFormationDenied ("Required <Permission> on <database>") unless the caller (or ``who``) holds
    ``permission`` (ALTER, CREATE_TABLE, DESCRIBE, DROP) on the Glue database."""
    scope = _scope(who, account, region)
    if scope is not None and not _database_allows(scope, permission, database):
        raise errors.required(permission, database)


def require_create_database(*, who: principal.Principal | None = None, account: str | None = None,
                            region: str | None = None) -> None:
    """CreateDatabase: CREATE_DATABASE on the catalog (held by IAM_ALLOWED_PRINCIPALS, so by everyone, until that
    default is revoked), or a data lake administrator. Raises "Required Create Database on Catalog"."""
    scope = _scope(who, account, region)
    if scope is None or scope.admin() or "CREATE_DATABASE" in model.catalog_permissions(scope.lf, scope.account,
                                                                                        scope.ids):
        return
    raise errors.required("CREATE_DATABASE", "Catalog")


def database_visible(database: str, *, who: principal.Principal | None = None) -> bool:
    """Whether GetDatabases lists the database to the caller (it holds something on it or on one of its tables)."""
    scope = _scope(who, None, None)
    return scope is None or _database_allows(scope, "DESCRIBE", database)


# --- tables -----------------------------------------------------------------------------------------------------


def _table_allows(scope: _Scope, permission: str, database: str, table: str) -> bool:
    if scope.created(database, table) or (permission == "DESCRIBE" and scope.admin()):
        return True
    holding = model.table_holding(scope.lf, scope.account, scope.ids, database, table,
                                  table_columns(scope.glue, database, table), scope.cell_filters)
    if holding.iam_allowed:
        return True
    if permission == "DESCRIBE":
        return holding.any()
    return permission in holding.permissions


def require_table(permission: str, database: str, table: str, *, who: principal.Principal | None = None,
                  account: str | None = None, region: str | None = None) -> None:
    """Raise LakeFormationDenied ("Required <Permission> on <table>") unless the caller (or ``who``) holds
    ``permission`` (ALTER, DELETE, DESCRIBE, DROP, INSERT, SELECT) on the whole table. DESCRIBE is held through any
    permission on the table, column-level SELECT included."""
    scope = _scope(who, account, region)
    if scope is not None and not _table_allows(scope, permission, database, table):
        raise errors.required(permission, table)


def table_visible(database: str, table: str, *, who: principal.Principal | None = None) -> bool:
    """Whether GetTables lists the table to the caller."""
    scope = _scope(who, None, None)
    return scope is None or _table_allows(scope, "DESCRIBE", database, table)


def readable_columns(database: str, table: str, columns: list[str], *, who: principal.Principal | None = None
                     ) -> list[str] | None:
    """The names among ``columns`` (the table's columns and partition keys) the caller may SELECT: None when it
    may read them all; raises LakeFormationDenied ("Required Select on <table>") when it may read none, NotEmulated
    when a row filter applies (readers of filtered tables use ``read_scope``)."""
    shown, rows = read_scope(database, table, columns, who=who)
    if rows is not None:
        raise NotEmulated(f"A data cells filter's row filter applies to {table}")
    return shown


def read_scope(database: str, table: str, columns: list[str], *, who: principal.Principal | None = None
               ) -> tuple[list[str] | None, str | None]:
    """What the caller may read of the table: (columns, row condition). Columns: None for all, else the granted
    ones in table order; row condition: None for every row, else a SQL condition (data cells filters' row filters
    joined with OR). Raises LakeFormationDenied ("Required Select on <table>") when it may read nothing, and
    NotEmulated for cell-level security proper (filters with different columns, or filters beside column grants)."""
    scope = _scope(who, None, None)
    if scope is None:
        return None, None
    if scope.created(database, table):
        return None, None
    holding = model.table_holding(scope.lf, scope.account, scope.ids, database, table, columns, scope.cell_filters)
    if holding.iam_allowed or "SELECT" in holding.permissions:
        return None, None
    if holding.filters:
        shown_sets = {tuple(columns_of(f, columns)) for f in holding.filters}
        if holding.columns or len(shown_sets) > 1:
            raise NotEmulated(f"Cell-level security on {table} (data cells filters with different columns, or "
                              "beside column grants) is not emulated by the local Lake Formation")
        shown = list(next(iter(shown_sets)))
        conditions = [row_condition(f) for f in holding.filters]
        rows = None if any(c is None for c in conditions) else " OR ".join(f"({c})" for c in conditions)
        if not shown:
            raise errors.required("SELECT", table)
        return (None if len(shown) == len(columns) else shown), rows
    selectable = holding.selectable(columns)
    if not selectable:
        raise errors.required("SELECT", table)
    return (None if len(selectable) == len(columns) else selectable), None


def described_columns(database: str, table: str, columns: list[str], *, who: principal.Principal | None = None
                      ) -> list[str] | None:
    """The columns the caller sees in the table's metadata (GetTable, DESCRIBE): None for all of them; only the
    columns it may SELECT when all it holds on the table is column-level SELECT (Lake Formation filters the
    metadata to them; Athena User Guide, "Considerations and limitations for querying data registered with Lake
    Formation", names the formats whose table properties still show every column)."""
    scope = _scope(who, None, None)
    if scope is None or scope.created(database, table) or scope.admin():
        return None
    holding = model.table_holding(scope.lf, scope.account, scope.ids, database, table, columns, scope.cell_filters)
    if holding.iam_allowed or holding.permissions or not (holding.columns or holding.filters):
        return None
    shown = {c.lower() for c in holding.selectable(columns)}
    for data_filter in holding.filters:
        shown |= {c.lower() for c in columns_of(data_filter, columns)}
    return [c for c in columns if c.lower() in shown]


# --- data locations ---------------------------------------------------------------------------------------------


def require_location(location: str | None, *, who: principal.Principal | None = None,
                     account: str | None = None, region: str | None = None) -> None:
    """Raise LakeFormationDenied ("Insufficient Lake Formation permission(s) on <location>") when ``location`` lies
    under a location registered with Lake Formation and the caller holds no DATA_LOCATION_ACCESS on it (data lake
    administrators hold it everywhere). A location outside every registered one is IAM's alone."""
    if not location:
        return
    scope = _scope(who, account, region)
    if scope is None or model.registered_location(scope.lf, location) is None:
        return
    if scope.admin() or model.holds_location(scope.lf, scope.account, scope.ids, location):
        return
    raise errors.on_location(location)


# --- granting ---------------------------------------------------------------------------------------------------


def require_grant(resource: dict[str, Any], permissions: list[str], *, who: principal.Principal | None = None,
                  account: str | None = None, region: str | None = None) -> None:
    """GrantPermissions / RevokePermissions: a data lake administrator may grant anything; others only what they
    hold with the grant option on that resource, or anything on what they created ("Implicit Lake Formation
    permissions"; "Granting and revoking permissions on Data Catalog resources")."""
    scope = _scope(who, account, region)
    if scope is None or scope.admin():
        return
    if "Database" in resource:
        name = resource["Database"].get("Name") or ""
        _, grantable = model.database_holding(scope.lf, scope.account, scope.ids, name)
        if scope.created(name) or _covers(grantable, permissions, model.DATABASE_PERMISSIONS):
            return
        raise errors.not_authorized_to_grant(name)
    for kind in ("Table", "TableWithColumns"):
        if kind in resource:
            spec = resource[kind]
            database, table = spec.get("DatabaseName") or "", spec.get("Name") or ""
            if table and scope.created(database, table):
                return
            if table:
                holding = model.table_holding(scope.lf, scope.account, scope.ids, database, table,
                                              table_columns(scope.glue, database, table))
                if _covers(holding.grantable, permissions, model.TABLE_PERMISSIONS):
                    return
            raise errors.not_authorized_to_grant(table or database)
    if "DataCellsFilter" in resource:  # granting on a filter: SELECT on the table with the grant option
        spec = resource["DataCellsFilter"]
        database, table = spec.get("DatabaseName") or "", spec.get("TableName") or ""
        holding = model.table_holding(scope.lf, scope.account, scope.ids, database, table,
                                      table_columns(scope.glue, database, table))
        if scope.created(database, table) or "SELECT" in holding.grantable:
            return
        raise errors.not_authorized_to_grant(table)
    if "DataLocation" in resource:
        location = resource["DataLocation"].get("ResourceArn") or ""
        if model.holds_location(scope.lf, scope.account, scope.ids, location, grantable=True):
            return
        raise errors.not_authorized_to_grant(location)
    raise errors.not_authorized_to_grant(next(iter(resource), "resource"))  # LF-tags, tag policies, the catalog


def _covers(grantable: set[str], permissions: list[str], every: frozenset[str]) -> bool:
    wanted = set(permissions)
    return bool(wanted) and wanted <= every | {"ALL"} and model.expand(wanted, every) <= grantable
