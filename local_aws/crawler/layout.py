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
    prefix: str  # '' or ending with '/' (a folder); an object's key for the table of one file
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
    """Glue's exclude patterns, matched against a key relative to the include path ("Include and exclude patterns",
    AWS Glue developer guide): ``*`` matches within a folder, ``**`` crosses folders, ``?`` is one character,
    ``[abc]`` / ``[a-z]`` / ``[!a-c]`` a bracket expression (inside it ``*``, ``?`` and ``\\`` are themselves),
    ``{a,b}`` a group of subpatterns (not nested), ``\\`` escapes the next character; a leading dot is an ordinary
    character."""
    regexes = [re.compile(_glob_regex(pattern, in_group=False)[0]) for pattern in patterns or []]
    return lambda relative_key: any(r.fullmatch(relative_key) for r in regexes)


def _glob_regex(pattern: str, in_group: bool, start: int = 0) -> tuple[str, int]:
    """The regex of ``pattern[start:]`` up to its end (or, in a group, up to the ``,`` or ``}`` that ends the
    subpattern) and where it stopped."""
    out, i = "", start
    while i < len(pattern):
        char = pattern[i]
        if in_group and char in ",}":
            return out, i
        if char == "\\" and i + 1 < len(pattern):
            out, i = out + re.escape(pattern[i + 1]), i + 2
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif char == "*":
            out, i = out + "[^/]*", i + 1
        elif char == "?":
            out, i = out + "[^/]", i + 1
        elif char == "[" and "]" in pattern[i + 2 + pattern.startswith("!", i + 1):]:
            negate = pattern.startswith("!", i + 1)
            first = i + 1 + negate
            end = pattern.index("]", first + 1)  # a ']' right after '[' or '[!' is a member
            members = pattern[first:end]
            escaped = "".join("\\" + c if c in "\\^[]" or (c == "-" and n in (0, len(members) - 1)) else c
                              for n, c in enumerate(members))
            # a bracket expression matches one character of a name component: never '/'
            out, i = out + ("[^" + escaped + "/]" if negate else "(?!/)[" + escaped + "]"), end + 1
        elif char == "{" and not in_group:
            alternatives, i = [], i + 1
            while True:
                alternative, i = _glob_regex(pattern, in_group=True, start=i)
                alternatives.append(alternative)
                if i >= len(pattern) or pattern[i] == "}":
                    break
                i += 1  # past the ','
            out, i = out + "(?:" + "|".join(alternatives) + ")", i + 1
        else:
            out, i = out + re.escape(char), i + 1
    return out, i


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
