"""Data cells filters: a named row filter and column list on one table, granted like a table ("Data filtering and
cell-level security", AWS Lake Formation Developer Guide; API: CreateDataCellsFilter, GetDataCellsFilter,
DeleteDataCellsFilter, ListDataCellsFilter).

    filters_backends[account][region].filters[(database, table, name)]   # the TableData CreateDataCellsFilter took

A filter's ``RowFilter`` is ``{"FilterExpression": "<SQL condition>"}`` or ``{"AllRowsWildcard": {}}``; its
columns ``ColumnNames`` or ``ColumnWildcard`` (with ``ExcludedColumnNames``). A principal granted SELECT on
filters reads the rows any of them admits ("Data filtering and cell-level security": row filters of several
filters are combined with OR); the columns are the filter's. Several filters of one table with different column
sets make cell-level security proper (a column visible in some rows only), which the local engines do not
emulate: such a read is refused naming it.
"""

from __future__ import annotations

from typing import Any

from moto.core.base_backend import BackendDict

from local_aws.backends import LocalBackend


class DataCellsFiltersBackend(LocalBackend):
    SERVICE = "lakeformation"

    def __init__(self, region_name: str, account_id: str):
        super().__init__(region_name, account_id)
        self.filters: dict[tuple[str, str, str], dict[str, Any]] = {}


filters_backends = BackendDict(DataCellsFiltersBackend, "lakeformation")


def key(database: str, table: str, name: str) -> tuple[str, str, str]:
    return database.lower(), table.lower(), name


def columns_of(data_filter: dict[str, Any], table_columns: list[str]) -> list[str]:
    """The table's columns (in table order) a filter shows."""
    if data_filter.get("ColumnNames"):
        named = {c.lower() for c in data_filter["ColumnNames"]}
        return [c for c in table_columns if c.lower() in named]
    excluded = {c.lower() for c in ((data_filter.get("ColumnWildcard") or {}).get("ExcludedColumnNames") or [])}
    return [c for c in table_columns if c.lower() not in excluded]


def row_condition(data_filter: dict[str, Any]) -> str | None:
    """The filter's SQL condition, None when it admits every row."""
    row = data_filter.get("RowFilter") or {}
    if "AllRowsWildcard" in row or not (row.get("FilterExpression") or "").strip():
        return None
    return row["FilterExpression"]
