"""Pre-started ("warm") Spark drivers, so a Glue job run does not pay local Spark's 12-15 s start-up.

``LOCAL_AWS_GLUE_WARM_DRIVERS`` (``settings.current().glue_warm_drivers``: default 1, 0 disables; read each time, so
it can change while serving) is how many drivers are kept ready for each Glue runtime in use
(``local_aws.gluejob.runtimes``). Each is a ``warm_driver.py`` process, run by its runtime's interpreter, in its own
process group, that has built its SparkSession with exactly the environment a cold run on that runtime gets
(``runner.spark_environment``; only SPARK_LOCAL_DIRS is its own directory) and waits for ONE job on stdin; after it
the process exits and a replacement on the same runtime is started. So every run still gets a fresh process, as a
cold run does, and a run only ever takes a driver of its own runtime (the interpreter is part of the JVM start-up
settings compared).

The first driver of a runtime starts when a Glue job of its GlueVersion is created (CreateJob and CloudFormation
both go through moto's ``GlueBackend.create_job``; ``services.glue_jobs`` hooks it), not at server start: most local
AWS servers never run a Glue job, and each driver is a JVM with a 1 GB heap. A runtime whose environment is missing
starts no driver (logged; its runs fail naming the make target). A driver still starting when a run arrives is
claimed anyway: the job waits in its stdin. A driver that died, or whose start-up environment no longer matches the
run's (another endpoint, a changed PYTHONPATH), is discarded and the run starts cold.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from local_aws import settings
from local_aws.gluejob.runtimes import GlueRuntime, RuntimeNotInstalled

log = logging.getLogger(__name__)

_DRIVER_SCRIPT = Path(__file__).with_name("warm_driver.py")
JOB_TAKEN_MARKER = "local AWS: running "  # printed by warm_driver.py (which imports nothing of ours) on its job
_STOP_GRACE_SECONDS = 5
# Variables fixed when the JVM starts: a run needing other values cannot use a driver started with these.
JVM_START_VARIABLES = (
    "PYSPARK_SUBMIT_ARGS", "PYSPARK_PYTHON", "SPARK_LOCAL_IP", "SPARK_HOME", "JAVA_HOME", "PYTHONPATH",
    "AWS_ENDPOINT_URL",
)


def pool_size() -> int:
    """How many drivers to keep ready. Raises ``settings.SettingsError`` (a ValueError) naming a bad setting."""
    return settings.current().glue_warm_drivers


@dataclass
class WarmDriver:
    process: subprocess.Popen
    directory: Path
    env: dict[str, str]  # what it started with
    runtime: GlueRuntime

    @property
    def output(self) -> Path:
        """Its stdout, renamed to the run's driver log on hand-over."""
        return self.directory / "driver.log"

    @property
    def error_output(self) -> Path:
        """Its stderr (Spark's log4j output, tracebacks), renamed to the run's error log on hand-over."""
        return self.directory / "driver-error.log"

    def last_output_line(self) -> str:
        for output in (self.error_output, self.output):
            try:
                lines = output.read_text(errors="replace").strip().splitlines()
            except OSError:
                continue
            if lines:
                return lines[-1]
        return "(no output)"

    def hand_over(self, argv: list[str], cwd: Path, env: dict[str, str], driver_log: Path,
                  error_log: Path) -> None:
        """Give the driver its one job; from here on its output files are the run's driver and error logs.

        Raises OSError (BrokenPipeError) when the process died in the meantime; nothing was handed over then.
        """
        job = {
            "argv": argv[1:],  # argv[0] is the interpreter, already running
            "cwd": str(cwd),
            "env": {**env, "SPARK_LOCAL_DIRS": self.env["SPARK_LOCAL_DIRS"]},  # Spark uses the dir it started with
            "driver_log": str(driver_log),
        }
        # Rename first: if the write then fails, nothing was handed over and the cold start rewrites the log.
        os.replace(self.output, driver_log)  # same file system: both live under the jobs' base directory
        os.replace(self.error_output, error_log)
        self.process.stdin.write((json.dumps(job) + "\n").encode())
        self.process.stdin.close()

    def shut_down(self) -> None:
        """End the process group (the Python driver and its JVM) and remove the driver's directory."""
        if self.process.stdin and not self.process.stdin.closed:
            try:
                self.process.stdin.close()
            except OSError:
                pass
        try:
            # Also when the driver has exited: its JVM may still be on its way out, in the same group.
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=_STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


class WarmPool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._drivers: list[WarmDriver] = []
        self._base_dir: Path | None = None
        self._environment: Callable[[Path, str], dict[str, str]] | None = None

    def configure(self, base_dir: Path, environment: Callable[[Path, str], dict[str, str]]) -> None:
        """Where drivers live and how their environment is built (given their Spark local dir and the runtime's
        interpreter). Drivers started under an earlier configuration (another server's endpoint) are shut down."""
        with self._lock:
            old, self._drivers = self._drivers, []
            self._base_dir, self._environment = base_dir, environment
        for driver in old:
            driver.shut_down()

    def ensure_started(self, runtime: GlueRuntime) -> None:
        """Top the pool's drivers on ``runtime`` up to the pool size. Starting a process takes milliseconds; its
        Spark start-up then runs in that process while the caller goes on."""
        try:
            size = pool_size()
            python = runtime.interpreter() if size else ""
        except (ValueError, RuntimeNotInstalled) as exc:  # the runs report it; creating a job must not fail
            log.error("no warm Spark driver started: %s", exc)
            return
        with self._lock:
            if self._environment is None:
                return
            on_runtime = sum(1 for d in self._drivers if d.runtime == runtime)
            for _ in range(size - on_runtime):
                try:
                    self._drivers.append(self._start_one(runtime, python))
                except Exception:
                    log.exception("starting a warm Spark driver for Glue jobs failed; runs start cold")
                    return

    def _start_one(self, runtime: GlueRuntime, python: str) -> WarmDriver:
        directory = self._base_dir / f"warm-{uuid.uuid4().hex[:12]}"
        (directory / "spark-tmp").mkdir(parents=True)
        env = self._environment(directory / "spark-tmp", python)
        with open(directory / "driver.log", "wb") as output, open(directory / "driver-error.log", "wb") as errors:
            process = subprocess.Popen(
                [python, str(_DRIVER_SCRIPT), str(directory)],
                cwd=directory, env=env, stdin=subprocess.PIPE, stdout=output, stderr=errors,
                start_new_session=True,  # stop and timeout kill its group: the driver and its JVM
            )
        log.info("warm Spark driver for Glue %s jobs starting (pid %d, %s)", runtime.glue_version, process.pid,
                 directory)
        return WarmDriver(process, directory, env, runtime)

    def claim(self, run_env: dict[str, str]) -> WarmDriver | None:
        """A live driver started with the JVM settings of ``run_env`` (removed from the pool), or None."""
        if pool_size() == 0:
            self._shut_down_idle("warm drivers are disabled")
            return None
        chosen, unusable = None, []
        with self._lock:
            for driver in self._drivers:
                if driver.process.poll() is not None:
                    unusable.append((driver, f"it exited with code {driver.process.returncode}: "
                                             f"{driver.last_output_line()}"))
                elif not _same_jvm_start(driver.env, run_env):
                    unusable.append((driver, "it was started with other JVM settings"))
                elif chosen is None:
                    chosen = driver
            self._drivers = [d for d in self._drivers if d is not chosen and all(d is not u for u, _ in unusable)]
        for driver, why in unusable:
            log.warning("warm Spark driver pid %d not used, %s", driver.process.pid, why)
            driver.shut_down()
        if chosen is None:
            log.info("no warm Spark driver available; the run starts cold")
        return chosen

    def _shut_down_idle(self, why: str) -> None:
        with self._lock:
            idle, self._drivers = self._drivers, []
        for driver in idle:
            log.info("shutting down warm Spark driver pid %d: %s", driver.process.pid, why)
            driver.shut_down()

    def release(self, driver: WarmDriver) -> None:
        """After its run: make sure the one-shot process is gone, remove its directory, start a replacement on
        the same runtime."""
        driver.shut_down()
        self.ensure_started(driver.runtime)

    def drain(self, why: str) -> None:
        """Stop every idle driver; the next ``ensure_started`` (a job created) starts new ones."""
        self._shut_down_idle(why)

    def shutdown(self) -> None:
        """Stop every idle driver and start no more (until configured again)."""
        with self._lock:
            self._environment = None
        self._shut_down_idle("the local AWS is stopping")


def took_the_job(driver_log: Path) -> bool:
    """Whether a warm driver got as far as running the script (else it failed while starting Spark)."""
    try:
        return JOB_TAKEN_MARKER.encode() in driver_log.read_bytes()
    except OSError:
        return False


def _same_jvm_start(started: dict[str, str], wanted: dict[str, str]) -> bool:
    return all(started.get(name) == wanted.get(name) for name in JVM_START_VARIABLES)


POOL = WarmPool()
