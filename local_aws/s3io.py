"""In-process access to the local S3 store, for engines that run inside the server (COPY, UNLOAD, crawlers...)."""

from __future__ import annotations

from moto.s3.models import FakeDeleteMarker, s3_backends

from local_aws import ACCOUNT_ID


def _backend():
    return s3_backends[ACCOUNT_ID]["global"]


def split_uri(uri: str) -> tuple[str, str]:
    """'s3://bucket/some/prefix' -> ('bucket', 'some/prefix')."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


def _live(obj) -> bool:
    """An object, not a versioned bucket's delete marker."""
    return obj is not None and not isinstance(obj, FakeDeleteMarker)


def list_keys(bucket: str, prefix: str = "") -> list[str]:
    """Every existing key under prefix, sorted (no delimiter, no paging; deleted keys of a versioned bucket
    are left out)."""
    b = _backend().get_bucket(bucket)
    return sorted(k for k in list(b.keys.keys()) if k.startswith(prefix) and _live(b.keys.get(k)))


def bucket_region(bucket: str) -> str:
    return _backend().get_bucket(bucket).region_name


def get_bytes(bucket: str, key: str) -> bytes:
    obj = _backend().get_object(bucket, key)
    if not _live(obj):
        raise KeyError(f"s3://{bucket}/{key}")
    return obj.value


def put_bytes(bucket: str, key: str, data: bytes) -> None:
    _backend().put_object(bucket, key, data)


def delete_keys(bucket: str, keys: list[str]) -> None:
    for key in keys:
        _backend().delete_object(bucket, key)
