"""Glue job runs: StartJobRun runs the job's script in local Spark (``local_aws.gluejob``), in a separate process.

Jobs themselves (CreateJob, GetJob, ...) stay moto's; this module replaces the run actions: StartJobRun, GetJobRun,
GetJobRuns, BatchStopJobRun. States: STARTING, RUNNING, then SUCCEEDED, FAILED (ErrorMessage: the script's last
exception line and the driver log path), TIMEOUT or STOPPED. ``ExecutionProperty.MaxConcurrentRuns`` (default 1)
is enforced. Each run keeps its driver log at ``<state_dir or tmp>/glue-jobs/<job>/<run_id>/driver.log`` and ships
it to CloudWatch Logs (group ``/aws-glue/jobs/output``, stream = run id, as Glue does); GetJobRun shows
``LogGroupName: /aws-glue/jobs`` and the file in an extra ``DriverLogPath`` field (raw HTTP only: SDKs drop fields
outside the API model). The path is also in the ErrorMessage of a failed run and logged at INFO.

Runs start on a pre-started Spark driver when one is ready or starting (``local_aws.gluejob.warm_pool``;
``LOCAL_AWS_GLUE_WARM_DRIVERS``, default 1, 0 disables). The pool's first driver starts when a job is created
(CreateJob or a CloudFormation AWS::Glue::Job, both through moto's ``GlueBackend.create_job``), never at server
start, and every driver serves one run and is replaced after it. Server exit stops runs and drivers alike.

Runtimes: a run executes on its job's GlueVersion's Spark and Python (``local_aws.gluejob.runtimes``; "5.0" is
PySpark 3.5.4 on Python 3.11 from ``.venv-glue5``). A GlueVersion without a local runtime (0.9, the version of a
job created without one, 1.0 to 4.0, 5.1, any other string) is refused with InvalidInputException at CreateJob
and at StartJobRun (for jobs that reached the backend otherwise: CloudFormation, saved state).
"""

from __future__ import annotations

import atexit
import json
import logging
import tempfile
import threading
from pathlib import Path

from moto.glue.exceptions import (
    ConcurrentRunsExceededException,
    EntityNotFoundException,
    InvalidInputException,
)
from moto.glue.models import GlueBackend, glue_backends
from moto.glue.responses import GlueResponse
from moto.moto_api._internal import mock_random

from local_aws import ACCOUNT_ID, REGION
from local_aws.gluejob import runner, runtimes, warm_pool
from local_aws.gluejob.cloudwatch import LOG_GROUP_PREFIX
from local_aws.gluejob.runner import ACTIVE_STATES, JobRun

log = logging.getLogger(__name__)

PRIORITY = 60

_MAX_RESULTS = 200  # GetJobRuns' limit
_RUNS: dict[str, list[JobRun]] = {}
_LOCK = threading.Lock()
_SETTINGS: dict = {"base_dir": None, "endpoint_url": None}


def _base_dir() -> Path:
    configured = _SETTINGS["base_dir"]
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "glue-jobs"


def _job(name: str | None):
    if not name:
        raise InvalidInputException("StartJobRun", "JobName is required")
    return glue_backends[ACCOUNT_ID][REGION].get_job(name)


def _find(job_name: str, run_id: str) -> JobRun | None:
    with _LOCK:
        return next((r for r in _RUNS.get(job_name, []) if r.run_id == run_id), None)


def _describe(run: JobRun) -> dict:
    out = {
        "Id": run.run_id,
        "Attempt": 0,
        "JobName": run.job_name,
        "JobMode": "SCRIPT",
        "StartedOn": run.started_on,
        "LastModifiedOn": run.modified_on,
        "JobRunState": run.state,
        "Arguments": run.run_arguments,
        "PredecessorRuns": [],
        "ExecutionTime": run.execution_seconds,
        "Timeout": run.timeout_minutes,
        "LogGroupName": LOG_GROUP_PREFIX,
        "DriverLogPath": str(run.driver_log),
        **{k: v for k, v in run.extra.items() if v is not None},
    }
    if run.completed_on is not None:
        out["CompletedOn"] = run.completed_on
    if run.error_message:
        out["ErrorMessage"] = run.error_message
    return out


def _log_end(run: JobRun) -> None:
    log.info(
        "glue job %s run %s ended %s in %ss%s",
        run.job_name, run.run_id, run.state, run.execution_seconds,
        f": {run.error_message}" if run.error_message else "",
    )


# --- actions (methods of moto's GlueResponse, looked up by name per request) -----------------------------------


def start_job_run(self: GlueResponse) -> str:
    name = self._get_param("JobName")
    job = _job(name)
    runtime = _runtime(job.glue_version, "StartJobRun")
    given = self._get_param("Arguments") or {}
    arguments = {**(job.default_arguments or {}), **given, **(job.non_overridable_arguments or {})}
    command = job.command or {}
    timeout = self._get_int_param("Timeout") or job.timeout or runner.DEFAULT_TIMEOUT_MINUTES
    if timeout <= 0:
        raise InvalidInputException("StartJobRun", "Timeout must be a positive number of minutes")
    limit = int((job.execution_property or {}).get("MaxConcurrentRuns", 1))
    run_id = f"jr_{mock_random.get_random_hex(64)}"
    with _LOCK:
        active = [r for r in _RUNS.get(job.name, []) if r.state in ACTIVE_STATES]
        if len(active) >= limit:
            raise ConcurrentRunsExceededException(f"Concurrent runs exceeded for {job.name}")
        run = JobRun(
            job_name=job.name,
            run_id=run_id,
            script_location=command.get("ScriptLocation", ""),
            run_arguments=given,
            arguments=arguments,
            timeout_minutes=timeout,
            run_dir=_base_dir() / job.name / run_id,
            endpoint_url=_SETTINGS["endpoint_url"],
            extra={
                "WorkerType": self._get_param("WorkerType") or job.worker_type,
                "NumberOfWorkers": self._get_int_param("NumberOfWorkers") or job.number_of_workers,
                "MaxCapacity": job.max_capacity,
                "GlueVersion": job.glue_version,
                "ExecutionClass": job.execution_class,
            },
            on_done=_log_end,
            runtime=runtime,
        )
        _RUNS.setdefault(job.name, []).append(run)
    threading.Thread(target=runner.execute, args=(run,), name=f"glue-{run_id[:12]}", daemon=True).start()
    log.info("glue job %s run %s started; driver log %s", job.name, run_id, run.driver_log)
    return json.dumps({"JobRunId": run_id})


def get_job_run(self: GlueResponse) -> str:
    name, run_id = self._get_param("JobName"), self._get_param("RunId")
    _job(name)
    run = _find(name, run_id)
    if run is None:
        raise EntityNotFoundException(f"Job run {run_id} not found for job {name}")
    return json.dumps({"JobRun": _describe(run)})


def get_job_runs(self: GlueResponse) -> str:
    name = self._get_param("JobName")
    _job(name)
    with _LOCK:
        runs = sorted(_RUNS.get(name, []), key=lambda r: r.started_on, reverse=True)
    token = self._get_param("NextToken") or "0"
    if not token.isdigit():
        raise InvalidInputException("GetJobRuns", "NextToken is not valid")
    start = int(token)
    limit = self._get_int_param("MaxResults") or _MAX_RESULTS
    if not 0 < limit <= _MAX_RESULTS:
        raise InvalidInputException("GetJobRuns", f"MaxResults must be between 1 and {_MAX_RESULTS}")
    body: dict = {"JobRuns": [_describe(r) for r in runs[start : start + limit]]}
    if start + limit < len(runs):
        body["NextToken"] = str(start + limit)
    return json.dumps(body)


def batch_stop_job_run(self: GlueResponse) -> str:
    name = self._get_param("JobName")
    _job(name)
    stopped, errors = [], []
    for run_id in self._get_param("JobRunIds") or []:
        run = _find(name, run_id)
        if run is None or run.state not in ("STARTING", "RUNNING", "WAITING"):
            state = run.state if run else "unknown"
            errors.append({
                "JobName": name,
                "JobRunId": run_id,
                "ErrorDetail": {
                    "ErrorCode": "InvalidInputException" if run else "EntityNotFoundException",
                    "ErrorMessage": f"Job Run cannot be stopped in current state: {state}",
                },
            })
            continue
        runner.stop(run)
        stopped.append({"JobName": name, "JobRunId": run_id})
    return json.dumps({"SuccessfulSubmissions": stopped, "Errors": errors})


_ACTIONS = (start_job_run, get_job_run, get_job_runs, batch_stop_job_run)


def shutdown(server) -> None:
    """The server stops: its warm drivers and running jobs go with it."""
    _stop_all()


def _stop_all() -> None:
    """Never leave a Spark process behind when the server stops or the process hosting it exits."""
    warm_pool.POOL.shutdown()
    with _LOCK:
        live = [r for runs in _RUNS.values() for r in runs if r.state in ACTIVE_STATES]
    for run in live:
        runner.stop(run)
        if run.process is not None:
            runner.kill_process_group(run.process)
        run.set_state("STOPPED")


_SAVED_FIELDS = (
    "job_name", "run_id", "script_location", "run_arguments", "arguments", "timeout_minutes", "endpoint_url",
    "extra", "state", "error_message", "started_on", "modified_on", "completed_on",
)


def _state_file(server) -> Path | None:
    state_dir = getattr(server, "state_dir", None)
    return Path(state_dir) / "glue-jobs" / "job-runs.json" if state_dir else None


def save_state(server) -> None:
    """Persist the run history (the server also calls this periodically, so running jobs are left alone; a run
    still active in the saved state loads as FAILED, since its process died with the server)."""
    path = _state_file(server)
    if path is None:
        return
    with _LOCK:
        records = [
            {**{name: getattr(r, name) for name in _SAVED_FIELDS}, "run_dir": str(r.run_dir)}
            for runs in _RUNS.values() for r in runs
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records))


def load_state(server) -> None:
    path = _state_file(server)
    if path is None or not path.exists():
        return
    with _LOCK:
        for record in json.loads(path.read_text()):
            run = JobRun(**{**record, "run_dir": Path(record["run_dir"])})
            if run.state in ACTIVE_STATES:  # a crash left it unfinished: it cannot be resumed
                run.set_state("FAILED", "the local AWS stopped during the run")
            known = {r.run_id for r in _RUNS.get(run.job_name, [])}
            if run.run_id not in known:
                _RUNS.setdefault(run.job_name, []).append(run)


# --- GlueVersion -> runtime (local_aws.gluejob.runtimes) -------------------------------------------------------


def _runtime(glue_version: str | None, operation: str) -> runtimes.GlueRuntime:
    try:
        return runtimes.for_glue_version(glue_version)
    except runtimes.UnsupportedGlueVersion as exc:
        raise InvalidInputException(operation, str(exc)) from None


def _refuse_unemulated_glue_version(create_job):
    """CreateJob refuses a GlueVersion the local AWS cannot run, before moto stores the job."""

    def create_job_on_a_local_runtime(self: GlueResponse, *args, **kwargs):
        _runtime(self._get_param("GlueVersion"), "CreateJob")
        return create_job(self, *args, **kwargs)

    create_job_on_a_local_runtime.checks_glue_version = True
    return create_job_on_a_local_runtime


def _warm_driver_on_job_creation(create_job):
    def create_job_and_warm_a_driver(self, *args, **kwargs):
        result = create_job(self, *args, **kwargs)
        try:
            runtime = runtimes.for_glue_version(kwargs.get("glue_version"))
        except runtimes.UnsupportedGlueVersion as exc:  # its runs are refused; nothing to warm up
            log.warning("no warm Spark driver for job %s: %s", kwargs.get("name"), exc)
        else:
            warm_pool.POOL.ensure_started(runtime)
        return result

    create_job_and_warm_a_driver.warms_drivers = True
    return create_job_and_warm_a_driver


def install(server) -> None:
    state_dir = getattr(server, "state_dir", None)
    _SETTINGS["base_dir"] = Path(state_dir) / "glue-jobs" if state_dir else None
    _SETTINGS["endpoint_url"] = endpoint_url = getattr(server, "endpoint_url", None)
    for action in _ACTIONS:
        setattr(GlueResponse, action.__name__, action)
    warm_pool.POOL.configure(
        _base_dir() / ".warm-drivers",
        lambda spark_local_dirs, python: runner.spark_environment(endpoint_url, spark_local_dirs, [], python),
    )
    if not getattr(GlueResponse.create_job, "checks_glue_version", False):
        GlueResponse.create_job = _refuse_unemulated_glue_version(GlueResponse.create_job)
    if not getattr(GlueBackend.create_job, "warms_drivers", False):
        GlueBackend.create_job = _warm_driver_on_job_creation(GlueBackend.create_job)
    atexit.register(_stop_all)
