"""Start a Glue job script in a local job process: ``python launch.py <script> <args...>`` (a cold run), or
``prepare()`` from a pre-started driver (``local_aws/gluejob/warm_driver.py``) once it has its job.

``prepare()`` makes s3:// paths work in PySpark (``local_glue_job.s3``). ``watch_parent()`` ends the process group
(this driver and its Spark JVM) when the local AWS that started it is gone, even after a ``kill -9`` of the
server: the runner passes its pid in ``LOCAL_AWS_SERVER_PID`` and a daemon thread checks once a second that it is
still this process's parent (a dead parent's children are re-parented). PR_SET_PDEATHSIG cannot do this: it fires
when the *thread* that forked the child exits, and the server starts drivers from short-lived request threads.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import runpy
import signal
import sys
import threading
import time

WATCH_SECONDS = 1.0


def _watch(server_pid: int) -> None:
    while True:
        time.sleep(WATCH_SECONDS)
        if os.getppid() != server_pid:
            print(f"local AWS: the local AWS (pid {server_pid}) is gone; stopping this Glue job process group",
                  file=sys.stderr, flush=True)
            os.killpg(os.getpgid(0), signal.SIGKILL)


def watch_parent() -> None:
    """Start the parent watchdog (once; nothing when ``LOCAL_AWS_SERVER_PID`` is unset)."""
    value = os.environ.get("LOCAL_AWS_SERVER_PID")
    if not value or any(t.name == "local-aws-parent-watchdog" for t in threading.enumerate()):
        return
    server_pid = int(value)
    if os.getppid() != server_pid:  # already orphaned before we could look
        os.killpg(os.getpgid(0), signal.SIGKILL)
    threading.Thread(target=_watch, args=(server_pid,), name="local-aws-parent-watchdog", daemon=True).start()


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs a hook right after one module is imported, so a script that never imports PySpark does not pay for
    it (and sees the modules a plain ``python script.py`` would)."""

    def __init__(self, module: str, hook):
        self.module, self.hook = module, hook

    def find_spec(self, fullname, path, target=None):
        if fullname != self.module:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        exec_module, hook = spec.loader.exec_module, self.hook

        def exec_then_hook(module):
            exec_module(module)
            hook()

        spec.loader.exec_module = exec_then_hook
        return spec


def prepare() -> None:
    """Ready this process for a job script: s3:// paths in PySpark (set up when PySpark's readers load)."""
    from local_glue_job import s3

    if "pyspark.sql.readwriter" in sys.modules:
        s3.install_pyspark_hooks()
    elif not any(isinstance(f, _AfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport("pyspark.sql.readwriter", s3.install_pyspark_hooks))


def main(argv: list[str]) -> None:
    watch_parent()
    prepare()
    script = argv[0]
    sys.argv = list(argv)
    sys.path[0] = os.path.dirname(os.path.abspath(script))  # as `python script.py` sets it
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
