"""`python -m local_aws serve` as a user runs it, for tests that restart the server or signal it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from local_aws.server import HEALTH_PATH


def start_server(state_dir: Path, port: int, **env: str) -> tuple[subprocess.Popen, str]:
    """Start a server keeping its state in state_dir; return it and its URL once healthy."""
    log = open(Path(state_dir).parent / f"server-{port}.log", "a")  # noqa: SIM115 - the child writes to it
    proc = subprocess.Popen([sys.executable, "-m", "local_aws", "serve", "--port", str(port),
                             "--state-dir", str(state_dir)], stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, **env})
    proc.log_path = log.name
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited: {Path(proc.log_path).read_text()[-3000:]}")
        try:
            if requests.get(url + HEALTH_PATH, timeout=1).ok:
                from tests.unit_test_roles import (
                    create_unit_test_roles,  # services act as these roles (authorization on)
                )

                create_unit_test_roles(url)
                return proc, url
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    pytest.fail("server not healthy within 60 s")


def stop_server(proc: subprocess.Popen) -> str:
    """SIGTERM, as a supervisor stops it: it must save its state and exit 0. Returns its output."""
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    output = Path(proc.log_path).read_text()
    assert proc.returncode == 0, output[-3000:]
    return output
