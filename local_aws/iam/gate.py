"""The per-request check: who is calling (identity), is the signature theirs (SigV4), may they do this (IAM).

    admission = gate.admit(environ)        # before moto sees the request
    if admission.refusal: return admission.refusal(environ, start_response)
    with principal.acting_as(admission.caller): ...
    gate.after(environ, admission, status, body)   # bookkeeping a response feeds (statement owners)

With LOCAL_AWS_AUTHORIZATION=off the caller is still established and nothing is refused. Errors are worded as
each service words them (IAM User Guide, "Troubleshoot access denied error messages": "User: <arn> is not
authorized to perform: <action> on resource: <arn> because no identity-based policy allows the <action> action").
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import uuid
from dataclasses import dataclass, field
from io import BytesIO
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from werkzeug.wrappers import Response

from local_aws import ACCOUNT_ID, REGION, principal, settings
from local_aws.iam import actions, identity, policies, sigv4
from local_aws.iam.documents import as_json
from local_aws.principal import Principal

log = logging.getLogger(__name__)

JSON_SERVICES = frozenset({"glue", "states", "athena", "redshift-data", "secretsmanager", "logs", "lakeformation",
                           "lambda", "events", "kms", "dynamodb", "ssm", "xray"})
REST_JSON_SERVICES = frozenset({"lambda", "lakeformation"})
INTERNAL_PATH_PREFIXES = ("/moto-api", "/_local_aws")


@dataclass
class Admission:
    caller: Principal | None
    refusal: Response | None = None
    service: str = ""
    action: str = ""
    params: dict = field(default_factory=dict)


# --- error responses ---------------------------------------------------------------------------------------------


def _request_id() -> str:
    return str(uuid.uuid4())


def error_response(service: str, code: str, message: str, status: int = 400) -> Response:
    """An error as the service's protocol carries it: S3 XML, awsJson/restJson, or awsQuery XML."""
    rid = _request_id()
    if service == "s3":
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                f"<Message>{escape(message)}</Message><RequestId>{rid}</RequestId><HostId>{rid}</HostId></Error>")
        return Response(body, status=status, mimetype="application/xml", headers={"x-amz-request-id": rid})
    if service in JSON_SERVICES:
        body = json.dumps({"__type": code, "Message": message})
        return Response(body, status=status, mimetype="application/x-amz-json-1.1",
                        headers={"x-amzn-RequestId": rid, "x-amzn-ErrorType": code})
    body = (f'<ErrorResponse xmlns="https://{service}.amazonaws.com/doc/"><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>{escape(message)}</Message></Error><RequestId>{rid}</RequestId>"
            f"</ErrorResponse>")
    return Response(body, status=status, mimetype="text/xml", headers={"x-amzn-RequestId": rid})


def access_denied(service: str, caller: Principal | None, check: actions.Check, reason: str) -> Response:
    """AccessDeniedException (JSON services), AccessDenied (S3, query services; SNS: AuthorizationError)."""
    who = f"User: {caller.arn}" if caller is not None else "User: anonymous"
    if service == "s3":
        if caller is None:
            return error_response("s3", "AccessDenied", "Access Denied", 403)
        message = (f'{who} is not authorized to perform: {check.action} on resource: "{check.resource}" {reason}')
        return error_response("s3", "AccessDenied", message, 403)
    message = f"{who} is not authorized to perform: {check.action} on resource: {check.resource} {reason}"
    if service in JSON_SERVICES:
        return error_response(service, "AccessDeniedException", message, 403 if service in REST_JSON_SERVICES
                              else 400)
    if service == "sns":  # AWS-recorded: SNS names its actions upper-case ("SNS:Publish"), in the reason too
        message = message.replace(check.action, "SNS:" + check.action.split(":", 1)[1])
        return error_response(service, "AuthorizationError", message, 403)
    return error_response(service, "AccessDenied", message, 403)


def not_emulated(service: str, what: str) -> Response:
    return error_response(service, "NotImplemented" if service == "s3" else "InternalFailure",
                          f"The local AWS cannot authorise this request: {what} is not emulated", 501)


# --- identity-based policies, cached by what they are made of ---------------------------------------------------


@functools.lru_cache(maxsize=2048)
def _parsed(document: str) -> dict:
    return json.loads(document)


def _managed_document(policy) -> str:
    for version in policy.versions:
        if version.version_id == policy.default_version_id:
            return version.document
    return policy.versions[0].document


def _iam():
    from moto.iam.models import iam_backends

    return iam_backends[ACCOUNT_ID]["aws"]


_role_by_name: dict[str, object] = {}


def _role(name: str):
    backend = _iam()
    role = _role_by_name.get(name)
    if role is not None and backend.roles.get(role.id) is role:
        return role
    role = next((r for r in list(backend.roles.values()) if r.name == name), None)
    if role is not None:
        _role_by_name[name] = role
    return role


def _documents(entity) -> list[str]:
    docs = [as_json(d) for d in entity.policies.values()]
    docs += [_managed_document(p) for p in list(entity.managed_policies.values())]
    return docs


@dataclass(frozen=True)
class Identity:
    """What IAM knows of a principal: its policies, boundary and the global condition keys it brings."""

    policies: tuple[dict, ...]
    boundary: dict | None
    context: dict[str, list[str]]


def identity_of(caller: Principal) -> Identity | None:
    """The caller's identity-based policies (inline, managed, its groups'), permissions boundary and principal
    condition keys ("AWS global condition context keys": aws:PrincipalArn, aws:userid, aws:username...).
    None when the user or role no longer exists."""
    backend = _iam()
    ctx = {"aws:principalarn": [caller.role_arn or caller.arn], "aws:principalaccount": [caller.account_id]}
    if caller.role_arn is not None:
        role = _role(caller.role_arn.rsplit("/", 1)[-1])
        if role is None:
            return None
        docs = _documents(role)
        boundary_arn = role.permissions_boundary_arn
        ctx["aws:userid"] = [f"{role.id}:{caller.arn.rsplit('/', 1)[-1]}"]
        ctx["aws:principaltype"] = ["AssumedRole"]
    else:
        name = caller.arn.rsplit("/", 1)[-1]
        user = backend.users.get(name)
        if user is None:
            return None
        docs = _documents(user)
        for group in list(backend.groups.values()):
            if user in group.users:
                docs += _documents(group)
        boundary_arn = getattr(user, "permissions_boundary_arn", None)
        ctx["aws:userid"] = [user.id]
        ctx["aws:username"] = [user.name]
        ctx["aws:principaltype"] = ["User"]
    boundary = None
    if boundary_arn:
        policy = backend.managed_policies.get(boundary_arn)
        boundary = _parsed(_managed_document(policy)) if policy is not None else None
    return Identity(tuple(_parsed(d) for d in docs), boundary, ctx)


def _resource_policy(resource: str) -> dict | None:
    """The resource-based policy IAM evaluates beside the caller's: a bucket's policy for an S3 ARN, a topic's
    access policy for an SNS topic ARN (IAM User Guide, "Identity-based policies and resource-based policies")."""
    if resource.startswith("arn:aws:s3:::"):
        from moto.s3.models import s3_backends

        found = s3_backends[ACCOUNT_ID]["aws"].buckets.get(resource[len("arn:aws:s3:::"):].split("/", 1)[0])
        text = found.policy if found is not None else None
    elif resource.startswith("arn:aws:sns:"):
        from moto.sns.models import sns_backends

        region = resource.split(":")[3]
        found = sns_backends[ACCOUNT_ID][region].topics.get(resource) if region else None
        text = found.policy if found is not None else None
    else:
        return None
    if not text:
        return None
    return _parsed(text.decode() if isinstance(text, bytes) else text)


# --- the request ---------------------------------------------------------------------------------------------------


def _scope(signer: identity.RequestCredentials) -> tuple[str, str]:
    parts = signer.scope.split("/")
    return (parts[2], parts[1]) if len(parts) >= 3 else ("", "")


def _read_body(environ: dict) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if not length:
        return b""
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = BytesIO(body)  # moto reads it again
    return body


def _api_action(environ: dict, service: str, params: dict, query: dict) -> str:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.rsplit(".", 1)[-1]
    if "Action" in query:
        return query["Action"][0]
    if "Action" in params:
        return params["Action"]
    if service == "lakeformation":
        return environ.get("PATH_INFO", "").rstrip("/").rsplit("/", 1)[-1]
    return ""


def _global_context(environ: dict, region: str) -> dict[str, list[str]]:
    now = dt.datetime.now(dt.UTC)
    return {
        # The local endpoint stands in for AWS's TLS endpoints (a TLS-only Deny must not deny every local call).
        "aws:securetransport": ["true"],
        "aws:sourceip": [environ.get("REMOTE_ADDR", "127.0.0.1")],
        "aws:currenttime": [now.strftime("%Y-%m-%dT%H:%M:%SZ")],
        "aws:epochtime": [str(int(now.timestamp()))],
        "aws:requestedregion": [region],
    }


def _s3_delete_keys(body: bytes) -> list[str]:
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return []
    return [el.text or "" for el in root.iter() if el.tag.endswith("Key") and not el.tag.endswith("VersionKey")]


def admit(environ: dict) -> Admission:
    """Authenticate and, when enforcing, authorise the request. Never raises for a malformed request: moto
    answers those with the service's own validation errors."""
    path = environ.get("PATH_INFO", "")
    if path.startswith(INTERNAL_PATH_PREFIXES):
        return Admission(None)
    signer = identity.request_credentials(environ)
    cred = identity.resolve(signer.access_key_id) if signer is not None else None
    if not _enforcing():
        caller = cred.principal if cred is not None else (principal.root(ACCOUNT_ID) if signer else None)
        return Admission(caller)
    if signer is None:
        if environ.get("HTTP_AUTHORIZATION") or "AWSAccessKeyId=" in environ.get("QUERY_STRING", ""):
            return Admission(None, not_emulated("s3" if _looks_like_s3(environ) else "",
                                                "a signature other than AWS Signature Version 4"))
        if not _looks_like_s3(environ):
            return Admission(None, error_response("", "MissingAuthenticationToken",
                                                  "Request is missing Authentication Token", 403))
        service, region = "s3", REGION
        caller = None
    else:
        service, region = _scope(signer)
        refusal = _authenticate(environ, service, signer, cred)
        if refusal is not None:
            return Admission(None, refusal)
        caller = cred.principal
    if caller is not None and caller.is_root and service not in ("s3", "sts"):
        return Admission(caller)  # IAM policies never restrict root; S3 buckets and role trust policies may
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if service == "s3" and "delete" in query and _BODY_KEY not in environ:
        environ[_BODY_KEY] = _read_body(environ)  # DeleteObjects: each key is authorised (small XML body)
    body = environ.get(_BODY_KEY, b"") if service != "s3" or "delete" in query else b""
    params = actions.params_of(body, environ.get("CONTENT_TYPE", ""))
    if service == "s3" and "delete" in query:
        params = {"delete_keys": _s3_delete_keys(body)}
    call = actions.Call(service, region, _api_action(environ, service, params, query), params,
                        environ.get("REQUEST_METHOD", "GET"), path, query,
                        {"host": environ.get("HTTP_HOST", ""),
                         "x-amz-copy-source": environ.get("HTTP_X_AMZ_COPY_SOURCE", "")})
    if service == "sts" and call.action == "GetCallerIdentity":
        return Admission(caller, service=service, action=call.action)  # no permission needed, even under Deny
    try:
        checks = actions.describe(call)
    except actions.NotMapped as exc:
        return Admission(caller, not_emulated(service, str(exc)))
    session_policy = _parsed(cred.session_policy) if cred is not None and cred.session_policy else None
    refusal = authorize(service, caller, checks, _global_context(environ, region), session_policy)
    if refusal is None and service == "s3" and caller is not None and not caller.is_root:
        refusal = _missing_key_refusal(checks, caller, _global_context(environ, region), session_policy)
    return Admission(caller, refusal, service, call.action, params)


def _missing_key_refusal(checks: list[actions.Check], caller: Principal, context: dict,
                         session_policy: dict | None) -> Response | None:
    """GetObject/HeadObject of a key that does not exist: 404 only for a caller who may s3:ListBucket the bucket,
    else 403 Access Denied (Amazon S3 API Reference, GetObject, "Permissions": "If you don't have the
    s3:ListBucket permission, Amazon S3 returns an HTTP status code 403 Access Denied error")."""
    if len(checks) != 1 or checks[0].action not in ("s3:GetObject", "s3:GetObjectVersion"):
        return None
    bucket, _, key = checks[0].resource[len("arn:aws:s3:::"):].partition("/")
    from moto.s3.models import s3_backends

    found = s3_backends[ACCOUNT_ID]["aws"].buckets.get(bucket)
    if found is None or key in found.keys:
        return None
    listing = actions.Check("s3:ListBucket", f"arn:aws:s3:::{bucket}")
    if decide(caller, [listing], context, session_policy) is None:
        return None
    return error_response("s3", "AccessDenied", "Access Denied", 403)


_BODY_KEY = "local_aws.iam.body"


def _authenticate(environ: dict, service: str, signer: identity.RequestCredentials,
                  cred: identity.Credential | None) -> Response | None:
    """The refusal for an unknown key, a missing or wrong session token, or a signature that is not the
    secret's; None when the request is the key holder's (worded per service: S3, JSON or query protocol)."""
    if cred is None:
        return _invalid_key(service, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in "
                                                            "our records.")
    if cred.session_token != signer.session_token:
        return _invalid_key(service, "InvalidToken", "The provided token is malformed or otherwise invalid.")
    body = b""
    if service != "s3" or not environ.get("HTTP_X_AMZ_CONTENT_SHA256"):
        body = _read_body(environ)
        environ[_BODY_KEY] = body
    mismatch = sigv4.verify(environ, body, cred.secret_access_key)
    if mismatch is None:
        return None
    if mismatch.kind == "expired":
        return error_response(service, "AccessDenied", "Request has expired", 403)
    if mismatch.kind == "skewed":
        if service == "s3":
            return error_response("s3", "RequestTimeTooSkewed", "The difference between the request time and the "
                                  "current time is too large.", 403)
        return error_response(service, "InvalidSignatureException" if service in JSON_SERVICES
                              else "SignatureDoesNotMatch", mismatch.detail, 403)
    if service == "s3":
        return error_response("s3", "SignatureDoesNotMatch", "The request signature we calculated does not match "
                              "the signature you provided. Check your key and signing method.", 403)
    message = ("The request signature we calculated does not match the signature you provided. Check your AWS "
               "Secret Access Key and signing method. Consult the service documentation for details.")
    if service in JSON_SERVICES:
        return error_response(service, "InvalidSignatureException", message, 403)
    return error_response(service, "SignatureDoesNotMatch", message, 403)


def _invalid_key(service: str, s3_code: str, s3_message: str) -> Response:
    if service == "s3":
        return error_response("s3", s3_code, s3_message, 403)
    message = "The security token included in the request is invalid."
    if service in JSON_SERVICES:
        return error_response(service, "UnrecognizedClientException", message, 400)
    return error_response(service, "InvalidClientTokenId", message, 403)


def _enforcing() -> bool:
    """LOCAL_AWS_AUTHORIZATION; another setting's bad value (reported where it is used) does not switch it."""
    try:
        return principal.enforcing()
    except settings.SettingsError:
        return (os.environ.get("LOCAL_AWS_AUTHORIZATION") or "on").strip().lower() != "off"


def _looks_like_s3(environ: dict) -> bool:
    """An unsigned request can only be S3 (anonymous access through a bucket policy); the other services'
    requests name their action in X-Amz-Target or Action=."""
    return (not environ.get("HTTP_X_AMZ_TARGET") and "Action=" not in environ.get("QUERY_STRING", "")
            and not environ.get("CONTENT_TYPE", "").startswith(("application/x-www-form-urlencoded",
                                                                  "application/x-amz-json")))


class Unknown(Exception):
    """The caller's user or role no longer exists."""


def decide(caller: Principal | None, checks: list[actions.Check],
           global_context: dict[str, list[str]] | None = None,
           session_policy: dict | None = None) -> tuple[actions.Check, str] | None:
    """The first check IAM denies with AWS's reason, or None when every check is allowed. Raises Unknown for a
    caller whose user or role is gone, policies.PolicyNotEmulated for a policy this evaluator cannot read."""
    ctx = dict(global_context or {})
    who = None
    if caller is not None and not caller.is_root:
        who = identity_of(caller)
        if who is None:
            raise Unknown(caller.arn)
        ctx.update(who.context)
    elif caller is not None:
        ctx.update({"aws:principalarn": [caller.arn], "aws:principalaccount": [caller.account_id],
                    "aws:userid": [caller.account_id], "aws:principaltype": ["Account"]})
    for check in checks:
        resource_policy = _resource_policy(check.resource)
        request = policies.Request(check.action, check.resource, caller, {**ctx, **check.context})
        if check.action == "sts:AssumeRole":
            role = _role(check.resource.rsplit("/", 1)[-1]) if ":role/" in check.resource else None
            if role is None or role.arn != check.resource:
                decision = policies.Decision(False, "because no resource-based policy allows the sts:AssumeRole "
                                                    "action")
            else:
                decision = policies.evaluate_assume_role(request, who.policies if who else (),
                                                         _parsed(role.assume_role_policy_document),
                                                         boundary=who.boundary if who else None)
        else:
            decision = policies.evaluate(request, who.policies if who else (), resource_policy,
                                         boundary=who.boundary if who else None, session_policy=session_policy)
        if not decision.allowed:
            log.info("denied: %s %s on %s %s", caller.arn if caller else "anonymous", check.action,
                     check.resource, decision.reason)
            return check, decision.reason
    return None


def authorize(service: str, caller: Principal | None, checks: list[actions.Check],
              global_context: dict[str, list[str]] | None = None,
              session_policy: dict | None = None) -> Response | None:
    """The refusal for the first check IAM denies, or None when every check is allowed."""
    try:
        denied = decide(caller, checks, global_context, session_policy)
    except Unknown:
        return _invalid_key(service, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in "
                                                            "our records.")
    except policies.PolicyNotEmulated as exc:
        return not_emulated(service, str(exc))
    return access_denied(service, caller, *denied) if denied else None


def denial_message(caller: Principal | None, action: str, resource: str,
                   context: dict[str, list[str]] | None = None) -> str | None:
    """For work a service does in-process as a role (a crawler reading S3...): AWS's "User: ... is not authorized
    to perform: ..." message when IAM denies ``action`` on ``resource`` to ``caller``, else None. Nothing is
    denied with authorization off or without a caller."""
    if caller is None or not _enforcing():
        return None
    check = actions.Check(action, resource, {k.lower(): v for k, v in (context or {}).items()})
    try:
        denied = decide(caller, [check], _global_context({}, REGION))
    except Unknown:
        return f"The role of {caller.arn} no longer exists"
    if denied is None:
        return None
    return f"User: {caller.arn} is not authorized to perform: {action} on resource: {resource} {denied[1]}"


def after(admission: Admission, status: str, result) -> object:
    """Bookkeeping from a successful response; returns the response body iterable (possibly re-buffered)."""
    if admission.service == "redshift-data" and admission.action in ("ExecuteStatement", "BatchExecuteStatement") \
            and status.startswith("200") and admission.caller is not None:
        body = b"".join(result)
        try:
            statement_id = json.loads(body).get("Id")
        except ValueError:
            statement_id = None
        if statement_id:
            from local_aws.iam import owners

            who = identity_of(admission.caller) if not admission.caller.is_root else None
            owners.record(statement_id, who.context["aws:userid"][0] if who else admission.caller.account_id)
        return [body]
    return result

