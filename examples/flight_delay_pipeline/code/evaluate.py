"""Flight delay pipeline, the evaluation step: run by a SageMaker Processing job in the
built-in XGBoost image (``ScriptProcessor`` with ``command=["python3"]``), or by hand.

Reads the tuning job's best model (``model/model.tar.gz``, as the built-in XGBoost
algorithm writes it: one file, ``xgboost-model``), scores the test split (``test/test.csv``:
features only, no header) and compares the scores with the test labels
(``labels/test_labels.csv``: ``flight``, ``delayed``). Writes ``evaluation/evaluation.json``
in the model-quality format SageMaker's model registry shows (``ModelMetrics``' model
statistics)::

    {"binary_classification_metrics": {"auc": {"value": 0.76, "standard_deviation": "NaN"},
                                       "accuracy": {...}, "precision": {...}, ...}}

The pipeline's condition step reads ``binary_classification_metrics.auc.value`` from it
(a ``PropertyFile`` and ``JsonGet``).

    python evaluate.py [--model-dir DIR --test-dir DIR --labels-dir DIR --output-dir DIR]

The folders default to the processing job's: ``/opt/ml/processing/<name>``.
"""

from __future__ import annotations

import argparse
import json
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import accuracy_score, precision_score, recall_score, roc_auc_score

PROCESSING = Path("/opt/ml/processing")


def load_booster(model_dir: Path) -> xgb.Booster:
    """The booster in ``model_dir/model.tar.gz`` (read from the archive, never unpacked
    to disk: a member's path cannot escape)."""
    with tarfile.open(model_dir / "model.tar.gz") as archive:
        member = archive.extractfile("xgboost-model")
        if member is None:
            raise SystemExit(f"{model_dir / 'model.tar.gz'} holds no file xgboost-model")
        raw = bytearray(member.read())
    booster = xgb.Booster()
    booster.load_model(raw)
    return booster


def metrics(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> dict:
    """The registry's binary-classification statistics of ``scores`` against ``labels``."""
    predicted = (scores >= threshold).astype(int)
    values = {
        "auc": roc_auc_score(labels, scores),
        "accuracy": accuracy_score(labels, predicted),
        "precision": precision_score(labels, predicted, zero_division=0),
        "recall": recall_score(labels, predicted),
    }
    return {
        "binary_classification_metrics": {
            name: {"value": float(value), "standard_deviation": "NaN"}
            for name, value in values.items()
        }
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=PROCESSING / "model")
    parser.add_argument("--test-dir", type=Path, default=PROCESSING / "test")
    parser.add_argument("--labels-dir", type=Path, default=PROCESSING / "labels")
    parser.add_argument("--output-dir", type=Path, default=PROCESSING / "evaluation")
    args = parser.parse_args()

    booster = load_booster(args.model_dir)
    features = pd.read_csv(args.test_dir / "test.csv", header=None)
    labels = pd.read_csv(args.labels_dir / "test_labels.csv")["delayed"].to_numpy()
    scores = booster.predict(xgb.DMatrix(features.to_numpy()))
    report = metrics(labels, scores)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n")
    summary = ", ".join(
        f"{name} {entry['value']:.4f}"
        for name, entry in report["binary_classification_metrics"].items()
    )
    print(f"evaluated {len(labels):,} test flights: {summary}")


if __name__ == "__main__":
    main()
