"""requirements.txt installs on Amazon MWAA: it resolves under each MWAA constraint set in infra/mwaa/.

MWAA installs a requirements.txt with its Airflow version's constraints and refuses to change the pins in
mwaa_essential_constraints.txt (apache-airflow among them): Amazon MWAA User Guide, "Apache Airflow provider
packages installed on Amazon MWAA environments", section "Constraints file". uv resolves for Python 3.12 without
that Python (`--python-version`), against PyPI or uv's cache.
"""

from __future__ import annotations

import re
import subprocess

import pytest
from platform_support import MWAA_VERSIONS, REPO, uv


def compile_under(requirements: str, version: str, tmp_path) -> subprocess.CompletedProcess:
    source = tmp_path / "requirements.in"
    source.write_text(requirements)
    constraints = REPO / "infra" / "mwaa" / version
    return subprocess.run(
        [uv(), "pip", "compile", "--quiet", "--no-header", "--python-version", "3.12",
         "-c", str(constraints / "airflow_constraints.txt"), "-c", str(constraints / "mwaa_essential_constraints.txt"),
         str(source)],
        capture_output=True, text=True, timeout=300)


def pins(text: str) -> dict[str, str]:
    return {m.group(1).lower(): m.group(2) for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.M)}


def constraint_pin(version: str, package: str) -> str:
    text = (REPO / "infra" / "mwaa" / version / "airflow_constraints.txt").read_text()
    text += (REPO / "infra" / "mwaa" / version / "mwaa_essential_constraints.txt").read_text()
    return pins(text)[package]


def test_constraint_sets_are_vendored():
    assert MWAA_VERSIONS == ["3.2.1", "3.3.1"]
    for version in MWAA_VERSIONS:
        assert constraint_pin(version, "apache-airflow") == version


def test_requirements_leave_airflow_to_the_platform():
    lines = [line for line in (REPO / "requirements.txt").read_text().splitlines() if not line.startswith("#")]
    assert not any(re.match(r"apache-airflow\s*[=<>~!]", line) for line in lines), "the platform owns Airflow"
    assert not any(line.startswith(("-c", "--constraint")) for line in lines), \
        "the constraint line belongs to the packaged MWAA requirements.txt, not the source one"


@pytest.mark.parametrize("version", MWAA_VERSIONS)
def test_requirements_resolve_under_mwaa_constraints(version, tmp_path):
    result = compile_under((REPO / "requirements.txt").read_text(), version, tmp_path)
    assert result.returncode == 0, f"no solution under MWAA {version}:\n{result.stderr[-3000:]}"
    resolved = pins(result.stdout)
    assert resolved["apache-airflow"] == version
    for package in ("apache-airflow-providers-amazon", "boto3", "aiobotocore", "apache-airflow-providers-openlineage",
                    "openlineage-python"):
        assert resolved[package] == constraint_pin(version, package), package


def test_a_pin_mwaa_cannot_honour_finds_no_solution(tmp_path):
    """The check can fail: the requirements this project had before (Airflow 3.3.2 pinned) do not resolve."""
    result = compile_under("apache-airflow==3.3.2\napache-airflow-providers-amazon==9.39.0\n", "3.3.1", tmp_path)
    assert result.returncode != 0
    assert "apache-airflow" in result.stderr
