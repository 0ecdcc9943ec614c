"""Fixtures of the S3 endpoint tests: an :class:`S3Endpoint` serving its own
SIMSAGE_HOME from a thread, and boto3 clients that reach it over HTTP (simsage is not
activated, so no call is answered in-process)."""

from __future__ import annotations

import contextlib
import threading
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
