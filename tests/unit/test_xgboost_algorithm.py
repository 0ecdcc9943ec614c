"""The built-in XGBoost algorithm: a host root in a temporary folder, the algorithm run as
the runner runs it (``python -m simsage.algorithms.xgboost_train`` with SIMSAGE_OPT_ML and
the SM_* environment), then the model, the log lines and the failure file checked."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from simsage.algorithms import xgboost_data, xgboost_metrics
from simsage.algorithms.xgboost_data import UserError
from simsage.algorithms.xgboost_params import Plan, validate_hyperparameters
from simsage.runtime.environment import training_env

REPO = Path(__file__).resolve().parents[2]
MODULE = "simsage.algorithms.xgboost_train"
ROUND_LINE = re.compile(r"^\[(\d+)\]((?:\t[a-z]+-[a-z_@0-9-]+:-?\d+\.\d{5})+)$")


# -- helpers ---------------------------------------------------------------------------


def make_root(
    base: Path,
    hyperparameters: dict[str, str],
    channels: dict[str, dict[str, bytes | str]],
    content_type: str | None = "text/csv",
    hosts: tuple[str, ...] = ("algo-1",),
    current_host: str = "algo-1",
) -> tuple[Path, dict[str, str]]:
    """An /opt/ml-shaped host root holding ``channels`` (name → {relative path: content});
    returns it with the SM_* environment the runner gives the algorithm."""
    root = base / current_host
    config = root / "input" / "config"
    config.mkdir(parents=True)
    data_config = {}
    for name, files in channels.items():
        entry = {
            "TrainingInputMode": "File",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        }
        if content_type is not None:
            entry = {"ContentType": content_type, **entry}
        data_config[name] = entry
        for relative, content in files.items():
            path = root / "input" / "data" / name / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)
    resource = {
        "current_host": current_host,
        "hosts": list(hosts),
        "network_interface_name": "eth0",
    }
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (config / "inputdataconfig.json").write_text(json.dumps(data_config))
    (config / "resourceconfig.json").write_text(json.dumps(resource))
    (root / "model").mkdir()
    (root / "output" / "data").mkdir(parents=True)
    return root, training_env(root, "xgb-job", hyperparameters, data_config, resource)


def algorithm_env(env: dict[str, str], **extra: str) -> dict[str, str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("SIMSAGE_")}
    full.update(env)
    full["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    full.update(extra)
    return full


def run_algorithm(root: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", MODULE],
        cwd=root,
        env=algorithm_env(env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def round_lines(stdout: str) -> list[dict[str, float]]:
    """The per-round evaluation lines, each as {"train-auc": 0.9, …}, checked in order."""
    rounds = []
    for line in stdout.splitlines():
        match = ROUND_LINE.match(line)
        if match:
            assert int(match.group(1)) == len(rounds), line
            pairs = (item.rsplit(":", 1) for item in match.group(2).strip("\t").split("\t"))
            rounds.append({name: float(value) for name, value in pairs})
    return rounds


def binary_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, 4)).round(4)  # exact in the text files
    labels = (features[:, 0] + 0.5 * features[:, 1] > 0).astype(np.float64)
    return features, labels


def to_csv(labels: np.ndarray, features: np.ndarray, delimiter: str = ",", *extra) -> str:
    buffer = io.StringIO()
    np.savetxt(buffer, np.column_stack([labels, *extra, features]), delimiter=delimiter, fmt="%.6g")
    return buffer.getvalue()


def to_libsvm(labels: np.ndarray, features: np.ndarray) -> str:
    return "".join(
        f"{label:g} " + " ".join(f"{j}:{value:.6g}" for j, value in enumerate(row)) + "\n"
        for label, row in zip(labels, features, strict=True)
    )


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    order = np.argsort(scores)
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    positives = labels == 1
    n_pos, n_neg = positives.sum(), (~positives).sum()
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def load_model(root: Path):
    import xgboost

    with warnings.catch_warnings():  # a file name without extension: xgboost guesses UBJSON
        warnings.simplefilter("ignore")
        return xgboost.Booster(model_file=str(root / "model" / "xgboost-model"))


def predict(booster, features: np.ndarray) -> np.ndarray:
    import xgboost

    return booster.predict(xgboost.DMatrix(features))


def assert_ok(result: subprocess.CompletedProcess, root: Path) -> None:
    failure = root / "output" / "failure"
    assert result.returncode == 0, (
        result.stdout,
        result.stderr,
        failure.exists() and failure.read_text(),
    )
    assert not failure.exists()
    assert (root / "output" / "success").exists()


# -- training through the process --------------------------------------------------------


def test_csv_trains_a_model_that_predicts_and_logs_like_the_container(tmp_path):
    features, labels = binary_data(500)
    root, env = make_root(
        tmp_path,
        {"num_round": "8", "objective": "binary:logistic", "eval_metric": "auc", "max_depth": "3"},
        {
            "train": {"train.csv": to_csv(labels[:400], features[:400])},
            "validation": {"validation.csv": to_csv(labels[400:], features[400:])},
        },
    )
    result = run_algorithm(root, env)
    assert_ok(result, root)

    rounds = round_lines(result.stdout)
    assert len(rounds) == 8
    assert all(list(r) == ["train-auc", "validation-auc"] for r in rounds)
    assert rounds[-1]["validation-auc"] > 0.9
    assert "[0]\ttrain-auc:" in result.stdout  # tabs, as xgboost prints them
    lines = result.stdout.splitlines()
    assert any(
        re.match(r"^\[\d{4}-\d\d-\d\d:\d\d:\d\d:\d\d:INFO\] Determined 0 GPU", s) for s in lines
    )
    assert "Train matrix has 400 rows and 4 columns" in result.stdout
    assert "Validation matrix has 100 rows" in result.stdout

    held_out, truth = binary_data(300, seed=1)
    assert auc(truth, predict(load_model(root), held_out)) > 0.9

    # The algorithm's metric definitions read the line as CloudWatch shows it.
    last = [s for s in lines if ROUND_LINE.match(s)][-1].replace("\t", "#011")
    definitions = {d["Name"]: d["Regex"] for d in xgboost_metrics.METRIC_DEFINITIONS}
    found = re.match(definitions["validation:auc"], last)
    assert found and float(found.group(1)) == rounds[-1]["validation-auc"]
    assert float(re.match(definitions["train:auc"], last).group(1)) == rounds[-1]["train-auc"]


def test_csv_weights_in_column_1_and_a_sniffed_delimiter(tmp_path):
    # Every row also appears with its label flipped and weight 0: only the weights make
    # the data learnable.
    features, labels = binary_data(400)
    both = np.vstack([features, features])
    rows = np.concatenate([labels, 1 - labels])
    weights = np.concatenate([np.ones(400), np.zeros(400)])
    root, env = make_root(
        tmp_path,
        {"num_round": "10", "objective": "binary:logistic", "csv_weights": "1"},
        {"train": {"weighted.csv": to_csv(rows, both, ";", weights)}},
        content_type="text/csv;label_size=1",
    )
    result = run_algorithm(root, env)
    assert_ok(result, root)
    assert "Determined delimiter of CSV input is ';'" in result.stdout
    assert "Train matrix has 800 rows and 4 columns" in result.stdout
    assert [list(r) for r in round_lines(result.stdout)][0] == ["train-logloss"]
    held_out, truth = binary_data(300, seed=1)
    assert auc(truth, predict(load_model(root), held_out)) > 0.9


def test_libsvm_is_the_default_and_a_channel_is_every_file_in_its_folders(tmp_path):
    features, labels = binary_data(300)
    root, env = make_root(
        tmp_path,
        {"num_round": "6", "objective": "binary:logistic", "eta": "0.5"},
        {
            "train": {
                "part-1.libsvm": to_libsvm(labels[:100], features[:100]),
                "nested/deeper/part-2.libsvm": to_libsvm(labels[100:300], features[100:300]),
                "_SUCCESS": "not data\n",
                ".hidden": "not data either\n",
                "_logs/part-3.libsvm": "garbage\n",
            }
        },
        content_type=None,
    )
    result = run_algorithm(root, env)
    assert_ok(result, root)
    assert "Train matrix has 300 rows and 4 columns" in result.stdout
    held_out, truth = binary_data(300, seed=1)
    assert auc(truth, predict(load_model(root), held_out)) > 0.9


def test_parquet_label_in_the_first_column(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    features, labels = binary_data(300)
    table = pa.table({"label": labels, **{f"f{j}": features[:, j] for j in range(4)}})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    root, env = make_root(
        tmp_path,
        {"num_round": "6", "objective": "binary:logistic"},
        {"train": {"data.parquet": sink.getvalue().to_pybytes()}},
        content_type="application/x-parquet",
    )
    result = run_algorithm(root, env)
    assert_ok(result, root)
    assert "Train matrix has 300 rows and 4 columns" in result.stdout
    held_out, truth = binary_data(300, seed=1)
    assert auc(truth, predict(load_model(root), held_out)) > 0.9


def test_early_stopping_on_the_tuning_metric_saves_the_best_iteration(tmp_path):
    rng = np.random.default_rng(3)
    features = rng.normal(size=(300, 4))
    labels = rng.integers(0, 2, 300).astype(np.float64)  # noise: validation soon stops improving
    root, env = make_root(
        tmp_path,
        {
            "num_round": "200",
            "objective": "binary:logistic",
            "eval_metric": "logloss",
            "early_stopping_rounds": "3",
            "_tuning_objective_metric": "validation:auc",
            "max_depth": "4",
        },
        {
            "train": {"train.csv": to_csv(labels[:200], features[:200])},
            "validation": {"validation.csv": to_csv(labels[200:], features[200:])},
        },
    )
    result = run_algorithm(root, env)
    assert_ok(result, root)
    rounds = round_lines(result.stdout)
    assert list(rounds[0]) == ["train-auc", "train-logloss", "validation-auc", "validation-logloss"]
    assert len(rounds) < 200
    scores = [r["validation-auc"] for r in rounds]
    best = int(np.argmax(scores))  # the first best: later ties are no improvement
    assert len(rounds) == best + 3 + 1
    assert load_model(root).num_boosted_rounds() == best + 1


def test_multiclass_softprob_with_a_container_metric(tmp_path):
    rng = np.random.default_rng(4)
    features = rng.normal(size=(300, 3)).round(4)
    labels = np.argmax(features, axis=1).astype(np.float64)
    root, env = make_root(
        tmp_path,
        {
            "num_round": "5",
            "objective": "multi:softprob",
            "num_class": "3",
            "eval_metric": "mlogloss,accuracy",
        },
        {"train": {"train.csv": to_csv(labels, features)}},
    )
    result = run_algorithm(root, env)
    assert_ok(result, root)
    rounds = round_lines(result.stdout)
    assert list(rounds[-1]) == ["train-mlogloss", "train-accuracy"]
    probabilities = predict(load_model(root), features)
    assert probabilities.shape == (300, 3)
    accuracy = float((probabilities.argmax(axis=1) == labels).mean())
    assert accuracy > 0.85
    assert rounds[-1]["train-accuracy"] == pytest.approx(accuracy, abs=1e-5)


def test_a_checkpoint_folder_resumes_training_and_keeps_the_last_five(tmp_path):
    import xgboost

    features, labels = binary_data(200)
    hyperparameters = {"num_round": "8", "objective": "binary:logistic"}
    root, env = make_root(
        tmp_path, hyperparameters, {"train": {"train.csv": to_csv(labels, features)}}
    )
    (root / "input" / "config" / "checkpointconfig.json").write_text(
        json.dumps({"LocalPath": "/opt/ml/checkpoints", "S3Uri": "s3://bucket/checkpoints"})
    )
    # What an interrupted job left (the runner restores it from S3): 3 rounds done.
    earlier = xgboost.train(
        {"objective": "binary:logistic"}, xgboost.DMatrix(features, label=labels), 3
    )
    (root / "checkpoints").mkdir()
    for i in range(3):
        earlier[: i + 1].save_model(str(root / "checkpoints" / f"xgboost-checkpoint.{i}.ubj"))
        (root / "checkpoints" / f"xgboost-checkpoint.{i}.ubj").rename(
            root / "checkpoints" / f"xgboost-checkpoint.{i}"
        )

    result = run_algorithm(root, env)
    assert_ok(result, root)
    assert "Resuming from iteration 3" in result.stdout
    numbers = [line.split("\t")[0] for line in result.stdout.splitlines() if ROUND_LINE.match(line)]
    assert numbers == ["[3]", "[4]", "[5]", "[6]", "[7]"]
    assert load_model(root).num_boosted_rounds() == 8
    assert sorted(p.name for p in (root / "checkpoints").iterdir()) == [
        f"xgboost-checkpoint.{i}" for i in range(3, 8)
    ]


# -- failures through the process --------------------------------------------------------


@pytest.mark.parametrize(
    ("hyperparameters", "channels", "expected"),
    [
        (
            {"num_round": "abc"},
            {"train": {"a.csv": "1,2\n"}},
            "Hyperparameter num_round: value 'abc' is not an integer",
        ),
        (
            {"num_round": "3"},
            {"train": {"a.csv": "1,2\n"}, "test": {"b.csv": "1,2\n"}},
            "Extraneous channel found: test",
        ),
        ({"num_round": "3"}, {"validation": {"a.csv": "1,2\n"}}, "Missing required channel: train"),
    ],
    ids=["bad-integer", "extraneous-channel", "no-train-channel"],
)
def test_a_failure_exits_non_zero_with_the_reason_in_the_failure_file(
    tmp_path, hyperparameters, channels, expected
):
    root, env = make_root(tmp_path, hyperparameters, channels)
    result = run_algorithm(root, env)
    assert result.returncode != 0
    reason = (root / "output" / "failure").read_text()
    assert expected in reason
    assert expected in result.stdout  # the log says it too
    assert not (root / "model" / "xgboost-model").exists()


# -- hyperparameters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hyperparameters", "expected"),
    [
        ({}, "Missing required hyperparameter: num_round"),
        ({"num_round": "0"}, "Hyperparameter num_round: value 0 is not in [1, +inf)"),
        ({"num_round": "2.5"}, "Hyperparameter num_round: value '2.5' is not an integer"),
        ({"num_round": "5", "eta": "1.5"}, "Hyperparameter eta: value 1.5 is not in [0, 1]"),
        (
            {"num_round": "5", "subsample": "0"},
            "Hyperparameter subsample: value 0 is not in (0, 1]",
        ),
        (
            {"num_round": "5", "max_depth": "deep"},
            "Hyperparameter max_depth: value 'deep' is not an integer",
        ),
        (
            {"num_round": "5", "booster": "forest"},
            "Hyperparameter booster: value 'forest' is not one of",
        ),
        (
            {"num_round": "5", "objective": "multi:softmax"},
            "num_class is required for objective multi:softmax",
        ),
        (
            {"num_round": "5", "objective": "binary:logistic", "num_class": "3"},
            "num_class is only valid for multi:softmax and multi:softprob",
        ),
        ({"num_round": "5", "max_dpeth": "3"}, "Extraneous hyperparameter found: max_dpeth"),
        (
            {"num_round": "5", "eval_metric": "accuracy,bogus"},
            "Hyperparameter eval_metric: value 'bogus'",
        ),
        (
            {"num_round": "5", "eval_metric": "auc"},
            "Metric 'auc' can only be applied for classification",
        ),
        (
            {"num_round": "5", "tree_method": "gpu_hist"},
            "Hyperparameter tree_method: gpu_hist needs a GPU",
        ),
        (
            {"num_round": "5", "_tuning_objective_metric": "validation:speed"},
            "_tuning_objective_metric",
        ),
        ({"num_round": "5", "eta": "0.1", "learning_rate": "0.2"}, "eta and learning_rate"),
        (
            {"num_round": "5", "seed_per_iteration": "maybe"},
            "seed_per_iteration: value 'maybe' is not a boolean",
        ),
    ],
)
def test_invalid_hyperparameters_name_the_parameter(hyperparameters, expected):
    with pytest.raises(UserError) as raised:
        validate_hyperparameters(hyperparameters)
    assert expected in str(raised.value)


def test_hyperparameters_are_converted_and_aliases_resolved():
    plan = Plan.from_hyperparameters(
        {
            "num_round": "50",
            "learning_rate": "0.3",
            "max_depth": "6",
            "reg_lambda": "2",
            "subsample": "0.8",
            "tree_method": "hist",
            "seed": "7",
            "validate_parameters": "true",
            "updater": "grow_quantile_histmaker,prune",
            "sagemaker_region": '"us-east-1"',
            "booster": '"gbtree"',
            "silent": "1",
        }
    )
    params = plan.booster_params()
    assert params == {
        "objective": "reg:squarederror",
        "eta": 0.3,
        "max_depth": 6,
        "lambda": 2.0,
        "subsample": 0.8,
        "tree_method": "hist",
        "seed": 7,
        "validate_parameters": 1,
        "updater": "grow_quantile_histmaker,prune",
        "booster": "gbtree",
    }
    assert plan.values["num_round"] == 50
    assert (plan.native_metrics, plan.container_metrics, plan.stop_on) == ([], [], None)


def test_the_tuning_metric_joins_eval_metric_and_drives_early_stopping():
    plan = Plan.from_hyperparameters(
        {
            "num_round": "5",
            "objective": "binary:logistic",
            "eval_metric": "logloss,f1",
            "_tuning_objective_metric": "validation:auc",
        }
    )
    assert plan.native_metrics == ["auc", "logloss"]
    assert plan.container_metrics == ["f1"]
    assert plan.stop_on == "auc"
    assert plan.booster_params()["eval_metric"] == ["auc", "logloss"]
    only_eval = Plan.from_hyperparameters({"num_round": "5", "eval_metric": "mae,rmse"})
    assert only_eval.stop_on == "rmse"


# -- data ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        (None, "libsvm"),
        ("text/libsvm", "libsvm"),
        ("text/x-libsvm", "libsvm"),
        ("text/csv", "csv"),
        ("text/csv; label_size=1", "csv"),
        ("csv", "csv"),
        ("application/x-parquet", "parquet"),
        ("application/x-recordio-protobuf", "recordio-protobuf"),
    ],
)
def test_content_types(content_type, expected):
    assert xgboost_data.content_type_format(content_type) == expected


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("text/csv;label_size=2", "Optional parameter label_size must be equal to 1"),
        ("application/json", "application/json is not an accepted ContentType"),
    ],
)
def test_rejected_content_types(content_type, expected):
    with pytest.raises(UserError, match=re.escape(expected)):
        xgboost_data.content_type_format(content_type)


def test_a_channel_is_its_non_hidden_non_empty_files_in_path_order(tmp_path):
    for relative, content in {
        "b.csv": "1,2\n",
        "a/z.csv": "1,2\n",
        "a/_temporary/part.csv": "1,2\n",
        ".cache/x.csv": "1,2\n",
        "_SUCCESS": "",
        ".DS_Store": "x",
        "empty.csv": "",
    }.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    found = xgboost_data.data_files(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a/z.csv", "b.csv"]


def test_a_csv_header_row_is_rejected(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "with-header.csv").write_text("label,x1,x2\n1,2,3\n")
    with pytest.raises(UserError, match="First line 'label,x1,x2...' of file 'with-header.csv'"):
        xgboost_data.load_channel(tmp_path / "train", "csv")


def test_recordio_protobuf_is_a_clear_error(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "data.pbr").write_bytes(b"\x00")
    with pytest.raises(UserError, match="not supported by simsage"):
        xgboost_data.load_channel(tmp_path / "train", "recordio-protobuf")


def test_csv_and_libsvm_read_the_same_with_xgboost_and_in_python(tmp_path):
    csv_file = tmp_path / "a.csv"
    csv_file.write_text("1,0.5,2,0\n0,2,,1\n1,4,3,\n")  # missing values
    for weights in (False, True):
        native = xgboost_data.load_csv([csv_file], weights)
        fallback = xgboost_data.load_csv([csv_file], weights, native=False)
        assert native.num_row() == fallback.num_row() == 3
        assert np.array_equal(native.get_label(), fallback.get_label())
        assert np.array_equal(native.get_weight(), fallback.get_weight())
        dense = [d.get_data().toarray() for d in (native, fallback)]
        assert np.array_equal(dense[0], dense[1])
    libsvm_file = tmp_path / "a.libsvm"
    libsvm_file.write_text("1:2 0:1.5 3:2\n0:0.5 1:1\n1:1 2:3\n")
    native = xgboost_data.load_libsvm([libsvm_file])
    fallback = xgboost_data.load_libsvm([libsvm_file], native=False)
    assert np.array_equal(native.get_label(), fallback.get_label())
    assert np.array_equal(native.get_weight(), fallback.get_weight())
    assert np.array_equal(native.get_data().toarray(), fallback.get_data().toarray())


# -- metrics -------------------------------------------------------------------------------


def test_metric_definitions_and_directions():
    names = {d["Name"] for d in xgboost_metrics.METRIC_DEFINITIONS}
    for metric in (
        "auc",
        "aucpr",
        "rmse",
        "mae",
        "logloss",
        "error",
        "merror",
        "mlogloss",
        "f1",
        "ndcg",
        "map",
    ):
        assert {f"train:{metric}", f"validation:{metric}"} <= names
    assert xgboost_metrics.OBJECTIVE_DIRECTION["validation:auc"] == "Maximize"
    assert xgboost_metrics.OBJECTIVE_DIRECTION["validation:rmse"] == "Minimize"
    assert xgboost_metrics.metric_direction("ndcg@5") == "Maximize"
    assert xgboost_metrics.metric_direction("validation:logloss") == "Minimize"
    regex = {d["Name"]: d["Regex"] for d in xgboost_metrics.METRIC_DEFINITIONS}["validation:f1"]
    line = "[3]#011train-f1_binary:0.5#011validation-f1:0.75#011validation-f1_binary:1e-3"
    assert re.match(regex, line).group(1) == "0.75"
    assert regex == r".*\[[0-9]+\].*#011validation-f1:([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?).*"


def test_the_metrics_module_imports_nothing_heavy():
    code = (
        "import sys, simsage.algorithms.xgboost_metrics as m; "
        "print(sorted(x for x in ('numpy', 'xgboost', 'pandas') if x in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=algorithm_env({}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "[]", result.stderr


@pytest.mark.parametrize(
    "metric",
    [
        "accuracy",
        "balanced_accuracy",
        "f1",
        "f1_binary",
        "f1_macro",
        "precision",
        "precision_macro",
        "precision_micro",
        "recall",
        "recall_macro",
        "recall_micro",
        "mse",
        "r2",
    ],
)
def test_container_metrics_agree_with_scikit_learn(metric):
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 200).astype(np.float32)
    probabilities = np.clip(labels * 0.6 + rng.random(200) * 0.5, 0, 1).astype(np.float32)
    predicted = (probabilities > 0.5).astype(int)

    class Data:
        def get_label(self):
            return labels

    evaluate = xgboost_metrics.container_metric_function([metric], "binary:logistic", None)
    [(name, value)] = evaluate(probabilities, Data())
    expected = {
        "accuracy": sk.accuracy_score(labels, predicted),
        "balanced_accuracy": sk.balanced_accuracy_score(labels, predicted),
        "f1": sk.f1_score(labels, predicted, average="macro"),
        "f1_binary": sk.f1_score(labels, predicted),
        "f1_macro": sk.f1_score(labels, predicted, average="macro"),
        "precision": sk.precision_score(labels, predicted),
        "precision_macro": sk.precision_score(labels, predicted, average="macro"),
        "precision_micro": sk.precision_score(labels, predicted, average="micro"),
        "recall": sk.recall_score(labels, predicted),
        "recall_macro": sk.recall_score(labels, predicted, average="macro"),
        "recall_micro": sk.recall_score(labels, predicted, average="micro"),
        "mse": sk.mean_squared_error(labels, probabilities),
        "r2": sk.r2_score(labels, probabilities),
    }[metric]
    assert name == metric
    assert value == pytest.approx(expected, rel=1e-5)


def test_multiclass_container_metrics_agree_with_scikit_learn():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(6)
    labels = rng.integers(0, 4, 300).astype(np.float32)
    scores = rng.random((300, 4)).astype(np.float32)
    scores[np.arange(300), labels.astype(int)] += rng.random(300).astype(np.float32)
    predicted = scores.argmax(axis=1)

    class Data:
        def get_label(self):
            return labels

    evaluate = xgboost_metrics.container_metric_function(
        ["f1", "balanced_accuracy", "precision_macro", "recall_micro"], "multi:softprob", 4
    )
    values = dict(evaluate(scores, Data()))
    assert values["f1"] == pytest.approx(sk.f1_score(labels, predicted, average="macro"))
    assert values["balanced_accuracy"] == pytest.approx(
        sk.balanced_accuracy_score(labels, predicted)
    )
    assert values["precision_macro"] == pytest.approx(
        sk.precision_score(labels, predicted, average="macro")
    )
    assert values["recall_micro"] == pytest.approx(
        sk.recall_score(labels, predicted, average="micro")
    )
    binary_only = xgboost_metrics.container_metric_function(["precision"], "multi:softprob", 4)
    with pytest.raises(xgboost_metrics.MetricError, match="multiclass"):
        binary_only(scores, Data())
