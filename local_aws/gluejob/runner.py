"""Run one Glue job run: the job's script in its own Python process with local Spark, on its GlueVersion's runtime.

The process is the interpreter of the run's runtime (``local_aws.gluejob.runtimes``: for GlueVersion 5.0, the
``.venv-glue5`` environment with PySpark 3.5.4 on Python 3.11), never the local AWS's own Python; a runtime whose
environment is missing fails the run with an ErrorMessage naming the make target that builds it.

The script gets the arguments as Glue passes them (``--JOB_ID``, ``--JOB_RUN_ID``, ``--job-bookmark-option``,
``--JOB_NAME``, then the job's DefaultArguments merged with the run's Arguments, the run winning, and
NonOverridableArguments last), with ``s3://`` values staged to local paths (``local_aws.gluejob.staging``) and
the ``--extra-py-files`` on the script's PYTHONPATH.
Spark is configured light through ``PYSPARK_SUBMIT_ARGS`` (``local[*]``, no UI, 4 shuffle partitions), so a script
that builds its own ``SparkSession`` picks it up. The process's output is the driver log, kept as a file and
shipped to CloudWatch Logs (``/aws-glue/jobs/output``, stream = run id) while it runs.
The process is a pre-started driver from ``local_aws.gluejob.warm_pool`` when one fits (same JVM settings, no
``--extra-py-files``), else a fresh ``python <script>``; either way one process group per run.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from local_aws import REGION, s3io, settings
from local_aws.gluejob import warm_pool
from local_aws.gluejob.cloudwatch import DriverLogShipper
from local_aws.gluejob.runtimes import GlueRuntime
from local_aws.gluejob.staging import Staging, stage_arguments, stage_python_files, sync_back
from local_aws.gluejob.warm_pool import WarmDriver

log = logging.getLogger(__name__)

# Glue's Timeout is in minutes; settings.current().glue_seconds_per_timeout_minute is the length of one (tests
# shrink it). LOCAL_AWS_TIME_SCALE is not applied: scaling a timeout down would kill Spark work that needs its time.
TIMEOUT_UNIT_ENV = "LOCAL_AWS_GLUE_SECONDS_PER_TIMEOUT_MINUTE"
DEFAULT_TIMEOUT_MINUTES = 2880  # Glue's default
_STOP_GRACE_SECONDS = 5
_LOG_SHIP_SECONDS = 1.0  # how often the driver log reaches CloudWatch Logs while the script runs

SPARK_SUBMIT_ARGS = (
    "--master local[*] --conf spark.ui.enabled=false --conf spark.sql.shuffle.partitions=4 "
    "--conf spark.driver.memory=1g pyspark-shell"
)

ACTIVE_STATES = ("STARTING", "RUNNING", "STOPPING", "WAITING")


@dataclass
class JobRun:
    job_name: str
    run_id: str
    script_location: str
    run_arguments: dict[str, str]  # as given to StartJobRun (GetJobRun shows these)
    arguments: dict[str, str]  # merged: defaults, run, non-overridable
    timeout_minutes: int
    run_dir: Path
    endpoint_url: str | None
    extra: dict = field(default_factory=dict)  # WorkerType, NumberOfWorkers, ... echoed in GetJobRun
    runtime: GlueRuntime | None = None  # the job's GlueVersion's; None only for runs loaded from saved state
    state: str = "STARTING"
    error_message: str | None = None
    started_on: float = field(default_factory=time.time)
    modified_on: float = field(default_factory=time.time)
    completed_on: float | None = None
    process: subprocess.Popen | None = None
    stop_requested: bool = False
    on_done: Callable[[JobRun], None] | None = None

    @property
    def driver_log(self) -> Path:
        return self.run_dir / "driver.log"

    @property
    def execution_seconds(self) -> int:
        return int((self.completed_on or time.time()) - self.started_on)

    def set_state(self, state: str, error: str | None = None) -> None:
        self.state = state
        self.modified_on = time.time()
        if error is not None:
            self.error_message = error
        if state not in ACTIVE_STATES:
            self.completed_on = self.modified_on


def glue_argv(run: JobRun, python: str, script: Path, arguments: dict[str, str]) -> list[str]:
    """The command line Glue gives a script: its own arguments first, then the job's (``python`` is the
    runtime's interpreter)."""
    reserved = {
        "--JOB_ID": f"j_{run.job_name}",
        "--JOB_RUN_ID": run.run_id,
        "--job-bookmark-option": arguments.get("--job-bookmark-option", "job-bookmark-disable"),
        "--JOB_NAME": run.job_name,
    }
    argv = [python, str(script)]
    for name, value in reserved.items():
        argv += [name, value]
    for name, value in arguments.items():
        if name not in reserved:
            argv += [name if name.startswith("--") else f"--{name}", value]
    return argv


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?:: .*)?$")


def error_from_log(text: str) -> str | None:
    """The script's failure as Glue reports it: the exception line ending the last Python traceback."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last):")]
    if not starts:
        return None
    for line in lines[starts[-1] + 1 :]:
        if line and not line[0].isspace() and _EXCEPTION_LINE.match(line):
            return line.strip()
    return None


def _timeout_seconds(minutes: int) -> float:
    return minutes * settings.current().glue_seconds_per_timeout_minute


def kill_process_group(process: subprocess.Popen) -> None:
    """Stop the script and its Spark JVM (its own process group), TERM first, KILL after a grace period."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=_STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def stop(run: JobRun) -> None:
    """BatchStopJobRun: the run ends STOPPED once its process is gone."""
    run.stop_requested = True
    if run.state in ("STARTING", "RUNNING"):
        run.set_state("STOPPING")
    if run.process is not None and run.process.poll() is None:
        threading.Thread(target=kill_process_group, args=(run.process,), daemon=True).start()


def execute(run: JobRun) -> None:
    """Run to completion (in the caller's thread): stage, run the script, sync back, set the final state."""
    staging: Staging | None = None
    work = run.run_dir / "work"
    try:
        run.run_dir.mkdir(parents=True, exist_ok=True)
        if run.runtime is None:
            raise ValueError("the run has no Glue runtime")
        python = run.runtime.interpreter()  # RuntimeNotInstalled names the make target; no fallback
        script = _download_script(run, work)
        arguments, staging = stage_arguments(run.arguments, work / "s3")
        log.info(
            "glue job %s run %s on Glue %s (Spark %s, %s): staged %d files (%d placeholders); driver log %s",
            run.job_name, run.run_id, run.runtime.glue_version, run.runtime.spark_version, python,
            staging.files_copied, staging.placeholders, run.driver_log,
        )
        if run.stop_requested:
            run.set_state("STOPPED")
            return
        python_path = stage_python_files(run.arguments.get("--extra-py-files", ""), work / "extra-py-files")
        outcome = _run_script(run, python, script, arguments, work, python_path)
        if outcome == "SUCCEEDED":
            report = sync_back(staging)
            log.info(
                "glue job %s run %s succeeded: %d files uploaded, %d keys deleted",
                run.job_name, run.run_id, len(report.uploaded), len(report.deleted),
            )
            run.set_state("SUCCEEDED")
        elif outcome == "FAILED":
            text = run.driver_log.read_text(errors="replace")
            code = run.process.returncode if run.process else None
            message = error_from_log(text) or f"Script exited with code {code}"
            run.set_state("FAILED", f"{staging.uris_for_paths(message)} (driver log: {run.driver_log})")
        elif outcome == "TIMEOUT":
            run.set_state("TIMEOUT", f"Job run timed out after {run.timeout_minutes} minutes "
                                     f"(driver log: {run.driver_log})")
        else:
            run.set_state("STOPPED")
    except Exception as exc:  # staging or sync failures end the run with a message, never silently
        log.exception("glue job %s run %s failed outside the script", run.job_name, run.run_id)
        run.set_state("FAILED", f"{type(exc).__name__}: {exc} (driver log: {run.driver_log})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if run.on_done is not None:
            run.on_done(run)


def _download_script(run: JobRun, work: Path) -> Path:
    if not run.script_location.startswith("s3://"):
        raise ValueError(f"Command.ScriptLocation must be an s3:// URI, got {run.script_location!r}")
    bucket, key = s3io.split_uri(run.script_location)
    try:
        body = s3io.get_bytes(bucket, key)
    except Exception as exc:
        raise FileNotFoundError(f"script {run.script_location} not found in S3") from exc
    script = work / "script" / Path(key).name
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_bytes(body)
    return script


def spark_environment(
    endpoint_url: str | None, spark_local_dirs: Path, python_path: list[Path], python: str,
) -> dict[str, str]:
    """The environment a job's driver process gets (a cold run's, and a warm driver's at start-up); ``python``
    is the runtime's interpreter, which also runs the Python workers."""
    env = dict(os.environ)
    if python_path:
        env["PYTHONPATH"] = os.pathsep.join([*map(str, python_path), *filter(None, [env.get("PYTHONPATH")])])
    env.pop(TIMEOUT_UNIT_ENV, None)
    # The runtime's PySpark finds its own Spark jars; a SPARK_HOME or driver Python inherited from the local
    # AWS's environment would start another Spark.
    for name in ("SPARK_HOME", "PYSPARK_DRIVER_PYTHON", "VIRTUAL_ENV"):
        env.pop(name, None)
    env.update(
        PYSPARK_SUBMIT_ARGS=SPARK_SUBMIT_ARGS,
        PYSPARK_PYTHON=python,
        SPARK_LOCAL_IP="127.0.0.1",
        SPARK_LOCAL_DIRS=str(spark_local_dirs),
        AWS_DEFAULT_REGION=REGION,
        AWS_ACCESS_KEY_ID=env.get("AWS_ACCESS_KEY_ID", "local"),
        AWS_SECRET_ACCESS_KEY=env.get("AWS_SECRET_ACCESS_KEY", "local"),
        PYTHONUNBUFFERED="1",
    )
    if endpoint_url:
        env["AWS_ENDPOINT_URL"] = endpoint_url  # boto3 in the script talks to this local AWS
    return env


def _start_process(
    run: JobRun, python: str, script: Path, arguments: dict[str, str], work: Path, python_path: list[Path],
) -> tuple[subprocess.Popen, WarmDriver | None]:
    """The run's driver process: a warm one when the pool has one that fits (same runtime, same JVM settings),
    else a cold ``python script``."""
    argv = glue_argv(run, python, script, arguments)
    env = spark_environment(run.endpoint_url, work / "spark-tmp", python_path, python)
    if python_path:
        log.info("glue job %s run %s starts cold: --extra-py-files must be on the PYTHONPATH when Spark starts",
                 run.job_name, run.run_id)
    else:
        driver = warm_pool.POOL.claim(env)
        if driver is not None:
            try:
                driver.hand_over(argv, work, env, run.driver_log)
            except OSError as exc:  # it died between the check and the hand-over
                log.warning("warm Spark driver pid %d could not take run %s (%s); starting cold",
                            driver.process.pid, run.run_id, exc)
                warm_pool.POOL.release(driver)
            else:
                log.info("glue job %s run %s runs on warm Spark driver pid %d",
                         run.job_name, run.run_id, driver.process.pid)
                return driver.process, driver
    return _start_cold(run, argv, work, env), None


def _start_cold(run: JobRun, argv: list[str], work: Path, env: dict[str, str]) -> subprocess.Popen:
    with open(run.driver_log, "wb") as driver_log:
        return subprocess.Popen(
            argv,
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=driver_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop/timeout also end the Spark JVM
        )


def _run_script(
    run: JobRun, python: str, script: Path, arguments: dict[str, str], work: Path, python_path: list[Path],
) -> str:
    (work / "spark-tmp").mkdir(parents=True, exist_ok=True)
    run.process, warm = _start_process(run, python, script, arguments, work, python_path)
    try:
        outcome = _wait(run)
    finally:
        if warm is not None:
            warm_pool.POOL.release(warm)  # one job per driver: remove it and start its replacement
    if warm is not None and outcome == "FAILED" and not warm_pool.took_the_job(run.driver_log):
        # Spark failed to start in the warm driver (the script never ran): the run gets a cold start instead,
        # with its Timeout counted afresh. The warm driver's output stays beside the driver log.
        failed = run.driver_log.with_name("warm-driver-failed.log")
        os.replace(run.driver_log, failed)
        log.warning("warm Spark driver pid %d failed before running %s (see %s); running it cold",
                    warm.process.pid, run.run_id, failed)
        argv = glue_argv(run, python, script, arguments)
        env = spark_environment(run.endpoint_url, work / "spark-tmp", [], python)
        run.process = _start_cold(run, argv, work, env)
        outcome = _wait(run)
    return outcome


def _wait(run: JobRun) -> str:
    if run.stop_requested:
        kill_process_group(run.process)
        return "STOPPED"
    run.set_state("RUNNING")
    shipper = DriverLogShipper(run.driver_log, run.run_id)
    deadline = time.monotonic() + _timeout_seconds(run.timeout_minutes)
    try:
        while True:
            try:
                code = run.process.wait(timeout=max(0.0, min(_LOG_SHIP_SECONDS, deadline - time.monotonic())))
                break
            except subprocess.TimeoutExpired:
                shipper.ship()
                if time.monotonic() >= deadline:
                    kill_process_group(run.process)
                    return "STOPPED" if run.stop_requested else "TIMEOUT"
    finally:
        shipper.ship(final=True)
    if run.stop_requested:
        return "STOPPED"
    return "SUCCEEDED" if code == 0 else "FAILED"
