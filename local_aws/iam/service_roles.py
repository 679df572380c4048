"""Services act as their roles: the Step Functions interpreter's service calls carry the execution role's
temporary credentials.

Source: AWS Step Functions Developer Guide, "How Step Functions works with IAM" / "Creating an IAM role for your
state machine": Step Functions assumes the state machine's execution role (service principal
states.amazonaws.com, with aws:SourceAccount and aws:SourceArn of the state machine) and makes every service
integration call with it. moto's interpreter calls services over HTTP at localhost:$MOTO_PORT through
``boto_client_for`` with the fixed key "ak"; here each execution thread holds its role session and the clients it
builds sign with that session's credentials. A role the execution cannot assume leaves the thread without
credentials: its service calls are then refused (UnrecognizedClientException / InvalidClientTokenId).
The interpreter's own threads (the program, each state's task with its timeout, Parallel branches, Map
iterations, task-token waits) start in the context of the thread that starts them, so they carry the session.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import threading

import boto3

from local_aws import principal
from local_aws.iam import roles
from local_aws.patches import patch, set_value

log = logging.getLogger(__name__)

STATES_SERVICE = "states.amazonaws.com"
_session: contextvars.ContextVar[roles.RoleSession | None] = contextvars.ContextVar("local_aws.iam.sfn_session",
                                                                                      default=None)


class _RoleSessionBoto3:
    """Stands in for ``boto3`` inside moto's boto_client module: clients sign as the execution's role session."""

    @staticmethod
    def client(*args, **kwargs):
        session = _session.get()
        if session is not None:
            kwargs.update(session.client_kwargs())
        return boto3.client(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(boto3, name)


class ContextThread(threading.Thread):
    """A thread that runs in a copy of its starter's context (contextvars do not follow threads by themselves)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._context = contextvars.copy_context()

    def run(self):
        self._context.run(super().run)


class _ContextThreading:
    """Stands in for ``threading`` in the interpreter's modules that start threads."""

    Thread = ContextThread

    def __getattr__(self, name):
        return getattr(threading, name)


_ASL = "moto.stepfunctions.parser.asl.component"
for _module in (f"{_ASL}.program.program", f"{_ASL}.state.exec.state_parallel.branch_worker",
                f"{_ASL}.state.exec.state_map.iteration.inline_iteration_component",
                f"{_ASL}.state.exec.state_task.service.state_task_service_callback"):
    set_value(f"{_module}.threading", _ContextThreading(),
              why="interpreter threads carry the execution's role session (contextvars do not follow threads)")
set_value(f"{_ASL}.state.exec.execute_state.Thread", ContextThread,
          why="a state's task thread carries the execution's role session (contextvars do not follow threads)")


set_value("moto.stepfunctions.parser.asl.utils.boto_client.boto3", _RoleSessionBoto3(),
          why="a state machine's service calls are made as its execution role (moto signs them with 'ak')")


@patch("moto.stepfunctions.parser.backend.execution_worker.ExecutionWorker._execution_logic", wrap=True,
       why="the execution runs as its execution role's session (Step Functions assumes the role)")
def _execution_logic(original):
    @functools.wraps(original)
    def execution_logic(self):
        details = self._evaluation_details
        role_arn = details.aws_execution_details.role_arn
        machine_arn = details.state_machine_details.arn
        try:
            session = roles.session_for(role_arn, STATES_SERVICE, details.execution_details.name,
                                        source_arn=machine_arn)
        except roles.RoleNotAssumable as exc:
            log.warning("execution %s runs without credentials: %s", details.execution_details.arn, exc)
            session = None
        token = _session.set(session)
        try:
            with principal.acting_as(session.principal if session else None):
                return original(self)
        finally:
            _session.reset(token)

    return execution_logic


# --- Lambda --------------------------------------------------------------------------------------------------------

LAMBDA_SERVICE = "lambda.amazonaws.com"


def lambda_credentials(function_arn: str) -> dict[str, str]:
    """The AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN a function's handler gets: its execution
    role's session, named after the function (AWS Lambda Developer Guide, "Lambda execution role" and "Defined
    runtime environment variables"). A role Lambda cannot assume gives no credentials when authorization is on
    (the handler's SDK calls then fail: NoCredentialsError), the account root's test keys when it is off."""
    from moto.awslambda.models import lambda_backends

    region = function_arn.split(":")[3]
    function = lambda_backends[function_arn.split(":")[4]][region].get_function(function_arn)
    try:
        return roles.session_for(function.role, LAMBDA_SERVICE, function.function_name,
                                 source_arn=function.function_arn).environment()
    except roles.RoleNotAssumable as exc:
        if principal.enforcing():
            log.warning("lambda %s runs without credentials: %s", function.function_name, exc)
            return {}
        return {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


# --- Glue crawlers -------------------------------------------------------------------------------------------------

GLUE_SERVICE = "glue.amazonaws.com"


class RoleRefused(Exception):
    """A service's role cannot be assumed, or IAM denies it what the work needs (message worded as AWS's)."""


@contextlib.contextmanager
def acting_as_role(role_arn: str, service: str, session_name: str, source_arn: str | None = None):
    """Run in-process work of ``service`` as ``role_arn``'s session (Lake Formation and IAM see that principal).
    Raises RoleRefused when the role cannot be assumed and authorization is on (with it off the work runs as
    nobody, as before)."""
    try:
        session = roles.session_for(role_arn, service, session_name, source_arn=source_arn)
    except roles.RoleNotAssumable as exc:
        if principal.enforcing():
            raise RoleRefused(f"Service is unable to assume provided role. Please verify role's TrustPolicy "
                              f"({exc.reason})") from exc
        session = None
    with principal.acting_as(session.principal if session else None):
        yield session


def crawler_session(crawler):
    """``acting_as_role`` for a Glue crawler (AWS Glue Developer Guide, "Crawler prerequisites": the crawler
    assumes its IAM role to read the data stores and write the Data Catalog)."""
    role = crawler.role
    if not role.startswith("arn:"):  # Glue takes a role name (with its path) or ARN
        role = f"arn:aws:iam::{crawler.backend.account_id}:role/{role}"
    return acting_as_role(role, GLUE_SERVICE, "AWS-Crawler", source_arn=crawler.arn)


def require_s3(action: str, bucket: str, key: str | None = None, prefix: str | None = None) -> None:
    """Raise RoleRefused when IAM denies the current principal (a role session doing in-process work) ``action``
    on the bucket or object. ``prefix``: the s3:prefix of a listing."""
    from local_aws.iam import gate

    resource = f"arn:aws:s3:::{bucket}" + (f"/{key}" if key is not None else "")
    message = gate.denial_message(principal.current(), action, resource,
                                  {"s3:prefix": [prefix]} if prefix is not None else None)
    if message:
        raise RoleRefused(message)


# --- Glue jobs -----------------------------------------------------------------------------------------------------

_job_session: contextvars.ContextVar[roles.RoleSession | None] = contextvars.ContextVar(
    "local_aws.iam.glue_job_session", default=None)


def run_as_job_role(run, execute) -> None:
    """Run ``execute(run)`` as the job's role (AWS Glue Developer Guide, "Setting up IAM permissions for AWS
    Glue": the job assumes its role to read its script and data and to call AWS): the staging, the script's SDK
    calls (``job_environment``) and Lake Formation see the role session. A role Glue cannot assume fails the run
    with AWS's wording when authorization is on."""
    from moto.glue.models import glue_backends

    from local_aws import ACCOUNT_ID, REGION

    job = glue_backends[ACCOUNT_ID][REGION].jobs.get(run.job_name)
    if job is None:  # deleted meanwhile: nothing to act as
        return execute(run)
    role = job.role if job.role.startswith("arn:") else f"arn:aws:iam::{ACCOUNT_ID}:role/{job.role}"
    try:
        with acting_as_role(role, GLUE_SERVICE, "GlueJobRunnerSession", source_arn=job.arn) as session:
            token = _job_session.set(session)
            try:
                return execute(run)
            finally:
                _job_session.reset(token)
    except RoleRefused as exc:
        run.end("FAILED", str(exc))
        return None


def job_environment(default: dict[str, str]) -> dict[str, str]:
    """AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN for a job's driver: the run's role session,
    else ``default`` (a warm driver starting before any run, or authorization off without a role)."""
    session = _job_session.get()
    return session.environment() if session is not None else default


# --- Redshift COPY / UNLOAD ----------------------------------------------------------------------------------------

REDSHIFT_SERVICE = "redshift.amazonaws.com"


@contextlib.contextmanager
def redshift_s3_access(cluster_id: str, sql: str, kind: str):
    """COPY and UNLOAD reach S3 as the statement's IAM_ROLE, which must be associated with the cluster (Amazon
    Redshift Database Developer Guide, "Authorizing COPY, UNLOAD, CREATE EXTERNAL FUNCTION, and CREATE EXTERNAL
    SCHEMA operations using IAM roles"; "IAM_ROLE default" is the cluster's default role). Inside the block the
    role session is the principal; the S3 objects the statement reads (COPY: s3:ListBucket on the prefix and
    s3:GetObject on each object) or writes (UNLOAD: s3:PutObject on the first file) are authorised up front.
    Raises RedshiftError worded as Redshift words it. Nothing is checked with authorization off."""
    from moto.redshift.models import redshift_backends

    from local_aws import ACCOUNT_ID, REGION, s3io
    from local_aws.iam import identity
    from local_aws.redshift import copy, unload
    from local_aws.redshift.errors import RedshiftError

    if not principal.enforcing():
        yield None
        return
    cluster = redshift_backends[ACCOUNT_ID][REGION].clusters.get(cluster_id)
    if cluster is None:  # the engine used on its own (no emulated cluster): nothing acts as a role
        yield None
        return
    command = copy.parse_copy(sql) if kind == "copy" else unload.parse_unload(sql)
    authorization = command.authorization
    user = f"arn:aws:redshift:{REGION}:{ACCOUNT_ID}:dbuser:{cluster_id}/{getattr(cluster, 'master_username', '')}"
    if authorization.access_key_id:  # CREDENTIALS 'aws_access_key_id=...': the keys' own principal
        cred = identity.resolve(authorization.access_key_id)
        if cred is None or cred.secret_access_key != authorization.secret_access_key or \
                cred.session_token != (authorization.session_token or None):
            raise RedshiftError("S3ServiceException:The AWS Access Key Id you provided does not exist in our "
                                "records.,Status 403,Error InvalidAccessKeyId")
        acting = cred.principal
    else:
        attached = list(getattr(cluster, "iam_roles_arn", []) or [])
        role = (authorization.iam_role or "").split(",")[0].strip()
        if role == "default":
            role = getattr(cluster, "default_iam_role_arn", None) or ""
            if not role:
                raise RedshiftError("No default IAM role is associated with the cluster")
        if role not in attached:
            raise RedshiftError(f"User {user} is not authorized to assume IAM Role {role}")
        try:
            acting = roles.session_for(role, REDSHIFT_SERVICE, "RedshiftIamRoleSession").principal
        except roles.RoleNotAssumable as exc:
            raise RedshiftError(f"User {user} is not authorized to assume IAM Role {role} ({exc.reason})") from exc
    uri = command.source if kind == "copy" else command.target
    bucket, prefix = s3io.split_uri(uri)
    with principal.acting_as(acting):
        try:
            if kind == "copy":
                require_s3("s3:ListBucket", bucket, prefix=prefix)
                for key in s3io.list_keys(bucket, prefix):
                    require_s3("s3:GetObject", bucket, key)
            else:
                require_s3("s3:ListBucket", bucket, prefix=prefix)
                require_s3("s3:PutObject", bucket, prefix + unload.unload_file_names(command)[0])
        except RoleRefused as exc:
            raise RedshiftError(f"S3ServiceException:Access Denied,Status 403,Error AccessDenied: {exc}") from exc
        except Exception as exc:  # a missing bucket: the statement itself reports it
            if isinstance(exc, RedshiftError):
                raise
        yield acting


@contextlib.contextmanager
def spectrum_access(cluster_id: str, cursor, tables):
    """Redshift Spectrum reads external tables as the external schema's IAM_ROLE (Amazon Redshift Database
    Developer Guide, "IAM policies for Amazon Redshift Spectrum": the role needs glue:GetDatabase/GetTable on the
    catalog, database and table and s3:ListBucket/s3:GetObject on the data; the role must be associated with the
    cluster). The checks run before the statement reads; the block runs as the (first) external table's role
    session, so Lake Formation sees it. Raises RedshiftError worded as Redshift words it."""
    from moto.redshift.models import redshift_backends

    from local_aws import ACCOUNT_ID, REGION, catalog_tables, s3io
    from local_aws.redshift import spectrum
    from local_aws.redshift.errors import RedshiftError

    if not principal.enforcing():
        yield None
        return
    rows = cursor.execute("SELECT schema_name, glue_database, iam_role FROM _local_aws.external_schemas").fetchall()
    external = {schema: (database, role) for schema, database, role in rows}
    reads = [(schema, name) for schema, name in spectrum.referenced_relations(cursor, tables) if schema in external]
    cluster = redshift_backends[ACCOUNT_ID][REGION].clusters.get(cluster_id)
    if not reads or cluster is None:  # nothing external, or the engine used on its own (no emulated cluster)
        yield None
        return
    attached = list(getattr(cluster, "iam_roles_arn", []) or [])
    user = f"arn:aws:redshift:{REGION}:{ACCOUNT_ID}:dbuser:{cluster_id}/{getattr(cluster, 'master_username', '')}"
    first = None
    for schema, name in reads:
        database, role = external[schema]
        role = role.split(",")[0].strip()
        if role not in attached:
            raise RedshiftError(f"User {user} is not authorized to assume IAM Role {role}")
        try:
            session = roles.session_for(role, REDSHIFT_SERVICE, "RedshiftIamRoleSession")
        except roles.RoleNotAssumable as exc:
            raise RedshiftError(f"User {user} is not authorized to assume IAM Role {role} ({exc.reason})") from exc
        first = first or session
        glue = f"arn:aws:glue:{REGION}:{ACCOUNT_ID}"
        from local_aws.iam import gate

        for action, resource in (("glue:GetDatabase", f"{glue}:catalog"), ("glue:GetDatabase", f"{glue}:database/"
                                 f"{database}"), ("glue:GetTable", f"{glue}:catalog"),
                                 ("glue:GetTable", f"{glue}:database/{database}"),
                                 ("glue:GetTable", f"{glue}:table/{database}/{name}")):
            message = gate.denial_message(session.principal, action, resource)
            if message:
                raise RedshiftError(f"AccessDeniedException: {message}")
        try:
            location = catalog_tables.describe_table(database, name).location
        except Exception:  # a missing table: the refresh reports it as Redshift does
            continue
        bucket, prefix = s3io.split_uri(location)
        with principal.acting_as(session.principal):
            try:
                require_s3("s3:ListBucket", bucket, prefix=prefix)
                for key in s3io.list_keys(bucket, prefix)[:1000]:
                    require_s3("s3:GetObject", bucket, key)
            except RoleRefused as exc:
                raise RedshiftError(f"Spectrum Scan Error: S3ServiceException:Access Denied,Status 403: {exc}") \
                    from exc
            except Exception as exc:  # a missing bucket: the scan reports it
                if isinstance(exc, RedshiftError):
                    raise
    with principal.acting_as(first.principal):
        yield first
