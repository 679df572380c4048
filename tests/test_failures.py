"""The failure report (pipeline_tools.failures) on recorded REST API answers: the failed task, its error, its log."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from types import SimpleNamespace

from airflow_client.client import DAGRunResponse, TaskInstanceCollectionResponse
from rich.console import Console

from pipeline_tools.failures import collect, dags_test_section, print_failures, read_log

DATA = Path(__file__).parent / "data" / "airflow_api"


def log(name: str) -> list[dict]:
    """The recorded answer's log lines."""
    return json.loads((DATA / name).read_text())["content"]


class RecordedTaskInstanceApi:
    """Answers as the api-server did at the end of the recorded failed run."""

    def __init__(self, log_file: str):
        with gzip.open(DATA / "failed_run.json.gz", "rt") as f:
            self._final = json.dumps(json.load(f)[-1])
        self._log_file = log_file
        self.log_requests = []

    def get_task_instances(self, dag_id, dag_run_id, limit=None):
        return TaskInstanceCollectionResponse.from_json(self._final)

    def get_log_without_preload_content(self, dag_id, dag_run_id, task_id, try_number, full_content=None):
        self.log_requests.append((task_id, try_number))
        return SimpleNamespace(data=(DATA / self._log_file).read_bytes())


def test_the_log_gives_the_errors_with_the_exception_and_the_file_it_was_read_from():
    errors, paths = read_log(log("failed_try_log.json"))
    assert paths == ["/home/airflow/logs/dag_id=sales_pipeline_daily/run_id=manual__2026-11-30T13:21:39.927071+00:00/"
                     "task_id=transform.run_glue_job/attempt=3.log"]
    assert errors[-1].startswith("Task failed with exception: ParamValidationError: Parameter validation failed")
    assert any("Failed to create aws glue job" in e for e in errors)
    assert len(errors) == len(set(errors))


def test_a_dags_test_task_has_no_log_in_airflow():
    errors, paths = read_log(log("dags_test_try_log.json"))
    assert errors == [] and paths == []  # only "Could not read served logs"


def test_collect_asks_for_the_failed_try_s_log():
    api = RecordedTaskInstanceApi("failed_try_log.json")
    failures, upstream = collect(api, "sales_pipeline_daily", "run")
    assert [(f.task_id, f.try_number, f.max_tries, f.operator) for f in failures] == [
        ("transform.run_glue_job", 3, 3, "GlueJobOperator")]
    assert api.log_requests == [("transform.run_glue_job", 3)]
    assert len(upstream) == 11 and "validate.reconcile" in upstream


def test_the_report_names_the_task_its_error_and_its_log():
    run = DAGRunResponse.from_json((DATA / "failed_run_dag_run.json").read_text())
    console = Console(file=io.StringIO(), width=200)
    print_failures(console, RecordedTaskInstanceApi("failed_try_log.json"), "sales_pipeline_daily", run)
    out = console.file.getvalue()
    assert f"run {run.dag_run_id} is failed" in out
    assert "transform.run_glue_job (GlueJobOperator, try 3 of 3" in out
    assert "ParamValidationError: Parameter validation failed" in out
    assert "log: /home/airflow/logs/dag_id=sales_pipeline_daily/" in out
    assert "not run (upstream failed): crawl_aggregated.start_execution" in out


def test_a_dags_test_failure_points_at_the_command_s_output(tmp_path):
    console_log = tmp_path / "dags-test.log"
    console_log.write_text("\n".join([
        "2026-11-30T13:14:06Z [info     ] [DAG TEST] starting task_id=transform.run_glue_job map_index=-1",
        "2026-11-30T13:14:07Z [error    ] Task failed with exception: first try",
        "2026-11-30T13:14:07Z [info     ] [DAG TEST] end task task_id=transform.run_glue_job map_index=-1",
        "2026-11-30T13:15:06Z [info     ] [DAG TEST] starting task_id=transform.run_glue_job map_index=-1",
        "2026-11-30T13:15:06Z [info     ] Initializing AWS Glue Job: no-such-job",
        "2026-11-30T13:15:07Z [error    ] Task failed with exception: last try",
        "2026-11-30T13:15:07Z [info     ] [DAG TEST] end task task_id=transform.run_glue_job map_index=-1",
        "2026-11-30T13:15:08Z [error    ] something after the task",
    ]))
    section = dags_test_section(console_log, "transform.run_glue_job")
    assert len(section) == 4 and "last try" in section[2]
    run = DAGRunResponse.from_json((DATA / "failed_run_dag_run.json").read_text())
    console = Console(file=io.StringIO(), width=300)
    print_failures(console, RecordedTaskInstanceApi("dags_test_try_log.json"), "sales_pipeline_daily", run,
                   console_log=console_log)
    out = console.file.getvalue()
    assert "last try" in out and "first try" not in out and "after the task" not in out
    assert f"log: {console_log} (airflow dags test ran the task in its own process" in out
