"""Job bookmarks in a local job process ("Tracking processed data using job bookmarks", AWS Glue developer guide).

The runner hands the job's committed state in (``LOCAL_AWS_GLUE_BOOKMARK``, a JSON file) and takes the new state
back from ``LOCAL_AWS_GLUE_BOOKMARK_OUT`` after a successful run; it keeps it per job (GetJobBookmark,
ResetJobBookmark). State: ``{"<transformation_ctx>": {"s3://bucket/key": "<LastModified ISO>", ...}}``, the S3
objects each source has processed. As on AWS:

- ``job-bookmark-enable``: a source with a transformation_ctx reads only objects that are new or modified since the
  committed state; ``Job.commit()`` saves what this run read (a run that fails, or never commits, saves nothing);
- ``job-bookmark-pause``: reads only new objects but ``Job.commit()`` does not save;
- ``job-bookmark-disable`` (the default): everything is read and nothing is saved.
Bookmarks apply only after ``Job.init`` and only to S3 sources with a transformation_ctx.
"""

from __future__ import annotations

import json
import os
import sys

_state: BookmarkState | None = None


class BookmarkState:
    def __init__(self, option: str, committed: dict):
        self.option = option
        self.committed = committed
        self.read: dict[str, dict[str, str]] = {}

    @property
    def active(self) -> bool:
        return self.option in ("job-bookmark-enable", "job-bookmark-pause")

    def select(self, ctx: str, objects: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
        """The (uri, listing entry) pairs a source reads: all of them, or only the new ones when active."""
        if not (self.active and ctx):
            return objects
        seen = self.committed.get(ctx, {})
        chosen = [(uri, o) for uri, o in objects if seen.get(uri) != o["LastModified"].isoformat()]
        self.read.setdefault(ctx, {}).update({uri: o["LastModified"].isoformat() for uri, o in chosen})
        return chosen

    def commit(self) -> None:
        if self.option != "job-bookmark-enable":
            return
        out = os.environ.get("LOCAL_AWS_GLUE_BOOKMARK_OUT")
        if not out:
            return
        state = {ctx: dict(files) for ctx, files in self.committed.items()}
        for ctx, files in self.read.items():
            state.setdefault(ctx, {}).update(files)
        with open(out, "w") as f:
            json.dump(state, f)


def _argument(name: str, default: str) -> str:
    argv = sys.argv
    for i, arg in enumerate(argv[:-1]):
        if arg == name:
            return argv[i + 1]
    return default


def start() -> BookmarkState:
    """Job.init: load the committed state for this run's ``--job-bookmark-option``."""
    global _state
    option = _argument("--job-bookmark-option", "job-bookmark-disable")
    committed: dict = {}
    source = os.environ.get("LOCAL_AWS_GLUE_BOOKMARK")
    if source and os.path.exists(source):
        with open(source) as f:
            committed = json.load(f)
    _state = BookmarkState(option, committed)
    return _state


def current() -> BookmarkState:
    """The run's state after Job.init, else a disabled one (bookmarks need Job.init)."""
    return _state if _state is not None else BookmarkState("job-bookmark-disable", {})
