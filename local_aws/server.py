"""The local AWS server: moto's WSGI app plus our service modules, on one loopback port.

    with LocalAWS(port=0, state_dir=Path(".state/aws")) as aws:
        boto3.client("s3", endpoint_url=aws.endpoint_url)

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
from pathlib import Path
from types import ModuleType

from moto.core.config import default_user_config
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from local_aws import ACCOUNT_ID, REGION
from local_aws.services import service_modules

log = logging.getLogger("local_aws")

HEALTH_PATH = "/_local_aws/health"
# Saving state periodically bounds what a crash (not a clean stop) can lose.
AUTOSAVE_SECONDS = 30


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


class LocalAWS:
    """Start on enter, stop (saving state) on exit."""

    def __init__(self, port: int = 4566, state_dir: Path | str | None = None, host: str = "127.0.0.1"):
        self.host = host
        self.port = port or free_port(host)
        self.state_dir = Path(state_dir).resolve() if state_dir else None
        self.region = REGION
        self.account_id = ACCOUNT_ID
        connect_host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        self.endpoint_url = f"http://{connect_host}:{self.port}"
        self.modules: list[ModuleType] = []
        self._server = None
        self._thread: threading.Thread | None = None
        self._stop_autosave = threading.Event()
        self._save_lock = threading.Lock()
        self._started = 0.0

    # -- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> LocalAWS:
        os.environ["MOTO_PORT"] = str(self.port)
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
        os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
        # Step Functions must interpret ASL; set before any state machine exists (it selects the store).
        default_user_config["stepfunctions"]["execute_state_machine"] = True
        if self.state_dir:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        self.modules = service_modules()
        for module in self.modules:
            if self.state_dir and hasattr(module, "load_state"):
                module.load_state(self)
        for module in self.modules:
            if hasattr(module, "install"):
                module.install(self)
        if not log.isEnabledFor(logging.DEBUG):
            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # our own line per call is at debug
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(self.host, self.port, self._wrap(app), threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-aws", daemon=True)
        self._thread.start()
        self._started = time.monotonic()
        if self.state_dir:
            threading.Thread(target=self._autosave, name="local-aws-autosave", daemon=True).start()
        log.info("local AWS listening on %s (state: %s)", self.endpoint_url, self.state_dir or "memory")
        return self

    def stop(self) -> None:
        if not self._server:
            return
        self._stop_autosave.set()
        self._server.shutdown()
        self._thread.join()
        self._server = None
        self.save_state()
        for module in self.modules:
            if hasattr(module, "shutdown"):
                try:
                    module.shutdown(self)
                except Exception:  # keep stopping the others
                    log.exception("shutting down %s failed", module.__name__)
        log.info("local AWS stopped")

    def __enter__(self) -> LocalAWS:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- state ----------------------------------------------------------------------------------------------
    def save_state(self) -> None:
        if not self.state_dir:
            return
        with self._save_lock:
            for module in self.modules:
                if hasattr(module, "save_state"):
                    try:
                        module.save_state(self)
                    except Exception:  # one service's failure must not lose the others' state
                        log.exception("saving the state of %s failed", module.__name__)

    def _autosave(self) -> None:
        # LOCAL_AWS_AUTOSAVE_SECONDS bounds what a crash (SIGKILL, power loss) can lose.
        interval = float(os.environ.get("LOCAL_AWS_AUTOSAVE_SECONDS", AUTOSAVE_SECONDS))
        while not self._stop_autosave.wait(interval):
            self.save_state()

    # -- WSGI -----------------------------------------------------------------------------------------------
    def _health(self) -> Response:
        body = {
            "status": "running",
            "endpoint": self.endpoint_url,
            "uptime_seconds": round(time.monotonic() - self._started, 1),
            "state_dir": str(self.state_dir) if self.state_dir else None,
            "services": [m.__name__.rsplit(".", 1)[-1] for m in self.modules],
        }
        return Response(json.dumps(body), mimetype="application/json")

    def _wrap(self, app):
        def application(environ, start_response):
            if environ.get("PATH_INFO") == HEALTH_PATH:
                return self._health()(environ, start_response)
            started = time.perf_counter()
            status_seen = []

            def recording_start_response(status, headers, exc_info=None):
                status_seen.append(status.split(" ", 1)[0])
                return start_response(status, headers, exc_info)

            try:
                return app(environ, recording_start_response)
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



