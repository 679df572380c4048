"""COPY from Parquet and ORC: which file column types load into which table column types, and Redshift's failure
when they do not ("COPY from columnar data formats", redshift/latest/dg/copy-usage_notes-copy-from-columnar.html).

COPY of a columnar file goes through Redshift Spectrum and maps columns by position; the file's physical type must
be one Spectrum reads as the table column's type, or the COPY fails with Spectrum's "incompatible Parquet schema"
error (the wording AWS records in "How do I resolve data incompatibility errors in Redshift Spectrum?",
knowledge-center/redshift-spectrum-data-errors): nothing is cast. The compatible pairs, per the Spectrum data type
mapping: integers into an integer type at least as wide, DECIMAL(p, s) into DECIMAL with the same scale and no
smaller precision, FLOAT/DOUBLE into REAL/DOUBLE PRECISION (FLOAT widening only), strings into CHAR/VARCHAR,
BOOLEAN into BOOLEAN, DATE into DATE, TIMESTAMP into TIMESTAMP/TIMESTAMPTZ.
"""

from __future__ import annotations

import pyarrow as pa

from local_aws.redshift.errors import RedshiftError

_INT_WIDTH = {"SMALLINT": 16, "INTEGER": 32, "BIGINT": 64}


def _compatible(arrow: pa.DataType, target: str) -> bool:
    upper = target.upper()
    if pa.types.is_integer(arrow):
        width = arrow.bit_width + (1 if pa.types.is_unsigned_integer(arrow) else 0)
        return upper in _INT_WIDTH and width <= _INT_WIDTH[upper]
    if pa.types.is_decimal(arrow):
        if not upper.startswith("DECIMAL"):
            return False
        precision, scale = (int(x) for x in upper[upper.index("(") + 1:upper.index(")")].split(","))
        return arrow.scale == scale and arrow.precision <= precision
    if pa.types.is_floating(arrow):
        return upper == "DOUBLE" or (upper in ("FLOAT", "REAL") and arrow.bit_width <= 32)
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow) or pa.types.is_dictionary(arrow) and \
            (pa.types.is_string(arrow.value_type) or pa.types.is_large_string(arrow.value_type)):
        return upper.startswith("VARCHAR")
    if pa.types.is_boolean(arrow):
        return upper == "BOOLEAN"
    if pa.types.is_date(arrow):
        return upper == "DATE"
    if pa.types.is_timestamp(arrow):
        return upper in ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE")
    return False


def _redshift_name(duckdb_type: str) -> str:
    upper = duckdb_type.upper()
    return {"TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ", "DOUBLE": "DOUBLE PRECISION", "FLOAT": "REAL"}.get(
        upper, "VARCHAR" if upper.startswith("VARCHAR") else upper)


def _physical(arrow: pa.DataType, name: str, file_format: str) -> str:
    """How the file describes the column, in the Parquet schema notation Redshift prints."""
    if file_format == "orc":
        return f"{name}: {arrow}"
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow) or pa.types.is_dictionary(arrow):
        physical = "byte_array"
    elif pa.types.is_decimal(arrow):
        physical = f"fixed_len_byte_array DECIMAL({arrow.precision},{arrow.scale})"
    elif pa.types.is_timestamp(arrow):
        physical = "int64 TIMESTAMP"
    elif pa.types.is_date(arrow):
        physical = "int32 DATE"
    elif pa.types.is_integer(arrow):
        physical = "int64" if arrow.bit_width == 64 else "int32"
    else:
        physical = str(arrow)
    return f"optional {physical} {name}"


def check_schema(schema: pa.Schema, columns: list[str], types: dict[str, str], *, uri: str, prefix_uri: str,
                 file_format: str, fill_record: bool) -> None:
    """RedshiftError (Spectrum's wording) unless every file column loads into its table column by position.
    ``types`` maps lower-case column names to DuckDB type names; ``fill_record`` lets a file lack trailing
    columns (FILLRECORD)."""
    label = "Parquet" if file_format == "parquet" else "ORC"
    if len(schema) > len(columns) or (len(schema) < len(columns) and not fill_record):
        raise RedshiftError(
            f"Spectrum Scan Error: File '{uri}' has an incompatible {label} schema: {len(schema)} columns in the "
            f"file, {len(columns)} in the target"
        )
    for field, column in zip(schema, columns, strict=False):
        target = types[column.lower()]
        if not _compatible(field.type, target):
            raise RedshiftError(
                f"Spectrum Scan Error: File '{uri}' has an incompatible {label} schema for column "
                f"'{prefix_uri.rstrip('/')}.{column}'. Column type: {_redshift_name(target)}, {label} schema:\n"
                f"{_physical(field.type, field.name, file_format)}"
            )
