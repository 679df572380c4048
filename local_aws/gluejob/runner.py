"""Run one Glue job run: the job's script in its own Python process with local Spark, on its GlueVersion's runtime.

The process is the interpreter of the run's runtime (``local_aws.gluejob.runtimes``: for GlueVersion 5.0, the
``.venv-glue5`` environment with PySpark 3.5.4 on Python 3.11), never the local AWS's own Python; a runtime whose
environment is missing fails the run with an ErrorMessage naming the make target that builds it.

The script gets the arguments as Glue passes them (``--JOB_ID``, ``--JOB_RUN_ID``, ``--job-bookmark-option``,
``--JOB_NAME``, then the job's DefaultArguments merged with the run's Arguments, the run winning, and
NonOverridableArguments last), with ``s3://`` values staged to local paths (``local_aws.gluejob.staging``) and
the ``--extra-py-files`` on the script's PYTHONPATH.
Spark is configured light through ``PYSPARK_SUBMIT_ARGS`` (``local[*]``, no UI, 4 shuffle partitions), so a script
that builds its own ``SparkSession`` picks it up. The process's stdout is the driver log and its stderr (Spark's
log4j output, tracebacks) the error log, kept as files and shipped to CloudWatch Logs while it runs, as Glue does:
``/aws-glue/jobs/output`` and ``/aws-glue/jobs/error``, stream = run id ("Logging for AWS Glue jobs").
The process is a pre-started driver from ``local_aws.gluejob.warm_pool`` when one fits (same JVM settings, no
``--extra-py-files``), else a fresh ``python launch.py <script>``; either way one process group per run.

The job process gets ``awsglue_lib`` on its PYTHONPATH (this local AWS's ``awsglue`` library and the job side of the
runner, ``local_glue_job``): ``s3://`` paths used by the script are staged on demand (``LOCAL_AWS_GLUE_S3_ROOT``,
``LOCAL_AWS_GLUE_S3_MANIFEST``), and a watchdog on ``LOCAL_AWS_SERVER_PID`` ends the process group when the local AWS
dies, so no Spark driver outlives it (``local_glue_job.launch``).
"""

from __future__ import annotations

import json
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
from local_aws.gluejob.cloudwatch import ERROR_GROUP, DriverLogShipper
from local_aws.gluejob.runtimes import GlueRuntime
from local_aws.gluejob.staging import Staging, stage_arguments, stage_python_files, sync_back
from local_aws.gluejob.warm_pool import WarmDriver
from local_aws.iam import service_roles

log = logging.getLogger(__name__)

# Glue's Timeout is in minutes; settings.current().glue_seconds_per_timeout_minute is the length of one (tests
# shrink it). LOCAL_AWS_TIME_SCALE is not applied: scaling a timeout down would kill Spark work that needs its time.
TIMEOUT_UNIT_ENV = "LOCAL_AWS_GLUE_SECONDS_PER_TIMEOUT_MINUTE"
DEFAULT_TIMEOUT_MINUTES = 2880  # Glue's default
_STOP_GRACE_SECONDS = 5
AWSGLUE_LIB = Path(__file__).with_name("awsglue_lib")  # on the job process's PYTHONPATH only
LAUNCHER = AWSGLUE_LIB / "local_glue_job" / "launch.py"
_LOG_SHIP_SECONDS = 1.0  # how often the driver log reaches CloudWatch Logs while the script runs

SPARK_SUBMIT_ARGS = (
    "--master local[*] --conf spark.ui.enabled=false --conf spark.sql.shuffle.partitions=4 "
    "--conf spark.driver.memory=1g pyspark-shell"
)

S3_MANIFEST = "s3-manifest.jsonl"  # in the run's work folder (staging.Staging.write_manifest)
BOOKMARK_IN, BOOKMARK_OUT = "bookmark-in.json", "bookmark-out.json"  # awsglue_lib/awsglue/bookmarks.py

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
    # the service's end of the run: makes the final state (set by the given function) durable, then visible
    on_done: Callable[[JobRun, Callable[[JobRun], None]], None] | None = None
    on_commit: Callable[[JobRun], None] | None = None  # keeps bookmark_out as the job's bookmark
    bookmark_in: dict | None = None  # the job's committed bookmark state, handed to the script (then dropped)
    bookmark_out: dict | None = None  # what Job.commit() saved in a successful run, for the service to keep

    @property
    def driver_log(self) -> Path:
        return self.run_dir / "driver.log"

    @property
    def error_log(self) -> Path:
        return self.run_dir / "driver-error.log"

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

    def end(self, state: str, error: str | None = None) -> None:
        """The run's final state, through ``on_done`` (the service makes it durable, then visible) when set."""
        change = lambda ending: ending.set_state(state, error)  # noqa: E731
        if self.on_done is not None:
            self.on_done(self, change)
        else:
            change(self)


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
    """Run to completion (in the caller's thread): stage, run the script, sync back, end the run. The final state is
    handed to ``run.on_done`` (the service makes it durable, then visible), never set before."""
    staging: Staging | None = None
    work = run.run_dir / "work"
    final: tuple[str, str | None] = ("FAILED", "the run ended without an outcome")
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
            final = ("STOPPED", None)
            return
        python_path = stage_python_files(run.arguments.get("--extra-py-files", ""), work / "extra-py-files")
        staging.write_manifest(work / S3_MANIFEST)
        if run.bookmark_in is not None:
            (work / BOOKMARK_IN).write_text(json.dumps(run.bookmark_in))
            run.bookmark_in = None
        outcome = _run_script(run, python, script, arguments, work, python_path)
        if outcome == "SUCCEEDED":
            staging.merge_manifest(work / S3_MANIFEST)
            report = sync_back(staging)
            if (work / BOOKMARK_OUT).exists():
                run.bookmark_out = json.loads((work / BOOKMARK_OUT).read_text())
                if run.on_commit is not None:  # on AWS Job.commit() is in effect before the run ends
                    run.on_commit(run)
            log.info(
                "glue job %s run %s succeeded: %d files uploaded, %d keys deleted",
                run.job_name, run.run_id, len(report.uploaded), len(report.deleted),
            )
            final = ("SUCCEEDED", None)
        elif outcome == "FAILED":
            code = run.process.returncode if run.process else None
            message = (error_from_log(_read(run.error_log)) or error_from_log(_read(run.driver_log))
                       or f"Script exited with code {code}")
            final = ("FAILED", f"{staging.uris_for_paths(message)} (driver log: {run.driver_log})")
        elif outcome == "TIMEOUT":
            final = ("TIMEOUT", f"Job run timed out after {run.timeout_minutes} minutes (driver log: {run.driver_log})")
        else:
            final = ("STOPPED", None)
    except Exception as exc:  # staging or sync failures end the run with a message, never silently
        log.exception("glue job %s run %s failed outside the script", run.job_name, run.run_id)
        final = ("FAILED", f"{type(exc).__name__}: {exc} (driver log: {run.driver_log})")
    finally:
        run.end(*final)
        shutil.rmtree(work, ignore_errors=True)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _download_script(run: JobRun, work: Path) -> Path:
    if not run.script_location.startswith("s3://"):
        raise ValueError(f"Command.ScriptLocation must be an s3:// URI, got {run.script_location!r}")
    bucket, key = s3io.split_uri(run.script_location)
    service_roles.require_s3("s3:GetObject", bucket, key)  # Glue reads the script as the job's role
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
    env["PYTHONPATH"] = os.pathsep.join(
        [*map(str, python_path), str(AWSGLUE_LIB), *filter(None, [env.get("PYTHONPATH")])])
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
        PYTHONUNBUFFERED="1",
        LOCAL_AWS_SERVER_PID=str(os.getpid()),  # the job process's watchdog (local_glue_job.launch)
    )
    env.pop("AWS_SESSION_TOKEN", None)
    env.update(service_roles.job_environment({"AWS_ACCESS_KEY_ID": env.get("AWS_ACCESS_KEY_ID", "local"),
                                              "AWS_SECRET_ACCESS_KEY": env.get("AWS_SECRET_ACCESS_KEY", "local")}))
    if endpoint_url:
        env["AWS_ENDPOINT_URL"] = endpoint_url  # boto3 in the script talks to this local AWS
    return env


def _start_process(
    run: JobRun, python: str, script: Path, arguments: dict[str, str], work: Path, python_path: list[Path],
) -> tuple[subprocess.Popen, WarmDriver | None]:
    """The run's driver process: a warm one when the pool has one that fits (same runtime, same JVM settings),
    else a cold ``python script``."""
    argv = glue_argv(run, python, script, arguments)
    env = run_environment(run, work, python_path, python)
    if python_path:
        log.info("glue job %s run %s starts cold: --extra-py-files must be on the PYTHONPATH when Spark starts",
                 run.job_name, run.run_id)
    else:
        driver = warm_pool.POOL.claim(env)
        if driver is not None:
            try:
                driver.hand_over(argv, work, env, run.driver_log, run.error_log)
            except OSError as exc:  # it died between the check and the hand-over
                log.warning("warm Spark driver pid %d could not take run %s (%s); starting cold",
                            driver.process.pid, run.run_id, exc)
                warm_pool.POOL.release(driver)
            else:
                log.info("glue job %s run %s runs on warm Spark driver pid %d",
                         run.job_name, run.run_id, driver.process.pid)
                return driver.process, driver
    return _start_cold(run, argv, work, env), None


def run_environment(run: JobRun, work: Path, python_path: list[Path], python: str) -> dict[str, str]:
    """A run's driver environment: the JVM start-up one plus where its S3 mirror and manifest are."""
    env = spark_environment(run.endpoint_url, work / "spark-tmp", python_path, python)
    env.update(LOCAL_AWS_GLUE_S3_ROOT=str(work / "s3"), LOCAL_AWS_GLUE_S3_MANIFEST=str(work / S3_MANIFEST),
               LOCAL_AWS_GLUE_BOOKMARK=str(work / BOOKMARK_IN), LOCAL_AWS_GLUE_BOOKMARK_OUT=str(work / BOOKMARK_OUT))
    return env


def _start_cold(run: JobRun, argv: list[str], work: Path, env: dict[str, str]) -> subprocess.Popen:
    with open(run.driver_log, "wb") as driver_log, open(run.error_log, "wb") as error_log:
        return subprocess.Popen(
            [argv[0], str(LAUNCHER), *argv[1:]],
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=driver_log,
            stderr=error_log,
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
        if run.error_log.exists():
            os.replace(run.error_log, run.error_log.with_name("warm-driver-failed-error.log"))
        log.warning("warm Spark driver pid %d failed before running %s (see %s); running it cold",
                    warm.process.pid, run.run_id, failed)
        argv = glue_argv(run, python, script, arguments)
        env = run_environment(run, work, [], python)
        run.process = _start_cold(run, argv, work, env)
        outcome = _wait(run)
    return outcome


def _wait(run: JobRun) -> str:
    if run.stop_requested:
        kill_process_group(run.process)
        return "STOPPED"
    run.set_state("RUNNING")
    shippers = (DriverLogShipper(run.driver_log, run.run_id), DriverLogShipper(run.error_log, run.run_id, ERROR_GROUP))
    deadline = time.monotonic() + _timeout_seconds(run.timeout_minutes)
    try:
        while True:
            try:
                code = run.process.wait(timeout=max(0.0, min(_LOG_SHIP_SECONDS, deadline - time.monotonic())))
                break
            except subprocess.TimeoutExpired:
                for shipper in shippers:
                    shipper.ship()
                if time.monotonic() >= deadline:
                    kill_process_group(run.process)
                    return "STOPPED" if run.stop_requested else "TIMEOUT"
    finally:
        for shipper in shippers:
            shipper.ship(final=True)
    if run.stop_requested:
        return "STOPPED"
    return "SUCCEEDED" if code == 0 else "FAILED"
