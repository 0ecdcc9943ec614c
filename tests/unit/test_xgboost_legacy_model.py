"""Models of the SageMaker XGBoost containers before 1.3-1 (tests/data/xgboost_legacy:
real models written by XGBoost 0.90, 1.0.2 and 1.2.1 themselves, with what those versions
predicted) loaded for serving by the installed XGBoost, and pickles read without
running them."""

from __future__ import annotations

import dataclasses
import json
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from simsage.serving import xgboost_legacy_model as legacy
from simsage.serving import xgboost_pickle
from simsage.serving.xgboost_handler import ModelLoadError, XGBoostHandler, load_models

DATA = Path(__file__).resolve().parents[1] / "data" / "xgboost_legacy"
INPUTS = np.load(DATA / "inputs.npy")
V090 = ["binary-logistic", "multi-softprob", "reg-linear", "count-poisson", "gblinear", "dart"]
V1 = ["binary-logistic", "multi-softprob", "reg-linear"]  # 1.0 writes no "binf", 1.2 does
CASES = [("0.90", name) for name in V090] + [(v, name) for v in ("1.0.2", "1.2.1") for name in V1]


def fixture(version: str, name: str, suffix: str = ".pkl") -> bytes:
    return (DATA / version / f"{name}{suffix}").read_bytes()


def expected(version: str, name: str, kind: str = "expected") -> np.ndarray:
    return np.load(DATA / version / f"{name}.{kind}.npy")


def predict(booster: xgb.Booster, **kwargs) -> np.ndarray:
    return booster.predict(xgb.DMatrix(INPUTS), **kwargs)


def handle_of(raw: bytes) -> bytes:
    """The model bytes inside a pickled Booster (read with the inert unpickler)."""
    root = xgboost_pickle._InertUnpickler(raw).load()
    return xgboost_pickle._handle_bytes(xgboost_pickle._booster_state(root)["handle"])


@pytest.mark.parametrize(("version", "name"), CASES)
def test_pickled_models_predict_what_their_container_served(version, name):
    booster = xgboost_pickle.load(fixture(version, name))
    served = expected(version, name)
    got = predict(booster)
    assert got.shape == served.shape
    # XGBoost 3 adds the base margin before the trees, the old versions after: the float32
    # sums may differ in their last bits. The trees themselves are exact (next test).
    scale = max(1.0, float(np.abs(served).max()))
    np.testing.assert_allclose(got, served, rtol=0, atol=1e-6 * scale)


def _margin_in_old_order(booster: xgb.Booster, base_margin: np.ndarray) -> np.ndarray:
    """The margin summed as XGBoost 0.90–1.2 summed it: the leaves of each output group
    (times dart's weights) in float32, tree by tree, and the base margin added last."""
    document = json.loads(bytes(booster.save_raw("json")))["learner"]["gradient_booster"]
    weights = document.get("weight_drop")
    model = document["gbtree"]["model"] if "gbtree" in document else document["model"]
    leaves = predict(booster, pred_leaf=True).astype(int).reshape(len(INPUTS), -1)
    values = [np.asarray(t["split_conditions"], dtype=np.float32) for t in model["trees"]]
    groups = max(len(base_margin), 1)
    out = np.zeros((len(INPUTS), groups), dtype=np.float32)
    for row in range(len(INPUTS)):
        sums = [np.float32(0)] * groups
        for number, group in enumerate(model["tree_info"]):
            leaf = values[number][leaves[row, number]]
            if weights:
                leaf = np.float32(np.float32(weights[number]) * leaf)
            sums[group] = np.float32(sums[group] + leaf)
        out[row] = [np.float32(base_margin[g] + sums[g]) for g in range(groups)]
    return out if groups > 1 else out[:, 0]


@pytest.mark.parametrize(("version", "name"), [c for c in CASES if c[1] != "gblinear"])
def test_converted_trees_are_exactly_the_old_trees(version, name):
    """Leaves chosen by XGBoost 3 on the converted model, summed in the old order, give
    the old margins bit for bit: every split, missing-value direction and leaf is kept."""
    raw = fixture(version, name)
    booster = xgboost_pickle.load(raw)
    handle = handle_of(raw)
    if handle.startswith(b"CONFIG-offset:"):
        handle = xgboost_pickle._split_serialised(handle)[0]
    model = legacy.parse(handle)
    # The base margin: what the converted model predicts without its trees.
    empty = legacy.to_booster(dataclasses.replace(model, trees=[], tree_info=[], weight_drop=[]))
    base = predict(empty, output_margin=True).reshape(len(INPUTS), -1)[0]
    if model.major_version == 0:
        assert base[0] == np.float32(model.base_score)  # 0.90 stored the margin itself
    old = _margin_in_old_order(booster, base)
    np.testing.assert_array_equal(old, expected(version, name, "margin"))


def test_binary_models_saved_with_save_model_load_like_the_pickle():
    for version in ("0.90", "1.0.2", "1.2.1"):
        from_file = legacy.load(fixture(version, "reg-linear", ".model"))
        from_pickle = xgboost_pickle.load(fixture(version, "reg-linear"))
        np.testing.assert_array_equal(predict(from_file), predict(from_pickle))


@pytest.mark.parametrize(("name", "protocol"), [("binary-logistic", 2), ("gblinear", 0)])
def test_python_2_style_pickles_load(name, protocol):
    raw = fixture("0.90", name, f".protocol{protocol}.pkl")
    assert xgboost_pickle.looks_like_pickle(raw)
    np.testing.assert_array_equal(predict(xgboost_pickle.load(raw)), expected("0.90", name))


def test_a_pickled_090_scikit_learn_wrapper_gives_its_booster():
    booster = xgboost_pickle.load(fixture("0.90", "sklearn-classifier"))
    np.testing.assert_array_equal(predict(booster), expected("0.90", "sklearn-classifier"))


def test_early_stopping_keeps_the_best_iteration_as_the_container_served():
    raw = fixture("0.90", "binary-logistic")
    summary = json.loads((DATA / "0.90" / "models.json").read_text())["binary-logistic"]
    stored = legacy.parse(handle_of(raw))
    booster = xgboost_pickle.load(raw)
    assert len(stored.trees) > summary["best_ntree_limit"]  # trained past the best round
    assert booster.num_boosted_rounds() == summary["best_ntree_limit"]
    assert int(booster.attr("best_iteration")) == summary["best_ntree_limit"] - 1
    # Without the pickle's limit (a bare binary file) every tree is kept, as 0.90 did.
    assert legacy.load(handle_of(raw)).num_boosted_rounds() == len(stored.trees)


def test_deleted_nodes_are_dropped_and_the_rest_renumbered():
    model = legacy.parse(fixture("0.90", "reg-linear", ".model"))
    deleted = sum(int((t.nodes["sindex"] == 0xFFFFFFFF).sum()) for t in model.trees)
    assert deleted > 0  # the pruner left them in place
    document = legacy.to_json(model, legacy.skeleton_for(model))
    trees = document["learner"]["gradient_booster"]["model"]["trees"]
    assert sum(len(t.nodes) for t in model.trees) - sum(len(t["parents"]) for t in trees) == deleted
    for tree in trees:
        assert tree["tree_param"]["num_deleted"] == "0"
        assert tree["parents"][0] == 2**31 - 1
        children = [c for c in tree["left_children"] + tree["right_children"] if c != -1]
        assert sorted(children) == list(range(1, len(tree["parents"])))


@pytest.mark.parametrize(
    ("objective", "margin", "exact"),
    [
        ("binary:logistic", -0.0, True),  # base_score 0.5, the default
        ("binary:logistic", 0.4054651, False),  # 0.6
        ("binary:logistic", -2.1972246, False),  # 0.1
        ("reg:logistic", 1.0, False),
        ("binary:logitraw", 0.4054651, True),  # XGBoost 3 applies no link to it
        ("reg:linear", 0.5, True),
        ("reg:linear", -3.25, True),
        ("count:poisson", -0.6931472, True),  # 0.5
        ("count:poisson", 1.5, False),
        ("reg:gamma", 0.3, False),
        ("reg:tweedie", -0.6931472, True),
        ("survival:cox", -0.6931472, True),
        ("binary:hinge", 0.5, True),
        ("rank:pairwise", 0.5, True),
        ("multi:softprob", 0.5, True),
    ],
)
def test_a_stored_margin_stays_the_margin_in_xgboost_3(objective, margin, exact):
    """Before 1.0 the base score is stored through the objective's link (the margin);
    XGBoost 3 stores the score. The converted model (no trees) has the stored margin —
    exactly where a float32 score maps onto it, else the nearest margin one does (the
    logit and log of neighbouring float32 scores are further apart than a margin ulp)."""
    model = legacy.LegacyModel(
        base_score=float(np.float32(margin)),
        num_feature=4,
        num_class=3 if objective.startswith("multi:") else 0,
        major_version=0,
        objective=objective,
        booster="gbtree",
    )
    got = predict(legacy.to_booster(model), output_margin=True)
    want = np.full_like(got, np.float32(margin))
    if exact:
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=4e-7, atol=0)


def test_the_handler_serves_an_old_pickle_and_gblinear(tmp_path):
    (tmp_path / "xgboost-model").write_bytes(fixture("0.90", "gblinear"))
    handler = XGBoostHandler(tmp_path, environ={}).load()
    rows = "\n".join(",".join("" if np.isnan(v) else repr(float(v)) for v in r) for r in INPUTS)
    body = handler.invoke(rows.encode(), "text/csv", "text/csv").body.decode()
    got = np.array([float(v) for v in body.split()], dtype=np.float32)
    np.testing.assert_allclose(got, expected("0.90", "gblinear"), rtol=1e-6, atol=1e-6)


def test_modern_and_wrapper_pickles_still_load(tmp_path):
    rng = np.random.default_rng(0)
    features, labels = rng.normal(size=(50, 4)), rng.normal(size=50)
    booster = xgb.train({"max_depth": 2}, xgb.DMatrix(features, labels), 3)
    regressor = xgb.XGBRegressor(n_estimators=3, max_depth=2).fit(features, labels)
    for name, model, want in (
        ("booster", booster, booster.predict(xgb.DMatrix(features))),
        ("wrapper", regressor, regressor.predict(features)),
    ):
        (tmp_path / name).mkdir()
        (tmp_path / name / "xgboost-model").write_bytes(pickle.dumps(model))
        (loaded,) = load_models(tmp_path / name)
        np.testing.assert_array_equal(loaded.predict(xgb.DMatrix(features)), want)


class Trap:
    """Would run code if unpickled for real."""

    def __reduce__(self):
        return (exec, ("open(__import__('os').environ['TRAP'], 'w').write('ran')",))


def test_a_pickle_never_imports_or_calls_what_it_names(tmp_path, monkeypatch):
    trap = tmp_path / "trap"
    monkeypatch.setenv("TRAP", str(trap))
    assert "this" not in sys.modules
    for payload in (
        pickle.dumps(Trap()),
        pickle.dumps({"handle": Trap()}),
        b"\x80\x04\x95\x15\x00\x00\x00\x00\x00\x00\x00\x8c\x04this\x94\x8c\x01s\x94\x93\x94.",
    ):
        (tmp_path / "xgboost-model").write_bytes(payload)
        with pytest.raises(ModelLoadError, match="not an xgboost model"):
            load_models(tmp_path)
    assert not trap.exists()
    assert "this" not in sys.modules  # importing it would print the Zen of Python


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (pickle.dumps({"a": 1}), "the pickle holds a dict, not an xgboost Booster"),
        (fixture("0.90", "reg-linear", ".model")[:3000], "ends inside its tree"),
        (b"garbage", "not an xgboost model"),
    ],
)
def test_unreadable_model_files_say_why(tmp_path, payload, message):
    (tmp_path / "xgboost-model").write_bytes(payload)
    with pytest.raises(ModelLoadError, match=message):
        load_models(tmp_path)
