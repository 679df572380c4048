"""S3: moto's, with buckets and objects persisted in the state dir.

Layout: ``<state>/s3/buckets.json`` (bucket configuration and each bucket's key index) and
``<state>/s3/blobs/<sha256>`` (object bodies, content-addressed, so an unchanged object is never rewritten).
Only the latest version of each key is kept across restarts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from moto.s3.models import FakeBucket, FakeDeleteMarker, s3_backends

from local_aws import ACCOUNT_ID

PRIORITY = 10  # other services read S3 while loading
log = logging.getLogger(__name__)


def _condition_holds(condition: dict) -> bool | None:
    """Evaluate a bucket-policy Condition for a local request; None when it cannot be evaluated here.

    The local endpoint stands in for AWS's TLS endpoints, so `aws:SecureTransport` is true: the lake's
    TLS-only policy (Deny when SecureTransport is false) must not deny every local call.
    """
    if set(condition) == {"Bool"} and set(condition["Bool"]) == {"aws:SecureTransport"}:
        return str(condition["Bool"]["aws:SecureTransport"]).lower() == "true"
    return None


def _get_permission(bucket: FakeBucket, action: str, resource: str):
    """moto ignores Conditions, so a conditional Deny denies everything; apply only statements that hold."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    if bucket.policy is None:
        return PermissionResult.NEUTRAL
    policy = json.loads(bucket.policy)
    statements = policy.get("Statement", [])
    kept = []
    for statement in statements if isinstance(statements, list) else [statements]:
        if "Condition" not in statement:
            kept.append(statement)
            continue
        holds = _condition_holds(statement["Condition"])
        if holds is None:
            log.debug("bucket %s: policy condition not evaluated locally: %s", bucket.name, statement["Condition"])
        elif holds:
            kept.append({k: v for k, v in statement.items() if k != "Condition"})
    if not kept:
        return PermissionResult.NEUTRAL
    return IAMPolicy(json.dumps({**policy, "Statement": kept})).is_action_permitted(action, resource)


def install(server) -> None:
    FakeBucket.get_permission = _get_permission


def _backend():
    return s3_backends[ACCOUNT_ID]["global"]


def _root(server) -> Path:
    return Path(server.state_dir) / "s3"


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _public_access_block(bucket) -> dict | None:
    block = bucket.public_access_block
    if block is None:
        return None
    return {
        "BlockPublicAcls": block.block_public_acls,
        "IgnorePublicAcls": block.ignore_public_acls,
        "BlockPublicPolicy": block.block_public_policy,
        "RestrictPublicBuckets": block.restrict_public_buckets,
    }


def save_state(server) -> None:
    root = _root(server)
    blobs = root / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    buckets, referenced = [], set()
    for bucket in list(_backend().buckets.values()):
        objects = {}
        for key in list(bucket.keys.keys()):
            obj = bucket.keys.get(key)
            if obj is None or isinstance(obj, FakeDeleteMarker):
                continue
            body = obj.value
            digest = hashlib.sha256(body).hexdigest()
            if not (blobs / digest).exists():
                _atomic_write(blobs / digest, body)
            referenced.add(digest)
            objects[key] = {"blob": digest, "metadata": dict(obj.metadata or {})}
        buckets.append({
            "name": bucket.name,
            "region": bucket.region_name,
            "versioning": bucket.versioning_status,
            "policy": bucket.policy.decode() if isinstance(bucket.policy, bytes) else bucket.policy,
            "encryption": bucket.encryption,
            "public_access_block": _public_access_block(bucket),
            "objects": objects,
        })
    _atomic_write(root / "buckets.json", json.dumps(buckets).encode())
    for blob in blobs.iterdir():
        if blob.name not in referenced and not blob.name.startswith("."):
            blob.unlink(missing_ok=True)


def load_state(server) -> None:
    index = _root(server) / "buckets.json"
    if not index.exists():
        return
    backend = _backend()
    blobs = _root(server) / "blobs"
    for saved in json.loads(index.read_text()):
        name = saved["name"]
        if name not in backend.buckets:
            backend.create_bucket(name, saved["region"])
        if saved.get("versioning"):
            backend.put_bucket_versioning(name, saved["versioning"])
        if saved.get("policy"):
            backend.put_bucket_policy(name, saved["policy"].encode())
        if saved.get("encryption"):
            backend.put_bucket_encryption(name, saved["encryption"])
        if saved.get("public_access_block"):
            backend.put_public_access_block(name, saved["public_access_block"])
        for key, entry in saved["objects"].items():
            obj = backend.put_object(name, key, (blobs / entry["blob"]).read_bytes())
            obj.set_metadata(entry.get("metadata") or {})
    log.info("loaded %d bucket(s) from %s", len(backend.buckets), index.parent)
