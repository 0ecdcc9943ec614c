"""The official SageMaker Python SDK v3 (sagemaker-core, sagemaker-train, sagemaker-serve)
against simsage, in its own environment: v3 and v2 cannot share one, so this folder is
left out of the main run (``norecursedirs`` in pyproject.toml) and ``make test-sdk3``
runs it in ``.venv-sdk3``. Without v3 installed its modules are skipped.

The fixtures are test plumbing only; the flows themselves are what a notebook does after
``simsage.activate()``:

- ``v3``: simsage active (the ``simsage_local`` fixture), the SDK as on a fresh machine
  offline: its defaults config files replaced by an empty one, and its telemetry GET
  (a plain ``requests.get`` on a daemon thread, outside boto3) recorded instead of sent,
  so the suite never reaches for the network. Offline the real GET fails at once
  (no proxy here, no hang) and the SDK drops the event; ``test_v3_telemetry`` shows the
  flows do not depend on it. sagemaker-core caches its boto3 clients for the process
  (``SageMakerClient``): the cache is dropped after each test, as a fresh process would
  start, since each test has its own SIMSAGE_HOME.
- ``fast_polls``: sagemaker-core's waiters sleep 5 s between polls (the session's
  endpoint waiter 30 s); here they sleep at
  most 0.1 s while their clock moves on by the full interval (nothing else in the process
  sees a different ``time``).
- ``role``: the execution role a user creates in IAM once (v3 validates it in IAM
  before it starts anything).
"""

from __future__ import annotations

import json
import threading

import pytest
from sdk_helpers import SAGEMAKER_TRUST, fast_time


@pytest.fixture
def telemetry_calls(simsage_local, monkeypatch):
    """The telemetry URLs the SDK asked for (recorded, answered None as when offline)."""
    from sagemaker.core.telemetry import telemetry_logging

    calls: list[str] = []

    def record(url, timeout):
        calls.append(url)
        return None

    monkeypatch.setattr(telemetry_logging, "_requests_helper", record)
    yield calls
    # Each event is sent from a daemon thread that first asks STS for the account: let
    # them finish while simsage is still active (this fixture ends before simsage_local).
    for thread in threading.enumerate():
        if thread.name == "sagemaker-telemetry":
            thread.join(timeout=30)


@pytest.fixture
def v3(simsage_local, monkeypatch, tmp_path, telemetry_calls):
    empty = tmp_path / "sagemaker-config.yaml"
    empty.write_text("")
    monkeypatch.setenv("SAGEMAKER_ADMIN_CONFIG_OVERRIDE", str(empty))
    monkeypatch.setenv("SAGEMAKER_USER_CONFIG_OVERRIDE", str(empty))
    from sagemaker.core.utils.utils import SageMakerClient

    SageMakerClient.reset()
    yield simsage_local
    SageMakerClient.reset()


@pytest.fixture
def fast_polls(monkeypatch):
    import sagemaker.core.helper.session_helper
    import sagemaker.core.resources

    fast = fast_time()
    # The resources' waiters, and the session's (ModelBuilder.deploy waits through it,
    # 30 s between endpoint checks).
    monkeypatch.setattr(sagemaker.core.resources, "time", fast)
    monkeypatch.setattr(sagemaker.core.helper.session_helper, "time", fast)


@pytest.fixture
def role(v3) -> str:
    """``arn:aws:iam::<account>:role/SageMakerRole``, created as a user would."""
    iam = v3.client("iam")
    created = iam.create_role(
        RoleName="SageMakerRole", AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST)
    )
    return created["Role"]["Arn"]
