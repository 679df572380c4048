"""Stage a Glue job run's ``s3://`` arguments as local folders, and sync what the script changed back to S3.

There is no s3a connector offline, so the script works on local paths. Before the run, every argument whose value
is an ``s3://`` URI is rewritten to ``<work>/s3/<bucket>/<key>`` (trailing slash kept) and the keys under it are
mirrored there. After a successful run each mirrored folder is compared with what was staged:

- a file that is new, or whose inode, size or mtime changed, is uploaded (Spark writes new files; the script
  rewrote it);
- a staged file that is gone is deleted from S3 (the script deleted or overwrote its folder, e.g. a Spark
  ``mode("overwrite")`` of a partition);
- everything else is left alone: keys the script did not touch, and keys others wrote to S3 meanwhile, are never
  deleted. Hadoop's ``.crc`` side files are not uploaded.

Lazy staging: only data the run can read needs its bytes. A key inside Hive partition folders (``k=v/``) gets its
content only when one of those partition values equals the value of a non-path argument (``dt=2021-12-01/`` for
``--run_date 2021-12-01``); other partitions' files are staged as empty placeholders, which keep listings and
overwrite detection exact without copying the history of the lake. Keys outside partition folders are copied.
A folder argument (ending in ``/``) always exists locally, even when S3 holds nothing under it yet.
In the job process, PySpark's readers fill the placeholders under any mirror path they read, and an ``s3://``
path the script uses itself (a DataFrame reader or writer, the awsglue library) is staged on demand
(``awsglue_lib/local_glue_job/s3.py``). Only plain Python file reads of other partitions see empty files: set
``LOCAL_AWS_GLUE_STAGING=full`` (in the local AWS's environment; ``settings.current().glue_staging``) to copy
everything.

The job process learns what was staged, and tells what it staged itself, through the run's manifest
(``write_manifest`` before the run, ``merge_manifest`` after it; JSON lines ``{"path": "<bucket>/<key>",
"stat": [inode, mtime_ns, size], "placeholder": bool}``). ``sync_back`` compares the whole mirror, so files the
job process staged or wrote anywhere under it are synced like the arguments' folders.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from moto.s3.exceptions import MissingBucket

from local_aws import s3io, settings
from local_aws.iam import service_roles


@dataclass
class Staging:
    root: Path  # <work>/s3: the local mirror, one folder per bucket
    staged_paths: list[Path] = field(default_factory=list)  # local roots to compare after the run
    snapshot: dict[Path, tuple[int, int, int]] = field(default_factory=dict)  # file -> (inode, mtime_ns, size)
    placeholder_paths: set[Path] = field(default_factory=set)
    files_copied: int = 0
    placeholders: int = 0

    def local_path(self, bucket: str, key: str) -> Path:
        return self.root / bucket / key

    def to_uri(self, path: Path) -> str:
        bucket, _, key = path.relative_to(self.root).as_posix().partition("/")
        return f"s3://{bucket}/{key}"

    def uris_for_paths(self, text: str) -> str:
        """Show S3 URIs instead of the local mirror in a message (e.g. a Spark error naming a staged path)."""
        return text.replace(f"file:{self.root}/", "s3://").replace(f"{self.root}/", "s3://")

    def write_manifest(self, manifest: Path) -> None:
        """What the runner staged, for the job process (module doc)."""
        with open(manifest, "w") as f:
            for path, stat in self.snapshot.items():
                entry = {"path": path.relative_to(self.root).as_posix(), "stat": list(stat),
                         "placeholder": path in self.placeholder_paths}
                f.write(json.dumps(entry) + "\n")

    def merge_manifest(self, manifest: Path) -> None:
        """Add what the job process staged itself (the last entry of a path wins)."""
        if not manifest.exists():
            return
        for line in manifest.read_text().splitlines():
            if line.strip():
                entry = json.loads(line)
                self.snapshot[self.root / entry["path"]] = tuple(entry["stat"])


@dataclass
class SyncReport:
    uploaded: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


def _in_scope(relative_key: str, scope_values: set[str]) -> bool:
    folders = relative_key.split("/")[:-1]
    partition_values = [f.partition("=")[2] for f in folders if "=" in f]
    return not partition_values or any(v in scope_values for v in partition_values)


def _stat(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns, st.st_size


def stage_arguments(arguments: dict[str, str], root: Path) -> tuple[dict[str, str], Staging]:
    """Rewrite the ``s3://`` arguments to local paths and mirror their keys under ``root``."""
    staging = Staging(root=root)
    full = settings.current().glue_staging == "full"
    scope = {v for v in arguments.values() if v and not v.startswith("s3://")}
    rewritten = dict(arguments)
    staged_keys: set[tuple[str, str]] = set()
    for name, value in arguments.items():
        if not value.startswith("s3://"):
            continue
        bucket, key = s3io.split_uri(value)
        try:
            existing = s3io.list_keys(bucket, key)
        except MissingBucket:
            existing = []  # the script may still write there; the upload then fails loudly with NoSuchBucket
        if key and not key.endswith("/") and key in existing:
            keys, base = [key], key  # a single object: always copied
        else:
            base = key if not key or key.endswith("/") else key + "/"
            keys = [k for k in existing if k.startswith(base) and not k.endswith("/")]
        local = staging.local_path(bucket, key)
        rewritten[name] = str(local) + ("/" if value.endswith("/") else "")
        staging.staged_paths.append(local)
        # A folder argument exists locally even when S3 has nothing under it yet, so a script can write
        # files into it with plain Python as it would write keys.
        (local if value.endswith("/") else local.parent).mkdir(parents=True, exist_ok=True)
        for k in keys:
            if (bucket, k) in staged_keys:
                continue
            staged_keys.add((bucket, k))
            path = staging.local_path(bucket, k)
            path.parent.mkdir(parents=True, exist_ok=True)
            if full or k == base or _in_scope(k[len(base):], scope):
                path.write_bytes(s3io.get_bytes(bucket, k))
                staging.files_copied += 1
            else:
                path.touch()
                staging.placeholders += 1
                staging.placeholder_paths.add(path)
            staging.snapshot[path] = _stat(path)
    return rewritten, staging


def _is_side_file(path: Path) -> bool:
    return path.name.startswith(".") and path.name.endswith(".crc")


def sync_back(staging: Staging) -> SyncReport:
    """Upload new or changed files under the mirror and delete the keys of staged files the script removed (see
    module doc)."""
    report = SyncReport()
    current: set[Path] = set()
    if staging.root.is_dir():
        current.update(p for p in staging.root.rglob("*") if p.is_file() and not _is_side_file(p))
    for path in sorted(current):
        if staging.snapshot.get(path) != _stat(path):
            bucket, key = s3io.split_uri(staging.to_uri(path))
            service_roles.require_s3("s3:PutObject", bucket, key)  # the job writes as its role (issue 15)
            s3io.put_bytes(bucket, key, path.read_bytes())
            report.uploaded.append(f"s3://{bucket}/{key}")
    gone = [p for p in staging.snapshot if p not in current]
    for path in sorted(gone):
        bucket, key = s3io.split_uri(staging.to_uri(path))
        service_roles.require_s3("s3:DeleteObject", bucket, key)
        s3io.delete_keys(bucket, [key])
        report.deleted.append(f"s3://{bucket}/{key}")
    return report


def stage_python_files(value: str, folder: Path) -> list[Path]:
    """``--extra-py-files``: copy the comma-separated ``s3://`` .py/.zip files; return the PYTHONPATH entries
    (the folder for .py modules, the archive itself for .zip/.egg/.whl), as Glue puts them on the path."""
    entries: list[Path] = []
    for uri in (v.strip() for v in value.split(",")):
        if not uri:
            continue
        bucket, key = s3io.split_uri(uri)
        try:
            body = s3io.get_bytes(bucket, key)
        except (KeyError, MissingBucket) as exc:
            raise FileNotFoundError(f"--extra-py-files: {uri} not found in S3") from exc
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / Path(key).name
        target.write_bytes(body)
        entry = target if target.suffix in (".zip", ".egg", ".whl") else folder
        if entry not in entries:
            entries.append(entry)
    return entries
