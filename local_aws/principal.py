"""Who is calling: the principal a call is authorised as, IAM's and Lake Formation's one input about the caller.

    from local_aws import principal
    caller = principal.current()          # None: nobody was authenticated (authorization off, or an internal call)
    with principal.acting_as(role_session):
        ...                               # calls made here are authorised as the role, as on AWS

The server sets it for each request from the request's credentials. A service that acts as a role on AWS (a state
machine as its execution role, a Glue job or crawler as its role, a Lambda function's SDK calls, Redshift COPY,
UNLOAD and Spectrum as the statement's IAM_ROLE) runs that work inside ``acting_as``. Work moved to another thread
carries no principal: a contextvar does not follow a thread, so the service enters ``acting_as`` there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from local_aws import settings


@dataclass(frozen=True)
class Principal:
    """A caller as IAM names it (the ``aws:PrincipalArn`` and ``aws:userid`` of the IAM policy docs).

    arn: ``arn:aws:iam::<account>:root``, ``arn:aws:iam::<account>:user/<name>`` or, for temporary credentials of a
    role, ``arn:aws:sts::<account>:assumed-role/<role name>/<session name>``.
    role_arn: the role's ``arn:aws:iam::<account>:role/<path><name>`` for an assumed-role session, else None.
    """

    arn: str
    account_id: str
    role_arn: str | None = None

    @property
    def is_root(self) -> bool:
        return self.arn == f"arn:aws:iam::{self.account_id}:root"


def root(account_id: str) -> Principal:
    """The account's root user, which IAM policies never restrict."""
    return Principal(arn=f"arn:aws:iam::{account_id}:root", account_id=account_id)


_current: ContextVar[Principal | None] = ContextVar("local_aws.principal", default=None)


def current() -> Principal | None:
    """The principal of the call being served, or None when no principal was established."""
    return _current.get()


@contextmanager
def acting_as(caller: Principal | None) -> Iterator[Principal | None]:
    """Run the block as ``caller`` (None: as nobody); the previous principal is restored after it."""
    token = _current.set(caller)
    try:
        yield caller
    finally:
        _current.reset(token)


def enforcing() -> bool:
    """Whether calls are authorised (``LOCAL_AWS_AUTHORIZATION``, on by default)."""
    return settings.current().authorization == "on"
