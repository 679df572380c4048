"""Signature Version 4, checked as AWS checks it: the request's signature recomputed with the signer's secret.

    sigv4.verify(environ, body, secret_access_key)   # None when it matches, else the reason (a Mismatch)

Source: AWS General Reference / IAM User Guide, "Create a signed AWS API request" and "Elements of an AWS API
request signature" (canonical request: method, URI-encoded path (S3: as sent, others: normalised then encoded
again), sorted URI-encoded query, lower-cased trimmed signed headers, payload hash; string to sign; the
AWS4<secret> / date / region / service / aws4_request key chain), and Amazon S3 API Reference, "Authenticating
Requests: Using Query Parameters" (presigned URLs: UNSIGNED-PAYLOAD, X-Amz-Expires). A request signed more than
15 minutes from the server's clock is refused ("Signature expired" / "Signature not yet current"), as on AWS.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import posixpath
from dataclasses import dataclass
from urllib.parse import quote, unquote

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_SKEW = dt.timedelta(minutes=15)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True)
class Mismatch:
    """Why a signature was refused: ``expired`` (a presigned URL past X-Amz-Expires), ``skewed`` (a request time
    more than 15 minutes away; ``detail`` says which) or ``signature``."""

    kind: str
    detail: str = ""


def _parse_authorization(header: str) -> dict[str, str]:
    _, _, rest = header.partition(" ")
    parts = {}
    for item in rest.split(","):
        key, _, value = item.strip().partition("=")
        parts[key] = value
    return parts


def _header(environ: dict, name: str) -> str:
    if name == "content-type":
        value = environ.get("CONTENT_TYPE", "")
    elif name == "content-length":
        value = environ.get("CONTENT_LENGTH", "")
    else:
        value = environ.get("HTTP_" + name.upper().replace("-", "_"), "")
    return " ".join(value.split())


def _canonical_uri(raw_path: str, service: str) -> str:
    if service == "s3":
        return raw_path or "/"
    normalized = posixpath.normpath(raw_path) if raw_path not in ("", "/") else "/"
    if raw_path.endswith("/") and normalized != "/":
        normalized += "/"
    if normalized.startswith("//"):
        normalized = "/" + normalized.lstrip("/")
    return quote(normalized, safe="/~")


def _canonical_query(query: str, drop: str | None = None) -> str:
    pairs = []
    for pair in query.split("&") if query else []:
        if not pair:
            continue
        key, _, value = pair.partition("=")
        key, value = unquote(key), unquote(value)
        if key == drop:
            continue
        pairs.append((quote(key, safe="-_.~"), quote(value, safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _raw_path(environ: dict) -> str:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return raw.split("?", 1)[0]
    return quote(environ.get("PATH_INFO", ""), safe="/~!$&'()*+,;=:@%")


def _skew(timestamp: str) -> Mismatch | None:
    try:
        signed_at = dt.datetime.strptime(timestamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None  # no X-Amz-Date: the signature check refuses it
    now = dt.datetime.now(dt.UTC)
    if abs(now - signed_at) <= MAX_SKEW:
        return None
    fmt = "%Y%m%dT%H%M%SZ"
    if signed_at < now:
        detail = (f"Signature expired: {timestamp} is now earlier than {(now - MAX_SKEW).strftime(fmt)} "
                  f"({now.strftime(fmt)} - 15 min.)")
    else:
        detail = (f"Signature not yet current: {timestamp} is still later than {(now + MAX_SKEW).strftime(fmt)} "
                  f"({now.strftime(fmt)} + 15 min.)")
    return Mismatch("skewed", detail)


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def verify(environ: dict, body: bytes | None, secret: str) -> Mismatch | None:
    """Recompute the request's SigV4 signature with ``secret``. ``body``: the payload when the request carries no
    x-amz-content-sha256 header (None: not read, taken as empty)."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    query = environ.get("QUERY_STRING", "")
    if auth:
        fields = _parse_authorization(auth)
        credential = fields.get("Credential", "")
        signed_headers = fields.get("SignedHeaders", "")
        given = fields.get("Signature", "")
        timestamp = _header(environ, "x-amz-date")
        skew = _skew(timestamp)
        if skew is not None:
            return skew
        canonical_query = _canonical_query(query)
        payload = environ.get("HTTP_X_AMZ_CONTENT_SHA256") or (
            hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256)
    else:
        params = {}
        for pair in query.split("&"):
            key, _, value = pair.partition("=")
            params[unquote(key)] = unquote(value)
        credential = params.get("X-Amz-Credential", "")
        signed_headers = params.get("X-Amz-SignedHeaders", "")
        given = params.get("X-Amz-Signature", "")
        timestamp = params.get("X-Amz-Date", "")
        try:
            signed_at = dt.datetime.strptime(timestamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
            expires = int(params.get("X-Amz-Expires", "604800"))
        except ValueError:
            return Mismatch("signature")
        if dt.datetime.now(dt.UTC) > signed_at + dt.timedelta(seconds=expires):
            return Mismatch("expired")
        canonical_query = _canonical_query(query, drop="X-Amz-Signature")
        payload = UNSIGNED_PAYLOAD
    scope = credential.split("/", 1)[1] if "/" in credential else ""
    date, _, rest = scope.partition("/")
    region, _, rest = rest.partition("/")
    service = rest.partition("/")[0]
    names = [n for n in signed_headers.split(";") if n]
    canonical_headers = "".join(f"{n}:{_header(environ, n)}\n" for n in names)
    canonical = "\n".join([environ.get("REQUEST_METHOD", "GET").upper(), _canonical_uri(_raw_path(environ), service),
                           canonical_query, canonical_headers, signed_headers, payload])
    string_to_sign = "\n".join(["AWS4-HMAC-SHA256", timestamp, scope,
                                hashlib.sha256(canonical.encode()).hexdigest()])
    expected = hmac.new(signing_key(secret, date, region, service), string_to_sign.encode(),
                        hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(expected, given) else Mismatch("signature")
