"""The Data API's statement lifecycle: SUBMITTED -> PICKED -> STARTED -> FINISHED | FAILED | ABORTED.

Each ExecuteStatement / BatchExecuteStatement gets a worker thread running it on its own DuckDB cursor (or on the
session's, which keeps temp tables and an open transaction between calls until the session expires). A batch is
one transaction: a failing sub-statement rolls back the ones before it, and the ones after it end ABORTED.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from local_aws.redshift.engine import Connection, Database, Outcome
from local_aws.redshift.errors import RedshiftError
from local_aws.redshift.splitting import split_statements

ACTIVE = ("SUBMITTED", "PICKED", "STARTED")
PAGE_ROWS = 1000  # rows per GetStatementResult page (AWS pages by size; rows keep tokens predictable here)
_PIDS = itertools.count(1073815000)
_QUERY_IDS = itertools.count(5200)


class ApiError(Exception):
    """Raised to the caller as the Data API's error (code, message), before any statement runs."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class Run:
    """One SQL text run: a statement, or one sub-statement of a batch."""

    id: str
    query_string: str
    status: str = "SUBMITTED"
    error: str | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    started_ns: int | None = None
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
    connection: Connection | None = None
    cancelled: bool = False

    @property
    def is_batch(self) -> bool:
        return self.sqls is not None


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
    """All statements, sessions and databases of the local Redshift (one per server)."""

    def __init__(self, state_dir: Path | None):
        self.state_dir = state_dir
        self.statements: dict[str, Statement] = {}
        self.sessions: dict[str, Session] = {}
        self.databases: dict[tuple[str, str], Database] = {}
        self.lock = threading.RLock()

    # --- databases and sessions ----------------------------------------------------------------------------

    def database(self, cluster: str, name: str) -> Database:
        with self.lock:
            key = (cluster, name)
            if key not in self.databases:
                path = self.state_dir / "redshift" / cluster / f"{name}.duckdb" if self.state_dir else None
                self.databases[key] = Database(cluster, name, path)
            return self.databases[key]

    def expire_sessions(self) -> None:
        now = time.monotonic()
        with self.lock:
            expired = [s for s in self.sessions.values() if s.expires < now and not s.busy.locked()]
            for session in expired:
                del self.sessions[session.id]
        for session in expired:
            with session.database.lock:
                session.connection.close()

    def session(self, session_id: str) -> Session:
        self.expire_sessions()
        with self.lock:
            session = self.sessions.get(session_id)
        if session is None:
            raise ApiError("ValidationException", f"Session {session_id} is not available: expired or unknown.")
        return session

    def checkpoint(self) -> None:
        """Fold each database's WAL into its file; skipped for a database with a transaction open elsewhere."""
        with self.lock:
            databases = list(self.databases.values())
        for database in databases:
            with database.lock:
                try:
                    database.connection.execute("CHECKPOINT")
                except duckdb.Error:
                    pass  # an open session transaction: the WAL keeps the data durable until the next try

    def close(self) -> None:
        with self.lock:
            sessions, self.sessions = list(self.sessions.values()), {}
            databases, self.databases = list(self.databases.values()), {}
        for session in sessions:
            session.connection.close()
        for database in databases:
            database.close()

    # --- submitting ----------------------------------------------------------------------------------------

    def submit(self, statement: Statement, texts: list[str], database_exists: bool, keep_alive: int | None) -> None:
        self.expire_sessions()  # idle sessions release their cursor (and roll back what they left open)
        session = None
        if statement.session_id:
            session = self.session(statement.session_id)
            statement.cluster, statement.database = session.cluster, session.db_name
            statement.db_user, statement.secret_arn = session.db_user, session.secret_arn
        statement.redshift_pid = next(_PIDS)
        if statement.is_batch:
            statement.subs = [Run(id=f"{statement.id}:{i}", query_string=sql) for i, sql in enumerate(texts, 1)]
        with self.lock:
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
        if session is not None:
            session.busy.acquire()  # statements of one session run one after another, like one connection
        try:
            if statement.cancelled:
                return
            statement.set("PICKED")
            if not database_exists:
                statement.set("STARTED")
                self._fail(statement, f'database "{statement.database}" does not exist')
                return
            database = self.database(statement.cluster, statement.database)
            connection = session.connection if session else database.cursor()
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
            self._fail(statement, f"internal error: {exc}")
        finally:
            if session is not None:
                session.touch()
                session.busy.release()

    def _run_single(self, statement: Statement, connection: Connection, texts: list[str]) -> None:
        outcome = Outcome()
        try:
            for text in texts:
                statement.redshift_query_id = next(_QUERY_IDS)
                outcome = connection.run(text)
                if statement.cancelled:
                    raise RedshiftError("Query cancelled on user's request")
        except RedshiftError as exc:
            connection.rollback()  # an error aborts the open transaction, a session's included
            self._fail(statement, str(exc))
            return
        statement.outcome = outcome
        statement.set("FINISHED")

    def _run_batch(self, statement: Statement, connection: Connection) -> None:
        opened_here = not connection.in_transaction
        connection.begin()
        failed_at = None
        for index, sub in enumerate(statement.subs):
            sub.redshift_query_id = next(_QUERY_IDS)
            sub.set("STARTED")
            try:
                outcome = Outcome()
                for text in split_statements(sub.query_string):
                    outcome = connection.run(text)
                if statement.cancelled:
                    raise RedshiftError("Query cancelled on user's request")
                sub.outcome = outcome
                sub.set("FINISHED")
            except RedshiftError as exc:
                sub.set("ABORTED" if statement.cancelled else "FAILED", f"ERROR: {exc}")
                failed_at = index
                break
        if failed_at is None:
            if opened_here:
                try:
                    connection.commit()
                except duckdb.Error as exc:
                    self._fail(statement, f"ERROR: {exc}")
                    return
            statement.outcome = statement.subs[-1].outcome
            statement.set("FINISHED")
            return
        connection.rollback()
        for sub in statement.subs[failed_at + 1:]:
            sub.set("ABORTED")
        if statement.cancelled:
            statement.set("ABORTED")
        else:
            failed = statement.subs[failed_at]
            statement.set("FAILED", f"Query #{failed_at + 1} failed with {failed.error}")

    def _fail(self, statement: Statement, message: str) -> None:
        if statement.cancelled:
            statement.set("ABORTED")
        else:
            statement.set("FAILED", message if message.startswith(("ERROR:", "Query #")) else f"ERROR: {message}")

    # --- reading -------------------------------------------------------------------------------------------

    def get(self, statement_id: str) -> tuple[Statement, Run]:
        base, _, sub = (statement_id or "").partition(":")
        with self.lock:
            statement = self.statements.get(base)
        if statement is None:
            raise ApiError("ResourceNotFoundException", f"Query does not exist: {statement_id}")
        if not sub:
            return statement, statement
        if not sub.isdigit() or not 1 <= int(sub) <= len(statement.subs):
            raise ApiError("ResourceNotFoundException", f"Query does not exist: {statement_id}")
        return statement, statement.subs[int(sub) - 1]

    def cancel(self, statement_id: str) -> None:
        statement, run = self.get(statement_id)
        if run is not statement:
            raise ApiError("ValidationException", "Cancel the batch statement, not one of its sub-statements")
        if statement.status not in ACTIVE:
            raise ApiError(
                "ValidationException", f"Could not cancel a query that is already in {statement.status} state"
            )
        statement.cancelled = True
        connection = statement.connection
        if connection is not None:
            try:
                connection.cursor.interrupt()
            except duckdb.Error:
                pass
        if statement.status in ("SUBMITTED", "PICKED"):
            statement.set("ABORTED")
        deadline = time.monotonic() + 10
        while statement.status in ACTIVE and time.monotonic() < deadline:
            time.sleep(0.01)

    def listing(self) -> list[Statement]:
        with self.lock:
            return sorted(self.statements.values(), key=lambda s: s.created_at, reverse=True)


# --- result encoding -----------------------------------------------------------------------------------------

_TYPE_NAMES = {
    "BIGINT": "int8", "INTEGER": "int4", "SMALLINT": "int2", "TINYINT": "int2", "HUGEINT": "int8",  # sum(int)
    "UBIGINT": "numeric", "UINTEGER": "int8", "USMALLINT": "int4", "UTINYINT": "int2",
    "DOUBLE": "float8", "FLOAT": "float4", "REAL": "float4", "BOOLEAN": "bool", "VARCHAR": "varchar",
    "DATE": "date", "TIMESTAMP": "timestamp", "TIMESTAMP WITH TIME ZONE": "timestamptz", "TIME": "time",
    "BLOB": "varbyte", "INTERVAL": "interval",
}


def column_metadata(name: str, duck_type: str) -> dict:
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
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        if data["id"] != statement_id:
            raise ValueError
        return int(data["offset"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ApiError("ValidationException", "The NextToken is invalid for this statement") from exc
