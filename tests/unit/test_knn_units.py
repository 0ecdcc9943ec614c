"""Built-in k-NN pieces without processes: hyperparameters, reservoir sampling and the
hosts' shares, the dimension reductions, the exact search and the handler's formats."""

import json

import numpy as np
import pytest

from simsage.algorithms import knn_index, knn_train, recordio
from simsage.algorithms.xgboost_data import UserError
from simsage.runtime.images import builtin_metric_definitions
from simsage.serving.knn_handler import KNNHandler, ModelLoadError
from simsage.serving.scoring import ScoringError

BASE = {"feature_dim": "4", "k": "3", "predictor_type": "classifier", "sample_size": "100"}


def test_defaults_parse_as_the_documented_hyperparameters():
    params = knn_train.parse_params(BASE)
    assert (params.index_type, params.index_metric, params.mini_batch_size) == (
        "faiss.Flat", "L2", 5000)  # fmt: skip
    assert params.dimension_reduction_type is None and params.faiss_index_ivf_nlists is None
    params = knn_train.parse_params({**BASE, "dimension_reduction_type": "fjlt",
                                     "dimension_reduction_target": "2",
                                     "index_type": "faiss.IVFFlat", "index_metric": "COSINE",
                                     "faiss_index_ivf_nlists": "4"})  # fmt: skip
    assert (params.dimension_reduction_target, params.faiss_index_ivf_nlists) == (2, 4)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"sample_size": None}, "'sample_size' is a required property"),
        ({"predictor_type": "ranker"}, "'ranker' is not one of ['classifier', 'regressor']"),
        ({"k": "0"}, "less than the minimum of 1 (k)"),
        ({"dimension_reduction_type": "sign"}, "'dimension_reduction_target' is a required"),
        (
            {"dimension_reduction_type": "sign", "dimension_reduction_target": "4"},
            "greater than the maximum of 3 (dimension_reduction_target)",
        ),
        ({"dimension_reduction_type": "pca", "dimension_reduction_target": "2"}, "'pca'"),
        ({"index_type": "faiss.IVFPQ", "index_metric": "COSINE"}, "not supported with"),
        ({"index_type": "faiss.HNSW"}, "'faiss.HNSW' is not one of"),
        ({"faiss_index_pq_m": "5"}, "5 is not one of [1, 2, 3, 4, 8"),
        ({"faiss_index_ivf_nlists": "0"}, "less than the minimum of 1"),
        ({"epochs": "2"}, "Additional properties are not allowed ('epochs')"),
    ],
)
def test_invalid_hyperparameters_are_refused_naming_them(change, words):
    values = {key: value for key, value in {**BASE, **change}.items() if value is not None}
    with pytest.raises(UserError, match="Failed to validate input hyperparameters") as error:
        knn_train.parse_params(values)
    assert words in str(error.value)


def test_reservoir_sampling_keeps_every_record_equally_likely():
    counts = np.zeros(30)
    for seed in range(3000):
        kept = knn_train.reservoir(30, 6, 4, seed)
        assert len(set(kept.tolist())) == 6
        counts[kept] += 1
    # Each record is kept with probability 6/30 = 0.2 (σ of the estimate ≈ 0.007).
    assert np.abs(counts / 3000 - 0.2).max() < 0.035
    assert knn_train.reservoir(4, 6, 4, 0).tolist() == [0, 1, 2, 3]


def test_hosts_share_the_sample_size_and_their_samples_come_from_their_shards():
    assert [knn_train.host_share(100, 3, i) for i in range(3)] == [34, 33, 33]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 2)).astype(np.float32)
    y = np.arange(500.0)
    points, labels = knn_train.sample(x, y, 40, 64, 7)
    assert points.shape == (40, 2) and len(set(labels.tolist())) == 40
    assert np.array_equal(points, x[labels.astype(int)])  # each point keeps its own label


@pytest.mark.parametrize("kind", ["sign", "fjlt"])
def test_dimension_reduction_keeps_the_nearest_neighbours_of_clustered_data(kind):
    rng = np.random.default_rng(1)
    centers = rng.normal(scale=10, size=(5, 64))
    labels = rng.integers(0, 5, size=400)
    x = (centers[labels] + rng.normal(size=(400, 64))).astype(np.float32)
    model = knn_train.fit_arrays(x, labels.astype(float), {
        "feature_dim": "64", "k": "5", "predictor_type": "classifier", "sample_size": "400",
        "dimension_reduction_type": kind, "dimension_reduction_target": "16"})  # fmt: skip
    assert model["meta"]["dimension_reduction"]["target_dim"] == 16
    assert model["arrays"]["points"].shape == (400, 16)
    reduced = knn_index.reduce(x[:100], model["arrays"])
    # Lengths are kept in expectation; every record's neighbours stay in its own cluster.
    ratio = np.linalg.norm(reduced, axis=1) / np.linalg.norm(x[:100], axis=1)
    assert 0.8 < np.median(ratio) < 1.2
    name, accuracy = knn_train.score(model, x[:100], labels[:100].astype(float))
    assert name == "accuracy" and accuracy == 1.0


def test_pq_m_raises_the_reduction_target_to_a_multiple_of_itself():
    x = np.random.default_rng(2).normal(size=(50, 20)).astype(np.float32)
    model = knn_train.fit_arrays(x, np.zeros(50), {
        "feature_dim": "20", "k": "2", "predictor_type": "regressor", "sample_size": "50",
        "dimension_reduction_type": "sign", "dimension_reduction_target": "5",
        "index_type": "faiss.IVFPQ", "faiss_index_pq_m": "4", "faiss_index_ivf_nlists": "3"})  # fmt: skip
    assert model["meta"]["dimension_reduction"]["target_dim"] == 8
    assert model["meta"]["faiss_index_ivf_nlists"] == 3


def test_the_search_is_exact_for_each_metric():
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(3)
    points, queries = rng.normal(size=(200, 6)), rng.normal(size=(20, 6))
    indices, values = knn_index.search(points, queries, 4, "L2")
    distances, expected = NearestNeighbors(n_neighbors=4).fit(points).kneighbors(queries)
    assert np.array_equal(indices, expected)
    assert values == pytest.approx(distances**2)  # squared L2, ascending
    indices, values = knn_index.search(points, queries, 4, "INNER_PRODUCT")
    products = queries @ points.T
    assert np.array_equal(indices, np.argsort(-products, axis=1)[:, :4])
    assert np.all(np.diff(values, axis=1) <= 0)  # most similar first
    normed = knn_index.normalise(points)
    indices, values = knn_index.search(normed, queries, 4, "COSINE")
    cosine = knn_index.normalise(queries) @ normed.T
    assert np.array_equal(indices, np.argsort(-cosine, axis=1)[:, :4]) and values.max() <= 1 + 1e-9


def test_the_classifier_votes_and_breaks_ties_to_the_smallest_label():
    votes = np.array([[2.0, 1.0, 2.0], [3.0, 1.0, 5.0], [4.0, 4.0, 0.0]])
    assert knn_index.predict(votes, "classifier").tolist() == [2.0, 1.0, 4.0]
    assert knn_index.predict(votes, "regressor").tolist() == pytest.approx([5 / 3, 3.0, 8 / 3])


def test_the_tuning_metrics_are_the_documented_ones():
    image = "174872318107.dkr.ecr.us-west-2.amazonaws.com/knn:1"
    names = {d["Name"] for d in builtin_metric_definitions(image, {})}
    assert names == {"test:accuracy", "test:mse"}


def _write(folder, model):
    (folder / "knn-model.json").write_text(json.dumps(model["meta"]))
    np.savez(folder / "knn-model.npz", **model["arrays"])


@pytest.fixture
def handler(tmp_path):
    x = np.array([[0, 0], [0, 1], [1, 0], [10, 10], [10, 11]], dtype=np.float32)
    model = knn_train.fit_arrays(x, np.array([0.0, 0.0, 1.0, 2.0, 2.0]), {
        "feature_dim": "2", "k": "3", "predictor_type": "classifier", "sample_size": "10"})  # fmt: skip
    _write(tmp_path, model)
    return KNNHandler(tmp_path).load()


def test_the_handler_answers_the_documented_formats(handler):
    answer = handler.invoke(b"0,0.1\n10,10.4\n", "text/csv", None)
    assert json.loads(answer.body) == {"predictions": [{"predicted_label": 0.0},
                                                       {"predicted_label": 2.0}]}  # fmt: skip
    answer = handler.invoke(b'{"instances": [{"features": [0, 0.1]}]}', "application/json",
                            "application/json; verbose=true")  # fmt: skip
    (verbose,) = json.loads(answer.body)["predictions"]
    assert list(verbose) == ["predicted_label", "distances", "labels"]
    assert verbose["labels"] == [0.0, 0.0, 1.0]
    assert verbose["distances"] == pytest.approx([0.01, 0.81, 1.01], abs=1e-5)
    answer = handler.invoke(b'{"features": [10, 10]}\n', "application/jsonlines",
                            "application/jsonlines")  # fmt: skip
    assert answer.body == b'{"predicted_label": 2.0}\n'
    body = recordio.write_dense(None, np.array([[1.0, 0.2]], dtype=np.float32))
    answer = handler.invoke(body, "application/x-recordio-protobuf",
                            "application/x-recordio-protobuf; verbose=true")  # fmt: skip
    (record,) = recordio.read_records(answer.body)
    assert list(record.label["predicted_label"].float32_tensor.values) == [0.0]
    assert list(record.label["labels"].float32_tensor.values) == [1.0, 0.0, 0.0]
    assert handler.invoke(b"10,10\n", "text/csv", "text/csv").body == b"2.0\n"


def test_the_handler_refuses_bad_requests_and_foreign_models(handler, tmp_path):
    with pytest.raises(ScoringError) as error:
        handler.invoke(b"1,2,3\n", "text/csv", None)
    assert error.value.status == 400 and "feature_dim=2" in str(error.value)
    (tmp_path / "knn-model.npz").unlink()
    with pytest.raises(ModelLoadError, match="knn-model.npz"):
        KNNHandler(tmp_path).load()
    empty = tmp_path / "other"
    empty.mkdir()
    with pytest.raises(ModelLoadError, match="knn-model.json"):
        KNNHandler(empty).load()


def test_too_few_points_for_k_or_nlists_is_a_client_error():
    x = np.zeros((3, 2), dtype=np.float32)
    with pytest.raises(UserError, match="k=5 is greater than the number of sampled points"):
        knn_train.fit_arrays(x, np.zeros(3), {**BASE, "feature_dim": "2", "k": "5"})
    with pytest.raises(UserError, match="faiss_index_ivf_nlists=10"):
        knn_train.fit_arrays(x, np.zeros(3), {**BASE, "feature_dim": "2", "k": "1",
                                              "index_type": "faiss.IVFFlat"})  # fmt: skip
