"""Built-in linear learner pieces without processes: hyperparameter validation, the losses,
the training core on small arrays, model selection, metrics and their log regexes, and
the serving handler's formats and refusals."""

import json
import re

import numpy as np
import pytest
import scipy.sparse

from simsage.algorithms import linear_learner_model as llm
from simsage.algorithms import recordio
from simsage.algorithms.first_party_train import check_distribution
from simsage.algorithms.linear_learner_metrics import (
    METRIC_DEFINITIONS,
    OBJECTIVE_DIRECTION,
    epoch_line,
    metric_line,
)
from simsage.algorithms.linear_learner_train import fit_arrays, make_config, parse_params
from simsage.algorithms.xgboost_data import JobConfig, UserError
from simsage.runtime.images import builtin_metric_definitions
from simsage.runtime.model_setup import serving_plan
from simsage.serving.linear_learner_handler import LinearLearnerHandler, ModelLoadError
from simsage.serving.scoring import ScoringError

IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1"


def _score(model: dict, x: np.ndarray) -> dict:
    return llm.predict(x, model, np.asarray(model["weights"]), np.asarray(model["bias"]))


def test_defaults_are_the_documented_ones():
    p = parse_params({"predictor_type": "binary_classifier"})
    assert (p.loss, p.epochs, p.mini_batch_size, p.optimizer) == ("logistic", 15, 1000, "adam")
    assert (p.early_stopping_patience, p.early_stopping_tolerance) == (3, 0.001)
    assert (p.criterion, p.target_precision, p.target_recall, p.f_beta) == ("accuracy", 0.8,
                                                                           0.8, 1.0)  # fmt: skip
    assert (p.use_bias, p.normalize_data, p.unbias_data, p.normalize_label) == (True, True,
                                                                               True, False)  # fmt: skip
    assert (p.init_method, p.init_scale, p.init_sigma, p.accuracy_top_k) == ("uniform", 0.07,
                                                                            0.01, 3)  # fmt: skip
    assert p.num_models is None and p.feature_dim is None and p.learning_rate is None
    assert parse_params({"predictor_type": "regressor"}).loss == "squared_loss"
    regressor = parse_params({"predictor_type": "regressor"})
    assert regressor.normalize_label and regressor.unbias_label
    multi = parse_params({"predictor_type": "multiclass_classifier", "num_classes": "5"})
    assert (multi.loss, multi.num_classes) == ("softmax_loss", 5)
    for mult in ("auto", "balanced", "2.5"):
        parse_params({"predictor_type": "binary_classifier", "positive_example_weight_mult": mult})


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({}, "'predictor_type' is a required property"),
        ({"predictor_type": "ranker"}, "'ranker' is not one of"),
        ({"predictor_type": "multiclass_classifier"}, "'num_classes' is a required property"),
        ({"predictor_type": "multiclass_classifier", "num_classes": "2"},
         "less than the minimum of 3 (num_classes)"),
        ({"predictor_type": "regressor", "loss": "logistic"},
         "loss 'logistic' is not valid for predictor_type 'regressor'"),
        ({"predictor_type": "binary_classifier", "loss": "softmax_loss"}, "is not valid for"),
        ({"predictor_type": "regressor", "quantile": "0"}, "minimum of 0 (quantile)"),
        ({"predictor_type": "binary_classifier", "target_recall": "1"}, "(target_recall)"),
        ({"predictor_type": "binary_classifier", "positive_example_weight_mult": "0"},
         "(positive_example_weight_mult)"),
        ({"predictor_type": "binary_classifier", "positive_example_weight_mult": "many"},
         "positive_example_weight_mult: a number"),
        ({"predictor_type": "binary_classifier", "optimizer": "lbfgs"}, "(optimizer)"),
        ({"predictor_type": "binary_classifier", "learning_rate": "0"}, "(learning_rate)"),
        ({"predictor_type": "binary_classifier", "beta_1": "1"}, "(beta_1)"),
        ({"predictor_type": "binary_classifier", "normalize_data": "maybe"}, "(normalize_data)"),
        ({"predictor_type": "binary_classifier", "epochs": "0"}, "(epochs)"),
        ({"predictor_type": "binary_classifier", "mini_batch_size": "ten"}, "mini_batch_size"),
        ({"predictor_type": "binary_classifier",
          "binary_classifier_model_selection_criteria": "auc"}, "selection_criteria"),
        ({"predictor_type": "binary_classifier", "k": "3"}, "Additional properties"),
    ],
)  # fmt: skip
def test_invalid_hyperparameters_are_refused_naming_them(values, words):
    with pytest.raises(UserError, match="Failed to validate input hyperparameters") as error:
        parse_params(values)
    assert words in str(error.value)


def test_automatic_model_tuning_trains_one_model():
    y = np.tile([0.0, 1.0], 500)
    assert make_config(parse_params({"predictor_type": "binary_classifier"}), y).models == 32
    tuned = {"predictor_type": "binary_classifier", "num_models": "8",
             "_tuning_objective_metric": "validation:objective_loss"}  # fmt: skip
    assert make_config(parse_params(tuned), y).models == 1
    config = make_config(parse_params({"predictor_type": "binary_classifier",
                                       "learning_rate": "0.3", "wd": "0"}), y)  # fmt: skip
    assert config.lr[0] == 0.3 and (config.lr > 0.14).all() and (config.lr < 0.61).all()
    assert (config.wd == 0).all()


@pytest.mark.parametrize(
    "loss",
    ["logistic", "hinge_loss", "squared_loss", "absolute_loss", "eps_insensitive_squared_loss",
     "eps_insensitive_absolute_loss", "quantile_loss", "huber_loss", "softmax_loss"],
)  # fmt: skip
def test_each_loss_gradient_matches_finite_differences(loss):
    rng = np.random.default_rng(0)
    spec = llm.LossSpec(loss, margin=1.0, quantile=0.3, huber_delta=0.7, eps=0.2)
    if loss == "softmax_loss":
        z, y = rng.normal(size=(6, 2, 3)), rng.integers(0, 3, 6).astype(float)
    else:
        z = rng.normal(size=(6, 2)) * 2
        y = rng.integers(0, 2, 6).astype(float) if loss in ("logistic", "hinge_loss") else \
            rng.normal(size=6)  # fmt: skip
    _, grad = llm.loss_and_grad(spec, z, y, None)
    step = 1e-6
    numeric = np.zeros_like(z)
    for index in np.ndindex(z.shape):
        up, down = z.copy(), z.copy()
        up[index] += step
        down[index] -= step
        numeric[index] = (llm.loss_and_grad(spec, up, y, None, False)[0].sum()
                          - llm.loss_and_grad(spec, down, y, None, False)[0].sum()) / (2 * step)  # fmt: skip
    assert grad == pytest.approx(numeric, abs=1e-4)


def _separable(rows, seed):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(rows, 5)) * [1, 10, 0.1, 3, 1]).astype(np.float32)
    return x, (x @ np.array([1.0, 0.2, 5.0, -0.5, 0.0]) + 0.3 > 0).astype(float)


def test_binary_classifier_separates_dense_and_sparse_data():
    x, y = _separable(2000, 1)
    test_x, test_y = _separable(500, 2)
    hps = {"predictor_type": "binary_classifier", "mini_batch_size": "100", "epochs": "5"}
    model = fit_arrays(x, y, hps)
    assert np.mean(_score(model, test_x)["predicted_label"] == test_y) >= 0.97
    sparse = fit_arrays(scipy.sparse.csr_matrix(x), y, hps)
    assert np.mean(_score(sparse, test_x)["predicted_label"] == test_y) >= 0.97
    hinge = fit_arrays(x, y, {**hps, "loss": "hinge_loss"})
    assert np.mean(_score(hinge, test_x)["predicted_label"] == test_y) >= 0.95


def test_regressor_is_as_good_as_least_squares():
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(3)
    x = (rng.normal(size=(2000, 6)) * [1, 5, 50, 0.1, 2, 1] + 10).astype(np.float32)
    y = x @ np.array([1.0, -2.0, 0.05, 10.0, 0.0, 3.0]) + 5 + rng.normal(scale=0.5, size=2000)
    model = fit_arrays(
        x[:1500], y[:1500], {"predictor_type": "regressor", "mini_batch_size": "100"}
    )
    predicted = _score(model, x[1500:])["score"]
    r2 = 1 - np.mean((predicted - y[1500:]) ** 2) / np.var(y[1500:])
    reference = LinearRegression().fit(x[:1500], y[:1500]).score(x[1500:], y[1500:])
    assert r2 > reference - 0.01
    quantile = fit_arrays(x[:1500], y[:1500], {"predictor_type": "regressor", "loss":
                          "quantile_loss", "quantile": "0.9", "mini_batch_size": "100"})  # fmt: skip
    above = np.mean(y[1500:] > _score(quantile, x[1500:])["score"])
    assert above == pytest.approx(0.1, abs=0.06)


def test_multiclass_classifier_learns_blobs_and_balances_classes():
    centers = np.array([[0.0, 0.0], [5.0, 5.0], [0.0, 5.0]])
    rng = np.random.default_rng(4)
    labels = rng.choice(3, size=1200, p=[0.8, 0.15, 0.05])
    x = (centers[labels] + rng.normal(size=(1200, 2))).astype(np.float32)
    hps = {"predictor_type": "multiclass_classifier", "num_classes": "3", "mini_batch_size": "100"}
    model = fit_arrays(x, labels, hps)
    result = _score(model, x)
    assert np.mean(result["predicted_label"] == labels) >= 0.95
    assert result["score"].sum(axis=1) == pytest.approx(np.ones(1200))
    balanced = fit_arrays(x, labels, {**hps, "balance_multiclass_weights": "true"})
    recall = lambda m: np.mean(_score(m, x[labels == 2])["predicted_label"] == 2)  # noqa: E731
    assert recall(balanced) >= recall(model)


def test_bad_labels_and_too_large_mini_batches_are_refused():
    x, y = _separable(10, 5)
    with pytest.raises(UserError, match=r"mini_batch_size \(1000\) is greater than the number"):
        fit_arrays(x, y, {"predictor_type": "binary_classifier"})
    with pytest.raises(UserError, match="labels must be 0 or 1"):
        fit_arrays(x, np.arange(10.0), {"predictor_type": "binary_classifier"})
    with pytest.raises(UserError, match="num_classes - 1 = 2"):
        fit_arrays(x, np.full(10, 3.0), {"predictor_type": "multiclass_classifier",
                                         "num_classes": "3"})  # fmt: skip
    with pytest.raises(UserError, match="no labels"):
        fit_arrays(x, None, {"predictor_type": "regressor"})


def test_early_stopping_ends_training_when_the_loss_stops_improving():
    x, y = _separable(400, 6)
    lines = []
    model = fit_arrays(
        x, y, {"predictor_type": "binary_classifier", "mini_batch_size": "50", "epochs": "30",
               "early_stopping_patience": "2", "early_stopping_tolerance": "0.2"},
        log=lambda epoch, channel, loss: lines.append((epoch, channel, loss)),
    )  # fmt: skip
    assert model["epochs"] < 30 and len(lines) == model["epochs"]
    assert lines[-1][1] == "train" and lines[-1][2] < lines[0][2]


def test_the_threshold_meets_the_selection_criterion():
    score = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2])
    y = np.array([1, 1, 0, 1, 0, 1, 0, 0])
    value, threshold = llm.best_threshold(score, y, "precision_at_target_recall", 1.0, 0.99)
    assert threshold == 0.4 and value == pytest.approx(4 / 6)  # all positives kept
    value, threshold = llm.best_threshold(score, y, "recall_at_target_precision", 1.0, 0.99)
    assert threshold == 0.9 and value == 0.5
    value, threshold = llm.best_threshold(score, y, "accuracy", 1.0, 0.0)
    assert value == 0.75 and np.mean((score >= threshold) == y) == 0.75


def test_hosts_models_are_averaged_by_record_count():
    a = llm.Trained(np.ones((2, 1, 1)), np.zeros((1, 1)), 300, 3)
    b = llm.Trained(np.zeros((2, 1, 1)), np.ones((1, 1)), 100, 5)
    merged = llm.average([a, b, llm.Trained(np.full((2, 1, 1), 9.0), np.zeros((1, 1)), 0, 0)])
    assert merged.weights[:, 0, 0].tolist() == [0.75, 0.75] and merged.bias[0, 0] == 0.25
    assert (merged.records, merged.epochs_run) == (400, 5)


def test_metrics_are_logged_under_the_containers_names_and_match_the_regexes():
    model = {"predictor_type": "multiclass_classifier", "loss": "softmax_loss"}
    x = np.eye(3, dtype=np.float32)
    names = [n for n, _, _ in llm.metrics(model, x, np.array([0.0, 1.0, 2.0]), 5 * np.eye(3),
                                           np.zeros(3), llm.LossSpec("softmax_loss"), 1.0, 3)]  # fmt: skip
    assert names == ["multiclass_cross_entropy_objective", "multiclass_accuracy",
                     "multiclass_top_k_accuracy_3", "dcg", "macro_recall", "macro_precision",
                     "macro_f_1.000"]  # fmt: skip
    regexes = {d["Name"]: re.compile(d["Regex"]) for d in METRIC_DEFINITIONS}
    epoch = epoch_line("algo-1", 3, "validation", "mse_objective", 0.25)
    final = metric_line("algo-1", "validation", "mse_objective", 0.5)
    assert regexes["validation:objective_loss"].search(epoch).group(1) == "0.25"
    assert not regexes["validation:objective_loss"].search(final)
    assert regexes["validation:objective_loss:final"].search(final).group(1) == "0.5"
    line = metric_line("algo-1", "test", "binary_f_1.000", 0.9, "score")
    assert regexes["test:binary_f_beta"].search(line).group(1) == "0.9"
    assert OBJECTIVE_DIRECTION["test:binary_classification_accuracy"] == "Maximize"
    assert OBJECTIVE_DIRECTION["validation:objective_loss"] == "Minimize"
    names = {d["Name"] for d in builtin_metric_definitions(IMAGE, {})}
    assert {"validation:objective_loss", "test:roc_auc_score", "validation:rmse"} <= names
    assert serving_plan(IMAGE, {}).mode == "first-party"


def test_a_sharded_validation_channel_is_refused(tmp_path):
    job = JobConfig(tmp_path, {}, {"validation": {"S3DistributionType": "ShardedByS3Key"}},
                    ["algo-1"], "algo-1", None)  # fmt: skip
    with pytest.raises(UserError, match=r"'ShardedByS3Key' is not one of \['FullyReplicated'\]"):
        check_distribution(job, "validation", ("FullyReplicated",))
    check_distribution(job, "train", ("FullyReplicated",))  # absent: FullyReplicated


def _handler(tmp_path, **model):
    base = {"format": "simsage-linear-learner/1", "feature_dim": 2, "threshold": 0.5,
            "loss": "logistic", "predictor_type": "binary_classifier",
            "weights": [[1.0], [-1.0]], "bias": [0.0]}  # fmt: skip
    (tmp_path / "linear-learner-model.json").write_text(json.dumps({**base, **model}))
    return LinearLearnerHandler(tmp_path).load()


def test_the_handler_answers_as_the_ll_formats_page_shows(tmp_path):
    binary = _handler(tmp_path)
    answer = json.loads(binary.invoke(b"2,0\n0,2\n", "text/csv", None).body)
    assert [p["predicted_label"] for p in answer["predictions"]] == [1, 0]
    assert answer["predictions"][0]["score"] == pytest.approx(1 / (1 + np.exp(-2)))
    rio = binary.invoke(recordio.write_dense(None, np.array([[2.0, 0.0]])),
                        "application/x-recordio-protobuf", "application/x-recordio-protobuf")  # fmt: skip
    label = recordio.read_records(rio.body)[0].label
    assert label["predicted_label"].float32_tensor.values[0] == 1.0
    assert label["score"].float32_tensor.values[0] == pytest.approx(0.8808, abs=1e-4)

    multi = _handler(tmp_path, predictor_type="multiclass_classifier", loss="softmax_loss",
                     weights=[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], bias=[0.0, 0.0, 0.5])  # fmt: skip
    answer = multi.invoke(b'{"instances": [{"features": [0, 3]}]}', "application/json",
                          "application/jsonlines")  # fmt: skip
    line = json.loads(answer.body)
    assert line["predicted_label"] == 1 and len(line["score"]) == 3
    assert sum(line["score"]) == pytest.approx(1.0)

    regressor = _handler(tmp_path, predictor_type="regressor", loss="squared_loss",
                         weights=[[2.0], [1.0]], bias=[1.0])  # fmt: skip
    assert json.loads(regressor.invoke(b"1,1\n", "text/csv", None).body) == {
        "predictions": [{"score": 4.0}]
    }


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "status"),
    [
        (b"1,2\n", "text/libsvm", None, 415),
        (b"1,2\n", "text/csv", "image/png", 406),
        (b"1,2,3\n", "text/csv", None, 400),
        (b'{"rows": []}', "application/json", None, 400),
    ],
)
def test_the_handler_refuses_what_the_container_refuses(tmp_path, body, content_type, accept,
                                                        status):  # fmt: skip
    with pytest.raises(ScoringError) as error:
        _handler(tmp_path).invoke(body, content_type, accept)
    assert error.value.status == status


def test_a_model_of_another_algorithm_does_not_load(tmp_path):
    (tmp_path / "kmeans-model.json").write_text("{}")
    with pytest.raises(ModelLoadError, match="linear-learner-model.json"):
        LinearLearnerHandler(tmp_path).load()


def test_the_selection_criterion_sets_the_decision_threshold_on_validation():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(3000, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -1.0, 0.5]) + rng.normal(scale=1.0, size=3000) > 0).astype(float)
    hps = {"predictor_type": "binary_classifier", "mini_batch_size": "200", "epochs": "4",
           "binary_classifier_model_selection_criteria": "precision_at_target_recall",
           "target_recall": "0.95"}  # fmt: skip
    model = fit_arrays(x[:2000], y[:2000], hps, validation=(x[2000:], y[2000:]))
    label = _score(model, x[2000:])["predicted_label"]
    recall = np.sum((label == 1) & (y[2000:] == 1)) / y[2000:].sum()
    assert recall >= 0.95
    accuracy = fit_arrays(x[:2000], y[:2000], {**hps, "binary_classifier_model_selection_criteria":
                                               "accuracy"}, validation=(x[2000:], y[2000:]))  # fmt: skip
    assert accuracy["threshold"] > model["threshold"]  # high recall needs a low threshold


def test_models_that_diverge_are_left_behind_without_failing_the_job():
    rng = np.random.default_rng(9)
    x = (rng.normal(size=(500, 3)) * 5).astype(np.float32)
    y = x @ np.array([1.0, 2.0, -1.0]) + rng.normal(size=500)
    model = fit_arrays(x, y, {"predictor_type": "regressor", "optimizer": "sgd",
                              "learning_rate": "50", "mini_batch_size": "50"})  # fmt: skip
    assert np.isfinite(model["weights"]).all() and np.isfinite(model["bias"]).all()
