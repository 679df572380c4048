"""``awsglue.job.Job``: init and commit ("Job bookmarks", "Using job bookmarks" in the AWS Glue developer guide)."""

from __future__ import annotations

from awsglue import Unimplemented, bookmarks


class Job(Unimplemented):
    """``Job(glue_context)``; ``init(job_name, args)`` starts bookmark tracking, ``commit()`` saves it."""

    def __init__(self, glue_context):
        self._glue_context = glue_context
        self._name: str | None = None
        self._state: bookmarks.BookmarkState | None = None

    def init(self, job_name: str, args: dict | None = None) -> None:
        self._name = job_name
        self._state = bookmarks.start()

    def commit(self) -> None:
        """Saves the bookmark state (job-bookmark-enable only). Raises RuntimeError before ``init``, as Glue's
        commit fails without an initialised job."""
        if self._state is None:
            raise RuntimeError("Job.commit() called before Job.init()")
        self._state.commit()

    def isInitialized(self) -> bool:
        return self._state is not None
