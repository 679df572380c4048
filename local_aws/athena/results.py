"""Query results in Athena's shapes: ColumnInfo with Athena type names, values as Athena renders them, result CSV."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

# DuckDB type name -> (Athena type name, ColumnInfo.Precision). HUGEINT is what DuckDB's sum(bigint) returns;
# Athena (Trino) says bigint.
_ATHENA_TYPES = {
    "VARCHAR": ("varchar", 2147483647),
    "BIGINT": ("bigint", 19),
    "HUGEINT": ("bigint", 19),
    "UBIGINT": ("bigint", 19),
    "INTEGER": ("integer", 10),
    "UINTEGER": ("bigint", 19),
    "SMALLINT": ("smallint", 5),
    "USMALLINT": ("integer", 10),
    "TINYINT": ("tinyint", 3),
    "UTINYINT": ("smallint", 5),
    "DOUBLE": ("double", 17),
    "FLOAT": ("float", 17),
    "BOOLEAN": ("boolean", 0),
    "DATE": ("date", 0),
    "TIMESTAMP": ("timestamp", 3),
    "TIMESTAMP_NS": ("timestamp", 3),
    "TIMESTAMP_MS": ("timestamp", 3),
    "TIMESTAMP_S": ("timestamp", 3),
    "TIMESTAMP WITH TIME ZONE": ("timestamp with time zone", 3),
    "TIME": ("time", 3),
    "BLOB": ("varbinary", 1073741824),
    "INTERVAL": ("interval day to second", 0),
    "UUID": ("uuid", 0),
    "JSON": ("json", 0),
}


@dataclass(frozen=True)
class ResultColumn:
    name: str
    duckdb_type: str  # as DuckDB reports it: 'BIGINT', 'DECIMAL(38,2)', 'VARCHAR[]'

    def column_info(self) -> dict[str, Any]:
        athena_type, precision, scale = athena_type_of(self.duckdb_type)
        return {
            "CatalogName": "hive",
            "SchemaName": "",
            "TableName": "",
            "Name": self.name,
            "Label": self.name,
            "Type": athena_type,
            "Precision": precision,
            "Scale": scale,
            "Nullable": "UNKNOWN",
            "CaseSensitive": athena_type in ("varchar", "char"),
        }


def athena_type_of(duckdb_type: str) -> tuple[str, int, int]:
    """(Athena type name, precision, scale) for a DuckDB type."""
    text = duckdb_type.upper()
    decimal = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", text)
    if decimal:
        return "decimal", int(decimal.group(1)), int(decimal.group(2))
    if text.endswith("[]"):
        return "array", 0, 0
    if text.startswith("STRUCT"):
        return "row", 0, 0
    if text.startswith("MAP"):
        return "map", 0, 0
    name, precision = _ATHENA_TYPES.get(text, ("varchar", 2147483647))
    return name, precision, 0


def render(value: Any) -> str | None:
    """A value as Athena's VarCharValue renders it; None for SQL NULL."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"
        if value.tzinfo is not None:  # timestamp with time zone: Trino prints the zone (UTC in Athena's session)
            utc = value.astimezone(dt.UTC)
            text = utc.strftime("%Y-%m-%d %H:%M:%S.") + f"{utc.microsecond // 1000:03d} UTC"
        return text
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex(" ")
    if isinstance(value, list | tuple):
        return "[" + ", ".join("null" if v is None else (render(v) or "") for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={'null' if v is None else render(v)}" for k, v in value.items()) + "}"
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, str):
        return value
    return json.dumps(value) if not isinstance(value, int) else str(value)


def to_csv(columns: list[ResultColumn], rows: list[tuple[str | None, ...]]) -> bytes:
    """Athena's result CSV: a header row, every value quoted, NULL as an empty unquoted field."""
    out = io.StringIO()
    out.write(",".join(_quote(c.name) for c in columns) + "\n")
    for row in rows:
        out.write(",".join("" if v is None else _quote(v) for v in row) + "\n")
    return out.getvalue().encode("utf-8")


def to_text(rows: list[tuple[str | None, ...]]) -> bytes:
    """Athena's result file for DDL and utility statements (.txt): tab-separated, no header."""
    return "".join("\t".join(v or "" for v in row) + "\n" for row in rows).encode("utf-8")


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def metadata_document(columns: list[ResultColumn]) -> bytes:
    """The ``<id>.csv.metadata`` companion. Athena's own is a binary protobuf that clients do not read; this one
    carries the same ColumnInfo as JSON so a human or a tool can see the result's types."""
    return json.dumps({"ColumnInfo": [c.column_info() for c in columns]}, indent=1).encode("utf-8")

