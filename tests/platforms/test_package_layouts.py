"""`python -m pipeline_tools.package` builds the MWAA DAG folder and the Astro project, and each parses on its own.

Each layout is parsed in a subprocess whose Airflow sees only the packaged folders (no repository on sys.path):
the MWAA one with the MWAA pin set (.venv-mwaa) and with the development Airflow, the Astro one with the
development Airflow. MWAA syncs only the DAG folder and plugins.zip (Amazon MWAA User Guide, "Adding or updating
DAGs"); Astro builds its image from the project folder (Astronomer docs, "Astro project structure").
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from platform_support import REPO, mwaa_python, probe

from pipeline_tools.package import (
    ASTRO_RUNTIME_IMAGE,
    MWAA_DAGS_PATH,
    PackageError,
    build_astro,
    build_mwaa,
    main,
)

DAG_IDS = {"sales_pipeline_daily", "sales_pipeline_state_machine", "sales_revenue_report"}
OUTPUTS = {"DataLakeBucket": "salespipe-123456789012-us-east-1-datalake", "GlueDatabaseName": "sales"}


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    outputs = out / "outputs.json"
    outputs.write_text(json.dumps(OUTPUTS))
    assert main(["--out", str(out), "--outputs-json", str(outputs)]) == 0
    return out


def assert_parses_from(report: dict, root: Path) -> None:
    assert report["errors"] == {}
    assert set(report["dags"]) == DAG_IDS
    for dag_id, dag in report["dags"].items():
        if dag_id == "sales_revenue_report":  # reads the lake only: no SQL
            continue
        for name, found in dag["sql"].items():
            assert found and Path(found).resolve().is_relative_to(root.resolve()), f"{dag_id}: {name} -> {found}"
    assert report["modules"], "the DAGs imported no sales_pipeline module"
    for module, path in report["modules"].items():
        assert Path(path).resolve().is_relative_to(root.resolve()), f"{module} came from {path}, not the package"


@pytest.mark.parametrize("airflow", ["mwaa", "dev"])
def test_mwaa_dag_folder_parses_alone(dist, airflow, tmp_path):
    python = mwaa_python() if airflow == "mwaa" else Path(sys.executable)
    report = probe(python, dist / "mwaa" / "dags", tmp_path / "empty-plugins", tmp_path)
    assert_parses_from(report, dist / "mwaa" / "dags")
    if airflow == "mwaa":
        assert report["airflow"] == "3.3.1"


def test_mwaa_requirements_name_a_constraints_file_that_ships_in_the_dag_folder(dist):
    first, *rest = (dist / "mwaa" / "requirements.txt").read_text().splitlines()
    match = re.fullmatch(r'--constraint "(.+)"', first)
    assert match and match.group(1).startswith(MWAA_DAGS_PATH + "/")
    shipped = dist / "mwaa" / "dags" / match.group(1).removeprefix(MWAA_DAGS_PATH + "/")
    assert shipped.read_text() == (REPO / "infra" / "mwaa" / "3.3.1" / "airflow_constraints.txt").read_text()
    assert rest == ["apache-airflow-providers-amazon[aiobotocore]>=9.25.0",
                    "apache-airflow-providers-openlineage>=2.16.0"]
    ignored = (dist / "mwaa" / "dags" / ".airflowignore").read_text().split()
    assert ignored == ["sales_pipeline/", "include/"]
    assert not (dist / "mwaa" / "plugins.zip").exists()


def test_astro_project_parses_alone(dist, tmp_path):
    root = dist / "astro"
    report = probe(sys.executable, root / "dags", root / "plugins", tmp_path)
    assert_parses_from(report, root)


def test_astro_project_pins_its_runtime_and_sets_connection_and_variable(dist):
    root = dist / "astro"
    assert (root / "Dockerfile").read_text() == f"FROM {ASTRO_RUNTIME_IMAGE}\n"
    assert re.fullmatch(r"[\w.-]+/runtime:\d+\.\d+-\d+", ASTRO_RUNTIME_IMAGE), "a pinned Runtime tag"
    assert (root / "packages.txt").exists()
    settings = yaml.safe_load((root / "airflow_settings.yaml").read_text())["airflow"]
    (connection,) = settings["connections"]
    assert connection["conn_id"] == "aws_default" and connection["conn_type"] == "aws"
    assert connection["conn_extra"]["endpoint_url"].endswith(":4566")
    (variable,) = settings["variables"]
    assert variable["variable_name"] == "sales_pipeline" and json.loads(variable["variable_value"]) == OUTPUTS
    assert "airflow_settings.yaml" in (root / ".dockerignore").read_text().split()


def test_missing_sources_are_named(tmp_path):
    repo = tmp_path / "repo"
    for folder in ("dags", "plugins", "include/sql", "infra/mwaa"):
        shutil.copytree(REPO / folder, repo / folder)
    shutil.copy(REPO / "requirements.txt", repo / "requirements.txt")
    with pytest.raises(PackageError, match="no MWAA constraint set for 9.9.9"):
        build_mwaa(repo, tmp_path / "out", "9.9.9")
    shutil.rmtree(repo / "include" / "sql")
    with pytest.raises(PackageError, match="no SQL under"):
        build_astro(repo, tmp_path / "out")
