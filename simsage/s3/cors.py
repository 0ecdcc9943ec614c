"""CORS, as S3 answers browsers: how a page in a browser (a local web app, a notebook's
widget) is allowed to call the bucket, by the bucket's CORS rules (PutBucketCors, kept
by :mod:`simsage.s3.bucket_config_api`), as S3 allows it.

- A **preflight** (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``)
  is answered without a signature, as S3 answers it. A matching rule gives 200 with
  ``Access-Control-Allow-Origin`` / ``-Methods`` / ``-Headers`` / ``-Max-Age`` /
  ``-Expose-Headers`` (and ``-Allow-Credentials`` for a named origin). No rule, or no
  configuration at all, is 403 ``AccessForbidden``.
- A **request with an Origin** header (a browser's real call, signed as usual) gets the
  same headers on its answer when a rule allows its origin and method, else none, and
  the browser then hides the answer from the page.

The S3 endpoint (:mod:`simsage.transport.s3_endpoint`) asks through the S3 service's
``cors_preflight`` and ``cors_headers``. Requests without an ``Origin`` header (every
SDK and CLI) never read the rules.
"""

from __future__ import annotations

from typing import Any

from simsage.errors import aws_error
from simsage.s3 import errors

_VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
_REFUSED = (  # S3's words, its spelling included
    "CORSResponse: This CORS request is not allowed. This is usually because the "
    "evalution of Origin, request method / Access-Control-Request-Method or "
    "Access-Control-Request-Headers are not whitelisted by the resource's CORS spec."
)


def preflight(backend, bucket: str | None, key: str | None, headers: dict[str, str]):
    """The headers of the 200 answer to an ``OPTIONS`` request (a preflight).

    Raises:
        AWSError: BadRequest without Origin or Access-Control-Request-Method,
            NoSuchBucket, AccessForbidden (403) when no rule allows the request.
    """
    origin = headers.get("origin")
    method = headers.get("access-control-request-method")
    if not origin:
        raise aws_error(
            "BadRequest", 400, "Insufficient information. Origin request header needed."
        )
    if not method:
        raise aws_error(
            "BadRequest",
            400,
            "Insufficient information. Access-Control-Request-Method request header needed.",
        )
    resource = "OBJECT" if key else "BUCKET"
    if bucket is None:
        raise aws_error("AccessForbidden", 403, _REFUSED, Method=method, ResourceType=resource)
    rules = backend.get_setting(bucket, "cors")  # NoSuchBucket for a bucket that does not exist
    if rules is None:
        raise aws_error(
            "AccessForbidden",
            403,
            "CORSResponse: CORS is not enabled for this bucket.",
            Method=method,
            ResourceType=resource,
        )
    requested = [
        h.strip() for h in headers.get("access-control-request-headers", "").split(",") if h.strip()
    ]
    rule = cors_rule(rules, origin, method, requested)
    if rule is None:
        raise aws_error("AccessForbidden", 403, _REFUSED, Method=method, ResourceType=resource)
    out = _allow(rule, origin)
    if requested:
        out.append(("Access-Control-Allow-Headers", ", ".join(h.lower() for h in requested)))
    return out


def response_headers(backend, bucket: str | None, method: str, headers: dict[str, str]):
    """The CORS headers for the answer to a browser's request (one with ``Origin``):
    those of the first rule allowing its origin and method, else none."""
    origin = headers.get("origin")
    if not origin or bucket is None:
        return []
    try:
        rules = backend.get_setting(bucket, "cors")
    except errors.NoSuchBucket:  # the answer says so, without CORS headers
        return []
    rule = cors_rule(rules or [], origin, method, [])
    return [] if rule is None else _allow(rule, origin)


def cors_rule(
    rules: list[dict[str, Any]], origin: str, method: str, headers: list[str]
) -> dict[str, Any] | None:
    """The first CORS rule that allows a request from ``origin`` with ``method`` and
    the request ``headers`` (their names), as S3 evaluates rules: the origin matches one
    AllowedOrigin (``*`` stands for any run of characters), the method is one of
    AllowedMethods, and each header matches an AllowedHeader (case-insensitive)."""
    for rule in rules:
        if method not in rule.get("AllowedMethods", ()):
            continue
        if not any(_wildcard(allowed, origin) for allowed in rule.get("AllowedOrigins", ())):
            continue
        allowed_headers = [h.lower() for h in rule.get("AllowedHeaders", ())]
        if all(any(_wildcard(a, h.lower()) for a in allowed_headers) for h in headers):
            return rule
    return None


def _wildcard(pattern: str, value: str) -> bool:
    head, star, tail = pattern.partition("*")
    if not star:
        return pattern == value
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


def _allow(rule: dict[str, Any], origin: str) -> list[tuple[str, str]]:
    anyone = "*" in rule.get("AllowedOrigins", ())
    out = [
        ("Access-Control-Allow-Origin", "*" if anyone else origin),
        ("Access-Control-Allow-Methods", ", ".join(rule["AllowedMethods"])),
    ]
    if not anyone:
        out.append(("Access-Control-Allow-Credentials", "true"))
    if rule.get("ExposeHeaders"):
        out.append(("Access-Control-Expose-Headers", ", ".join(rule["ExposeHeaders"])))
    if rule.get("MaxAgeSeconds") is not None:
        out.append(("Access-Control-Max-Age", str(rule["MaxAgeSeconds"])))
    out.append(("Vary", _VARY))
    return out
