"""Redshift Data API on the local Redshift (DuckDB), replacing moto's fixed-result version.

Actions are methods on moto's response class (looked up by name per request); they validate the request the way
the Data API does, then hand the SQL to ``local_aws.redshift.statements``, which runs it asynchronously.
Clusters are moto's (``redshift.create_cluster``); the database files live under ``<state_dir>/redshift``.
Statement history is kept in memory only: ids from a previous server run are unknown after a restart.
"""

from __future__ import annotations

import json
import uuid

from moto.redshift.models import redshift_backends
from moto.redshiftdata.responses import RedshiftDataAPIServiceResponse

from local_aws import ACCOUNT_ID, REGION
from local_aws.redshift.errors import RedshiftError
from local_aws.redshift.parameters import ParameterError, bind_parameters
from local_aws.redshift.splitting import split_statements
from local_aws.redshift.statements import (
    PAGE_ROWS,
    ApiError,
    RedshiftData,
    Statement,
    column_metadata,
    decode_token,
    encode_token,
    field_value,
    result_size,
)

PRIORITY = 60
MAX_KEEP_ALIVE = 24 * 3600

_engine: RedshiftData | None = None


def engine() -> RedshiftData:
    if _engine is None:
        raise RuntimeError("the redshift_data service is not installed (start local_aws.server.LocalAWS)")
    return _engine


def install(server) -> None:
    global _engine
    if _engine is not None:
        _engine.close()
    _engine = RedshiftData(server.state_dir)
    for name, action in _ACTIONS.items():
        setattr(RedshiftDataAPIServiceResponse, name, action)


def save_state(server) -> None:
    """The databases are files already (durable through DuckDB's WAL); the server also calls this periodically
    while serving, so checkpoint them, never close them."""
    if _engine is not None:
        _engine.checkpoint()


def _respond(handler):
    # moto takes the HTTP status from the "status" header of an action's (status, headers, body)
    def action(self):
        try:
            body = handler(self, json.loads(self.body or "{}"))
        except ApiError as exc:
            return 400, {"status": 400, "Content-Type": "application/x-amz-json-1.1"}, json.dumps(
                {"__type": exc.code, "message": exc.message, "Message": exc.message}
            )
        return 200, {"status": 200, "Content-Type": "application/x-amz-json-1.1"}, json.dumps(body)

    action.__name__ = handler.__name__
    return action


def _validation(message: str) -> ApiError:
    return ApiError("ValidationException", message)


def _target(request: dict) -> tuple[str, str, bool]:
    """(cluster, database, database exists) for a request without a SessionId."""
    if request.get("WorkgroupName"):
        raise _validation("WorkgroupName (Redshift Serverless) is not supported by the local Redshift; "
                          "use ClusterIdentifier")
    cluster_id, database = request.get("ClusterIdentifier"), request.get("Database")
    if not cluster_id:
        raise _validation("Either ClusterIdentifier or WorkgroupName must be specified")
    if not database:
        raise _validation("Database is required when ClusterIdentifier is specified")
    if not request.get("DbUser") and not request.get("SecretArn"):
        raise _validation("Either DbUser or SecretArn must be specified for a provisioned cluster")
    if request.get("DbUser") and request.get("SecretArn"):
        raise _validation("DbUser and SecretArn cannot both be specified")
    cluster = redshift_backends[ACCOUNT_ID][REGION].clusters.get(cluster_id)
    if cluster is None:
        raise _validation("Redshift endpoint doesn't exist in this region.")
    return cluster_id, database, database == cluster.db_name


def _keep_alive(request: dict) -> int | None:
    seconds = request.get("SessionKeepAliveSeconds")
    if seconds is None:
        return None
    if not isinstance(seconds, int) or not 0 <= seconds <= MAX_KEEP_ALIVE:
        raise _validation(f"SessionKeepAliveSeconds must be between 0 and {MAX_KEEP_ALIVE}")
    return seconds or None


def _new_statement(request: dict) -> tuple[Statement, bool]:
    session_id = request.get("SessionId")
    if session_id:
        if request.get("ClusterIdentifier") or request.get("WorkgroupName") or request.get("Database"):
            raise _validation("SessionId cannot be combined with ClusterIdentifier, WorkgroupName or Database")
        engine().session(session_id)  # fails now for an expired or unknown session
        statement = Statement(id=str(uuid.uuid4()), query_string="", session_id=session_id)
        return statement, True
    cluster, database, exists = _target(request)
    statement = Statement(
        id=str(uuid.uuid4()), query_string="", cluster=cluster, database=database,
        db_user=request.get("DbUser"), secret_arn=request.get("SecretArn"),
    )
    return statement, exists


def _submission(statement: Statement, extra: dict) -> dict:
    body = {
        "Id": statement.id, "CreatedAt": statement.created_at, "ClusterIdentifier": statement.cluster,
        "Database": statement.database, **extra,
    }
    for key, value in (("DbUser", statement.db_user), ("SecretArn", statement.secret_arn),
                       ("SessionId", statement.session_id)):
        if value:
            body[key] = value
    return body


def execute_statement(self, request: dict) -> dict:
    sql = request.get("Sql")
    if not sql or not sql.strip():
        raise _validation("Sql must not be empty")
    keep_alive = _keep_alive(request)
    statement, exists = _new_statement(request)
    try:
        bound = bind_parameters(sql, request.get("Parameters"))
        texts = split_statements(bound)
    except (ParameterError, RedshiftError) as exc:
        raise _validation(str(exc)) from exc
    if not texts:
        raise _validation("Sql contains no statement")
    statement.query_string, statement.parameters = sql, request.get("Parameters")
    statement.statement_name = request.get("StatementName")
    engine().submit(statement, texts, exists, keep_alive)
    return _submission(statement, {})


def batch_execute_statement(self, request: dict) -> dict:
    sqls = request.get("Sqls")
    if not sqls or not isinstance(sqls, list) or len(sqls) > 40:
        raise _validation("Sqls must hold between 1 and 40 statements")
    if any(not (s or "").strip() for s in sqls):
        raise _validation("Every statement of Sqls must be non-empty")
    for sql in sqls:
        try:
            split_statements(sql)
        except RedshiftError as exc:
            raise _validation(str(exc)) from exc
    keep_alive = _keep_alive(request)
    statement, exists = _new_statement(request)
    statement.query_string, statement.sqls = "; ".join(sqls), list(sqls)
    statement.statement_name = request.get("StatementName")
    engine().submit(statement, list(sqls), exists, keep_alive)
    return _submission(statement, {})


def _run_fields(run, outcome_owner) -> dict:
    outcome = outcome_owner.outcome
    body = {
        "Id": run.id, "Status": run.status, "CreatedAt": run.created_at, "UpdatedAt": run.updated_at,
        "QueryString": run.query_string, "Duration": run.duration_ns,
        "HasResultSet": bool(outcome and outcome.has_result_set),
        "ResultRows": outcome.result_rows if outcome else -1,
        "ResultSize": result_size(outcome) if outcome else -1,
        "RedshiftQueryId": run.redshift_query_id,
    }
    if run.error:
        body["Error"] = run.error
    return body


def describe_statement(self, request: dict) -> dict:
    statement, run = engine().get(request.get("Id"))
    body = _run_fields(run, run)
    body.update({
        "ClusterIdentifier": statement.cluster, "Database": statement.database,
        "RedshiftPid": statement.redshift_pid, "ResultFormat": "JSON",
    })
    for key, value in (("DbUser", statement.db_user), ("SecretArn", statement.secret_arn),
                       ("SessionId", statement.session_id), ("QueryParameters", statement.parameters)):
        if value:
            body[key] = value
    if run is statement and statement.is_batch:
        body["SubStatements"] = [_run_fields(sub, sub) for sub in statement.subs]
    return body


def get_statement_result(self, request: dict) -> dict:
    statement, run = engine().get(request.get("Id"))
    if run is statement and statement.is_batch:
        raise _validation("Use the Id of a sub-statement (<id>:<n>) to get a batch statement's result")
    if run.status != "FINISHED":
        raise ApiError("ResourceNotFoundException", f"Query does not have result. Query status: {run.status}")
    outcome = run.outcome
    if outcome is None or not outcome.has_result_set:
        raise ApiError("ResourceNotFoundException", "Query does not have result. Please check query status.")
    token = request.get("NextToken")
    offset = decode_token(token, run.id) if token else 0
    page = outcome.rows[offset:offset + PAGE_ROWS]
    body = {
        "Records": [[field_value(v) for v in row] for row in page],
        "ColumnMetadata": [column_metadata(name, kind) for name, kind in outcome.columns],
        "TotalNumRows": len(outcome.rows),
    }
    if offset + PAGE_ROWS < len(outcome.rows):
        body["NextToken"] = encode_token(run.id, offset + PAGE_ROWS)
    return body


def cancel_statement(self, request: dict) -> dict:
    engine().cancel(request.get("Id"))
    return {"Status": True}


def list_statements(self, request: dict) -> dict:
    status = (request.get("Status") or "ALL").upper()
    name_prefix = request.get("StatementName")
    max_results = request.get("MaxResults") or 100
    if not 0 < max_results <= 100:
        raise _validation("MaxResults must be between 1 and 100")
    matches = [
        s for s in engine().listing()
        if (status == "ALL" or s.status == status)
        and (not name_prefix or (s.statement_name or "").startswith(name_prefix))
        and (not request.get("ClusterIdentifier") or s.cluster == request["ClusterIdentifier"])
        and (not request.get("Database") or s.database == request["Database"])
    ]
    token = request.get("NextToken")
    offset = decode_token(token, "list") if token else 0
    page = matches[offset:offset + max_results]
    body = {"Statements": [_list_entry(s) for s in page]}
    if offset + max_results < len(matches):
        body["NextToken"] = encode_token("list", offset + max_results)
    return body


def _list_entry(statement: Statement) -> dict:
    entry = {
        "Id": statement.id, "Status": statement.status, "CreatedAt": statement.created_at,
        "UpdatedAt": statement.updated_at, "IsBatchStatement": statement.is_batch, "ResultFormat": "JSON",
    }
    if statement.is_batch:
        entry["QueryStrings"] = statement.sqls
    else:
        entry["QueryString"] = statement.query_string
    for key, value in (("StatementName", statement.statement_name), ("SecretArn", statement.secret_arn),
                       ("SessionId", statement.session_id), ("QueryParameters", statement.parameters)):
        if value:
            entry[key] = value
    return entry


_ACTIONS = {
    handler.__name__: _respond(handler)
    for handler in (execute_statement, batch_execute_statement, describe_statement, get_statement_result,
                    cancel_statement, list_statements)
}
