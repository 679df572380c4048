"""The Hive SerDes Athena (and Redshift Spectrum) read text tables with, as the Athena docs describe them.

A SerDe turns the bytes of one text file into rows of strings (``pa.Table`` of ``string`` columns, one per catalog
column, NULL where the SerDe yields NULL) and says how strictly those strings become the catalog types:

- ``org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe`` ("Lazy Simple SerDe for CSV, TSV, and custom-delimited
  files"): splits on ``field.delim`` (else ``serialization.format``, else Ctrl-A), never interprets quotes (a double
  quote is data), ``serialization.null.format`` (default ``\\N``) is NULL, ``escape.delim`` escapes the delimiter.
  A value that is not of its column's type is NULL.
- ``org.apache.hadoop.hive.serde2.OpenCSVSerde`` ("Open CSV SerDe for processing CSV"): ``separatorChar``,
  ``quoteChar``, ``escapeChar`` (defaults ``,`` ``"`` ``\\``); quotes are removed; an empty field is an empty
  string. Per "Considerations for non-string data": BOOLEAN, BIGINT, INT and DOUBLE are recognised, TIMESTAMP only
  as UNIX milliseconds and DATE only as days since the epoch; an empty or unparsable value in a non-string column
  fails the query (HIVE_BAD_DATA) unless the table property ``use.null.for.invalid.data`` is TRUE. Other column
  types are refused by name.
- ``org.openx.data.jsonserde.JsonSerDe`` ("OpenX JSON SerDe"): one JSON object a line; ``case.insensitive``
  (default TRUE: keys are matched lower-cased), ``mapping.<column>`` (the JSON key a column reads),
  ``dots.in.keys`` (dots in keys become underscores), ``ignore.malformed.json`` (a malformed line is a row of
  NULLs instead of a HIVE_CURSOR_ERROR), ``use.null.for.invalid.data``.
- ``org.apache.hive.hcatalog.data.JsonSerDe`` ("Hive JSON SerDe"): one JSON object a line, keys matched
  case-insensitively; a malformed line fails the query.

Anything else (another SerDe, a property not listed above, a compression codec other than gzip/bzip2) raises
``UnsupportedSerDeError`` naming it: it is not emulated, so it is refused rather than read some other way.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

LAZY_SIMPLE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
OPEN_CSV = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
OPENX_JSON = "org.openx.data.jsonserde.JsonSerDe"
HIVE_JSON = "org.apache.hive.hcatalog.data.JsonSerDe"
PARQUET = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"

# SerDe properties each library honours here. 'serialization.format' is Hive bookkeeping for the binary SerDes;
# 'paths' is the field list Glue's crawler writes for JSON (it names the columns, it does not change reading).
_PROPERTIES = {
    LAZY_SIMPLE: {"field.delim", "serialization.format", "serialization.null.format", "escape.delim",
                  "line.delim", "skip.header.line.count"},
    OPEN_CSV: {"separatorChar", "quoteChar", "escapeChar", "skip.header.line.count"},
    OPENX_JSON: {"case.insensitive", "ignore.malformed.json", "dots.in.keys", "use.null.for.invalid.data",
                 "paths", "serialization.format"},
    HIVE_JSON: {"paths", "serialization.format"},
    PARQUET: {"serialization.format"},
}
_FORMAT_OF = {LAZY_SIMPLE: "csv", OPEN_CSV: "csv", OPENX_JSON: "json", HIVE_JSON: "json", PARQUET: "parquet"}

# Column types the Open CSV SerDe converts ("Considerations for non-string data"); string types are always fine.
_OPEN_CSV_TYPES = {"boolean", "bigint", "int", "integer", "double", "timestamp", "date"}
_STRING_TYPES = {"string", "varchar", "char"}
_COMPLEX = ("array<", "map<", "struct<", "uniontype<")


class UnsupportedSerDeError(ValueError):
    """A SerDe, SerDe property or compression that the local engines do not emulate (refused, naming it)."""


class BadDataError(ValueError):
    """A row the SerDe cannot read; ``error_name`` is Athena's (HIVE_BAD_DATA, HIVE_CURSOR_ERROR)."""

    def __init__(self, error_name: str, message: str):
        self.error_name = error_name
        super().__init__(message)


@dataclass(frozen=True)
class SerDe:
    """A table's SerDe: its library and the properties that matter for reading."""

    library: str
    parameters: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    header_lines: int = 0
    null_for_invalid: bool = False  # use.null.for.invalid.data

    @property
    def data_format(self) -> str:
        return _FORMAT_OF[self.library]

    @property
    def strict(self) -> bool:
        """Whether a value that is not of its column's type fails the query (else it is NULL)."""
        return self.library != LAZY_SIMPLE and not self.null_for_invalid

    @property
    def delimiter(self) -> str:
        if self.library == OPEN_CSV:
            return self.parameters.get("separatorChar", ",")
        if self.library == LAZY_SIMPLE:
            return _hive_byte(self.parameters.get("field.delim", self.parameters.get("serialization.format")),
                              "\x01")
        return ","


def _hive_byte(text: str | None, default: str) -> str:
    """Hive's reading of a delimiter property: a number is a byte value ('1' is Ctrl-A), else its one character."""
    if text is None or text == "":
        return default
    try:
        return chr(int(text) & 0xFF)
    except ValueError:
        pass
    if len(text) != 1:
        raise UnsupportedSerDeError(
            f"delimiter {text!r} of {LAZY_SIMPLE}: the Lazy Simple SerDe does not support multi-character delimiters"
        )
    return text


def _true(value: Any) -> bool:
    return str(value).strip().lower() == "true"


def resolve(library: str | None, serde_parameters: dict[str, str], table_parameters: dict[str, str],
            classification: str, columns: list[tuple[str, str]]) -> SerDe:
    """The SerDe of a table from its SerdeInfo and Parameters; UnsupportedSerDeError for what is not emulated.

    A text table without a SerDe library reads with Hive's default, the Lazy Simple SerDe."""
    library = (library or "").strip()
    if not library:
        library = {"parquet": PARQUET, "json": OPENX_JSON}.get(classification.lower(), LAZY_SIMPLE)
    if library not in _PROPERTIES:
        raise UnsupportedSerDeError(f"SerDe {library} is not supported by the local Athena "
                                    f"(emulated: {', '.join(sorted(_PROPERTIES))})")
    known = _PROPERTIES[library]
    for name in serde_parameters:
        if name in known or (library == OPENX_JSON and name.startswith("mapping.")):
            continue
        raise UnsupportedSerDeError(f"SerDe property '{name}' of {library} is not supported by the local Athena")
    params = dict(serde_parameters)
    header = table_parameters.get("skip.header.line.count") or params.get("skip.header.line.count") or "0"
    try:
        header_lines = int(header)
    except ValueError as exc:
        raise UnsupportedSerDeError(f"skip.header.line.count {header!r} is not a number") from exc
    if library == LAZY_SIMPLE and params.get("line.delim", "\n") != "\n":
        raise UnsupportedSerDeError("line.delim other than '\\n' is not supported (Hive reads lines only)")
    null_for_invalid = _true(table_parameters.get("use.null.for.invalid.data", params.get(
        "use.null.for.invalid.data", "false")))
    serde = SerDe(library, params, header_lines, null_for_invalid)
    serde.delimiter  # noqa: B018 - validates field.delim now, not at the first file
    for name, glue_type in columns:
        base = glue_type.strip().lower().split("(")[0]
        if library in (LAZY_SIMPLE, OPEN_CSV) and base.startswith(_COMPLEX):
            raise UnsupportedSerDeError(f"column {name} {glue_type}: complex types in delimited text tables are "
                                        "not supported by the local Athena")
        if library == OPEN_CSV and base not in _STRING_TYPES | _OPEN_CSV_TYPES:
            raise UnsupportedSerDeError(
                f"column {name} {glue_type}: the Open CSV SerDe recognises BOOLEAN, BIGINT, INT, DOUBLE, "
                "TIMESTAMP (UNIX milliseconds) and DATE (days since the epoch) besides strings; declare it string "
                "and CAST it in the query"
            )
    return serde


# --- bytes -----------------------------------------------------------------------------------------------------

def decompress(key: str, data: bytes) -> bytes:
    """Athena picks the codec from the file extension; .gz and .bz2 are read, other codecs refused."""
    lower = key.lower()
    if lower.endswith(".gz"):
        return gzip.decompress(data)
    if lower.endswith(".bz2"):
        return bz2.decompress(data)
    for extension in (".snappy", ".lz4", ".zst", ".deflate", ".lzo", ".zstd"):
        if lower.endswith(extension):
            raise UnsupportedSerDeError(f"compression {extension} of {key} is not supported by the local Athena")
    return data


def _skip_lines(data: bytes, count: int) -> bytes:
    for _ in range(count):
        newline = data.find(b"\n")
        if newline < 0:
            return b""
        data = data[newline + 1:]
    return data


# --- delimited text --------------------------------------------------------------------------------------------

def read_delimited(serde: SerDe, data: bytes, names: list[str]) -> pa.Table:
    """Rows of strings, one column per name: missing trailing fields are NULL, extra fields are dropped."""
    data = _skip_lines(data, serde.header_lines)
    width = len(names)
    if not data.strip():
        return pa.table([pa.array([], pa.string()) for _ in names], names=names)
    if serde.library == LAZY_SIMPLE and "escape.delim" in serde.parameters:
        return _lazy_escaped(serde, data, names)
    if serde.library == LAZY_SIMPLE:
        null = serde.parameters.get("serialization.null.format", "\\N")
        parse = pacsv.ParseOptions(delimiter=serde.delimiter, quote_char=False, escape_char=False)
        convert = pacsv.ConvertOptions(column_types={f"f{i}": pa.string() for i in range(width + 64)},
                                       null_values=[null], strings_can_be_null=True, quoted_strings_can_be_null=False)
    else:
        quote = serde.parameters.get("quoteChar", '"')
        escape = serde.parameters.get("escapeChar", "\\")
        parse = pacsv.ParseOptions(delimiter=serde.delimiter, quote_char=quote or False,
                                   escape_char=escape if escape and escape != quote else False, double_quote=True)
        convert = pacsv.ConvertOptions(column_types={f"f{i}": pa.string() for i in range(width + 64)},
                                       strings_can_be_null=False)
    try:
        parsed = pacsv.read_csv(io.BytesIO(data), read_options=pacsv.ReadOptions(autogenerate_column_names=True),
                                parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as exc:
        if "Expected" in str(exc) and "columns" in str(exc):
            return _ragged(serde, data, names)  # rows of different widths: Hive pads or truncates each row
        raise
    arrays = [parsed.column(i) if i < parsed.num_columns else pa.nulls(parsed.num_rows, pa.string())
              for i in range(width)]
    return pa.table(arrays, names=names)


def _split_python(serde: SerDe, line: str) -> list[str | None]:
    if serde.library == OPEN_CSV:
        import csv  # only for ragged files, the rare path

        quote = serde.parameters.get("quoteChar", '"')
        escape = serde.parameters.get("escapeChar", "\\")
        row = next(csv.reader([line], delimiter=serde.delimiter, quotechar=quote or None,
                              escapechar=escape if escape != quote else None, doublequote=True), [])
        return list(row)
    null = serde.parameters.get("serialization.null.format", "\\N")
    return [None if v == null else v for v in line.split(serde.delimiter)]


def _ragged(serde: SerDe, data: bytes, names: list[str]) -> pa.Table:
    columns: list[list[str | None]] = [[] for _ in names]
    for line in data.decode("utf-8").split("\n"):
        line = line.rstrip("\r")
        if line == "":
            continue
        values = _split_python(serde, line)
        for i, column in enumerate(columns):
            column.append(values[i] if i < len(values) else None)
    return pa.table([pa.array(c, pa.string()) for c in columns], names=names)


def _lazy_escaped(serde: SerDe, data: bytes, names: list[str]) -> pa.Table:
    """LazySimpleSerDe with escape.delim: an escaped character is data ('\\n' and '\\r' are line breaks)."""
    escape = _hive_byte(serde.parameters["escape.delim"], "\\")
    delimiter = serde.delimiter
    null = serde.parameters.get("serialization.null.format", "\\N")
    columns: list[list[str | None]] = [[] for _ in names]
    for line in data.decode("utf-8").split("\n"):
        line = line.rstrip("\r")
        if line == "":
            continue
        fields, current, raw, i = [], [], [], 0
        while i < len(line):
            char = line[i]
            if char == escape and i + 1 < len(line):
                nxt = line[i + 1]
                current.append({"n": "\n", "r": "\r"}.get(nxt, nxt))
                raw.append(char + nxt)
                i += 2
                continue
            if char == delimiter:
                fields.append(("".join(current), "".join(raw)))
                current, raw = [], []
            else:
                current.append(char)
                raw.append(char)
            i += 1
        fields.append(("".join(current), "".join(raw)))
        for index, column in enumerate(columns):
            if index >= len(fields):
                column.append(None)
            else:
                value, raw_text = fields[index]
                column.append(None if raw_text == null else value)
    return pa.table([pa.array(c, pa.string()) for c in columns], names=names)


# --- JSON ------------------------------------------------------------------------------------------------------

def _json_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


class _DuplicateKey(ValueError):
    pass


def read_json_lines(serde: SerDe, data: bytes, names: list[str]) -> pa.Table:
    """One JSON object a line; each column reads its key (see the module docstring for the properties)."""
    openx = serde.library == OPENX_JSON
    params = serde.parameters
    insensitive = not openx or _true(params.get("case.insensitive", "true"))
    dots = openx and _true(params.get("dots.in.keys", "false"))
    ignore_malformed = openx and _true(params.get("ignore.malformed.json", "false"))
    mapping = {k[len("mapping."):].lower(): v for k, v in params.items() if k.startswith("mapping.")}
    wanted: list[str] = []
    for name in names:
        key = mapping.get(name.lower(), name)
        wanted.append(key.lower() if insensitive else key)

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for key, value in items:
            key = key.replace(".", "_") if dots else key
            key = key.lower() if insensitive else key
            if key in record:
                raise _DuplicateKey(f'Duplicate key "{key}"')
            record[key] = value
        return record

    columns: list[list[str | None]] = [[] for _ in names]
    text = _skip_lines(data, serde.header_lines).decode("utf-8")
    for line in text.split("\n"):
        if not line.strip():
            continue
        try:
            record = json.loads(line, object_pairs_hook=pairs)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
        except (ValueError, _DuplicateKey) as exc:
            if ignore_malformed:
                for column in columns:
                    column.append(None)
                continue
            raise BadDataError(
                "HIVE_CURSOR_ERROR", f"Row is not a valid JSON Object - JSONException: {exc}: {line[:200]}"
            ) from exc
        for index, key in enumerate(wanted):
            columns[index].append(_json_text(record.get(key)))
    return pa.table([pa.array(c, pa.string()) for c in columns], names=names)


# --- typing ----------------------------------------------------------------------------------------------------

_INTEGERS = ("tinyint", "smallint", "int", "integer", "bigint")


def pretype(serde: SerDe, raw: pa.Table, glue_types: list[str]) -> pa.Table:
    """Integer columns parsed by Arrow when every value is a plain integer (a vectorised fast path: the common case
    costs ~nothing); a column with anything else stays text for ``cast_expression``'s exact rules."""
    for index, glue_type in enumerate(glue_types):
        if glue_type.strip().lower().split("(")[0] not in _INTEGERS:
            continue
        column = raw.column(index)
        if not pa.types.is_string(column.type):
            continue
        if serde.library == LAZY_SIMPLE:  # an empty field of a non-string column is NULL
            column = pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column)
        if pc.any(pc.match_substring(column, "x", ignore_case=True)).as_py():
            continue  # Arrow reads '0x10' as 16; Hive does not (the text path makes it NULL)
        try:
            typed = pc.cast(column, pa.int64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        raw = raw.set_column(index, raw.field(index).name, typed)
    return raw


def cast_expression(serde: SerDe, column_sql: str, glue_type: str, duckdb_type: str | None,
                    raw_type: pa.DataType | None = None) -> str:
    """DuckDB SQL turning the SerDe's string into the catalog type (NULL when it does not parse)."""
    if duckdb_type is None:
        return column_sql  # complex types stay JSON text
    if raw_type is not None and pa.types.is_integer(raw_type):
        return f"TRY_CAST({column_sql} AS {duckdb_type})"  # parsed by pretype; out of range is NULL
    base = glue_type.strip().lower().split("(")[0]
    if base in _STRING_TYPES:
        return f"CAST({column_sql} AS VARCHAR)"
    if base == "boolean":
        return f"CASE lower({column_sql}) WHEN 'true' THEN true WHEN 'false' THEN false END"
    integer = base in ("tinyint", "smallint", "int", "integer", "bigint")
    if serde.library == OPEN_CSV and base == "timestamp":
        return (f"CASE WHEN regexp_full_match({column_sql}, '-?[0-9]+') THEN "
                f"make_timestamp(TRY_CAST({column_sql} AS BIGINT) * 1000) END")
    if serde.library == OPEN_CSV and base == "date":
        return (f"CASE WHEN regexp_full_match({column_sql}, '-?[0-9]+') THEN "
                f"DATE '1970-01-01' + TRY_CAST({column_sql} AS INTEGER) END")
    if integer:
        return (f"CASE WHEN regexp_full_match(trim({column_sql}), '[+-]?[0-9]+') THEN "
                f"TRY_CAST(trim({column_sql}) AS {duckdb_type}) END")
    return f"TRY_CAST({column_sql} AS {duckdb_type})"


def bad_value_message(value: str, index: int) -> str:
    """Athena's wording for a value its SerDe cannot parse into the column type."""
    return f'Error parsing field value \'{value}\' for field {index}: For input string: "{value}"'

