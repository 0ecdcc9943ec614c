"""Write the legacy XGBoost model fixtures of this folder (not run by the test suite).

Run it with the *old* xgboost package on the path, one version at a time; it imports
``xgboost`` and writes ``<version>/`` next to this file:

    PYTHONPATH=<xgboost 0.90 python-package> python make_fixtures.py
    PYTHONPATH=<xgboost 1.0.2 python-package> python make_fixtures.py
    PYTHONPATH=<xgboost 1.2.1 python-package> python make_fixtures.py

Each model is trained on the same seeded data and saved the way the SageMaker container
of that era saved it: ``pickle.dump(booster)``, protocol 3 under the 0.90 and 1.0
containers' Python 3.6 and protocol 4 in the 1.2 container. ``reg-linear`` is also saved
with ``Booster.save_model`` (the binary format, no pickle). Under 0.90 the script also
writes protocol 2 (``binary-logistic``) and protocol 0 (``gblinear``), the layouts of
Python 2 pickles, and a pickled ``XGBClassifier`` (``sklearn-classifier``), whose
expected values are its Booster's.

``<name>.expected.npy`` holds what that container served for ``inputs.npy``:
``booster.predict(DMatrix(inputs), ntree_limit=best_ntree_limit)`` (its
serve_utils.predict), computed by the old library itself. ``<name>.margin.npy`` is the
same with ``output_margin=True``. gblinear is the exception: the old library refuses a
tree limit for it, so its expected values are the plain prediction.

Only numpy and the old xgboost are needed. Under numpy 2 the old packages' removed
numpy spellings (``np.array(..., copy=False)``, ``np.cfloat``) must read as their
current ones (``np.asarray(...)``, dropped).
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import xgboost

HERE = Path(__file__).resolve().parent
VERSION = xgboost.__version__
PROTOCOL = 4 if VERSION.startswith("1.2") else 3


def data(rows: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, 4)).astype(np.float32)
    features[rng.random(size=features.shape) < 0.08] = np.nan  # missing values
    return features


def labels(features: np.ndarray, kind: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.nan_to_num(features)
    score = x[:, 0] + 0.5 * x[:, 1] - 0.25 * x[:, 2] + rng.normal(scale=0.6, size=len(x))
    if kind == "binary":
        return (score > 0).astype(np.float32)
    if kind == "multi":
        return np.digitize(score, [-0.5, 0.5]).astype(np.float32)
    if kind == "count":
        return rng.poisson(np.exp(0.4 * score)).astype(np.float32)
    return (3.0 * score + 2.0).astype(np.float32)


MODELS = {
    # name: (params, label kind, rounds, early stopping rounds, also save_model)
    "binary-logistic": (
        {"objective": "binary:logistic", "max_depth": 3, "eta": 0.5, "eval_metric": "logloss"},
        "binary",
        40,
        3,
        False,
    ),
    "multi-softprob": (
        {"objective": "multi:softprob", "num_class": 3, "max_depth": 2, "eta": 0.3},
        "multi",
        6,
        None,
        False,
    ),
    "reg-linear": (
        # A large gamma makes the pruner delete nodes, which the old format keeps.
        {"objective": "reg:linear", "max_depth": 3, "gamma": 20.0, "base_score": 2.5},
        "regression",
        10,
        None,
        True,
    ),
    "count-poisson": (
        {"objective": "count:poisson", "max_depth": 3},
        "count",
        10,
        None,
        False,
    ),
    "gblinear": (
        {"objective": "reg:linear", "booster": "gblinear", "lambda": 0.1},
        "regression",
        6,
        None,
        False,
    ),
    "dart": (
        {"objective": "binary:logistic", "booster": "dart", "rate_drop": 0.3, "max_depth": 2},
        "binary",
        6,
        None,
        False,
    ),
}
if VERSION.startswith("1."):  # the formats the 1.x containers add; the rest is the same
    MODELS = {
        k: v for k, v in MODELS.items() if k in ("binary-logistic", "multi-softprob", "reg-linear")
    }


def main() -> None:
    out = HERE / VERSION
    out.mkdir(exist_ok=True)
    train_x, valid_x = data(300, 1), data(120, 2)
    inputs = data(24, 3)
    np.save(HERE / "inputs.npy", inputs)
    summary = {}
    for name, (params, kind, rounds, early, save_binary) in MODELS.items():
        dtrain = xgboost.DMatrix(train_x, label=labels(train_x, kind, 11))
        dvalid = xgboost.DMatrix(valid_x, label=labels(valid_x, kind, 12))
        booster = xgboost.train(
            dict(params, seed=0, nthread=1),
            dtrain,
            rounds,
            evals=[(dvalid, "validation")] if early else (),
            early_stopping_rounds=early,
            verbose_eval=False,
        )
        with open(out / f"{name}.pkl", "wb") as file:
            pickle.dump(booster, file, protocol=PROTOCOL)
        if save_binary:
            booster.save_model(str(out / f"{name}.model"))
        if VERSION.startswith("0.") and name in ("binary-logistic", "gblinear"):
            # Protocols 2 and 0 write as Python 2 did (__builtin__ names, latin-1 text;
            # protocol 0 through copy_reg._reconstructor).
            protocol = 2 if name == "binary-logistic" else 0
            with open(out / f"{name}.protocol{protocol}.pkl", "wb") as file:
                pickle.dump(booster, file, protocol=protocol)
        limit = 0 if params.get("booster") == "gblinear" else booster.best_ntree_limit
        expected = booster.predict(xgboost.DMatrix(inputs), ntree_limit=limit)
        np.save(out / f"{name}.expected.npy", expected)
        margin = booster.predict(xgboost.DMatrix(inputs), ntree_limit=limit, output_margin=True)
        np.save(out / f"{name}.margin.npy", margin)
        summary[name] = {"rounds": rounds, "best_ntree_limit": booster.best_ntree_limit}
    if VERSION.startswith("0."):
        # A pickled scikit-learn wrapper (bring-your-own-model notebooks): its Booster.
        wrapper = xgboost.XGBClassifier(n_estimators=4, max_depth=2, random_state=0)
        wrapper.fit(train_x, labels(train_x, "binary", 11))
        with open(out / "sklearn-classifier.pkl", "wb") as file:
            pickle.dump(wrapper, file, protocol=PROTOCOL)
        predicted = wrapper.get_booster().predict(xgboost.DMatrix(inputs))
        np.save(out / "sklearn-classifier.expected.npy", predicted)
        summary["sklearn-classifier"] = {"rounds": 4, "best_ntree_limit": 0}
    (out / "models.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
