"""A pre-started Spark driver that runs exactly one Glue job script (started by ``warm_pool``, run by path).

It builds the SparkSession first (the 12-15 s JVM start a cold run pays), then waits on stdin for one JSON line:
``{"argv": [script, args...], "cwd": ..., "env": {...}, "driver_log": ...}``. It then takes the run's environment,
working directory and argv and runs the script as ``__main__``, so the script's ``getOrCreate()`` returns the
session already built. Exit code: the script's ``SystemExit`` as given, 1 with the traceback printed on any other
exception (the runner reads the last exception line from the driver log), else 0. End of input without a job
(the pool shut down, or the server died) stops Spark, removes the driver's directory (argv[1]) and exits 0.

Output: stdout and stderr are two files the pool created in this driver's own directory (driver.log and
driver-error.log); the runner renames them to the run's driver and error logs when it hands the job over. A
rename keeps the open file, so the start-up output and everything the JVM writes later (the JVM inherited the same
descriptors, which an ``os.dup2`` here could not reach) end up in the run's logs.

As with any ``getOrCreate()`` on a running session, the script's builder can change runtime SQL settings
(``spark.sql.*``) but not start-up ones: its ``appName`` and ``spark.driver.*`` options do not apply (the job's
scripts set none that matter; ``runner.SPARK_SUBMIT_ARGS`` is the same for cold and warm runs).

Only the standard library, pyspark and ``local_glue_job`` (on the PYTHONPATH the runner gives every job process)
are imported: the script must see the same modules a cold run (``local_glue_job/launch.py``) does. The parent
watchdog runs from the start, so a driver never outlives the local AWS; the s3:// hooks are set up per job.
"""

import json
import os
import runpy
import shutil
import sys
import traceback


def main(own_dir: str) -> int:
    from local_glue_job import launch
    from pyspark.sql import SparkSession

    launch.watch_parent()
    spark = SparkSession.builder.getOrCreate()
    print(f"local AWS: Spark driver pre-started (pid {os.getpid()}); waiting for a job run", flush=True)
    line = sys.stdin.readline()
    if not line.strip():
        spark.stop()
        shutil.rmtree(own_dir, ignore_errors=True)  # the pool may be gone (server killed): tidy up ourselves
        return 0
    job = json.loads(line)
    devnull = os.open(os.devnull, os.O_RDONLY)  # the script's stdin is empty, as in a cold run
    os.dup2(devnull, 0)
    os.close(devnull)
    os.environ.clear()
    os.environ.update(job["env"])
    os.chdir(job["cwd"])
    script = job["argv"][0]
    sys.argv = list(job["argv"])
    sys.path[0] = os.path.dirname(os.path.abspath(script))  # as `python script.py` sets it
    launch.prepare()
    # warm_pool.JOB_TAKEN_MARKER: tells a script's failure from a failed Spark start
    print(f"local AWS: running {script} on the pre-started driver; driver log {job['driver_log']}", flush=True)
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit:
        raise
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
