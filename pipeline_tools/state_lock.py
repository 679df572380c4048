"""One command at a time on a state folder: `make run`, `make backfill` and `make ui` share its local AWS state and
its Airflow home, and two local AWS servers or two Airflows on one folder would overwrite each other."""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path


class StateLock:
    """`with StateLock(state_dir):` holds the folder's lock, or exits with a message naming the process that has it."""

    def __init__(self, state_dir: Path):
        self.path = state_dir / ".lock"
        self._file = None

    def __enter__(self) -> StateLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a+")  # noqa: SIM115 - held until __exit__
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.seek(0)
            holder = self._file.read().strip() or "another process"
            self._file.close()
            raise SystemExit(f"{self.path.parent} is in use by {holder}: wait for it to end (or stop it), "
                             "or give this command another --state-dir") from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(f"pid {os.getpid()} ({Path(sys.argv[0]).name})")
        self._file.flush()
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self._file, fcntl.LOCK_UN)
        self._file.close()
