"""COPY from the local S3 into a table, with the parameters as the Redshift docs list them: each one implemented,
or refused with an error naming it ("COPY parameter reference", redshift/latest/dg/r_COPY-parameters.html, and its
pages "Data format parameters", "File compression parameters", "Data conversion parameters", "Data load
operations", "Authorization parameters").

Implemented: FROM 's3://prefix' (every object under it); IAM_ROLE, CREDENTIALS, ACCESS_KEY_ID/SECRET_ACCESS_KEY/
SESSION_TOKEN; FORMAT [AS] CSV [QUOTE [AS]] | JSON 'auto' | 'auto ignorecase' | PARQUET | ORC, and the default
pipe-delimited text; DELIMITER; GZIP, BZIP2, ZSTD (and, for columnar files, the .gz/.bz2 extensions); IGNOREHEADER;
NULL AS (default '\\N'); EMPTYASNULL; BLANKSASNULL; TRIMBLANKS; TRUNCATECOLUMNS (bytes); FILLRECORD; IGNOREBLANKLINES;
REMOVEQUOTES; ACCEPTINVCHARS [AS 'c']; ACCEPTANYDATE; DATEFORMAT/TIMEFORMAT ('auto', a format string, 'epochsecs',
'epochmillisecs'); ROUNDEC (otherwise extra decimal digits are truncated); ENCODING UTF8/UTF16/UTF16LE/UTF16BE;
MAXERROR, IGNOREALLERRORS; NOLOAD; REGION (checked against the bucket's Region; refused for columnar files as
Redshift does). COMPUPDATE, STATUPDATE and COMPROWS are accepted: they tune compression encodings and planner
statistics, which the local engine does not have and which change no loaded value.
Refused by name: MANIFEST, ESCAPE, EXPLICIT_IDS, FIXEDWIDTH, AVRO, SHAPEFILE, LZOP, ENCRYPTED, SSH, JSONPaths files,
SERIALIZETOJSON and any other word.

Rejected lines go to STL_LOAD_ERRORS (``load_errors``); more than MAXERROR of them (default 0) fail the COPY with
"Load into table 'x' failed. Check 'stl_load_errors' system table for details." Columnar files follow
``columnar`` (no casts; MAXERROR does not apply).
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.orc as orc
import pyarrow.parquet as pq

from local_aws import s3io
from local_aws.redshift import columnar, load_errors
from local_aws.redshift.errors import RedshiftError, UnsupportedError
from local_aws.redshift.load_errors import LoadError
from local_aws.redshift.options import Authorization, Tokens

_TEXT_FORMATS = ("text", "csv", "json")
_COLUMNAR = ("parquet", "orc")
_ENCODINGS = {"utf8": "utf-8", "utf16": "utf-16", "utf16le": "utf-16-le", "utf16be": "utf-16-be"}
# "Columnar data formats": the only parameters COPY takes with PARQUET or ORC (ACCEPTINVCHARS is refused locally)
_COLUMNAR_OPTIONS = {"fillrecord", "statupdate", "format", "parquet", "orc"}
_REFUSED = {"manifest", "escape", "explicit_ids", "fixedwidth", "avro", "shapefile", "lzop", "encrypted",
            "master_symmetric_key", "ssh", "serializetojson", "readratio", "jsonpaths"}
_MAXERROR_LIMIT = 100000  # "MAXERROR": the upper limit


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class CopyCommand:
    table: str
    columns: list[str]
    source: str
    authorization: Authorization = field(default_factory=Authorization)
    data_format: str = "text"  # Redshift default: pipe-delimited text
    delimiter: str | None = None
    quote: str = '"'
    ignore_header: int = 0
    null_as: str = "\\N"
    date_format: str = "auto"
    time_format: str = "auto"
    compression: str | None = None  # gzip | bzip2 | zstd
    json_ignorecase: bool = False
    region: str | None = None
    encoding: str = "utf8"
    accept_inv_chars: str | None = None  # the replacement character when ACCEPTINVCHARS is given
    max_error: int = 0
    flags: set[str] = field(default_factory=set)  # EMPTYASNULL, BLANKSASNULL, ...: the word, lower case
    given: set[str] = field(default_factory=set)  # every parameter word, for the columnar check


def parse_copy(statement: str) -> CopyCommand:
    tokens = Tokens(statement)
    tokens.word("copy")
    table = tokens.next()
    while tokens.peek() == ".":
        table += tokens.next() + tokens.next()
    columns: list[str] = []
    if tokens.peek() == "(":
        tokens.next()
        while tokens.peek() != ")":
            token = tokens.next()
            if token != ",":
                columns.append(token.strip('"'))
        tokens.next()
    tokens.word("from")
    command = CopyCommand(table=table, columns=columns, source=tokens.string())
    if not command.source.startswith("s3://"):
        raise UnsupportedError(f"COPY from '{command.source}' (only s3:// sources)")
    while not tokens.done():
        word = tokens.word()
        command.given.add(word)
        if command.authorization.take(word, tokens):
            command.given.discard(word)
            continue
        _option(command, word, tokens)
    command.authorization.check("COPY")
    _check_combinations(command)
    return command


def _option(command: CopyCommand, word: str, tokens: Tokens) -> None:
    if word == "format":
        tokens.optional("as")
        word = tokens.word()
        if word not in (*_TEXT_FORMATS[1:], *_COLUMNAR):
            raise UnsupportedError(f"COPY FORMAT {word.upper()}")
        command.given.add(word)
    if word in ("csv", "parquet", "orc"):
        command.data_format = word
        if word == "csv" and tokens.at_word("quote"):
            tokens.next()
            tokens.optional("as")
            command.quote = tokens.string()
    elif word == "json":
        command.data_format = "json"
        if tokens.peek() and tokens.peek().startswith("'"):
            option = tokens.string()
            if option.lower() not in ("auto", "auto ignorecase"):
                raise UnsupportedError(f"COPY ... JSON '{option}' (a JSONPaths file; only 'auto' and "
                                       "'auto ignorecase')")
            command.json_ignorecase = option.lower() == "auto ignorecase"
    elif word == "quote":
        tokens.optional("as")
        command.quote = tokens.string()
    elif word in ("ignoreheader", "maxerror", "comprows"):
        tokens.optional("as")
        number = tokens.next()
        if not number.isdigit():
            raise RedshiftError(f'syntax error at or near "{number}"')
        if word == "ignoreheader":
            command.ignore_header = int(number)
        elif word == "maxerror":
            command.max_error = min(int(number), _MAXERROR_LIMIT)
    elif word == "delimiter":
        tokens.optional("as")
        command.delimiter = tokens.string()
        if len(command.delimiter.encode()) != 1:
            raise RedshiftError("COPY delimiter must be a single one-byte character")
    elif word == "null":
        tokens.word("as")
        command.null_as = tokens.string()
    elif word in ("dateformat", "timeformat"):
        tokens.optional("as")
        setattr(command, "date_format" if word == "dateformat" else "time_format", tokens.string())
    elif word == "region":
        tokens.optional("as")
        command.region = tokens.string()
    elif word in ("gzip", "bzip2", "zstd"):
        if command.compression:
            raise RedshiftError("conflicting or redundant options")
        command.compression = word
    elif word == "encoding":
        tokens.optional("as")
        encoding = tokens.word()
        if encoding not in _ENCODINGS:
            raise UnsupportedError(f"COPY ENCODING {encoding.upper()}")
        command.encoding = encoding
    elif word == "acceptinvchars":
        tokens.optional("as")
        command.accept_inv_chars = tokens.string() if (tokens.peek() or "").startswith("'") else "?"
        if len(command.accept_inv_chars.encode()) != 1:
            raise RedshiftError("ACCEPTINVCHARS replacement must be a single ASCII character")
    elif word in ("compupdate", "statupdate"):
        if tokens.at_word("on", "off", "true", "false", "preset"):
            tokens.next()
    elif word in ("emptyasnull", "blanksasnull", "trimblanks", "truncatecolumns", "fillrecord", "ignoreblanklines",
                  "removequotes", "roundec", "acceptanydate", "noload", "ignoreallerrors"):
        command.flags.add(word)
        if word == "ignoreallerrors":
            command.max_error = _MAXERROR_LIMIT
    elif word in _REFUSED:
        raise UnsupportedError(f"COPY option {word.upper()}")
    else:
        raise UnsupportedError(f"COPY option {word.upper()}")


def _check_combinations(command: CopyCommand) -> None:
    """Combinations Redshift refuses: columnar files take few parameters; QUOTE needs CSV; REMOVEQUOTES is for
    text; delimiters and headers make no sense for JSON."""
    if command.data_format in _COLUMNAR:
        for word in sorted(command.given - _COLUMNAR_OPTIONS):
            label = command.data_format.upper()
            raise RedshiftError(f"{word.upper()} argument is not supported for {label} based COPY")
        return
    if "quote" in command.given and command.data_format != "csv":
        raise RedshiftError("QUOTE argument is only supported for CSV based COPY")
    if "removequotes" in command.flags and command.data_format == "csv":
        raise RedshiftError("REMOVEQUOTES argument is not supported for CSV based COPY")
    if command.data_format == "json" and ({"delimiter", "ignoreheader", "removequotes", "fillrecord"} & command.given):
        word = sorted({"delimiter", "ignoreheader", "removequotes", "fillrecord"} & command.given)[0]
        raise RedshiftError(f"{word.upper()} argument is not supported for JSON based COPY")


# --- running ---------------------------------------------------------------------------------------------------

@dataclass
class Target:
    """The table COPY loads: its columns in load order, their DuckDB types, byte lengths and nullability."""

    name: str
    columns: list[str]
    types: dict[str, str]  # lower-case column -> DuckDB type
    lengths: dict[str, tuple[str, int]]  # lower-case character column -> (Redshift type name, bytes)
    not_null: set[str]
    oid: int
    qualified: str  # as the statement names it: [schema.]table


def run_copy(cursor: duckdb.DuckDBPyConnection, statement: str, column_types, log_errors: Callable, *,
             lengths_of: Callable) -> int:
    """Load every object under the prefix into the table (in the cursor's current transaction); rows loaded.
    ``log_errors(errors, table_oid)`` records rejected lines; ``lengths_of(schema, name)`` gives the table's
    character lengths, nullability and oid."""
    command = parse_copy(statement)
    schema, _, name = command.table.rpartition(".")
    schema, name = schema.strip('"') or None, name.strip('"')
    types = column_types(schema, name)
    if types is None:
        raise RedshiftError(f'relation "{command.table}" does not exist')
    columns = command.columns or list(types)
    lowered = {k.lower(): v for k, v in types.items()}
    unknown = [c for c in columns if c.lower() not in lowered]
    if unknown:
        raise RedshiftError(f'column "{unknown[0]}" of relation "{name}" does not exist')
    lengths, not_null, oid = lengths_of(schema, name)
    target = Target(name, columns, lowered, lengths, not_null, oid, command.table)
    bucket, keys = _s3_objects(command)
    if command.data_format in _COLUMNAR:
        tables = [_read_columnar(command, target, bucket, key) for key in keys]
        _check_columnar_lengths(command, target, tables, log_errors)
        return 0 if "noload" in command.flags else sum(_insert(cursor, target, t, columnar=True) for _, t in tables)
    loads, errors = [], []
    for key in keys:
        uri = f"s3://{bucket}/{key}"
        table, rejected = _read_text(command, target, _decompress(command, s3io.get_bytes(bucket, key), uri), uri)
        rejected += _conversion_errors(cursor, command, target, table, uri)
        errors += rejected
        loads.append((table, {e.line_number for e in rejected}))
    if errors:
        log_errors(errors, target.oid)
    if len(errors) > command.max_error:
        raise RedshiftError(f"Load into table '{name}' failed. Check 'stl_load_errors' system table for details.")
    if "noload" in command.flags:
        return 0
    return sum(_insert(cursor, target, _without(table, bad), command=command) for table, bad in loads)


def _s3_objects(command: CopyCommand) -> tuple[str, list[str]]:
    try:
        bucket, prefix = s3io.split_uri(command.source)
    except ValueError as exc:
        raise RedshiftError(f"Invalid S3 location '{command.source}'") from exc
    try:
        keys = s3io.list_keys(bucket, prefix)
        bucket_region = s3io.bucket_region(bucket)
    except Exception as exc:  # moto raises its own MissingBucket
        raise RedshiftError(
            f"S3ServiceException:The specified bucket does not exist,Status 404, Bucket {bucket}"
        ) from exc
    if command.region and command.region != bucket_region:
        raise RedshiftError(
            f"S3ServiceException:The bucket you are attempting to access must be addressed using the specified "
            f"endpoint. Please send all future requests to this endpoint.,Status 301,Error PermanentRedirect,"
            f"Bucket {bucket} is in {bucket_region}, not {command.region}"
        )
    keys = [k for k in keys if not k.endswith("/")]
    if not keys:
        raise RedshiftError(f"The specified S3 prefix '{prefix}' does not exist")
    return bucket, keys


def _decompress(command: CopyCommand, data: bytes, uri: str) -> bytes:
    codec = command.compression
    if codec is None and command.data_format in _COLUMNAR:  # columnar files: by extension, no parameter needed
        codec = "gzip" if uri.endswith(".gz") else "bzip2" if uri.endswith(".bz2") else None
    try:
        if codec == "gzip":
            return gzip.decompress(data)
        if codec == "bzip2":
            return bz2.decompress(data)
        if codec == "zstd":
            return pa.CompressedInputStream(pa.BufferReader(data), "zstd").read()
    except (OSError, ValueError, pa.ArrowInvalid) as exc:
        raise RedshiftError(f"{codec}: invalid compressed data in {uri}") from exc
    return data


# --- columnar --------------------------------------------------------------------------------------------------

def _read_columnar(command: CopyCommand, target: Target, bucket: str, key: str) -> tuple[str, pa.Table]:
    uri = f"s3://{bucket}/{key}"
    data = _decompress(command, s3io.get_bytes(bucket, key), uri)
    try:
        table = pq.read_table(io.BytesIO(data)) if command.data_format == "parquet" else \
            orc.ORCFile(io.BytesIO(data)).read()
    except (pa.ArrowInvalid, OSError) as exc:
        raise RedshiftError(f"Spectrum Scan Error: File '{uri}' is not a valid {command.data_format.upper()} "
                            f"file: {exc}") from exc
    columnar.check_schema(table.schema, target.columns, target.types, uri=uri, prefix_uri=command.source,
                          file_format=command.data_format, fill_record="fillrecord" in command.flags)
    for missing in target.columns[table.num_columns:]:  # FILLRECORD: absent trailing columns load as NULL
        table = table.append_column(missing, pa.nulls(table.num_rows, pa.string()))
    return uri, table.rename_columns([f"c{i}" for i in range(len(target.columns))])


def _check_columnar_lengths(command: CopyCommand, target: Target, tables: list[tuple[str, pa.Table]],
                            log_errors: Callable) -> None:
    """A string longer than its column fails the COPY (MAXERROR does not apply to columnar files)."""
    for index, column in enumerate(target.columns):
        declared = target.lengths.get(column.lower())
        if declared is None:
            continue
        for uri, table in tables:
            values = table.column(index)
            if pa.types.is_dictionary(values.type):
                values = values.cast(values.type.value_type)
            too_long = pc.greater(pc.binary_length(values), declared[1])
            if not pc.any(too_long).as_py():
                continue
            row = pc.index(too_long, True).as_py()
            value = values[row].as_py()
            type_name = "varchar" if declared[0] == "character varying" else "char"
            log_errors([LoadError(uri, row + 1, column, type_name, str(declared[1]), 0, value, value,
                                  load_errors.OUT_OF_RANGE, "String length exceeds DDL length")], target.oid)
            raise RedshiftError(f"Load into table '{target.name}' failed. Check 'stl_load_errors' system table "
                                "for details.")


# --- text, CSV and JSON ----------------------------------------------------------------------------------------

def _decode(command: CopyCommand, data: bytes) -> str:
    if command.encoding != "utf8":
        try:
            return data.decode(_ENCODINGS[command.encoding])
        except UnicodeDecodeError as exc:
            raise RedshiftError(f"Invalid {command.encoding.upper()} data: the file's encoding is not the one "
                                "ENCODING names") from exc
    return data.decode("utf-8", errors="surrogateescape")  # a bad byte becomes one lone surrogate


_SURROGATE = re.compile("[\udc80-\udcff]")


def _read_text(command: CopyCommand, target: Target, data: bytes, uri: str) -> tuple[pa.Table, list[LoadError]]:
    """The object's records as strings (columns c0.., plus _line and _raw), after the field-level parameters; and
    the lines rejected while splitting them."""
    text = _decode(command, data)
    if command.accept_inv_chars is not None:  # each invalid byte becomes one replacement character
        text = _SURROGATE.sub(command.accept_inv_chars, text)
    lines = text.splitlines(keepends=True)
    first = command.ignore_header
    records: list[tuple[int, str, object]] = []  # (line number, raw line, fields or JSON text)
    if command.data_format == "json":
        records = [(n, line, line) for n, line in enumerate(lines[first:], start=first + 1) if line.strip()]
    else:
        delimiter = command.delimiter or ("," if command.data_format == "csv" else "|")
        quoting = csv.QUOTE_MINIMAL if command.data_format == "csv" or "removequotes" in command.flags \
            else csv.QUOTE_NONE
        body = lines[first:]
        reader = csv.reader(iter(body), delimiter=delimiter, quotechar=command.quote or '"', quoting=quoting)
        consumed = 0
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise RedshiftError(f"Load into table '{target.name}' failed: {uri} is not valid "
                                    f"{command.data_format}: {exc}") from exc
            raw = "".join(body[consumed:reader.line_num])
            number = first + consumed + 1
            consumed = reader.line_num
            if not fields and "ignoreblanklines" in command.flags:
                continue
            records.append((number, raw, fields or [""]))
    columns = target.columns
    arrays: list[list] = [[] for _ in columns]
    numbers: list[int] = []
    raws: list[str] = []
    errors: list[LoadError] = []
    for number, raw, fields in records:
        raw_line = raw.rstrip("\r\n")
        bad = _SURROGATE.search(raw_line)
        if bad:
            errors.append(LoadError(uri, number, "", "", "", 0, _printable(raw_line), "", load_errors.INVALID_UTF8,
                                    "String contains invalid or unsupported UTF8 codepoints. "
                                    f"Bad UTF8 hex sequence: {ord(bad.group(0)) - 0xdc00:02x}"))
            continue
        if command.data_format == "json":
            try:
                fields = _json_fields(command, json.loads(fields), columns)
            except (json.JSONDecodeError, AttributeError):
                errors.append(LoadError(uri, number, "", "", "", 0, raw_line, "", 1216, "Invalid JSONObject"))
                continue
        elif len(fields) < len(columns) and "fillrecord" in command.flags:
            fields = fields + [""] * (len(columns) - len(fields))
        if len(fields) != len(columns):
            if len(fields) < len(columns):
                code, reason, column = load_errors.DELIMITER_NOT_FOUND, "Delimiter not found", columns[len(fields)]
            else:
                code, reason, column = load_errors.EXTRA_COLUMNS, "Extra column(s) found", columns[-1]
            errors.append(LoadError(uri, number, column, "", "", 0, raw_line, "", code, reason))
            continue
        numbers.append(number)
        raws.append(raw_line)
        for i, value in enumerate(fields):
            arrays[i].append(value)
    processed = [_field_values(command, target, column, values) for column, values in zip(columns, arrays,
                                                                                           strict=True)]
    table = pa.table([*(pa.array(v, pa.string()) for v in processed), pa.array(numbers, pa.int64()),
                      pa.array(raws, pa.string())],
                     names=[*(f"c{i}" for i in range(len(columns))), "_line", "_raw"])
    return table, errors


def _printable(text: str) -> str:
    return _SURROGATE.sub(lambda m: f"\\x{ord(m.group(0)) - 0xdc00:02x}", text)


def _json_fields(command: CopyCommand, row: dict, columns: list[str]) -> list[str | None]:
    """'auto' matches keys to column names exactly (Redshift's column names are lower case, so keys must be);
    'auto ignorecase' ignores case ("COPY from JSON format", copy-usage_notes-copy-from-json.html)."""
    if command.json_ignorecase:
        row = {k.lower(): v for k, v in row.items()}
    values = []
    for column in columns:
        value = row.get(column.lower())
        values.append(None if value is None else value if isinstance(value, str) else json.dumps(value))
    return values


_DECIMAL_TEXT = re.compile(r"^(\s*[+-]?\d*)\.(\d+)(\s*)$")


def _field_values(command: CopyCommand, target: Target, column: str, values: list) -> list[str | None]:
    """Null handling and the character/decimal parameters, per field ("Data conversion parameters")."""
    kind = target.types[column.lower()].upper()
    declared = target.lengths.get(column.lower())
    is_text = kind.startswith("VARCHAR")
    out: list[str | None] = []
    scale = int(re.findall(r"\d+", kind)[1]) if kind.startswith("DECIMAL") else None
    for value in values:
        if value is None or (command.data_format != "json" and value == command.null_as):
            out.append(None)
            continue
        if is_text:
            if ("emptyasnull" in command.flags and value == "") or ("blanksasnull" in command.flags
                                                                     and value.strip() == ""):
                out.append(None)
                continue
            if "trimblanks" in command.flags:
                value = value.rstrip()
            if declared and "truncatecolumns" in command.flags:
                encoded = value.encode("utf-8", errors="surrogateescape")
                if len(encoded) > declared[1]:
                    value = encoded[:declared[1]].decode("utf-8", errors="ignore")
            out.append(value)
            continue
        if value.strip() == "":
            out.append(None)  # blank fields of other types always load as NULL
            continue
        if scale is not None and "roundec" not in command.flags:
            match = _DECIMAL_TEXT.match(value)
            if match and len(match.group(2)) > scale:  # COPY truncates extra digits unless ROUNDEC
                value = f"{match.group(1)}.{match.group(2)[:scale]}{match.group(3)}"
        out.append(value)
    return out


# --- conversion and insertion ----------------------------------------------------------------------------------

_INTEGER = {"SMALLINT": "Short", "INTEGER": "Integer", "BIGINT": "Long"}
_FORMAT_CODES = (("YYYY", "%Y"), ("YY", "%y"), ("MONTH", "%B"), ("MON", "%b"), ("MM", "%m"), ("DD", "%d"),
                 ("HH24", "%H"), ("HH12", "%I"), ("HH", "%H"), ("MI", "%M"), ("SS", "%S"), ("AM", "%p"),
                 ("PM", "%p"), ("US", "%f"), ("MS", "%g"))


def _strptime_format(fmt: str) -> str:
    """A DATEFORMAT/TIMEFORMAT string ("DATEFORMAT and TIMEFORMAT strings", r_DATEFORMAT_and_TIMEFORMAT_strings)
    as a strptime format; UnsupportedError for a datepart the local COPY does not read."""
    out, rest = "", fmt
    while rest:
        for code, directive in _FORMAT_CODES:
            if rest.upper().startswith(code):
                out += directive
                rest = rest[len(code):]
                break
        else:
            if rest[0].isalpha():
                raise UnsupportedError(f"the datepart in DATEFORMAT/TIMEFORMAT '{fmt}' at '{rest}'")
            out += rest[0].replace("%", "%%")
            rest = rest[1:]
    return out


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _conversion(command: CopyCommand, kind: str, source: str) -> str:
    """SQL turning the field ``source`` (VARCHAR or NULL) into ``kind``, NULL where the text does not convert."""
    upper = kind.upper()
    trimmed = f"trim({source})"
    if upper.startswith("VARCHAR"):
        return source
    if upper in _INTEGER:  # digits only: DuckDB would round '1.5'
        return f"CASE WHEN regexp_full_match({source}, '\\s*[+-]?[0-9]+\\s*') THEN TRY_CAST({trimmed} AS {upper}) END"
    if upper.startswith("DECIMAL"):
        return (f"CASE WHEN regexp_full_match({source}, '\\s*[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)\\s*') "
                f"THEN TRY_CAST({trimmed} AS {upper}) END")
    if upper == "DATE" and command.date_format.lower() != "auto":
        return f"CAST(TRY_STRPTIME({trimmed}, {_sql_string(_strptime_format(command.date_format))}) AS DATE)"
    if upper.startswith("TIMESTAMP"):
        fmt = command.time_format.lower()
        if fmt in ("epochsecs", "epochmillisecs"):
            scale = 1_000_000 if fmt == "epochsecs" else 1_000
            return f"make_timestamp(TRY_CAST({trimmed} AS BIGINT) * {scale})"
        if fmt != "auto":
            return f"CAST(TRY_STRPTIME({trimmed}, {_sql_string(_strptime_format(command.time_format))}) AS {upper})"
    return f"TRY_CAST({trimmed} AS {upper})"


def _failure_flags(command: CopyCommand, target: Target) -> list[str]:
    flags = []
    for i, column in enumerate(target.columns):
        kind = target.types[column.lower()].upper()
        converted = _conversion(command, kind, f"c{i}")
        checks = []
        lenient = "acceptanydate" in command.flags and kind.startswith(("DATE", "TIMESTAMP"))
        if not kind.startswith("VARCHAR") and not lenient:
            checks.append(f"(c{i} IS NOT NULL AND {converted} IS NULL)")
        if column.lower() in target.not_null:
            checks.append(f"({converted} IS NULL)")
        declared = target.lengths.get(column.lower())
        if declared:
            checks.append(f"coalesce(strlen(c{i}) > {declared[1]}, false)")
        flags.append(" OR ".join(checks) or "false")
    return flags


def _conversion_errors(cursor, command: CopyCommand, target: Target, table: pa.Table, uri: str) -> list[LoadError]:
    if table.num_rows == 0:
        return []
    flags = _failure_flags(command, target)
    view = f"_copy_{uuid.uuid4().hex}"
    cursor.register(view, table)
    try:
        rows = cursor.execute(
            f"SELECT _line, _raw, [{', '.join(f'c{i}' for i in range(len(flags)))}], [{', '.join(flags)}] "
            f"FROM {view} WHERE {' OR '.join(f'({f})' for f in flags)} ORDER BY _line"
        ).fetchall()
    finally:
        cursor.unregister(view)
    errors = []
    for line, raw, values, failed in rows:
        index = failed.index(True)
        column = target.columns[index]
        errors.append(_reason(command, target, column, values[index], uri, line, raw))
    return errors


def _redshift_type(kind: str) -> str:
    upper = kind.upper()
    return {"SMALLINT": "int2", "INTEGER": "int4", "BIGINT": "int8", "DOUBLE": "float8", "FLOAT": "float4",
            "REAL": "float4", "BOOLEAN": "bool", "DATE": "date", "TIMESTAMP": "timestamp",
            "TIMESTAMP WITH TIME ZONE": "timestamptz"}.get(upper, "numeric" if upper.startswith("DECIMAL") else
                                                           "varchar" if upper.startswith("VARCHAR") else upper.lower())


def _reason(command: CopyCommand, target: Target, column: str, value: str | None, uri: str, line: int,
            raw: str) -> LoadError:
    """Which "Load error reference" code and reason a rejected field gets."""
    kind = target.types[column.lower()].upper()
    declared = target.lengths.get(column.lower())
    type_name = ("varchar" if declared[0] == "character varying" else "char") if declared else _redshift_type(kind)
    length = str(declared[1]) if declared else ""

    def error(code: int, reason: str, position: int = 0) -> LoadError:
        return LoadError(uri, line, column, type_name, length, position, raw, value or "", code, reason)

    if value is None:
        return error(load_errors.NOT_NULL, "Missing data for not-null field")
    if declared:
        return error(load_errors.OUT_OF_RANGE, "String length exceeds DDL length")
    stripped = value.strip()
    if kind in _INTEGER or kind.startswith("DECIMAL") or kind in ("DOUBLE", "FLOAT", "REAL"):
        allowed = "0123456789+-" + ("" if kind in _INTEGER else ".eE" if kind in ("DOUBLE", "FLOAT", "REAL") else ".")
        bad = next(((i, ch) for i, ch in enumerate(stripped) if ch not in allowed), None)
        label = _INTEGER.get(kind, "Decimal" if kind.startswith("DECIMAL") else "Double")
        if bad:
            code = load_errors.FLOAT_FORMAT if label == "Double" else load_errors.INVALID_DIGIT
            return error(code, f"Invalid digit, Value '{bad[1]}', Pos {bad[0]}, Type: {label}", bad[0])
        if kind in _INTEGER:
            return error(load_errors.INTEGER_OVERFLOW, f"Overflow, Value '{stripped}', Type: {label}")
        if kind.startswith("DECIMAL"):
            return error(load_errors.OUT_OF_RANGE, "Numeric data overflow (result precision)")
        return error(load_errors.FLOAT_FORMAT, f"Invalid float value '{stripped}'")
    if kind == "DATE":
        fmt = command.date_format if command.date_format.lower() != "auto" else "YYYY-MM-DD"
        return error(load_errors.DATE_FORMAT, f"Invalid date format - value '{stripped}' is not [{fmt}]")
    if kind.startswith("TIMESTAMP"):
        fmt = command.time_format if command.time_format.lower() != "auto" else "YYYY-MM-DD HH24:MI:SS"
        return error(load_errors.TIMESTAMP_FORMAT, f"Invalid timestamp format or value [{fmt}]")
    if kind == "BOOLEAN":
        return error(load_errors.BOOLEAN_FORMAT, f"Invalid boolean value '{stripped}'")
    return error(1216, f"Invalid value for type {type_name}")


def _without(table: pa.Table, lines: set[int]) -> pa.Table:
    if not lines:
        return table
    return table.filter(pc.invert(pc.is_in(table.column("_line"), value_set=pa.array(sorted(lines), pa.int64()))))


def _insert(cursor, target: Target, table: pa.Table, *, columnar: bool = False,
            command: CopyCommand | None = None) -> int:
    if table.num_rows == 0:
        return 0
    view = f"_copy_{uuid.uuid4().hex}"
    selects = []
    for i, column in enumerate(target.columns):
        kind = target.types[column.lower()]
        selects.append(f"CAST(c{i} AS {kind})" if columnar else _conversion(command, kind, f"c{i}"))
    cursor.register(view, table)
    try:
        cursor.execute(
            f"INSERT INTO {target.qualified} ({', '.join(_quote(c) for c in target.columns)}) "
            f"SELECT {', '.join(selects)} FROM {view}"
        )
        return cursor.fetchone()[0]
    finally:
        cursor.unregister(view)
