"""S3: moto's, with bucket policies evaluated as the local endpoint needs and every change made durable.

- Bucket policies: moto ignores Conditions, so a conditional Deny denies everything. Statements whose condition
  holds are applied; the local endpoint stands in for AWS's TLS endpoints, so ``aws:SecureTransport`` is true (the
  lake's TLS-only Deny must not deny every local call). Conditions not evaluated here leave their statement out
  (logged at debug).
- Durability: every change to a bucket's keys (put, copy, delete, delete markers, versions) tells the state store
  (``local_aws.state``), which writes that key's versions, and the body as a content-addressed blob, before the
  request is answered.
- Conditional writes (PutObject and DeleteObject with ``If-None-Match``/``If-Match``) are atomic, as S3 documents:
  moto checks the condition and then writes, so two concurrent writers could both pass; here they take turns.
"""

from __future__ import annotations

import json
import logging
import threading

from moto.core.common_models import CloudFormationModel
from moto.s3.exceptions import MissingBucket
from moto.s3.models import FakeBucket, s3_backends

from local_aws.cfn_resources import LocalResource
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


# S3 User Guide, "Add preconditions to S3 operations with conditional requests": "If multiple conditional writes
# occur for the same object name, the first write operation to finish succeeds" and the others get 412
# PreconditionFailed. One lock for every conditional write in the process (they are rare: locks, manifests).
_conditional_writes = threading.Lock()


def _conditional(request_headers) -> bool:
    return bool(request_headers.get("If-None-Match") or request_headers.get("If-Match"))


@patch("moto.s3.responses.S3Response.put_object", why="a conditional PutObject is atomic on S3; moto checks the "
       "condition and then writes, so two concurrent writers could both succeed", wrap=True)
def _put_object(original):
    def put_object(self):
        if not _conditional(self.headers):
            return original(self)
        with _conditional_writes:
            return original(self)

    return put_object


@patch("moto.s3.responses.S3Response.delete_object", why="a conditional DeleteObject (If-Match) is atomic on S3, "
       "as a conditional PutObject", wrap=True)
def _delete_object(original):
    def delete_object(self):
        if not _conditional(self.headers):
            return original(self)
        with _conditional_writes:
            return original(self)

    return delete_object


# --- CloudFormation (added by the Step Functions/CloudFormation conversion; kept apart from the rest) --------------
# AWS::S3::Bucket: moto's handler leaves out VersioningConfiguration, PublicAccessBlockConfiguration and
# LifecycleConfiguration; AWS::S3::BucketPolicy: moto lacks the type. Source: AWS CloudFormation User Guide,
# "AWS::S3::Bucket" and "AWS::S3::BucketPolicy" (Ref of a bucket policy: the bucket name).


@patch("moto.s3.models.FakeBucket.create_from_cloudformation_json", why="moto's AWS::S3::Bucket ignores "
       "VersioningConfiguration, PublicAccessBlockConfiguration and LifecycleConfiguration", wrap=True)
def _bucket_create(original: classmethod):
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name,
                                        **kwargs):
        bucket = original.__func__(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        backend = s3_backends[account_id][bucket.partition]
        props = cloudformation_json.get("Properties", {})
        status = (props.get("VersioningConfiguration") or {}).get("Status")
        if status:
            backend.put_bucket_versioning(bucket.name, status)
        block = props.get("PublicAccessBlockConfiguration")
        if block:
            backend.put_public_access_block(bucket.name, block)
        rules = (props.get("LifecycleConfiguration") or {}).get("Rules")
        if rules:
            try:
                backend.put_bucket_lifecycle(bucket.name, rules)
            except Exception as error:  # moto validates rules more narrowly than S3: keep the bucket
                log.debug("bucket %s: lifecycle not applied locally: %s", bucket.name, error)
        return bucket

    return classmethod(create_from_cloudformation_json)


class BucketPolicy(LocalResource, CloudFormationModel):
    TYPE = "AWS::S3::BucketPolicy"

    @classmethod
    def create(cls, name, props, account_id, region):
        bucket = props["Bucket"]
        s3_backends[account_id]["aws"].put_bucket_policy(bucket, json.dumps(props["PolicyDocument"]).encode())
        return cls(bucket)

    @classmethod
    def remove(cls, name, props, account_id, region):
        try:
            s3_backends[account_id]["aws"].delete_bucket_policy(name)
        except MissingBucket:
            pass  # the bucket went first: its policy went with it
