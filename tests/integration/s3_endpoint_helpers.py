"""Fixtures of the S3 endpoint tests: an :class:`S3Endpoint` serving its own
SIMSAGE_HOME from a thread, and boto3 clients that reach it over HTTP (simsage is not
activated, so no call is answered in-process)."""

from __future__ import annotations

import contextlib
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config as BotoConfig

from simsage.config import load_config
from simsage.transport.activation import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY
from simsage.transport.s3_endpoint import S3Endpoint

REGION = "us-east-1"


@contextlib.contextmanager
def serving(**options) -> Iterator[S3Endpoint]:
    """An endpoint of the configured home serving in a thread of this process, stopped
    at the end (``options``: S3Endpoint's, e.g. ``keepalive``)."""
    server = S3Endpoint(load_config(), **options)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture
def endpoint(simsage_home) -> Iterator[S3Endpoint]:
    with serving() as server:
        yield server


def client(url: str, secret: str = LOCAL_SECRET_KEY, **config):
    """A plain boto3 S3 client of the endpoint at ``url`` (no retries: errors show)."""
    return boto3.session.Session().client(
        "s3",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=LOCAL_ACCESS_KEY,
        aws_secret_access_key=secret,
        config=BotoConfig(retries={"max_attempts": 1, "mode": "standard"}, **config),
    )


@pytest.fixture
def s3(endpoint):
    return client(endpoint.url)


def _form(fields: dict[str, str], filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def post_form(
    url: str,
    fields: dict[str, str],
    filename: str = "f.bin",
    content: bytes = b"posted bytes",
    headers: dict[str, str] | None = None,
):
    """A browser's form POST of ``fields`` and one file (redirects not followed):
    ``(status, headers, body)``."""
    data, content_type = _form(fields, filename, content)
    request = urllib.request.Request(
        url, data=data, method="POST", headers={**(headers or {}), "Content-Type": content_type}
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()
