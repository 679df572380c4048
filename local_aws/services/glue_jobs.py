"""Glue job runs: StartJobRun runs the job's script in local Spark (``local_aws.gluejob``), in a separate process.

Jobs themselves (CreateJob, GetJob, ...) stay moto's; the run actions are declared patches of moto's Glue API:
StartJobRun, GetJobRun, GetJobRuns (replaced) and BatchStopJobRun (added; moto has none). States: STARTING,
RUNNING, then SUCCEEDED, FAILED (ErrorMessage: the script's last exception line and the driver log path), TIMEOUT
or STOPPED. ``ExecutionProperty.MaxConcurrentRuns`` (default 1) is enforced (ConcurrentRunsExceededException).
Each run keeps its driver log (stdout) at ``<state_dir or tmp>/glue-jobs/<job>/<run_id>/driver.log`` and its
error log (stderr: Spark's log4j output, tracebacks) beside it as ``driver-error.log``, and ships them to
CloudWatch Logs (groups ``/aws-glue/jobs/output`` and ``/aws-glue/jobs/error``, stream = run id, as Glue does);
GetJobRun shows ExecutionTime, WorkerType, NumberOfWorkers, DPUSeconds (FLEX or auto-scaling runs only),
``LogGroupName: /aws-glue/jobs`` and the file in an extra ``DriverLogPath`` field (raw HTTP only: SDKs drop fields
outside the API model). The path is also in the ErrorMessage of a failed run and logged at INFO. Sources: AWS Glue
API reference, "StartJobRun", "GetJobRun" (JobRun), "GetJobRuns", "BatchStopJobRun"; AWS Glue developer guide,
"Logging for AWS Glue jobs" (log groups).

State: the runs live on ``JobRunsBackend`` (one per account and region, in ``job_run_backends``), saved with moto's
Glue backend by the state store and reset with it. StartJobRun is committed by the server before it answers; a
run's end (its thread, after syncing the script's output to S3 and shipping the driver log) commits Glue, Logs and
the S3 keys it wrote before GetJobRun can answer that end (``state_store.finish``). A run that was active when the
server died is restored FAILED, "the local AWS stopped during the run" (its process died with the server); a clean
stop stops running runs (STOPPED).

Runs start on a pre-started Spark driver when one is ready or starting (``local_aws.gluejob.warm_pool``;
``LOCAL_AWS_GLUE_WARM_DRIVERS``, default 1, 0 disables). The pool's first driver starts when a job is created
(CreateJob or a CloudFormation AWS::Glue::Job, both through moto's ``GlueBackend.create_job``), never at server
start, and every driver serves one run and is replaced after it. The pool is a process resource, not state: the
server's stop, moto's reset and the interpreter's exit shut it down (a reset keeps it configured, so the next job
created warms a driver again).

Job bookmarks ("Tracking processed data using job bookmarks"): a run with ``--job-bookmark-option
job-bookmark-enable`` or ``job-bookmark-pause`` gets the job's committed state; what ``Job.commit()`` saves in a
successful ``job-bookmark-enable`` run becomes the new state (``JobRunsBackend.bookmarks``, saved with Glue).
GetJobBookmark and ResetJobBookmark (added; moto has neither) show and clear it; both refuse a RunId (not
emulated). The state is the S3 objects each transformation_ctx has read (``awsglue_lib/awsglue/bookmarks.py``).

Settings (``local_aws.settings``): ``glue_warm_drivers``, ``glue_staging``, ``glue_seconds_per_timeout_minute``,
read by the engine when a run needs them; a bad value fails that run with the setting's message.

Runtimes: a run executes on its job's GlueVersion's Spark and Python (``local_aws.gluejob.runtimes``; "5.0" is
PySpark 3.5.4 on Python 3.11 from ``.venv-glue5``). A GlueVersion without a local runtime (0.9, the version of a
job created without one, 1.0 to 4.0, 5.1, any other string) is refused with InvalidInputException at CreateJob
and at StartJobRun (for jobs that reached the backend otherwise: CloudFormation, saved state).
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import tempfile
import threading
from pathlib import Path

from moto.core.base_backend import BackendDict
from moto.core.common_models import CloudFormationModel
from moto.glue.exceptions import (
    ConcurrentRunsExceededException,
    EntityNotFoundException,
    InvalidInputException,
)
from moto.glue.models import GlueBackend, glue_backends
from moto.glue.responses import GlueResponse
from moto.moto_api._internal import mock_random

from local_aws.backends import LocalBackend
from local_aws.cfn_resources import LocalResource
from local_aws.gluejob import runner, runtimes, warm_pool
from local_aws.gluejob.cloudwatch import LOG_GROUP_PREFIX
from local_aws.gluejob.runner import ACTIVE_STATES, JobRun
from local_aws.iam import service_roles
from local_aws.patches import add, patch
from local_aws.state import store as state_store

log = logging.getLogger(__name__)

_MAX_RESULTS = 200  # GetJobRuns' limit
BOOKMARKS_READ = ("job-bookmark-enable", "job-bookmark-pause")  # runs that read only new objects
INTERRUPTED = "the local AWS stopped during the run"


class StoredJobRun(JobRun):
    """A run as the backend keeps it: the driver process and the end callback are runtime, never saved."""

    def __getstate__(self) -> dict:
        return {**self.__dict__, "process": None, "on_done": None, "on_commit": None}


class JobRunsBackend(LocalBackend):
    """The runs of every job of one account and region: ``runs`` maps a job name to its runs, in start order.

    ``base_dir`` (where run folders go) and ``endpoint_url`` (what scripts call back) are the running server's
    wiring, set on the class by ``install`` (not state: they outlive a moto reset as the server does)."""

    SERVICE = "glue"
    RUNTIME = ("lock",)
    base_dir: Path | None = None
    endpoint_url: str | None = None

    def __init__(self, region_name: str, account_id: str):
        super().__init__(region_name, account_id)
        self.runs: dict[str, list[StoredJobRun]] = {}
        self.bookmarks: dict[str, dict] = {}  # job name -> JobBookmarkEntry (JobBookmark: the state as JSON text)
        self.lock = threading.Lock()

    def bookmark(self, job_name: str) -> dict | None:
        with self.lock:
            return getattr(self, "bookmarks", {}).get(job_name)

    def commit_bookmark(self, run: JobRun) -> None:
        """A successful run's Job.commit() state becomes the job's bookmark ("Job bookmarks": only
        job-bookmark-enable saves; a failed run saves nothing). Called by the run's thread once the script has
        exited 0 and its output is synced, before the run is answered SUCCEEDED, so a caller that sees the run
        succeed also sees its bookmark."""
        if run.bookmark_out is None:
            return
        if run.arguments.get("--job-bookmark-option") != "job-bookmark-enable":
            return
        with self.lock:
            if not hasattr(self, "bookmarks"):
                self.bookmarks = {}
            previous = self.bookmarks.get(run.job_name) or {"Version": 0, "Run": 0, "RunId": None}
            self.bookmarks[run.job_name] = {
                "JobName": run.job_name,
                "Version": previous["Version"] + 1,
                "Run": previous["Run"] + 1,
                "Attempt": 0,
                "PreviousRunId": previous["RunId"],
                "RunId": run.run_id,
                "JobBookmark": json.dumps(run.bookmark_out, sort_keys=True),
            }
        run.bookmark_out = None

    @classmethod
    def wire(cls, base_dir: Path | None, endpoint_url: str | None) -> None:
        cls.base_dir, cls.endpoint_url = base_dir, endpoint_url

    def find(self, job_name: str, run_id: str) -> StoredJobRun | None:
        with self.lock:
            return next((r for r in self.runs.get(job_name, []) if r.run_id == run_id), None)

    def active(self) -> list[StoredJobRun]:
        with self.lock:
            return [r for runs in self.runs.values() for r in runs if r.state in ACTIVE_STATES]

    def restored(self) -> None:
        """An active run's process died with the previous server: it ends FAILED at its last recorded time
        (so restoring twice gives the same record)."""
        for runs in self.runs.values():
            for run in runs:
                if run.state in ACTIVE_STATES:
                    run.state, run.error_message, run.completed_on = "FAILED", INTERRUPTED, run.modified_on

    def shutdown(self) -> None:
        """Stop this backend's runs (their process groups) and the idle warm drivers."""
        warm_pool.POOL.drain("the local AWS is stopping or resetting")
        stopped = self.active()
        for run in stopped:
            runner.stop(run)
            if run.process is not None:
                runner.kill_process_group(run.process)
            run.set_state("STOPPED")
        store = state_store.active()
        if stopped and store is not None:
            store.touch("glue")  # the server's last commit writes them STOPPED


job_run_backends = BackendDict(JobRunsBackend, "glue")


def _base_dir() -> Path:
    return JobRunsBackend.base_dir or Path(tempfile.gettempdir()) / "glue-jobs"


def _runs_for(response: GlueResponse) -> JobRunsBackend:
    return job_run_backends[response.current_account][response.region]


def _job(response: GlueResponse, name: str | None, action: str):
    if not name:
        raise InvalidInputException(action, "JobName is required")
    return response.glue_backend.get_job(name)  # EntityNotFoundException


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
    dpu_seconds = _dpu_seconds(run)
    if dpu_seconds is not None:
        out["DPUSeconds"] = dpu_seconds
    if run.completed_on is not None:
        out["CompletedOn"] = run.completed_on
    if run.error_message:
        out["ErrorMessage"] = run.error_message
    return out


_DPU_FACTOR = {"G.025X": 0.25, "G.1X": 1, "G.2X": 2, "G.4X": 4, "G.8X": 8, "G.12X": 12, "G.16X": 16, "Z.2X": 2}


def _dpu_seconds(run: JobRun) -> float | None:
    """GetJobRun's DPUSeconds: set, as on AWS, only for FLEX runs or with --enable-auto-scaling true ("the total
    time each executor ran ... multiplied by a DPU factor (1 for G.1X, 2 for G.2X, or 0.25 for G.025X)"). Locally
    every executor (NumberOfWorkers - 1; one worker is the driver) counts as running the whole ExecutionTime."""
    worker_type, workers = run.extra.get("WorkerType"), run.extra.get("NumberOfWorkers")
    flex = run.extra.get("ExecutionClass") == "FLEX"
    auto_scaling = str(run.arguments.get("--enable-auto-scaling", "")).lower() == "true"
    if not (flex or auto_scaling) or worker_type not in _DPU_FACTOR or not workers:
        return None
    return float(run.execution_seconds * max(workers - 1, 1) * _DPU_FACTOR[worker_type])


def _run_ended(backend: JobRunsBackend, run: JobRun, end) -> None:
    """The run's thread is done with it: its final state (``end``), its bookmark (kept by ``on_commit`` before),
    its output in S3 and its driver log in Logs are made durable, and only then is the state answered
    (``state_store.finish``)."""
    state_store.finish([(run, end)], "glue", "logs")
    log.info(
        "glue job %s run %s ended %s in %ss%s",
        run.job_name, run.run_id, run.state, run.execution_seconds,
        f": {run.error_message}" if run.error_message else "",
    )


# --- actions (methods of moto's GlueResponse, looked up by name per request) -----------------------------------


@patch("moto.glue.responses.GlueResponse.start_job_run", why="a run executes the job's script in local Spark "
       "(moto only records a run); MaxConcurrentRuns is enforced")
def start_job_run(self: GlueResponse) -> str:
    job = _job(self, self._get_param("JobName"), "StartJobRun")
    runtime = _runtime(job.glue_version, "StartJobRun")
    given = self._get_param("Arguments") or {}
    arguments = {**(job.default_arguments or {}), **given, **(job.non_overridable_arguments or {})}
    command = job.command or {}
    timeout = self._get_int_param("Timeout") or job.timeout or runner.DEFAULT_TIMEOUT_MINUTES
    if timeout <= 0:
        raise InvalidInputException("StartJobRun", "Timeout must be a positive number of minutes")
    limit = int((job.execution_property or {}).get("MaxConcurrentRuns", 1))
    run_id = f"jr_{mock_random.get_random_hex(64)}"
    runs = _runs_for(self)
    with runs.lock:
        active = [r for r in runs.runs.get(job.name, []) if r.state in ACTIVE_STATES]
        if len(active) >= limit:
            raise ConcurrentRunsExceededException(f"Concurrent runs exceeded for {job.name}")
        run = StoredJobRun(
            job_name=job.name,
            run_id=run_id,
            script_location=command.get("ScriptLocation", ""),
            run_arguments=given,
            arguments=arguments,
            timeout_minutes=timeout,
            run_dir=_base_dir() / job.name / run_id,
            endpoint_url=JobRunsBackend.endpoint_url,
            extra={
                "WorkerType": self._get_param("WorkerType") or job.worker_type,
                "NumberOfWorkers": self._get_int_param("NumberOfWorkers") or job.number_of_workers,
                "MaxCapacity": job.max_capacity,
                "GlueVersion": job.glue_version,
                "ExecutionClass": job.execution_class,
            },
            on_done=functools.partial(_run_ended, runs),
            on_commit=runs.commit_bookmark,
            runtime=runtime,
        )
        if arguments.get("--job-bookmark-option") in BOOKMARKS_READ:
            entry = runs.bookmarks.get(job.name) if hasattr(runs, "bookmarks") else None
            run.bookmark_in = json.loads(entry["JobBookmark"]) if entry else {}
        runs.runs.setdefault(job.name, []).append(run)
    threading.Thread(target=service_roles.run_as_job_role, args=(run, runner.execute),  # as the job's role
                     name=f"glue-{run_id[:12]}", daemon=True).start()
    log.info("glue job %s run %s started; driver log %s", job.name, run_id, run.driver_log)
    return json.dumps({"JobRunId": run_id})


@patch("moto.glue.responses.GlueResponse.get_job_run", why="runs are the local runs, with their real state, "
       "ErrorMessage and driver log")
def get_job_run(self: GlueResponse) -> str:
    name, run_id = self._get_param("JobName"), self._get_param("RunId")
    _job(self, name, "GetJobRun")
    run = _runs_for(self).find(name, run_id)
    if run is None:
        raise EntityNotFoundException(f"Job run {run_id} not found for job {name}")
    return json.dumps({"JobRun": _describe(run)})


@patch("moto.glue.responses.GlueResponse.get_job_runs", why="runs are the local runs, newest first, paginated")
def get_job_runs(self: GlueResponse) -> str:
    name = self._get_param("JobName")
    _job(self, name, "GetJobRuns")
    backend = _runs_for(self)
    with backend.lock:
        runs = sorted(backend.runs.get(name, []), key=lambda r: r.started_on, reverse=True)
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


@add("moto.glue.responses.GlueResponse.batch_stop_job_run", why="moto has no BatchStopJobRun")
def batch_stop_job_run(self: GlueResponse) -> str:
    """Stops each run that is STARTING, RUNNING or WAITING; the others are listed in Errors, as AWS does."""
    name = self._get_param("JobName")
    _job(self, name, "BatchStopJobRun")
    backend = _runs_for(self)
    stopped, errors = [], []
    for run_id in self._get_param("JobRunIds") or []:
        run = backend.find(name, run_id)
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


# --- job bookmarks ("Tracking processed data using job bookmarks"; API: GetJobBookmark, ResetJobBookmark) -------


def _bookmark_not_found(name: str) -> EntityNotFoundException:
    return EntityNotFoundException(f"Continuation for job {name} not found")


@add("moto.glue.responses.GlueResponse.get_job_bookmark", why="moto has no job bookmarks")
def get_job_bookmark(self: GlueResponse) -> str:
    """The job's JobBookmarkEntry (JobBookmark: the committed state as JSON text); EntityNotFoundException when
    no run of the job has committed a bookmark."""
    name = self._get_param("JobName")
    _job(self, name, "GetJobBookmark")
    if self._get_param("RunId"):
        raise InvalidInputException("GetJobBookmark", "RunId is not emulated by the local AWS")
    entry = _runs_for(self).bookmark(name)
    if entry is None:
        raise _bookmark_not_found(name)
    return json.dumps({"JobBookmarkEntry": entry})


@add("moto.glue.responses.GlueResponse.reset_job_bookmark", why="moto has no job bookmarks")
def reset_job_bookmark(self: GlueResponse) -> str:
    """Forgets what the job's runs processed: the next bookmarked run reads everything. Returns the reset entry.
    A RunId (resetting to a given run's state) is not emulated and is refused."""
    name = self._get_param("JobName")
    _job(self, name, "ResetJobBookmark")
    if self._get_param("RunId"):
        raise InvalidInputException("ResetJobBookmark", "RunId is not emulated by the local AWS")
    backend = _runs_for(self)
    with backend.lock:
        entry = getattr(backend, "bookmarks", {}).get(name)
        if entry is None:
            raise _bookmark_not_found(name)
        entry = {**entry, "Version": entry["Version"] + 1, "JobBookmark": "{}"}
        backend.bookmarks[name] = entry
    return json.dumps({"JobBookmarkEntry": entry})


# --- GlueVersion -> runtime (local_aws.gluejob.runtimes) -------------------------------------------------------


def _runtime(glue_version: str | None, operation: str) -> runtimes.GlueRuntime:
    try:
        return runtimes.for_glue_version(glue_version)
    except runtimes.UnsupportedGlueVersion as exc:
        raise InvalidInputException(operation, str(exc)) from None


@patch("moto.glue.responses.GlueResponse.create_job", why="CreateJob refuses a GlueVersion the local AWS cannot run "
       "(it would otherwise accept the job and fail every run); checked in the API layer only, so CloudFormation and "
       "restored state reach StartJobRun's refusal instead", wrap=True)
def _create_job_on_a_local_runtime(original):
    @functools.wraps(original)
    def create_job(self: GlueResponse, *args, **kwargs):
        _runtime(self._get_param("GlueVersion"), "CreateJob")
        return original(self, *args, **kwargs)

    return create_job


@patch("moto.glue.models.GlueBackend.create_job", why="creating a job starts a warm Spark driver on its runtime, so "
       "its first run does not pay Spark's start-up", wrap=True)
def _create_job(original):
    def create_job(self: GlueBackend, *args, **kwargs):
        result = original(self, *args, **kwargs)
        job_run_backends[self.account_id][self.region_name]  # exists from now on, so moto's reset drains the pool
        try:
            runtime = runtimes.for_glue_version(kwargs.get("glue_version"))
        except runtimes.UnsupportedGlueVersion as exc:  # its runs are refused; nothing to warm up
            log.warning("no warm Spark driver for job %s: %s", kwargs.get("name"), exc)
        else:
            warm_pool.POOL.ensure_started(runtime)
        return result

    return create_job


# --- CloudFormation --------------------------------------------------------------------------------------------


class GlueJob(LocalResource, CloudFormationModel):
    """``AWS::Glue::Job`` (Ref: the job name), created through moto's Glue backend (so it warms a driver as
    CreateJob does). An update re-creates the job; its runs stay."""

    TYPE = "AWS::Glue::Job"
    NAME_PROPERTY = "Name"

    @classmethod
    def create(cls, name, props, account_id, region):
        backend = glue_backends[account_id][region]
        if name in backend.jobs:
            backend.delete_job(name)
        backend.create_job(
            name=name, role=props["Role"], command=props["Command"], description=props.get("Description"),
            log_uri=props.get("LogUri"), execution_property=props.get("ExecutionProperty"),
            default_arguments=props.get("DefaultArguments"),
            non_overridable_arguments=props.get("NonOverridableArguments"),
            connections=props.get("Connections"), max_retries=props.get("MaxRetries"),
            allocated_capacity=props.get("AllocatedCapacity"), timeout=props.get("Timeout"),
            max_capacity=props.get("MaxCapacity"), security_configuration=props.get("SecurityConfiguration"),
            tags=props.get("Tags") or {}, notification_property=props.get("NotificationProperty"),
            glue_version=props.get("GlueVersion"), number_of_workers=props.get("NumberOfWorkers"),
            worker_type=props.get("WorkerType"), code_gen_configuration_nodes=None,
            execution_class=props.get("ExecutionClass"), source_control_details=None,
        )
        return cls(name)

    @classmethod
    def remove(cls, name, props, account_id, region):
        backend = glue_backends[account_id][region]
        if name in backend.jobs:
            backend.delete_job(name)


# --- server hooks ----------------------------------------------------------------------------------------------


def install(server) -> None:
    """Runtime wiring: where run folders and warm drivers live, and the endpoint scripts call back."""
    state_dir = getattr(server, "state_dir", None)
    endpoint_url = getattr(server, "endpoint_url", None)
    JobRunsBackend.wire(Path(state_dir) / "glue-jobs" if state_dir else None, endpoint_url)
    warm_pool.POOL.configure(
        _base_dir() / ".warm-drivers",
        lambda spark_local_dirs, python: runner.spark_environment(endpoint_url, spark_local_dirs, [], python),
    )


def shutdown(server) -> None:
    """The server stops: its warm drivers and running jobs go with it (the backends stop their runs)."""
    warm_pool.POOL.shutdown()


def _stop_all() -> None:
    """Never leave a Spark process behind when the process hosting the local AWS exits."""
    warm_pool.POOL.shutdown()
    for _, _, backend in list(job_run_backends.iter_backends()):
        backend.shutdown()


atexit.register(_stop_all)
