"""Built-in random cut forest pieces without processes: the trees' invariants, the scores
(anomalies above mean + 3σ, shifting and scaling), the merge of hosts' samples,
hyperparameters and the serving handler's formats and refusals."""

import json

import numpy as np
import pytest

from simsage.algorithms import rcf_forest as rf
from simsage.algorithms import rcf_train as rt
from simsage.algorithms import recordio
from simsage.algorithms.xgboost_data import UserError
from simsage.runtime.images import algorithm_module, builtin_metric_definitions, parse_image
from simsage.serving.rcf_handler import ModelLoadError, RandomCutForestHandler
from simsage.serving.scoring import ScoringError


def _blob(rows: int, seed: int, dims: int = 5) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(rows, dims)).astype(np.float32)


def _forest(x: np.ndarray, trees: int = 50, size: int = 64, seed: int = 0) -> rf.Forest:
    rng = np.random.default_rng(seed)
    indices, _ = rf.sample_keys(rng, x.shape[0], trees, size)
    return rf.Forest.from_arrays(rf.build(x[indices], rng))


def _leaves_under(forest: rf.Forest, node: int) -> list[int]:
    stack, leaves = [node], []
    while stack:
        current = stack.pop()
        if forest.dim[current] < 0:
            leaves.append(current)
        else:
            stack += [int(forest.left[current]), int(forest.right[current])]
    return leaves


def test_every_sample_point_is_a_leaf_and_boxes_hold_their_points():
    x = _blob(400, 1, dims=3)
    x[:20] = x[0]  # duplicates end in one leaf whose mass counts them
    rng = np.random.default_rng(3)
    indices, _ = rf.sample_keys(rng, x.shape[0], 5, 64)
    samples = x[indices]
    forest = rf.Forest.from_arrays(rf.build(samples, rng))
    assert forest.num_trees == 5
    for tree in range(5):
        leaves = _leaves_under(forest, tree)
        points = forest.points[forest.point[leaves]]
        # The leaves hold exactly the tree's sample (as a multiset, through their masses).
        assert forest.mass[leaves].sum() == 64 == forest.mass[tree]
        got = sorted(map(tuple, np.repeat(points, forest.mass[leaves], axis=0).tolist()))
        assert got == sorted(map(tuple, samples[tree].tolist()))
        assert len({tuple(p) for p in points.tolist()}) == len(leaves)  # distinct leaves
        for node in range(forest.dim.size):
            if forest.tree_of[node] != tree:
                continue
            under = forest.points[forest.point[_leaves_under(forest, node)]]
            assert (under >= forest.lo[node]).all() and (under <= forest.hi[node]).all()
            assert np.array_equal(under.min(axis=0), forest.lo[node])  # the tightest box
            if forest.dim[node] >= 0:  # a cut lies inside the box and splits it
                d, c = forest.dim[node], forest.cut[node]
                left = forest.points[forest.point[_leaves_under(forest, forest.left[node])]]
                right = forest.points[forest.point[_leaves_under(forest, forest.right[node])]]
                assert (left[:, d] <= c).all() and (right[:, d] > c).all()


def test_cut_dimensions_follow_the_ranges():
    # One dimension spans 100 times the other: it takes nearly every cut near the root.
    rng = np.random.default_rng(5)
    x = np.column_stack([rng.uniform(0, 100, 500), rng.uniform(0, 1, 500)]).astype(np.float32)
    forest = _forest(x, trees=200, size=32)
    assert (forest.dim[: forest.num_trees] == 0).mean() > 0.95


def test_injected_anomalies_score_above_mean_plus_three_sigma():
    normal = _blob(3000, 7, dims=4)
    forest = _forest(normal, trees=100, size=256)
    held_out = _blob(2000, 8, dims=4)
    anomalies = np.random.default_rng(9).normal(size=(20, 4)).astype(np.float32)
    anomalies = 8 * anomalies / np.linalg.norm(anomalies, axis=1, keepdims=True)
    scores, outliers = forest.score(held_out), forest.score(anomalies)
    every = np.concatenate([scores, outliers])  # the scored set, as a user thresholds it
    cutoff = every.mean() + 3 * every.std()
    assert (scores <= cutoff).mean() >= 0.99
    assert (outliers > cutoff).all()
    assert 0.5 < scores.mean() < 1.5  # typical records score about 1 (log2(N+1) scaling)


def test_scores_follow_the_aws_visitor_on_a_tiny_tree():
    # Two points 0 and 1 in one dimension: root box [0, 1], leaves at depth 1.
    forest = rf.Forest.from_arrays(rf.build(np.array([[[0.0], [1.0]]], np.float32),
                                            np.random.default_rng(0)))  # fmt: skip
    scale = np.log2(3)
    # x = 3: leaf 1/(1+1); the root's box extended to 3 is [0, 3]: p = 2/3, term 1/(0+1).
    assert forest.score(np.array([[3.0]]))[0] == pytest.approx((2 / 3 + (1 / 3) * 0.5) * scale)
    # x = 0.5 lies inside the root's box: only the leaf term 1/2 counts.
    assert forest.score(np.array([[0.5]]))[0] == pytest.approx(0.5 * scale)
    # x = 1 is a sample point: damp(1, 2) / (1 + log2(2)) = 0.75 / 2.
    assert forest.score(np.array([[1.0]]))[0] == pytest.approx(0.375 * scale)


def test_shifting_and_uniform_scaling_keep_the_scores_and_one_axis_changes_them():
    x = _blob(1000, 11, dims=3)
    probe = np.vstack([_blob(200, 12, dims=3), [[4.0, 0, 0], [0, 0, 5.0]]]).astype(np.float32)
    base = _forest(x, seed=4).score(probe)
    scaled = _forest(x * 4 + 64, seed=4).score(probe * 4 + 64)
    assert scaled == pytest.approx(base, rel=1e-3, abs=1e-3)
    stretched = np.array([1.0, 1.0, 50.0], np.float32)
    changed = _forest(x * stretched, seed=4).score(probe * stretched)
    assert np.abs(changed - base).max() > 0.1


def test_merging_hosts_keeps_the_smallest_keys_of_all():
    keys = np.array([[0.9, 0.1, 0.5, 0.3]])
    points = np.arange(4, dtype=np.float32).reshape(1, 4, 1)
    assert rf.bottom_k(keys, points, 2)[0, :, 0].tolist() == [1.0, 3.0]
    # Two halves sampled apart and merged: each tree's sample is spread over both halves.
    x = np.arange(2000, dtype=np.float32).reshape(-1, 1)
    params = rt.parse_params({"feature_dim": "1", "num_trees": "50", "num_samples_per_tree": "100"})
    parts = [rt.host_samples(x[:1000], params, "algo-1"),
             rt.host_samples(x[1000:], params, "algo-2")]  # fmt: skip
    keys = np.concatenate([p["tree_keys"] for p in parts], axis=1)
    merged = rf.bottom_k(keys, np.concatenate([p["tree_points"] for p in parts], axis=1), 100)
    share = (merged[:, :, 0] >= 1000).mean()
    assert merged.shape == (50, 100, 1) and 0.4 < share < 0.6


def test_a_host_without_data_adds_nothing_to_the_merge():
    x = _blob(300, 16, dims=2)
    params = rt.parse_params({"feature_dim": "2", "num_trees": "50", "num_samples_per_tree": "32"})
    alone = rt.build_model([rt.host_samples(x, params)], params)
    merged = rt.build_model([rt.host_samples(x, params), rt.empty_samples(params)], params)
    assert merged["forest"]["points"] == alone["forest"]["points"]
    assert merged["score_cutoff"] == alone["score_cutoff"]
    with pytest.raises(UserError, match="no records"):
        rt.build_model([rt.empty_samples(params)], params)


def test_fit_arrays_writes_a_model_whose_cutoff_flags_anomalies():
    x = _blob(2000, 13)
    model = rt.fit_arrays(x, None, {"feature_dim": "5", "num_trees": "50"})
    assert model["format"] == "simsage-randomcutforest/1" and model["num_trees"] == 50
    labels = np.r_[np.zeros(300), np.ones(10)]
    test_x = np.vstack([_blob(300, 14), 8 + _blob(10, 15)])
    metrics = rt.test_metrics(json.loads(json.dumps(model)), test_x, labels)
    assert metrics["recall"] == 1.0 and metrics["f1"] > 0.7 and metrics["accuracy"] > 0.97
    with pytest.raises(UserError, match="feature_dim is 4"):
        rt.fit_arrays(x, None, {"feature_dim": "4"})


def test_defaults_and_values_parse_as_the_documented_hyperparameters():
    params = rt.parse_params({"feature_dim": "7"})
    assert (params.num_trees, params.num_samples_per_tree, params.mini_batch_size) == (100, 256,
                                                                                       1000)  # fmt: skip
    assert params.eval_metrics == ("accuracy", "precision_recall_fscore")
    params = rt.parse_params({"feature_dim": "7", "eval_metrics": '["accuracy"]'})
    assert params.eval_metrics == ("accuracy",)


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({}, "'feature_dim' is a required property"),
        ({"feature_dim": "10001"}, "greater than the maximum of 10000 (feature_dim)"),
        ({"feature_dim": "2", "num_trees": "49"}, "less than the minimum of 50 (num_trees)"),
        ({"feature_dim": "2", "num_samples_per_tree": "2049"}, "(num_samples_per_tree)"),
        ({"feature_dim": "2", "eval_metrics": '["f1"]'}, "eval_metrics"),
        ({"feature_dim": "2", "trees": "60"}, "Additional properties are not allowed"),
    ],
)
def test_invalid_hyperparameters_are_refused_naming_them(values, words):
    with pytest.raises(UserError, match="Failed to validate input hyperparameters") as error:
        rt.parse_params(values)
    assert words in str(error.value)


def test_the_image_is_recognised_with_its_tuning_metrics():
    image = parse_image("174872318107.dkr.ecr.us-west-2.amazonaws.com/randomcutforest:1")
    assert image.first_party == "randomcutforest"
    assert algorithm_module(image, {}) == "simsage.algorithms.rcf_train"
    names = {d["Name"] for d in builtin_metric_definitions(image.uri, {})}
    assert {"test:f1", "test:accuracy", "test:precision", "test:recall"} <= names


@pytest.fixture(scope="module")
def handler(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rcf-model")
    model = rt.fit_arrays(_blob(500, 21, dims=2), None, {"feature_dim": "2", "num_trees": "50"})
    (folder / "randomcutforest-model.json").write_text(json.dumps(model))
    return RandomCutForestHandler(folder).load()


def test_the_handler_answers_scores_in_every_format(handler):
    body = b"0,0\n9,9\n"
    scores = json.loads(handler.invoke(body, "text/csv", None).body)["scores"]
    assert list(scores[0]) == ["score"] and scores[1]["score"] > 2 * scores[0]["score"]
    lines = handler.invoke(b'{"instances": [{"features": [0, 0]}, {"features": [9, 9]}]}',
                           "application/json", "application/jsonlines").body  # fmt: skip
    assert [json.loads(line) for line in lines.splitlines()] == scores
    answer = handler.invoke(b'{"features": [0, 0]}\n{"features": [9, 9]}\n',
                            "application/jsonlines", "text/csv")  # fmt: skip
    assert [float(v) for v in answer.body.split()] == [s["score"] for s in scores]
    rio = handler.invoke(recordio.write_dense(None, np.array([[0, 0], [9, 9]], np.float32)),
                         "application/x-recordio-protobuf",
                         "application/x-recordio-protobuf")  # fmt: skip
    records = recordio.read_records(rio.body)
    got = [r.label["score"].float32_tensor.values[0] for r in records]
    assert got == pytest.approx([s["score"] for s in scores], rel=1e-6)


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "status"),
    [
        (b"1,2\n", "text/libsvm", None, 415),
        (b"1,2\n", "text/csv", "image/png", 406),
        (b"1,2,3\n", "text/csv", None, 400),
        (b"a,b\n", "text/csv", None, 400),
        (b"", "text/csv", None, 400),
        (b'{"instances": [{"features": [NaN, 1]}]}', "application/json", None, 400),
    ],
)
def test_the_handler_refuses_what_the_container_refuses(
    handler, body, content_type, accept, status
):
    with pytest.raises(ScoringError) as error:
        handler.invoke(body, content_type, accept)
    assert error.value.status == status


def test_a_model_of_another_algorithm_does_not_load(tmp_path):
    (tmp_path / "kmeans-model.json").write_text("{}")
    with pytest.raises(ModelLoadError, match="randomcutforest-model.json"):
        RandomCutForestHandler(tmp_path).load()
    (tmp_path / "randomcutforest-model.json").write_text('{"format": "simsage-kmeans/1"}')
    with pytest.raises(ModelLoadError, match="not a simsage-randomcutforest/1 model"):
        RandomCutForestHandler(tmp_path).load()


def test_a_corrupted_forest_is_a_load_error_not_a_crash_while_scoring(tmp_path):
    model = rt.fit_arrays(_blob(100, 22, dims=2), None, {"feature_dim": "2", "num_trees": "50"})
    arrays = rf.decode(model["forest"])
    arrays["left"] = np.where(arrays["left"] >= 0, arrays["left"] + 10**6, -1).astype(np.int32)
    model["forest"] = rf.encode(arrays)
    (tmp_path / "randomcutforest-model.json").write_text(json.dumps(model))
    with pytest.raises(ModelLoadError, match="children must follow it"):
        RandomCutForestHandler(tmp_path).load()
