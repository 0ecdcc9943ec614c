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
  (``SageMakerClient``, and the ``CloudWatchLogsClient`` singleton the resources'
  ``wait(logs=True)`` reads through): both are dropped after each test, as a fresh
  process would start, since each test has its own SIMSAGE_HOME.
- ``fast_polls``: sagemaker-core's waiters sleep 5 s between polls (the session's
  endpoint waiter 30 s, the processors' log tailing 10 s); here they sleep at most
  0.1 s while their clock moves on by the full interval (nothing else in the process
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
    from sagemaker.core.utils.logs import CloudWatchLogsClient
    from sagemaker.core.utils.utils import SageMakerClient, SingletonMeta

    def drop_cached_clients():
        SageMakerClient.reset()
        # The resources' ``wait(logs=True)`` reads CloudWatch through a process-wide
        # singleton client: one made in an earlier test would answer from its home.
        SingletonMeta._instances.pop(CloudWatchLogsClient, None)

    drop_cached_clients()
    yield simsage_local
    drop_cached_clients()


@pytest.fixture
def fast_polls(monkeypatch):
    import sagemaker.core.common_utils
    import sagemaker.core.helper.session_helper
    import sagemaker.core.processing
    import sagemaker.core.resources

    fast = fast_time()
    # The resources' waiters, and the session's (ModelBuilder.deploy waits through it,
    # 30 s between endpoint checks), and the processors' (``run`` polls the job through
    # ``common_utils._wait_until`` and tails its logs in ``processing``, 10 s apart,
    # describing the job once 30 s have passed).
    for module in (
        sagemaker.core.resources,
        sagemaker.core.helper.session_helper,
        sagemaker.core.common_utils,
        sagemaker.core.processing,
    ):
        monkeypatch.setattr(module, "time", fast)


@pytest.fixture
def role(v3) -> str:
    """``arn:aws:iam::<account>:role/SageMakerRole``, created as a user would."""
    iam = v3.client("iam")
    created = iam.create_role(
        RoleName="SageMakerRole", AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST)
    )
    return created["Role"]["Arn"]
