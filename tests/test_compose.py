"""docker-compose.yaml is valid Compose and names only commands and paths this project has.

There is no Docker engine here, so the file is checked statically against the Compose Specification schema.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
# Vendored (tests/data/README.md says from where), so a fresh clone validates offline with nothing beside it.
SCHEMA = REPO / "tests" / "data" / "compose-spec.json"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yaml").read_text())


def test_validates_against_compose_spec(compose):
    if not SCHEMA.exists():
        pytest.fail(f"the Compose schema is missing at {SCHEMA}")
    jsonschema.validate(compose, json.loads(SCHEMA.read_text()))


def test_airflow_components_with_postgres_and_local_executor(compose):
    services = compose["services"]
    commands = {name: s.get("command") for name, s in services.items()}
    for component in ("api-server", "scheduler", "dag-processor", "triggerer"):
        assert component in commands.values(), f"no service runs `airflow {component}`"
    for name, service in services.items():
        if name.startswith("airflow-"):
            env = service["environment"]
            assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
            assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
            assert "local-aws:4566" in env["AIRFLOW_CONN_AWS_DEFAULT"]
            mounts = {v.split(":")[1] for v in service["volumes"]}
            assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/include"} <= mounts
    assert services["postgres"]["image"].startswith("postgres:")
    assert any(v.startswith("local-aws-state:") for v in services["local-aws"]["volumes"])


def test_named_paths_exist(compose):
    for name, service in compose["services"].items():
        build = service.get("build")
        if build:
            assert (REPO / build["context"] / build["dockerfile"]).is_file(), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name} mounts missing {source}"
        entrypoint = service.get("entrypoint")
        if entrypoint:
            assert entrypoint.startswith("/opt/project/")
            script = REPO / entrypoint.removeprefix("/opt/project/")
            assert script.is_file() and script.stat().st_mode & 0o111, entrypoint


def python_modules(text: str) -> set[str]:
    return set(re.findall(r"python -m ([\w.]+)", text))


def test_named_commands_exist(compose):
    texts = [(REPO / "docker" / "airflow-init.sh").read_text()]
    texts += [(REPO / "docker" / name).read_text() for name in ("airflow.Dockerfile", "local-aws.Dockerfile")]
    for service in compose["services"].values():
        command = service.get("command")
        if isinstance(command, list):
            texts.append(shlex.join(command))
    modules = set().union(*(python_modules(t.replace('", "', " ").replace('"', "")) for t in texts))
    assert {"local_aws", "pipeline_tools.deploy"} <= modules
    for module in modules:
        spec = importlib.util.find_spec(module)
        assert spec is not None, f"python -m {module} names no module"
        if spec.submodule_search_locations:  # a package runs its __main__
            assert importlib.util.find_spec(f"{module}.__main__") is not None, f"{module} has no __main__"


def test_dockerfiles_copy_existing_files_and_pin_airflow():
    for dockerfile in (REPO / "docker").glob("*.Dockerfile"):
        for source in re.findall(r"^COPY (\S+)", dockerfile.read_text(), flags=re.M):
            assert (REPO / source).exists(), f"{dockerfile.name} copies missing {source}"
    pinned = re.search(r"apache-airflow==([\d.]+)", (REPO / "requirements-dev.txt").read_text()).group(1)
    assert f"apache/airflow:{pinned}-" in (REPO / "docker" / "airflow.Dockerfile").read_text()
