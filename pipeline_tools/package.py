"""Build what each Airflow platform deploys, from this repository's layout (dags/, plugins/, include/sql).

    python -m pipeline_tools.package --out dist [--outputs-json outputs.json] [--mwaa-version 3.3.1]

- `dist/mwaa/`: what Amazon MWAA syncs. MWAA copies only the environment's `dags/` folder (and a plugins.zip) to
  its workers, so `dags/` carries the DAG files, the plugin package `sales_pipeline/` (the DAG folder is on
  sys.path) and `include/sql/` (the DAGs look for their SQL there first). No plugins.zip: the package holds no
  Airflow plugin (no UI, no macros registered through AirflowPlugin), only modules the DAGs import, and a change to
  plugins.zip restarts the environment while a DAG-folder change does not. `requirements.txt` starts with a
  `--constraint` line naming the constraints file shipped in the DAG folder (`/usr/local/airflow/dags/...`, as the
  MWAA user guide's "Constraints file" section shows), so workers without internet access resolve the same pins.
- `dist/astro/`: an Astro project. `Dockerfile` on a pinned Astro Runtime, `requirements.txt`, `packages.txt`,
  `dags/`, `plugins/`, `include/sql/`, and `airflow_settings.yaml` (the local `aws_default` connection for
  `astro dev start` and, given --outputs-json, the `sales_pipeline` Variable).

The Glue script and the loader are not Airflow artefacts: `pipeline_tools.deploy` uploads them to S3.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DAG_FILES = ("sales_pipeline_daily.py", "sales_pipeline_state_machine.py", "sales_revenue_report.py")
PLUGIN_PACKAGE = "sales_pipeline"
MWAA_DAGS_PATH = "/usr/local/airflow/dags"  # where MWAA puts the environment's DAG folder on every container
DEFAULT_MWAA_VERSION = "3.3.1"
# Astro Runtime 3.3-2 (Airflow 3.3, listed in Astronomer's "Astro Runtime provider package reference");
# a pinned tag, so a rebuild gets the same Airflow.
ASTRO_RUNTIME_IMAGE = "astrocrpublic.azurecr.io/runtime:3.3-2"
# `astro dev start` runs Airflow in containers; the local AWS runs on the host.
ASTRO_LOCAL_ENDPOINT = "http://host.docker.internal:4566"


class PackageError(RuntimeError):
    """A source the package needs is missing; the message names it."""


def _requirement_lines(repo: Path) -> list[str]:
    """requirements.txt without comments: what a worker installs on top of its Airflow."""
    lines = [line.strip() for line in (repo / "requirements.txt").read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def _copy_sources(repo: Path, dags: Path, plugins: Path, include: Path) -> None:
    for name in DAG_FILES:
        source = repo / "dags" / name
        if not source.is_file():
            raise PackageError(f"DAG file missing: {source}")
        dags.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dags / name)
    plugin = repo / "plugins" / PLUGIN_PACKAGE
    if not (plugin / "__init__.py").is_file():
        raise PackageError(f"plugin package missing: {plugin}")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(plugin, plugins / PLUGIN_PACKAGE, ignore=ignore, dirs_exist_ok=True)
    sql = repo / "include" / "sql"
    if not any(sql.rglob("*.sql")):
        raise PackageError(f"no SQL under {sql}")
    shutil.copytree(sql, include / "sql", ignore=ignore, dirs_exist_ok=True)


def build_mwaa(repo: Path, out: Path, mwaa_version: str = DEFAULT_MWAA_VERSION) -> Path:
    """Write out/mwaa/{dags/, requirements.txt}; return out/mwaa. Raises PackageError on a missing source."""
    root = out / "mwaa"
    shutil.rmtree(root, ignore_errors=True)
    dags = root / "dags"
    _copy_sources(repo, dags, plugins=dags, include=dags / "include")
    constraints = repo / "infra" / "mwaa" / mwaa_version / "airflow_constraints.txt"
    if not constraints.is_file():
        raise PackageError(f"no MWAA constraint set for {mwaa_version}: {constraints}")
    constraints_name = f"constraints-{mwaa_version}-3.12.txt"
    shutil.copy2(constraints, dags / constraints_name)
    # The processor would otherwise open every .py below the DAG folder looking for DAGs.
    (dags / ".airflowignore").write_text(f"{PLUGIN_PACKAGE}/\ninclude/\n")
    (root / "requirements.txt").write_text(
        f'--constraint "{MWAA_DAGS_PATH}/{constraints_name}"\n' + "\n".join(_requirement_lines(repo)) + "\n")
    return root


def astro_settings(outputs: dict | None) -> dict:
    """airflow_settings.yaml for `astro dev start`: the local AWS connection and, given outputs, the Variable."""
    connection = {
        "conn_id": "aws_default", "conn_type": "aws", "conn_host": None, "conn_schema": None,
        "conn_login": "local", "conn_password": "local", "conn_port": None,
        "conn_extra": {"endpoint_url": ASTRO_LOCAL_ENDPOINT, "region_name": "us-east-1"},
    }
    variables = []
    if outputs is not None:
        variables.append({"variable_name": "sales_pipeline", "variable_value": json.dumps(outputs, sort_keys=True)})
    return {"airflow": {"connections": [connection], "pools": [], "variables": variables}}


def build_astro(repo: Path, out: Path, outputs: dict | None = None) -> Path:
    """Write an Astro project to out/astro; return it. Raises PackageError on a missing source."""
    root = out / "astro"
    shutil.rmtree(root, ignore_errors=True)
    _copy_sources(repo, root / "dags", plugins=root / "plugins", include=root / "include")
    (root / "Dockerfile").write_text(f"FROM {ASTRO_RUNTIME_IMAGE}\n")
    (root / "requirements.txt").write_text("\n".join(_requirement_lines(repo)) + "\n")
    (root / "packages.txt").write_text("")  # the Runtime image's ONBUILD copies it: it must exist
    (root / "airflow_settings.yaml").write_text(yaml.safe_dump(astro_settings(outputs), sort_keys=False))
    (root / ".dockerignore").write_text("airflow_settings.yaml\n")
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist")
    parser.add_argument("--repo-root", type=Path, default=REPO)
    parser.add_argument("--mwaa-version", default=DEFAULT_MWAA_VERSION,
                        help="which infra/mwaa/<version> constraint set the MWAA requirements.txt names")
    parser.add_argument("--outputs-json", type=Path,
                        help="stack outputs (pipeline_tools.deploy --output-json) for the Astro Variable")
    args = parser.parse_args(argv)
    outputs = json.loads(args.outputs_json.read_text()) if args.outputs_json else None
    try:
        mwaa = build_mwaa(args.repo_root, args.out, args.mwaa_version)
        astro = build_astro(args.repo_root, args.out, outputs)
    except PackageError as error:
        print(f"package failed: {error}", file=sys.stderr)
        return 1
    print(f"MWAA: {mwaa} (upload dags/ to the environment's DAG folder, requirements.txt as its requirements)")
    print(f"Astro: {astro} (astro dev start, or astro deploy)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
