"""An append-only journal of state records over a snapshot, both in one folder.

A record is a mapping ``{entry: bytes | None}`` (None deletes the entry) written as one frame: length, CRC-32,
payload. ``append`` returns once the frame is on disk (fsync), so a record is all there or, if the process died
while writing it, detectably torn and dropped at the next open. ``entries`` is the fold of snapshot + journal:
the latest value of every entry. ``compact`` writes that fold as the new snapshot (atomically) and empties the
journal; a crash between the two leaves a journal whose records re-apply to the same values.
"""

from __future__ import annotations

import logging
import os
import pickle
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">II")  # payload length, crc32(payload)
FORMAT = 1


class JournalError(RuntimeError):
    """The state folder cannot be read as this version's state (wrong format or a corrupt snapshot)."""


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    def __init__(self, root: Path, fsync: bool = True, header: dict[str, Any] | None = None):
        self.root = root
        self.fsync = fsync
        self.header = header or {}
        root.mkdir(parents=True, exist_ok=True)
        self.snapshot_path = root / "snapshot.pickle"
        self.journal_path = root / "journal.log"
        self.entries: dict[Any, bytes] = {}
        self._read()
        self._file = open(self.journal_path, "ab")  # noqa: SIM115 - held open for appends

    # -- reading -----------------------------------------------------------------------------------------------
    def _read(self) -> None:
        if self.snapshot_path.exists():
            try:
                saved = pickle.loads(self.snapshot_path.read_bytes())
            except Exception as exc:
                raise JournalError(f"{self.snapshot_path} is not a readable snapshot: {exc}") from exc
            self._check_header(saved.get("header", {}))
            self.entries = saved["entries"]
        if not self.journal_path.exists():
            return
        good_end = 0
        with open(self.journal_path, "rb") as handle:
            data = handle.read()
        offset = 0
        while offset + _HEADER.size <= len(data):
            length, crc = _HEADER.unpack_from(data, offset)
            payload = data[offset + _HEADER.size: offset + _HEADER.size + length]
            if len(payload) < length or zlib.crc32(payload) != crc:
                break
            record = pickle.loads(payload)
            if "header" in record:
                self._check_header(record["header"])
            else:
                self._fold(record["entries"])
            offset += _HEADER.size + length
            good_end = offset
        if good_end < len(data):
            log.warning("state journal %s: dropped a torn record at its end (%d bytes): it was never acknowledged",
                        self.journal_path, len(data) - good_end)
            with open(self.journal_path, "r+b") as handle:
                handle.truncate(good_end)

    def _check_header(self, header: dict[str, Any]) -> None:
        for key, expected in self.header.items():
            if header.get(key) != expected:
                raise JournalError(
                    f"the state in {self.root} was written with {key} {header.get(key)!r}, this local AWS has "
                    f"{expected!r}: start with an empty --state-dir (or remove {self.root})")

    def _fold(self, entries: dict[Any, bytes | None]) -> None:
        for key, value in entries.items():
            if value is None:
                self.entries.pop(key, None)
            else:
                self.entries[key] = value

    # -- writing -----------------------------------------------------------------------------------------------
    def _write_frame(self, record: dict[str, Any]) -> None:
        payload = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
        self._file.write(_HEADER.pack(len(payload), zlib.crc32(payload)) + payload)
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())

    def append(self, entries: dict[Any, bytes | None]) -> None:
        """Durably record new values of ``entries``; returns when they are on disk."""
        if not entries:
            return
        if self._file.tell() == 0:
            self._write_frame({"header": self.header})
        self._write_frame({"entries": entries})
        self._fold(entries)

    def size(self) -> int:
        return self._file.tell()

    def compact(self) -> None:
        """The fold becomes the snapshot; the journal starts empty."""
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".snapshot-")
        with os.fdopen(fd, "wb") as handle:
            pickle.dump({"header": self.header, "entries": self.entries}, handle, protocol=pickle.HIGHEST_PROTOCOL)
            handle.flush()
            if self.fsync:
                os.fsync(handle.fileno())
        os.replace(tmp, self.snapshot_path)
        if self.fsync:
            _fsync_directory(self.root)
        self._file.truncate(0)
        self._file.seek(0)
        if self.fsync:
            os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()
