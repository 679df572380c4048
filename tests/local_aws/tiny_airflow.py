"""A throwaway Airflow (SQLite, tmp AIRFLOW_HOME) running one test DAG file against the local AWS."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

from pipeline_tools.airflow_env import AIRFLOW, airflow_env, migrate

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
        return done.returncode, self._task_states(dag_id), done.stdout + done.stderr

    def _task_states(self, dag_id: str) -> dict[str, str]:
        return task_states(self.home, dag_id, DAY)


def task_states(home: Path, dag_id: str, day: str) -> dict[str, str]:
    """Each task's state in the DAG's latest run for the day, read from a throwaway Airflow's SQLite database (no
    api-server runs here; `airflow tasks states-for-dag-run` would cost seconds a call)."""
    with sqlite3.connect(f"file:{home / 'airflow.db'}?mode=ro", uri=True, timeout=5) as db:
        run = db.execute("SELECT run_id FROM dag_run WHERE dag_id = ? AND logical_date LIKE ? "
                         "ORDER BY id DESC LIMIT 1", (dag_id, f"{day}%")).fetchone()
        rows = db.execute("SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?",
                          (dag_id, run[0])).fetchall() if run else []
    return {task_id: state for task_id, state in rows if state}
