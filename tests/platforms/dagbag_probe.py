"""Parse a DAG folder with whatever Airflow runs this script and print what a test needs, as JSON.

    <venv>/bin/python tests/dagbag_probe.py DAG_FOLDER

Run in a subprocess (another venv's Airflow, a packaged folder, no repository on sys.path). Prints
{"airflow": version, "errors": {file: traceback tail}, "dags": {dag_id: {"searchpath": [...], "sql": {name: file}}},
 "modules": {module: file}}; a template name that no search path holds maps to null.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SQL_PROBES = ("redshift/copy_sales_day.sql", "redshift/unload_daily_sales_revenue.sql", "athena/raw_day_count.sql")


def main(folder: str) -> None:
    import airflow
    import jinja2
    from airflow.dag_processing import dagbag

    # As Airflow's DAG processor and task runner do for the local DAG bundle: the bundle's folder joins sys.path,
    # which is how the MWAA layout's dags/sales_pipeline/ is importable.
    if hasattr(dagbag, "BundleDagBag"):
        bag = dagbag.BundleDagBag(dag_folder=folder, bundle_path=Path(folder))
    else:
        sys.path.append(folder)
        bag = dagbag.DagBag(dag_folder=folder)
    dags = {}
    for dag_id, dag in bag.dags.items():
        env = dag.get_template_env()
        found = {}
        for name in SQL_PROBES:
            try:
                found[name] = env.loader.get_source(env, name)[1]
            except jinja2.TemplateNotFound:
                found[name] = None
        dags[dag_id] = {"searchpath": list(dag.template_searchpath or []), "sql": found}
    modules = {name: getattr(module, "__file__", None) for name, module in sys.modules.items()
               if name == "sales_pipeline" or name.startswith("sales_pipeline.")}
    print(json.dumps({"airflow": airflow.__version__, "dags": dags, "modules": modules,
                      "errors": {path: text[-1500:] for path, text in bag.import_errors.items()}}))


if __name__ == "__main__":
    main(sys.argv[1])
