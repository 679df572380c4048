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


# ---------------------------------------------------------------- images, packages, health, login
# What can be checked without Docker. The package check reads this machine's apt lists (apt-cache policy), so it
# can vouch only for the Debian release this machine tracks (bookworm here); an image on another release fails
# the test with that limit named, rather than passing unchecked.

DEBIAN_RELEASES = ("bullseye", "bookworm", "trixie", "forky")


def dockerfiles() -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted((REPO / "docker").glob("*.Dockerfile"))}


def apt_packages(dockerfile: str) -> list[str]:
    packages = []
    for command in re.findall(r"apt-get install ([^&\n]+)", dockerfile.replace("\\\n", " ")):
        packages += [word for word in command.split() if not word.startswith("-")]
    return packages


def in_release(package: str, release: str) -> bool:
    """Whether this machine's apt lists carry `package` from `release` (a `<release>/main` line in apt-cache
    policy: Debian's apt-cache(8)). Fails when the lists do not cover the release at all."""
    import subprocess

    lists = list(Path("/var/lib/apt/lists").glob(f"*_dists_{release}_*Packages*"))
    if not lists:
        pytest.fail(f"this machine's apt lists do not cover Debian {release}: the offline package check can only "
                    f"vouch for a release the machine tracks (apt-get update, or name that release's image)")
    policy = subprocess.run(["apt-cache", "policy", package], capture_output=True, text=True, timeout=60).stdout
    return re.search(rf"\s{release}/main\s", policy) is not None


def test_apt_check_tells_present_from_absent():
    """The check can fail: bookworm's main has no openjdk-21 (trixie's successor JDK), but has openjdk-17."""
    assert in_release("openjdk-17-jre-headless", "bookworm")
    assert not in_release("openjdk-21-jre-headless", "bookworm")


@pytest.mark.parametrize("name", sorted(dockerfiles()))
def test_images_name_the_debian_release_whose_packages_they_install(name):
    text = dockerfiles()[name]
    (base,) = re.findall(r"^FROM (\S+)", text, flags=re.M)
    assert ":" in base and not base.endswith(":latest"), f"{name}: {base} is not pinned to a tag"
    packages = apt_packages(text)
    if not packages:
        return
    releases = [r for r in DEBIAN_RELEASES if r in base.split(":", 1)[1]]
    assert releases, f"{name} installs {packages} on {base}, whose tag names no Debian release (it moves)"
    missing = [p for p in packages if not in_release(p, releases[0])]
    assert not missing, f"{name}: not in Debian {releases[0]}: {missing}"


def test_local_aws_image_runs_java_17_for_spark():
    text = dockerfiles()["local-aws.Dockerfile"]
    assert "openjdk-17-jre-headless" in apt_packages(text)
    assert re.search(r"^FROM python:3\.11-slim-bookworm$", text, flags=re.M)


def test_every_long_running_service_has_a_working_healthcheck(compose):
    from airflow.configuration import conf

    from local_aws.server import HEALTH_PATH

    for name, service in compose["services"].items():
        if service.get("restart") == "no":
            continue  # one-shot
        assert "healthcheck" in service, f"{name} runs for good but has no healthcheck"
    services = compose["services"]
    assert HEALTH_PATH in " ".join(services["local-aws"]["healthcheck"]["test"])
    assert "curl" in apt_packages(dockerfiles()["local-aws.Dockerfile"])
    env = compose["x-airflow-common"]["environment"]
    assert env["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"
    port = conf.get_default_value("scheduler", "scheduler_health_check_server_port")
    assert f"http://localhost:{port}/health" in services["airflow-scheduler"]["healthcheck"]["test"]
    assert "/api/v2/version" in " ".join(services["airflow-apiserver"]["healthcheck"]["test"])
    from airflow.cli.cli_config import ARG_JOB_TYPE_FILTER

    for name, job_type in (("airflow-dag-processor", "DagProcessorJob"), ("airflow-triggerer", "TriggererJob")):
        command = services[name]["healthcheck"]["test"][1]
        assert command == f"airflow jobs check --job-type {job_type} --local", name
        assert job_type in ARG_JOB_TYPE_FILTER.kwargs["choices"]


def test_login_is_local_only_and_dags_start_unpaused(compose):
    env = compose["x-airflow-common"]["environment"]
    # Airflow's simple auth manager: simple_auth_manager_users takes user:role and generates passwords;
    # simple_auth_manager_all_admins lets everyone in as admin (Airflow configuration reference, [core]).
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "true"
    assert "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS" not in env
    assert compose["services"]["airflow-apiserver"]["ports"] == ["127.0.0.1:8080:8080"]
    assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "false"
    assert "admin / admin" not in (REPO / "README.md").read_text()


def test_airflow_image_keeps_its_own_airflow():
    """requirements.txt pins no Airflow: the image names its own version, or pip could replace it."""
    text = dockerfiles()["airflow.Dockerfile"]
    assert 'pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /requirements.txt' in text
