"""Built-in PCA pieces without processes: hyperparameters, the regular and randomized
summaries and their merge over hosts, the component order and signs, and the handler."""

import json

import numpy as np
import pytest

from simsage.algorithms import pca_train, recordio
from simsage.algorithms.xgboost_data import UserError
from simsage.runtime.images import builtin_metric_definitions
from simsage.serving.pca_handler import ModelLoadError, PCAHandler
from simsage.serving.scoring import ScoringError

BASE = {"feature_dim": "6", "num_components": "2", "mini_batch_size": "50"}


def _low_rank(rows: int, seed: int, noise: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Records with three strong directions (σ 10, 5, 2) plus noise, offset from 0."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(np.random.default_rng(99).normal(size=(6, 6)))[0]
    scales = np.array([10.0, 5.0, 2.0, noise, noise, noise])
    return (rng.normal(size=(rows, 6)) * scales) @ basis.T + 3.0, basis


def _numpy_components(x: np.ndarray, k: int) -> np.ndarray:
    _, _, vt = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    return vt[:k].T  # top first


def test_defaults_and_values_parse_as_the_documented_hyperparameters():
    params = pca_train.parse_params(BASE)
    assert (params.algorithm_mode, params.subtract_mean, params.extra_components) == (
        "regular", True, -1)  # fmt: skip
    assert params.sketch_size == 2 + 10  # -1: max(10, num_components)
    params = pca_train.parse_params({**BASE, "num_components": "6", "extra_components": "-1",
                                     "algorithm_mode": "randomized", "subtract_mean": "False"})  # fmt: skip
    assert params.sketch_size == 6 + 10 and params.subtract_mean is False
    assert pca_train.parse_params({**BASE, "extra_components": "3"}).sketch_size == 5


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"mini_batch_size": None}, "'mini_batch_size' is a required property"),
        ({"num_components": None}, "'num_components' is a required property"),
        ({"num_components": "7"}, "num_components=7 is greater than feature_dim=6"),
        ({"algorithm_mode": "fast"}, "'fast' is not one of ['regular', 'randomized']"),
        ({"extra_components": "-2"}, "less than the minimum of -1 (extra_components)"),
        ({"subtract_mean": "maybe"}, "'maybe' is not one of ['true', 'false']"),
        ({"k": "3"}, "Additional properties are not allowed ('k')"),
    ],
)
def test_invalid_hyperparameters_are_refused_naming_them(change, words):
    values = {key: value for key, value in {**BASE, **change}.items() if value is not None}
    with pytest.raises(UserError, match="Failed to validate input hyperparameters") as error:
        pca_train.parse_params(values)
    assert words in str(error.value)


def test_regular_mode_is_numpys_svd_with_the_top_component_last():
    x, _ = _low_rank(300, 1)
    model = pca_train.fit_arrays(x, None, {**BASE, "num_components": "3"})
    v, s = np.asarray(model["v"]), np.asarray(model["s"])
    expected = _numpy_components(x, 3)[:, ::-1]  # ascending, as the real model stores them
    assert np.abs(np.sum(v * expected, axis=0)) == pytest.approx([1, 1, 1], abs=1e-9)
    singular = np.linalg.svd(x - x.mean(axis=0), compute_uv=False)[:3][::-1]
    assert s == pytest.approx(singular, rel=1e-9) and list(s) == sorted(s)
    assert model["mean"] == pytest.approx(x.mean(axis=0).tolist())
    # Signs are deterministic: each component's entry of largest magnitude is positive.
    assert all(v[np.argmax(np.abs(v[:, j])), j] > 0 for j in range(3))


def test_regular_summaries_of_shards_merge_to_the_one_host_answer():
    x, _ = _low_rank(301, 2)
    params = pca_train.parse_params(BASE)
    whole = pca_train.solve([pca_train.summarise(x, params, 0)], params)
    parts = [pca_train.summarise(x[:120], params, 0), pca_train.summarise(x[120:], params, 1),
             pca_train.empty_summary(params)]  # fmt: skip
    merged = pca_train.solve(parts, params)
    assert np.asarray(merged["v"]) == pytest.approx(np.asarray(whole["v"]), abs=1e-9)
    assert merged["s"] == pytest.approx(whole["s"], rel=1e-9)


def test_randomized_sketches_merge_over_hosts_and_approximate_the_components():
    x, _ = _low_rank(2000, 3)
    params = pca_train.parse_params({**BASE, "algorithm_mode": "randomized"})
    parts = [pca_train.summarise(x[:900], params, 0), pca_train.summarise(x[900:], params, 1)]
    model = pca_train.solve(parts, params)
    cosines = np.abs(np.sum(np.asarray(model["v"]) * _numpy_components(x, 2)[:, ::-1], axis=0))
    assert cosines.min() > 0.98


def test_wide_data_takes_scikit_learns_randomized_svd_on_each_host():
    rng = np.random.default_rng(6)
    basis = np.linalg.qr(rng.normal(size=(40, 40)))[0]
    scales = np.r_[12.0, 6.0, np.full(38, 0.1)]
    x = (rng.normal(size=(600, 40)) * scales) @ basis.T - 2.0
    values = {"feature_dim": "40", "num_components": "2", "mini_batch_size": "100",
              "algorithm_mode": "randomized", "extra_components": "1"}  # fmt: skip
    params = pca_train.parse_params(values)
    assert 2 * params.sketch_size < 40  # the randomized path, not the exact thin SVD
    parts = [pca_train.summarise(x[:250], params, 0), pca_train.summarise(x[250:], params, 1)]
    assert parts[0]["sketch"].shape == (3, 40)
    model = pca_train.solve(parts, params)
    cosines = np.abs(np.sum(np.asarray(model["v"]) * _numpy_components(x, 2)[:, ::-1], axis=0))
    assert cosines.min() > 0.999


def test_without_subtract_mean_the_components_describe_the_raw_second_moment():
    x, _ = _low_rank(300, 4)
    model = pca_train.fit_arrays(x, None, {**BASE, "num_components": "1", "subtract_mean": "false"})
    _, _, vt = np.linalg.svd(x, full_matrices=False)  # not centred: the offset dominates
    assert abs(float(np.dot(np.asarray(model["v"])[:, 0], vt[0]))) == pytest.approx(1, abs=1e-9)
    assert model["mean"] == [0.0] * 6


def test_no_tuning_metrics_are_documented():
    image = "382416733822.dkr.ecr.us-east-1.amazonaws.com/pca:1"
    assert builtin_metric_definitions(image, {}) == []


@pytest.fixture
def fitted(tmp_path):
    x, _ = _low_rank(200, 5)
    model = pca_train.fit_arrays(x, None, {**BASE, "num_components": "3"})
    (tmp_path / "pca-model.json").write_text(json.dumps(model))
    return PCAHandler(tmp_path).load(), model, x


def test_the_handler_projects_centred_records_in_every_format(fitted):
    handler, model, x = fitted
    rows = x[:3].astype(np.float32)
    expected = (rows.astype(float) - np.asarray(model["mean"])) @ np.asarray(model["v"])
    csv = "".join(",".join(map(str, r)) + "\n" for r in rows.tolist()).encode()
    answer = json.loads(handler.invoke(csv, "text/csv", None).body)
    assert list(answer) == ["projections"]
    got = [p["projection"] for p in answer["projections"]]
    assert np.asarray(got) == pytest.approx(expected, abs=1e-4)
    body = recordio.write_dense(None, rows)
    answer = handler.invoke(body, "application/x-recordio-protobuf",
                            "application/x-recordio-protobuf")  # fmt: skip
    records = recordio.read_records(answer.body)
    got = [list(r.label["projection"].float32_tensor.values) for r in records]
    assert np.asarray(got) == pytest.approx(expected, abs=1e-3)
    lines = handler.invoke(csv, "text/csv", "application/jsonlines").body.splitlines()
    assert [list(json.loads(line)) for line in lines] == [["projection"]] * 3
    cells = handler.invoke(csv, "text/csv", "text/csv").body.decode().splitlines()[0].split(",")
    assert [float(c) for c in cells] == pytest.approx(expected[0], abs=1e-4)


def test_the_handler_refuses_bad_requests_and_foreign_models(fitted, tmp_path):
    handler, _, _ = fitted
    with pytest.raises(ScoringError) as error:
        handler.invoke(b"1,2\n", "text/csv", None)
    assert error.value.status == 400 and "feature_dim=6" in str(error.value)
    other = tmp_path / "other"
    other.mkdir()
    (other / "pca-model.json").write_text(json.dumps({"format": "simsage-kmeans/1"}))
    with pytest.raises(ModelLoadError, match="not a simsage-pca/1 model"):
        PCAHandler(other).load()
