"""Durable state: what the local AWS acknowledged is on disk before the answer goes out.

One journal (``local_aws.state.journal``) holds every service's state:

- a control-plane service (IAM, Glue, Step Functions, CloudFormation, our local backends...) is one entry: the
  pickled ``__dict__`` of each of its backends (``local_aws.state.pickling``). A request to the service rewrites
  its entry; the few kilobytes-to-megabytes this takes are paid only by requests that change something;
- S3 is one entry per bucket (configuration, no keys) and one per key (its versions), the bodies in
  content-addressed blob files: a PutObject costs its own key, not the whole lake.

``commit()`` writes one journal record holding every entry that changed since the last commit, so a request
that changed several services (CreateStack) is on disk all at once or not at all. The server commits after every
request that is not a read and before the response leaves (``commit_for_request``). Engines that end work on
their own threads (a job run, a crawl, a query, a statement, an execution) end it through ``finish``: the end is
committed before any reader can see it, so an answer a client acted on is never taken back by a crash. State
that was only in flight (a crawl, a job run, an execution) is restored as it was last committed, and each service
settles it in its ``restored`` hook (AWS would have finished it; a local restart cannot).

Only one store is active per process (``active()``); without a state dir the server runs in memory.
"""

from __future__ import annotations

import fcntl
import importlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import moto
from moto import backends as moto_backends
from moto.core.base_backend import BackendDict, BaseBackend
from moto.s3.models import FakeBucket, FakeKey, s3_backends
from moto.s3.utils import _VersionedKeyStore

from local_aws.state import pickling
from local_aws.state.journal import Journal

log = logging.getLogger(__name__)

FORMAT = 1
COMPACT_BYTES = 256 * 1024 * 1024  # journal size that triggers folding it into the snapshot
# Services whose state is kept elsewhere or is not state.
_NOT_STATE = {"moto_api", "instance_metadata"}
_S3_KEY = pickling.backend_key(s3_backends)
_CLOUDFORMATION_KEY = "moto.cloudformation.models.CloudFormationBackend"
BLOB_ATTRIBUTE = "_local_aws_blob"  # the digest of a FakeKey's body once stored


# type -> (key of an instance that will never change again or None while it still may, detached attributes).
_FINISHED: dict[type, tuple[Any, tuple[str, ...]]] = {}


def register_finished(cls: type, key_of, detach: tuple[str, ...] = ()) -> None:
    """Instances of ``cls`` for which ``key_of(instance)`` is not None are final (an ended execution, run or
    query): the store pickles each once into its own entry and refers to it from then on, so a commit costs the
    live state, not the history. ``detach`` names attributes pointing back into the live state (an execution's
    state machine): they are not saved, and restored as None for the service's ``restored`` hook to set."""
    _FINISHED[cls] = (key_of, detach)


class StateError(RuntimeError):
    """The state dir cannot be restored; the message says what to do."""


# --- which backends a request changes ----------------------------------------------------------------------------


def _all_backend_dicts() -> list[BackendDict]:
    return [d for d in list(BackendDict._instances) if d.service_name not in _NOT_STATE]


def _moto_package(backend_dict: BackendDict) -> str:
    return backend_dict.backend.__module__.split(".")[1] if backend_dict.backend.__module__.startswith("moto.") \
        else ""


def _package_of_service(service: str) -> str | None:
    try:
        return _moto_package(moto_backends.get_backend(service))
    except Exception:  # not a moto service name
        return None


def backends_of_service(service: str) -> list[BackendDict]:
    """The BackendDicts a request to moto service ``service`` may change: moto's own (every backend module of
    that moto package, e.g. Step Functions' interpreter store beside its plain one) and ours that extend it
    (``LocalBackend.SERVICE``, any of moto's names for the service: "redshift-data" or "redshiftdata")."""
    package = _package_of_service(service)
    if package is None:
        return _all_backend_dicts()
    return [d for d in _all_backend_dicts()
            if _moto_package(d) == package
            or (getattr(d.backend, "SERVICE", "") and _package_of_service(d.backend.SERVICE) == package)]


# --- the store ---------------------------------------------------------------------------------------------------


class StateStore:
    def __init__(self, root: Path, fsync: bool = True):
        self.root = root
        self.fsync = fsync
        self._lock_file = _lock_state_dir(root)
        self.blobs = pickling.BlobStore(root / "blobs", fsync)
        self.journal = Journal(root / "journal", fsync, header={"format": FORMAT, "moto": moto.__version__})
        self._lock = threading.RLock()
        self._dirty: set[str] = set()  # backend keys
        self._dirty_buckets: set[tuple[str, str, str]] = set()  # (account, partition, bucket)
        self._dirty_keys: dict[int, tuple[_VersionedKeyStore, set[str]]] = {}
        self._restoring = False
        self._finished_known: set[tuple] = {k for k in self.journal.entries if k[0] == "frozen"}
        self._finished_pending: dict[tuple, bytes] = {}
        self._staged: dict[int, tuple[Any, dict[str, Any]]] = {}  # see finish()
        self.commits = 0
        self.commit_seconds = 0.0

    # -- marking ---------------------------------------------------------------------------------------------
    def touch(self, *services: str) -> None:
        """Mark moto services (by moto's name: "glue", "s3", "stepfunctions"...) changed."""
        for service in services:
            for backend_dict in backends_of_service(service):
                self.touch_backends(backend_dict)

    def touch_backends(self, *backend_dicts: BackendDict) -> None:
        with self._lock:
            for backend_dict in backend_dicts:
                key = pickling.backend_key(backend_dict)
                if key == _S3_KEY:
                    self._touch_all_buckets()
                else:
                    self._dirty.add(key)

    def _touch_all_buckets(self) -> None:
        for account, partition, backend in s3_backends.iter_backends():
            self._dirty_buckets.add((account, partition, ""))  # the backend's own attributes
            for name in list(backend.buckets):
                self._dirty_buckets.add((account, partition, name))

    def key_changed(self, store: _VersionedKeyStore, key: str) -> None:
        """Called by the S3 key store on every change (see services/s3.py)."""
        if self._restoring:
            return
        with self._lock:
            entry = self._dirty_keys.get(id(store))
            if entry is None:
                self._dirty_keys[id(store)] = (store, {key})
            else:
                entry[1].add(key)

    # -- committing ------------------------------------------------------------------------------------------
    def commit(self) -> None:
        """Write everything marked since the last commit as one durable journal record."""
        with self._lock:
            if not (self._dirty or self._dirty_buckets or self._dirty_keys):
                return
            started = time.perf_counter()
            dirty, buckets, keys = self._dirty, self._dirty_buckets, self._dirty_keys
            self._dirty, self._dirty_buckets, self._dirty_keys = set(), set(), {}
            entries: dict[Any, bytes | None] = {}
            for backend_dict in _all_backend_dicts():
                key = pickling.backend_key(backend_dict)
                if key in dirty:
                    entries[("service", key)] = self._dump_service(backend_dict)
            entries.update(self._dump_s3(buckets, keys))
            entries.update(self._finished_pending)
            self.blobs.sync_directory()
            self.journal.append(entries)
            self._finished_known.update(self._finished_pending)
            self._finished_pending = {}
            if self.journal.size() > COMPACT_BYTES:
                self.journal.compact()
            self.commits += 1
            self.commit_seconds += time.perf_counter() - started

    def commit_finished(self, finals: list[tuple[Any, dict[str, Any]]], services: tuple[str, ...]) -> None:
        """Write ``finals`` (record, the attributes it ends with) as part of a commit of ``services``, then set
        them on the records; under the store's lock, so no other commit writes the records as they were between."""
        with self._lock:
            self._staged = {id(record): (record, attributes) for record, attributes in finals}
            try:
                self.touch(*services)
                self.commit()
            finally:
                self._staged = {}
            for record, attributes in finals:
                record.__dict__.update(attributes)

    def clear(self) -> None:
        """moto's reset emptied every backend: the saved state goes too."""
        with self._lock:
            self._dirty, self._dirty_buckets, self._dirty_keys = set(), set(), {}
            self.journal.append(dict.fromkeys(self.journal.entries))
            self.journal.compact()

    def commit_for_request(self, service: str | None, bucket: str | None, mutating: bool) -> None:
        if not mutating:
            return
        if service is None or service in ("cloudformation", "moto_api"):
            self.touch_backends(*_all_backend_dicts())
        elif service == "s3":
            if bucket:
                for account, partition, _ in s3_backends.iter_backends():
                    self._dirty_buckets.add((account, partition, bucket))
                    self._dirty_buckets.add((account, partition, ""))
            else:
                self.touch_backends(s3_backends)
        else:
            self.touch(service)
        self.commit()

    # -- control-plane services ------------------------------------------------------------------------------
    def _dump_service(self, backend_dict: BackendDict) -> bytes:
        locate = None
        if pickling.backend_key(backend_dict) == _CLOUDFORMATION_KEY:
            others = [d for d in _all_backend_dicts() if d is not backend_dict and d is not s3_backends]
            index = pickling.index_objects(others)
            locate = lambda obj: index.get(id(obj))  # noqa: E731
        states = {}
        for account, region, backend in list(backend_dict.iter_backends()):
            states[(account, region)] = _state_of(backend)
        return _retrying(lambda: pickling.dumps(states, s3_bucket_type=FakeBucket, locate=locate,
                                                freeze=self._freeze, staged=self._staged))

    def _freeze(self, obj: Any) -> tuple | None:
        finished = _FINISHED.get(type(obj))
        if finished is None:
            return None
        key_of, detach = finished
        key = key_of(obj)
        if key is None:
            return None
        entry = ("frozen", f"{type(obj).__module__}.{type(obj).__qualname__}", key)
        if entry not in self._finished_known and entry not in self._finished_pending:
            record = (type(obj), {k: v for k, v in vars(obj).items() if k not in detach}, detach)
            self._finished_pending[entry] = pickling.dumps(record, s3_bucket_type=FakeBucket, freeze=self._freeze,
                                                           staged=self._staged)
        return entry

    # -- S3 ----------------------------------------------------------------------------------------------------
    def _dump_s3(self, buckets: set[tuple[str, str, str]],
                 keys: dict[int, tuple[_VersionedKeyStore, set[str]]]) -> dict[Any, bytes | None]:
        entries: dict[Any, bytes | None] = {}
        store_owner: dict[int, tuple[str, str, FakeBucket]] = {}
        if keys:
            for account, partition, backend in list(s3_backends.iter_backends()):
                for bucket in list(backend.buckets.values()):
                    store_owner[id(bucket.keys)] = (account, partition, bucket)
        for account, partition, name in buckets:
            backend = s3_backends[account][partition]
            if not name:
                state = {k: v for k, v in vars(backend).items() if k != "buckets"}
                entries[("s3-backend", account, partition)] = self._dumps_s3(state)
                continue
            bucket = backend.buckets.get(name)
            entries[("s3-bucket", account, partition, name)] = None if bucket is None else self._dumps_s3(
                {k: v for k, v in vars(bucket).items() if k != "keys"})
        for store, names in keys.values():
            owner = store_owner.get(id(store))
            if owner is None:
                continue  # the bucket is gone; its record (None) drops its keys at load
            account, partition, bucket = owner
            for name in names:
                versions = store.getlist(name)
                entries[("s3-key", account, partition, bucket.name, name)] = (
                    None if not versions else self._dumps_s3(list(versions)))
        return entries

    def _dumps_s3(self, value: Any) -> bytes:
        return _retrying(lambda: pickling.dumps(value, s3_bucket_type=FakeBucket, key_reducer=self._reduce_key))

    def _reduce_key(self, obj: Any) -> Any:
        if not isinstance(obj, FakeKey):
            return NotImplemented
        digest = obj.__dict__.get(BLOB_ATTRIBUTE)
        if digest is None:
            digest = self.blobs.put(obj.value)
            obj.__dict__[BLOB_ATTRIBUTE] = digest
        state = {k: v for k, v in vars(obj).items() if k not in ("_value_buffer", "lock", BLOB_ATTRIBUTE)}
        return _restore_key, (type(obj), state, digest, str(self.blobs.root))

    # -- loading -----------------------------------------------------------------------------------------------
    def load(self) -> dict[str, int]:
        """Restore everything the journal holds into the (fresh) backends; returns counts for the log."""
        entries = self.journal.entries
        self._restoring = True
        _BLOBS_SEEN.clear()
        _RESOLVED.clear()
        _FROZEN_ENTRIES.clear()
        _FROZEN_ENTRIES.update({k: v for k, v in entries.items() if k[0] == "frozen"})
        try:
            counts = self._load_s3(entries)
            services = [(key[1], data) for key, data in entries.items() if key[0] == "service"]
            services.sort(key=lambda item: item[0] == _CLOUDFORMATION_KEY)  # it refers to the others' models
            for key, data in services:
                self._load_service(key, data)
            counts["services"] = len(services)
            unreferenced = [k for k in _FROZEN_ENTRIES if k not in _RESOLVED]
        finally:
            self._restoring = False
            _RESOLVED.clear()
            _FROZEN_ENTRIES.clear()
        if unreferenced:  # records of deleted resources (a deleted state machine's executions)
            self.journal.append(dict.fromkeys(unreferenced))
            self._finished_known.difference_update(unreferenced)
        counts["finished_records"] = len(self._finished_known)
        removed = self.blobs.remove_unreferenced(set(_BLOBS_SEEN))
        counts["unreferenced_blobs_removed"] = removed
        self.journal.compact()
        return counts

    def _load_s3(self, entries: dict[Any, bytes]) -> dict[str, int]:
        """Buckets first (the backend's own attributes and other services refer to them), then their keys."""
        counts = {"buckets": 0, "objects": 0}
        for key, data in entries.items():
            if key[0] == "s3-bucket":
                backend = s3_backends[key[1]][key[2]]
                bucket = FakeBucket.__new__(FakeBucket)
                bucket.__dict__.update(pickling.loads(data, _resolve))
                bucket.keys = _VersionedKeyStore()
                backend.buckets[key[3]] = bucket
                counts["buckets"] += 1
        for key, data in entries.items():
            if key[0] == "s3-key":
                bucket = s3_backends[key[1]][key[2]].buckets.get(key[3])
                if bucket is not None:
                    bucket.keys.setlist(key[4], pickling.loads(data, _resolve))
                    counts["objects"] += 1
        for key, data in entries.items():
            if key[0] == "s3-backend":
                backend = s3_backends[key[1]][key[2]]
                state = pickling.loads(data, _resolve)
                state["buckets"] = backend.buckets
                backend.__dict__.update(state)
        return counts

    def _load_service(self, key: str, data: bytes) -> None:
        backend_dict = _backend_dict_for(key)
        states = pickling.loads(data, _resolve)
        for (account, region), state in states.items():
            backend = backend_dict[account][region]
            _restore_state(backend, state)

    def close(self) -> None:
        self.journal.close()
        self._lock_file.close()  # releases the lock


def _lock_state_dir(root: Path):
    """One server per state dir: a second one would overwrite what the first acknowledged. The lock is the
    kernel's (flock), so it goes with the process however it dies."""
    root.mkdir(parents=True, exist_ok=True)
    handle = open(root / "server.lock", "a+")  # noqa: SIM115 - held for the store's life
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise StateError(f"{root.parent} is in use by another local AWS ({holder}): one server per state dir") \
            from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    return handle


def _state_of(backend: BaseBackend) -> dict[str, Any]:
    getter = getattr(backend, "saved_state", None)
    return getter() if getter is not None else dict(vars(backend))


def _restore_state(backend: BaseBackend, state: dict[str, Any]) -> None:
    setter = getattr(backend, "restore_state", None)
    if setter is not None:
        setter(state)
    else:
        backend.__dict__.update(state)


def _retrying(dump):
    """Request threads may change a dict while it is pickled ("changed size during iteration"): try again."""
    for attempt in range(20):
        try:
            return dump()
        except RuntimeError as exc:
            if "changed size during iteration" not in str(exc) or attempt == 19:
                raise
            time.sleep(0.005)
    raise AssertionError("unreachable")


_BLOBS_SEEN: set[str] = set()


def _restore_key(cls: type, state: dict[str, Any], digest: str, blob_root: str) -> FakeKey:
    key = cls.__new__(cls)
    key.__dict__.update(state)
    key._value_buffer = tempfile.SpooledTemporaryFile(max_size=key._max_buffer_size)
    key._value_buffer.write((Path(blob_root) / digest).read_bytes())
    key.lock = threading.Lock()
    key.__dict__[BLOB_ATTRIBUTE] = digest
    _BLOBS_SEEN.add(digest)
    return key


def _backend_dict_for(key: str) -> BackendDict:
    for backend_dict in list(BackendDict._instances):
        if pickling.backend_key(backend_dict) == key:
            return backend_dict
    module_name, _, class_name = key.rpartition(".")
    module = importlib.import_module(module_name)
    for value in vars(module).values():
        if isinstance(value, BackendDict) and value.backend.__qualname__ == class_name:
            return value
    raise StateError(f"no backend {key} in this local AWS: the state dir was written by another version")


_FROZEN_ENTRIES: dict[tuple, bytes] = {}  # during one load: finished records, resolved on first reference
_RESOLVED: dict[tuple, Any] = {}  # during one load: the same backend or bucket is referred to thousands of times


def _resolve(pid: tuple) -> Any:
    found = _RESOLVED.get(pid)
    if found is None:
        found = _RESOLVED[pid] = _resolve_uncached(pid)
    return found


def _resolve_uncached(pid: tuple) -> Any:
    kind = pid[0]
    if kind == "backend":
        _, key, account, region = pid
        return _backend_dict_for(key)[account][region]
    if kind == "s3-bucket":
        _, account, partition, name = pid
        bucket = s3_backends[account][partition].buckets.get(name)
        if bucket is None:
            raise StateError(f"saved state refers to S3 bucket {name}, which is not in the saved state")
        return bucket
    if kind == "frozen":
        data = _FROZEN_ENTRIES.get(pid)
        if data is None:
            raise StateError(f"saved state refers to the finished record {pid[1:]!r}, which is not saved")
        cls, state, detach = pickling.loads(data, _resolve)
        record = cls.__new__(cls)
        record.__dict__.update(state)
        for attribute in detach:
            setattr(record, attribute, None)
        return record
    if kind == "object":
        _, key, account, region, attribute, item = pid
        backend = _backend_dict_for(key)[account][region]
        try:
            return getattr(backend, attribute)[item]
        except (AttributeError, KeyError) as exc:
            raise StateError(f"saved state refers to {attribute}[{item!r}] of {key}, which is not saved") from exc
    raise StateError(f"unknown reference {pid!r} in the saved state")


# --- the active store ----------------------------------------------------------------------------------------------

_active: StateStore | None = None


def activate(store: StateStore | None) -> None:
    global _active
    _active = store


def active() -> StateStore | None:
    return _active


def finish(changes: list[tuple[Any, Callable[[Any], object]]], *services: str) -> bool:
    """Durable, then visible: how an engine ends a run, crawl, query, statement or execution outside any request.

    ``changes`` pairs each record with the function that gives it its final values (state, times, error, result);
    ``services`` (moto names) are what the end changed (the record's own service, and "s3", "glue", "logs" for what
    it wrote). Each function runs on a shallow copy of its record (so it must set attributes, never change a shared
    object in place), and the attributes it set there are staged: the
    commit pickles the records with them, and only once that journal record is on disk are they set on the live
    records. So no reader (GetJobRun, GetCrawler, GetQueryExecution, DescribeStatement, DescribeExecution) can
    see an end that a crash would take back, and readers need no lock. Costs no commit beyond the one the end
    needs anyway. Without a state store the functions run on the records at once.

    Returns whether the end is visible: False when the commit failed (logged; the records keep their last state,
    and a restart settles them as in flight), e.g. on a store closed by a stopping server."""
    store = _active
    if store is None:
        for record, change in changes:
            change(record)
        return True
    finals = [(record, _final_attributes(record, change)) for record, change in changes]
    try:
        store.commit_finished(finals, services)
    except Exception:
        log.exception("the end of %s could not be made durable; it stays unpublished",
                      ", ".join(type(record).__name__ for record, _ in changes))
        return False
    return True


_ABSENT = object()


def _final_attributes(record: Any, change: Callable[[Any], object]) -> dict[str, Any]:
    """The attributes ``change`` sets, found by running it on a shallow copy of ``record``."""
    shadow = type(record).__new__(type(record))
    shadow.__dict__.update(record.__dict__)
    change(shadow)
    return {name: value for name, value in shadow.__dict__.items() if record.__dict__.get(name, _ABSENT) is not value}


def touch_and_commit(*services: str) -> None:
    """For engines: ``services`` (moto names) changed outside a request; make it durable now (no-op in memory)."""
    store = _active
    if store is not None:
        store.touch(*services)
        store.commit()

