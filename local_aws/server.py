"""The local AWS server: moto's WSGI app plus our service modules, on one loopback port.

    with LocalAWS(port=0, state_dir=Path(".state/aws")) as aws:
        boto3.client("s3", endpoint_url=aws.endpoint_url)

Start-up, in order: the settings are validated (``local_aws.settings``), the service modules are imported (they
declare their patches), every patch is applied (``local_aws.patches``; a missing or reshaped target stops the
start), the saved state is restored (``local_aws.state``), then each service's ``install`` runs. While serving,
a request that may change state is made durable before its response leaves.

Only one server may run per process: moto's backends are process-global, and the Step Functions interpreter
calls services at localhost:$MOTO_PORT.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from io import BytesIO
from pathlib import Path
from types import ModuleType
from urllib.parse import parse_qs

from moto.core.base_backend import BackendDict
from moto.core.config import default_user_config
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from local_aws import ACCOUNT_ID, REGION, patches, principal, settings
from local_aws.backends import LocalBackend
from local_aws.iam import documents, gate, identity, roles, service_roles, sts  # noqa: F401  (they declare patches)
from local_aws.services import service_modules
from local_aws.state import store as state_store

log = logging.getLogger("local_aws")

HEALTH_PATH = "/_local_aws/health"
PATCHES_PATH = "/_local_aws/patches"
# Actions that only read. Anything else is taken to change state (committing a read costs time, never data).
READ_ACTION_PREFIXES = ("Get", "Describe", "List", "BatchGet", "Search", "Lookup", "Head", "Select", "Validate")
_SERVICE_KEY = "local_aws.service"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def describe_call(environ: dict) -> tuple[str, str]:
    """(service, action) of a request, from its SigV4 scope and its X-Amz-Target, query or path."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    service = "?"
    if "Credential=" in auth:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        if len(scope) >= 4:
            service = scope[3]
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return service, target.rsplit(".", 1)[-1]
    query = environ.get("QUERY_STRING", "")
    for part in query.split("&"):
        if part.startswith("Action="):
            return service, part[len("Action="):]
    return service, f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}"


def _action(environ: dict) -> str:
    """The API action of a non-S3 request: X-Amz-Target, Action= (query or form body), or the last path segment
    (REST-JSON APIs such as Lake Formation name the action there)."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.rsplit(".", 1)[-1]
    action = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
    if action:
        return action[0]
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = BytesIO(body)  # moto reads it again
        action = parse_qs(body.decode(errors="replace")).get("Action")
        if action:
            return action[0]
    return environ.get("PATH_INFO", "").rstrip("/").rsplit("/", 1)[-1]


def request_changes_state(environ: dict) -> bool:
    """False for requests that only read (GET/HEAD, or an action named Get*, Describe*, List*...). Call before
    moto handles the request: a form-encoded body is read here and put back."""
    if environ.get("REQUEST_METHOD", "GET") in ("GET", "HEAD", "OPTIONS"):
        return False
    return not _action(environ).startswith(READ_ACTION_PREFIXES)


def s3_bucket_of(environ: dict) -> str | None:
    """The bucket a path-style (or s3 virtual-host-style) request names."""
    host = environ.get("HTTP_HOST", "").split(":", 1)[0]
    if ".s3." in host or host.endswith(".s3.amazonaws.com") or ".s3-" in host:
        return host.split(".s3", 1)[0] or None
    path = environ.get("PATH_INFO", "").lstrip("/")
    return path.split("/", 1)[0] or None


class _Dispatcher(DomainDispatcherApplication):
    """moto's dispatcher, remembering which moto service served the request."""

    def __call__(self, environ, start_response):
        app = self.get_application(environ)
        environ[_SERVICE_KEY] = getattr(app, "service", None)
        return app(environ, start_response)


class LocalAWS:
    """Start on enter, stop on exit. With ``state_dir``, every acknowledged change is on disk there."""

    def __init__(self, port: int = 4566, state_dir: Path | str | None = None, host: str = "127.0.0.1"):
        self.host = host
        self.port = port or free_port(host)
        self.state_dir = Path(state_dir).resolve() if state_dir else None
        self.region = REGION
        self.account_id = ACCOUNT_ID
        connect_host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        self.endpoint_url = f"http://{connect_host}:{self.port}"
        self.modules: list[ModuleType] = []
        self.store: state_store.StateStore | None = None
        self.settings: settings.Settings | None = None
        self._server = None
        self._thread: threading.Thread | None = None
        self._started = 0.0

    # -- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> LocalAWS:
        self.settings = settings.current()  # SettingsError names the variable
        os.environ["MOTO_PORT"] = str(self.port)
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
        os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
        # Step Functions must interpret ASL; set before any state machine exists (it selects the store).
        default_user_config["stepfunctions"]["execute_state_machine"] = True
        self.modules = service_modules()
        patches.apply_all()
        stale = patches.version_mismatches()
        if stale:
            log.warning("%d moto patch(es) were checked against another moto release: %s", len(stale), stale)
        if self.state_dir:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            self.store = state_store.StateStore(self.state_dir / "state", fsync=self.settings.fsync == "on")
            counts = self.store.load()
            state_store.activate(self.store)
            for module in self.modules:
                if hasattr(module, "restored"):
                    module.restored(self)
            log.info("state restored from %s: %s", self.state_dir, counts)
        for module in self.modules:
            if hasattr(module, "install"):
                module.install(self)
        if not log.isEnabledFor(logging.DEBUG):
            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # our own line per call is at debug
        app = _Dispatcher(create_backend_app)
        self._server = make_server(self.host, self.port, self._wrap(app), threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-aws", daemon=True)
        self._thread.start()
        self._started = time.monotonic()
        log.info("local AWS listening on %s (state: %s)", self.endpoint_url, self.state_dir or "memory")
        return self

    def stop(self) -> None:
        if not self._server:
            return
        self._server.shutdown()
        self._thread.join()
        self._server = None
        for module in self.modules:
            if hasattr(module, "shutdown"):
                try:
                    module.shutdown(self)
                except Exception:  # keep stopping the others
                    log.exception("shutting down %s failed", module.__name__)
        for backend_dict in list(BackendDict._instances):
            for _, _, backend in list(backend_dict.iter_backends()):
                if isinstance(backend, LocalBackend):
                    backend.shutdown()
        if self.store is not None:
            self.store.commit()  # what engines changed as they stopped
            log.info("state: %d commits, %.2f s writing them", self.store.commits, self.store.commit_seconds)
            self.store.close()
            state_store.activate(None)
            self.store = None
        log.info("local AWS stopped")

    def __enter__(self) -> LocalAWS:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- WSGI -----------------------------------------------------------------------------------------------
    def _health(self) -> Response:
        body = {
            "status": "running",
            "endpoint": self.endpoint_url,
            "uptime_seconds": round(time.monotonic() - self._started, 1),
            "state_dir": str(self.state_dir) if self.state_dir else None,
            "services": [m.__name__.rsplit(".", 1)[-1] for m in self.modules],
            "patches_applied": len(patches.applied()),
            "commits": self.store.commits if self.store else 0,
            "commit_seconds": round(self.store.commit_seconds, 3) if self.store else 0.0,
        }
        return Response(json.dumps(body), mimetype="application/json")

    def _commit(self, environ: dict, changes_state: bool) -> None:
        store = self.store
        if store is None:
            return
        service = environ.get(_SERVICE_KEY)
        if service == "moto_api" and environ.get("PATH_INFO", "").endswith("/reset"):
            store.clear()
            return
        if service == "s3":  # REST: every PUT, POST and DELETE changes something (S3 Select reads, rarely)
            changes_state = environ.get("REQUEST_METHOD") not in ("GET", "HEAD", "OPTIONS")
        if changes_state:
            store.commit_for_request(service, s3_bucket_of(environ) if service == "s3" else None, True)

    def _wrap(self, app):
        def application(environ, start_response):
            path = environ.get("PATH_INFO")
            if path == HEALTH_PATH:
                return self._health()(environ, start_response)
            if path == PATCHES_PATH:
                return Response(json.dumps(patches.applied()), mimetype="application/json")(environ, start_response)
            started = time.perf_counter()
            status_seen = []

            def recording_start_response(status, headers, exc_info=None):
                status_seen.append(status.split(" ", 1)[0])
                return start_response(status, headers, exc_info)

            try:
                # Who is calling and may they (IAM); the caller is then the principal Lake Formation and the
                # services see (moto builds the whole response inside app()).
                admission = gate.admit(environ)
                if admission.refusal is not None:
                    return admission.refusal(environ, recording_start_response)
                changes_state = self.store is not None and request_changes_state(environ)
                with principal.acting_as(admission.caller):
                    result = app(environ, recording_start_response)
                if admission.service:
                    result = gate.after(admission, status_seen[0] if status_seen else "", result)
                # Durable before acknowledged: the server sends status and body only once we return.
                self._commit(environ, changes_state)
                if path == "/moto-api/reset":
                    identity.forget()  # the keys and role sessions it knew are gone
                    roles.forget()
                return result
            finally:
                if log.isEnabledFor(logging.DEBUG):
                    service, action = describe_call(environ)
                    # The caller's User-Agent rides along (not printed): the Amazon provider names the operator,
                    # sensor or trigger in it ("Caller/..."), which is how bench/ attributes calls to tasks.
                    log.debug("%s %s %s %.0f ms", service, action, status_seen[0] if status_seen else "-",
                              (time.perf_counter() - started) * 1000,
                              extra={"aws_call": (service, action),
                                     "user_agent": environ.get("HTTP_USER_AGENT", "")})

        return application
