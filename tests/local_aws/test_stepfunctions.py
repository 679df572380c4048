"""Step Functions through boto3: the ASL constructs our machines use, on the local interpreter, and executions
across a crash of the server."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile

import boto3
import pytest
from server_process import start_server

from local_aws.server import free_port
from local_aws.services.stepfunctions import INTERRUPTED_ERROR

ROLE = "arn:aws:iam::123456789012:role/sfn-test"


@pytest.fixture(autouse=True)
def fast_waits(monkeypatch):
    monkeypatch.setenv("LOCAL_AWS_TIME_SCALE", "0.01")


@pytest.fixture(scope="module")
def sfn(boto_client):
    return boto_client("stepfunctions")


def machine(sfn, definition: dict) -> str:
    return sfn.create_state_machine(name=f"m-{uuid.uuid4().hex[:10]}", definition=json.dumps(definition),
                                    roleArn=ROLE)["stateMachineArn"]


def run(sfn, arn: str, payload: dict | None = None, name: str | None = None, timeout: float = 60) -> dict:
    kwargs = {"name": name} if name else {}
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload or {}), **kwargs)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.1)
    pytest.fail(f"execution still running after {timeout} s")


def zipped(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", source)
    return buffer.getvalue()


def test_choice_wait_pass_and_intrinsics(sfn):
    arn = machine(sfn, {"StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "Parameters": {"n.$": "$.n", "label.$": "States.Format('day {}', $.day)"},
                 "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [
            {"And": [{"Variable": "$.n", "IsPresent": True}, {"Variable": "$.n", "NumericGreaterThan": 2}],
             "Next": "Big"},
            {"Not": {"Variable": "$.label", "StringEquals": "x"}, "Next": "Wait"}]},
        "Wait": {"Type": "Wait", "Seconds": 30, "Next": "Small"},
        "Small": {"Type": "Pass", "Result": "small", "ResultPath": "$.size", "End": True},
        "Big": {"Type": "Pass", "Result": "big", "ResultPath": "$.size", "End": True}}})
    started = time.monotonic()
    result = run(sfn, arn, {"n": 1, "day": "2021-12-01"})
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"n": 1, "label": "day 2021-12-01", "size": "small"}
    assert time.monotonic() - started < 15  # the 30 s Wait ran at LOCAL_AWS_TIME_SCALE
    assert json.loads(run(sfn, arn, {"n": 5, "day": "d"})["output"])["size"] == "big"


def test_aws_sdk_error_is_named_as_aws_names_it_and_caught(sfn):
    arn = machine(sfn, {"StartAt": "Get", "States": {
        "Get": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:glue:getCrawler",
                "Parameters": {"Name": "no-such-crawler"},
                "Catch": [{"ErrorEquals": ["Glue.EntityNotFoundException"], "ResultPath": "$.error",
                           "Next": "Missing"}], "End": True},
        "Missing": {"Type": "Pass", "End": True}}})
    output = json.loads(run(sfn, arn)["output"])
    assert output["error"]["Error"] == "Glue.EntityNotFoundException"
    assert "no-such-crawler" in output["error"]["Cause"]


def test_fail_state_with_cause_path_and_retry(sfn):
    arn = machine(sfn, {"StartAt": "Get", "States": {
        "Get": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:glue:getCrawler",
                "Parameters": {"Name": "absent"},
                "Retry": [{"ErrorEquals": ["Glue.EntityNotFoundException"], "IntervalSeconds": 5,
                           "MaxAttempts": 2, "BackoffRate": 2}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}],
                "End": True},
        "Failed": {"Type": "Fail", "Error": "CrawlFailed", "CausePath": "$.error.Cause"}}})
    result = run(sfn, arn)
    assert result["status"] == "FAILED"
    assert result["error"] == "CrawlFailed" and "absent" in result["cause"]
    history = sfn.get_execution_history(executionArn=result["executionArn"])["events"]
    assert sum(e["type"] == "TaskFailed" for e in history) == 3  # the first try and two retries


def test_start_execution_sync2_returns_child_output_and_fails_with_child(sfn):
    child = machine(sfn, {"StartAt": "Echo", "States": {
        "Echo": {"Type": "Choice", "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "Boom"}],
                 "Default": "Done"},
        "Done": {"Type": "Pass", "Parameters": {"got.$": "$.value", "at.$": "$$.Execution.StartTime"},
                 "End": True},
        "Boom": {"Type": "Fail", "Error": "ChildFailed", "Cause": "asked to fail"}}})
    parent = machine(sfn, {"StartAt": "Child", "States": {"Child": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
        "Parameters": {"StateMachineArn": child, "Input": {"value.$": "$.value", "fail.$": "$.fail",
                                                           "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$":
                                                               "$$.Execution.Id"}},
        "ResultSelector": {"Output.$": "$.Output", "Status.$": "$.Status"}, "End": True}}})
    ok = run(sfn, parent, {"value": 7, "fail": False})
    assert ok["status"] == "SUCCEEDED"
    output = json.loads(ok["output"])
    assert output["Status"] == "SUCCEEDED" and output["Output"]["got"] == 7
    failed = run(sfn, parent, {"value": 7, "fail": True})
    assert failed["status"] == "FAILED" and failed["error"] == "States.TaskFailed"
    assert "ChildFailed" in failed["cause"]


def lambda_role(boto_client) -> str:
    iam = boto_client("iam")
    try:
        return iam.get_role(RoleName="lambda-test")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                          "Principal": {"Service": "lambda.amazonaws.com"}}]}
        return iam.create_role(RoleName="lambda-test", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


def test_lambda_invoke_integration_and_function_error(sfn, boto_client):
    lam = boto_client("lambda")
    name = f"fn-{uuid.uuid4().hex[:8]}"
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=lambda_role(boto_client),
                        Handler="handler.lambda_handler",
                        Code={"ZipFile": zipped(
                            "def lambda_handler(event, context):\n"
                            "    if event.get('bad'):\n        raise KeyError('date')\n"
                            "    return {'date': event['date'], 'function': context.function_name}\n")})
    arn = machine(sfn, {"StartAt": "Load", "States": {"Load": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": name, "Payload.$": "$"},
        "ResultSelector": {"result.$": "$.Payload"},
        "Catch": [{"ErrorEquals": ["KeyError"], "ResultPath": "$.error", "Next": "LoadFailed"}], "End": True},
        "LoadFailed": {"Type": "Fail", "Error": "LoadRawSalesFailed", "CausePath": "$.error.Cause"}}})
    ok = run(sfn, arn, {"date": "2021-12-01"})
    assert json.loads(ok["output"]) == {"result": {"date": "2021-12-01", "function": name}}
    failed = run(sfn, arn, {"bad": True})
    assert failed["status"] == "FAILED" and failed["error"] == "LoadRawSalesFailed"
    assert json.loads(failed["cause"])["errorType"] == "KeyError"


def test_named_and_unnamed_executions(sfn):
    arn = machine(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    first = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    second = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    assert first != second and not first.endswith(":None")
    run(sfn, arn, name="daily-2021-12-01")
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=arn, name="daily-2021-12-01", input='{"other": 1}')


def test_in_process_created_machine_executes_with_history_and_error(local_aws, sfn):
    from local_aws.services.stepfunctions import create_state_machine

    definition = {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 5, "Next": "F"},
        "F": {"Type": "Fail", "ErrorPath": "$.error", "CausePath": "$.cause"}}}
    created = create_state_machine(f"cfn-{uuid.uuid4().hex[:8]}", json.dumps(definition), ROLE,
                                   [{"key": "owner", "value": "cfn"}])
    arn = created.arn
    assert sfn.describe_state_machine(stateMachineArn=arn)["name"] == created.name
    described = run(sfn, arn, {"error": "Sales.Broken", "cause": "row 7"})
    assert (described["status"], described["error"], described["cause"]) == ("FAILED", "Sales.Broken", "row 7")
    events = sfn.get_execution_history(executionArn=described["executionArn"])["events"]
    assert [event["type"] for event in events] == [
        "ExecutionStarted", "WaitStateEntered", "WaitStateExited", "FailStateEntered", "ExecutionFailed"]
    failed = events[-1]["executionFailedEventDetails"]
    assert (failed["error"], failed["cause"]) == ("Sales.Broken", "row 7")


def test_glue_start_job_run_sync_failure_is_states_task_failed_with_the_job_run(sfn, boto_client):
    s3, glue = boto_client("s3"), boto_client("glue")
    bucket, job = f"scripts-{uuid.uuid4().hex[:8]}", f"job-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="broken.py", Body=b"raise SystemExit('bad partition')\n")
    glue.create_job(Name=job, Role=ROLE, GlueVersion="5.0",
                    Command={"Name": "glueetl", "ScriptLocation": f"s3://{bucket}/broken.py"})
    arn = machine(sfn, {"StartAt": "Run", "States": {
        "Run": {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
                "Parameters": {"JobName.$": "$.job"}, "ResultPath": "$.run",
                "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Failed"}],
                "End": True},
        "Failed": {"Type": "Pass", "End": True}}})
    described = run(sfn, arn, {"job": job}, timeout=120)
    assert described["status"] == "SUCCEEDED"
    error = json.loads(described["output"])["error"]
    assert error["Error"] == "States.TaskFailed"
    job_run = json.loads(error["Cause"])
    assert (job_run["JobName"], job_run["JobRunState"]) == (job, "FAILED")


def test_executions_survive_a_crash_and_a_running_one_is_settled(tmp_path):
    """A SIGKILLed server keeps every acknowledged execution: a finished one (which ended after the last request
    that changed anything) with its status, output, dates and history exactly as they were; one that was RUNNING
    is FAILED after the restart, its history ending with the ExecutionFailed event AWS ends every failed execution
    with ("GetExecutionHistory", Step Functions API Reference; "HistoryEvent" types). The machine still runs new
    executions."""
    def client(url):
        return boto3.client("stepfunctions", endpoint_url=url, region_name="us-east-1")

    state, port = tmp_path / "state", free_port()
    proc, url = start_server(state, port)
    try:
        sfn = client(url)
        quick = machine(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"rows": 3},
                                                                  "ResultPath": "$.loaded", "End": True}}})
        slow = machine(sfn, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 360000, "End": True}}})
        running = sfn.start_execution(stateMachineArn=slow, name="in-flight", input='{"day": "2021-12-02"}')
        # The last request that changes anything starts it: its end is made durable by the execution's own thread.
        finished = run(sfn, quick, {"day": "2021-12-01"}, name="finished")
        history = sfn.get_execution_history(executionArn=finished["executionArn"])["events"]
        assert sfn.describe_execution(executionArn=running["executionArn"])["status"] == "RUNNING"
    finally:
        proc.kill()  # SIGKILL: nothing is written at exit
        proc.wait(timeout=30)

    proc, url = start_server(state, port)
    try:
        sfn = client(url)
        again = sfn.describe_execution(executionArn=finished["executionArn"])
        assert {k: again[k] for k in ("status", "output", "input", "startDate", "stopDate", "name")} == {
            k: finished[k] for k in ("status", "output", "input", "startDate", "stopDate", "name")}
        assert json.loads(again["output"]) == {"day": "2021-12-01", "loaded": {"rows": 3}}
        assert sfn.get_execution_history(executionArn=finished["executionArn"])["events"] == history

        settled = sfn.describe_execution(executionArn=running["executionArn"])
        assert settled["status"] == "FAILED" and settled["error"] == INTERRUPTED_ERROR
        assert "stopped" in settled["cause"] and settled["startDate"] == running["startDate"]
        events = sfn.get_execution_history(executionArn=running["executionArn"])["events"]
        assert events[0]["type"] == "ExecutionStarted" and events[-1]["type"] == "ExecutionFailed"
        assert events[-1]["executionFailedEventDetails"]["error"] == INTERRUPTED_ERROR
        assert [e["id"] for e in events] == list(range(1, len(events) + 1))
        listed = sfn.list_executions(stateMachineArn=slow)["executions"]
        assert [(e["name"], e["status"]) for e in listed] == [("in-flight", "FAILED")]

        assert run(sfn, quick, {"day": "2021-12-03"})["status"] == "SUCCEEDED"
        with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):  # the restored name is still taken
            sfn.start_execution(stateMachineArn=quick, name="finished", input="{}")
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_a_bad_time_scale_fails_the_wait_by_name(sfn, monkeypatch):
    """LOCAL_AWS_TIME_SCALE is read when a Wait starts; a value the settings refuse fails the execution with a
    message naming the variable (it is never taken as real time). Local-only behaviour: AWS has no such knob."""
    arn = machine(sfn, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}})
    monkeypatch.setenv("LOCAL_AWS_TIME_SCALE", "fast")  # the in-process server reads this process's environment
    failed = run(sfn, arn)
    assert failed["status"] == "FAILED"
    assert "LOCAL_AWS_TIME_SCALE" in failed.get("cause", "") + failed.get("error", "")
