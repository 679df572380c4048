"""What a request asks IAM: its actions, each on a resource ARN, and the request's condition keys.

    checks = actions.describe(call)      # [Check("glue:StartCrawler", "arn:aws:glue:us-east-1:...:crawler/x")]

Source: "Actions, resources, and condition keys for AWS services" (Service Authorization Reference) for each
service the pipeline uses; an action AWS authorises on several resources (a Glue table action on the catalog,
the database and the table) yields one check per resource, and every one must be allowed. An action without
resource-level permissions is checked on ``*``. Actions this module cannot name raise ``NotMapped``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote

from local_aws import ACCOUNT_ID

# SigV4 signing name -> the service's IAM prefix.
PREFIXES = {"states": "states", "glue": "glue", "athena": "athena", "redshift-data": "redshift-data",
            "redshift": "redshift", "lakeformation": "lakeformation", "secretsmanager": "secretsmanager",
            "cloudformation": "cloudformation", "iam": "iam", "sts": "sts", "logs": "logs", "sns": "sns",
            "lambda": "lambda", "s3": "s3", "events": "events", "ec2": "ec2", "kms": "kms", "cloudwatch":
            "cloudwatch", "sqs": "sqs", "dynamodb": "dynamodb", "xray": "xray", "ssm": "ssm"}


class NotMapped(Exception):
    """The request's IAM action cannot be named here (not emulated): refused rather than let through."""


@dataclass(frozen=True)
class Check:
    action: str
    resource: str
    context: dict[str, list[str]] = field(default_factory=dict)  # keys this action adds (lower-cased)


@dataclass
class Call:
    """A request as the gate sees it: signing service and region, API action, parameters."""

    service: str
    region: str
    action: str
    params: dict
    method: str = "POST"
    path: str = "/"
    query: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)


def _arn(service: str, region: str, resource: str, account: str = ACCOUNT_ID) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def pass_role(role: str | None, service: str, account: str = ACCOUNT_ID) -> list[Check]:
    """iam:PassRole on the role a resource is created or updated with ("Grant a user permissions to pass a role
    to an AWS service": context key iam:PassedToService). Glue accepts a role name as well as an ARN."""
    if not role:
        return []
    if role.startswith("arn:"):
        arn = role
    else:
        path, _, name = role.rpartition("/")
        arn = _iam_arn("role", name, f"/{path}/" if path else None)
    return [Check("iam:PassRole", arn, {"iam:passedtoservice": [service]})]


# --- Glue ----------------------------------------------------------------------------------------------------------

_GLUE_CRAWLER = {"StartCrawler", "GetCrawler", "StopCrawler", "UpdateCrawler", "DeleteCrawler", "CreateCrawler",
                 "StartCrawlerSchedule", "StopCrawlerSchedule", "UpdateCrawlerSchedule"}
_GLUE_JOB = {"StartJobRun", "GetJobRun", "GetJobRuns", "BatchStopJobRun", "GetJob", "UpdateJob", "DeleteJob",
             "CreateJob", "GetJobBookmark", "ResetJobBookmark"}
_GLUE_TABLE = {"GetTable", "CreateTable", "UpdateTable", "DeleteTable", "GetPartition", "GetPartitions",
               "BatchGetPartition", "CreatePartition", "BatchCreatePartition", "UpdatePartition",
               "BatchUpdatePartition", "DeletePartition", "BatchDeletePartition", "GetTableVersion",
               "GetTableVersions", "DeleteTableVersion", "BatchDeleteTableVersion", "GetColumnStatisticsForTable",
               "UpdateColumnStatisticsForTable", "DeleteColumnStatisticsForTable", "CreatePartitionIndex",
               "GetPartitionIndexes", "DeletePartitionIndex"}
_GLUE_DATABASE = {"GetDatabase", "CreateDatabase", "UpdateDatabase", "DeleteDatabase"}


def _glue(call: Call) -> list[Check]:
    p, a, region = call.params, call.action, call.region
    account = p.get("CatalogId") or ACCOUNT_ID
    act = f"glue:{a}"
    if a in _GLUE_CRAWLER:
        checks = [Check(act, _arn("glue", region, f"crawler/{p.get('Name') or (p.get('CrawlerName'))}"))]
        return checks + (pass_role(p.get("Role"), "glue.amazonaws.com") if a in ("CreateCrawler", "UpdateCrawler")
                         else [])
    if a in _GLUE_JOB:
        name = p.get("JobName") if a != "CreateJob" else p.get("Name")
        role = p.get("Role") if a == "CreateJob" else (p.get("JobUpdate") or {}).get("Role")
        return [Check(act, _arn("glue", region, f"job/{name}"))] + pass_role(role, "glue.amazonaws.com")
    if a == "BatchGetJobs":
        return [Check(act, _arn("glue", region, f"job/{n}")) for n in p.get("JobNames") or []] or [Check(act, "*")]
    if a == "BatchGetCrawlers":
        return [Check(act, _arn("glue", region, f"crawler/{n}")) for n in p.get("CrawlerNames") or []] \
            or [Check(act, "*")]
    catalog = _arn("glue", region, "catalog", account)
    if a in _GLUE_DATABASE:
        name = p.get("Name") or (p.get("DatabaseInput") or {}).get("Name")
        checks = [Check(act, catalog), Check(act, _arn("glue", region, f"database/{name}", account))]
        if a == "DeleteDatabase":
            checks.append(Check(act, _arn("glue", region, f"table/{name}/*", account)))
        return checks
    if a == "GetDatabases":
        return [Check(act, catalog)]
    if a in _GLUE_TABLE or a in ("GetTables", "BatchDeleteTable"):
        db = p.get("DatabaseName")
        table = p.get("TableName") or p.get("Name") or (p.get("TableInput") or {}).get("Name")
        if a in ("GetTables", "BatchDeleteTable"):
            table = "*"
        return [Check(act, catalog), Check(act, _arn("glue", region, f"database/{db}", account)),
                Check(act, _arn("glue", region, f"table/{db}/{table}", account))]
    return [Check(act, "*")]


# --- Step Functions ------------------------------------------------------------------------------------------------


def _states(call: Call) -> list[Check]:
    p, a = call.params, call.action
    act = f"states:{a}"
    if a == "CreateStateMachine":
        return [Check(act, _arn("states", call.region, f"stateMachine:{p.get('name')}"))] + \
            pass_role(p.get("roleArn"), "states.amazonaws.com")
    if a == "UpdateStateMachine":
        return [Check(act, p.get("stateMachineArn") or "*")] + pass_role(p.get("roleArn"), "states.amazonaws.com")
    for key in ("stateMachineArn", "executionArn", "activityArn", "mapRunArn", "resourceArn"):
        if p.get(key):
            return [Check(act, p[key])]
    return [Check(act, "*")]


# --- Athena --------------------------------------------------------------------------------------------------------


def _athena_workgroup_of(query_id: str | None, region: str) -> str | None:
    from local_aws.services.athena import athena_query_backends

    execution = athena_query_backends[ACCOUNT_ID][region].executions.get(query_id or "")
    return getattr(execution, "workgroup", None)


def _athena(call: Call) -> list[Check]:
    p, a = call.params, call.action
    act = f"athena:{a}"
    if a in ("StartQueryExecution", "ListQueryExecutions"):
        group = p.get("WorkGroup") or "primary"
    elif a in ("GetQueryExecution", "GetQueryResults", "StopQueryExecution", "GetQueryRuntimeStatistics"):
        group = _athena_workgroup_of(p.get("QueryExecutionId"), call.region)
        if group is None:
            return [Check(act, "*")]  # an unknown query: Athena answers InvalidRequestException
    elif a == "BatchGetQueryExecution":
        groups = {_athena_workgroup_of(q, call.region) for q in p.get("QueryExecutionIds") or []} - {None}
        return [Check(act, _arn("athena", call.region, f"workgroup/{g}")) for g in sorted(groups)] \
            or [Check(act, "*")]
    elif a in ("GetWorkGroup", "UpdateWorkGroup", "DeleteWorkGroup", "CreateWorkGroup"):
        group = p.get("WorkGroup") or p.get("Name")
    else:
        return [Check(act, "*")]
    return [Check(act, _arn("athena", call.region, f"workgroup/{group}"))]


# --- Redshift Data API and Redshift --------------------------------------------------------------------------------


def _redshift_data(call: Call) -> list[Check]:
    p, a = call.params, call.action
    act = f"redshift-data:{a}"
    if a in ("ExecuteStatement", "BatchExecuteStatement"):
        if p.get("ClusterIdentifier"):
            checks = [Check(act, _arn("redshift", call.region, f"cluster:{p['ClusterIdentifier']}"))]
        elif p.get("WorkgroupName"):
            raise NotMapped("redshift-data on a Redshift Serverless workgroup")
        else:
            checks = [Check(act, "*")]  # a session id: the session's own cluster was authorised when it began
        # The Data API fetches the credentials as the caller ("Authorizing access to the Amazon Redshift Data API").
        if p.get("SecretArn"):
            checks.append(Check("secretsmanager:GetSecretValue", _secret_arn(p["SecretArn"], call.region)))
        elif p.get("DbUser") and p.get("ClusterIdentifier"):
            cluster = p["ClusterIdentifier"]
            checks.append(Check("redshift:GetClusterCredentials",
                                _arn("redshift", call.region, f"dbuser:{cluster}/{p['DbUser']}")))
            checks.append(Check("redshift:GetClusterCredentials",
                                _arn("redshift", call.region, f"dbname:{cluster}/{p.get('Database')}")))
        elif p.get("ClusterIdentifier"):
            checks.append(Check("redshift:GetClusterCredentialsWithIAM",
                                _arn("redshift", call.region, f"dbname:{p['ClusterIdentifier']}/{p.get('Database')}")))
        return checks
    if a in ("DescribeStatement", "GetStatementResult", "GetStatementResultV2", "CancelStatement"):
        from local_aws.iam import owners

        owner = owners.statement_owner(p.get("Id", ""))
        ctx = {"redshift-data:statement-owner-iam-userid": [owner]} if owner else {}
        return [Check(act, "*", ctx)]
    return [Check(act, "*")]


def _redshift(call: Call) -> list[Check]:
    p, a = call.params, call.action
    act = f"redshift:{a}"
    cluster = p.get("ClusterIdentifier")
    if a == "GetClusterCredentials" and cluster:
        return [Check(act, _arn("redshift", call.region, f"dbuser:{cluster}/{p.get('DbUser')}")),
                Check(act, _arn("redshift", call.region, f"dbname:{cluster}/{p.get('DbName')}"))]
    if cluster:
        return [Check(act, _arn("redshift", call.region, f"cluster:{cluster}"))]
    return [Check(act, "*")]


# --- Secrets Manager, SNS, logs, CloudFormation, IAM, STS ---------------------------------------------------------


def _secret_arn(secret_id: str, region: str) -> str:
    if secret_id.startswith("arn:"):
        return secret_id
    from moto.secretsmanager.models import secretsmanager_backends

    secret = secretsmanager_backends[ACCOUNT_ID][region].secrets.get(secret_id)
    if secret is not None:
        return secret.arn
    return _arn("secretsmanager", region, f"secret:{secret_id}-??????")


def _secretsmanager(call: Call) -> list[Check]:
    p, a = call.params, call.action
    secret_id = p.get("SecretId") or (p.get("Name") if a == "CreateSecret" else None)
    return [Check(f"secretsmanager:{a}", _secret_arn(secret_id, call.region) if secret_id else "*")]


def _logs(call: Call) -> list[Check]:
    p, a = call.params, call.action
    group = p.get("logGroupName")
    if not group:
        return [Check(f"logs:{a}", "*")]
    if p.get("logStreamName"):
        return [Check(f"logs:{a}", _arn("logs", call.region, f"log-group:{group}:log-stream:{p['logStreamName']}"))]
    return [Check(f"logs:{a}", _arn("logs", call.region, f"log-group:{group}"))]


def _sns(call: Call) -> list[Check]:
    topic = call.params.get("TopicArn") or call.params.get("TargetArn")
    return [Check(f"sns:{call.action}", topic or "*")]


def _cloudformation(call: Call) -> list[Check]:
    name = call.params.get("StackName")
    if not name:
        return [Check(f"cloudformation:{call.action}", "*")]
    if not name.startswith("arn:"):
        name = _arn("cloudformation", call.region, f"stack/{name}/*")
    return [Check(f"cloudformation:{call.action}", name)]


def _iam(call: Call) -> list[Check]:
    p, a = call.params, call.action
    act = f"iam:{a}"
    if p.get("RoleName"):
        return [Check(act, _iam_arn("role", p["RoleName"], p.get("Path")))]
    if p.get("UserName"):
        return [Check(act, _iam_arn("user", p["UserName"], p.get("Path")))]
    if p.get("GroupName"):
        return [Check(act, _iam_arn("group", p["GroupName"], p.get("Path")))]
    if p.get("PolicyArn"):
        return [Check(act, p["PolicyArn"])]
    if a == "CreatePolicy":
        return [Check(act, f"arn:aws:iam::{ACCOUNT_ID}:policy{p.get('Path') or '/'}{p.get('PolicyName')}")]
    return [Check(act, "*")]


def _iam_arn(kind: str, name: str, path: str | None) -> str:
    from moto.iam.models import iam_backends

    backend = iam_backends[ACCOUNT_ID]["aws"]
    found = backend.roles if kind == "role" else backend.users if kind == "user" else backend.groups
    entity = found.get(name) if kind != "role" else next((r for r in found.values() if r.name == name), None)
    if entity is not None:
        path = entity.path
    return f"arn:aws:iam::{ACCOUNT_ID}:{kind}{path or '/'}{name}"


def _sts(call: Call) -> list[Check]:
    if call.action in ("AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"):
        return [Check(f"sts:{call.action}", call.params.get("RoleArn") or "*")]
    return [Check(f"sts:{call.action}", "*")]


def _lakeformation(call: Call) -> list[Check]:
    return [Check(f"lakeformation:{call.action}", "*")]  # Lake Formation actions take no resource-level IAM


# --- Lambda (REST) -------------------------------------------------------------------------------------------------

_LAMBDA_ROUTES = (  # (method, path suffix after the function name, IAM action)
    ("POST", "/invocations", "InvokeFunction"),
    ("POST", "/invoke-async", "InvokeAsync"),
    ("GET", "/configuration", "GetFunctionConfiguration"),
    ("PUT", "/configuration", "UpdateFunctionConfiguration"),
    ("PUT", "/code", "UpdateFunctionCode"),
    ("GET", "/policy", "GetPolicy"),
    ("POST", "/policy", "AddPermission"),
    ("GET", "/versions", "ListVersionsByFunction"),
    ("POST", "/versions", "PublishVersion"),
    ("GET", "/aliases", "ListAliases"),
    ("POST", "/aliases", "CreateAlias"),
    ("GET", "/concurrency", "GetFunctionConcurrency"),
    ("PUT", "/concurrency", "PutFunctionConcurrency"),
    ("GET", "/event-invoke-config", "GetFunctionEventInvokeConfig"),
    ("GET", "", "GetFunction"),
    ("DELETE", "", "DeleteFunction"),
)


def lambda_action(method: str, path: str) -> tuple[str, str | None]:
    """(IAM action, function name or None) of a Lambda REST request."""
    parts = path.split("/functions", 1)
    if len(parts) != 2:
        if "/event-source-mappings" in path:
            return {"GET": "ListEventSourceMappings", "POST": "CreateEventSourceMapping"}.get(method, "?"), None
        if "/layers" in path:
            return "ListLayers", None
        raise NotMapped(f"Lambda {method} {path}")
    rest = parts[1].strip("/")
    if not rest:
        return {"GET": "ListFunctions", "POST": "CreateFunction"}.get(method, "?"), None
    name, _, tail = rest.partition("/")
    tail = "/" + tail if tail else ""
    for route_method, suffix, action in _LAMBDA_ROUTES:
        if method == route_method and (tail == suffix or (suffix and tail.startswith(suffix + "/"))):
            if suffix == "/policy" and tail != suffix and method == "DELETE":
                return "RemovePermission", unquote(name)
            return action, unquote(name)
    if method == "DELETE" and tail.startswith("/policy/"):
        return "RemovePermission", unquote(name)
    raise NotMapped(f"Lambda {method} {path}")


def _lambda(call: Call) -> list[Check]:
    action, name = lambda_action(call.method, call.path)
    if action == "?":
        raise NotMapped(f"Lambda {call.method} {call.path}")
    passed = pass_role(call.params.get("Role"), "lambda.amazonaws.com") \
        if action in ("CreateFunction", "UpdateFunctionConfiguration") else []
    if name is None:
        return [Check(f"lambda:{action}", "*")] + passed
    if not name.startswith("arn:"):
        name = _arn("lambda", call.region, f"function:{name}")
    qualifier = (call.query.get("Qualifier") or [None])[0]
    if qualifier:
        name = f"{name}:{qualifier}"
    return [Check(f"lambda:{action}", name)] + passed


# --- S3 (REST) -----------------------------------------------------------------------------------------------------

# bucket subresource (query parameter) -> {method: action}
_S3_BUCKET_SUBRESOURCES = {
    "policy": {"GET": "GetBucketPolicy", "PUT": "PutBucketPolicy", "DELETE": "DeleteBucketPolicy"},
    "versioning": {"GET": "GetBucketVersioning", "PUT": "PutBucketVersioning"},
    "location": {"GET": "GetBucketLocation"},
    "notification": {"GET": "GetBucketNotification", "PUT": "PutBucketNotification"},
    "lifecycle": {"GET": "GetLifecycleConfiguration", "PUT": "PutLifecycleConfiguration",
                  "DELETE": "PutLifecycleConfiguration"},
    "tagging": {"GET": "GetBucketTagging", "PUT": "PutBucketTagging", "DELETE": "PutBucketTagging"},
    "cors": {"GET": "GetBucketCORS", "PUT": "PutBucketCORS", "DELETE": "PutBucketCORS"},
    "encryption": {"GET": "GetEncryptionConfiguration", "PUT": "PutEncryptionConfiguration",
                   "DELETE": "PutEncryptionConfiguration"},
    "acl": {"GET": "GetBucketAcl", "PUT": "PutBucketAcl"},
    "publicAccessBlock": {"GET": "GetBucketPublicAccessBlock", "PUT": "PutBucketPublicAccessBlock",
                          "DELETE": "PutBucketPublicAccessBlock"},
    "ownershipControls": {"GET": "GetBucketOwnershipControls", "PUT": "PutBucketOwnershipControls",
                          "DELETE": "PutBucketOwnershipControls"},
    "policyStatus": {"GET": "GetBucketPolicyStatus"},
    "uploads": {"GET": "ListBucketMultipartUploads"},
    "versions": {"GET": "ListBucketVersions"},
    "object-lock": {"GET": "GetBucketObjectLockConfiguration", "PUT": "PutBucketObjectLockConfiguration"},
    "logging": {"GET": "GetBucketLogging", "PUT": "PutBucketLogging"},
    "website": {"GET": "GetBucketWebsite", "PUT": "PutBucketWebsite", "DELETE": "DeleteBucketWebsite"},
    "replication": {"GET": "GetReplicationConfiguration", "PUT": "PutReplicationConfiguration",
                    "DELETE": "PutReplicationConfiguration"},
    "requestPayment": {"GET": "GetBucketRequestPayment", "PUT": "PutBucketRequestPayment"},
    "accelerate": {"GET": "GetAccelerateConfiguration", "PUT": "PutAccelerateConfiguration"},
}
_S3_OBJECT_SUBRESOURCES = {
    "tagging": {"GET": "GetObjectTagging", "PUT": "PutObjectTagging", "DELETE": "DeleteObjectTagging"},
    "acl": {"GET": "GetObjectAcl", "PUT": "PutObjectAcl"},
    "retention": {"GET": "GetObjectRetention", "PUT": "PutObjectRetention"},
    "legal-hold": {"GET": "GetObjectLegalHold", "PUT": "PutObjectLegalHold"},
    "attributes": {"GET": "GetObjectAttributes"},
    "restore": {"POST": "RestoreObject"},
}


def s3_bucket_and_key(host: str, path: str) -> tuple[str | None, str | None]:
    host = host.split(":", 1)[0]
    if ".s3." in host or host.endswith(".s3.amazonaws.com") or ".s3-" in host:
        bucket = host.split(".s3", 1)[0] or None
        key = unquote(path.lstrip("/")) or None
        return bucket, key
    bucket, _, key = path.lstrip("/").partition("/")
    return unquote(bucket) or None, unquote(key) or None


def _s3(call: Call) -> list[Check]:
    method, q = call.method, call.query
    if method == "HEAD":
        method = "GET"
    bucket, key = s3_bucket_and_key(call.headers.get("host", ""), call.path)
    if bucket is None:
        if method == "GET":
            return [Check("s3:ListAllMyBuckets", "*")]
        raise NotMapped(f"S3 {call.method} /")
    bucket_arn = f"arn:aws:s3:::{bucket}"
    if key is None:
        for sub, actions in _S3_BUCKET_SUBRESOURCES.items():
            if sub in q:
                action = actions.get(method)
                if action is None:
                    raise NotMapped(f"S3 {call.method} ?{sub}")
                ctx = _s3_list_context(q) if sub in ("versions", "uploads") else {}
                return [Check(f"s3:{action}", bucket_arn, ctx)]
        if method == "GET":
            return [Check("s3:ListBucket", bucket_arn, _s3_list_context(q))]
        if method == "PUT":
            return [Check("s3:CreateBucket", bucket_arn)]
        if method == "DELETE":
            return [Check("s3:DeleteBucket", bucket_arn)]
        if method == "POST" and "delete" in q:
            return [Check("s3:DeleteObject", f"{bucket_arn}/{k}") for k in call.params.get("delete_keys", [])] \
                or [Check("s3:DeleteObject", f"{bucket_arn}/*")]
        raise NotMapped(f"S3 {call.method} bucket")
    object_arn = f"{bucket_arn}/{key}"
    for sub, actions in _S3_OBJECT_SUBRESOURCES.items():
        if sub in q:
            action = actions.get(method)
            if action is None:
                raise NotMapped(f"S3 {call.method} object ?{sub}")
            return [Check(f"s3:{action}", object_arn)]
    if "uploadId" in q:
        if method == "DELETE":
            return [Check("s3:AbortMultipartUpload", object_arn)]
        if method == "GET":
            return [Check("s3:ListMultipartUploadParts", object_arn)]
        return [Check("s3:PutObject", object_arn)]  # UploadPart(Copy), CompleteMultipartUpload
    if method == "GET":
        return [Check("s3:GetObjectVersion" if "versionId" in q else "s3:GetObject", object_arn)]
    if method in ("PUT", "POST"):
        checks = [Check("s3:PutObject", object_arn)]
        source = call.headers.get("x-amz-copy-source")
        if source:
            src = unquote(source.lstrip("/")).split("?versionId=", 1)[0]
            checks.append(Check("s3:GetObject", f"arn:aws:s3:::{src}"))
        return checks
    if method == "DELETE":
        return [Check("s3:DeleteObjectVersion" if "versionId" in q else "s3:DeleteObject", object_arn)]
    raise NotMapped(f"S3 {call.method} object")


def _s3_list_context(q: dict) -> dict[str, list[str]]:
    """s3:prefix, s3:delimiter, s3:max-keys ("Bucket policy examples using condition keys"); an absent prefix is
    the empty string for ListObjectsV2 as AWS passes it."""
    ctx = {"s3:prefix": [q.get("prefix", [""])[0]]}
    if "delimiter" in q:
        ctx["s3:delimiter"] = [q["delimiter"][0]]
    if "max-keys" in q:
        ctx["s3:max-keys"] = [q["max-keys"][0]]
    return ctx


_BY_SERVICE = {"glue": _glue, "states": _states, "athena": _athena, "redshift-data": _redshift_data,
               "redshift": _redshift, "secretsmanager": _secretsmanager, "logs": _logs, "sns": _sns,
               "cloudformation": _cloudformation, "iam": _iam, "sts": _sts, "lakeformation": _lakeformation,
               "lambda": _lambda, "s3": _s3}


def describe(call: Call) -> list[Check]:
    """The checks a request needs. Raises NotMapped for a service or request this module does not know."""
    handler = _BY_SERVICE.get(call.service)
    if handler is not None:
        return handler(call)
    prefix = PREFIXES.get(call.service)
    if prefix is None or not call.action:
        raise NotMapped(f"service {call.service!r}")
    return [Check(f"{prefix}:{call.action}", "*")]


def params_of(body: bytes, content_type: str) -> dict:
    """Request parameters from a JSON or form-encoded body (S3 and REST bodies are not parsed)."""
    if not body:
        return {}
    if "json" in content_type:
        try:
            value = json.loads(body)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}
    if content_type.startswith("application/x-www-form-urlencoded"):
        return {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
    return {}
