"""The declared changes the local AWS makes to moto: what, where, why, and against which moto version.

Every change to a moto class or module goes through here. A service module declares its patches at import:

    from local_aws.patches import patch

    @patch("moto.glue.models.GlueBackend.start_crawler", why="crawlers really crawl")
    def start_crawler(self, name): ...

and the server applies them all at start (``apply_all``). Three kinds:

- ``replace``: the target must exist and be callable with the same parameters as when the patch was written (its
  signature is compared with the replacement's, so a moto release that renames or reshapes the target stops the
  start instead of leaving a dead attribute behind). ``wrap=True`` hands the original to the replacement factory.
- ``add``: the target must NOT exist yet (an action moto lacks, such as ``GlueResponse.update_crawler``); if a moto
  release adds it, start fails so the patch can be dropped or turned into a replace.
- ``set``: a module attribute or class attribute replaced by a value (a dict entry merged, a constant): the target
  must exist.

A target that is missing or has changed shape raises ``PatchError`` naming the patch and why it exists. Applying
twice is a no-op; ``revert_all`` puts every original back (tests). ``applied()`` lists what is in force; the
server serves it at ``/_local_aws/patches``.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import moto

CHECKED_MOTO_VERSION = "5.2.5"
_MISSING = object()


class PatchError(RuntimeError):
    """A declared patch cannot be applied: its target is missing, already present, or changed shape."""


@dataclass
class Patch:
    target: str  # "package.module.Class.attribute" or "package.module.attribute"
    why: str
    kind: str  # replace | add | set
    value: Any = None  # the replacement (a function, descriptor or value), or a factory when wrap
    wrap: bool = False  # value(original) builds the replacement
    check_signature: bool = True
    moto_version: str = CHECKED_MOTO_VERSION
    declared_in: str = ""
    original: Any = field(default=_MISSING, repr=False)
    had_own_attribute: bool = False  # the owner held the attribute itself (not inherited, not absent)
    applied: bool = False

    def describe(self) -> dict[str, Any]:
        return {"target": self.target, "kind": self.kind, "why": self.why, "moto_version": self.moto_version,
                "declared_in": self.declared_in, "applied": self.applied}


class Registry:
    """Declared patches, applied and reverted together. The module's functions use the default registry."""

    def __init__(self) -> None:
        self._patches: list[Patch] = []
        self._lock = threading.Lock()

    def declare(self, target: str, why: str, kind: str, value: Any, declared_in: str, **options: Any) -> Patch:
        if not why:
            raise ValueError(f"patch of {target} must say why it exists")
        declared = Patch(target=target, why=why, kind=kind, value=value, declared_in=declared_in, **options)
        with self._lock:
            twice = next((p for p in self._patches if p.target == target), None)
            if twice is not None:
                raise PatchError(f"{target} is patched twice ({declared_in} and {twice.declared_in})")
            self._patches.append(declared)
        return declared

    def apply_all(self) -> list[Patch]:
        """Apply every declared patch not yet applied, in declaration order. Raises PatchError on the first
        that cannot be applied (the ones before it stay applied)."""
        with self._lock:
            pending = [p for p in self._patches if not p.applied]
            for p in pending:
                _apply(p)
        return pending

    def revert_all(self) -> None:
        """Put every original back, newest first."""
        with self._lock:
            for p in reversed(self._patches):
                if p.applied:
                    _revert(p)

    def applied(self) -> list[dict[str, Any]]:
        with self._lock:
            return [p.describe() for p in self._patches if p.applied]

    def declared(self) -> list[Patch]:
        with self._lock:
            return list(self._patches)


REGISTRY = Registry()


def _declare(target: str, why: str, kind: str, value: Any, **options: Any) -> Patch:
    declared_in = sys._getframe(2).f_globals.get("__name__", "?")
    return REGISTRY.declare(target, why, kind, value, declared_in, **options)


def patch(target: str, *, why: str, wrap: bool = False, check_signature: bool = True,
          moto_version: str = CHECKED_MOTO_VERSION) -> Callable[[Any], Any]:
    """Decorator: replace ``target`` with the decorated function (or, with ``wrap``, with what it returns when
    given the original). For class- or static methods and properties, decorate the function that builds the
    descriptor with ``wrap=True``; signatures are compared for plain replacements only."""

    def register(value: Any) -> Any:
        _declare(target, why, "replace", value, wrap=wrap, check_signature=check_signature,
                 moto_version=moto_version)
        return value

    return register


def add(target: str, *, why: str, moto_version: str = CHECKED_MOTO_VERSION) -> Callable[[Any], Any]:
    """Decorator: add ``target``, which moto must not have (a missing action or method)."""

    def register(value: Any) -> Any:
        _declare(target, why, "add", value, moto_version=moto_version)
        return value

    return register


def set_value(target: str, value: Any, *, why: str, moto_version: str = CHECKED_MOTO_VERSION) -> None:
    """Replace the existing attribute ``target`` with ``value`` (a constant, a module stand-in, a descriptor)."""
    _declare(target, why, "set", value, check_signature=False, moto_version=moto_version)


# --- resolution -----------------------------------------------------------------------------------------------


def _resolve_owner(target: str) -> tuple[Any, str]:
    """(object holding the attribute, attribute name) for a dotted target; the longest importable module wins."""
    parts = target.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:-1]:
            owner = getattr(owner, name, _MISSING)
            if owner is _MISSING:
                raise PatchError(f"{target}: {name} is missing in moto {moto.__version__}")
        return owner, parts[-1]
    raise PatchError(f"{target}: no importable module in the target")


def _callable_of(value: Any) -> Any:
    if isinstance(value, classmethod | staticmethod):
        return value.__func__
    if isinstance(value, property):
        return value.fget
    return value


def _parameters(value: Any) -> list[tuple[str, Any]] | None:
    function = _callable_of(value)
    if not callable(function):
        return None
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    return [(p.name, p.kind) for p in signature.parameters.values()]


def _same_shape(original: Any, replacement: Any) -> bool:
    """Same parameter names and kinds (a replacement may add trailing *args/**kwargs)."""
    expected, given = _parameters(original), _parameters(replacement)
    if expected is None or given is None:
        return True
    loose = {inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD}
    if any(kind in loose for _, kind in given) and not any(kind in loose for _, kind in expected):
        given = [p for p in given if p[1] not in loose]
        return given == expected[: len(given)]
    return expected == given


def _apply(p: Patch) -> None:
    owner, name = _resolve_owner(p.target)
    current = owner.__dict__.get(name, _MISSING) if isinstance(owner, type) else getattr(owner, name, _MISSING)
    if isinstance(owner, type) and current is _MISSING and hasattr(owner, name):
        current = getattr(owner, name)  # inherited: patching the subclass shadows the base's
    if p.kind == "add":
        if current is not _MISSING or hasattr(owner, name):
            raise PatchError(f"{p.target} now exists in moto {moto.__version__}; the patch adding it "
                             f"({p.declared_in}: {p.why}) must be reviewed")
        replacement = p.value
    else:
        if current is _MISSING:
            raise PatchError(f"{p.target} is missing in moto {moto.__version__} (checked against "
                             f"{p.moto_version}); patch from {p.declared_in}: {p.why}")
        replacement = p.value(current) if p.wrap else p.value
        if p.kind == "replace" and p.check_signature and not p.wrap and not _same_shape(current, replacement):
            raise PatchError(f"{p.target} changed shape in moto {moto.__version__}: expected parameters "
                             f"{_parameters(replacement)}, found {_parameters(current)}; patch from "
                             f"{p.declared_in}: {p.why}")
    p.original = current
    p.had_own_attribute = name in vars(owner) if hasattr(owner, "__dict__") else current is not _MISSING
    setattr(owner, name, replacement)
    p.applied = True


def _revert(p: Patch) -> None:
    owner, name = _resolve_owner(p.target)
    if p.had_own_attribute:
        setattr(owner, name, p.original)
    else:
        delattr(owner, name)  # added, or shadowing an inherited attribute
    p.original, p.applied = _MISSING, False


apply_all = REGISTRY.apply_all
revert_all = REGISTRY.revert_all
applied = REGISTRY.applied
declared = REGISTRY.declared


def version_mismatches() -> list[str]:
    """Patches checked against another moto release than the one installed (logged at start)."""
    return [p.target for p in declared() if p.moto_version != moto.__version__]
