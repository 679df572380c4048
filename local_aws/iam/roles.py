"""Services acting as their roles: temporary credentials of a role, minted as STS AssumeRole mints them.

    session = roles.session_for("arn:aws:iam::123456789012:role/GlueRole", service="glue.amazonaws.com",
                                session_name="GlueJobRunnerSession")
    with principal.acting_as(session.principal): ...   # in-process work, authorised as the role session
    session.environment()                              # AWS_ACCESS_KEY_ID/... for a subprocess's SDK calls

On AWS a service assumes the role it was given (a state machine's execution role, a Glue job's or crawler's role,
a Lambda function's execution role, the IAM_ROLE of a Redshift COPY/UNLOAD) with the service principal named in
the role's trust policy ("IAM roles: Terms and concepts", "Using service-linked and service roles"); calls made
with those credentials are authorised as ``arn:aws:sts::<account>:assumed-role/<role>/<session>``.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

from local_aws import ACCOUNT_ID, REGION
from local_aws.iam import identity
from local_aws.principal import Principal

# Sessions are reused until this close to their end (AWS services refresh ahead of expiry too).
_REFRESH_MARGIN = dt.timedelta(minutes=5)
_DURATION_SECONDS = 3600


class RoleNotAssumable(Exception):
    """The role does not exist or its trust policy does not let ``service`` assume it.

    Each service words this its own way; the caller turns it into that service's error."""

    def __init__(self, role_arn: str, service: str, reason: str):
        super().__init__(f"{service} cannot assume {role_arn}: {reason}")
        self.role_arn = role_arn
        self.service = service
        self.reason = reason


@dataclass(frozen=True)
class RoleSession:
    """Temporary credentials of a role session (what AssumeRole returns)."""

    principal: Principal
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: dt.datetime

    def environment(self) -> dict[str, str]:
        """The variables an AWS SDK in a subprocess reads its credentials from."""
        return {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
                "AWS_SESSION_TOKEN": self.session_token}

    def client_kwargs(self) -> dict[str, str]:
        """Keyword arguments for ``boto3.client`` to call as this session."""
        return {"aws_access_key_id": self.access_key_id, "aws_secret_access_key": self.secret_access_key,
                "aws_session_token": self.session_token}


_sessions: dict[tuple[str, str, str], RoleSession] = {}
_lock = threading.Lock()


def _role(role_arn: str):
    from moto.iam.models import iam_backends

    backend = iam_backends[ACCOUNT_ID]["aws"]
    for role in list(backend.roles.values()):
        if role.arn == role_arn:
            return role
    return None


def trusts(role, service: str, source_arn: str | None = None) -> bool:
    """Whether the role's trust policy allows ``service`` (a service principal such as states.amazonaws.com)
    sts:AssumeRole ("IAM JSON policy elements: Principal", AWS service principals). A service assuming a role for
    a resource brings aws:SourceAccount and aws:SourceArn ("The confused deputy problem")."""
    from local_aws.iam import policies

    context = {"aws:sourceaccount": [ACCOUNT_ID]}
    if source_arn:
        context["aws:sourcearn"] = [source_arn]
    return policies.trust_allows_service(role.assume_role_policy_document, service, context)


def session_for(role_arn: str, service: str, session_name: str, source_arn: str | None = None) -> RoleSession:
    """Temporary credentials of ``role_arn`` as ``service`` assumes it (for the resource ``source_arn``). Reused
    while more than a few minutes remain. Raises RoleNotAssumable when the role does not exist or does not trust
    ``service``."""
    session_name = _session_name(session_name)
    key = (role_arn, service, session_name)
    now = dt.datetime.now(dt.UTC)
    with _lock:
        cached = _sessions.get(key)
    # Still known to STS too: a reset of moto's backends (or a restored state) drops the sessions it had issued.
    if cached is not None and cached.expiration - now > _REFRESH_MARGIN and \
            identity.resolve(cached.access_key_id) is not None:
        return cached
    role = _role(role_arn)
    if role is None:
        raise RoleNotAssumable(role_arn, service, "the role does not exist")
    if not trusts(role, service, source_arn):
        raise RoleNotAssumable(role_arn, service, f"its trust policy does not allow {service} sts:AssumeRole")
    from moto.sts.models import sts_backends

    assumed = sts_backends[ACCOUNT_ID]["aws"].assume_role(
        region_name=REGION, role_session_name=session_name, role_arn=role_arn, policy=None,
        duration=_DURATION_SECONDS, external_id=None)
    expiration = assumed.expiration
    if expiration.tzinfo is None:
        expiration = expiration.replace(tzinfo=dt.UTC)
    session = RoleSession(Principal(arn=assumed.arn, account_id=assumed.account_id, role_arn=role_arn),
                          assumed.access_key_id, assumed.secret_access_key, assumed.session_token, expiration)
    with _lock:
        _sessions[key] = session
    return session


def _session_name(name: str) -> str:
    """RoleSessionName allows 2-64 characters of [\\w+=,.@-] (STS API Reference, AssumeRole)."""
    cleaned = "".join(c if c.isalnum() or c in "_+=,.@-" else "-" for c in name)[:64]
    return cleaned if len(cleaned) >= 2 else (cleaned + "--")[:2]


def forget() -> None:
    """Drop cached sessions (after a reset of moto's backends)."""
    with _lock:
        _sessions.clear()
