"""Lambda through boto3: handlers really run, isolated, with the function's settings, as AWS reports them; functions
survive a crash of the server."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
import time
import uuid
import zipfile

import boto3
import pytest
from server_process import start_server

from local_aws.server import free_port


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, source in files.items():
            archive.writestr(name, source)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def lam(boto_client):
    return boto_client("lambda")


@pytest.fixture(scope="module")
def role(boto_client) -> str:
    iam = boto_client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                      "Principal": {"Service": "lambda.amazonaws.com"}}]}
    role = iam.create_role(RoleName=f"lambda-{uuid.uuid4().hex[:6]}",
                           AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    # The handlers' SDK calls are made as this role (authorization on): it may use S3.
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="s3", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    return role["Arn"]


def create(lam, role, source: str, **kwargs) -> str:
    name = f"fn-{uuid.uuid4().hex[:8]}"
    files = {"handler.py": source, **kwargs.pop("extra_files", {})}
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="handler.lambda_handler",
                        Code={"ZipFile": zipped(files)}, **kwargs)
    return name


def test_handler_writes_to_s3_through_boto3_with_its_environment(lam, role, boto_client):
    s3 = boto_client("s3")
    s3.create_bucket(Bucket="lambda-out")
    name = create(lam, role, (
        "import os, boto3\n"
        "from helper import key_for\n"
        "def lambda_handler(event, context):\n"
        "    key = key_for(event['date'])\n"
        "    boto3.client('s3').put_object(Bucket=os.environ['BUCKET'], Key=key, Body=b'x')\n"
        "    print('wrote', key)\n"
        "    return {'key': key, 'request': context.aws_request_id, 'memory': context.memory_limit_in_mb}\n"),
        extra_files={"helper.py": "def key_for(d):\n    return f'raw/dt={d}/x'\n"},
        Environment={"Variables": {"BUCKET": "lambda-out"}}, MemorySize=512,
        Timeout=60)  # importing boto3 can outlast the default 3 s on a loaded machine
    response = lam.invoke(FunctionName=name, Payload=json.dumps({"date": "2021-12-01"}), LogType="Tail")
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    payload = json.loads(response["Payload"].read())
    assert payload["key"] == "raw/dt=2021-12-01/x" and payload["memory"] == 512
    assert s3.get_object(Bucket="lambda-out", Key="raw/dt=2021-12-01/x")["Body"].read() == b"x"
    log = base64.b64decode(response["LogResult"]).decode()
    assert "wrote raw/dt=2021-12-01/x" in log
    assert log.startswith(f"START RequestId: {payload['request']}") and "REPORT RequestId" in log


def test_raising_handler_gives_function_error(lam, role):
    name = create(lam, role, "def lambda_handler(event, context):\n    raise ValueError('no date in event')\n")
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "no date in event"
    assert any("handler.py" in frame and "lambda_handler" in frame for frame in error["stackTrace"])
    assert not any("bootstrap" in frame for frame in error["stackTrace"])


def test_timeout_is_enforced(lam, role):
    name = create(lam, role, "import time\ndef lambda_handler(event, context):\n    time.sleep(30)\n", Timeout=1)
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    assert response["FunctionError"] == "Unhandled"
    assert "Task timed out after 1.00 seconds" in json.loads(response["Payload"].read())["errorMessage"]


def test_handler_state_does_not_leak_between_invocations(lam, role):
    name = create(lam, role, "import sys\nCOUNT = []\ndef lambda_handler(event, context):\n"
                             "    COUNT.append(1)\n    return {'count': len(COUNT), 'server': 'moto' in sys.modules}\n")
    first = json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
    second = json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
    assert first == second == {"count": 1, "server": False}


def test_aws_cli_lists_functions_and_state_machines(local_aws, lam, role, boto_client):
    name = create(lam, role, "def lambda_handler(e, c):\n    return 1\n")
    sfn = boto_client("stepfunctions")
    machine = sfn.create_state_machine(name=f"cli-{uuid.uuid4().hex[:6]}", roleArn=role, definition=json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    aws = os.path.join(os.path.dirname(sys.executable), "aws")
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    functions = subprocess.run([aws, "--endpoint-url", local_aws.endpoint_url, "lambda", "list-functions"],
                               capture_output=True, text=True, env=env, timeout=120)
    machines = subprocess.run([aws, "--endpoint-url", local_aws.endpoint_url, "stepfunctions",
                               "list-state-machines"], capture_output=True, text=True, env=env, timeout=120)
    assert functions.returncode == 0 and machines.returncode == 0, functions.stderr + machines.stderr
    assert name in {f["FunctionName"] for f in json.loads(functions.stdout)["Functions"]}
    assert machine in {m["stateMachineArn"] for m in json.loads(machines.stdout)["stateMachines"]}


def test_event_invocation_returns_202_and_runs_in_the_background(lam, role, boto_client):
    s3 = boto_client("s3")
    bucket = f"lambda-async-{uuid.uuid4().hex[:6]}"
    s3.create_bucket(Bucket=bucket)
    name = create(lam, role, (
        "import os, time, boto3\n"
        "def lambda_handler(event, context):\n"
        "    time.sleep(0.5)\n"
        "    boto3.client('s3').put_object(Bucket=event['bucket'], Key='done', Body=b'ok')\n"),
        Timeout=60)
    response = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"bucket": bucket}))
    assert response["StatusCode"] == 202
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0  # returned before the handler finished
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0):
            break
        time.sleep(0.2)
    assert s3.get_object(Bucket=bucket, Key="done")["Body"].read() == b"ok"


def test_function_survives_a_crash_and_stays_invocable(tmp_path):
    """A function created before a SIGKILL is there after the restart with the same ARN, configuration and code
    (CodeSha256), and its handler runs ("Invoke", Lambda API Reference: RequestResponse returns the payload)."""
    state, port = tmp_path / "state", free_port()
    proc, url = start_server(state, port)
    try:
        lam = boto3.client("lambda", endpoint_url=url, region_name="us-east-1")
        iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1")
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                          "Principal": {"Service": "lambda.amazonaws.com"}}]}
        role = iam.create_role(RoleName="restart-lambda", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        created = lam.create_function(
            FunctionName="restart-fn", Runtime="python3.12", Role=role, Handler="handler.lambda_handler",
            Code={"ZipFile": zipped({"handler.py": "import os\ndef lambda_handler(event, context):\n"
                                                   "    return {'day': event['day'], 'env': os.environ['STAGE']}\n"})},
            Environment={"Variables": {"STAGE": "restarted"}}, Timeout=30)
    finally:
        proc.kill()  # SIGKILL: nothing is written at exit
        proc.wait(timeout=30)

    proc, url = start_server(state, port)
    try:
        lam = boto3.client("lambda", endpoint_url=url, region_name="us-east-1")
        again = lam.get_function(FunctionName="restart-fn")["Configuration"]
        for key in ("FunctionArn", "CodeSha256", "Role", "Handler", "Timeout", "LastModified"):
            assert again[key] == created[key], key
        response = lam.invoke(FunctionName="restart-fn", Payload=json.dumps({"day": "2021-12-01"}))
        assert "FunctionError" not in response
        assert json.loads(response["Payload"].read()) == {"day": "2021-12-01", "env": "restarted"}
    finally:
        proc.kill()
        proc.wait(timeout=30)


# --- the runtime's error shapes, request validation, CloudWatch Logs ------------------------------------------------
# AWS: "Lambda function errors in Python", "Troubleshoot invocation issues in Lambda", the Invoke API reference,
# "Sending Lambda function logs to CloudWatch Logs"; the Python runtime interface client's marshalling.


def test_an_unserialisable_response_is_runtime_marshal_error_and_bytes_pass_through(lam, role):
    """A datetime in the response: Runtime.MarshalError, "Unable to marshal response: Object of type datetime is not
    JSON serializable", empty stackTrace (AWS's Python runtime); Decimal is a number; bytes are the payload as
    they are."""
    name = create(lam, role, "import datetime, decimal\ndef lambda_handler(event, context):\n"
                             "    if event.get('kind') == 'bytes':\n        return b'\\x00raw'\n"
                             "    if event.get('kind') == 'decimal':\n        return {'n': decimal.Decimal('1.50')}\n"
                             "    return {'at': datetime.datetime(2021, 12, 1)}\n")
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "Runtime.MarshalError"
    assert error["errorMessage"] == "Unable to marshal response: Object of type datetime is not JSON serializable"
    assert error["stackTrace"] == []
    raw = lam.invoke(FunctionName=name, Payload=b'{"kind": "bytes"}')
    assert "FunctionError" not in raw and raw["Payload"].read() == b"\x00raw"
    assert json.loads(lam.invoke(FunctionName=name, Payload=b'{"kind": "decimal"}')["Payload"].read()) == {"n": 1.5}


def test_a_payload_that_is_not_json_is_refused_before_the_handler_runs(lam, role, boto_client):
    """Invoke API: InvalidRequestContentException (HTTP 400) for a body that is not JSON; no invocation, no log."""
    name = create(lam, role, "def lambda_handler(event, context):\n    print('ran')\n    return 1\n")
    with pytest.raises(lam.exceptions.InvalidRequestContentException) as refused:
        lam.invoke(FunctionName=name, Payload=b"not json")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert refused.value.response["Error"]["Message"].startswith("Could not parse request body into json")
    logs = boto_client("logs")
    assert logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"] == []


def test_a_runtime_that_exits_is_runtime_exit_error(lam, role):
    """Troubleshooting doc: "RequestId: <id> Error: Runtime exited with error: exit status 3", Runtime.ExitError."""
    name = create(lam, role, "import sys\ndef lambda_handler(event, context):\n    sys.exit(3)\n")
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "Runtime.ExitError"
    assert re.fullmatch(r"RequestId: [0-9a-f-]{36} Error: Runtime exited with error: exit status 3",
                        error["errorMessage"])


def test_invocations_log_to_cloudwatch_logs_and_the_tail_is_the_same_log(lam, role, boto_client):
    """Logs doc: group /aws/lambda/<function>, a stream per execution environment (here every invocation's own,
    named YYYY/MM/DD/[$LATEST]<32 hex>), events START, the handler's output, END, REPORT (Duration, Billed
    Duration, Memory Size, Max Memory Used); LogType=Tail gives the end of the same lines; a timeout logs "Task
    timed out after N seconds" and answers Sandbox.Timedout."""
    name = create(lam, role, "import time\ndef lambda_handler(event, context):\n"
                             "    print('hello from', context.function_name)\n"
                             "    time.sleep(event.get('sleep', 0))\n    return 'ok'\n", Timeout=1)
    response = lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    assert json.loads(response["Payload"].read()) == "ok"
    tail = base64.b64decode(response["LogResult"]).decode()
    logs = boto_client("logs")
    group = f"/aws/lambda/{name}"
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert len(streams) == 1 and re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", streams[0]["logStreamName"])
    messages = [e["message"] for e in logs.get_log_events(logGroupName=group,
                                                          logStreamName=streams[0]["logStreamName"])["events"]]
    request_id = re.match(r"START RequestId: (\S+) Version: \$LATEST$", messages[0]).group(1)
    assert messages[1] == f"hello from {name}"
    assert messages[2] == f"END RequestId: {request_id}"
    assert re.match(rf"REPORT RequestId: {request_id}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\t"
                    r"Memory Size: 128 MB\tMax Memory Used: \d+ MB", messages[3])
    assert tail == "\n".join(messages) + "\n"

    timed_out = lam.invoke(FunctionName=name, Payload=b'{"sleep": 5}')
    error = json.loads(timed_out["Payload"].read())
    assert error["errorType"] == "Sandbox.Timedout"
    assert re.fullmatch(r"RequestId: \S+ Error: Task timed out after 1.00 seconds", error["errorMessage"])
    assert len(logs.describe_log_streams(logGroupName=group)["logStreams"]) == 2
    found = logs.filter_log_events(logGroupName=group, filterPattern="timed")["events"]
    assert [e["message"].split(" ", 1)[1] for e in found] == [f"{error['errorMessage'].split()[1]} Task timed out "
                                                             "after 1.00 seconds"]
