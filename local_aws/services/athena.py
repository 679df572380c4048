"""Athena: SQL queries on DuckDB over the Glue catalog (engine in ``local_aws.athena``).

Replaces moto's query actions (StartQueryExecution, GetQueryExecution, GetQueryResults, StopQueryExecution,
ListQueryExecutions, BatchGetQueryExecution); workgroups, named queries, data catalogs stay moto's. The output
location is the workgroup's when it enforces its configuration, else the request's, else the workgroup's.
Query history lives in memory and, with a state directory, in ``<state_dir>/athena/query-executions.json``.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from pathlib import Path

from moto.athena.models import athena_backends
from moto.athena.responses import AthenaResponse
from moto.core.exceptions import JsonRESTError

from local_aws import ACCOUNT_ID, REGION
from local_aws.athena.executions import QueryExecutions

log = logging.getLogger(__name__)

PRIORITY = 50

# MaxResults bounds from the Athena API reference.
_MAX_RESULTS_ROWS = 1000
_MAX_RESULTS_LIST = 50

EXECUTIONS = QueryExecutions()
_TOKENS: dict[str, str] = {}  # ClientRequestToken -> query id
_TOKENS_LOCK = threading.Lock()


class InvalidRequestException(JsonRESTError):
    def __init__(self, message: str, athena_error_code: str = "INVALID_INPUT"):
        super().__init__("InvalidRequestException", message)
        body = json.loads(self.description)
        body["AthenaErrorCode"] = athena_error_code
        self.description = json.dumps(body)


def _workgroup(name: str) -> dict:
    found = athena_backends[ACCOUNT_ID][REGION].get_work_group(name)
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


def _execution(query_id: str | None):
    execution = EXECUTIONS.get(query_id or "")
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


# --- actions (methods of moto's AthenaResponse, looked up by name per request) ---------------------------------


def start_query_execution(self: AthenaResponse) -> str:
    query = self._get_param("QueryString")
    if not query or not query.strip():
        raise InvalidRequestException("QueryString must not be empty")
    name = self._get_param("WorkGroup") or "primary"
    workgroup = _workgroup(name)
    context = self._get_param("QueryExecutionContext") or {}
    token = self._get_param("ClientRequestToken")
    with _TOKENS_LOCK:
        if token and token in _TOKENS:  # idempotent retry of the same request: same execution
            return json.dumps({"QueryExecutionId": _TOKENS[token]})
        execution = _submit(self, query, name, workgroup, context)
        if token:
            _TOKENS[token] = execution.query_id
    log.info("athena query %s in %s: %s", execution.query_id, name, " ".join(query.split())[:200])
    return json.dumps({"QueryExecutionId": execution.query_id})


def _submit(self: AthenaResponse, query: str, name: str, workgroup: dict, context: dict):
    return EXECUTIONS.submit(
        query=query,
        workgroup=name,
        output_dir=output_directory(workgroup, self._get_param("ResultConfiguration")),
        database=context.get("Database"),
        catalog=context.get("Catalog"),
        execution_parameters=self._get_param("ExecutionParameters"),
    )


def get_query_execution(self: AthenaResponse) -> str:
    execution = _execution(self._get_param("QueryExecutionId"))
    return json.dumps({"QueryExecution": execution.as_dict()})


def batch_get_query_execution(self: AthenaResponse) -> str:
    found, missing = [], []
    for query_id in self._get_param("QueryExecutionIds") or []:
        execution = EXECUTIONS.get(query_id)
        if execution is None:
            missing.append(
                {"QueryExecutionId": query_id, "ErrorCode": "INVALID_INPUT", "ErrorMessage": "Query not found"}
            )
        else:
            found.append(execution.as_dict())
    return json.dumps({"QueryExecutions": found, "UnprocessedQueryExecutionIds": missing})


def list_query_executions(self: AthenaResponse) -> str:
    name = self._get_param("WorkGroup") or "primary"
    _workgroup(name)
    start = _page(self._get_param("NextToken"))
    limit = _limit(self._get_param("MaxResults"), _MAX_RESULTS_LIST)
    ids = [e.query_id for e in EXECUTIONS.in_workgroup(name)]
    body: dict = {"QueryExecutionIds": ids[start : start + limit]}
    if start + limit < len(ids):
        body["NextToken"] = _token(start + limit)
    return json.dumps(body)


def stop_query_execution(self: AthenaResponse) -> str:
    EXECUTIONS.stop(_execution(self._get_param("QueryExecutionId")).query_id)
    return "{}"


def get_query_results(self: AthenaResponse) -> str:
    execution = _execution(self._get_param("QueryExecutionId"))
    if execution.state in ("QUEUED", "RUNNING"):
        raise InvalidRequestException(f"Query has not yet finished. Current state: {execution.state}")
    if execution.state != "SUCCEEDED" or execution.result is None:
        raise InvalidRequestException(f"Query did not finish successfully. Final query state: {execution.state}")
    result = execution.result
    rows = [[{"VarCharValue": c.name} for c in result.columns]] if result.has_header_row else []
    rows += [[{} if v is None else {"VarCharValue": v} for v in row] for row in result.rows]
    start = _page(self._get_param("NextToken"))
    limit = _limit(self._get_param("MaxResults"), _MAX_RESULTS_ROWS)
    body: dict = {
        "UpdateCount": 0,
        "ResultSet": {
            "Rows": [{"Data": data} for data in rows[start : start + limit]],
            "ResultSetMetadata": {"ColumnInfo": [c.column_info() for c in result.columns]},
        },
    }
    if start + limit < len(rows):
        body["NextToken"] = _token(start + limit)
    return json.dumps(body)


_ACTIONS = (
    start_query_execution,
    get_query_execution,
    batch_get_query_execution,
    list_query_executions,
    stop_query_execution,
    get_query_results,
)


def _state_file(server) -> Path | None:
    state_dir = getattr(server, "state_dir", None)
    return Path(state_dir) / "athena" / "query-executions.json" if state_dir else None


def load_state(server) -> None:
    path = _state_file(server)
    if path is not None:
        EXECUTIONS.load(path)


def save_state(server) -> None:
    path = _state_file(server)
    if path is not None:
        EXECUTIONS.save(path)


def install(server) -> None:
    for action in _ACTIONS:
        setattr(AthenaResponse, action.__name__, action)
