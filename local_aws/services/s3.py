"""S3: moto's, with bucket policies evaluated as the local endpoint needs and every change made durable.

- Bucket policies: moto ignores Conditions, so a conditional Deny denies everything. Statements whose condition
  holds are applied; the local endpoint stands in for AWS's TLS endpoints, so ``aws:SecureTransport`` is true (the
  lake's TLS-only Deny must not deny every local call). Conditions not evaluated here leave their statement out
  (logged at debug).
- Durability: every change to a bucket's keys (put, copy, delete, delete markers, versions) tells the state store
  (``local_aws.state``), which writes that key's versions, and the body as a content-addressed blob, before the
  request is answered.
"""

from __future__ import annotations

import json
import logging

from moto.s3.models import FakeBucket

from local_aws.patches import patch
from local_aws.state import store as state_store

log = logging.getLogger(__name__)


def _condition_holds(condition: dict) -> bool | None:
    """Evaluate a bucket-policy Condition for a local request; None when it cannot be evaluated here."""
    if set(condition) == {"Bool"} and set(condition["Bool"]) == {"aws:SecureTransport"}:
        return str(condition["Bool"]["aws:SecureTransport"]).lower() == "true"
    return None


@patch("moto.s3.models.FakeBucket.get_permission", why="moto ignores policy Conditions: a conditional Deny (the "
       "lake's TLS-only policy) would deny every local call")
def get_permission(self: FakeBucket, action: str, resource: str):
    from moto.iam.access_control import IAMPolicy, PermissionResult

    if self.policy is None:
        return PermissionResult.NEUTRAL
    policy = json.loads(self.policy)
    statements = policy.get("Statement", [])
    kept = []
    for statement in statements if isinstance(statements, list) else [statements]:
        if "Condition" not in statement:
            kept.append(statement)
            continue
        holds = _condition_holds(statement["Condition"])
        if holds is None:
            log.debug("bucket %s: policy condition not evaluated locally: %s", self.name, statement["Condition"])
        elif holds:
            kept.append({k: v for k, v in statement.items() if k != "Condition"})
    if not kept:
        return PermissionResult.NEUTRAL
    return IAMPolicy(json.dumps({**policy, "Statement": kept})).is_action_permitted(action, resource)


def _key_changed(store, key) -> None:
    active = state_store.active()
    if active is not None:
        active.key_changed(store, key)


@patch("moto.s3.utils._VersionedKeyStore.__setitem__", why="durability: a new version of a key is recorded",
       wrap=True)
def _setitem(original):
    def __setitem__(self, key, value):
        original(self, key, value)
        _key_changed(self, key)

    return __setitem__


@patch("moto.s3.utils._VersionedKeyStore.setlist", why="durability: a key's versions replaced (PutObject, "
       "DeleteObject of a version) are recorded", wrap=True)
def _setlist(original):
    def setlist(self, key, list_):
        result = original(self, key, list_)
        _key_changed(self, key)
        return result

    return setlist


@patch("moto.s3.utils._VersionedKeyStore.pop", why="durability: a deleted key is recorded", wrap=True)
def _pop(original):
    def pop(self, key):
        result = original(self, key)
        _key_changed(self, key)
        return result

    return pop


@patch("moto.s3.models.FakeKey.value", why="durability: a key whose body is rewritten in place forgets the "
       "digest of the blob that held the old body", wrap=True)
def _value(original: property):
    def set_value(self, new_value):
        self.__dict__.pop(state_store.BLOB_ATTRIBUTE, None)
        original.fset(self, new_value)

    return property(original.fget, set_value)
