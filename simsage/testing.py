"""pytest plugin (registered through the ``pytest11`` entry point).

Fixtures:

- ``simsage_home``: a fresh, empty SIMSAGE_HOME for the test (the environment points at
  it, the backend is ``local``).
- ``simsage_local``: simsage activated on that home for the test: every boto3 client
  created during the test is answered by simsage, answers are checked against AWS's
  output shapes, and everything the test started is stopped afterwards. Non-boto3
  clients (pandas ``s3://``, s3fs, the AWS CLI in a subprocess) reach the home's S3
  endpoint through ``AWS_ENDPOINT_URL_S3``; the endpoint starts on their first request
  and stops at the end of the test.

    def test_upload(simsage_local):
        s3 = simsage_local.client("s3")
        s3.create_bucket(Bucket="data")
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import botocore.loaders
import botocore.session
import pytest

from simsage.config import Config, load_config
from simsage.transport import endpoint_record, endpoint_use
from simsage.transport.activation import activate, deactivate

# Service models are immutable JSON: one loader (and its cache) serves every test, so a
# test's new session does not parse the S3 or SageMaker model again.
_LOADER = botocore.loaders.create_loader()


@dataclass
class SimsageLocal:
    """What ``simsage_local`` gives a test."""

    home: Path
    config: Config

    def session(self, **kwargs) -> boto3.Session:
        """A boto3 session in simsage's region (its clients are answered by simsage)."""
        kwargs.setdefault("region_name", self.config.region)
        if "botocore_session" not in kwargs:
            core = botocore.session.get_session()
            core.register_component("data_loader", _LOADER)
            kwargs["botocore_session"] = core
        return boto3.Session(**kwargs)

    def client(self, service_name: str, **kwargs):
        """A boto3 client answered by simsage."""
        return self.session(
            region_name=kwargs.pop("region_name", None) or self.config.region
        ).client(service_name, **kwargs)


@pytest.fixture
def simsage_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "simsage-home"
    monkeypatch.setenv("SIMSAGE_HOME", str(home))
    monkeypatch.setenv("SIMSAGE_BACKEND", "local")
    for name in ("SIMSAGE_REGION", "SIMSAGE_ACCOUNT_ID"):
        monkeypatch.delenv(name, raising=False)
    yield home
    # The home's S3 endpoint, if the test started one and left it running, stops with it.
    if (home / endpoint_record.FOLDER).is_dir():
        endpoint_use.stop(home.resolve())


@pytest.fixture
def simsage_local(simsage_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimsageLocal]:
    monkeypatch.setenv("SIMSAGE_CHECK_OUTPUT", "1")
    config = load_config()
    transport = activate(config)
    try:
        yield SimsageLocal(home=simsage_home, config=config)
    finally:
        deactivate()
        if transport is not None and transport._home is not None:
            transport.home.stop_everything()
            transport.home.close()
