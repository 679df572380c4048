"""Athena query executions: queued, run asynchronously on a small worker pool, results written to S3.

A query is QUEUED when accepted, RUNNING on a worker, then SUCCEEDED, FAILED (with Athena's error) or CANCELLED.
Results go to ``<output location>/<id>.csv`` (+ ``.csv.metadata``) for SELECT, ``<id>.txt`` for other statements,
in the local S3, as Athena writes them. Finished executions (with their results) survive a restart of a local AWS
that has a state directory.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_aws import s3io
from local_aws.athena.engine import QueryCancelled, QueryResult, QueryRun
from local_aws.athena.errors import AthenaQueryError
from local_aws.athena.results import ResultColumn, metadata_document, to_csv, to_text

log = logging.getLogger(__name__)

# Two workers: the machine is small and DuckDB already parallelises one query.
_WORKERS = 2
ACTIVE_STATES = ("QUEUED", "RUNNING")
_KEPT = 1000  # finished executions kept across restarts


@dataclass
class QueryExecution:
    query_id: str
    query: str
    workgroup: str
    database: str | None
    catalog: str | None
    output_location: str  # s3://bucket/prefix/<id>.csv (or .txt once the statement kind is known)
    submitted: float = field(default_factory=time.time)
    state: str = "QUEUED"
    state_change_reason: str | None = None
    error: AthenaQueryError | None = None
    started: float | None = None
    completed: float | None = None
    result: QueryResult | None = None
    statement_type: str = "DML"
    substatement_type: str | None = None
    run: QueryRun | None = None
    execution_parameters: list[str] | None = None

    def as_dict(self) -> dict[str, Any]:
        status: dict[str, Any] = {"State": self.state, "SubmissionDateTime": self.submitted}
        if self.completed is not None:
            status["CompletionDateTime"] = self.completed
        if self.state_change_reason:
            status["StateChangeReason"] = self.state_change_reason
        if self.error is not None:
            status["AthenaError"] = self.error.athena_error()
        now = self.completed or time.time()
        queued_until = self.started or now
        engine_ms = int(((self.completed or now) - self.started) * 1000) if self.started else 0
        statistics = {
            "EngineExecutionTimeInMillis": engine_ms,
            "DataScannedInBytes": self.result.bytes_scanned if self.result else 0,
            "TotalExecutionTimeInMillis": int((now - self.submitted) * 1000),
            "QueryQueueTimeInMillis": int((queued_until - self.submitted) * 1000),
            "ServicePreProcessingTimeInMillis": 0,
            "QueryPlanningTimeInMillis": 0,
            "ServiceProcessingTimeInMillis": 0,
            "ResultReuseInformation": {"ReusedPreviousResult": False},
        }
        context: dict[str, str] = {}
        if self.database:
            context["Database"] = self.database
        if self.catalog:
            context["Catalog"] = self.catalog
        out: dict[str, Any] = {
            "QueryExecutionId": self.query_id,
            "Query": self.query,
            "StatementType": self.statement_type,
            "ResultConfiguration": {"OutputLocation": self.output_location},
            "ResultReuseConfiguration": {"ResultReuseByAgeConfiguration": {"Enabled": False}},
            "QueryExecutionContext": context,
            "Status": status,
            "Statistics": statistics,
            "WorkGroup": self.workgroup,
            "EngineVersion": {
                "SelectedEngineVersion": "AUTO",
                "EffectiveEngineVersion": "Athena engine version 3",
            },
        }
        if self.substatement_type:
            out["SubstatementType"] = self.substatement_type
        if self.execution_parameters:
            out["ExecutionParameters"] = self.execution_parameters
        return out


def _to_record(execution: QueryExecution) -> dict[str, Any]:
    result = execution.result
    error = execution.error
    return {
        "query_id": execution.query_id,
        "query": execution.query,
        "workgroup": execution.workgroup,
        "database": execution.database,
        "catalog": execution.catalog,
        "output_location": execution.output_location,
        "submitted": execution.submitted,
        "started": execution.started,
        "completed": execution.completed,
        "state": execution.state,
        "state_change_reason": execution.state_change_reason,
        "statement_type": execution.statement_type,
        "substatement_type": execution.substatement_type,
        "execution_parameters": execution.execution_parameters,
        "error": None if error is None else [error.name, error.detail, error.line, error.column],
        "result": None if result is None else {
            "columns": [[c.name, c.duckdb_type] for c in result.columns],
            "rows": [list(r) for r in result.rows],
            "bytes_scanned": result.bytes_scanned,
        },
    }


def _from_record(record: dict[str, Any]) -> QueryExecution:
    execution = QueryExecution(
        record["query_id"], record["query"], record["workgroup"], record["database"], record["catalog"],
        record["output_location"], submitted=record["submitted"], state=record["state"],
        state_change_reason=record["state_change_reason"], started=record["started"],
        completed=record["completed"], statement_type=record["statement_type"],
        substatement_type=record["substatement_type"], execution_parameters=record["execution_parameters"],
    )
    if record["error"]:
        execution.error = AthenaQueryError(*record["error"])
    if record["result"]:
        saved = record["result"]
        execution.result = QueryResult(
            [ResultColumn(name, kind) for name, kind in saved["columns"]],
            [tuple(r) for r in saved["rows"]],
            record["statement_type"],
            record["substatement_type"] or "",
            saved["bytes_scanned"],
        )
    return execution


class QueryExecutions:
    """Every execution of this server (in memory), and the pool that runs them."""

    def __init__(self) -> None:
        self._executions: dict[str, QueryExecution] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[QueryExecution] = queue.Queue()
        self._workers: list[threading.Thread] = []
        self._finished_count = 0  # queries ended so far, to skip saves when nothing changed
        self._saved_count = -1

    def _ensure_workers(self) -> None:
        # Daemon threads: a query still running when the server exits must not hold the process.
        with self._lock:
            while len(self._workers) < _WORKERS:
                worker = threading.Thread(target=self._work, name=f"athena-query-{len(self._workers)}", daemon=True)
                worker.start()
                self._workers.append(worker)

    def _work(self) -> None:
        while True:
            self._execute(self._queue.get())

    def submit(
        self,
        query: str,
        workgroup: str,
        output_dir: str,
        database: str | None,
        catalog: str | None,
        execution_parameters: list[str] | None = None,
    ) -> QueryExecution:
        query_id = str(uuid.uuid4())
        location = output_dir.rstrip("/") + f"/{query_id}.csv"
        execution = QueryExecution(query_id, query, workgroup, database, catalog, location)
        execution.execution_parameters = execution_parameters
        with self._lock:
            self._executions[query_id] = execution
        try:
            execution.run = QueryRun(_bind_parameters(query, execution_parameters), database, catalog)
        except AthenaQueryError as exc:
            execution.error = exc
            self._finish(execution, "FAILED", str(exc))
            return execution
        self._ensure_workers()
        self._queue.put(execution)
        return execution

    def get(self, query_id: str) -> QueryExecution | None:
        with self._lock:
            return self._executions.get(query_id)

    def in_workgroup(self, workgroup: str) -> list[QueryExecution]:
        """Newest first, as ListQueryExecutions returns them."""
        with self._lock:
            found = [e for e in self._executions.values() if e.workgroup == workgroup]
        return sorted(found, key=lambda e: e.submitted, reverse=True)

    def save(self, path: Path) -> None:
        """Persist the history (newest ``_KEPT`` finished queries, with their results) for the next start.

        Called periodically by the server: nothing is written when no query finished since the last save."""
        with self._lock:
            if self._finished_count == self._saved_count and path.exists():
                return
            self._saved_count = self._finished_count
            finished = [e for e in self._executions.values() if e.state not in ACTIVE_STATES]
        finished = sorted(finished, key=lambda e: e.submitted)[-_KEPT:]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps([_to_record(e) for e in finished]))

    def load(self, path: Path) -> None:
        if not path.exists():
            return
        restored = [_from_record(r) for r in json.loads(path.read_text())]
        with self._lock:
            for execution in restored:
                self._executions.setdefault(execution.query_id, execution)

    def stop(self, query_id: str) -> None:
        execution = self.get(query_id)
        if execution is None or execution.state not in ACTIVE_STATES:
            return  # stopping a finished query is a no-op in Athena too
        with self._lock:
            if execution.state == "QUEUED":
                self._finish(execution, "CANCELLED", "Query cancelled by user")
                return
        if execution.run is not None:
            execution.run.interrupt()

    def _finish(self, execution: QueryExecution, state: str, reason: str | None = None) -> None:
        self._finished_count += 1
        execution.state = state
        execution.state_change_reason = reason
        execution.completed = time.time()

    def _execute(self, execution: QueryExecution) -> None:
        with self._lock:
            if execution.state != "QUEUED":
                return
            execution.state = "RUNNING"
            execution.started = time.time()
        assert execution.run is not None
        try:
            result = execution.run.execute()
            execution.statement_type = result.statement_type
            execution.substatement_type = result.substatement_type
            self._write_results(execution, result)
        except QueryCancelled as exc:
            self._finish(execution, "CANCELLED", str(exc))
            return
        except AthenaQueryError as exc:
            execution.error = exc
            self._finish(execution, "FAILED", str(exc))
            log.info("athena query %s failed: %s", execution.query_id, exc)
            return
        except Exception as exc:  # an engine bug must still end the query, with a message
            log.exception("athena query %s crashed", execution.query_id)
            execution.error = AthenaQueryError("GENERIC_INTERNAL_ERROR", f"{type(exc).__name__}: {exc}")
            self._finish(execution, "FAILED", str(execution.error))
            return
        with self._lock:
            if execution.state == "RUNNING":
                execution.result = result
                self._finish(execution, "SUCCEEDED")
        log.info(
            "athena query %s %s: %d rows, %d files read (%d bytes)", execution.query_id, execution.state,
            len(result.rows), len(result.files_read), result.bytes_scanned,
        )

    def _write_results(self, execution: QueryExecution, result: QueryResult) -> None:
        if result.statement_type != "DML":
            execution.output_location = execution.output_location[: -len(".csv")] + ".txt"
        bucket, key = s3io.split_uri(execution.output_location)
        try:
            if result.statement_type == "DML":
                s3io.put_bytes(bucket, key, to_csv(result.columns, result.rows))
                s3io.put_bytes(bucket, key + ".metadata", metadata_document(result.columns))
            else:
                s3io.put_bytes(bucket, key, to_text(result.rows))
        except Exception as exc:  # moto raises MissingBucket for an unknown bucket
            raise AthenaQueryError(
                "INVALID_INPUT", f"Unable to verify/create output bucket {bucket}"
            ) from exc


def _bind_parameters(query: str, parameters: list[str] | None) -> str:
    """ExecutionParameters fill the ``?`` placeholders in order, as Athena does (values are SQL literals)."""
    if not parameters:
        return query
    pieces = query.split("?")
    if len(pieces) - 1 != len(parameters):
        raise AthenaQueryError(
            "INVALID_INPUT",
            f"Incorrect number of parameters: expected {len(pieces) - 1} but found {len(parameters)}",
        )
    return "".join(p + (parameters[i] if i < len(parameters) else "") for i, p in enumerate(pieces))
