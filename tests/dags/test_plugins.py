"""Unit tests of the plugins: execution names, statement errors, the sensor's edge cases, reconciliation."""

from __future__ import annotations

import json
import re
from unittest import mock

import pytest
from conftest import REPO

from sales_pipeline.naming import execution_name
from sales_pipeline.reconcile import ReconciliationError, reconcile_day
from sales_pipeline.redshift_statement_sensor import (
    RedshiftStatementFailedError,
    RedshiftStatementSensor,
    statement_error,
)
from sales_pipeline.stages import REDSHIFT_STAGES, STATE_MACHINE_GATE, state_machine_sql

SFN_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def test_execution_name_is_deterministic_valid_and_distinct():
    run = "scheduled__2021-12-01T00:00:00+00:00"
    name = execution_name("sales_pipeline_daily", "redshift_load.start_execution", run, 1)
    assert name == execution_name("sales_pipeline_daily", "redshift_load.start_execution", run, 1)
    assert SFN_NAME.match(name), name
    assert name.startswith("redshift_load-scheduled__2021-12-01T00-00-00-00-00")
    others = {
        execution_name("sales_pipeline_daily", "redshift_load.start_execution", run, 2),
        execution_name("sales_pipeline_daily", "redshift_ddl.start_execution", run, 1),
        execution_name("sales_pipeline_daily", "redshift_load.start_execution", run + "x", 1),
    }
    assert name not in others and len(others) == 3
    long_run = "manual__" + "2021-12-01T00:00:00.123456+00:00" * 5
    assert SFN_NAME.match(execution_name("d" * 200, "t" * 200, long_run, 12))


def test_stage_sql_files_exist():
    for files in REDSHIFT_STAGES.values():
        for path in files:
            assert (REPO / "include" / "sql" / path).is_file(), path
    assert state_machine_sql()["load"] == [
        "{% include 'redshift/delete_sales_day.sql' %}", "{% include 'redshift/copy_sales_day.sql' %}"]
    assert (REPO / "include" / "sql" / STATE_MACHINE_GATE).is_file()
    assert state_machine_sql()["gate"] == "{% include 'redshift/select_day_load_check.sql' %}"


def test_statement_error_names_failing_sub_statement():
    description = {
        "Id": "abc", "Status": "FAILED", "Error": "ERROR: relation \"sales\" does not exist",
        "SubStatements": [
            {"Id": "abc:1", "Status": "FINISHED", "QueryString": "delete from sales"},
            {"Id": "abc:2", "Status": "FAILED", "Error": "relation \"sales\" does not exist",
             "QueryString": "copy sales\n from 's3://b/p/'"},
        ],
    }
    message = statement_error(description)
    assert message.startswith('Redshift statement abc ended FAILED: ERROR: relation "sales" does not exist')
    assert "sub-statement abc:2 [copy sales from 's3://b/p/']" in message
    assert "abc:1" not in message


def sensor(**kwargs):
    return RedshiftStatementSensor(task_id="wait", statement_id="abc", poke_interval=0, timeout=5, **kwargs)


@pytest.mark.parametrize("status", ["FAILED", "ABORTED"])
def test_sensor_fails_with_redshift_error(status):
    s = sensor(deferrable=False)
    with mock.patch.object(RedshiftStatementSensor, "_describe",
                           return_value={"Id": "abc", "Status": status, "Error": "permission denied"}):
        with pytest.raises(RedshiftStatementFailedError, match=f"abc ended {status}: permission denied"):
            s.poke({})


def test_sensor_pokes_until_finished():
    s = sensor(deferrable=False)
    states = iter(["SUBMITTED", "STARTED", "FINISHED"])
    with mock.patch.object(RedshiftStatementSensor, "_describe",
                           side_effect=lambda: {"Id": "abc", "Status": next(states)}):
        assert [s.poke({}) for _ in range(3)] == [False, False, True]


def test_deferrable_sensor_returns_at_once_when_already_finished():
    s = sensor(deferrable=True)
    done = {"Id": "abc", "Status": "FINISHED", "ResultRows": 7, "Duration": 5, "CreatedAt": object()}
    with mock.patch.object(RedshiftStatementSensor, "_describe", return_value=done), \
            mock.patch.object(RedshiftStatementSensor, "defer") as defer:
        assert s.execute({}) == {"Id": "abc", "Status": "FINISHED", "ResultRows": 7, "Duration": 5}
    defer.assert_not_called()


def test_deferrable_sensor_defers_while_running_and_reports_error_on_resume():
    from airflow.providers.amazon.aws.triggers.redshift_data import RedshiftDataTrigger

    s = sensor(deferrable=True)
    with mock.patch.object(RedshiftStatementSensor, "_describe", return_value={"Id": "abc", "Status": "STARTED"}), \
            mock.patch.object(RedshiftStatementSensor, "defer") as defer:
        s.execute({})
    trigger = defer.call_args.kwargs["trigger"]
    assert isinstance(trigger, RedshiftDataTrigger) and trigger.statement_id == "abc"
    failed = {"Id": "abc", "Status": "FAILED", "Error": "syntax error at or near \"selec\""}
    with mock.patch.object(RedshiftStatementSensor, "_describe", return_value=failed):
        with pytest.raises(RedshiftStatementFailedError, match="syntax error"):
            s.execute_complete({}, {"status": "error", "message": "long dump"})


def test_empty_statement_id_is_a_clear_error():
    from airflow.providers.common.compat.sdk import AirflowException

    s = RedshiftStatementSensor(task_id="wait", statement_id="{{ ti.xcom_pull(task_ids='nothing') }}")
    s.statement_id = ""  # what the template renders when the upstream pushed nothing
    with pytest.raises(AirflowException, match="needs a statement Id"):
        s.execute({})


def test_exactly_one_of_statement_id_and_execution_arn():
    for kwargs in ({}, {"statement_id": "abc", "execution_arn": "arn:aws:states:::execution:m:e"}):
        with pytest.raises(ValueError, match="exactly one of statement_id and execution_arn"):
            RedshiftStatementSensor(task_id="wait", **kwargs)


EXECUTION_ARN = "arn:aws:states:us-east-1:111122223333:execution:RedshiftQuery:load"


def execution_sensor(**kwargs):
    return RedshiftStatementSensor(task_id="wait", execution_arn=EXECUTION_ARN, poke_interval=0, timeout=5, **kwargs)


def test_statement_outcome_read_from_the_execution_output_without_the_data_api():
    """The statement belongs to the state machine's role: Airflow's role never describes it (see the sensor)."""
    from airflow.providers.amazon.aws.hooks.step_function import StepFunctionHook

    s = execution_sensor(deferrable=True)
    execution = {"status": "SUCCEEDED",
                 "output": '{"Id": "stmt-1", "Status": "FINISHED", "ResultRows": 3, "Duration": 12}'}
    with mock.patch("sales_pipeline.redshift_statement_sensor.StepFunctionHook") as hook, \
            mock.patch.object(RedshiftStatementSensor, "_describe") as describe, \
            mock.patch.object(RedshiftStatementSensor, "defer") as defer:
        hook.return_value.describe_execution.return_value = execution
        assert s.execute({}) == {"Id": "stmt-1", "Status": "FINISHED", "ResultRows": 3, "Duration": 12}
    describe.assert_not_called()
    defer.assert_not_called()
    hook.return_value.describe_execution.assert_called_once_with(EXECUTION_ARN)
    # The hook is built with the sensor's connection settings, under the names the hook class takes.
    hook.assert_called_once_with(aws_conn_id="aws_default", region_name=None, verify=None, config=None)
    StepFunctionHook(**hook.call_args.kwargs)


def test_failed_statement_in_the_execution_output_fails_with_its_error():
    s = execution_sensor()
    output = {"Id": "stmt-9", "Status": "FAILED", "Error": "relation \"sales\" does not exist"}
    with mock.patch("sales_pipeline.redshift_statement_sensor.StepFunctionHook") as hook:
        hook.return_value.describe_execution.return_value = {"status": "SUCCEEDED", "output": json.dumps(output)}
        with pytest.raises(RedshiftStatementFailedError, match='stmt-9 ended FAILED: relation "sales"'):
            s.execute({})


def test_resumed_sensor_takes_the_statement_from_the_trigger_event():
    s = RedshiftStatementSensor(task_id="wait", statement_id="{{ ti.xcom_pull('x') }}", deferrable=True)
    s.statement_id = None  # as if the template rendered empty in a fresh instance after the deferral
    with mock.patch.object(RedshiftStatementSensor, "_describe",
                           side_effect=lambda: {"Id": s.statement_id, "Status": "FINISHED"}):
        assert s.execute_complete({}, {"status": "success", "statement_id": "stmt-2"})["Id"] == "stmt-2"


@pytest.mark.parametrize(("execution", "message"), [
    ({"status": "FAILED", "error": "RedshiftData.ValidationException", "cause": "bad sql"}, "is FAILED.*bad sql"),
    ({"status": "SUCCEEDED", "output": '{"Status": "FINISHED"}'}, "names no statement Id"),
    ({"status": "SUCCEEDED", "output": '{"Id": "stmt-1"}'}, "names no statement Id"),
    ({"status": "SUCCEEDED", "output": "not json"}, "names no statement Id"),
    ({"status": "SUCCEEDED", "output": '["a list"]'}, "names no statement Id"),
    ({"status": "SUCCEEDED", "output": '{"Id": "stmt-1", "Status": "STARTED"}'}, "ends only on FINISHED"),
])
def test_execution_without_a_finished_statement_is_a_clear_error(execution, message):
    from airflow.providers.common.compat.sdk import AirflowException

    s = execution_sensor(deferrable=True)
    with mock.patch("sales_pipeline.redshift_statement_sensor.StepFunctionHook") as hook:
        hook.return_value.describe_execution.return_value = execution
        with pytest.raises(AirflowException, match=message):
            s.execute({})


MANIFEST = {"run_date": "2021-12-01", "rows_in": 100, "rows_out": 95, "rows_rejected": 5,
            "rejected_by_reason": {"bad_price": 3, "duplicate": 2}}


def test_reconcile_day_agrees():
    summary = reconcile_day(
        manifest=MANIFEST, raw_rows=100,
        processed={"row_count": "95", "revenue": "1234.50"},
        warehouse={"row_count": 95, "revenue": "1234.50"},
        aggregated={"row_count": "95", "revenue": 1234.5},
    )
    assert summary["processed_rows"] == 95 and summary["rejected_rows"] == 5
    assert summary["revenue_redshift"] == summary["revenue_athena"] == "1234.50"


def test_reconcile_day_lists_every_mismatch():
    with pytest.raises(ReconciliationError) as err:
        reconcile_day(
            manifest={**MANIFEST, "rows_rejected": 4}, raw_rows=101,
            processed={"row_count": "95", "revenue": "1234.50"},
            warehouse={"row_count": 190, "revenue": "2469.00"},
            aggregated={"row_count": "95", "revenue": "1234.50"},
        )
    message = str(err.value)
    assert "rows_in 100 != rows_out 95 + rejected 4" in message
    assert "raw rows in the catalog 101" in message
    assert "warehouse (Redshift) rows 190" in message
    assert "processed (Athena) revenue 1234.50 != Redshift revenue 2469.00" in message


def test_sensor_imports_where_common_compat_has_no_sdk_module(monkeypatch):
    """Airflow 3.0.x environments (e.g. MWAA 3.0.6) carry a common-compat without `sdk`; the sensor falls back."""
    import importlib
    import sys

    import sales_pipeline.redshift_statement_sensor as sensor_module

    monkeypatch.setitem(sys.modules, "airflow.providers.common.compat.sdk", None)  # import now raises ImportError
    try:
        fallback = importlib.reload(sensor_module)
        from airflow.exceptions import AirflowException

        assert fallback.AirflowException is AirflowException
        assert issubclass(fallback.RedshiftStatementFailedError, AirflowException)
        assert fallback.RedshiftStatementSensor(task_id="t", statement_id="s").deferrable in (True, False)
    finally:
        monkeypatch.undo()
        importlib.reload(sensor_module)
