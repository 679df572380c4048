"""UNLOAD a query's rows to the local S3, with the parameters as the Redshift docs list them ("UNLOAD",
redshift/latest/dg/r_UNLOAD.html): each implemented or refused with an error naming it.

Implemented: the query as a quoted string ('...' with '' escapes) or dollar-quoted ($$...$$, which the Amazon
provider's RedshiftToS3Operator sends); TO 's3://prefix'; IAM_ROLE, CREDENTIALS, ACCESS_KEY_ID/SECRET_ACCESS_KEY/
SESSION_TOKEN; FORMAT [AS] CSV | PARQUET | JSON and the default pipe-delimited text; HEADER; DELIMITER [AS];
ADDQUOTES; NULL [AS] (default: an empty string); ESCAPE; GZIP, BZIP2, ZSTD; ALLOWOVERWRITE; CLEANPATH;
PARALLEL [ON|OFF|TRUE|FALSE]; PARTITION BY (columns) [INCLUDE]; MANIFEST; EXTENSION; MAXFILESIZE (the local UNLOAD
writes one file per partition, so a file over the limit is refused, never silently larger); REGION (checked
against the bucket's Region). Refused by name: FIXEDWIDTH, ENCRYPTED, KMS_KEY_ID, MASTER_SYMMETRIC_KEY,
ROWGROUPSIZE, MANIFEST VERBOSE and any other word.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from local_aws import s3io
from local_aws.redshift.errors import RedshiftError, UnsupportedError
from local_aws.redshift.options import Authorization, Tokens

_FORMATS = ("parquet", "csv", "json")
_EXTENSIONS = {"gzip": ".gz", "bzip2": ".bz2", "zstd": ".zst"}
_MB = 1024 * 1024


@dataclass
class UnloadCommand:
    query: str
    target: str
    authorization: Authorization = field(default_factory=Authorization)
    data_format: str = "text"  # Redshift default: pipe-delimited text
    header: bool = False
    delimiter: str | None = None
    add_quotes: bool = False
    null_as: str = ""
    escape: bool = False
    parallel: bool = True
    allow_overwrite: bool = False
    clean_path: bool = False
    partition_by: list[str] = field(default_factory=list)
    include_partition_columns: bool = False
    compression: str | None = None
    manifest: bool = False
    extension: str | None = None
    max_file_size: int = 6200 * _MB  # "MAXFILESIZE": 6.2 GB by default
    region: str | None = None
    given: set[str] = field(default_factory=set)


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
    while not tokens.done():
        word = tokens.word()
        if command.authorization.take(word, tokens):
            continue
        command.given.add(word)
        _option(command, word, tokens)
    command.authorization.check("UNLOAD")
    _check_combinations(command)
    return command


def _option(command: UnloadCommand, word: str, tokens: Tokens) -> None:
    if word == "format":
        tokens.optional("as")
        command.data_format = tokens.word(*_FORMATS)
    elif word in _FORMATS:
        command.data_format = word
    elif word == "header":
        command.header = True
    elif word == "delimiter":
        tokens.optional("as")
        command.delimiter = tokens.string()
    elif word == "addquotes":
        command.add_quotes = True
    elif word == "null":
        tokens.optional("as")
        command.null_as = tokens.string()
    elif word == "escape":
        command.escape = True
    elif word == "parallel":
        command.parallel = tokens.word("on", "off", "true", "false") in ("on", "true") \
            if tokens.at_word("on", "off", "true", "false") else True
    elif word == "allowoverwrite":
        command.allow_overwrite = True
    elif word == "cleanpath":
        command.clean_path = True
    elif word in _EXTENSIONS:
        if command.compression:
            raise RedshiftError("conflicting or redundant options")
        command.compression = word
    elif word == "manifest":
        if tokens.at_word("verbose"):
            raise UnsupportedError("UNLOAD option MANIFEST VERBOSE")
        command.manifest = True
    elif word == "extension":
        tokens.optional("as")
        command.extension = tokens.string().lstrip(".")
    elif word == "maxfilesize":
        tokens.optional("as")
        number = tokens.next()
        unit = tokens.word("mb", "gb") if tokens.at_word("mb", "gb") else "mb"
        try:
            size = float(number) * (_MB if unit == "mb" else 1024 * _MB)
        except ValueError as exc:
            raise RedshiftError(f'syntax error at or near "{number}"') from exc
        if not 5 * _MB <= size <= 6200 * _MB:
            raise RedshiftError("MAXFILESIZE must be between 5 MB and 6.2 GB")
        command.max_file_size = int(size)
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
        command.region = tokens.string()
    else:
        raise UnsupportedError(f"UNLOAD option {word.upper()}")


def _check_combinations(command: UnloadCommand) -> None:
    if command.data_format == "parquet":
        for word in ("header", "delimiter", "addquotes", "null", "escape", "gzip", "bzip2", "zstd"):
            if word in command.given:
                raise RedshiftError(f"PARQUET format can't be used with {word.upper()}")
    if command.data_format == "json":
        for word in ("header", "delimiter", "addquotes", "null", "escape"):
            if word in command.given:
                raise RedshiftError(f"JSON format can't be used with {word.upper()}")
    if command.data_format == "csv" and ("addquotes" in command.given or "escape" in command.given):
        word = "ADDQUOTES" if "addquotes" in command.given else "ESCAPE"
        raise RedshiftError(f"CSV format can't be used with {word}")


def unload_file_names(command: UnloadCommand, parts: int = 1) -> list[str]:
    """Redshift's names: slice 0000 part 00 when parallel, a running 000 number when PARALLEL OFF; then the
    format's extension (.parquet), the compression's, or EXTENSION."""
    if command.extension is not None:
        extension = f".{command.extension}" if command.extension else ""
    else:
        extension = ".parquet" if command.data_format == "parquet" else _EXTENSIONS.get(command.compression, "")
    if command.parallel:
        return [f"{i:04d}_part_00{extension}" for i in range(parts)]
    return [f"{i:03d}{extension}" for i in range(parts)]


def write_unload(command: UnloadCommand, table: pa.Table) -> int:
    """Write the query's rows under the target prefix; rows written."""
    bucket, prefix = s3io.split_uri(command.target)
    try:
        existing = [k for k in s3io.list_keys(bucket, prefix) if not k.endswith("/")]
        bucket_region = s3io.bucket_region(bucket)
    except Exception as exc:  # moto raises its own MissingBucket
        raise RedshiftError(f"S3ServiceException:The specified bucket does not exist,Status 404, Bucket {bucket}") \
            from exc
    if command.region and command.region != bucket_region:
        raise RedshiftError(f"S3ServiceException:The bucket you are attempting to access must be addressed using the "
                            f"specified endpoint.,Status 301,Error PermanentRedirect,Bucket {bucket} is in "
                            f"{bucket_region}, not {command.region}")
    if existing and not (command.allow_overwrite or command.clean_path):
        raise RedshiftError(
            "Specified unload destination on S3 is not empty. Consider using a different bucket / prefix, "
            "manually removing the target files in S3, or using the ALLOWOVERWRITE option."
        )
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
    files = [(f"{prefix}{path}{name}", _serialise(command, part)) for path, part in groups]
    for key, body in files:
        if len(body) > command.max_file_size:
            raise UnsupportedError(f"UNLOAD of a file over MAXFILESIZE ({len(body)} bytes for {key}; the local "
                                   "UNLOAD does not split files)")
    if command.clean_path:
        s3io.delete_keys(bucket, existing)
    for key, body in files:
        s3io.put_bytes(bucket, key, body)
    if command.manifest:
        entries = [{"url": f"s3://{bucket}/{key}"} for key, _ in files]
        s3io.put_bytes(bucket, f"{prefix}manifest", json.dumps({"entries": entries}).encode())
    return table.num_rows


def _plain(value) -> str:
    return ("t" if value else "f") if isinstance(value, bool) else str(value)


def _text(value, command: UnloadCommand, delimiter: str) -> str:
    if value is None:
        return command.null_as
    text = _plain(value)
    if command.escape and isinstance(value, str):
        # "ESCAPE": in character columns a backslash before linefeeds, carriage returns, the delimiter and \
        # itself; before quotation marks only with ADDQUOTES
        specials = ["\\", "\n", "\r", delimiter] + (['"', "'"] if command.add_quotes else [])
        for special in specials:
            text = text.replace(special, "\\" + special)
    if command.add_quotes:
        text = f'"{text}"'
    return text


def _serialise(command: UnloadCommand, table: pa.Table) -> bytes:
    if command.data_format == "parquet":
        sink = io.BytesIO()
        pq.write_table(table, sink)
        return sink.getvalue()
    rows = table.to_pylist()
    if command.data_format == "json":
        data = "".join(json.dumps(row, default=str) + "\n" for row in rows)
    elif command.data_format == "csv":
        sink = io.StringIO()
        writer = csv.writer(sink, delimiter=command.delimiter or ",", lineterminator="\n")
        if command.header:
            writer.writerow(table.column_names)
        writer.writerows([[command.null_as if v is None else _plain(v) for v in row.values()] for row in rows])
        data = sink.getvalue()
    else:
        delimiter = command.delimiter or "|"
        lines = [delimiter.join(table.column_names)] if command.header else []
        lines += [delimiter.join(_text(v, command, delimiter) for v in row.values()) for row in rows]
        data = "".join(line + "\n" for line in lines)
    encoded = data.encode()
    if command.compression == "gzip":
        return gzip.compress(encoded)
    if command.compression == "bzip2":
        return bz2.compress(encoded)
    if command.compression == "zstd":
        sink = pa.BufferOutputStream()
        with pa.CompressedOutputStream(sink, "zstd") as stream:
            stream.write(encoded)
        return sink.getvalue().to_pybytes()
    return encoded
