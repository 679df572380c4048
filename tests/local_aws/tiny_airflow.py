"""A throwaway Airflow (SQLite, tmp AIRFLOW_HOME) running one test DAG file against the local AWS."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pipeline_tools.airflow_env import AIRFLOW, airflow_env, migrate
from pipeline_tools.progress import task_results

DAY = "2021-12-01"


class TinyAirflow:
    def __init__(self, tmp_path: Path, endpoint_url: str, dag_file: str, source: str, **env: str):
        dags = tmp_path / "dags"
        dags.mkdir()
        (dags / dag_file).write_text(source)
        self.home = tmp_path / "airflow"
        self.env = airflow_env(self.home, endpoint_url, {})
        self.env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags)
        self.env.update(env)
        migrate(self.env)

    def dags_test(self, dag_id: str) -> tuple[int, dict[str, str], str]:
        """`airflow dags test` for DAY: (exit code, each task's final state, the command's output)."""
        done = subprocess.run([AIRFLOW, "dags", "test", dag_id, DAY], env=self.env, capture_output=True,
                              text=True, timeout=300)
        states = {r.task_id: r.state for r in task_results(self.home / "airflow.db", dag_id, DAY)}
        return done.returncode, states, done.stdout + done.stderr
