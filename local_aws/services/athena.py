"""Athena: SQL queries on DuckDB over the Glue catalog (engine in ``local_aws.athena``).

Declared patches of moto's ``AthenaResponse`` replace the query actions (StartQueryExecution, GetQueryExecution,
GetQueryResults, StopQueryExecution, ListQueryExecutions) and add BatchGetQueryExecution; workgroups, named queries
and data catalogs stay moto's. The output location is the workgroup's when it enforces its configuration, else the
request's, else the workgroup's. ``AWS::Athena::WorkGroup`` is a CloudFormation type here (moto skips it).

State, per account and region, on ``AthenaQueryBackend``: the executions (status, statistics, error and result
rows) and the ClientRequestToken of each StartQueryExecution that gave one. The state store saves it with every
request to the service and whenever a query ends (with the result files the query wrote to S3 and, for DDL, the
Glue catalog it changed). After a crash every acknowledged execution is there with its id, and a token retried
after the restart still answers with the same execution. A query QUEUED or RUNNING at the crash is restored FAILED,
its StateChangeReason saying the local AWS stopped (AWS would have finished it). History follows Athena's 45 days,
bounded to the newest 1000 finished executions (``local_aws.athena.executions``). Engine errors
(``AthenaQueryError``) are query outcomes (StateChangeReason, AthenaError); request refusals are worded here as
InvalidRequestException.
"""

from __future__ import annotations

import base64
import json
import logging
import threading

from moto.athena.models import athena_backends
from moto.athena.responses import AthenaResponse
from moto.core.base_backend import BackendDict
from moto.core.common_models import CloudFormationModel
from moto.core.exceptions import JsonRESTError

from local_aws.athena.executions import QueryExecution, QueryExecutions, settle_interrupted
from local_aws.backends import LocalBackend
from local_aws.cfn_resources import LocalResource
from local_aws.patches import add, patch
from local_aws.state.store import finish, register_finished

log = logging.getLogger(__name__)

# MaxResults bounds from the Athena API reference.
_MAX_RESULTS_ROWS = 1000
_MAX_RESULTS_LIST = 50


class AthenaQueryBackend(LocalBackend):
    """Query executions and ClientRequestTokens of one account and region; the worker pool is runtime."""

    SERVICE = "athena"
    RUNTIME = ("_runner", "_runner_lock", "_tokens_lock")

    def __init__(self, region_name: str, account_id: str):
        super().__init__(region_name, account_id)
        self.executions: dict[str, QueryExecution] = {}
        self.tokens: dict[str, str] = {}  # ClientRequestToken -> query id
        self._runner: QueryExecutions | None = None
        self._runner_lock = threading.Lock()
        self._tokens_lock = threading.Lock()

    @property
    def runner(self) -> QueryExecutions:
        with self._runner_lock:
            if self._runner is None:
                self._runner = QueryExecutions(self.executions, _query_ended)
            return self._runner

    def restored(self) -> None:
        for execution in list(self.executions.values()):
            settle_interrupted(execution)

    def shutdown(self) -> None:
        with self._runner_lock:
            runner, self._runner = self._runner, None
        if runner is not None:
            runner.shutdown()

    def start(self, token: str | None, submit) -> QueryExecution:
        """The execution a ClientRequestToken already started, or a new one from ``submit()``."""
        with self._tokens_lock:
            if token and token in self.tokens and self.tokens[token] in self.executions:
                return self.executions[self.tokens[token]]
            execution = submit()
            if token:
                self.tokens[token] = execution.query_id
            live = set(self.executions)
            for stale in [t for t, query_id in self.tokens.items() if query_id not in live]:
                del self.tokens[stale]  # its execution left the history
            return execution


athena_query_backends = BackendDict(AthenaQueryBackend, "athena")
# An ended execution (with its result rows) is saved once, not with every commit of the service.
register_finished(QueryExecution, lambda execution: execution.final_key, detach=("run",))


def _query_ended(execution: QueryExecution, end, changed: set[str]) -> None:
    """A worker ended a query outside any request: its state (set by ``end``), result files and catalog changes are
    made durable before GetQueryExecution can answer the end."""
    finish([(execution, end)], "athena", *sorted(changed))


class InvalidRequestException(JsonRESTError):
    def __init__(self, message: str, athena_error_code: str = "INVALID_INPUT"):
        super().__init__("InvalidRequestException", message)
        body = json.loads(self.description)
        body["AthenaErrorCode"] = athena_error_code
        self.description = json.dumps(body)


def _backend(response: AthenaResponse) -> AthenaQueryBackend:
    return athena_query_backends[response.current_account][response.region]


def _workgroup(response: AthenaResponse, name: str) -> dict:
    found = athena_backends[response.current_account][response.region].get_work_group(name)
    if found is None:
        raise InvalidRequestException(f"WorkGroup {name} is not found.")
    if found.get("State") == "DISABLED":
        raise InvalidRequestException(f"WorkGroup {name} is disabled.")
    return found


def output_directory(workgroup: dict, requested: dict | None) -> str:
    """Where results go: an enforcing workgroup's location wins over the request's."""
    configuration = workgroup.get("Configuration") or {}
    group_location = (configuration.get("ResultConfiguration") or {}).get("OutputLocation")
    request_location = (requested or {}).get("OutputLocation")
    if configuration.get("EnforceWorkGroupConfiguration", True) and group_location:
        return group_location
    location = request_location or group_location
    if not location:
        raise InvalidRequestException(
            "No output location provided. An output location is required either through the Workgroup result "
            "configuration setting or as an API input."
        )
    if not location.startswith("s3://"):
        raise InvalidRequestException(f"outputLocation is not a valid S3 path: {location}")
    return location


def _execution(response: AthenaResponse, query_id: str | None) -> QueryExecution:
    execution = _backend(response).runner.get(query_id or "")
    if execution is None:
        raise InvalidRequestException(f"QueryExecution {query_id} was not found")
    return execution


def _page(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except ValueError as exc:
        raise InvalidRequestException("NextToken is not valid") from exc


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def _limit(value, maximum: int) -> int:
    if value is None:
        return maximum
    limit = int(value)
    if not 0 < limit <= maximum:
        raise InvalidRequestException(f"MaxResults must be between 1 and {maximum}")
    return limit


# --- actions (declared patches of moto's AthenaResponse) ----------------------------------------------------------

_RESPONSE = "moto.athena.responses.AthenaResponse"


@patch(f"{_RESPONSE}.start_query_execution", why="queries really run (DuckDB over the Glue catalog) and write "
       "their results to S3; ClientRequestToken makes a retry idempotent")
def start_query_execution(self: AthenaResponse) -> str:
    query = self._get_param("QueryString")
    if not query or not query.strip():
        raise InvalidRequestException("QueryString must not be empty")
    name = self._get_param("WorkGroup") or "primary"
    workgroup = _workgroup(self, name)
    context = self._get_param("QueryExecutionContext") or {}
    output_dir = output_directory(workgroup, self._get_param("ResultConfiguration"))
    backend = _backend(self)
    execution = backend.start(self._get_param("ClientRequestToken"), lambda: backend.runner.submit(
        query=query, workgroup=name, output_dir=output_dir, database=context.get("Database"),
        catalog=context.get("Catalog"), execution_parameters=self._get_param("ExecutionParameters"),
    ))
    log.info("athena query %s in %s: %s", execution.query_id, name, " ".join(query.split())[:200])
    return json.dumps({"QueryExecutionId": execution.query_id})


@patch(f"{_RESPONSE}.get_query_execution", why="the execution as it really ran: state, reason, AthenaError, "
       "statistics, statement type")
def get_query_execution(self: AthenaResponse) -> str:
    runner = _backend(self).runner
    with runner.lock:  # an ending query is shown once its end is durable
        execution = _execution(self, self._get_param("QueryExecutionId"))
        return json.dumps({"QueryExecution": execution.as_dict()})


@add(f"{_RESPONSE}.batch_get_query_execution", why="BatchGetQueryExecution (moto lacks it)")
def batch_get_query_execution(self: AthenaResponse) -> str:
    found, missing = [], []
    runner = _backend(self).runner
    with runner.lock:  # an ending query is shown once its end is durable
        for query_id in self._get_param("QueryExecutionIds") or []:
            execution = runner.get(query_id)
            if execution is None:
                missing.append(
                    {"QueryExecutionId": query_id, "ErrorCode": "INVALID_INPUT", "ErrorMessage": "Query not found"}
                )
            else:
                found.append(execution.as_dict())
    return json.dumps({"QueryExecutions": found, "UnprocessedQueryExecutionIds": missing})


@patch(f"{_RESPONSE}.list_query_executions", why="lists the workgroup's executions newest first, paged")
def list_query_executions(self: AthenaResponse) -> str:
    name = self._get_param("WorkGroup") or "primary"
    _workgroup(self, name)
    start = _page(self._get_param("NextToken"))
    limit = _limit(self._get_param("MaxResults"), _MAX_RESULTS_LIST)
    ids = [e.query_id for e in _backend(self).runner.in_workgroup(name)]
    body: dict = {"QueryExecutionIds": ids[start : start + limit]}
    if start + limit < len(ids):
        body["NextToken"] = _token(start + limit)
    return json.dumps(body)


@patch(f"{_RESPONSE}.stop_query_execution", why="stopping interrupts the running DuckDB query (CANCELLED)")
def stop_query_execution(self: AthenaResponse) -> str:
    _backend(self).runner.stop(_execution(self, self._get_param("QueryExecutionId")).query_id)
    return "{}"


@patch(f"{_RESPONSE}.get_query_results", why="the query's real result, header row first, paged")
def get_query_results(self: AthenaResponse) -> str:
    with _backend(self).runner.lock:  # an ending query's result is shown once its end is durable
        execution = _execution(self, self._get_param("QueryExecutionId"))
        state, result = execution.state, execution.result
    if state in ("QUEUED", "RUNNING"):
        raise InvalidRequestException(f"Query has not yet finished. Current state: {state}")
    if state != "SUCCEEDED" or result is None:
        raise InvalidRequestException(f"Query did not finish successfully. Final query state: {state}")
    rows = [[{"VarCharValue": c.name} for c in result.columns]] if result.has_header_row else []
    rows += [[{} if v is None else {"VarCharValue": v} for v in row] for row in result.rows]
    start = _page(self._get_param("NextToken"))
    limit = _limit(self._get_param("MaxResults"), _MAX_RESULTS_ROWS)
    body: dict = {
        "UpdateCount": getattr(result, "update_count", 0),  # results saved before update_count existed
        "ResultSet": {
            "Rows": [{"Data": data} for data in rows[start : start + limit]],
            "ResultSetMetadata": {"ColumnInfo": [c.column_info() for c in result.columns]},
        },
    }
    if start + limit < len(rows):
        body["NextToken"] = _token(start + limit)
    return json.dumps(body)


# --- CloudFormation ------------------------------------------------------------------------------------------------


class AthenaWorkGroup(LocalResource, CloudFormationModel):
    """``AWS::Athena::WorkGroup`` (CloudFormation User Guide): created through moto's Athena backend, so
    GetWorkGroup sees it; Ref gives the name. An update replaces the workgroup's configuration."""

    TYPE = "AWS::Athena::WorkGroup"
    NAME_PROPERTY = "Name"

    @classmethod
    def create(cls, name, props, account_id, region):
        backend = athena_backends[account_id][region]
        backend.work_groups.pop(name, None)
        backend.create_work_group(name, props.get("WorkGroupConfiguration", {}), props.get("Description", ""),
                                  props.get("Tags", []))
        return cls(name, {"CreationTime": ""})

    @classmethod
    def remove(cls, name, props, account_id, region):
        athena_backends[account_id][region].work_groups.pop(name, None)
