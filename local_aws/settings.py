"""Every ``LOCAL_AWS_*`` knob of the local AWS: one typed, validated place.

    from local_aws import settings
    settings.current().time_scale      # 1.0 unless LOCAL_AWS_TIME_SCALE says otherwise

The server validates the environment at start (``settings.current()`` raises ``SettingsError`` naming the variable
and the value it refused), so a typo stops the server instead of failing a crawl or a job later. Values are read
from the environment of the server process each time they are asked for (parsing is cached while the environment
is unchanged), so a test or a run may change a knob while the server is up; a bad value set then is refused by the
call that needs it, with the same message.

The table in docs/architecture.md lists the same variables, defaults and meanings; a test keeps the two in step.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

PREFIX = "LOCAL_AWS_"


class SettingsError(ValueError):
    """A ``LOCAL_AWS_*`` variable holds a value the local AWS cannot use; the message names it."""


def _number(minimum: float, *, strict: bool = False) -> Callable[[str, str], float]:
    def parse(variable: str, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{variable} must be a number, got {raw!r}") from None
        if value != value or value in (float("inf"), float("-inf")) or value < minimum or (strict and value == minimum):
            bound = f"greater than {minimum:g}" if strict else f"at least {minimum:g}"
            raise SettingsError(f"{variable} must be a finite number {bound}, got {raw!r}")
        return value

    return parse


def _whole_number(variable: str, raw: str) -> int:
    if not raw.isdigit():
        raise SettingsError(f"{variable} must be a whole number of drivers (0 disables), got {raw!r}")
    return int(raw)


def _folder(variable: str, raw: str) -> str:
    if raw == "project root":
        return raw
    folder = Path(raw).expanduser().resolve()
    if not folder.is_dir():
        raise SettingsError(f"{variable} must be an existing folder, got {raw!r}")
    return str(folder)


def _choice(*allowed: str) -> Callable[[str, str], str]:
    def parse(variable: str, raw: str) -> str:
        value = raw.lower()
        if value not in allowed:
            raise SettingsError(f"{variable} must be one of {', '.join(allowed)}, got {raw!r}")
        return value

    return parse


@dataclass(frozen=True)
class Setting:
    variable: str
    default: str
    parse: Callable[[str, str], Any]
    doc: str


# The one list of knobs. `doc` is the text of the docs/architecture.md table row.
SETTINGS: tuple[Setting, ...] = (
    Setting("LOCAL_AWS_TIME_SCALE", "1", _number(0),
            "multiplies Step Functions Wait states, Retry intervals and the crawler start delay "
            "(`make run` uses 0.1)"),
    Setting("LOCAL_AWS_CRAWLER_STARTUP_SECONDS", "0.5", _number(0),
            "delay before a crawl starts, so pollers see RUNNING (scaled by the time scale)"),
    Setting("LOCAL_AWS_GLUE_STAGING", "lazy", _choice("lazy", "full"),
            "`full` stages every object of a job's `s3://` arguments, not only the run's partitions"),
    Setting("LOCAL_AWS_GLUE_SECONDS_PER_TIMEOUT_MINUTE", "60", _number(0, strict=True),
            "length of a Glue job's Timeout minute (tests shorten it; not scaled by the time scale)"),
    Setting("LOCAL_AWS_GLUE_WARM_DRIVERS", "1", _whole_number,
            "Spark drivers kept pre-started per Glue runtime for job runs (0: every run starts its own Spark); the "
            "first starts when a job of that GlueVersion is created, each serves one run and is then replaced; runs "
            "with `--extra-py-files` always start cold. Each is a JVM with a 1 GB heap"),
    Setting("LOCAL_AWS_GLUE_RUNTIMES_DIR", "project root", _folder,
            "folder holding the Glue runtime environments (`.venv-glue5`)"),
    Setting("LOCAL_AWS_FSYNC", "on", _choice("on", "off"),
            "`off` skips fsync when state is written: faster, but an acknowledged write can be lost if the machine "
            "(not only the server) goes down"),
    Setting("LOCAL_AWS_AUTHORIZATION", "on", _choice("on", "off"),
            "`off` lets every caller do anything (ad-hoc use); `on` authorises each call as AWS would, by the "
            "caller's IAM policies and Lake Formation grants"),
)


@dataclass(frozen=True)
class Settings:
    """Parsed values; attribute names are the variable names without the prefix, in lower case."""

    time_scale: float
    crawler_startup_seconds: float
    glue_staging: str
    glue_seconds_per_timeout_minute: float
    glue_warm_drivers: int
    glue_runtimes_dir: str  # "project root" or an absolute folder
    fsync: str
    authorization: str

    @property
    def crawler_startup_delay(self) -> float:
        """Seconds a crawl waits before it starts, the time scale applied."""
        return self.crawler_startup_seconds * self.time_scale


def _attribute(setting: Setting) -> str:
    return setting.variable[len(PREFIX):].lower()


assert [_attribute(s) for s in SETTINGS] == [f.name for f in fields(Settings)], "SETTINGS and Settings differ"

_cache: tuple[tuple[str | None, ...], Settings] | None = None


def parse(environ: Mapping[str, str]) -> Settings:
    """The settings in ``environ``; an unset or empty variable takes its default.

    Raises SettingsError for the first variable whose value is refused, and for an unknown ``LOCAL_AWS_*``
    variable (a misspelt knob would otherwise be ignored).
    """
    known = {s.variable for s in SETTINGS}
    unknown = sorted(v for v in environ if v.startswith(PREFIX) and v not in known and not _internal(v))
    if unknown:
        raise SettingsError(f"unknown setting {unknown[0]} (known: {', '.join(sorted(known))})")
    values = {}
    for setting in SETTINGS:
        raw = (environ.get(setting.variable) or "").strip() or setting.default
        values[_attribute(setting)] = setting.parse(setting.variable, raw)
    return Settings(**values)


def _internal(variable: str) -> bool:
    """Variables the local AWS sets for its own child processes (the Lambda runtime), not knobs."""
    return variable.startswith(f"{PREFIX}LAMBDA_")


def current() -> Settings:
    """The settings of this process's environment now (cached while it is unchanged)."""
    global _cache
    key = tuple(os.environ.get(s.variable) for s in SETTINGS)
    cached = _cache
    if cached is not None and cached[0] == key:
        return cached[1]
    value = parse(os.environ)
    _cache = (key, value)
    return value
