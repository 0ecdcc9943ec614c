"""A model.tar.gz as the 0.90 container wrote it (``xgboost-model`` = the pickled 0.90
Booster, tests/data/xgboost_legacy) served by a real endpoint of the legacy image: the
predictions are the ones XGBoost 0.90 computed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from endpoint_helpers import deploy, tar_gz, variant

DATA = Path(__file__).resolve().parents[1] / "data" / "xgboost_legacy"
LEGACY_IMAGE = "811284229777.dkr.ecr.us-east-1.amazonaws.com/xgboost:1"


def _csv(rows: np.ndarray) -> bytes:
    """Inference CSV: no label, an empty field for a missing value."""
    lines = [",".join("" if np.isnan(v) else repr(float(v)) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def test_an_endpoint_serves_models_pickled_by_the_090_container(simsage_local):
    models = {
        "legacy-logistic": (DATA / "0.90" / "binary-logistic.pkl").read_bytes(),
        "legacy-softprob": (DATA / "0.90" / "multi-softprob.pkl").read_bytes(),
    }
    deploy(
        simsage_local,
        "legacy-models",
        {name: tar_gz({"xgboost-model": raw}) for name, raw in models.items()},
        variants=[variant("Logistic", "legacy-logistic"), variant("Softprob", "legacy-softprob")],
        image=LEGACY_IMAGE,
    )
    runtime = simsage_local.client("sagemaker-runtime")
    rows = np.load(DATA / "inputs.npy")

    answer = runtime.invoke_endpoint(
        EndpointName="legacy-models",
        TargetVariant="Logistic",
        Body=_csv(rows),
        ContentType="text/csv",
        Accept="text/csv",
    )
    scores = np.array(answer["Body"].read().decode().split(), dtype=np.float32)
    # The best iteration of early stopping, as the container served it; 0.90's values.
    want = np.load(DATA / "0.90" / "binary-logistic.expected.npy")
    np.testing.assert_allclose(scores, want, rtol=1e-6, atol=1e-7)

    answer = runtime.invoke_endpoint(
        EndpointName="legacy-models",
        TargetVariant="Softprob",
        Body=_csv(rows),
        ContentType="text/csv",
        Accept="application/json",
    )
    predictions = json.loads(answer["Body"].read())["predictions"]
    probabilities = np.array([p["score"] for p in predictions], dtype=np.float32)
    want = np.load(DATA / "0.90" / "multi-softprob.expected.npy")
    assert probabilities.shape == want.shape == (len(rows), 3)
    np.testing.assert_allclose(probabilities, want, rtol=1e-6, atol=1e-7)
