"""The Glue sales job run on the Glue 5.0 runtime (PySpark 3.5.4, Python 3.11) from a test on the dev venv.

``GlueRuntimeSession`` starts this file with the runtime's interpreter (``local_aws.gluejob.runtimes``) as a
worker holding one local Spark session, like the test suite's own session fixtures did in-process, and hands it
``sales_job.run`` calls one at a time: one JSON line ``{"args": {...}}`` in, one reply line out
(``{"manifest": {...}}`` or ``{"error": {"type", "message"}}``), so a module pays Spark's start-up once.
The worker imports only the standard library, pyspark and the job script: what a Glue job has.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPLY = "GLUE-RUNTIME-REPLY "  # marks the worker's reply lines among anything else on its stdout
REPO = Path(__file__).resolve().parents[1]


class GlueRuntimeError(Exception):
    """A job failure inside the Glue runtime other than the job's own JobInputError/AssertionError."""


class GlueRuntimeSession:
    """A worker process on a Glue runtime, with one Spark session, running the sales job on request.

    ``versions``: {"pyspark", "spark", "python"} as the worker reports them (the JVM's Spark, not only the
    Python package's). ``run_sales_job(args)`` returns the manifest or raises the job's JobInputError (the
    dev-side class, so tests can match it), AssertionError, or GlueRuntimeError("<type>: <message>").
    """

    def __init__(self, python: str, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "worker.log"  # Spark's log; a pipe nobody reads would fill and block it
        env = {**os.environ, "PYTHONPATH": str(REPO), "SPARK_LOCAL_IP": "127.0.0.1", "PYTHONUNBUFFERED": "1"}
        for name in ("SPARK_HOME", "PYSPARK_DRIVER_PYTHON", "PYSPARK_PYTHON", "VIRTUAL_ENV"):
            env.pop(name, None)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [python, __file__], cwd=workdir, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=log, text=True,
            )
        self.versions = self._reply()["ready"]

    def _reply(self) -> dict:
        while True:
            line = self.process.stdout.readline()
            if not line:
                tail = self.log_path.read_text(errors="replace")[-3000:]
                raise GlueRuntimeError(f"the Glue runtime worker exited ({self.process.wait()}):\n{tail}")
            if line.startswith(REPLY):
                return json.loads(line[len(REPLY):])

    def run_sales_job(self, args: dict[str, str]) -> dict:
        from include.glue import sales_job

        self.process.stdin.write(json.dumps({"args": args}) + "\n")
        self.process.stdin.flush()
        reply = self._reply()
        if "manifest" in reply:
            return reply["manifest"]
        kind, message = reply["error"]["type"], reply["error"]["message"]
        if kind == "JobInputError":
            raise sales_job.JobInputError(message)
        if kind == "AssertionError":
            raise AssertionError(message)
        raise GlueRuntimeError(f"{kind}: {message}")

    def close(self) -> None:
        self.process.stdin.close()  # end of input: the worker stops Spark and exits
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()


def _serve() -> None:
    """The worker (runs on the Glue runtime's interpreter)."""
    import platform

    import pyspark
    from pyspark.sql import SparkSession

    from include.glue import sales_job

    def reply(body: dict) -> None:
        sys.stdout.write(REPLY + json.dumps(body) + "\n")
        sys.stdout.flush()

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("test-glue-job")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .getOrCreate()
    )
    reply({"ready": {"pyspark": pyspark.__version__, "spark": spark.version,
                     "python": platform.python_version()}})
    try:
        for line in sys.stdin:
            args = json.loads(line)["args"]
            try:
                reply({"manifest": sales_job.run(spark, args)})
            except Exception as exc:  # reported to the test, which decides what it expected
                reply({"error": {"type": type(exc).__name__, "message": str(exc)}})
    finally:
        spark.stop()


if __name__ == "__main__":
    _serve()
