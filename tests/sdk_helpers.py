"""What the official SDK tests of both versions share (tests/functional/test_official_sdk.py
for v2, tests/sdk_v3 for v3, which run in different venvs but both have ``tests/`` on
their path): the data a learner's notebook makes (a separable problem for training, a
census-income CSV for processing), the trust policy of a role SageMaker may assume, the
SDK's pacing clock made fast, and the recorder that captures the request an SDK sends
(simsage's or the official one) without running anything."""

from __future__ import annotations

import copy
import math
import time
import types
from pathlib import Path

import numpy as np
from botocore.stub import Stubber

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


class RequestRecorder:
    """The parameters of every ``method`` call (e.g. ``create_processing_job``) sent
    through ``client``, as the caller gave them; each call is answered by botocore's
    Stubber with ``response`` (see :meth:`expect`), so nothing runs. Any other call on
    that client fails the test (the Stubber has no answer for it)."""

    def __init__(self, client, method: str, response: dict) -> None:
        self.requests: list[dict] = []
        self.method = method
        self.response = response
        self.stubber = Stubber(client)
        operation = client.meta.method_to_api_mapping[method]
        client.meta.events.register(
            f"before-parameter-build.{client.meta.service_model.service_name}.{operation}",
            lambda params, **_: self.requests.append(copy.deepcopy(params)),
        )
        self.stubber.activate()

    def expect(self, calls: int = 1) -> None:
        """Answer the next ``calls`` calls."""
        for _ in range(calls):
            self.stubber.add_response(self.method, self.response)


def official_sdk_v2(monkeypatch, tmp_path):
    """The official SDK v2's ``sagemaker`` package (the test is skipped without it),
    isolated from the machine's SDK config and its telemetry (as in
    tests/functional/conftest.py's ``isolated_sdk``)."""
    import pytest

    empty = tmp_path / "sagemaker-config.yaml"
    empty.write_text("")
    monkeypatch.setenv("SAGEMAKER_ADMIN_CONFIG_OVERRIDE", str(empty))
    monkeypatch.setenv("SAGEMAKER_USER_CONFIG_OVERRIDE", str(empty))
    monkeypatch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    sagemaker = pytest.importorskip("sagemaker")
    from sagemaker.telemetry import telemetry_logging

    monkeypatch.setattr(telemetry_logging, "_requests_helper", lambda url, timeout: None)
    return sagemaker


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


CENSUS_COLUMNS = [
    "age",
    "education",
    "major industry code",
    "class of worker",
    "num persons worked for employer",
    "capital gains",
    "capital losses",
    "dividends from stocks",
    "marital stat",
    "income",
]
CENSUS_LABELS = (" - 50000.", " 50000+.")


def write_census_csv(path, rows: int, seed: int) -> None:
    """A small census-income CSV in the shape the public SageMaker Processing notebook
    reads (its columns, with a header, the income label as `` - 50000.``/`` 50000+.``,
    which higher education, industry and capital gains make likelier), plus what its
    cleaning step removes: a few repeated rows and a few rows with a missing field."""
    rng = np.random.default_rng(seed)
    educations = [" High school graduate", " Some college but no degree", " Bachelors degree"]
    educations += [" Masters degree", " Children", " Doctorate degree"]
    industries = [" Not in universe", " Retail trade", " Manufacturing", " Education"]
    industries += [" Finance insurance and real estate"]
    workers = [" Private", " Not in universe", " Self-employed", " Federal government"]
    marital = [" Never married", " Married", " Divorced"]
    age = rng.integers(16, 90, size=rows)
    education = rng.integers(0, len(educations), size=rows)
    industry = rng.integers(0, len(industries), size=rows)
    worker = rng.integers(0, len(workers), size=rows)
    persons = rng.integers(0, 7, size=rows)
    gains = np.where(rng.random(rows) < 0.1, rng.integers(1, 20000, size=rows), 0)
    losses = np.where(rng.random(rows) < 0.05, rng.integers(1, 3000, size=rows), 0)
    dividends = np.where(rng.random(rows) < 0.2, rng.integers(1, 5000, size=rows), 0)
    score = 0.6 * (education >= 2) + 0.4 * (industry == 4) + gains / 8000 + rng.normal(0, 0.3, rows)
    rich = score > 0.9
    lines = [",".join(CENSUS_COLUMNS)]
    for i in range(rows):
        fields = [
            str(age[i]),
            educations[education[i]],
            industries[industry[i]],
            workers[worker[i]],
            str(persons[i]),
            str(gains[i]),
            str(losses[i]),
            str(dividends[i]),
            marital[i % len(marital)],
            CENSUS_LABELS[int(rich[i])],
        ]
        if i % 97 == 5:
            fields[2] = ""  # a missing industry: the cleaning drops the row
        lines.append(",".join(fields))
    lines += lines[1 :: max(rows // 10, 1)]  # repeated rows: the cleaning drops them
    Path(path).write_text("\n".join(lines) + "\n")


def census_cleaned(path):
    """The rows of a census CSV that tests/data/processing/preprocessing.py keeps (the
    columns it reads, no missing field, no repeated row), computed independently."""
    import pandas as pd

    selected = [c for c in CENSUS_COLUMNS if c != "marital stat"]
    return pd.read_csv(path)[selected].dropna().drop_duplicates()


def census_split_shapes(path, ratio: float) -> dict[str, tuple[int, int]]:
    """The (rows, columns) of the train and test features preprocessing.py writes for
    the census CSV at ``path``: a test share of ``ratio`` rounded up (scikit-learn's
    ``train_test_split``), and 10 + 10 bins, 3 scaled columns and one column per
    category seen."""
    cleaned = census_cleaned(path)
    test_rows = math.ceil(ratio * len(cleaned))
    categorical = ["education", "major industry code", "class of worker"]
    width = 10 + 10 + 3 + sum(cleaned[c].nunique() for c in categorical)
    return {"train": (len(cleaned) - test_rows, width), "test": (test_rows, width)}
