"""What the authorization hook costs per request: ``local_aws.iam.gate.admit`` on signed requests, in CPU µs.

    python -m bench.iam_gate [--calls 2000]

The hook runs once per request before moto sees it: resolve the access key, check the SigV4 signature, map the
call to IAM actions and resources, evaluate the caller's policies (and the bucket policy for S3). Requests are
signed with botocore exactly as the SDKs sign them and turned into WSGI environs; ``admit`` is then timed alone
(process CPU time, so a loaded machine does not inflate it). For scale the same calls are also timed end to end
over loopback (wall time: indicative only). Kinds: the account root (default keys) calling Glue, the Airflow-like
role session calling Step Functions under a least-privilege policy, and a role reading S3 with a bucket policy.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from urllib.parse import urlsplit

import boto3
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local_aws import ACCOUNT_ID, principal
from local_aws.iam import gate
from local_aws.server import LocalAWS

TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root", "Service": "states.amazonaws.com"},
     "Action": "sts:AssumeRole"}]}


def environ_for(url: str, method: str, body: bytes, headers: dict, creds: Credentials, service: str) -> dict:
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    if service == "s3":
        request.headers["X-Amz-Content-SHA256"] = "UNSIGNED-PAYLOAD"
        S3SigV4Auth(creds, service, "us-east-1").add_auth(request)
    else:
        SigV4Auth(creds, service, "us-east-1").add_auth(request)
    parts = urlsplit(url)
    environ = {"REQUEST_METHOD": method, "PATH_INFO": parts.path, "RAW_URI": parts.path, "QUERY_STRING": parts.query,
               "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": parts.netloc}
    for key, value in request.headers.items():
        name = key.upper().replace("-", "_")
        if name == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        else:
            environ["HTTP_" + name] = value
    environ["_body"] = body
    return environ


def time_admit(environ: dict, calls: int) -> float:
    """CPU µs per admit()."""
    body = environ.pop("_body")
    started = time.process_time()
    for _ in range(calls):
        environ["wsgi.input"] = io.BytesIO(body)
        admission = gate.admit(environ)
        assert admission.refusal is None, admission.refusal.get_data()
    return (time.process_time() - started) / calls * 1e6


def measure(calls: int = 2000) -> list[str]:
    """Markdown lines: admit()'s CPU µs per request of each kind (mean of ``calls``), and a whole call's wall µs."""
    assert principal.enforcing(), "run with LOCAL_AWS_AUTHORIZATION=on (the default)"
    with LocalAWS(port=0) as aws:
        url = aws.endpoint_url
        root = dict(aws_access_key_id="local", aws_secret_access_key="local")
        iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", **root)
        sfn = boto3.client("stepfunctions", endpoint_url=url, region_name="us-east-1", **root)
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", **root)
        iam.create_role(RoleName="bench", AssumeRolePolicyDocument=json.dumps(TRUST))
        machine = sfn.create_state_machine(name="bench", roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/bench",
                                           definition=json.dumps({"StartAt": "P", "States": {
                                               "P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
        iam.put_role_policy(RoleName="bench", PolicyName="p", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Sid": "Describe", "Effect": "Allow", "Action": "states:DescribeExecution",
                 "Resource": execution.rsplit(":", 1)[0] + ":*"},
                {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bench-lake/*"},
                {"Sid": "Other", "Effect": "Allow", "Action": ["glue:GetJobRun", "athena:GetQueryExecution"],
                 "Resource": "*"}]}))
        s3.create_bucket(Bucket="bench-lake")
        s3.put_object(Bucket="bench-lake", Key="processed/part-0.parquet", Body=b"x" * 1024)
        s3.put_bucket_policy(Bucket="bench-lake", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::bench-lake/*",
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}))
        sts = boto3.client("sts", endpoint_url=url, region_name="us-east-1", **root)
        c = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/bench", RoleSessionName="bench")["Credentials"]
        session = Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
        root_creds = Credentials("local", "local")
        json_headers = {"Content-Type": "application/x-amz-json-1.0"}
        kinds = {
            "root glue:GetJobRun": environ_for(
                url + "/", "POST", b'{"JobName": "j", "RunId": "r"}',
                {**json_headers, "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSGlue.GetJobRun"},
                root_creds, "glue"),
            "role states:DescribeExecution": environ_for(
                url + "/", "POST", json.dumps({"executionArn": execution}).encode(),
                {**json_headers, "X-Amz-Target": "AWSStepFunctions.DescribeExecution"}, session, "states"),
            "role s3:GetObject + bucket policy": environ_for(
                url + "/bench-lake/processed/part-0.parquet", "GET", b"", {}, session, "s3"),
        }
        lines = [f"IAM authorization (`local_aws.iam.gate.admit`: key, SigV4 signature, policies), {calls} signed "
                 "requests of each kind:", "", "| request | admit() CPU µs |", "| --- | ---: |"]
        lines += [f"| {name} | {time_admit(environ, calls):.1f} |" for name, environ in kinds.items()]
        role_sfn = boto3.client("stepfunctions", endpoint_url=url, region_name="us-east-1",
                                aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                                aws_session_token=c["SessionToken"])
        started = time.perf_counter()
        for _ in range(200):
            role_sfn.describe_execution(executionArn=execution)
        whole = (time.perf_counter() - started) / 200 * 1e6
    return lines + ["", f"For scale, a whole DescribeExecution over loopback as the role: {whole:.0f} µs wall.", ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    print("\n".join(measure(parser.parse_args(argv).calls)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
