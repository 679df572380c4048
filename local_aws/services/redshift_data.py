"""Redshift Data API on the local Redshift (DuckDB), replacing moto's fixed-result version.

The actions are declared patches of moto's ``RedshiftDataAPIServiceResponse`` (ExecuteStatement, DescribeStatement,
GetStatementResult and CancelStatement replaced; BatchExecuteStatement and ListStatements added). They validate the
request the way the Data API does, then hand the SQL to ``local_aws.redshift.statements``, which runs it
asynchronously. Clusters are moto's (``redshift.create_cluster``).

State, per account and region, on ``RedshiftDataBackend`` (saved by the state store with every request to the
service and whenever a statement ends):

- the statements, with their status, error and result, kept for the Data API's result retention (24 hours, see
  ``local_aws.redshift.statements``): a statement id acknowledged before a crash is known after a restart, with its
  status and result. A statement that was SUBMITTED or running when the server died is restored FAILED, its error
  saying the local AWS stopped (AWS would have finished it; a restart cannot; DuckDB rolled back its open
  transaction). One window stays open: a statement whose data DuckDB committed in the instant before a crash,
  before its FINISHED status reached the journal, is reported FAILED although its changes are kept;
- the databases: DuckDB files under ``<state_dir>/redshift/<account>/<region>/<cluster>/<database>.duckdb``,
  durable at each commit (``local_aws.redshift.engine``); in memory without a state dir. The open DuckDB
  connections and sessions are runtime: reopened on first use after a restart. A session does not survive a
  restart (its temp tables and open transaction die with the process): its id is then refused as expired.

moto's reset closes the warehouse and deletes its database files; DeleteCluster deletes that cluster's files (see
``services/redshift.py``). Engine refusals (``local_aws.redshift.errors``) are worded here as the Data API's
ValidationException, ResourceNotFoundException and ActiveStatementsExceededException.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from moto.core.base_backend import BackendDict
from moto.core.exceptions import JsonRESTError
from moto.redshift.models import redshift_backends
from moto.redshiftdata.exceptions import ValidationException

from local_aws.backends import LocalBackend
from local_aws.patches import add, patch
from local_aws.redshift.engine import Outcome
from local_aws.redshift.errors import (
    DataApiRefusal,
    RedshiftError,
    StatementNotFound,
    TooManyActiveStatements,
)
from local_aws.redshift.parameters import ParameterError, bind_parameters
from local_aws.redshift.splitting import split_statements
from local_aws.redshift.statements import (
    Counters,
    RedshiftData,
    Statement,
    settle_interrupted,
)
from local_aws.state.store import finish, register_finished

MAX_KEEP_ALIVE = 24 * 3600
PAGE_ROWS = 1000  # rows per GetStatementResult page (AWS pages by size; rows keep tokens predictable here)
# moto's name of the service, as the server's dispatcher reports it for Data API requests (SigV4 name
# "redshift-data"; moto.backends.get_backend accepts both and finds the moto package "redshiftdata").
SERVICE = "redshiftdata"

_warehouse_root: Path | None = None  # <state_dir>/redshift, set by install(); runtime wiring, not state


class RedshiftDataBackend(LocalBackend):
    """Statements (with results, for 24 hours) and id counters of one account and region; the warehouse that runs
    them is runtime (``warehouse``, opened on first use)."""

    SERVICE = SERVICE
    RUNTIME = ("_warehouse", "_warehouse_lock")

    def __init__(self, region_name: str, account_id: str):
        super().__init__(region_name, account_id)
        self.statements: dict[str, Statement] = {}
        self.counters = Counters()
        self._warehouse: RedshiftData | None = None
        self._warehouse_lock = threading.Lock()

    def directory(self) -> Path | None:
        return _warehouse_root / self.account_id / self.region_name if _warehouse_root else None

    @property
    def warehouse(self) -> RedshiftData:
        with self._warehouse_lock:
            if self._warehouse is None:
                self._warehouse = RedshiftData(self.directory(), self.statements, self.counters, _statement_ended)
            return self._warehouse

    def restored(self) -> None:
        for statement in list(self.statements.values()):
            settle_interrupted(statement)

    def shutdown(self) -> None:
        with self._warehouse_lock:
            warehouse, self._warehouse = self._warehouse, None
        if warehouse is not None:
            warehouse.close()

    def reset(self) -> None:
        """moto's reset: the warehouse goes too (connections closed, database files deleted)."""
        self.shutdown()
        directory = self.directory()
        if directory is not None:
            RedshiftData(directory, {}, Counters()).drop()
        super().reset()

    def drop_cluster(self, cluster: str) -> None:
        """The cluster was deleted: close and delete its databases (its statements stay listed, as on AWS)."""
        with self._warehouse_lock:
            warehouse = self._warehouse
        if warehouse is not None:
            warehouse.close_cluster(cluster)
        RedshiftData(self.directory(), {}, Counters()).drop(cluster)


# regions as moto's own redshift-data backends: botocore lists none under "redshift-data"
redshift_data_backends = BackendDict(RedshiftDataBackend, "redshift")
# An ended statement (with its result) is saved once, not with every commit of the service.
register_finished(Statement, lambda statement: statement.final_key, detach=("connection",))


def _statement_ended(changes: list, changed: set[str]) -> None:
    """A worker finished a statement outside any request: its status and result (set by ``changes``, with the S3
    objects UNLOAD wrote or the Glue database CREATE EXTERNAL SCHEMA created) are durable before anyone can read
    them."""
    finish(changes, SERVICE, *sorted(changed))


def install(server) -> None:
    global _warehouse_root
    _warehouse_root = Path(server.state_dir) / "redshift" if server.state_dir else None


# --- wire format -----------------------------------------------------------------------------------------------


def _wire_error(exc: DataApiRefusal) -> JsonRESTError:
    if isinstance(exc, StatementNotFound):
        return JsonRESTError("ResourceNotFoundException", str(exc))
    if isinstance(exc, TooManyActiveStatements):
        return JsonRESTError("ActiveStatementsExceededException", str(exc))
    return ValidationException(str(exc))


def _respond(handler):
    def action(self):
        try:
            body = handler(self, json.loads(self.body or "{}"))
        except DataApiRefusal as exc:
            raise _wire_error(exc) from exc
        return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(body)

    action.__name__ = handler.__name__
    action.__doc__ = handler.__doc__
    return action


def _action(kind: str, why: str):
    """Declare ``handler`` as moto's Data API action of the same name (``kind``: replace or add)."""

    def register(handler):
        target = f"moto.redshiftdata.responses.RedshiftDataAPIServiceResponse.{handler.__name__}"
        (patch(target, why=why) if kind == "replace" else add(target, why=why))(_respond(handler))
        return handler

    return register


def _backend(response) -> RedshiftDataBackend:
    return redshift_data_backends[response.current_account][response.region]


def _target(response, request: dict) -> tuple[str, str, bool]:
    """(cluster, database, database exists) for a request without a SessionId."""
    if request.get("WorkgroupName"):
        raise ValidationException("WorkgroupName (Redshift Serverless) is not supported by the local Redshift; "
                                  "use ClusterIdentifier")
    cluster_id, database = request.get("ClusterIdentifier"), request.get("Database")
    if not cluster_id:
        raise ValidationException("Either ClusterIdentifier or WorkgroupName must be specified")
    if not database:
        raise ValidationException("Database is required when ClusterIdentifier is specified")
    if not request.get("DbUser") and not request.get("SecretArn"):
        raise ValidationException("Either DbUser or SecretArn must be specified for a provisioned cluster")
    if request.get("DbUser") and request.get("SecretArn"):
        raise ValidationException("DbUser and SecretArn cannot both be specified")
    cluster = redshift_backends[response.current_account][response.region].clusters.get(cluster_id)
    if cluster is None:
        raise ValidationException("Redshift endpoint doesn't exist in this region.")
    return cluster_id, database, database == cluster.db_name


def _keep_alive(request: dict) -> int | None:
    seconds = request.get("SessionKeepAliveSeconds")
    if seconds is None:
        return None
    if not isinstance(seconds, int) or not 0 <= seconds <= MAX_KEEP_ALIVE:
        raise ValidationException(f"SessionKeepAliveSeconds must be between 0 and {MAX_KEEP_ALIVE}")
    return seconds or None


def _new_statement(response, request: dict) -> tuple[Statement, bool]:
    session_id = request.get("SessionId")
    if session_id:
        if request.get("ClusterIdentifier") or request.get("WorkgroupName") or request.get("Database"):
            raise ValidationException("SessionId cannot be combined with ClusterIdentifier, WorkgroupName or "
                                      "Database")
        _backend(response).warehouse.session(session_id)  # fails now for an expired or unknown session
        return Statement(id=str(uuid.uuid4()), query_string="", session_id=session_id), True
    cluster, database, exists = _target(response, request)
    statement = Statement(
        id=str(uuid.uuid4()), query_string="", cluster=cluster, database=database,
        db_user=request.get("DbUser"), secret_arn=request.get("SecretArn"),
    )
    return statement, exists


def _submission(statement: Statement) -> dict:
    body = {
        "Id": statement.id, "CreatedAt": statement.created_at, "ClusterIdentifier": statement.cluster,
        "Database": statement.database,
    }
    for key, value in (("DbUser", statement.db_user), ("SecretArn", statement.secret_arn),
                       ("SessionId", statement.session_id)):
        if value:
            body[key] = value
    return body


@_action("replace", why="statements really run: Redshift SQL on DuckDB, asynchronously, with sessions and "
         "parameters (moto's stay STARTED with 3 fixed rows)")
def execute_statement(self, request: dict) -> dict:
    sql = request.get("Sql")
    if not sql or not sql.strip():
        raise ValidationException("Sql must not be empty")
    keep_alive = _keep_alive(request)
    statement, exists = _new_statement(self, request)
    try:
        bound = bind_parameters(sql, request.get("Parameters"))
        texts = split_statements(bound)
    except (ParameterError, RedshiftError) as exc:
        raise ValidationException(str(exc)) from exc
    if not texts:
        raise ValidationException("Sql contains no statement")
    statement.query_string, statement.parameters = sql, request.get("Parameters")
    statement.statement_name = request.get("StatementName")
    _backend(self).warehouse.submit(statement, texts, exists, keep_alive)
    return _submission(statement)


@_action("add", why="BatchExecuteStatement (one transaction) is what the pipeline's reload uses; moto lacks it")
def batch_execute_statement(self, request: dict) -> dict:
    sqls = request.get("Sqls")
    if not sqls or not isinstance(sqls, list) or len(sqls) > 40:
        raise ValidationException("Sqls must hold between 1 and 40 statements")
    if any(not (s or "").strip() for s in sqls):
        raise ValidationException("Every statement of Sqls must be non-empty")
    for sql in sqls:
        try:
            split_statements(sql)
        except RedshiftError as exc:
            raise ValidationException(str(exc)) from exc
    keep_alive = _keep_alive(request)
    statement, exists = _new_statement(self, request)
    statement.query_string, statement.sqls = "; ".join(sqls), list(sqls)
    statement.statement_name = request.get("StatementName")
    _backend(self).warehouse.submit(statement, list(sqls), exists, keep_alive)
    return _submission(statement)


def _run_fields(run) -> dict:
    outcome = run.outcome
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


@_action("replace", why="describes the statement as it really ran (status, error, result size, sub-statements)")
def describe_statement(self, request: dict) -> dict:
    warehouse = _backend(self).warehouse
    with warehouse.lock:  # an ending statement's status is shown once it is durable
        return _describe(*warehouse.get(request.get("Id")))


def _describe(statement: Statement, run) -> dict:
    body = _run_fields(run)
    body.update({
        "ClusterIdentifier": statement.cluster, "Database": statement.database,
        "RedshiftPid": statement.redshift_pid, "ResultFormat": "JSON",
    })
    for key, value in (("DbUser", statement.db_user), ("SecretArn", statement.secret_arn),
                       ("SessionId", statement.session_id), ("QueryParameters", statement.parameters)):
        if value:
            body[key] = value
    if run is statement and statement.is_batch:
        body["SubStatements"] = [_run_fields(sub) for sub in statement.subs]
    return body


@_action("replace", why="returns the statement's real result, typed and paged (moto: 3 fixed rows, TotalNumRows "
         "misspelt)")
def get_statement_result(self, request: dict) -> dict:
    warehouse = _backend(self).warehouse
    with warehouse.lock:  # an ending statement's result is shown once it is durable
        statement, run = warehouse.get(request.get("Id"))
        status, outcome = run.status, run.outcome
    if run is statement and statement.is_batch:
        raise ValidationException("Use the Id of a sub-statement (<id>:<n>) to get a batch statement's result")
    if status != "FINISHED":
        raise JsonRESTError("ResourceNotFoundException", f"Query does not have result. Query status: {status}")
    if outcome is None or not outcome.has_result_set:
        raise JsonRESTError("ResourceNotFoundException", "Query does not have result. Please check query status.")
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


@_action("replace", why="cancelling interrupts the running DuckDB query and ends the statement ABORTED")
def cancel_statement(self, request: dict) -> dict:
    _backend(self).warehouse.cancel(request.get("Id"))
    return {"Status": True}


@_action("add", why="ListStatements (status and name filters, paging); moto lacks it")
def list_statements(self, request: dict) -> dict:
    status = (request.get("Status") or "ALL").upper()
    name_prefix = request.get("StatementName")
    max_results = request.get("MaxResults") or 100
    if not 0 < max_results <= 100:
        raise ValidationException("MaxResults must be between 1 and 100")
    warehouse = _backend(self).warehouse
    with warehouse.lock:  # an ending statement's status is shown once it is durable
        listing = [(s, s.status) for s in warehouse.listing()]
    matches = [
        s for s, s_status in listing
        if (status == "ALL" or s_status == status)
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


# --- result encoding -----------------------------------------------------------------------------------------

_TYPE_NAMES = {
    "BIGINT": "int8", "INTEGER": "int4", "SMALLINT": "int2", "TINYINT": "int2", "HUGEINT": "int8",  # sum(int)
    "UBIGINT": "numeric", "UINTEGER": "int8", "USMALLINT": "int4", "UTINYINT": "int2",
    "DOUBLE": "float8", "FLOAT": "float4", "REAL": "float4", "BOOLEAN": "bool", "VARCHAR": "varchar",
    "DATE": "date", "TIMESTAMP": "timestamp", "TIMESTAMP WITH TIME ZONE": "timestamptz", "TIME": "time",
    "BLOB": "varbyte", "INTERVAL": "interval",
}


def column_metadata(name: str, duck_type: str) -> dict:
    """A ColumnMetadata entry for a DuckDB result column, with Redshift's type name, precision and scale."""
    upper = duck_type.upper()
    precision, scale = 0, 0
    if upper.startswith("DECIMAL"):
        type_name = "numeric"
        inside = upper[upper.find("(") + 1:upper.find(")")] if "(" in upper else "18,3"
        precision, scale = (int(x) for x in inside.split(","))
    else:
        type_name = _TYPE_NAMES.get(upper, "varchar" if upper.startswith("VARCHAR") else upper.lower())
        precision = {"int8": 19, "int4": 10, "int2": 5, "float8": 17, "float4": 8, "varchar": 65535,
                     "timestamp": 29, "date": 13, "bool": 1}.get(type_name, 0)
    return {
        "name": name, "label": name, "typeName": type_name, "precision": precision, "scale": scale,
        "nullable": 1, "isCaseSensitive": type_name == "varchar", "isCurrency": False,
        "isSigned": type_name in ("int8", "int4", "int2", "float8", "float4", "numeric"),
        "length": 0, "schemaName": "", "tableName": "", "columnDefault": None,
    }


def field_value(value) -> dict:
    """A Field of GetStatementResult's Records (decimals and times as strings, as the Data API returns them)."""
    if value is None:
        return {"isNull": True}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"longValue": value}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, Decimal):
        return {"stringValue": str(value)}
    if isinstance(value, datetime):
        return {"stringValue": value.isoformat(sep=" ")}
    if isinstance(value, date):
        return {"stringValue": value.isoformat()}
    if isinstance(value, (bytes, bytearray)):
        return {"blobValue": base64.b64encode(bytes(value)).decode()}
    return {"stringValue": str(value)}


def result_size(outcome: Outcome | None) -> int:
    if outcome is None or not outcome.has_result_set:
        return 0
    return sum(len(json.dumps([str(v) for v in row])) for row in outcome.rows)


def encode_token(statement_id: str, offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"id": statement_id, "offset": offset}).encode()).decode()


def decode_token(token: str, statement_id: str) -> int:
    """The offset a NextToken stands for; ValidationException for a token of another statement or listing."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        if data["id"] != statement_id:
            raise ValueError
        return int(data["offset"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationException("The NextToken is invalid for this statement") from exc
