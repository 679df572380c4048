"""LOCAL_AWS_* settings: one module, validated at start, documented in docs/architecture.md."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from local_aws import settings
from local_aws.settings import SETTINGS, SettingsError

ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"

# A value each setting refuses, with the words its error must say.
BAD_VALUES = {
    "LOCAL_AWS_TIME_SCALE": ("fast", "must be a number"),
    "LOCAL_AWS_CRAWLER_STARTUP_SECONDS": ("-1", "must be a finite number at least 0"),
    "LOCAL_AWS_GLUE_STAGING": ("everything", "must be one of lazy, full"),
    "LOCAL_AWS_GLUE_SECONDS_PER_TIMEOUT_MINUTE": ("0", "must be a finite number greater than 0"),
    "LOCAL_AWS_GLUE_WARM_DRIVERS": ("two", "must be a whole number"),
    "LOCAL_AWS_GLUE_RUNTIMES_DIR": ("/no/such/folder", "must be an existing folder"),
    "LOCAL_AWS_FSYNC": ("sometimes", "must be one of on, off"),
    "LOCAL_AWS_AUTHORIZATION": ("maybe", "must be one of on, off"),
}


def test_every_setting_has_a_refused_value_here():
    assert set(BAD_VALUES) == {s.variable for s in SETTINGS}


def test_defaults():
    parsed = settings.parse({})
    assert parsed.time_scale == 1.0 and parsed.crawler_startup_seconds == 0.5
    assert parsed.glue_staging == "lazy" and parsed.glue_seconds_per_timeout_minute == 60.0
    assert parsed.glue_warm_drivers == 1 and parsed.fsync == "on"
    assert settings.parse({"LOCAL_AWS_TIME_SCALE": "0.1", "LOCAL_AWS_CRAWLER_STARTUP_SECONDS": "2"}
                          ).crawler_startup_delay == pytest.approx(0.2)


@pytest.mark.parametrize("variable", sorted(BAD_VALUES))
def test_a_bad_value_is_refused_naming_the_variable(variable):
    value, words = BAD_VALUES[variable]
    with pytest.raises(SettingsError, match=rf"{variable} {words}.*{re.escape(repr(value))}"):
        settings.parse({variable: value})


def test_an_unknown_setting_is_refused():
    with pytest.raises(SettingsError, match="unknown setting LOCAL_AWS_TIMESCALE"):
        settings.parse({"LOCAL_AWS_TIMESCALE": "0.1"})


@pytest.mark.parametrize("variable", sorted(BAD_VALUES))
def test_the_server_refuses_to_start_with_a_bad_value(variable, tmp_path):
    value, words = BAD_VALUES[variable]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCAL_AWS_")}
    started = subprocess.run([sys.executable, "-m", "local_aws", "serve", "--port", "0", "--state-dir",
                              str(tmp_path)], env={**env, variable: value}, capture_output=True, text=True,
                             timeout=120)
    assert started.returncode == 2, started.stderr[-2000:]
    assert f"{variable} {words}" in started.stderr
    assert "Traceback" not in started.stderr  # a message, not a crash


def _documented() -> dict[str, tuple[str, str]]:
    rows = {}
    for line in ARCHITECTURE.read_text().splitlines():
        match = re.match(r"\| `(LOCAL_AWS_\w+)` \| ([^|]*) \| (.*) \|$", line)
        if match:
            rows[match.group(1)] = (match.group(2).strip(), match.group(3).strip())
    return rows


def test_the_architecture_doc_lists_each_setting_as_the_module_does():
    documented = _documented()
    assert set(documented) == {s.variable for s in SETTINGS}
    for setting in SETTINGS:
        assert documented[setting.variable] == (setting.default, setting.doc), setting.variable
