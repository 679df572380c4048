"""The data files under a crawler's S3 target and the partition folders they sit in.

Glue's rules: zero-byte objects, ``_SUCCESS``, anything under ``_temporary/`` and names starting with ``.`` or ``_``
are not data. Folders below the target are partitions: ``key=value`` folders give the key (Hive style), other
folders get ``partition_0``, ``partition_1``... All of a table's files must sit at the same partition depth with the
same keys; files in another layout (for example loose files beside the partition folders) are left out of the
table, and reported. S3Targets Exclusions are Glue globs relative to the target.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote

from moto.s3.models import FakeKey

from local_aws import s3io


@dataclass(frozen=True)
class DataFile:
    key: str
    size: int
    partition_values: tuple[str, ...]


@dataclass
class TargetLayout:
    """A target's data files, grouped by partition (values in key order; () for an unpartitioned table)."""

    bucket: str
    prefix: str  # '' or ending with '/'
    partition_keys: list[str]
    partitions: dict[tuple[str, ...], list[DataFile]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # data files outside the table's layout

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def partition_location(self, values: tuple[str, ...]) -> str:
        files = self.partitions[values]
        folder = files[0].key.rsplit("/", 1)[0]
        return f"s3://{self.bucket}/{folder}/"

    @property
    def files(self) -> list[DataFile]:
        return [f for files in self.partitions.values() for f in files]


def table_name(prefix: str | None, path: str) -> str:
    """``<TablePrefix><last folder of the path>``, normalised as Glue does (lower case, [a-z0-9_])."""
    bucket, key = s3io.split_uri(path)
    folder = key.rstrip("/").rsplit("/", 1)[-1] if key.strip("/") else bucket
    return re.sub(r"[^a-z0-9_]", "_", f"{prefix or ''}{folder}".lower())


def is_data_key(relative_key: str) -> bool:
    parts = relative_key.split("/")
    if any(p == "_temporary" for p in parts[:-1]):
        return False
    name = parts[-1]
    return bool(name) and not name.startswith((".", "_")) and not name.endswith("_$folder$")


def exclusion_matcher(patterns: list[str] | None) -> Callable[[str], bool]:
    """Glue's exclude patterns, relative to the target: ``*`` stays within a folder, ``**`` crosses folders,
    ``?`` is one character, ``{a,b}`` is either."""
    regexes = []
    for pattern in patterns or []:
        out, i = "", 0
        while i < len(pattern):
            char = pattern[i]
            if pattern.startswith("**", i):
                out, i = out + ".*", i + 2
                continue
            if char == "{" and "}" in pattern[i:]:
                end = pattern.index("}", i)
                out += "(?:" + "|".join(re.escape(alt) for alt in pattern[i + 1 : end].split(",")) + ")"
                i = end + 1
                continue
            out += {"*": "[^/]*", "?": "[^/]"}.get(char, re.escape(char))
            i += 1
        regexes.append(re.compile(out))
    return lambda relative_key: any(r.fullmatch(relative_key) for r in regexes)


def _folder_pair(index: int, folder: str) -> tuple[str, str]:
    key, sep, value = folder.partition("=")
    if sep and key:
        return key.lower(), unquote(value)  # Hive escapes special characters in values (':' is %3A)
    return f"partition_{index}", folder


def scan_target(path: str, exclusions: list[str] | None = None) -> TargetLayout:
    """List the target's data files (S3 listing only: object sizes, no content)."""
    bucket, prefix = s3io.split_uri(path)
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    store = s3io._backend().get_bucket(bucket)  # noqa: SLF001 - sizes without reading bodies
    excluded = exclusion_matcher(exclusions)
    candidates: list[tuple[str, int, list[tuple[str, str]]]] = []
    for key in s3io.list_keys(bucket, prefix):
        relative = key[len(prefix):]
        if not is_data_key(relative) or excluded(relative):
            continue
        current = store.keys.get(key)
        # Deleted meanwhile, or a versioned bucket's delete marker: not an object to crawl.
        if not isinstance(current, FakeKey) or current.size == 0:
            continue
        size = current.size
        folders = relative.split("/")[:-1]
        candidates.append((key, size, [_folder_pair(i, f) for i, f in enumerate(folders)]))
    layouts = Counter(tuple(k for k, _ in pairs) for _, _, pairs in candidates)
    keys = list(layouts.most_common(1)[0][0]) if layouts else []
    layout = TargetLayout(bucket=bucket, prefix=prefix, partition_keys=keys)
    for key, size, pairs in candidates:
        if [k for k, _ in pairs] != keys:
            layout.skipped.append(key)
            continue
        values = tuple(v for _, v in pairs)
        layout.partitions.setdefault(values, []).append(DataFile(key, size, values))
    return layout
