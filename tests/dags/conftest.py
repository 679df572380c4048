"""Point Airflow at this repo's dags/ and plugins/ before anything imports it."""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

os.environ.setdefault("AIRFLOW_HOME", str(REPO / ".state" / "airflow-test"))
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"

# Airflow puts the plugins folder on sys.path when it starts; unit tests import the plugins directly.
if str(REPO / "plugins") not in sys.path:
    sys.path.insert(0, str(REPO / "plugins"))
