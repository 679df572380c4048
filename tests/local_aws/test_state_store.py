"""The state store on a backend of its own: what it writes per commit, finished records, references kept."""

from __future__ import annotations

from moto.core.base_backend import BackendDict

from local_aws.backends import LocalBackend
from local_aws.state.pickling import backend_key
from local_aws.state.store import StateStore, register_finished


class Run:
    def __init__(self, run_id: str, owner):
        self.run_id, self.state, self.owner = run_id, "RUNNING", owner


class RunsBackend(LocalBackend):
    SERVICE = "glue"
    RUNTIME = ("cache",)

    def __init__(self, region_name, account_id):
        super().__init__(region_name, account_id)
        self.runs: list[Run] = []
        self.cache = object()  # not state: a fresh one after a load

    def restored(self) -> None:
        for run in self.runs:
            run.owner = run.owner or self  # detached when saved as finished


register_finished(Run, lambda run: run.run_id if run.state == "SUCCEEDED" else None, detach=("owner",))
runs_backends = BackendDict(RunsBackend, "glue")


def _frozen_in_journal(store: StateStore) -> int:
    return sum(1 for key in store.journal.entries if key[0] == "frozen")


def test_finished_records_are_written_once_and_restored_with_their_references(tmp_path):
    backend = runs_backends["111111111111"]["us-east-1"]
    store = StateStore(tmp_path, fsync=False)
    for i in range(5):
        backend.runs.append(Run(f"jr_{i}", backend))
    backend.runs[0].state = backend.runs[1].state = "SUCCEEDED"
    store.touch_backends(runs_backends)
    store.commit()
    assert _frozen_in_journal(store) == 2
    service_entry = store.journal.entries[("service", backend_key(runs_backends))]
    backend.runs[2].state = "SUCCEEDED"
    store.touch_backends(runs_backends)
    store.commit()
    assert _frozen_in_journal(store) == 3
    # the live part shrank: finished runs are references now, not copies
    assert len(store.journal.entries[("service", backend_key(runs_backends))]) < \
        len(service_entry) + 200
    store.close()

    runs_backends.clear()  # a new process: nothing in memory
    reopened = StateStore(tmp_path, fsync=False)
    counts = reopened.load()
    restored = runs_backends["111111111111"]["us-east-1"]
    assert [(r.run_id, r.state) for r in restored.runs] == [
        ("jr_0", "SUCCEEDED"), ("jr_1", "SUCCEEDED"), ("jr_2", "SUCCEEDED"), ("jr_3", "RUNNING"),
        ("jr_4", "RUNNING")]
    assert all(run.owner is restored for run in restored.runs)  # live ones by reference, finished reattached
    assert restored.cache is not backend.cache
    assert counts["finished_records"] == 3
    reopened.close()
    runs_backends.clear()


def test_finished_records_of_deleted_resources_are_dropped_at_load(tmp_path):
    runs_backends.clear()
    backend = runs_backends["222222222222"]["us-east-1"]
    store = StateStore(tmp_path, fsync=False)
    backend.runs.append(Run("jr_gone", backend))
    backend.runs[0].state = "SUCCEEDED"
    store.touch_backends(runs_backends)
    store.commit()
    backend.runs.clear()  # the job was deleted with its runs
    store.touch_backends(runs_backends)
    store.commit()
    store.close()
    runs_backends.clear()
    reopened = StateStore(tmp_path, fsync=False)
    reopened.load()
    assert _frozen_in_journal(reopened) == 0
    reopened.close()
    runs_backends.clear()


def test_every_local_backend_names_a_service_moto_knows():
    """A LocalBackend is committed with the requests of its SERVICE: a name moto does not know would mean its
    state is only written when something else commits."""
    from local_aws.services import service_modules
    from local_aws.state.store import _package_of_service

    service_modules()
    local = [cls for cls in _subclasses(LocalBackend) if cls.__module__.startswith("local_aws.")]
    assert len(local) >= 4
    for cls in local:
        assert _package_of_service(cls.SERVICE), f"{cls.__qualname__}.SERVICE = {cls.SERVICE!r}"


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)
