"""Benchmarks (`make bench`): scripts that print figures and write bench/results.md; never part of the tests."""

import sys

from pipeline_tools.airflow_env import REPO

# The DAGs' shared code lives in plugins/, which Airflow puts on sys.path; the benchmarks import it the same way.
if str(REPO / "plugins") not in sys.path:
    sys.path.append(str(REPO / "plugins"))
