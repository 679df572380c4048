"""Step Functions through boto3: the ASL constructs our machines use, on the local interpreter, and executions
across a crash of the server."""

from __future__ import annotations

import io
import json
import re
import time
import uuid
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
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
    return finished(sfn, execution["executionArn"], timeout)


def finished(sfn, execution_arn: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution_arn)
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


def test_a_definite_path_yields_its_node_and_an_indefinite_one_a_list(sfn):
    """"Using JSONPath paths" (Step Functions Developer Guide): a path selects its node as it is ($.bar => the
    array itself); Step Functions evaluates with Jayway JsonPath, where a definite path (names and literal indexes)
    yields one value and a filter, wildcard or slice the array of its matches. Parameters and Choice alike."""
    arn = machine(sfn, {"StartAt": "Pick", "States": {
        "Pick": {"Type": "Pass", "Parameters": {
            "cell.$": "$.Records[0][1].LongValue", "row.$": "$.Records[0]", "all.$": "$.Records",
            "named.$": "$.Records[1][0]['LongValue']", "filtered.$": "$.Items[?(@.n == 2)].name",
            "names.$": "$.Items[*].name", "first.$": "$.Items[0].name"},
            "Next": "Same"},
        "Same": {"Type": "Choice", "Choices": [{"Variable": "$.cell", "NumericEqualsPath": "$.named",
                                                "Next": "Equal"}], "Default": "Different"},
        "Equal": {"Type": "Pass", "Result": True, "ResultPath": "$.equal", "End": True},
        "Different": {"Type": "Pass", "Result": False, "ResultPath": "$.equal", "End": True}}})
    records = [[{"LongValue": 3}, {"LongValue": 5}], [{"LongValue": 5}]]
    items = [{"n": 1, "name": "a"}, {"n": 2, "name": "b"}]
    result = run(sfn, arn, {"Records": records, "Items": items})
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"]) == {
        "cell": 5, "row": records[0], "all": records, "named": 5, "filtered": ["b"], "names": ["a", "b"],
        "first": "a", "equal": True}


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


@pytest.mark.parametrize("resource", ["states:startExecution.sync", "states:startExecution.sync:2"])
def test_start_execution_sync_result_and_failure_cause_have_aws_shape(sfn, resource):
    """AWS ("Start a new AWS Step Functions state machine execution" / "Start workflow executions from a task
    state", and AWS-recorded results): the result is DescribeExecution in PascalCase with
    "InputDetails": {"Included": true} and "OutputDetails"; .sync gives Input/Output as JSON text, .sync:2 as JSON;
    a failed child fails the task with States.TaskFailed and the same shape, as JSON text, in the cause. The key
    sets are those of AWS-recorded executions (public AWS-validated snapshot suite, test_start_execution_sync*)."""
    child = machine(sfn, {"StartAt": "Echo", "States": {
        "Echo": {"Type": "Choice", "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "Boom"}],
                 "Default": "Done"},
        "Done": {"Type": "Pass", "End": True},
        "Boom": {"Type": "Fail", "Error": "ChildFailed", "Cause": "asked to fail"}}})
    parent = machine(sfn, {"StartAt": "Child", "States": {"Child": {
        "Type": "Task", "Resource": f"arn:aws:states:::{resource}",
        "Parameters": {"StateMachineArn": child, "Input": {"fail.$": "$.fail"}}, "End": True}}})
    ok = run(sfn, parent, {"fail": False})
    assert ok["status"] == "SUCCEEDED", ok
    result = json.loads(ok["output"])
    assert set(result) == {"ExecutionArn", "Input", "InputDetails", "Name", "Output", "OutputDetails", "StartDate",
                           "StateMachineArn", "Status", "StopDate"}
    assert result["InputDetails"] == {"Included": True} and result["OutputDetails"] == {"Included": True}
    assert result["Status"] == "SUCCEEDED" and result["StateMachineArn"] == child
    expected = {"fail": False}
    assert (json.loads(result["Output"]) if resource.endswith(".sync") else result["Output"]) == expected
    failed = run(sfn, parent, {"fail": True})
    assert failed["status"] == "FAILED" and failed["error"] == "States.TaskFailed"
    cause = json.loads(failed["cause"])
    assert cause["Status"] == "FAILED" and cause["Error"] == "ChildFailed" and cause["Cause"] == "asked to fail"
    assert cause["InputDetails"] == {"Included": True}
    assert set(cause) == {"Cause", "Error", "ExecutionArn", "Input", "InputDetails", "Name", "StartDate",
                          "StateMachineArn", "Status", "StopDate"}
    # DescribeExecution itself has the redrive fields (AWS-recorded; RedriveExecution is not emulated)
    assert (ok["redriveCount"], ok["redriveStatus"], ok["redriveStatusReason"]) == (
        0, "NOT_REDRIVABLE", "Execution is SUCCEEDED and cannot be redriven")
    assert (failed["redriveCount"], failed["redriveStatus"]) == (0, "REDRIVABLE")


def test_aws_sdk_sfn_start_execution_takes_pascal_case_and_answers_in_it(sfn):
    """AWS SDK service integrations ("Integrating services with Step Functions", aws-sdk:sfn:startExecution):
    parameters are the API's members in PascalCase (StateMachineArn, Input, Name); the result's members are
    PascalCase too (ExecutionArn, StartDate)."""
    child = machine(sfn, {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
    name = f"sdk-{uuid.uuid4().hex[:8]}"
    parent = machine(sfn, {"StartAt": "Start", "States": {"Start": {
        "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:startExecution",
        "Parameters": {"StateMachineArn": child, "Name": name, "Input.$": "States.JsonToString($)"},
        "End": True}}})
    result = run(sfn, parent, {"day": "2021-12-01"})
    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    assert set(output) == {"ExecutionArn", "StartDate"}
    assert output["ExecutionArn"].endswith(f":{name}")
    started = sfn.describe_execution(executionArn=output["ExecutionArn"])
    assert json.loads(started["input"]) == {"day": "2021-12-01"}


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


# --- JSONata and variables ----------------------------------------------------------------------------------------
# AWS: "Transforming data with JSONata in Step Functions" and "Passing data between states with variables"
# (Step Functions Developer Guide).


def test_jsonata_output_evaluates_with_states_input(sfn):
    """The issue's case, recorded on AWS: {% $sum($states.input.values) + 1 %} on {"values": [1, 2, 3]} is 7."""
    arn = machine(sfn, {"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "Output": "{% $sum($states.input.values) + 1 %}", "End": True}}})
    result = run(sfn, arn, {"values": [1, 2, 3]})
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"]) == 7


def test_assign_sees_values_from_before_the_state_and_variables_reach_later_states(sfn):
    """Variables doc: every expression in one Assign reads the values from before the state's assignment (a swap
    works); variables are read as $name in later states; a string holding quotes and backslashes round-trips;
    per-state QueryLanguage JSONata inside a JSONPath machine; Choice Condition."""
    text = 'q"uo\\te\nline'
    arn = machine(sfn, {"StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "QueryLanguage": "JSONata",
                 "Assign": {"a": "{% $states.input.text %}", "b": 1}, "Next": "Swap"},
        "Swap": {"Type": "Pass", "QueryLanguage": "JSONata", "Assign": {"a": "{% $b %}", "b": "{% $a %}"},
                 "Next": "Pick"},
        "Pick": {"Type": "Choice", "QueryLanguage": "JSONata", "Choices": [
            {"Condition": "{% $a = 1 and $b = $states.input.text %}", "Next": "Done"}], "Default": "Wrong"},
        "Done": {"Type": "Pass", "QueryLanguage": "JSONata",
                 "Output": {"a": "{% $a %}", "b": "{% $b %}", "n": "{% $count($states.input.items) %}"},
                 "End": True},
        "Wrong": {"Type": "Fail", "Error": "Wrong"}}})
    result = run(sfn, arn, {"text": text, "items": [1, 2]})
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"]) == {"a": 1, "b": text, "n": 2}
    history = sfn.get_execution_history(executionArn=result["executionArn"])["events"]
    exited = next(e for e in history if e["type"] == "PassStateExited" and e["stateExitedEventDetails"]["name"]
                  == "Init")["stateExitedEventDetails"]
    assert json.loads(exited["assignedVariables"]["a"]) == text


def test_a_states_output_reads_the_variables_from_before_its_assign(sfn):
    """AWS-recorded execution (an evaluation-order case of a public suite of AWS-validated snapshots): State1 assigns
    answer := "<omitted>" and its OutputPath "$answer" gives the old 42; the next state sees the new value; the
    same in JSONata (a state's Output, a matched Choice rule's Output), with the history listing the assigned
    value."""
    jsonpath = machine(sfn, {"StartAt": "State0", "States": {
        "State0": {"Type": "Pass", "Result": {"q": "?"}, "Assign": {"question.$": "$.q", "answer": 42},
                   "Next": "State1"},
        "State1": {"Type": "Pass", "InputPath": "$answer", "ResultPath": "$.theAnswer", "OutputPath": "$answer",
                   "Assign": {"answer": "<omitted>"}, "End": True}}})
    result = run(sfn, jsonpath)
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"]) == 42
    jsonata = machine(sfn, {"QueryLanguage": "JSONata", "StartAt": "S0", "States": {
        "S0": {"Type": "Pass", "Assign": {"answer": 42}, "Next": "S1"},
        "S1": {"Type": "Pass", "Assign": {"answer": "{% $answer + 1 %}"}, "Output": "{% $answer %}", "Next": "S2"},
        "S2": {"Type": "Choice", "Choices": [{"Condition": "{% $answer = 43 %}", "Next": "Done",
                                              "Assign": {"answer": "{% $answer * 2 %}"},
                                              "Output": {"before": "{% $answer %}"}}], "Default": "Wrong"},
        "Done": {"Type": "Pass", "Output": {"was": "{% $states.input.before %}", "now": "{% $answer %}"},
                 "End": True},
        "Wrong": {"Type": "Fail"}}})
    result = run(sfn, jsonata)
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"]) == {"was": 43, "now": 86}
    history = sfn.get_execution_history(executionArn=result["executionArn"])["events"]
    exited = {e["stateExitedEventDetails"]["name"]: e["stateExitedEventDetails"] for e in history
              if "stateExitedEventDetails" in e}
    assert exited["S1"]["output"] == "42" and exited["S1"]["assignedVariables"] == {"answer": "43"}
    assert exited["S2"]["assignedVariables"] == {"answer": "86"}


def test_variables_of_a_map_iteration_stay_in_it(sfn):
    """Variables doc, "Variable scope": an iteration reads outer variables; what it assigns is gone after the Map;
    outer values reach the Map's own Output."""
    arn = machine(sfn, {"QueryLanguage": "JSONata", "StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "Assign": {"factor": 10}, "Next": "Each"},
        "Each": {"Type": "Map", "Items": "{% $states.input.xs %}", "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Times", "States": {
                "Times": {"Type": "Pass", "Assign": {"inner": 1},
                          "Output": "{% $states.input * $factor %}", "End": True}}},
                 "Next": "After"},
        "After": {"Type": "Pass", "Output": {"ys": "{% $states.input %}", "inner": "{% $exists($inner) %}"},
                  "End": True}}})
    result = run(sfn, arn, {"xs": [1, 2, 3]})
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"]) == {"ys": [10, 20, 30], "inner": False}


def test_a_jsonata_expression_that_throws_is_states_query_evaluation_error(sfn):
    """JSONata doc ("States.QueryEvaluationError" for an expression that fails): catchable, with the
    EvaluationFailed event; the cause names the expression, the field and JSONata's error code."""
    arn = machine(sfn, {"QueryLanguage": "JSONata", "StartAt": "Bad", "States": {
        "Bad": {"Type": "Pass", "Output": "{% 1 + $states.input.s %}", "End": True}}})
    result = run(sfn, arn, {"s": "a"})
    assert result["status"] == "FAILED"
    assert result["error"] == "States.QueryEvaluationError"
    assert result["cause"].startswith("An error occurred while executing the state 'Bad' (entered at the event id "
                                      "#2). The JSONata expression '1 + $states.input.s' specified for the field "
                                      "'Output' threw an error during evaluation. T2002: ")
    history = sfn.get_execution_history(executionArn=result["executionArn"])["events"]
    failed = next(e for e in history if e["type"] == "EvaluationFailed")["evaluationFailedEventDetails"]
    assert failed["location"] == "Output" and failed["state"] == "Bad"

    caught = machine(sfn, {"QueryLanguage": "JSONata", "StartAt": "Bad", "States": {
        "Bad": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:listStateMachines",
                "Arguments": {"MaxResults": "{% $sum('x') %}"},
                "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"], "Next": "Caught",
                           "Output": "{% $states.errorOutput.Error %}"}], "End": True},
        "Caught": {"Type": "Succeed"}}})
    result = run(sfn, caught)
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"]) == "States.QueryEvaluationError"


def test_context_object_has_the_documented_fields(sfn):
    """AWS: "Accessing execution data from the Context object in Step Functions": Execution (Id, Input, Name,
    RoleArn, StartTime, RedriveCount: 0 on a first run), State (EnteredTime, Name; RetryCount in Task, Map and
    Parallel states), StateMachine (Id,
    Name); times in ISO 8601 (AWS writes "2019-03-26T20:14:13.192Z"); the same object as $states.context."""
    arn = machine(sfn, {"StartAt": "Look", "States": {
        "Look": {"Type": "Pass", "Parameters": {"context.$": "$$"}, "Next": "Jsonata"},
        "Jsonata": {"Type": "Pass", "QueryLanguage": "JSONata",
                    "Output": {"path": "{% $states.input.context %}",
                               "redrive": "{% $states.context.Execution.RedriveCount %}",
                               "state": "{% $states.context.State.Name %}"}, "End": True}}})
    result = run(sfn, arn, {"day": "2021-12-01"}, name="context-run")
    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    context = output["path"]
    iso = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"
    assert context["Execution"]["Id"] == result["executionArn"]
    assert context["Execution"]["Input"] == {"day": "2021-12-01"}
    assert context["Execution"]["Name"] == "context-run"
    assert context["Execution"]["RoleArn"] == ROLE
    assert context["Execution"]["RedriveCount"] == 0
    assert re.match(iso, context["Execution"]["StartTime"])
    assert context["State"]["Name"] == "Look" and "RetryCount" not in context["State"]  # AWS-recorded: Pass
    assert re.match(iso, context["State"]["EnteredTime"])
    assert context["StateMachine"] == {"Id": arn, "Name": arn.rsplit(":", 1)[1]}
    assert output["redrive"] == 0 and output["state"] == "Jsonata"


# --- create-time validation ---------------------------------------------------------------------------------------
# AWS: CreateStateMachine answers InvalidDefinition, "Invalid State Machine Definition: '<CODE>: <what> at <where>'"
# (API reference; the texts as AWS answers them, recorded by users: 'MISSING_TRANSITION_TARGET: State "X" is not
# reachable.', "The field 'Type' should have one of these values: [...]"); ASL spec for transitions, Wait
# timestamps (RFC 3339) and the escapes allowed in intrinsic-function strings.

INVALID_DEFINITIONS = {
    "bad_timestamp": ({"StartAt": "W", "States": {"W": {"Type": "Wait", "Timestamp": "2016-13-05T21:29:29Z",
                                                        "End": True}}},
                      "SCHEMA_VALIDATION_FAILED: String does not match RFC3339 timestamp at /States/W/Timestamp"),
    "illegal_escape": ({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True, "Parameters": {
        "a.$": "States.Format('a\\qb {}', $.x)"}}}},
                       "SCHEMA_VALIDATION_FAILED: The value for the field 'a.$' must be a valid JSONPath or a valid "
                       "intrinsic function call at /States/P/Parameters"),
    "missing_next": ({"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "Nope"}}},
                     "MISSING_TRANSITION_TARGET: Missing 'Next' target: Nope at /States/P/Next"),
    "unreachable": ({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True},
                                                "Q": {"Type": "Pass", "End": True}}},
                    'MISSING_TRANSITION_TARGET: State "Q" is not reachable. at /States/Q'),
    "bad_type": ({"StartAt": "P", "States": {"P": {"Type": "Bogus", "End": True}}},
                 "SCHEMA_VALIDATION_FAILED: The field 'Type' should have one of these values: [Task, Wait, Pass, "
                 "Succeed, Fail, Choice, Parallel, Map] at /States/P/Type"),
    "unknown_field": ({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True, "_comment_x": 1}}},
                      "SCHEMA_VALIDATION_FAILED: Field '_comment_x' is not supported at /States/P"),
    "in_a_branch": ({"StartAt": "Par", "States": {"Par": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [
            {"Variable": "$.x", "IsPresent": True, "Next": "Gone"}], "Default": "B"},
            "B": {"Type": "Succeed"}}}]}}},
                    "MISSING_TRANSITION_TARGET: Missing 'Next' target: Gone at "
                    "/States/Par/Branches[0]/States/A/Choices[0]/Next"),
}


@pytest.mark.parametrize("case", sorted(INVALID_DEFINITIONS))
def test_invalid_definitions_are_refused_as_aws_refuses_them(sfn, case):
    definition, problem = INVALID_DEFINITIONS[case]
    with pytest.raises(sfn.exceptions.InvalidDefinition) as refused:
        machine(sfn, definition)
    assert refused.value.response["Error"]["Message"] == f"Invalid State Machine Definition: '{problem}'"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_every_problem_is_listed_and_valid_definitions_pass():
    """AWS lists every problem, joined by ", "; the pipeline's own machines have none."""
    from local_aws.stepfunctions.validation import problems_of

    problems = problems_of({"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "Nope"},
                                                       "Q": {"Type": "Wait", "Timestamp": "2021-02-29T00:00:00Z",
                                                             "End": True}}})
    assert [p.split(":")[0] for p in problems] == ["MISSING_TRANSITION_TARGET", "SCHEMA_VALIDATION_FAILED",
                                                   "MISSING_TRANSITION_TARGET"]
    template = json.loads((Path(__file__).parents[2] / "infra" / "cloudformation.json").read_text())
    machines = [r["Properties"]["Definition"] for r in template["Resources"].values()
                if r["Type"] == "AWS::StepFunctions::StateMachine"]
    assert machines and all(problems_of(m) == [] for m in machines)
    # AWS-recorded (public AWS-validated snapshot suite, test_wait_timestamp_invalid / _valid): refused forms and a
    # JSONata expression in a JSONPath state; accepted: nanoseconds, an offset, an expression in a JSONata state.
    def timestamp(value, language="JSONPath"):
        return problems_of({"QueryLanguage": language, "StartAt": "W", "States": {
            "W": {"Type": "Wait", "Timestamp": value, "End": True}}})
    for refused in ("2016-12-05 21:29:29Z", "2016-12-05T21:29:29", "2016-13-05T21:29:29Z", "2016-12-05T25:29:29Z",
                    "05-12-2016T21:29:29Z", "{% '2016-03-14T01:59:00Z' %}"):
        assert timestamp(refused) == ["SCHEMA_VALIDATION_FAILED: String does not match RFC3339 timestamp at "
                                      "/States/W/Timestamp"], refused
    for accepted in ("2016-03-14T01:59:00Z", "2016-03-05T21:29:29.243167252Z", "2016-03-14T01:59:00.5+05:30"):
        assert timestamp(accepted) == [], accepted
    assert timestamp("{% '2016-03-14T01:59:00Z' %}", "JSONata") == []
    # ASL "Wait State": Seconds is an integer from 0 up to 99999999 (the problem's code and place are AWS's).
    def seconds(value, language="JSONPath"):
        return problems_of({"QueryLanguage": language, "StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": value, "End": True}}})
    for refused in (-1, 100_000_000, 2.5, "10", True):
        assert [p.split(":")[0] for p in seconds(refused)] == ["SCHEMA_VALIDATION_FAILED"], refused
        assert seconds(refused)[0].endswith(" at /States/W/Seconds")
    for accepted in (0, 1, 99_999_999):
        assert seconds(accepted) == [], accepted
    assert seconds("{% $states.input.n %}", "JSONata") == []


@pytest.mark.parametrize("field", ["Output", "Assign"])
def test_an_undefined_result_names_the_field_path(sfn, field):
    """AWS-recorded causes (public AWS-validated snapshot suite): "The JSONata expression '$doesNotExist'
    specified for the field 'Output/result' returned nothing (undefined)." (and 'Assign/result')."""
    arn = machine(sfn, {"QueryLanguage": "JSONata", "StartAt": "S", "States": {
        "S": {"Type": "Pass", field: {"ok": 1, "result": "{% $doesNotExist %}"}, "End": True}}})
    result = run(sfn, arn)
    assert result["status"] == "FAILED" and result["error"] == "States.QueryEvaluationError"
    assert result["cause"] == ("An error occurred while executing the state 'S' (entered at the event id #2). The "
                               f"JSONata expression '$doesNotExist' specified for the field '{field}/result' "
                               "returned nothing (undefined).")


def test_a_choice_on_an_absent_path_fails_with_states_runtime(sfn):
    """AWS-recorded behaviour (ASL spec: only IsPresent may test an absent path): the execution fails with
    States.Runtime, "Invalid path '$.n': The choice state's condition path references an invalid value.", and a
    Catch-all cannot catch it; IsPresent on the same path is simply false."""
    arn = machine(sfn, {"StartAt": "Check", "States": {
        "Check": {"Type": "Choice", "Choices": [
            {"Variable": "$.here", "IsPresent": False, "Next": "Absent"},
            {"Variable": "$.n", "NumericGreaterThan": 2, "Next": "Big"}], "Default": "Small"},
        "Absent": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 2, "Next": "Big"}],
                   "Default": "Small"},
        "Big": {"Type": "Succeed"}, "Small": {"Type": "Succeed"}}})
    result = run(sfn, arn, {"here": 1})
    assert result["status"] == "FAILED"
    assert result["error"] == "States.Runtime"
    assert result["cause"] == ("An error occurred while executing the state 'Check' (entered at the event id #2). "
                               "Invalid path '$.n': The choice state's condition path references an invalid value.")
    assert run(sfn, arn, {"here": 1, "n": 5})["status"] == "SUCCEEDED"
    assert run(sfn, arn, {"n": 1})["status"] == "SUCCEEDED"  # IsPresent false -> Absent -> $.n present


def test_jsonata_functions_step_functions_adds(sfn):
    """JSONata doc, "JSONata functions provided by Step Functions": $partition, $range, $hash (hex, as States.Hash),
    $random with a seed (repeatable), $uuid (v4), $parse."""
    arn = machine(sfn, {"QueryLanguage": "JSONata", "StartAt": "F", "States": {"F": {
        "Type": "Pass", "End": True, "Output": {
            "partition": "{% $partition([1, 2, 3, 4, 5], 2) %}", "range": "{% $range(0, 10, 5) %}",
            "hash": "{% $hash('hello', 'SHA-256') %}", "seeded": "{% $random(7) = $random(7) %}",
            "uuid": "{% $uuid() %}", "parsed": "{% $parse('{\"a\": [1]}') %}"}}}})
    result = run(sfn, arn)
    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    assert output["partition"] == [[1, 2], [3, 4], [5]] and output["range"] == [0, 5, 10]
    assert output["hash"] == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert output["seeded"] is True and output["parsed"] == {"a": [1]}
    assert uuid.UUID(output["uuid"]).version == 4


def test_start_execution_input_over_256_kib_is_refused(sfn):
    """Step Functions API Reference, StartExecution: `input` has a maximum length of 262144 bytes in UTF-8 (the
    256 KiB payload quota); a request over it is a ValidationException, and one at the limit runs."""
    arn = machine(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "ok", "End": True}}})
    at_limit = '{"x": "' + "a" * (262_144 - 9) + '"}'
    assert len(at_limit.encode()) == 262_144
    execution = sfn.start_execution(stateMachineArn=arn, name=f"limit-{uuid.uuid4().hex[:8]}", input=at_limit)
    bytes_over = '{"x": "' + "é" * 131_070 + '"}'  # 131,079 characters, 262,149 bytes
    with pytest.raises(ClientError) as refused:
        sfn.start_execution(stateMachineArn=arn, name=f"over-{uuid.uuid4().hex[:8]}", input=bytes_over)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "Member must have length less than or equal to 262144" in refused.value.response["Error"]["Message"]
    assert finished(sfn, execution["executionArn"])["status"] == "SUCCEEDED"


def test_a_state_result_over_256_kib_fails_with_states_data_limit_exceeded(sfn):
    """Step Functions Developer Guide, "Error names": States.DataLimitExceeded when the output of a state is larger
    than the payload size quota (256 KiB, 262144 bytes in UTF-8); a result of exactly 262144 bytes passes."""
    passing = machine(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    at_limit = {"x": "a" * (262_144 - 9)}
    assert len(json.dumps(at_limit).encode()) == 262_144  # as StartExecution's input, and as the state's output
    assert run(sfn, passing, at_limit)["status"] == "SUCCEEDED"
    doubling = machine(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True,
                                                             "Parameters": {"a.$": "$.x", "b.$": "$.x"}}}})
    failed = run(sfn, doubling, {"x": "a" * 140_000})
    assert (failed["status"], failed["error"]) == ("FAILED", "States.DataLimitExceeded")
    assert failed["cause"] == ("The state/task 'P' returned a result with a size exceeding the maximum number of "
                               "bytes service limit.")
