"""Lake Formation refusals, worded as AWS words them (the services give them their wire shape).

Recorded wordings (Glue's AccessDeniedException messages, quoted in AWS docs and in users' reports):
- "Insufficient Lake Formation permission(s): Required Describe on <database or table>" (GetDatabase, GetTable);
- "Insufficient Lake Formation permission(s): Required Create Database on Catalog" (CreateDatabase);
- "Insufficient Lake Formation permission(s): Required Create Table on <database>" (CreateTable);
- "Insufficient Lake Formation permission(s) on s3://<location>" (a table under a registered location without
  DATA_LOCATION_ACCESS: Lake Formation "Troubleshooting Lake Formation" and Glue "Crawler errors when the crawler
  is using Lake Formation permissions");
- "Insufficient Lake Formation permission(s) on <table> (Database name: <db>, Table Name: <table>)" (a crawler
  without Create/Alter on its output database: Glue, "Crawler errors when the crawler is using Lake Formation
  permissions");
- "Resource does not exist or requester is not authorized to access requested permissions." (GrantPermissions by a
  principal that is neither a data lake administrator nor holds the permission with the grant option).
"""

from __future__ import annotations

# Lake Formation permission -> the word AWS's messages use for it.
_WORDS = {
    "ALL": "All",
    "ALTER": "Alter",
    "CREATE_DATABASE": "Create Database",
    "CREATE_TABLE": "Create Table",
    "DATA_LOCATION_ACCESS": "Data Location Access",
    "DELETE": "Delete",
    "DESCRIBE": "Describe",
    "DROP": "Drop",
    "INSERT": "Insert",
    "SELECT": "Select",
}

NOT_AUTHORIZED_TO_GRANT = "Resource does not exist or requester is not authorized to access requested permissions."


class LakeFormationDenied(PermissionError):
    """The caller lacks a Lake Formation permission. ``message`` is AWS's wording; ``permission`` what was needed
    (``DESCRIBE``, ``SELECT``, ``CREATE_TABLE``, ``DATA_LOCATION_ACCESS``...) and ``on`` the object's name (a
    database, table or ``s3://`` location)."""

    def __init__(self, message: str, permission: str, on: str):
        super().__init__(message)
        self.message = message
        self.permission = permission
        self.on = on

    def __reduce__(self):
        return type(self), (self.message, self.permission, self.on)


class NotEmulated(RuntimeError):
    """A Lake Formation behaviour the local engines do not reproduce (refused by name, never approximated)."""


def required(permission: str, on: str) -> LakeFormationDenied:
    """'Insufficient Lake Formation permission(s): Required Create Table on sales'."""
    return LakeFormationDenied(
        f"Insufficient Lake Formation permission(s): Required {_WORDS.get(permission, permission)} on {on}",
        permission, on)


def on_location(location: str) -> LakeFormationDenied:
    """'Insufficient Lake Formation permission(s) on s3://lake/raw/sales/'."""
    return LakeFormationDenied(f"Insufficient Lake Formation permission(s) on {location}", "DATA_LOCATION_ACCESS",
                               location)


def on_table(permission: str, database: str, table: str) -> LakeFormationDenied:
    """'Insufficient Lake Formation permission(s) on raw_sales (Database name: sales, Table Name: raw_sales)'."""
    return LakeFormationDenied(
        f"Insufficient Lake Formation permission(s) on {table} (Database name: {database}, Table Name: {table})",
        permission, table)


def not_authorized_to_grant(on: str) -> LakeFormationDenied:
    return LakeFormationDenied(NOT_AUTHORIZED_TO_GRANT, "GRANT", on)
