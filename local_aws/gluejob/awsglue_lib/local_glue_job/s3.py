"""``s3://`` paths in a local Glue job process: staged on demand from the local S3, written back by the runner.

There is no s3a/EMRFS connector offline, so Spark reads and writes local folders. The runner mirrors S3 under
``$LOCAL_AWS_GLUE_S3_ROOT/<bucket>/<key>`` (``local_aws.gluejob.staging``); this module extends that mirror while
the script runs:

- reading ``s3://b/prefix/`` (a DataFrame reader, ``SparkContext.textFile``, the awsglue library) downloads every
  object under the prefix that is not local yet, and fills the empty placeholders the runner staged for partitions
  outside the run's scope; files the script itself wrote or deleted locally are left as they are. A glob
  (``s3://b/raw/*/x.csv``) stages the prefix before its first wildcard. Reading a *local* mirror path (a staged
  argument such as ``--input s3://b/processed/sales/``) fills the placeholders under it the same way.
- writing ``s3://b/prefix/`` stages the keys already under the prefix as empty placeholders (no bytes), so that
  Spark's save modes see what S3 holds (``errorifexists`` fails, ``overwrite`` replaces, ``append`` adds) and the
  runner can tell deleted keys from untouched ones.

Every file staged here is appended to ``$LOCAL_AWS_GLUE_S3_MANIFEST`` (JSON lines ``{"path": "<bucket>/<key>",
"stat": [inode, mtime_ns, size], "placeholder": bool}``, the runner's own entries first). After a successful run the
runner uploads every new or changed file under the mirror and deletes the keys of staged files that are gone.

Not covered: paths Spark resolves without these calls (``spark.sql("... parquet.`s3://...`")``, a ``path`` option
instead of a path argument, ``CREATE TABLE ... LOCATION``): they fail with Spark's "No FileSystem for scheme s3".
"""

from __future__ import annotations

import functools
import json
import os
import re
import threading
from pathlib import Path

_SCHEMES = ("s3://", "s3a://", "s3n://")
_WILDCARD = re.compile(r"[*?\[{]")
_lock = threading.RLock()
_manifest: dict[str, dict] | None = None
_client = None


class S3PathError(OSError):
    """An s3:// path the local runner cannot resolve (no mirror configured, no such bucket)."""


def is_s3(path) -> bool:
    return isinstance(path, str) and path.startswith(_SCHEMES)


def split(uri: str) -> tuple[str, str]:
    """'s3://bucket/a/b' -> ('bucket', 'a/b')."""
    rest = uri.split("://", 1)[1]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise S3PathError(f"not an S3 URI with a bucket: {uri!r}")
    return bucket, key


def root() -> Path:
    value = os.environ.get("LOCAL_AWS_GLUE_S3_ROOT")
    if not value:
        raise S3PathError("s3:// paths need the local Glue runner (LOCAL_AWS_GLUE_S3_ROOT is not set)")
    return Path(value)


def client():
    global _client
    if _client is None:
        import boto3  # Glue ships boto3; AWS_ENDPOINT_URL points it at the local AWS

        _client = boto3.client("s3")
    return _client


def _stat(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_ino, st.st_mtime_ns, st.st_size]


def _entries() -> dict[str, dict]:
    global _manifest
    if _manifest is None:
        _manifest = {}
        manifest = os.environ.get("LOCAL_AWS_GLUE_S3_MANIFEST")
        if manifest and os.path.exists(manifest):
            with open(manifest) as f:
                for line in f:
                    if line.strip():
                        entry = json.loads(line)
                        _manifest[entry["path"]] = entry
    return _manifest


def _record(relative: str, path: Path, placeholder: bool) -> None:
    entry = {"path": relative, "stat": _stat(path), "placeholder": placeholder}
    _entries()[relative] = entry
    manifest = os.environ.get("LOCAL_AWS_GLUE_S3_MANIFEST")
    if manifest:
        with open(manifest, "a") as f:
            f.write(json.dumps(entry) + "\n")


def list_objects(bucket: str, prefix: str) -> list[dict]:
    """Every object under ``prefix`` as S3 lists it (Key, Size, LastModified, ETag), in key order."""
    objects = []
    try:
        for page in client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            objects.extend(o for o in page.get("Contents", []) if not o["Key"].endswith("/"))
    except client().exceptions.NoSuchBucket:
        raise S3PathError(f"NoSuchBucket: the bucket {bucket!r} does not exist (s3://{bucket}/{prefix})") from None
    return objects


def list_visible(bucket: str, prefix: str) -> list[dict]:
    """The objects under ``prefix`` as this run sees them, in key order: S3's, less those the script deleted
    locally, plus the files it wrote (not in S3 until the run ends; listed with their size and mtime and
    ``"Local": True``), as later reads in a run on AWS see its earlier writes."""
    import datetime as dt

    objects = {o["Key"]: o for o in list_objects(bucket, prefix)}
    base = root() / bucket
    with _lock:
        entries = _entries()
        for key in list(objects):
            relative = f"{bucket}/{key}"
            if relative in entries and not (root() / relative).exists():
                del objects[key]
        folder = base / prefix if not prefix or prefix.endswith("/") else (base / prefix).parent
        if folder.is_dir():
            for path in folder.rglob("*"):
                if not path.is_file() or path.name.endswith(".crc"):
                    continue
                key = path.relative_to(base).as_posix()
                entry = entries.get(f"{bucket}/{key}")
                if not key.startswith(prefix) or (entry is not None and entry["stat"] == _stat(path)):
                    continue  # a staged copy of what S3 holds
                st = path.stat()
                objects[key] = {"Key": key, "Size": st.st_size, "Local": True,
                                "LastModified": dt.datetime.fromtimestamp(st.st_mtime, dt.UTC)}
    return [objects[k] for k in sorted(objects)]


def local_path(uri: str) -> str:
    """Where ``uri`` is mirrored (a trailing slash is kept), staging nothing."""
    bucket, key = split(uri)
    return str(root() / bucket / key) + ("/" if uri.endswith("/") and key else "")


def _static_prefix(key: str) -> str:
    """The folder before a path's first wildcard ('raw/*/x.csv' -> 'raw/'), or the key itself."""
    match = _WILDCARD.search(key)
    if match is None:
        return key
    head = key[: match.start()]
    return head[: head.rfind("/") + 1]


def _under(bucket: str, key: str) -> list[dict]:
    """The objects a path names: the object itself, or everything in the folder (never a sibling 'key2/')."""
    objects = list_objects(bucket, key)
    if key and not key.endswith("/"):
        objects = [o for o in objects if o["Key"] == key or o["Key"].startswith(key + "/")]
    return objects


def stage_objects(bucket: str, objects: list[dict]) -> int:
    """Download the given objects into the mirror unless a local version is the script's own. Returns how many."""
    copied = 0
    with _lock:
        entries = _entries()
        for obj in objects:
            relative = f"{bucket}/{obj['Key']}"
            path = root() / relative
            entry = entries.get(relative)
            if entry is not None:
                untouched_placeholder = (entry["placeholder"] and path.exists() and _stat(path) == entry["stat"])
                if not untouched_placeholder or obj["Size"] == 0:
                    continue  # real bytes already, or the script changed or deleted it: the local state wins
            elif path.exists():
                continue  # the script wrote it
            path.parent.mkdir(parents=True, exist_ok=True)
            client().download_file(bucket, obj["Key"], str(path))
            _record(relative, path, placeholder=False)
            copied += 1
    return copied


def for_read(uri: str) -> str:
    """The local path to read ``uri`` from, with the bytes of every object it names staged."""
    bucket, key = split(uri)
    stage_objects(bucket, _under(bucket, _static_prefix(key)))
    return local_path(uri)


def _drop_if_empty_folder(local: str) -> None:
    """S3 has no empty folders: an empty mirror folder (a staged folder argument with nothing under it) must not
    make Spark's default save mode (errorifexists) fail where writing to the empty S3 prefix succeeds."""
    path = Path(local)
    try:
        if path.is_dir() and path.is_relative_to(root()) and not any(path.iterdir()):
            path.rmdir()
    except (OSError, S3PathError):
        pass


def for_local_write(path: str) -> str:
    """A local path a writer is given (a staged argument): see ``_drop_if_empty_folder``."""
    if os.environ.get("LOCAL_AWS_GLUE_S3_ROOT"):
        _drop_if_empty_folder(path)
    return path


def fill_local(path: str) -> str:
    """A local mirror path being read (a staged argument, or a file listed through Hadoop's FileSystem): the
    runner's untouched placeholders under it get their bytes, so a lazily staged argument reads as S3 holds it.
    Other paths are returned unchanged; nothing is listed in S3 unless a placeholder is under the path."""
    base = os.environ.get("LOCAL_AWS_GLUE_S3_ROOT")
    if not base:
        return path
    text = path[len("file://"):] if path.startswith("file://") else path[len("file:"):] if path.startswith(
        "file:") else path
    if not text.startswith(base.rstrip("/") + "/"):
        return path
    relative = _static_prefix(text[len(base.rstrip("/")) + 1:])
    with _lock:
        wanted = [e["path"] for e in _entries().values() if e["placeholder"] and (
            e["path"] == relative or e["path"].startswith(relative.rstrip("/") + "/") or not relative)]
        wanted = [r for r in wanted if (root() / r).exists() and _stat(root() / r) == _entries()[r]["stat"]]
        for relative_key in wanted:
            bucket, _, key = relative_key.partition("/")
            target = root() / relative_key
            client().download_file(bucket, key, str(target))
            _record(relative_key, target, placeholder=False)
    return path


def for_write(uri: str) -> str:
    """The local path to write ``uri`` to; the keys already there are staged as placeholders (module doc)."""
    bucket, key = split(uri)
    objects = _under(bucket, key)
    with _lock:
        entries = _entries()
        for obj in objects:
            relative = f"{bucket}/{obj['Key']}"
            path = root() / relative
            if relative in entries or path.exists():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
            _record(relative, path, placeholder=True)
    local = local_path(uri)
    _drop_if_empty_folder(local)
    return local


def to_uri(path: str) -> str:
    """A local mirror path (or file: URI) back to its s3:// URI; other paths unchanged."""
    text = str(path)
    base = str(root())
    for prefix in (f"file:{base}/", f"{base}/"):
        if text.startswith(prefix):
            return "s3://" + text[len(prefix):]
    return text


# --- PySpark hooks -----------------------------------------------------------------------------------------------


def _map_paths(value, resolve, local):
    if is_s3(value):
        return resolve(value)
    if isinstance(value, str):
        return local(value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return type(value)(resolve(v) if is_s3(v) else local(v) for v in value)
    return value


def _wrap(cls, name: str, resolve, local) -> None:
    original = getattr(cls, name)
    if getattr(original, "_local_glue_s3", False):
        return

    @functools.wraps(original)
    def method(self, *args, **kwargs):
        if args:  # only the first argument is a path (parquet(*paths) on the reader: all of them)
            count = len(args) if (cls.__name__, name) == ("DataFrameReader", "parquet") else 1
            args = tuple(_map_paths(a, resolve, local) for a in args[:count]) + args[count:]
        for key in ("path", "paths"):
            if key in kwargs:
                kwargs[key] = _map_paths(kwargs[key], resolve, local)
        return original(self, *args, **kwargs)

    method._local_glue_s3 = True
    setattr(cls, name, method)


def install_pyspark_hooks() -> None:
    """Make the DataFrame readers and writers (and SparkContext's text readers) accept s3:// paths."""
    from pyspark.context import SparkContext
    from pyspark.sql.readwriter import DataFrameReader, DataFrameWriter

    for name in ("load", "parquet", "csv", "json", "orc", "text"):
        _wrap(DataFrameReader, name, for_read, fill_local)
    for name in ("save", "parquet", "csv", "json", "orc", "text"):
        _wrap(DataFrameWriter, name, for_write, for_local_write)
    for name in ("textFile", "wholeTextFiles", "binaryFiles"):
        _wrap(SparkContext, name, for_read, fill_local)


def forget(bucket: str, keys: list[str]) -> None:
    """Objects deleted from S3 by the job (e.g. purge_s3_path): their local copies go too, so a later read in
    the run does not see them."""
    with _lock:
        for key in keys:
            path = root() / bucket / key
            if path.is_file():
                path.unlink()
