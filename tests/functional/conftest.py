"""Fixtures of the official SDK v2 tests (test_official_sdk.py, test_official_sdk_processing.py).

Test plumbing only: the SDK's code and the notebook code stay unchanged. Each fixture
imports the SDK when a test asks for it, so the other functional tests run without it.
"""

from __future__ import annotations

import pytest
from sdk_helpers import fast_time


@pytest.fixture
def fast_sdk_polls(monkeypatch):
    """The SDK paces its waits with ``time`` in ``sagemaker.session``: it sleeps 10 s
    between log polls and 30 s between endpoint checks, and while tailing logs it
    describes the job only once 30 s of ``time.time()`` have passed (training, transform
    and processing jobs alike). Those intervals are sized for real instances; simsage's
    jobs end in seconds. So the test hands that one module a ``time`` whose ``sleep``
    waits at most 0.1 s and whose clock moves on by the full interval asked for, as if the
    SDK had slept it. Nothing else in the process (simsage's own threads included) sees a
    different ``time``."""
    import sagemaker.session

    monkeypatch.setattr(sagemaker.session, "time", fast_time())


@pytest.fixture
def isolated_sdk(monkeypatch, tmp_path):
    """The SDK as on a fresh machine, offline.

    - Its defaults config files (``/etc/xdg/sagemaker``, ``~/.config/sagemaker``) are
      replaced by an empty one, so a developer's own SDK config cannot change the test.
    - After ``fit``, ``deploy``, ``run`` and the like it reports usage with a plain
      ``requests.get`` to an AWS URL (not through boto3, so simsage never sees it); that
      one helper answers None here, as it does when the request fails. (Opting out in
      the config file works too, but then the SDK validates the file against its JSON
      schema on every config lookup: 20 s over this file.)
    """
    from sagemaker.telemetry import telemetry_logging

    empty = tmp_path / "sagemaker-config.yaml"
    empty.write_text("")
    monkeypatch.setenv("SAGEMAKER_ADMIN_CONFIG_OVERRIDE", str(empty))
    monkeypatch.setenv("SAGEMAKER_USER_CONFIG_OVERRIDE", str(empty))
    monkeypatch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    monkeypatch.setattr(telemetry_logging, "_requests_helper", lambda url, timeout: None)
