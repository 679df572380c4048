"""Classify one data file (csv, json, parquet) and infer its columns as Glue/Hive types, as Glue's built-in
classifiers do.

- CSV ("Built-in classifiers", AWS Glue developer guide): the delimiter is one of comma, pipe, tab, semicolon or
  Ctrl-A. The first row is a header only when every column of it parses as a string, has fewer than 150 characters
  (the last column excepted) and is a valid column name, AND the rest of the data is sufficiently different: at
  least one column of the other rows parses as other than string. Otherwise the first row stays data and the
  columns are named ``col0``, ``col1``, ... Every column is ``string`` unless all its non-empty sampled values are
  integers (``bigint``) or numbers (``double``); a single non-numeric value makes the column ``string``.
- JSON lines: one object per line; JSON types map to bigint, double, boolean, string, array<...>, struct<...>.
- Parquet: only the footer is read (``pyarrow.parquet.read_schema``); Arrow types map to Hive types.

Column names are lower-cased, as the crawler writes them to the catalog (Hive names are case-insensitive).

Text formats are sampled (the first ``SAMPLE_BYTES`` of each file, whole lines only), as Glue samples too.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

SAMPLE_BYTES = 1024 * 1024  # how much of a text file the classifier reads
PARQUET_MAGIC = b"PAR1"
CSV_DELIMITERS = (",", "|", "\t", ";", "\x01")
HEADER_MAX_CHARS = 150

_INTEGER = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?")
_BIGINT_RANGE = (-(2**63), 2**63 - 1)


# "If no classifier returns a certainty greater than 0.0, AWS Glue returns the default classification string of
# UNKNOWN" ("Adding classifiers to a crawler in AWS Glue").
UNKNOWN = "UNKNOWN"


class UnreadableFileError(ValueError):
    """A data file no built-in classifier recognises (its message names the file and why); the crawler classifies
    it UNKNOWN."""


class NotEmulatedError(ValueError):
    """Data a real crawler reads that the local one does not (for example an Arrow type with no Hive mapping here);
    the crawl fails with this message, naming it."""


@dataclass
class FileSchema:
    """What one file contributes to its table."""

    classification: str  # csv | json | parquet | UNKNOWN
    columns: list[tuple[str, str]]  # (name, Glue type), in file order
    record_count: int | None = None  # exact for Parquet (footer), sampled estimate otherwise
    properties: dict[str, str] = field(default_factory=dict)  # delimiter, quoting, compression


def infer(key: str, head: bytes, truncated: bool, open_file: Callable[[], BinaryIO]) -> FileSchema:
    """The schema of one object from its first bytes (``head``, ``truncated`` when the object is longer) or, for
    Parquet, its footer read through ``open_file``. UnreadableFileError names the object and what is wrong."""
    if key.lower().endswith(".parquet") or head.startswith(PARQUET_MAGIC):
        return _parquet(key, open_file)
    try:
        text = _sample_text(head, truncated)
    except UnicodeDecodeError as exc:
        raise UnreadableFileError(f"{key}: not a CSV, JSON or Parquet file (not UTF-8 text: {exc})") from exc
    if text.lstrip().startswith("{"):
        return _json_lines(key, text)
    return _csv(key, text)


# --- merging ---------------------------------------------------------------------------------------------------

_NUMERIC_RANK = {"tinyint": 0, "smallint": 1, "int": 2, "bigint": 3, "float": 4, "double": 5}


def merge_types(a: str, b: str) -> str:
    """The narrowest type holding both (Glue widens numbers and falls back to string on a conflict)."""
    if a == b:
        return a
    if a in _NUMERIC_RANK and b in _NUMERIC_RANK:
        return a if _NUMERIC_RANK[a] >= _NUMERIC_RANK[b] else b
    decimals = [_decimal(t) for t in (a, b)]
    if all(decimals):
        (p1, s1), (p2, s2) = decimals
        scale = max(s1, s2)
        return f"decimal({min(38, max(p1 - s1, p2 - s2) + scale)},{scale})"
    if any(decimals) and {a, b} & {"tinyint", "smallint", "int", "bigint"}:
        return a if decimals[0] else b  # integers go into the decimal column
    if any(decimals) and {a, b} & {"float", "double"}:
        return "double"
    return "string"


def _decimal(glue_type: str) -> tuple[int, int] | None:
    match = re.fullmatch(r"decimal\((\d+),(\d+)\)", glue_type)
    return (int(match.group(1)), int(match.group(2))) if match else None


def merge_columns(schemas: list[list[tuple[str, str]]]) -> list[tuple[str, str]]:
    """Union of columns by case-insensitive name, in first-seen order, with merged types."""
    merged: dict[str, tuple[str, str]] = {}
    for columns in schemas:
        for name, glue_type in columns:
            key = name.lower()
            if key in merged:
                merged[key] = (merged[key][0], merge_types(merged[key][1], glue_type))
            else:
                merged[key] = (name, glue_type)
    return list(merged.values())


# --- CSV -------------------------------------------------------------------------------------------------------


def _sample_text(head: bytes, truncated: bool) -> str:
    if truncated:  # keep whole lines only
        last_newline = head.rfind(b"\n")
        head = head[: last_newline + 1] if last_newline > 0 else head
    return head.decode("utf-8-sig")


def _value_type(value: str) -> str | None:
    if value == "":
        return None  # an empty value says nothing about the column
    if _INTEGER.fullmatch(value):
        number = int(value)
        return "bigint" if _BIGINT_RANGE[0] <= number <= _BIGINT_RANGE[1] else "double"
    if _NUMBER.fullmatch(value):
        return "double"
    return "string"


def _column_types(rows: list[list[str]], width: int) -> list[str | None]:
    column_types: list[str | None] = [None] * width
    for row in rows:
        for index, value in enumerate(row[:width]):
            seen = _value_type(value.strip())
            if seen is None:
                continue
            current = column_types[index]
            column_types[index] = seen if current is None else merge_types(current, seen)
    return column_types


def _header_candidate(row: list[str]) -> bool:
    """Built-in CSV classifier: every column of a potential header parses as a string, has content of fewer than
    150 characters (except the last column) and is a valid column name (non-empty, at most 255 characters)."""
    for index, value in enumerate(row):
        name = value.strip()
        if _value_type(name) != "string" or len(name) > 255:
            return False
        if index < len(row) - 1 and len(name) >= HEADER_MAX_CHARS:
            return False
    return True


def _csv(key: str, text: str) -> FileSchema:
    lines = text.splitlines()
    first_line = next((line for line in lines if line.strip()), "")
    if not first_line:
        raise UnreadableFileError(f"{key}: empty CSV file")
    delimiter = max(CSV_DELIMITERS, key=first_line.count)
    if first_line.count(delimiter) == 0:
        delimiter = ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    rows = [row for row in rows if row]
    first, rest = rows[0], rows[1:]
    if not rest:
        # "To be classified as CSV, the table schema must have at least two columns and two rows of data": a lone
        # line (a header-only file of an empty day) says nothing of the schema; its table takes the other files'.
        return FileSchema(classification="csv", columns=[], record_count=0,
                          properties={"delimiter": delimiter, "quoted": "false", "header": "unknown"})
    rest_types = _column_types(rest, len(first))
    # "If all columns are of type STRING, then the first row of data is not sufficiently different from
    # subsequent rows to be used as the header."
    has_header = _header_candidate(first) and any(t not in (None, "string") for t in rest_types)
    if has_header:
        names = [name.strip().lower() for name in first]
        if len(set(names)) != len(names):
            raise UnreadableFileError(f"{key}: the CSV header names a column twice: {first_line!r}")
        column_types, records = rest_types, len(rest)
    else:
        width = max(len(row) for row in rows)
        names = [f"col{i}" for i in range(width)]
        column_types, records = _column_types(rows, width), len(rows)
    quoted = '"' in text
    return FileSchema(
        classification="csv",
        columns=[(name, t or "string") for name, t in zip(names, column_types, strict=True)],
        record_count=records,
        properties={"delimiter": delimiter, "quoted": "true" if quoted else "false",
                    "header": "true" if has_header else "false"},
    )


# --- JSON lines ------------------------------------------------------------------------------------------------


def _json_type(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        element = None
        for item in value:
            seen = _json_type(item)
            if seen is not None:
                element = seen if element is None else merge_types(element, seen)
        return f"array<{element or 'string'}>"
    fields = [(str(k), _json_type(v) or "string") for k, v in value.items()]
    return "struct<" + ",".join(f"{k}:{t}" for k, t in fields) + ">"


def _json_lines(key: str, text: str) -> FileSchema:
    columns: dict[str, tuple[str, str | None]] = {}
    records = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UnreadableFileError(f"{key}: line {number} is not valid JSON: {exc}") from exc
        if not isinstance(record, dict):
            raise UnreadableFileError(f"{key}: line {number} is not a JSON object")
        records += 1
        for name, value in record.items():
            seen = _json_type(value)
            lowered = name.lower()
            if lowered not in columns:
                columns[lowered] = (lowered, seen)
            elif seen is not None:
                known = columns[lowered][1]
                columns[lowered] = (columns[lowered][0], seen if known is None else merge_types(known, seen))
    if not columns:
        raise UnreadableFileError(f"{key}: no JSON records")
    return FileSchema(
        classification="json",
        columns=[(name, t or "string") for name, t in columns.values()],
        record_count=records,
    )


# --- Parquet ---------------------------------------------------------------------------------------------------


def hive_type(arrow_type: pa.DataType) -> str:
    """Glue/Hive type of an Arrow type, as a crawler records it for a Parquet column."""
    t = arrow_type
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_int8(t):
        return "tinyint"
    if pa.types.is_int16(t) or pa.types.is_uint8(t):
        return "smallint"
    if pa.types.is_int32(t) or pa.types.is_uint16(t):
        return "int"
    if pa.types.is_integer(t):
        return "bigint"
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return "float"
    if pa.types.is_float64(t):
        return "double"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "binary"
    if pa.types.is_dictionary(t):
        return hive_type(t.value_type)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return f"array<{hive_type(t.value_type)}>"
    if pa.types.is_map(t):
        return f"map<{hive_type(t.key_type)},{hive_type(t.item_type)}>"
    if pa.types.is_struct(t):
        return "struct<" + ",".join(f"{f.name}:{hive_type(f.type)}" for f in t) + ">"
    raise NotEmulatedError(f"the Parquet type {t} is not mapped to a Hive type by the local crawler")


def _parquet(key: str, open_file: Callable[[], BinaryIO]) -> FileSchema:
    try:
        with open_file() as handle:
            footer = pq.read_metadata(handle)  # reads the footer only, not the row groups
        schema = footer.schema.to_arrow_schema()
    except (pa.ArrowException, OSError) as exc:
        raise UnreadableFileError(f"{key}: not a readable Parquet file: {exc}") from exc
    # No "compression" property: a Parquet file's codec is internal, and "AWS Glue does not populate the
    # compressionType property" for it ("How crawlers work"); only a whole-file codec sets it.
    return FileSchema(
        classification="parquet",
        columns=[(f.name.lower(), hive_type(f.type)) for f in schema],
        record_count=footer.num_rows,
    )
