"""Which bucket and key an S3 request addresses, from its Host header and path.

Layer: transport (HTTP side). Path style (``/bucket/key``) on any host that names no
bucket — 127.0.0.1, localhost, ``s3.amazonaws.com``, ``s3.<region>.amazonaws.com``,
``host.docker.internal`` … — and virtual-hosted style when the host is
``bucket.localhost``, ``bucket.s3.localhost``, ``bucket.s3.amazonaws.com`` or
``bucket.s3.<region>.amazonaws.com`` (a port is ignored). Bucket and key are
percent-decoded exactly once; an empty key (``/bucket/``) is the bucket itself.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import unquote

_REGIONAL = re.compile(r"^(?:(?P<bucket>.+)\.)?s3[.-](?P<region>[a-z0-9-]+)\.amazonaws\.com$")
_VIRTUAL_SUFFIXES = (".s3.amazonaws.com", ".s3.localhost", ".localhost")
_PATH_HOSTS = {"s3.amazonaws.com", "s3.localhost", "localhost"}


@functools.lru_cache(maxsize=256)
def host_bucket(host: str) -> str | None:
    """The bucket a virtual-hosted request names in its Host header (a port is ignored),
    or None for a path-style host. Cached: a client sends the same few hosts."""
    name = host.strip().lower()
    if name.startswith("["):  # [::1]:port
        name = name[1 : name.find("]")] if "]" in name else name
    else:
        name = name.rsplit(":", 1)[0] if name.count(":") == 1 else name
    bucket = None
    if name not in _PATH_HOSTS:
        match = _REGIONAL.match(name)
        if match:
            bucket = match.group("bucket")
        else:
            for suffix in _VIRTUAL_SUFFIXES:
                if name.endswith(suffix) and len(name) > len(suffix):
                    bucket = name[: -len(suffix)]
                    break
    return bucket


def split_address(
    host: str, raw_path: str, virtual: str | None | bool = False
) -> tuple[str | None, str | None]:
    """The bucket and key a request addresses (None when absent).

    Args:
        host: the Host header.
        raw_path: the request path as sent (percent-encoded).
        virtual: ``host_bucket(host)`` when the caller has it already.
    """
    bucket = host_bucket(host) if virtual is False else virtual
    path = raw_path[1:] if raw_path.startswith("/") else raw_path
    if bucket is None:
        bucket_part, _, key_part = path.partition("/")
        bucket = _unquote(bucket_part) or None
    else:
        key_part = path
    key = _unquote(key_part) if key_part else None
    return bucket, key


def _unquote(text: str) -> str:
    return unquote(text) if "%" in text else text


def query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """The raw ``name=value`` pairs of a query string, in order, not decoded."""
    pairs = []
    for item in raw_query.split("&"):
        if item:
            name, _, value = item.partition("=")
            pairs.append((name, value))
    return pairs
