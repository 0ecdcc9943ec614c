"""Built-in k-means pieces without processes: hyperparameters, the merge of weighted
centers, image recognition and the serving handler's formats and refusals."""

import json

import numpy as np
import pytest

from simsage.algorithms import kmeans_train as km
from simsage.algorithms.xgboost_data import UserError
from simsage.runtime import images
from simsage.runtime.images import algorithm_module, builtin_metric_definitions, parse_image
from simsage.runtime.model_setup import serving_plan
from simsage.runtime.servers import ContainerError
from simsage.serving.kmeans_handler import KMeansHandler, ModelLoadError
from simsage.serving.scoring import ScoringError


def test_defaults_and_values_parse_as_the_documented_hyperparameters():
    params = km.parse_params({"k": "4", "feature_dim": "2"})
    assert (params.init_method, params.epochs, params.mini_batch_size) == ("random", 1, 5000)
    assert (params.local_lloyd_max_iter, params.local_lloyd_tol) == (300, 0.0001)
    assert params.extra_center_factor is None and params.eval_metrics == ("msd",)
    params = km.parse_params(
        {"k": "2", "feature_dim": "3", "extra_center_factor": "5", "eval_metrics": "['ssd']"}
    )
    assert params.extra_center_factor == 5 and params.eval_metrics == ("ssd",)


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"k": "3"}, "'feature_dim' is a required property"),
        ({"k": "1", "feature_dim": "2"}, "less than the minimum of 2 (k)"),
        ({"k": "2", "feature_dim": "2", "eval_metrics": '["auc"]'}, "eval_metrics"),
        ({"k": "2", "feature_dim": "2", "kk": "1"}, "Additional properties are not allowed"),
    ],
)
def test_invalid_hyperparameters_are_refused_naming_them(values, words):
    with pytest.raises(UserError, match="Failed to validate input hyperparameters") as error:
        km.parse_params(values)
    assert words in str(error.value)


def test_the_lloyd_pass_weighs_centers_by_their_counts():
    params = km.parse_params({"k": "2", "feature_dim": "1"})
    centers = np.array([[0.0], [1.0], [10.0]])
    final = km.lloyd(centers, np.array([1.0, 3.0, 5.0]), params)
    assert sorted(final[:, 0].tolist()) == pytest.approx([0.75, 10.0])
    with pytest.raises(UserError, match="fewer distinct points than k=2"):
        km.lloyd(centers[:1], np.array([4.0]), params)


def test_first_party_images_are_recognised_in_any_region(monkeypatch):
    image = parse_image("438346466558.dkr.ecr.eu-west-1.amazonaws.com/kmeans:1")
    assert image.first_party == "kmeans" and image.framework is None
    assert algorithm_module(image, {}) == "simsage.algorithms.kmeans_train"
    names = {d["Name"] for d in builtin_metric_definitions(image.uri, {})}
    assert {"test:msd", "test:ssd"} <= names
    assert serving_plan(image.uri, {}).mode == "first-party"
    # A catalog row marked not emulated is recognised and refused, not sent to Docker.
    monkeypatch.setitem(images.FIRST_PARTY_ALGORITHMS, "pca", None)
    with pytest.raises(ContainerError, match="not yet emulated"):
        serving_plan("382416733822.dkr.ecr.us-east-1.amazonaws.com/pca:1", {})


@pytest.fixture
def handler(tmp_path):
    model = {"format": "simsage-kmeans/1", "k": 2, "feature_dim": 2,
             "centers": [[0.0, 0.0], [3.0, 4.0]]}  # fmt: skip
    (tmp_path / "kmeans-model.json").write_text(json.dumps(model))
    return KMeansHandler(tmp_path).load()


def test_the_handler_answers_closest_cluster_and_euclidean_distance(handler):
    answer = handler.invoke(b"3,4\n0,1\n", "text/csv", None)
    assert json.loads(answer.body) == {
        "predictions": [
            {"closest_cluster": 1.0, "distance_to_cluster": 0.0},
            {"closest_cluster": 0.0, "distance_to_cluster": 1.0},
        ]
    }
    answer = handler.invoke(b'{"instances": [{"features": [3, 5]}]}', "application/json",
                            "text/csv")  # fmt: skip
    assert answer.body == b"1.0,1.0\n" and answer.content_type == "text/csv"


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "status"),
    [
        (b"1,2\n", "text/libsvm", None, 415),
        (b"1,2\n", "text/csv", "image/png", 406),
        (b"1,2,3\n", "text/csv", None, 400),
        (b"a,b\n", "text/csv", None, 400),
    ],
)
def test_the_handler_refuses_what_the_container_refuses(
    handler, body, content_type, accept, status
):
    with pytest.raises(ScoringError) as error:
        handler.invoke(body, content_type, accept)
    assert error.value.status == status


def test_a_model_of_another_algorithm_does_not_load(tmp_path):
    (tmp_path / "xgboost-model").write_bytes(b"{}")
    with pytest.raises(ModelLoadError, match="kmeans-model.json"):
        KMeansHandler(tmp_path).load()
