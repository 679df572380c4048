"""Who signed a request: access key id -> principal, as AWS resolves it.

    cred = identity.resolve("AKIA...")            # Credential | None (None: a key AWS would not know)
    cred.principal.arn                            # arn:aws:iam::123456789012:user/alice
    identity.request_credentials(environ)         # (access key id, session token) of a SigV4 request, or None

Three kinds of key, as in "AWS security credentials" (IAM User Guide):
- an IAM user's access key (moto's IAM users; only an Active key counts);
- temporary credentials of a role from STS AssumeRole: the principal is the role session,
  ``arn:aws:sts::<account>:assumed-role/<role>/<session>``, and the request must carry the session token;
- the default test keys (``ROOT_TEST_KEYS``), taken as the account's root user so ad-hoc use keeps working.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import parse_qs

from local_aws import ACCOUNT_ID
from local_aws.principal import Principal, root

# The keys the tooling, the tests and the README use for ad-hoc calls (id -> secret). Root on AWS is never
# restricted by IAM policies, which is what ad-hoc use wants.
ROOT_TEST_KEYS = {"local": "local", "testing": "testing"}


@dataclass(frozen=True)
class Credential:
    """A known access key: whom it belongs to and what signs with it.

    session_token: required on requests for temporary credentials (STS), else None.
    expiration: UTC end of temporary credentials, else None.
    """

    access_key_id: str
    secret_access_key: str
    principal: Principal
    session_token: str | None = None
    expiration: dt.datetime | None = None
    session_policy: str | None = None  # AssumeRole's Policy parameter (JSON), which limits the session


_root_credentials = {key: Credential(key, secret, root(ACCOUNT_ID)) for key, secret in ROOT_TEST_KEYS.items()}
# access key id -> Credential of IAM users' keys and STS sessions seen so far (re-checked on each hit).
_cache: dict[str, Credential] = {}


def _iam():
    from moto.iam.models import iam_backends

    return iam_backends[ACCOUNT_ID]["aws"]


def _sts():
    from moto.sts.models import sts_backends

    return sts_backends[ACCOUNT_ID]["aws"]


def _user_key_live(cred: Credential) -> bool:
    user = _iam().users.get(cred.principal.arn.rsplit("/", 1)[-1])
    return user is not None and any(k.access_key_id == cred.access_key_id and k.status == "Active"
                                    for k in user.access_keys)


def _scan(access_key_id: str) -> Credential | None:
    for user in list(_iam().users.values()):
        for key in user.access_keys:
            if key.access_key_id == access_key_id:
                if key.status != "Active":
                    return None
                return Credential(access_key_id, key.secret_access_key,
                                  Principal(arn=user.arn, account_id=ACCOUNT_ID))
    for session in reversed(_sts().assumed_roles):
        if session.access_key_id == access_key_id:
            return Credential(access_key_id, session.secret_access_key,
                              Principal(arn=session.arn, account_id=session.account_id, role_arn=session.role_arn),
                              session.session_token, session.expiration.replace(tzinfo=dt.UTC)
                              if session.expiration.tzinfo is None else session.expiration,
                              getattr(session, "policy", None) or None)
    return None


def resolve(access_key_id: str) -> Credential | None:
    """The credential an access key id names, or None for a key that does not exist, is inactive or expired."""
    cred = _root_credentials.get(access_key_id)
    if cred is not None:
        return cred
    cred = _cache.get(access_key_id)
    if cred is not None:
        if cred.session_token is not None:
            if cred.expiration is None or cred.expiration > dt.datetime.now(dt.UTC):
                return cred
            return None
        if _user_key_live(cred):
            return cred
        _cache.pop(access_key_id, None)
    cred = _scan(access_key_id)
    if cred is not None:
        if cred.expiration is not None and cred.expiration <= dt.datetime.now(dt.UTC):
            return None
        _cache[access_key_id] = cred
    return cred


def forget() -> None:
    """Drop cached keys (after a reset of moto's backends)."""
    _cache.clear()


@dataclass(frozen=True)
class RequestCredentials:
    """The SigV4 parts of a request that name its signer (header or presigned query string).

    scope: ``<date>/<region>/<service>/aws4_request``.
    """

    access_key_id: str
    scope: str
    session_token: str | None
    presigned: bool


def request_credentials(environ: dict) -> RequestCredentials | None:
    """The signer of a SigV4 request, or None for an unsigned (anonymous) one."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if auth:
        if "Credential=" not in auth:
            return None
        credential = auth.split("Credential=", 1)[1].split(",", 1)[0].strip()
        key, _, scope = credential.partition("/")
        return RequestCredentials(key, scope, environ.get("HTTP_X_AMZ_SECURITY_TOKEN"), False)
    query = environ.get("QUERY_STRING", "")
    if "X-Amz-Credential=" in query:
        params = parse_qs(query)
        key, _, scope = params["X-Amz-Credential"][0].partition("/")
        token = params.get("X-Amz-Security-Token", [None])[0]
        return RequestCredentials(key, scope, token, True)
    return None


def principal_of(environ: dict) -> Principal | None:
    """The principal a request is authorised as: its signer's, None for an unsigned request. A key this module
    does not know is taken as the account root (the SigV4 check refuses it when authorization is on)."""
    signer = request_credentials(environ)
    if signer is None:
        return None
    cred = resolve(signer.access_key_id)
    return cred.principal if cred is not None else root(ACCOUNT_ID)
