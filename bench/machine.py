"""A short description of the machine the figures were measured on."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime


def _first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


def describe() -> str:
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return "\n".join([
        f"- measured: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- cpu: {os.cpu_count()} x {cpu}",
        f"- memory: {mem_gb:.0f} GiB",
        f"- os: {platform.platform()}",
        f"- python: {platform.python_version()}, java: {_first_line(['java', '-version'])}",
    ])
