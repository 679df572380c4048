"""Athena query executions: queued, run asynchronously on a small worker pool, results written to S3.

A query is QUEUED when accepted, RUNNING on a worker, then SUCCEEDED, FAILED (with Athena's error) or CANCELLED.
Results go to ``<output location>/<id>.csv`` (+ ``.csv.metadata``) for SELECT, ``<id>.txt`` for other statements,
in the local S3, as Athena writes them.

State and runtime are apart: the executions (with their results) are plain data owned by the caller (the Athena
service keeps them on its backend, which the state store saves); ``QueryExecutions`` is the runtime that runs them
(a queue, worker threads, the DuckDB query in flight). When a worker ends a query it calls
``on_end(execution, end, changed)``: ``end`` sets the final state, error and result on the execution it is given,
``changed`` names the moto services the query changed ("s3" for its result files, "glue" for DDL); the caller makes
the end durable, then visible (``local_aws.state.store.finish``). ``settle_interrupted`` ends an execution that a
restart found QUEUED or RUNNING.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local_aws import s3io
from local_aws.athena.engine import QueryCancelled, QueryResult, QueryRun
from local_aws.athena.errors import AthenaQueryError
from local_aws.athena.results import metadata_document, to_csv, to_text

log = logging.getLogger(__name__)

# Two workers: the machine is small and DuckDB already parallelises one query.
_WORKERS = 2
ACTIVE_STATES = ("QUEUED", "RUNNING")
# "Athena keeps a query history for 45 days" (ListQueryExecutions, Athena API reference). The local history also
# keeps at most the newest KEPT finished executions (their results are part of the saved state); older ones are
# forgotten as if their 45 days had passed.
HISTORY_SECONDS = 45 * 24 * 3600
KEPT = 1000
INTERRUPTED = "The local AWS stopped before this query finished; it is not run again"


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
    run: QueryRun | None = None  # runtime: the engine run, for StopQueryExecution
    execution_parameters: list[str] | None = None

    def __getstate__(self) -> dict[str, Any]:
        # the engine run holds a DuckDB connection and a lock: not state
        return {**self.__dict__, "run": None}

    @property
    def final_key(self) -> str | None:
        """Its id once it can never change again (for the state store's finished records), else None. The state
        is set last when a query ends, so a final state means error, reason, times and result are in place."""
        return self.query_id if self.state not in ACTIVE_STATES else None

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


def settle_interrupted(execution: QueryExecution) -> bool:
    """An execution restored QUEUED or RUNNING belonged to a server that is gone: end it FAILED, StateChangeReason
    saying so (AWS would have finished it; a restart cannot). Returns whether it changed."""
    if execution.state not in ACTIVE_STATES:
        return False
    execution.error = AthenaQueryError("GENERIC_INTERNAL_ERROR", INTERRUPTED)
    execution.state_change_reason = str(execution.error)
    execution.completed = time.time()
    execution.state = "FAILED"
    return True


def forget_old(executions: dict[str, QueryExecution], now: float) -> list[str]:
    """Drop finished executions past the 45-day history, and the oldest beyond ``KEPT``; returns their ids."""
    finished = sorted((e for e in executions.values() if e.state not in ACTIVE_STATES), key=lambda e: e.submitted)
    gone = [e.query_id for e in finished if e.submitted < now - HISTORY_SECONDS]
    kept = [e for e in finished if e.submitted >= now - HISTORY_SECONDS]
    gone += [e.query_id for e in kept[: max(0, len(kept) - KEPT)]]
    for query_id in gone:
        executions.pop(query_id, None)
    return gone


class QueryExecutions:
    """The pool that runs the caller's ``executions`` (a dict it owns and saves), changed in place."""

    def __init__(self, executions: dict[str, QueryExecution],
                 on_end: Callable[[QueryExecution, Callable[[QueryExecution], None], set[str]], None] | None = None,
                 ) -> None:
        self.executions = executions
        self.on_end = on_end
        self.lock = threading.RLock()  # the executions, and each query's end with its commit
        self._queue: queue.Queue[QueryExecution | None] = queue.Queue()
        self._workers: list[threading.Thread] = []
        self._closed = False

    def _ensure_workers(self) -> None:
        # Daemon threads: a query still running when the server exits must not hold the process.
        with self.lock:
            while len(self._workers) < _WORKERS:
                worker = threading.Thread(target=self._work, name=f"athena-query-{len(self._workers)}", daemon=True)
                worker.start()
                self._workers.append(worker)

    def _work(self) -> None:
        while True:
            execution = self._queue.get()
            if execution is None:
                return
            self._execute(execution)

    def submit(
        self,
        query: str,
        workgroup: str,
        output_dir: str,
        database: str | None,
        catalog: str | None,
        execution_parameters: list[str] | None = None,
    ) -> QueryExecution:
        """Record a QUEUED execution and queue it (a query whose parameters do not bind is FAILED at once)."""
        query_id = str(uuid.uuid4())
        location = output_dir.rstrip("/") + f"/{query_id}.csv"
        execution = QueryExecution(query_id, query, workgroup, database, catalog, location)
        execution.execution_parameters = execution_parameters
        with self.lock:
            forget_old(self.executions, time.time())
            self.executions[query_id] = execution
        try:
            execution.run = QueryRun(_bind_parameters(query, execution_parameters), database, catalog,
                                     output_dir=output_dir, query_id=query_id)
        except AthenaQueryError as exc:
            execution.error = exc
            self._finish(execution, "FAILED", str(exc))
            return execution
        self._ensure_workers()
        self._queue.put(execution)
        return execution

    def get(self, query_id: str) -> QueryExecution | None:
        with self.lock:
            return self.executions.get(query_id)

    def in_workgroup(self, workgroup: str) -> list[QueryExecution]:
        """Newest first, as ListQueryExecutions returns them."""
        with self.lock:
            found = [e for e in self.executions.values() if e.workgroup == workgroup]
        return sorted(found, key=lambda e: e.submitted, reverse=True)

    def stop(self, query_id: str) -> None:
        execution = self.get(query_id)
        if execution is None or execution.state not in ACTIVE_STATES:
            return  # stopping a finished query is a no-op in Athena too
        with self.lock:
            if execution.state == "QUEUED":
                self._finish(execution, "CANCELLED", "Query cancelled by user")
                return
        if execution.run is not None:
            execution.run.interrupt()

    def shutdown(self) -> None:
        """Stop the workers: running queries are interrupted and end FAILED (the local AWS stopped); queued ones
        stay QUEUED (settled FAILED when the state is restored)."""
        with self.lock:
            self._closed = True
            workers, self._workers = self._workers, []
            running = [e for e in self.executions.values() if e.state == "RUNNING" and e.run is not None]
        for execution in running:
            execution.run.interrupt()
        for _ in workers:
            self._queue.put(None)
        for worker in workers:
            worker.join(timeout=10)

    def _finish(self, execution: QueryExecution, state: str, reason: str | None = None) -> None:
        execution.state_change_reason = reason
        execution.completed = time.time()
        execution.state = state  # last: a final state means the record is complete (see final_key)

    def _end(self, execution: QueryExecution, changed: set[str], state: str, reason: str | None = None, *,
             error: AthenaQueryError | None = None, result: QueryResult | None = None) -> None:
        """A worker ends a query: its final state, error and result go to ``on_end``, which makes them durable and
        only then sets them (``local_aws.state.store.finish``), so nobody sees an end a crash could take back.
        Under ``lock``, so a StopQueryExecution cannot cancel it meanwhile."""

        def end(ending: QueryExecution) -> None:
            if error is not None:
                ending.error = error
            if result is not None:
                ending.result = result
            self._finish(ending, state, reason)

        with self.lock:
            if execution.state not in ACTIVE_STATES:
                return  # stopped while queued, in a request
            if self.on_end is not None:
                self.on_end(execution, end, changed)
            else:
                end(execution)

    def _execute(self, execution: QueryExecution) -> None:
        with self.lock:
            if execution.state != "QUEUED" or self._closed:
                return
            execution.state = "RUNNING"
            execution.started = time.time()
        changed: set[str] = set()
        try:
            self._run(execution, changed)
        finally:
            execution.run = None  # its DuckDB connection is closed; nothing to interrupt any more

    def _run(self, execution: QueryExecution, changed: set[str]) -> None:
        assert execution.run is not None
        try:
            result = execution.run.execute()
            if result.statement_type == "DDL":
                changed.add("glue")  # CREATE/DROP/ALTER TABLE and MSCK REPAIR change the Glue catalog
            execution.statement_type = result.statement_type
            execution.substatement_type = result.substatement_type
            changed.add("s3")
            self._write_results(execution, result)
        except QueryCancelled as exc:
            if self._closed:  # interrupted by shutdown, not by StopQueryExecution
                error = AthenaQueryError("GENERIC_INTERNAL_ERROR", INTERRUPTED)
                self._end(execution, changed, "FAILED", str(error), error=error)
            else:
                self._end(execution, changed, "CANCELLED", str(exc))
            return
        except AthenaQueryError as exc:
            changed.add("glue")  # a DDL statement may have changed part of the catalog before it failed
            self._end(execution, changed, "FAILED", str(exc), error=exc)
            log.info("athena query %s failed: %s", execution.query_id, exc)
            return
        except Exception as exc:  # an engine bug must still end the query, with a message
            changed.add("glue")
            log.exception("athena query %s crashed", execution.query_id)
            error = AthenaQueryError("GENERIC_INTERNAL_ERROR", f"{type(exc).__name__}: {exc}")
            self._end(execution, changed, "FAILED", str(error), error=error)
            return
        self._end(execution, changed, "SUCCEEDED", result=result)
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
