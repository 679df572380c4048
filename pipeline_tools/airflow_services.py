"""Run Airflow's own components (api-server, scheduler, dag-processor, triggerer) locally, and talk to its REST API.

Used where `airflow dags test` is not enough: Airflow's backfill needs a scheduler, and the UI check needs the
api-server. SQLite metadata and LocalExecutor keep it light enough for a laptop or CI.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

from pipeline_tools.airflow_env import AIRFLOW

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
ADMIN = "admin"


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AirflowApiError(RuntimeError):
    """A REST call answered with an error status (kept in .status)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class AirflowServices:
    """`with AirflowServices(env, home) as af:` starts the components and stops them on exit."""

    def __init__(self, env: dict, airflow_home: Path, components=COMPONENTS, port: int | None = None,
                 parallelism: int = 4):
        self.home = airflow_home
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(12)
        passwords = airflow_home / "simple_auth_manager_passwords.json"
        self.env = {
            **env,
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(parallelism),
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        }
        self._passwords = passwords
        self._components = components
        self._procs: list[subprocess.Popen] = []
        self._token: str | None = None

    def __enter__(self) -> AirflowServices:
        self._passwords.write_text(json.dumps({ADMIN: self.password}))
        logs = self.home / "component-logs"
        logs.mkdir(parents=True, exist_ok=True)
        try:
            for component in self._components:
                log = open(logs / f"{component}.log", "w")  # noqa: SIM115 - closed with the process
                self._procs.append(subprocess.Popen([AIRFLOW, component], env=self.env, stdout=log,
                                                    stderr=subprocess.STDOUT, start_new_session=True))
            self._wait_healthy()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        # Each component runs in its own session: signal the whole group, so its workers stop too.
        for proc in self._procs:
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self._procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
        self._procs.clear()

    def _wait_healthy(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc, name in zip(self._procs, self._components, strict=True):
                if proc.poll() is not None:
                    raise RuntimeError(f"airflow {name} exited with {proc.returncode}; see its log in "
                                       f"{self.home / 'component-logs'}")
            try:
                health = requests.get(f"{self.base_url}/api/v2/monitor/health", timeout=2).json()
                if health.get("metadatabase", {}).get("status") == "healthy":
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(1)
        raise TimeoutError(f"the Airflow api-server was not healthy within {timeout} s")

    def token(self) -> str:
        if self._token is None:
            response = requests.post(f"{self.base_url}/auth/token",
                                     json={"username": ADMIN, "password": self.password}, timeout=10)
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, **kwargs) -> dict:
        # SQLite lets one writer in at a time: under load the api-server can answer 500 ("database is locked")
        # for a moment. Reads are retried; a write is not (it may have been applied), the caller decides.
        attempts = 4 if method == "GET" else 1
        for attempt in range(attempts):
            response = requests.request(method, f"{self.base_url}/api/v2{path}", timeout=30,
                                        headers={"Authorization": f"Bearer {self.token()}"}, **kwargs)
            if response.status_code < 500 or attempt == attempts - 1:
                break
            time.sleep(1 + attempt)
        if not response.ok:
            raise AirflowApiError(response.status_code,
                                  f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response.json() if response.content else {}

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> None:
        """Until the dag-processor has parsed the DAG into the database."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.api("GET", f"/dags/{dag_id}")
                return
            except RuntimeError:
                time.sleep(1)
        raise TimeoutError(f"{dag_id} was not parsed within {timeout} s")

    def wait_for_runs(self, dag_id: str, run_ids: list[str] | None = None, timeout: float = 1800,
                      expected: int | None = None) -> list[dict]:
        """Until the given runs (or `expected` runs of the DAG) reached a final state; returns them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.api("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]
            if run_ids is not None:
                runs = [r for r in runs if r["dag_run_id"] in run_ids]
            count_ok = len(runs) >= (expected if expected is not None else len(run_ids or runs))
            if runs and count_ok and all(r["state"] in ("success", "failed") for r in runs):
                return runs
            time.sleep(2)
        raise TimeoutError(f"runs of {dag_id} did not finish within {timeout} s")
