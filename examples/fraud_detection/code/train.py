"""Fraud detection, scikit-learn script mode: the training entry point and the inference
handlers in one file, as SageMaker's scikit-learn container expects.

Training (``python train.py --max_iter 200 …``, run by the training job): reads every
CSV under ``SM_CHANNEL_TRAIN`` (label in the first column, no header), fits a
``HistGradientBoostingClassifier`` whose class weights make the rare fraud class count
as much as the common one, prints validation metrics (when a ``validation`` channel is
given) as ``name=value;`` lines the job's metric definitions pick up, and saves the
model to ``SM_MODEL_DIR``.

Serving (the endpoint): ``model_fn`` loads the model, ``predict_fn`` answers the
probability of fraud for each row; the container's default ``input_fn`` and
``output_fn`` read and write CSV, JSON or NumPy.
"""

from __future__ import annotations

import argparse
import glob
import os

import joblib
import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score, precision_score, recall_score, roc_auc_score

MODEL_FILE = "model.joblib"


def read_channel(folder: str) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels from every ``*.csv`` in ``folder`` (label first, no header)."""
    files = sorted(glob.glob(os.path.join(folder, "*.csv")))
    if not files:
        raise ValueError(f"no .csv files in {folder}")
    frame = pd.concat([pd.read_csv(f, header=None) for f in files], ignore_index=True)
    return frame.iloc[:, 1:].to_numpy(dtype=np.float32), frame.iloc[:, 0].to_numpy(dtype=int)


def main() -> None:
    parser = argparse.ArgumentParser()
    # Hyperparameters arrive as --name value arguments.
    parser.add_argument("--max_iter", type=int, default=200)
    parser.add_argument("--learning_rate", type=float, default=0.05)
    parser.add_argument("--max_leaf_nodes", type=int, default=15)
    parser.add_argument("--class_weight", default="balanced", choices=["balanced", "none"])
    # The data and model folders come from the SageMaker environment.
    parser.add_argument("--model_dir", default=os.environ.get("SM_MODEL_DIR", "model"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    parser.add_argument("--validation", default=os.environ.get("SM_CHANNEL_VALIDATION"))
    args, _ = parser.parse_known_args()

    X, y = read_channel(args.train)
    print(f"train: {len(y)} rows, {X.shape[1]} features, {y.mean():.2%} fraud")
    model = HistGradientBoostingClassifier(
        max_iter=args.max_iter,
        learning_rate=args.learning_rate,
        max_leaf_nodes=args.max_leaf_nodes,
        class_weight=None if args.class_weight == "none" else args.class_weight,
        random_state=0,
    ).fit(X, y)
    print(f"fitted {model.n_iter_} boosting iterations (class_weight={args.class_weight})")

    if args.validation:
        X_val, y_val = read_channel(args.validation)
        scores = model.predict_proba(X_val)[:, 1]
        predicted = (scores >= 0.5).astype(int)
        print(f"validation_auc={roc_auc_score(y_val, scores):.4f};")
        print(f"validation_average_precision={average_precision_score(y_val, scores):.4f};")
        print(f"validation_recall={recall_score(y_val, predicted):.4f};")
        print(f"validation_precision={precision_score(y_val, predicted, zero_division=0):.4f};")

    os.makedirs(args.model_dir, exist_ok=True)
    joblib.dump(model, os.path.join(args.model_dir, MODEL_FILE))
    print(f"saved the model to {os.path.join(args.model_dir, MODEL_FILE)}")


def model_fn(model_dir: str):
    """Load the model saved by ``main`` (called once when the endpoint starts)."""
    return joblib.load(os.path.join(model_dir, MODEL_FILE))


def predict_fn(data, model):
    """The probability of fraud for each row of ``data``."""
    return model.predict_proba(np.asarray(data, dtype=np.float32))[:, 1]


if __name__ == "__main__":
    main()
