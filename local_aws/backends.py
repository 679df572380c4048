"""Local state of a service, kept beside moto's, per account and region.

Each service module keeps what moto does not (crawl history, job runs, statements, query executions...) on a
``LocalBackend`` subclass held in a moto ``BackendDict``:

    class GlueJobRunsBackend(LocalBackend):
        SERVICE = "glue"                 # the moto service whose requests change it
        RUNTIME = ("_lock",)             # attributes that are not state (rebuilt by __init__)

        def __init__(self, region_name, account_id):
            super().__init__(region_name, account_id)
            self.runs = {}
            self._lock = threading.Lock()

    job_run_backends = BackendDict(GlueJobRunsBackend, "glue")

Being a BackendDict, it is found and reset by moto's own reset (``POST /moto-api/reset``), and saved and restored by
the state store (``local_aws.state``) like moto's backends: save = the ``__dict__`` without ``RUNTIME``; load =
a fresh instance's ``__dict__`` updated with it, then ``restored()`` settles work that was in flight; reset =
``shutdown()`` then a fresh ``__init__``.
"""

from __future__ import annotations

from typing import Any

from moto.core.base_backend import BaseBackend


class LocalBackend(BaseBackend):
    SERVICE = ""  # moto's name of the service whose requests change this state
    RUNTIME: tuple[str, ...] = ()  # attribute names that are not state

    def saved_state(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k not in self.RUNTIME}

    def restore_state(self, state: dict[str, Any]) -> None:
        self.__dict__.update({k: v for k, v in state.items() if k not in self.RUNTIME})
        self.restored()

    def restored(self) -> None:
        """Called after a load: settle what was in flight when the previous server stopped."""

    def shutdown(self) -> None:
        """Stop threads and processes this backend runs (the server stops, or moto resets)."""

    def reset(self) -> None:
        self.shutdown()
        super().reset()
