"""The built-in XGBoost algorithm checks the label column against the objective before
it trains: the failure names the column, the channel, the values, how many, and what the
objective needs (instead of xgboost's "base_score must be in (0,1)")."""

from __future__ import annotations

import numpy as np
import pytest
from test_xgboost_algorithm import make_root, run_algorithm

from simsage.algorithms.xgboost_data import UserError, check_labels


def _check(labels, objective, strict=True, channel="train", **values):
    check_labels(np.asarray(labels, float), channel, {"objective": objective, **values}, strict)


@pytest.mark.parametrize(
    ("objective", "bad", "needs", "values"),
    [
        ("binary:logistic", [0, 1, 2, 2, -1], "labels in [0, 1]", {}),
        ("binary:logitraw", [0, 1.5], "labels in [0, 1]", {}),
        ("binary:hinge", [0, 1, 3], "labels in [0, 1]", {}),
        ("reg:logistic", [0.5, 1.2], "labels in [0, 1]", {}),
        ("count:poisson", [0, 3, -2], "labels >= 0", {}),
        ("reg:tweedie", [0, -0.5], "labels >= 0", {}),
        ("reg:gamma", [1, 0], "labels > 0", {}),
        ("reg:squaredlogerror", [0, -1], "labels > -1", {}),
        ("multi:softmax", [0, 1, 2, 3], "integer class labels in [0, 3) (num_class=3)", {}),
        ("multi:softprob", [0, 1.5], "integer class labels in [0, 3) (num_class=3)", {}),
        ("rank:map", [0, 1, 2], "relevance labels 0 or 1", {}),
        ("rank:ndcg", [0, 40], "relevance labels <= 31 with the exponential gain", {}),
    ],
)
def test_labels_outside_what_the_objective_accepts(objective, bad, needs, values):
    if objective.startswith("multi:"):
        values = {"num_class": 3}
    with pytest.raises(UserError) as refused:
        _check(bad, objective, **values)
    message = str(refused.value)
    assert message.startswith("Label column (the first column) of the train channel has ")
    assert f"that objective {objective} does not accept: it needs {needs}" in message


def test_the_message_counts_and_shows_the_values():
    with pytest.raises(UserError) as refused:
        _check([0, 1, 2, 2, -1, 0], "binary:logistic")
    assert str(refused.value) == (
        "Label column (the first column) of the train channel has 3 of 6 labels (-1, 2) that "
        "objective binary:logistic does not accept: it needs labels in [0, 1] (label must be "
        "in [0,1] for logistic regression)."
    )
    with pytest.raises(UserError, match=r"7 of 7 labels \(2, 3, 4, 5, 6, \.\.\.\)"):
        _check(range(2, 9), "binary:logistic")


@pytest.mark.parametrize("objective", ["reg:squarederror", "binary:logistic", "survival:cox"])
def test_nan_and_infinity_are_never_accepted(objective):
    with pytest.raises(UserError) as refused:
        _check([1, np.nan, np.inf, np.nan], objective, strict=False, channel="validation")
    assert str(refused.value) == (
        "Label column (the first column) of the validation channel has 3 of 4 labels "
        "(inf, NaN) that are missing or not finite numbers: every row needs a numeric "
        "label; NaN and infinity are never accepted."
    )


@pytest.mark.parametrize(
    ("objective", "labels", "values"),
    [
        ("binary:logistic", [0, 1, 0.5], {}),
        ("reg:squarederror", [-5, 1e6], {}),
        ("reg:tweedie", [0, 2.5], {}),
        ("count:poisson", [0, 7], {}),
        ("multi:softmax", [0, 1, 2], {"num_class": 3}),
        ("rank:ndcg", [0, 40], {"ndcg_exp_gain": False}),
        ("rank:pairwise", [-3, 40], {}),
        ("survival:cox", [-2, 3], {}),
    ],
)
def test_labels_the_objective_accepts(objective, labels, values):
    _check(labels, objective, **values)


def test_validation_labels_are_only_checked_where_xgboost_refuses_them():
    # xgboost evaluates a validation set with labels outside the objective's range ...
    _check([0, 2], "binary:logistic", strict=False, channel="validation")
    # ... but not one with classes a multi-class model cannot have.
    with pytest.raises(UserError, match="of the validation channel has 1 of 2 labels"):
        _check([0, 5], "multi:softmax", strict=False, channel="validation", num_class=3)


def test_a_nan_label_fails_the_job_naming_the_label_column(tmp_path):
    # xgboost's text loader reads "nan" as a NaN label and then fails with "base_score
    # must be in (0,1) for the logistic loss".
    csv = "1,0.5,1.0\nnan,0.25,0.5\n0,0.75,0.1\n1,0.1,0.2\n"
    root, env = make_root(
        tmp_path,
        {"num_round": "3", "objective": "binary:logistic"},
        {"train": {"train.csv": csv}},
    )
    result = run_algorithm(root, env)
    assert result.returncode == 1
    reason = (root / "output" / "failure").read_text()
    assert reason == (
        "ClientError: Label column (the first column) of the train channel has 1 of 4 labels "
        "(NaN) that are missing or not finite numbers: every row needs a numeric label; NaN "
        "and infinity are never accepted."
    )
    assert "base_score" not in result.stdout


def test_out_of_range_labels_fail_the_job_before_training(tmp_path):
    csv = "1,0.5\n2,0.25\n0,0.75\n"
    root, env = make_root(
        tmp_path, {"num_round": "3", "objective": "reg:gamma"}, {"train": {"a.csv": csv}}
    )
    result = run_algorithm(root, env)
    assert result.returncode == 1
    assert (root / "output" / "failure").read_text() == (
        "ClientError: Label column (the first column) of the train channel has 1 of 3 labels "
        "(0) that objective reg:gamma does not accept: it needs labels > 0 (label must be "
        "positive for gamma regression)."
    )
    assert not (root / "model" / "xgboost-model").exists()
