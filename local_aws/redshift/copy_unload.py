"""COPY from and UNLOAD to the local S3, read and written in-process with pyarrow (DuckDB has no httpfs here)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import uuid
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from local_aws import s3io
from local_aws.redshift.errors import RedshiftError, UnsupportedError
from local_aws.redshift.options import Tokens, check_role

_FORMATS = ("parquet", "csv", "json")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _role(tokens: Tokens) -> str:
    if tokens.optional("default"):
        return "default"
    return check_role(tokens.string())


def _s3_objects(uri: str) -> tuple[str, list[str]]:
    try:
        bucket, prefix = s3io.split_uri(uri)
    except ValueError as exc:
        raise RedshiftError(f"Invalid S3 location '{uri}'") from exc
    try:
        keys = s3io.list_keys(bucket, prefix)
    except Exception as exc:  # moto raises its own MissingBucket
        raise RedshiftError(
            f"S3ServiceException:The specified bucket does not exist,Status 404, Bucket {bucket}"
        ) from exc
    return bucket, [k for k in keys if not k.endswith("/")]


# --- COPY ------------------------------------------------------------------------------------------------------

@dataclass
class CopyCommand:
    table: str
    columns: list[str]
    source: str
    data_format: str = "text"  # Redshift default: pipe-delimited text
    delimiter: str | None = None
    quote: str = '"'
    ignore_header: int = 0
    null_as: str | None = None
    date_format: str = "auto"
    time_format: str = "auto"
    gzip: bool = False
    ignored: list[str] = field(default_factory=list)


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
    role = None
    while not tokens.done():
        word = tokens.word()
        if word == "iam_role":
            role = _role(tokens)
        elif word == "format":
            tokens.optional("as")
            command.data_format = tokens.word(*_FORMATS)
            if command.data_format == "json" and tokens.peek() and tokens.peek().startswith("'"):
                _json_auto(tokens)
        elif word in ("parquet", "csv"):
            command.data_format = word
        elif word == "json":
            command.data_format = "json"
            _json_auto(tokens)
        elif word == "ignoreheader":
            tokens.optional("as")
            command.ignore_header = int(tokens.next())
        elif word == "delimiter":
            tokens.optional("as")
            command.delimiter = tokens.string()
        elif word == "quote":
            tokens.optional("as")
            command.quote = tokens.string()
        elif word == "null":
            tokens.word("as")
            command.null_as = tokens.string()
        elif word == "dateformat":
            tokens.optional("as")
            command.date_format = tokens.string()
        elif word == "timeformat":
            tokens.optional("as")
            command.time_format = tokens.string()
        elif word == "region":
            tokens.optional("as")
            tokens.string()
        elif word == "gzip":
            command.gzip = True
        elif word in ("emptyasnull", "blanksasnull", "truncatecolumns", "acceptinvchars", "compupdate", "statupdate"):
            if word in ("compupdate", "statupdate") and tokens.at_word("on", "off", "true", "false", "preset"):
                tokens.next()
            command.ignored.append(word)
        else:
            raise UnsupportedError(f"COPY option {word.upper()}")
    if role is None:
        raise RedshiftError("Missing credentials: IAM_ROLE or CREDENTIALS is required for COPY from S3")
    return command


def _json_auto(tokens: Tokens) -> None:
    option = tokens.string()
    if option.lower() not in ("auto", "auto ignorecase"):
        raise UnsupportedError(f"COPY ... JSON '{option}' (only 'auto' and 'auto ignorecase')")


def _redshift_to_strptime(fmt: str) -> str:
    out = fmt
    for redshift, python in (("YYYY", "%Y"), ("MM", "%m"), ("DD", "%d"), ("HH24", "%H"), ("HH", "%H"),
                             ("MI", "%M"), ("SS", "%S")):
        out = out.replace(redshift, python)
    return out


def run_copy(cursor: duckdb.DuckDBPyConnection, statement: str, column_types) -> int:
    """Insert every object under the prefix into the table (in the cursor's current transaction); rows loaded."""
    command = parse_copy(statement)
    schema, _, name = command.table.rpartition(".")
    types = column_types(schema.strip('"') or None, name.strip('"'))
    if types is None:
        raise RedshiftError(f'relation "{command.table}" does not exist')
    target_columns = command.columns or list(types)
    unknown = [c for c in target_columns if c.lower() not in {t.lower() for t in types}]
    if unknown:
        raise RedshiftError(f'column "{unknown[0]}" of relation "{name}" does not exist')
    bucket, keys = _s3_objects(command.source)
    if not keys:
        _, prefix = s3io.split_uri(command.source)
        raise RedshiftError(f"The specified S3 prefix '{prefix}' does not exist")
    lowered = {k.lower(): v for k, v in types.items()}
    total = 0
    for key in keys:
        data = s3io.get_bytes(bucket, key)
        if command.gzip or key.endswith(".gz"):
            try:
                data = gzip.decompress(data)
            except OSError as exc:
                raise RedshiftError(f"gzip: invalid header in s3://{bucket}/{key}") from exc
        if not data:
            continue
        table = _read_object(command, data, target_columns, f"s3://{bucket}/{key}")
        total += _insert(cursor, command, table, target_columns, lowered, f"s3://{bucket}/{key}")
    return total


def _read_object(command: CopyCommand, data: bytes, columns: list[str], uri: str) -> pa.Table:
    try:
        if command.data_format == "parquet":
            table = pq.read_table(io.BytesIO(data))
            if table.num_columns != len(columns):  # COPY maps Parquet columns by position
                raise RedshiftError(
                    f"Spectrum Scan Error: File '{uri}' has an incompatible Parquet schema: "
                    f"{table.num_columns} columns in the file, {len(columns)} in the target"
                )
            return table.rename_columns([f"c{i}" for i in range(len(columns))])
        if command.data_format == "json":
            rows = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
            arrays = []
            for column in columns:
                values = []
                for row in rows:
                    match = next((v for k, v in row.items() if k.lower() == column.lower()), None)
                    values.append(None if match is None else match if isinstance(match, str) else json.dumps(match))
                arrays.append(pa.array(values, pa.string()))
            return pa.table(arrays, names=[f"c{i}" for i in range(len(columns))])
        delimiter = command.delimiter or ("," if command.data_format == "csv" else "|")
        text = data.decode("utf-8")
        reader = csv.reader(io.StringIO(text), delimiter=delimiter, quotechar=command.quote,
                            quoting=csv.QUOTE_MINIMAL if command.data_format == "csv" else csv.QUOTE_NONE)
        lines = list(reader)[command.ignore_header:]
        arrays = [[] for _ in columns]
        for number, line in enumerate(lines, start=command.ignore_header + 1):
            if not line:
                continue
            if len(line) != len(columns):
                raise RedshiftError(
                    f"Load into table failed: line {number} of {uri} has {len(line)} fields, expected {len(columns)}. "
                    "Check 'stl_load_errors' system table for details."
                )
            for i, value in enumerate(line):
                arrays[i].append(None if command.null_as is not None and value == command.null_as else value)
        return pa.table([pa.array(a, pa.string()) for a in arrays], names=[f"c{i}" for i in range(len(columns))])
    except (pa.ArrowInvalid, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as exc:
        raise RedshiftError(f"Load into table failed: cannot read {uri} as {command.data_format}: {exc}") from exc


def _insert(cursor, command: CopyCommand, table: pa.Table, columns: list[str], types: dict[str, str], uri: str) -> int:
    view = f"_copy_{uuid.uuid4().hex}"
    selects = []
    for i, column in enumerate(columns):
        kind = types[column.lower()]
        source = f"c{i}"
        if command.data_format != "parquet" and kind.upper().startswith(("DATE", "TIMESTAMP")):
            fmt = command.date_format if kind.upper().startswith("DATE") else command.time_format
            if fmt.lower() != "auto":
                source = f"strptime(c{i}, '{_redshift_to_strptime(fmt)}')"
        if command.data_format != "parquet" and not kind.upper().startswith(("VARCHAR", "CHAR")):
            source = f"NULLIF(TRIM({source}), '')" if source == f"c{i}" else source
        selects.append(f"CAST({source} AS {kind})")
    cursor.register(view, table)
    try:
        cursor.execute(
            f"INSERT INTO {command.table} ({', '.join(_quote(c) for c in columns)}) "
            f"SELECT {', '.join(selects)} FROM {view}"
        )
        return cursor.fetchone()[0]
    except duckdb.ConversionException as exc:
        raise RedshiftError(
            f"Load into table '{command.table.split('.')[-1]}' failed. Check 'stl_load_errors' system table for "
            f"details. ({uri}: {exc})"
        ) from exc
    finally:
        cursor.unregister(view)


# --- UNLOAD ----------------------------------------------------------------------------------------------------

@dataclass
class UnloadCommand:
    query: str
    target: str
    data_format: str = "text"  # Redshift default: pipe-delimited text
    header: bool = False
    delimiter: str | None = None
    parallel: bool = True
    allow_overwrite: bool = False
    clean_path: bool = False
    partition_by: list[str] = field(default_factory=list)
    include_partition_columns: bool = False
    gzip: bool = False


def parse_unload(statement: str) -> UnloadCommand:
    tokens = Tokens(statement)
    tokens.word("unload")
    if tokens.next() != "(":
        raise RedshiftError("syntax error: UNLOAD needs ('select ...')")
    query = tokens.string()
    if tokens.next() != ")":
        raise RedshiftError("syntax error: UNLOAD takes one quoted query")
    tokens.word("to")
    command = UnloadCommand(query=query, target=tokens.string())
    if not command.target.startswith("s3://"):
        raise RedshiftError(f"Invalid S3 location '{command.target}'")
    role = None
    while not tokens.done():
        word = tokens.word()
        if word == "iam_role":
            role = _role(tokens)
        elif word == "format":
            tokens.optional("as")
            command.data_format = tokens.word(*_FORMATS)
        elif word in ("parquet", "csv", "json"):
            command.data_format = word
        elif word == "header":
            command.header = True
        elif word == "delimiter":
            tokens.optional("as")
            command.delimiter = tokens.string()
        elif word == "parallel":
            command.parallel = tokens.word("on", "off", "true", "false") in ("on", "true")
        elif word == "allowoverwrite":
            command.allow_overwrite = True
        elif word == "cleanpath":
            command.clean_path = True
        elif word == "gzip":
            command.gzip = True
        elif word == "partition":
            tokens.word("by")
            if tokens.next() != "(":
                raise RedshiftError("syntax error: PARTITION BY needs (column, ...)")
            while tokens.peek() != ")":
                token = tokens.next()
                if token != ",":
                    command.partition_by.append(token.strip('"'))
            tokens.next()
            command.include_partition_columns = tokens.optional("include")
        elif word == "region":
            tokens.optional("as")
            tokens.string()
        else:
            raise UnsupportedError(f"UNLOAD option {word.upper()}")
    if role is None:
        raise RedshiftError("Missing credentials: IAM_ROLE or CREDENTIALS is required for UNLOAD")
    if command.data_format == "parquet" and (command.header or command.delimiter or command.gzip):
        raise RedshiftError("Parquet format can't be used with HEADER, DELIMITER or GZIP")
    return command


def unload_file_names(command: UnloadCommand, parts: int = 1) -> list[str]:
    """Redshift's names: slice 0000 part 00 when parallel, a running 000 number when PARALLEL OFF."""
    extension = ".parquet" if command.data_format == "parquet" else (".gz" if command.gzip else "")
    if command.parallel:
        return [f"{i:04d}_part_00{extension}" for i in range(parts)]
    return [f"{i:03d}{extension}" for i in range(parts)]


def write_unload(command: UnloadCommand, table: pa.Table) -> int:
    """Write the query's rows under the target prefix; rows written."""
    bucket, prefix = s3io.split_uri(command.target)
    _, existing = _s3_objects(command.target)
    if existing and not (command.allow_overwrite or command.clean_path):
        raise RedshiftError(
            "Specified unload destination on S3 is not empty. Consider using a different bucket / prefix, "
            "manually removing the target files in S3, or using the ALLOWOVERWRITE option."
        )
    if command.clean_path:
        s3io.delete_keys(bucket, existing)
    missing = [c for c in command.partition_by if c not in table.column_names]
    if missing:
        raise RedshiftError(f'column "{missing[0]}" in PARTITION BY is not in the UNLOAD query')
    groups: list[tuple[str, pa.Table]] = [("", table)]
    if command.partition_by:
        groups = []
        keys = table.select(command.partition_by).to_pylist()
        seen: dict[tuple, list[int]] = {}
        for index, row in enumerate(keys):
            seen.setdefault(tuple(row[c] for c in command.partition_by), []).append(index)
        for values, indices in seen.items():
            path = "".join(
                f"{c}={'__HIVE_DEFAULT_PARTITION__' if v is None else v}/"
                for c, v in zip(command.partition_by, values, strict=True)
            )
            part = table.take(pa.array(indices))
            if not command.include_partition_columns:
                part = part.drop_columns(command.partition_by)
            groups.append((path, part))
    name = unload_file_names(command)[0]
    for path, part in groups:
        s3io.put_bytes(bucket, f"{prefix}{path}{name}", _serialise(command, part))
    return table.num_rows


def _serialise(command: UnloadCommand, table: pa.Table) -> bytes:
    sink = io.BytesIO()
    if command.data_format == "parquet":
        pq.write_table(table, sink)
        return sink.getvalue()
    if command.data_format == "json":
        text = "".join(json.dumps(row, default=str) + "\n" for row in table.to_pylist())
        data = text.encode()
    else:
        delimiter = command.delimiter or ("," if command.data_format == "csv" else "|")
        options = pacsv.WriteOptions(include_header=command.header, delimiter=delimiter,
                                     quoting_style="needed" if command.data_format == "csv" else "none")
        pacsv.write_csv(table, sink, options)
        data = sink.getvalue()
    return gzip.compress(data) if command.gzip else data
