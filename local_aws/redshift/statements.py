"""The Data API's statement lifecycle: SUBMITTED -> PICKED -> STARTED -> FINISHED | FAILED | ABORTED.

Each ExecuteStatement / BatchExecuteStatement gets a worker thread running it on its own DuckDB cursor (or on the
session's, which keeps temp tables and an open transaction between calls until the session expires). A batch is
one transaction: a failing sub-statement rolls back the ones before it, and the ones after it end ABORTED.

State and runtime are apart: the statements (with their results) and the id counters are plain data owned by the
caller (the Data API service keeps them on its backend, which the state store saves); ``RedshiftData`` holds what
cannot outlive the process (DuckDB connections, sessions, worker threads) and works on those statements. When a
statement ends it calls ``on_end(changes, changed)``: ``changes`` pairs the statement (and, for a batch that failed,
its sub-statements) with the function setting its final status, ``changed`` names the moto services its SQL changed
outside the warehouse (``"s3"`` after UNLOAD, ``"glue"`` after CREATE EXTERNAL DATABASE); the caller makes the end
durable, then visible (``local_aws.state.store.finish``), so an ended status is never seen before it is durable.
Refusals are ``local_aws.redshift.errors.DataApiRefusal`` subclasses; the service
words them.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from local_aws.redshift.engine import Connection, Database, Outcome
from local_aws.redshift.errors import (
    InvalidStatementRequest,
    RedshiftError,
    SessionUnavailable,
    StatementNotFound,
    TooManyActiveStatements,
)
from local_aws.redshift.splitting import split_statements

ACTIVE = ("SUBMITTED", "PICKED", "STARTED")
# "Considerations when calling the Amazon Redshift Data API" (redshift/latest/mgmt/data-api.html): "The maximum
# retention time for query results is 24 hours" and at most 200 active (SUBMITTED and STARTED) queries per cluster.
RESULT_RETENTION_SECONDS = 24 * 3600
ACTIVE_STATEMENTS_PER_CLUSTER = 200
# The status saved last may lag (PICKED and STARTED are not written on their own), so the message does not claim
# which of them it had reached.
INTERRUPTED = ("ERROR: the local AWS stopped before this statement finished; it is not run again (its open "
               "transaction was rolled back; what it had committed is kept)")


@dataclass
class Counters:
    """The RedshiftPid and RedshiftQueryId sequences; saved with the statements, so no id repeats after a restart."""

    next_pid: int = 1073815000
    next_query_id: int = 5200

    def pid(self) -> int:
        self.next_pid += 1
        return self.next_pid

    def query_id(self) -> int:
        self.next_query_id += 1
        return self.next_query_id


@dataclass
class Run:
    """One SQL text run: a statement, or one sub-statement of a batch. Times are epoch seconds; ``duration_ns`` is
    -1 until the run ends."""

    id: str
    query_string: str
    status: str = "SUBMITTED"
    error: str | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    started_ns: int | None = None  # time.monotonic_ns() of this process: meaningless after a restart
    duration_ns: int = -1
    outcome: Outcome | None = None
    redshift_query_id: int = 0

    def set(self, status: str, error: str | None = None) -> None:
        self.status, self.updated_at = status, time.time()
        if error is not None:
            self.error = error
        if status == "STARTED":
            self.started_ns = time.monotonic_ns()
        elif status not in ACTIVE and self.started_ns is not None:
            self.duration_ns = time.monotonic_ns() - self.started_ns


@dataclass
class Statement(Run):
    cluster: str = ""
    database: str = ""
    db_user: str | None = None
    secret_arn: str | None = None
    statement_name: str | None = None
    parameters: list | None = None
    sqls: list[str] | None = None  # set for a batch
    subs: list[Run] = field(default_factory=list)
    session_id: str | None = None
    redshift_pid: int = 0
    connection: Connection | None = None  # runtime: the cursor running it, for CancelStatement
    cancelled: bool = False
    done: bool = False  # ended and its worker gone: the record never changes again

    @property
    def final_key(self) -> str | None:
        """Its id once it can never change again (for the state store's finished records), else None."""
        return self.id if self.done else None

    @property
    def is_batch(self) -> bool:
        return self.sqls is not None

    def __getstate__(self) -> dict[str, Any]:
        # the DuckDB cursor is not state (and cannot be pickled)
        return {**self.__dict__, "connection": None}


def settle_interrupted(statement: Statement) -> bool:
    """A statement restored in an active status ran in a server that is gone: end it FAILED (its sub-statements
    FAILED or ABORTED) with a message saying so. Returns whether it changed. AWS would have finished it; a restart
    cannot, and DuckDB rolled back whatever transaction it had open."""
    if statement.status not in ACTIVE:
        return False
    message = INTERRUPTED
    for run in (statement, *statement.subs):
        run.started_ns = None  # the old process's clock
    failed_at = None
    for index, sub in enumerate(statement.subs):
        if sub.status == "STARTED":
            sub.set("FAILED", message)
            failed_at = index
        elif sub.status in ACTIVE:
            sub.set("ABORTED")
    if failed_at is not None:
        statement.set("FAILED", f"Query #{failed_at + 1} failed with {message}")
    else:
        statement.set("FAILED", message)
    statement.done = True
    return True


def _interrupt(statement: Statement) -> None:
    """Interrupt the DuckDB query a statement is running, if any."""
    connection = statement.connection
    if connection is not None:
        try:
            connection.cursor.interrupt()
        except duckdb.Error:
            pass


def expired(statement: Statement, now: float) -> bool:
    """A finished statement older than the Data API's result retention."""
    return statement.status not in ACTIVE and statement.updated_at < now - RESULT_RETENTION_SECONDS


@dataclass
class Session:
    id: str
    database: Database
    connection: Connection
    keep_alive: int
    cluster: str
    db_name: str
    db_user: str | None
    secret_arn: str | None
    expires: float = 0.0
    busy: threading.Lock = field(default_factory=threading.Lock)

    def touch(self) -> None:
        self.expires = time.monotonic() + self.keep_alive


class RedshiftData:
    """The running warehouse of one account and region: its databases, sessions and statement workers.

    ``directory`` holds one DuckDB file per database (``<directory>/<cluster>/<database>.duckdb``); None keeps them
    in memory. ``statements`` and ``counters`` are the caller's (its saved state), changed in place."""

    def __init__(self, directory: Path | None, statements: dict[str, Statement], counters: Counters,
                 on_end: Callable[[list[tuple[Any, Callable[[Any], Any]]], set[str]], None] | None = None):
        self.directory = directory
        self.statements = statements
        self.counters = counters
        self.on_end = on_end
        self.sessions: dict[str, Session] = {}
        self.databases: dict[tuple[str, str], Database] = {}
        self.lock = threading.RLock()
        self.closing = False  # close() interrupts what runs: those statements fail as interrupted, not cancelled

    # --- databases and sessions ----------------------------------------------------------------------------

    def database_path(self, cluster: str, name: str) -> Path | None:
        return self.directory / cluster / f"{name}.duckdb" if self.directory else None

    def database(self, cluster: str, name: str) -> Database:
        with self.lock:
            key = (cluster, name)
            if key not in self.databases:
                self.databases[key] = Database(cluster, name, self.database_path(cluster, name))
            return self.databases[key]

    def expire_sessions(self) -> None:
        now = time.monotonic()
        with self.lock:
            expired_sessions = [s for s in self.sessions.values() if s.expires < now and not s.busy.locked()]
            for session in expired_sessions:
                del self.sessions[session.id]
        for session in expired_sessions:
            with session.database.lock:
                session.connection.close()

    def session(self, session_id: str) -> Session:
        """The live session; SessionUnavailable when it expired, is unknown, or was lost with a restart."""
        self.expire_sessions()
        with self.lock:
            session = self.sessions.get(session_id)
        if session is None:
            raise SessionUnavailable(session_id)
        return session

    def close(self) -> None:
        """Stop: running statements are interrupted and end FAILED (the server is stopping, or moto resets), what
        sessions left open is rolled back, every database is closed (DuckDB checkpoints its WAL on close)."""
        with self.lock:
            self.closing = True
            running = [s for s in self.statements.values() if s.connection is not None]
        deadline = time.monotonic() + 10
        while any(s.connection is not None for s in running) and time.monotonic() < deadline:
            for statement in running:
                _interrupt(statement)
            time.sleep(0.05)
        with self.lock:
            sessions, self.sessions = list(self.sessions.values()), {}
            databases, self.databases = list(self.databases.values()), {}
        for session in sessions:
            with session.database.lock:
                session.connection.close()
        for database in databases:
            database.close()

    def drop(self, cluster: str | None = None) -> None:
        """Delete the database files of ``cluster`` (every cluster when None): the cluster is gone. Close first."""
        if self.directory is None:
            return
        target = self.directory / cluster if cluster else self.directory
        shutil.rmtree(target, ignore_errors=True)

    def close_cluster(self, cluster: str) -> None:
        """Close the sessions and databases of one cluster (before its files are dropped)."""
        with self.lock:
            sessions = [s for s in self.sessions.values() if s.cluster == cluster]
            for session in sessions:
                del self.sessions[session.id]
            databases = [d for key, d in self.databases.items() if key[0] == cluster]
            self.databases = {k: d for k, d in self.databases.items() if k[0] != cluster}
        for session in sessions:
            session.connection.close()
        for database in databases:
            database.close()

    # --- submitting ----------------------------------------------------------------------------------------

    def submit(self, statement: Statement, texts: list[str], database_exists: bool, keep_alive: int | None) -> None:
        """Record ``statement`` (SUBMITTED) and start running it. Raises SessionUnavailable for a dead session and
        TooManyActiveStatements when its cluster is at the Data API's limit; finished statements older than the
        result retention are forgotten here."""
        self.expire_sessions()  # idle sessions release their cursor (and roll back what they left open)
        session = None
        if statement.session_id:
            session = self.session(statement.session_id)
            statement.cluster, statement.database = session.cluster, session.db_name
            statement.db_user, statement.secret_arn = session.db_user, session.secret_arn
        if statement.is_batch:
            statement.subs = [Run(id=f"{statement.id}:{i}", query_string=sql) for i, sql in enumerate(texts, 1)]
        with self.lock:
            now = time.time()
            for old in [s for s in self.statements.values() if expired(s, now)]:
                del self.statements[old.id]
            active = sum(1 for s in self.statements.values() if s.status in ACTIVE and s.cluster == statement.cluster)
            if active >= ACTIVE_STATEMENTS_PER_CLUSTER:
                raise TooManyActiveStatements(statement.cluster, ACTIVE_STATEMENTS_PER_CLUSTER)
            statement.redshift_pid = self.counters.pid()
            self.statements[statement.id] = statement
        if session is None and keep_alive and database_exists:
            database = self.database(statement.cluster, statement.database)
            session = Session(
                id=str(uuid.uuid4()), database=database, connection=database.cursor(), keep_alive=keep_alive,
                cluster=statement.cluster, db_name=statement.database,
                db_user=statement.db_user, secret_arn=statement.secret_arn,
            )
            session.touch()
            statement.session_id = session.id
            with self.lock:
                self.sessions[session.id] = session
        worker = threading.Thread(
            target=self._work, args=(statement, texts, database_exists, session),
            name=f"redshift-data-{statement.id[:8]}", daemon=True,  # a running statement never holds server exit
        )
        worker.start()

    def _work(self, statement: Statement, texts: list[str], database_exists: bool, session: Session | None) -> None:
        changed: set[str] = set()
        if session is not None:
            session.busy.acquire()  # statements of one session run one after another, like one connection
        try:
            if statement.cancelled:
                return
            statement.set("PICKED")
            if not database_exists:
                statement.set("STARTED")
                self._end(statement, changed, lambda ending: self._fail(
                    ending, f'database "{statement.database}" does not exist'))
                return
            database = self.database(statement.cluster, statement.database)
            connection = session.connection if session else database.cursor()
            connection.changed = changed
            statement.connection = connection
            try:
                with database.lock:
                    if statement.cancelled:
                        return
                    statement.set("STARTED")
                    if statement.is_batch:
                        self._run_batch(statement, connection)
                    else:
                        self._run_single(statement, connection, texts)
            finally:
                statement.connection = None
                if session is None:
                    connection.close()
        except Exception as exc:  # noqa: BLE001 - the worker must record any failure on the statement
            message = f"internal error: {exc}"
            self._end(statement, changed, lambda ending: self._fail(ending, message))
        finally:
            if session is not None:
                session.touch()
                session.busy.release()
            # a statement cancelled before it ran ends here (ABORTED)
            self._end(statement, changed, lambda ending: ending.status in ACTIVE and self._fail(ending, "ended"))

    def _end(self, statement: Statement, changed: set[str], settle: Callable[[Statement], Any],
             subs: list[tuple[Run, Callable[[Run], Any]]] | None = None) -> None:
        """End the statement: ``settle`` gives it its final status (and ``subs`` its sub-statements theirs), which
        ``on_end`` makes durable and only then sets (``local_aws.state.store.finish``), so nobody sees an ended
        status that a crash could take back. Under ``self.lock``, so a cancel cannot act meanwhile; only the first
        call for a statement counts."""

        def end(ending: Statement) -> None:
            settle(ending)
            ending.done = True

        with self.lock:
            if statement.done:
                return
            changes: list[tuple[Any, Callable[[Any], Any]]] = [(statement, end), *(subs or [])]
            if self.on_end is not None:
                self.on_end(changes, changed)
            else:
                for record, change in changes:
                    change(record)

    def _run_single(self, statement: Statement, connection: Connection, texts: list[str]) -> None:
        outcome = Outcome()
        try:
            for text in texts:
                statement.redshift_query_id = self.counters.query_id()
                outcome = connection.run(text, query_id=statement.redshift_query_id,
                                         session_pid=statement.redshift_pid)
                if statement.cancelled:
                    raise RedshiftError("Query cancelled on user's request")
        except RedshiftError as exc:
            connection.rollback()  # an error aborts the open transaction, a session's included
            message = str(exc)
            self._end(statement, connection.changed, lambda ending: self._fail(ending, message))
            return

        def finished(ending: Statement) -> None:
            ending.outcome = outcome
            ending.set("FINISHED")

        self._end(statement, connection.changed, finished)

    def _run_batch(self, statement: Statement, connection: Connection) -> None:
        opened_here = not connection.in_transaction
        connection.begin()
        failed_at = None
        for index, sub in enumerate(statement.subs):
            sub.redshift_query_id = self.counters.query_id()
            sub.set("STARTED")
            try:
                outcome = Outcome()
                for text in split_statements(sub.query_string):
                    outcome = connection.run(text, query_id=sub.redshift_query_id,
                                             session_pid=statement.redshift_pid)
                if statement.cancelled:
                    raise RedshiftError("Query cancelled on user's request")
                sub.outcome = outcome
                sub.set("FINISHED")
            except RedshiftError as exc:
                sub.set("ABORTED" if statement.cancelled else "FAILED",
                        INTERRUPTED if self.closing else f"ERROR: {exc}")
                failed_at = index
                break
        if failed_at is None:
            if opened_here:
                try:
                    connection.commit()
                except duckdb.Error as exc:
                    message = f"ERROR: {exc}"
                    self._end(statement, connection.changed, lambda ending: self._fail(ending, message))
                    return

            def finished(ending: Statement) -> None:
                ending.outcome = statement.subs[-1].outcome
                ending.set("FINISHED")

            self._end(statement, connection.changed, finished)
            return
        connection.rollback()

        def failed(ending: Statement) -> None:
            if statement.cancelled:
                ending.set("ABORTED")
            else:
                ending.set("FAILED", f"Query #{failed_at + 1} failed with {statement.subs[failed_at].error}")

        self._end(statement, connection.changed, failed,
                  [(sub, lambda ending: ending.set("ABORTED")) for sub in statement.subs[failed_at + 1:]])

    def _fail(self, statement: Statement, message: str) -> None:
        if self.closing and not statement.cancelled:
            message = INTERRUPTED
        if statement.cancelled:
            statement.set("ABORTED")
        else:
            statement.set("FAILED", message if message.startswith(("ERROR:", "Query #")) else f"ERROR: {message}")

    # --- reading -------------------------------------------------------------------------------------------

    def get(self, statement_id: str) -> tuple[Statement, Run]:
        """(statement, run): the run is the statement itself, or its sub-statement for an ``<id>:<n>`` id.
        StatementNotFound for an unknown id or one past the result retention."""
        base, _, sub = (statement_id or "").partition(":")
        with self.lock:
            statement = self.statements.get(base)
        if statement is None or expired(statement, time.time()):
            raise StatementNotFound(statement_id)
        if not sub:
            return statement, statement
        if not sub.isdigit() or not 1 <= int(sub) <= len(statement.subs):
            raise StatementNotFound(statement_id)
        return statement, statement.subs[int(sub) - 1]

    def cancel(self, statement_id: str) -> None:
        """Abort an active statement and wait (up to 10 s) for it to end. InvalidStatementRequest for a
        sub-statement or a statement that already ended."""
        statement, run = self.get(statement_id)
        if run is not statement:
            raise InvalidStatementRequest("Cancel the batch statement, not one of its sub-statements")
        if statement.status not in ACTIVE:
            raise InvalidStatementRequest(f"Could not cancel a query that is already in {statement.status} state")
        statement.cancelled = True
        with self.lock:
            if statement.status in ("SUBMITTED", "PICKED") and not statement.done:
                statement.set("ABORTED")
        deadline = time.monotonic() + 10
        while not statement.done and time.monotonic() < deadline:
            _interrupt(statement)  # again and again: DuckDB drops an interrupt that comes before execution starts
            time.sleep(0.05)

    def listing(self) -> list[Statement]:
        """Statements within the retention period, newest first."""
        now = time.time()
        with self.lock:
            kept = [s for s in self.statements.values() if not expired(s, now)]
        return sorted(kept, key=lambda s: s.created_at, reverse=True)
