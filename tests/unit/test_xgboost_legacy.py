"""The legacy XGBoost image (``xgboost:1``, the 0.72 algorithm): which module runs it, and
how its hyperparameters become what XGBoost 3 runs closest, each change logged."""

from __future__ import annotations

import pytest

from simsage.algorithms.xgboost_data import JobConfig, UserError
from simsage.algorithms.xgboost_legacy import adapt, translate
from simsage.algorithms.xgboost_params import Plan
from simsage.runtime.images import (
    LEGACY_XGBOOST_ALGORITHM,
    XGBOOST_ALGORITHM,
    algorithm_module,
    builtin_metric_definitions,
    parse_image,
)

LEGACY = "811284229777.dkr.ecr.us-east-1.amazonaws.com/xgboost:1"


@pytest.mark.parametrize(
    "uri",
    [
        LEGACY,
        "433757028032.dkr.ecr.us-west-2.amazonaws.com/xgboost:latest",
        "685385470294.dkr.ecr.eu-west-1.amazonaws.com/xgboost",
    ],
)
def test_the_legacy_repository_runs_the_legacy_algorithm(uri):
    image = parse_image(uri)
    assert algorithm_module(image, {"num_round": "3"}) == LEGACY_XGBOOST_ALGORITHM
    assert {d["Name"] for d in builtin_metric_definitions(uri, {})} >= {"validation:rmse"}
    modern = parse_image(
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:0.90-1-cpu-py3"
    )
    assert algorithm_module(modern, {}) == XGBOOST_ALGORITHM


@pytest.mark.parametrize(
    ("given", "hosts", "method", "note"),
    [
        ({"tree_method": "exact"}, 2, "approx", "training with tree_method 'approx' on 2 hosts"),
        ({"tree_method": "exact"}, 1, "exact", None),
        ({}, 3, "approx", "automatically selected to be 'approx' for distributed training"),
        ({"tree_method": "auto"}, 1, "exact", "automatically selected to be 'exact'"),
        ({"tree_method": "hist"}, 2, "hist", None),
        ({"tree_method": "approx"}, 2, "approx", None),
        ({"tree_method": '"exact"'}, 2, "approx", "'approx' on 2 hosts"),  # JSON-encoded
        # An updater names the method (0.72: it overrides every method but hist).
        ({"updater": "grow_colmaker,prune"}, 1, "exact", "grow_colmaker is tree_method 'exact'"),
        ({"updater": "grow_colmaker,prune"}, 2, "approx", "'approx' on 2 hosts"),
        ({"updater": "grow_histmaker,prune", "tree_method": "exact"}, 1, "approx", "grow_hist"),
        ({"updater": "distcol"}, 1, "approx", "distcol is tree_method 'approx'"),
        ({"updater": "grow_fast_histmaker"}, 2, "hist", "tree_method 'hist'"),
        ({"updater": "grow_colmaker", "tree_method": "hist"}, 1, "hist", "'hist' takes precedence"),
    ],
)
def test_tree_methods_become_what_xgboost_3_runs_closest(given, hosts, method, note):
    params, notes = translate({"num_round": "5", **given}, hosts)
    assert params["tree_method"] == method
    assert "updater" not in params
    if note is None:
        assert notes == []
    else:
        assert any(note in line for line in notes), notes
    Plan.from_hyperparameters(params)  # what the algorithm then validates


def test_an_update_only_updater_sequence_is_kept():
    params, _ = translate(
        {"num_round": "1", "updater": "refresh,prune", "process_type": "update"}, 1
    )
    assert params["updater"] == "refresh,prune"
    Plan.from_hyperparameters(params)


def test_renamed_and_removed_parameters_are_mapped_and_logged():
    params, notes = translate(
        {"num_round": "5", "objective": "reg:linear", "silent": "1", "lambda_bias": "0.1"}, 1
    )
    assert params["objective"] == "reg:squarederror"
    assert params["verbosity"] == "0" and "silent" not in params
    assert any("training with objective reg:squarederror" in line for line in notes)
    assert any("silent=1 is verbosity=0" in line for line in notes)
    values = Plan.from_hyperparameters(params).values
    assert "lambda_bias" not in values  # dropped with the algorithm's own warning
    params, notes = translate({"num_round": "5", "silent": "0"}, 1)
    assert "verbosity" not in params and "silent" not in params
    assert any("silent=0" in line for line in notes)


def test_sketch_eps_becomes_max_bin_for_the_approximate_method():
    params, notes = translate({"num_round": "5", "sketch_eps": "0.03"}, 2)
    assert params["tree_method"] == "approx" and params["max_bin"] == "66"
    assert any("max_bin=66" in line for line in notes)
    assert Plan.from_hyperparameters(params).values["max_bin"] == 66
    params, notes = translate({"num_round": "5", "sketch_eps": "0.03"}, 1)
    assert "sketch_eps" not in params and "max_bin" not in params
    assert any("sketch_eps is used only by tree_method 'approx'" in line for line in notes)


def test_a_linear_booster_gets_no_tree_method():
    params, notes = translate({"num_round": "5", "booster": "gblinear"}, 2)
    assert "tree_method" not in params and notes == []


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"silent": "2"}, "Hyperparameter silent: value '2' is not one of: 0, 1"),
        ({"sketch_eps": "0"}, "Hyperparameter sketch_eps: value 0 is not in (0, 1)"),
        ({"sketch_eps": "x"}, "Hyperparameter sketch_eps: value 'x' is not a number"),
        ({"updater": "grow_gpu_hist"}, "grow_gpu_hist needs a GPU"),
        ({"updater": "grow_colmaker,grow_histmaker"}, "more than one tree-growing updater"),
    ],
)
def test_invalid_legacy_values_name_the_parameter(given, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        translate({"num_round": "5", **given}, 1)


def test_an_unknown_updater_is_left_for_validation_to_name():
    params, _ = translate({"num_round": "5", "updater": "grow_colmaker,bogus"}, 1)
    with pytest.raises(UserError, match="value 'bogus' is not one of"):
        Plan.from_hyperparameters(params)


def test_adapt_logs_each_change(tmp_path, caplog):
    job = JobConfig(
        tmp_path,
        {"num_round": "2", "tree_method": "exact"},
        {},
        ["algo-1", "algo-2"],
        "algo-2",
        None,
    )
    with caplog.at_level("INFO", logger="simsage.algorithms.xgboost"):
        adapted = adapt(job)
    assert adapted.hyperparameters["tree_method"] == "approx"
    assert job.hyperparameters["tree_method"] == "exact"  # the job itself is left alone
    assert "only able to proceed with approximate algorithm" in caplog.text
