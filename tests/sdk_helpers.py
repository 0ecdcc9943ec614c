"""What the official SDK tests of both versions share (tests/functional/test_official_sdk.py
for v2, tests/sdk_v3 for v3, which run in different venvs but both have ``tests/`` on
their path): the data a learner's notebook makes, the trust policy of a role SageMaker
may assume, and the SDK's pacing clock made fast."""

from __future__ import annotations

import time
import types

import numpy as np

SAGEMAKER_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def trust_of(service: str) -> dict:
    """A trust policy letting ``service`` (e.g. ``lambda.amazonaws.com``) assume a role."""
    statement = {**SAGEMAKER_TRUST["Statement"][0], "Principal": {"Service": service}}
    return {**SAGEMAKER_TRUST, "Statement": [statement]}


def dataset(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A separable binary problem over 4 features."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    return x, y


def write_csv(path, x: np.ndarray, y: np.ndarray | None = None) -> None:
    """CSV as the built-in XGBoost reads it: no header, the label (if any) first."""
    rows = x if y is None else np.column_stack([y, x])
    np.savetxt(path, rows, delimiter=",", fmt="%.5f")


def fast_time() -> types.SimpleNamespace:
    """A stand-in for the ``time`` module whose ``sleep`` waits at most 0.1 s and whose
    clock moves on by the full interval asked for, as if it had slept it. The SDKs pace
    their waits (10–30 s) for real instances; a test hands this to the SDK modules that
    poll, and nothing else in the process sees it."""
    skipped = 0.0

    def sleep(seconds: float) -> None:
        nonlocal skipped
        real = min(seconds, 0.1)
        time.sleep(real)
        skipped += seconds - real

    def clock() -> float:
        return time.time() + skipped

    fake = types.SimpleNamespace(
        **{name: getattr(time, name) for name in dir(time) if not name.startswith("__")}
    )
    fake.sleep = sleep
    fake.time = clock
    return fake
