"""Helpers for the platform tests: the MWAA venv, uv, and parsing a DAG folder with another venv's Airflow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MWAA_VERSIONS = sorted(p.name for p in (REPO / "infra" / "mwaa").iterdir() if p.is_dir())
MWAA_CI_VERSION = "3.3.1"  # the Makefile's MWAA_VERSION: .venv-mwaa holds this pin set
MWAA_PYTHON = REPO / ".venv-mwaa" / "bin" / "python"
PROBE = Path(__file__).with_name("dagbag_probe.py")


def mwaa_python() -> Path:
    """The MWAA venv's interpreter; fails the test (never skips) when `make mwaa-venv` has not built it."""
    if not MWAA_PYTHON.exists():
        pytest.fail(f"{MWAA_PYTHON} is missing: `make mwaa-venv` builds it (make test does)")
    return MWAA_PYTHON


def uv() -> str:
    """A uv executable, installed by scripts/bootstrap-uv.sh when missing."""
    result = subprocess.run([str(REPO / "scripts" / "bootstrap-uv.sh"), sys.executable], capture_output=True,
                            text=True, timeout=300, check=True)
    return result.stdout.strip().splitlines()[-1]


def clean_env(tmp: Path, dags: Path, plugins: Path) -> dict:
    """An environment with nothing of this repository on it: Airflow sees only the given folders."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON"))}
    env.update({
        "AIRFLOW_HOME": str(tmp / "airflow-home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    })
    return env


def probe(python: Path | str, dags: Path, plugins: Path, tmp: Path) -> dict:
    """Parse `dags` with the Airflow of `python` (run from tmp, so the repository is not the working directory)."""
    plugins.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([str(python), str(PROBE), str(dags)], capture_output=True, text=True, timeout=300,
                            cwd=tmp, env=clean_env(tmp, dags, plugins))
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
