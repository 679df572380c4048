"""Run Airflow's own components (api-server, scheduler, dag-processor, triggerer) locally, signed in to its REST API.

Used where `airflow dags test` alone is not enough: Airflow's backfill needs a scheduler, the UI needs the
api-server, and `make run` follows its run through the api-server's REST API. SQLite metadata and LocalExecutor
keep it light enough for a laptop or CI.

Sign-in is the simple auth manager's: the user `admin` (role admin), whose password Airflow generates on the
api-server's first start into AIRFLOW_HOME/simple_auth_manager_passwords.json.generated and keeps there, so one
Airflow home keeps one password. `af.login` is what a person types into the UI.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import urllib3
from airflow_client.client import Configuration, DAGApi, DagRunApi, DagRunState, MonitorApi

from pipeline_tools.airflow_api import ApiClient, ApiException, NotFoundException, connect
from pipeline_tools.airflow_env import AIRFLOW

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
ADMIN = "admin"
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"
FINISHED = {DagRunState.SUCCESS, DagRunState.FAILED}


@dataclass(frozen=True)
class Login:
    url: str
    username: str
    password: str

    def __str__(self) -> str:
        return f"Airflow UI: {self.url}  (login: {self.username} / {self.password})"


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def read_password(airflow_home: Path, username: str = ADMIN) -> str:
    """The password the simple auth manager generated for `username` (it writes the file at api-server start)."""
    return json.loads((airflow_home / PASSWORDS_FILE).read_text())[username]


class AirflowServices:
    """`with AirflowServices(env, home) as af:` starts the components, waits until the api-server answers, and stops
    them on exit. Inside, `af.client` is a signed-in `apache-airflow-client` ApiClient and `af.login` the UI's address
    and login. With wait=False the block starts at once and `af.wait_ready()` waits (start-up overlaps other work).
    """

    def __init__(self, env: dict, airflow_home: Path, components=COMPONENTS, port: int | None = None,
                 parallelism: int = 4, wait: bool = True):
        self.home = airflow_home
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **env,
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(parallelism),
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            # Runs start only when asked for (a trigger, a backfill): never the daily schedule's latest day.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "SALES_PIPELINE_DEADLINES": "on",  # runs the scheduler starts honour the DAG's deadline
        }
        self.env.pop("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", None)
        self._components = components
        self._wait = wait
        self._procs: list[subprocess.Popen] = []
        self.client: ApiClient | None = None
        self.login: Login | None = None

    @property
    def password(self) -> str:
        return self.login.password

    def __enter__(self) -> AirflowServices:
        logs = self.home / "component-logs"
        logs.mkdir(parents=True, exist_ok=True)
        try:
            for component in self._components:
                log = open(logs / f"{component}.log", "w")  # noqa: SIM115 - closed with the process
                self._procs.append(subprocess.Popen([AIRFLOW, component], env=self.env, stdout=log,
                                                    stderr=subprocess.STDOUT, start_new_session=True))
            if self._wait:
                self.wait_ready()
        except BaseException:
            self.__exit__()
            raise
        return self

    def wait_ready(self) -> None:
        """Until the api-server answers; then signs in (`af.client`, `af.login`)."""
        self._wait_healthy()
        self.login = Login(self.base_url, ADMIN, read_password(self.home))
        self.client = connect(self.base_url, ADMIN, self.login.password)

    def stop(self) -> None:
        """Ask every component to stop (SIGTERM) without waiting: its shutdown (~2 s for the api-server) overlaps
        what the caller does next; leaving the block waits for it."""
        # Each component runs in its own session: signal the whole group, so its workers stop too.
        for proc in self._procs:
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)

    def __exit__(self, *exc) -> None:
        self.stop()
        deadline = time.monotonic() + 15
        for proc in self._procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
        self._procs.clear()

    def exited(self) -> str | None:
        """The first component that has stopped, with its exit code and log, or None while all run."""
        for proc, name in zip(self._procs, self._components, strict=True):
            if proc.poll() is not None:
                return (f"airflow {name} exited with {proc.returncode}; see its log in "
                        f"{self.home / 'component-logs' / (name + '.log')}")
        return None

    def _wait_healthy(self, timeout: float = 120) -> None:
        monitor = MonitorApi(ApiClient(Configuration(host=self.base_url)))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if stopped := self.exited():
                raise RuntimeError(stopped)
            try:
                health = monitor.get_health(_request_timeout=2)
                if health.metadatabase.status == "healthy":
                    return
            except (urllib3.exceptions.HTTPError, ApiException):
                pass
            time.sleep(0.5)
        raise TimeoutError(f"the Airflow api-server was not healthy within {timeout} s")

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> None:
        """Until the dag-processor has parsed the DAG into the database."""
        dags = DAGApi(self.client)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                dags.get_dag(dag_id)
                return
            except NotFoundException:
                time.sleep(1)
        raise TimeoutError(f"{dag_id} was not parsed within {timeout} s")

    def wait_for_runs(self, dag_id: str, run_ids: list[str], timeout: float = 1800) -> list:
        """Until the given runs reached a final state; returns them (DAGRunResponse)."""
        runs_api = DagRunApi(self.client)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = [runs_api.get_dag_run(dag_id, run_id) for run_id in run_ids]
            if all(r.state in FINISHED for r in runs):
                return runs
            time.sleep(2)
        raise TimeoutError(f"runs of {dag_id} did not finish within {timeout} s")
