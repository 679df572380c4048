"""What a principal holds in Lake Formation, read from moto's Lake Formation backend (grants, LF-tags, settings,
registered locations) and the creators' record (``defaults``).

    holding = model.table_holding(lf, creators, ids, "sales", "raw_sales", columns)
    holding.permissions            # {"DESCRIBE", "SELECT", ...} on the whole table (ALL expanded)
    holding.selectable(columns)    # the columns it may SELECT (all, some, none)

Semantics (AWS Lake Formation Developer Guide):
- "Lake Formation permissions reference": database permissions ALTER, CREATE_TABLE, DESCRIBE, DROP; table
  permissions ALTER, DELETE, DESCRIBE, DROP, INSERT, SELECT; ALL (console: Super) is all of them. A grant on a
  ``TableWildcard`` covers every table of the database; ``TableWithColumns`` grants SELECT on the listed columns
  (``ColumnNames``) or on all but ``ColumnWildcard.ExcludedColumnNames``.
- "Changing the default settings for your data lake": a grant to ``IAM_ALLOWED_PRINCIPALS`` on a database or table
  leaves access to it to IAM alone (any principal passes Lake Formation's check).
- "Implicit Lake Formation permissions": data lake administrators may DESCRIBE every resource, have data location
  permissions everywhere and may grant anything; they do NOT implicitly read data or alter or drop what others
  created. A database's creator holds every database permission on it; a table's creator every permission on it
  and may see its database.
- "Lake Formation tag-based access control": a grant on an ``LFTagPolicy`` (ResourceType DATABASE or TABLE) covers
  the databases / tables whose LF-tags match every key of the expression (a value of the key among the listed
  values). Tables inherit their database's tags and columns their table's, a tag assigned lower down overriding
  the inherited value of the same key; SELECT through a TABLE policy reaches the columns whose tags match.
- "Granting data location permissions": DATA_LOCATION_ACCESS on a location covers it and every path under it.

Names are compared case-insensitively (Glue stores them lower-case).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

IAM_ALLOWED_PRINCIPALS = "IAM_ALLOWED_PRINCIPALS"
DATABASE_PERMISSIONS = frozenset({"ALTER", "CREATE_TABLE", "DESCRIBE", "DROP"})
TABLE_PERMISSIONS = frozenset({"ALTER", "DELETE", "DESCRIBE", "DROP", "INSERT", "SELECT"})


def expand(permissions: Iterable[str], every: frozenset[str]) -> set[str]:
    granted = set(permissions)
    if "ALL" in granted or "SUPER" in granted:
        granted |= every
    return granted & every


def _grants(lf, catalog_id: str) -> Iterator[Any]:
    catalog = lf.grants.get(catalog_id)
    return iter(catalog.permissions) if catalog is not None else iter(())


def _holder(grant) -> str:
    return (grant.principal or {}).get("DataLakePrincipalIdentifier", "")


def is_admin(lf, catalog_id: str, ids: frozenset[str]) -> bool:
    """Whether one of ``ids`` is a data lake administrator of the catalog."""
    if catalog_id not in lf.settings:  # a defaultdict: reading would create the defaults
        return False
    admins = lf.settings[catalog_id].get("DataLakeAdmins") or []
    return any(a.get("DataLakePrincipalIdentifier") in ids for a in admins)


# --- LF-tags ----------------------------------------------------------------------------------------------------


def _tag_map(tags: list[dict[str, Any]] | None) -> dict[str, set[str]]:
    return {t["TagKey"]: set(t.get("TagValues") or []) for t in tags or []}


def database_tags(lf, catalog_id: str, database: str) -> dict[str, set[str]]:
    return _tag_map(lf.lf_database_tags.get((catalog_id, database)))


def table_tags(lf, catalog_id: str, database: str, table: str) -> dict[str, set[str]]:
    """The table's effective LF-tags: its database's, overridden per key by its own."""
    return {**database_tags(lf, catalog_id, database), **_tag_map(lf.lf_table_tags.get((catalog_id, database, table)))}


def _matches(expression: list[dict[str, Any]], tags: dict[str, set[str]]) -> bool:
    return all(tags.get(term["TagKey"], set()) & set(term.get("TagValues") or []) for term in expression)


# --- holdings ---------------------------------------------------------------------------------------------------


@dataclass
class TableHolding:
    """What a principal holds on one table: ``permissions`` on the whole table, ``grantable`` of those with the
    grant option, ``columns``: extra SELECT on some columns (names lower-case; empty: none), ``filters``: the data
    cells filters (their TableData) it may SELECT through."""

    permissions: set[str] = field(default_factory=set)
    grantable: set[str] = field(default_factory=set)
    columns: set[str] = field(default_factory=set)
    filters: list[dict[str, Any]] = field(default_factory=list)
    iam_allowed: bool = False  # IAM_ALLOWED_PRINCIPALS holds a grant on the table: IAM alone decides

    def any(self) -> bool:
        return bool(self.permissions or self.columns or self.filters)

    def selectable(self, columns: Iterable[str]) -> list[str]:
        """The names among ``columns`` (a table's columns and partition keys, in order) it may SELECT."""
        if "SELECT" in self.permissions:
            return list(columns)
        return [c for c in columns if c.lower() in self.columns]


def database_holding(lf, catalog_id: str, ids: frozenset[str], database: str) -> tuple[set[str], set[str]]:
    """(permissions, grantable) the principals ``ids`` hold on ``database`` through grants (named or by LF-tags)."""
    database = database.lower()
    permissions: set[str] = set()
    grantable: set[str] = set()
    tags = None
    for grant in _grants(lf, catalog_id):
        if _holder(grant) not in ids:
            continue
        resource = grant.resource
        if "Database" in resource:
            if (resource["Database"].get("Name") or "").lower() != database:
                continue
        elif "LFTagPolicy" in resource and resource["LFTagPolicy"].get("ResourceType") == "DATABASE":
            if tags is None:
                tags = database_tags(lf, catalog_id, database)
            if not _matches(resource["LFTagPolicy"].get("Expression") or [], tags):
                continue
        else:
            continue
        permissions |= expand(grant.permissions, DATABASE_PERMISSIONS)
        grantable |= expand(grant.permissions_with_grant_options, DATABASE_PERMISSIONS)
    return permissions, grantable


def table_holding(lf, catalog_id: str, ids: frozenset[str], database: str, table: str,
                  columns: list[str], cell_filters: dict | None = None) -> TableHolding:
    """What ``ids`` hold on ``database.table`` through grants: named, on the database's TableWildcard, on columns,
    by LF-tags, or on data cells filters (``cell_filters``: the filters store, ``filters.filters_backends``).
    ``columns``: the table's column names and partition keys (to resolve wildcards and tags)."""
    database, table = database.lower(), table.lower()
    holding = TableHolding()
    tags = None
    for grant in _grants(lf, catalog_id):
        holder = _holder(grant)
        if holder not in ids:
            if holder == IAM_ALLOWED_PRINCIPALS and "Table" in grant.resource and not holding.iam_allowed:
                holding.iam_allowed = _names_table(grant.resource["Table"], database, table)
            continue
        resource = grant.resource
        if "Table" in resource:
            spec = resource["Table"]
            if (spec.get("DatabaseName") or "").lower() != database:
                continue
            if "TableWildcard" not in spec and (spec.get("Name") or "").lower() != table:
                continue
            holding.permissions |= expand(grant.permissions, TABLE_PERMISSIONS)
            holding.grantable |= expand(grant.permissions_with_grant_options, TABLE_PERMISSIONS)
        elif "TableWithColumns" in resource:
            spec = resource["TableWithColumns"]
            if (spec.get("DatabaseName") or "").lower() != database or (spec.get("Name") or "").lower() != table:
                continue
            if "SELECT" not in grant.permissions and "ALL" not in grant.permissions:
                continue
            if spec.get("ColumnNames"):
                holding.columns |= {c.lower() for c in spec["ColumnNames"]}
            elif "ColumnWildcard" in spec:
                excluded = {c.lower() for c in (spec["ColumnWildcard"] or {}).get("ExcludedColumnNames") or []}
                holding.columns |= {c.lower() for c in columns} - excluded
        elif "DataCellsFilter" in resource:
            spec = resource["DataCellsFilter"]
            if (spec.get("DatabaseName") or "").lower() != database or (spec.get("TableName") or "").lower() != table:
                continue
            found = (cell_filters or {}).get((database, table, spec.get("Name")))
            if found is not None and ("SELECT" in grant.permissions or "ALL" in grant.permissions):
                holding.filters.append(found)
            elif found is not None and "DESCRIBE" in grant.permissions:
                holding.permissions.add("DESCRIBE")
        elif "LFTagPolicy" in resource and resource["LFTagPolicy"].get("ResourceType") == "TABLE":
            expression = resource["LFTagPolicy"].get("Expression") or []
            if tags is None:
                tags = table_tags(lf, catalog_id, database, table)
            granted = expand(grant.permissions, TABLE_PERMISSIONS)
            if _matches(expression, tags):
                holding.permissions |= granted - {"SELECT"}
                holding.grantable |= expand(grant.permissions_with_grant_options, TABLE_PERMISSIONS)
            if "SELECT" in granted:  # column by column: a column's own tag may override the table's
                matching = [c for c in columns if _matches(expression, {
                    **tags, **_tag_map(lf.lf_columns_tags.get((catalog_id, database, table, c)))})]
                if columns and len(matching) == len(columns):
                    holding.permissions.add("SELECT")
                else:
                    holding.columns |= {c.lower() for c in matching}
                if matching:
                    holding.permissions.add("DESCRIBE")
    return holding


def catalog_permissions(lf, catalog_id: str, ids: frozenset[str]) -> set[str]:
    """What ``ids`` hold on the Data Catalog itself (CREATE_DATABASE), IAM_ALLOWED_PRINCIPALS' grant counting for
    everyone ("Changing the default settings for your data lake": IAMAllowedPrincipals is a database creator until
    revoked)."""
    held: set[str] = set()
    for grant in _grants(lf, catalog_id):
        if "Catalog" in grant.resource and (_holder(grant) in ids or _holder(grant) == IAM_ALLOWED_PRINCIPALS):
            held |= expand(grant.permissions, frozenset({"CREATE_DATABASE"}))
    return held


def iam_allowed_on_database(lf, catalog_id: str, database: str) -> bool:
    """Whether IAM_ALLOWED_PRINCIPALS holds a grant on the database (Lake Formation leaves it to IAM)."""
    database = database.lower()
    return any(_holder(g) == IAM_ALLOWED_PRINCIPALS and "Database" in g.resource
               and (g.resource["Database"].get("Name") or "").lower() == database for g in _grants(lf, catalog_id))


def _names_table(spec: dict[str, Any], database: str, table: str) -> bool:
    """Whether a Table resource (lower-case names given) covers ``database.table``."""
    return (spec.get("DatabaseName") or "").lower() == database and (
        "TableWildcard" in spec or (spec.get("Name") or "").lower() == table)


# --- data locations ---------------------------------------------------------------------------------------------


def location_arn(location: str) -> str:
    """``s3://bucket/prefix/`` (or ``s3a://``, ``s3n://``) -> ``arn:aws:s3:::bucket/prefix``."""
    path = location.split("://", 1)[1] if "://" in location else location
    return "arn:aws:s3:::" + path.rstrip("/")


def _under(arn: str, root: str) -> bool:
    return arn == root or arn.startswith(root.rstrip("/") + "/")


def registered_location(lf, location: str) -> str | None:
    """The registered location (its ARN) ``location`` lies under, or None when Lake Formation does not manage it."""
    arn = location_arn(location)
    return next((root for root in lf.resources if _under(arn, root)), None)


def holds_location(lf, catalog_id: str, ids: frozenset[str], location: str, grantable: bool = False) -> bool:
    """Whether ``ids`` hold DATA_LOCATION_ACCESS (``grantable``: with the grant option) on ``location`` (an
    ``s3://`` path or an S3 ARN) or a location above it."""
    arn = location if location.startswith("arn:") else location_arn(location)
    for grant in _grants(lf, catalog_id):
        held = grant.permissions_with_grant_options if grantable else grant.permissions
        if _holder(grant) in ids and "DataLocation" in grant.resource and "DATA_LOCATION_ACCESS" in held:
            if _under(arn, (grant.resource["DataLocation"].get("ResourceArn") or "").rstrip("/")):
                return True
    return False
