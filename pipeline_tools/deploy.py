"""Deploy the pipeline: package and upload the artefacts, then create or update the CloudFormation stack.

Works against AWS (credentials from the environment) and against the local AWS (--endpoint-url):

    python -m pipeline_tools.deploy --endpoint-url http://127.0.0.1:4566 --output-json outputs.json

The template goes to the artefact bucket and the stack is created from its TemplateURL: the template is over
CloudFormation's 51,200-byte TemplateBody quota, and an S3 template may be up to 1 MB (AWS CloudFormation User
Guide, "Understand CloudFormation quotas"). The stack writes the outputs the DAGs read to Secrets Manager
(`<AirflowSecretsPrefix>/variables/sales_pipeline`, where Airflow's secrets backend finds the `sales_pipeline`
Variable) and exports `AirflowPolicyArn`, the policy for Airflow's execution role: nothing is copied by hand.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import zipfile
from pathlib import Path

import boto3
from botocore.exceptions import ClientError, WaiterError

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "infra" / "cloudformation.json"
GLUE_SCRIPT = REPO / "include" / "glue" / "sales_job.py"
LOADER_DIR = REPO / "include" / "loader"
GLUE_SCRIPT_KEY = "artifacts/glue/sales_job.py"
LOADER_KEY = "artifacts/lambda/loader.zip"
TEMPLATE_KEY = "artifacts/cloudformation/sales_pipeline.json"
LOADER_HANDLER = "handler.py"  # the template's Handler is handler.lambda_handler
MAX_TEMPLATE_URL_BYTES = 1_000_000  # CloudFormation's quota for a template read from S3 (1 MB)
DEFAULT_STACK = "salespipe"
# Settings for the local AWS: short polls, the local account's analyst and admin roles.
LOCAL_PARAMETERS = {
    "PollSeconds": "1",
    "AnalystPrincipalArn": "arn:aws:iam::123456789012:role/analyst",
    "LakeFormationAdminArn": "arn:aws:iam::123456789012:role/deployer",
}


# Locally Airflow runs as a role holding only the AirflowPolicyArn managed policy, so a local run proves that
# policy is enough. Its trust names MWAA's service principals (Amazon MWAA User Guide, "Amazon MWAA execution
# role") and the account, since here the local runner stands in for MWAA when it assumes the role.
AIRFLOW_SESSION_SECONDS = 12 * 3600  # the longest role session STS gives; a backfill may run for hours
AIRFLOW_ROLE_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": ["airflow.amazonaws.com", "airflow-env.amazonaws.com"]},
     "Action": "sts:AssumeRole"},
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]}


class DeployError(RuntimeError):
    """The stack did not reach a complete state; the message names the failing resources and why."""


def package_loader(loader_dir: Path = LOADER_DIR) -> bytes:
    """The loader Lambda's zip: its Python modules at the root, as the handler `handler.lambda_handler` needs.
    Entries carry a fixed timestamp, so the same code always gives the same bytes (and the same hash)."""
    if not (loader_dir / LOADER_HANDLER).is_file():
        raise DeployError(f"{loader_dir / LOADER_HANDLER} is missing: the loader has no handler to package")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(loader_dir.glob("*.py")):
            info = zipfile.ZipInfo(path.name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def upload_artifacts(s3, bucket: str, region: str = "us-east-1", repo: Path = REPO) -> dict[str, str]:
    """Create the artefact bucket when missing and upload the Glue script and the loader package."""
    script = repo / GLUE_SCRIPT.relative_to(REPO)
    if not script.is_file():
        raise DeployError(f"Glue script not found: {script}")
    loader_zip = package_loader(repo / LOADER_DIR.relative_to(REPO))
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **kwargs)
    s3.put_object(Bucket=bucket, Key=GLUE_SCRIPT_KEY, Body=script.read_bytes())
    s3.put_object(Bucket=bucket, Key=LOADER_KEY, Body=loader_zip)
    return {"GlueScriptKey": GLUE_SCRIPT_KEY, "LoaderCodeKey": LOADER_KEY}


def _failure_reasons(cfn, stack_name: str) -> str:
    events = cfn.describe_stack_events(StackName=stack_name)["StackEvents"]
    reasons = [f"{e.get('LogicalResourceId', '')}: {e['ResourceStatusReason']}" for e in events
               if e.get("ResourceStatus", "").endswith("FAILED") and e.get("ResourceStatusReason")]
    return "; ".join(reasons) or "no reason reported"


def template_url(bucket: str, key: str, region: str) -> str:
    """The virtual-hosted-style S3 URL CloudFormation reads a template from (the form AWS documents; the local
    AWS's CloudFormation resolves the same URL against its own S3)."""
    return f"https://{bucket}.s3.{region}.amazonaws.com/{key}"


def upload_template(s3, bucket: str, region: str = "us-east-1", template: Path = TEMPLATE) -> str:
    """Put the template, as it is in the repository, beside the artefacts; return its TemplateURL.

    Raises DeployError when the file is not JSON or is over the 1 MB quota of an S3 template.
    """
    body = template.read_bytes()
    try:
        json.loads(body)
    except ValueError as error:
        raise DeployError(f"{template} is not JSON: {error}") from error
    if len(body) > MAX_TEMPLATE_URL_BYTES:
        raise DeployError(f"{template} is {len(body)} bytes, over CloudFormation's {MAX_TEMPLATE_URL_BYTES}-byte "
                          f"quota for a template in S3")
    s3.put_object(Bucket=bucket, Key=TEMPLATE_KEY, Body=body, ContentType="application/json")
    return template_url(bucket, TEMPLATE_KEY, region)


def deploy_stack(cfn, stack_name: str, parameters: dict[str, str], url: str) -> dict[str, str]:
    """Create the stack from the template at `url` (see upload_template), or update it when it exists; wait;
    return its outputs as {OutputKey: OutputValue}. Raises DeployError naming the failing resources."""
    params = [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in parameters.items()]
    capabilities = ["CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
    try:
        status = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"]
    except ClientError:
        status = None
    if status == "ROLLBACK_COMPLETE":  # a failed first create cannot be updated, as on AWS
        cfn.delete_stack(StackName=stack_name)
        cfn.get_waiter("stack_delete_complete").wait(StackName=stack_name)
        status = None
    try:
        if status is None:
            cfn.create_stack(StackName=stack_name, TemplateURL=url, Parameters=params, Capabilities=capabilities)
            cfn.get_waiter("stack_create_complete").wait(StackName=stack_name,
                                                         WaiterConfig={"Delay": 1, "MaxAttempts": 3600})
        else:
            try:
                cfn.update_stack(StackName=stack_name, TemplateURL=url, Parameters=params,
                                 Capabilities=capabilities)
            except ClientError as error:
                if "No updates are to be performed" not in str(error):
                    raise
            else:
                cfn.get_waiter("stack_update_complete").wait(StackName=stack_name,
                                                             WaiterConfig={"Delay": 1, "MaxAttempts": 3600})
    except WaiterError as error:
        raise DeployError(f"stack {stack_name} failed: {_failure_reasons(cfn, stack_name)}") from error
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    if not stack["StackStatus"].endswith("_COMPLETE") or "ROLLBACK" in stack["StackStatus"]:
        raise DeployError(f"stack {stack_name} is {stack['StackStatus']}: {_failure_reasons(cfn, stack_name)}")
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def deploy(session: boto3.session.Session, endpoint_url: str | None, stack_name: str, artifact_bucket: str,
           parameters: dict[str, str] | None = None, repo: Path = REPO) -> dict[str, str]:
    region = session.region_name or "us-east-1"
    s3 = session.client("s3", endpoint_url=endpoint_url)
    cfn = session.client("cloudformation", endpoint_url=endpoint_url)
    keys = upload_artifacts(s3, artifact_bucket, region, repo)
    url = upload_template(s3, artifact_bucket, region, repo / TEMPLATE.relative_to(REPO))
    return deploy_stack(cfn, stack_name, {"ArtifactBucket": artifact_bucket, **keys, **(parameters or {})}, url)


def deploy_local(endpoint_url: str, repo: Path = REPO, stack_name: str = DEFAULT_STACK,
                 parameters: dict[str, str] | None = None, artifact_bucket: str | None = None) -> dict[str, str]:
    """Deploy to the local AWS with its settings; `parameters` override them (e.g. another ProjectName).

    The default stack writes its Variable secret where Airflow looks (`airflow/variables/sales_pipeline`) and
    creates the LF-tag `Classification`; every other stack in the same local AWS (tests deploy several) gets its own
    secret prefix, `<stack>/airflow`, and LF-tag key, `<stack>_classification`, since a secret name exists once per
    account and Region and an LF-tag key once per account.
    """
    session = boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local",
                                    region_name="us-east-1")
    prefix = {} if stack_name == DEFAULT_STACK else {"AirflowSecretsPrefix": f"{stack_name}/airflow",
                                                     "ClassificationTagKey": f"{stack_name}_classification"}
    parameters = {**LOCAL_PARAMETERS, **prefix, **(parameters or {})}
    iam = session.client("iam", endpoint_url=endpoint_url)
    own_role = not parameters.get("AirflowRoleArn")
    if own_role:  # Airflow's role exists before the stack, which grants it Lake Formation permissions
        role_name = airflow_role_name(parameters.get("ProjectName", DEFAULT_STACK), session.region_name)
        parameters["AirflowRoleArn"] = _ensure_airflow_role(iam, role_name)
    outputs = deploy(session, endpoint_url, stack_name, artifact_bucket or f"{stack_name}-artifacts", parameters,
                     repo=Path(repo))
    if own_role:
        _attach_only(iam, role_name, outputs["AirflowPolicyArn"])
    return outputs


def airflow_role_name(project: str, region: str) -> str:
    """The local Airflow role's name: the managed policy's (``<ProjectName>-airflow-<Region>``)."""
    return f"{project}-airflow-{region}"


def _ensure_airflow_role(iam, role_name: str) -> str:
    try:
        return iam.get_role(RoleName=role_name)["Role"]["Arn"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchEntity":
            raise
    return iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(AIRFLOW_ROLE_TRUST),
                           MaxSessionDuration=AIRFLOW_SESSION_SECONDS,
                           Description="Airflow locally: only the stack's AirflowPolicyArn")["Role"]["Arn"]


def _attach_only(iam, role_name: str, policy_arn: str) -> None:
    """The role holds exactly ``policy_arn``: no other managed policy, no inline policy."""
    for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        if attached["PolicyArn"] != policy_arn:
            iam.detach_role_policy(RoleName=role_name, PolicyArn=attached["PolicyArn"])
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=role_name, PolicyName=name)
    iam.attach_role_policy(RoleName=role_name, PolicyArn=policy_arn)


def airflow_credentials(endpoint_url: str, outputs: dict[str, str], session_name: str = "airflow") -> dict[str, str]:
    """Temporary credentials of the local Airflow role (holding only ``outputs["AirflowPolicyArn"]``), from STS
    AssumeRole as the account root: {"aws_access_key_id", "aws_secret_access_key", "aws_session_token"}."""
    region = "us-east-1"
    policy_arn = outputs["AirflowPolicyArn"]
    role_name = policy_arn.rsplit("/", 1)[-1]
    sts = boto3.client("sts", endpoint_url=endpoint_url, region_name=region, aws_access_key_id="local",
                       aws_secret_access_key="local")
    account = policy_arn.split(":")[4]
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role_name}", RoleSessionName=session_name,
                            DurationSeconds=AIRFLOW_SESSION_SECONDS)["Credentials"]
    return {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url", help="the local AWS; omit for AWS itself")
    parser.add_argument("--stack-name", default=DEFAULT_STACK)
    parser.add_argument("--artifact-bucket", help="default: <stack-name>-artifacts (created when missing)")
    parser.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--output-json", type=Path, help="also write the outputs here")
    parser.add_argument("--repo-root", type=Path, default=REPO, help="the checkout holding infra/ and include/")
    args = parser.parse_args(argv)
    malformed = [p for p in args.parameter if "=" not in p or p.startswith("=")]
    if malformed:
        parser.error(f"--parameter expects KEY=VALUE, got {malformed}")
    overrides = dict(p.split("=", 1) for p in args.parameter)
    try:
        if args.endpoint_url:
            outputs = deploy_local(args.endpoint_url, args.repo_root, args.stack_name, overrides,
                                   args.artifact_bucket)
        else:
            outputs = deploy(boto3.session.Session(), None, args.stack_name,
                             args.artifact_bucket or f"{args.stack_name}-artifacts", overrides, args.repo_root)
    except DeployError as error:
        print(f"deploy failed: {error}", file=sys.stderr)
        return 1
    text = json.dumps(outputs, indent=2, sort_keys=True)
    if args.output_json:
        args.output_json.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
