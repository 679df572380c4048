"""Pickling moto's backends one service at a time, references to other services kept as references.

A service's state is the ``__dict__`` of each of its backends (one per account and region). Restoring fills the
``__dict__`` of the live backend objects, so every reference to a backend stays the same object. What a pickle
refers to outside its own service is written as a *persistent id* and resolved at load:

- a backend object (any service) -> ("backend", service key, account, region);
- an S3 bucket (S3 is stored per bucket and key, not as one pickle) -> ("s3-bucket", account, partition, name);
- a model object that lives in another service's backend (CloudFormation's resource map holds IAM roles, Lambda
  functions, state machines...) -> ("object", service key, account, region, attribute, key in that attribute);
- an S3 object body -> a content-addressed blob in the store (``BlobStore``), never inside the pickle;
- a *finished* record that never changes again (an ended execution, crawl, job run, query) -> ("frozen", type,
  key): pickled once into its own entry, so a service's state costs what is still live, not its whole history.

A record an engine is ending is pickled with its final values before it has them (``StagingPickler``, for
``local_aws.state.store.finish``). Runtime-only values are rebuilt, not stored: locks, weak dictionaries (as their
strong contents), defaultdicts whose factory is a lambda (as the builtin type the lambda returns), spooled temporary
files.
"""

from __future__ import annotations

import collections
import copyreg
import hashlib
import io
import os
import pickle
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from moto.core.base_backend import BackendDict, BaseBackend

_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))
PROTOCOL = pickle.HIGHEST_PROTOCOL


def backend_key(backend_dict: BackendDict) -> str:
    """A stable name for one BackendDict: its backend class (service names collide: moto's redshift-data
    BackendDict is named "redshift")."""
    return _key_of_backend_class(backend_dict.backend)


class BlobStore:
    """Object bodies by SHA-256, one file each, written (and fsynced) once."""

    def __init__(self, root: Path, fsync: bool):
        self.root = root
        self.fsync = fsync
        self.root.mkdir(parents=True, exist_ok=True)
        self._written_since_sync = False

    def path(self, digest: str) -> Path:
        return self.root / digest

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if not target.exists():
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                if self.fsync:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(tmp, target)
            self._written_since_sync = True
        return digest

    def get(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()

    def sync_directory(self) -> None:
        """Make the names of blobs written since the last call durable (before a record refers to them)."""
        if self.fsync and self._written_since_sync:
            fd = os.open(self.root, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        self._written_since_sync = False

    def remove_unreferenced(self, referenced: set[str]) -> int:
        removed = 0
        for path in self.root.iterdir():
            if path.name not in referenced:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def _lambda_factory_type(factory: Callable[[], Any] | None) -> type | None:
    """The builtin container a defaultdict's lambda factory makes (``lambda: {}`` -> dict), else None."""
    if factory is None or getattr(factory, "__name__", "") != "<lambda>":
        return None
    made = factory()
    return type(made) if type(made) in (dict, list, set) and not made else None


def _rebuild_defaultdict(factory: type, items: dict) -> collections.defaultdict:
    return collections.defaultdict(factory, items)


def _rebuild_weak_values(items: dict) -> weakref.WeakValueDictionary:
    return weakref.WeakValueDictionary(items)


def _rebuild_spooled_file(data: bytes, max_size: int) -> tempfile.SpooledTemporaryFile:
    spooled = tempfile.SpooledTemporaryFile(max_size=max_size)
    spooled.write(data)
    return spooled


class StatePickler(pickle.Pickler):
    """Pickles one service's state. ``locate`` maps an object of another service to its ("object", ...) id;
    ``key_reducer`` turns an S3 FakeKey into a blob reference (S3 records only)."""

    def __init__(self, file: io.BytesIO, s3_bucket_type: type | None = None,
                 locate: Callable[[Any], tuple | None] | None = None,
                 key_reducer: Callable[[Any], Any] | None = None,
                 freeze: Callable[[Any], tuple | None] | None = None,
                 top: Any = None):
        super().__init__(file, protocol=PROTOCOL)
        self._freeze = freeze
        self._top = top  # the object this pickle is of: never a reference to itself
        self._bucket_type = s3_bucket_type
        self._locate = locate
        self._key_reducer = key_reducer

    def persistent_id(self, obj: Any) -> tuple | None:
        if isinstance(obj, BaseBackend):
            return ("backend", _key_of_backend_class(type(obj)), obj.account_id, obj.region_name)
        if self._bucket_type is not None and isinstance(obj, self._bucket_type):
            return ("s3-bucket", obj.account_id, obj.partition, obj.name)
        if self._freeze is not None and obj is not self._top:
            frozen = self._freeze(obj)
            if frozen is not None:
                return frozen
        if self._locate is not None:
            return self._locate(obj)
        return None

    def reducer_override(self, obj: Any) -> Any:
        kind = type(obj)
        if kind in _LOCK_TYPES:
            return (threading.RLock if "RLock" in kind.__name__ else threading.Lock), ()
        if kind is weakref.WeakValueDictionary:
            return _rebuild_weak_values, (dict(obj.items()),)
        if kind is collections.defaultdict:
            builtin = _lambda_factory_type(obj.default_factory)
            if builtin is not None:
                return _rebuild_defaultdict, (builtin, dict(obj))
            return NotImplemented
        if kind is tempfile.SpooledTemporaryFile:
            position = obj.tell()
            obj.seek(0)
            data = obj.read()
            obj.seek(position)
            return _rebuild_spooled_file, (data, obj._max_size)
        if self._key_reducer is not None:
            return self._key_reducer(obj)
        return NotImplemented


class StagingPickler(StatePickler):
    """A StatePickler that pickles some records with other attribute values than they have (``staged``: id(record)
    -> (record, attributes)), as they will be once an engine's end is set (``local_aws.state.store.finish``). The
    records' types go through the dispatch table (a C lookup per object), and only the commits that end a record use
    this class, so the other commits pay nothing for it."""

    def __init__(self, file: io.BytesIO, staged: dict[int, tuple[Any, dict[str, Any]]], **options: Any):
        super().__init__(file, **options)
        self._staged = staged
        self.dispatch_table = copyreg.dispatch_table.copy()
        for record, _ in staged.values():
            self.dispatch_table[type(record)] = self._reduce_staged

    def _reduce_staged(self, obj: Any) -> tuple:
        reduction = obj.__reduce_ex__(PROTOCOL)  # what pickle does for an object of this type without us
        if id(obj) not in self._staged:
            return reduction
        function, arguments, state, *rest = reduction
        if not isinstance(state, dict):
            raise TypeError(f"{type(obj).__name__} has no attribute dictionary to stage values in")
        return (function, arguments, {**state, **self._staged[id(obj)][1]}, *rest)


class StateUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, resolve: Callable[[tuple], Any]):
        super().__init__(file)
        self._resolve = resolve

    def persistent_load(self, pid: tuple) -> Any:
        return self._resolve(pid)


_BACKEND_CLASS_KEYS: dict[type, str] = {}


def _key_of_backend_class(cls: type) -> str:
    key = _BACKEND_CLASS_KEYS.get(cls)
    if key is None:
        key = _BACKEND_CLASS_KEYS[cls] = f"{cls.__module__}.{cls.__qualname__}"
    return key


def dumps(value: Any, staged: dict[int, tuple[Any, dict[str, Any]]] | None = None, **options: Any) -> bytes:
    """``value`` pickled (``options``: StatePickler's), with ``staged`` records as StagingPickler pickles them."""
    buffer = io.BytesIO()
    (StagingPickler(buffer, staged, **options) if staged else StatePickler(buffer, **options)).dump(value)
    return buffer.getvalue()


def loads(data: bytes, resolve: Callable[[tuple], Any]) -> Any:
    return StateUnpickler(io.BytesIO(data), resolve).load()


def index_objects(backend_dicts: Iterable[BackendDict]) -> dict[int, tuple]:
    """id(model) -> ("object", service key, account, region, attribute, key) for every model held in a dict
    attribute of the given services' backends (one level deep: where moto keeps its resources)."""
    index: dict[int, tuple] = {}
    for backend_dict in backend_dicts:
        service = backend_key(backend_dict)
        for account, region, backend in list(backend_dict.iter_backends()):
            for attribute, value in list(vars(backend).items()):
                if not isinstance(value, dict):
                    continue
                for key, model in list(value.items()):
                    if hasattr(model, "__dict__") and not isinstance(model, BaseBackend | type):
                        if isinstance(key, str | int | tuple):
                            index.setdefault(id(model), ("object", service, account, region, attribute, key))
    return index
