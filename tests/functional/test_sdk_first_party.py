"""simsage.sdk's first-party estimators on a local simsage: ``fit(record_set(...))``,
``deploy()`` and ``predict()`` (RecordIO request, Records answered) for k-means, linear
learner, random cut forest, k-NN and PCA on one small dataset; a tuner over the linear
learner on RecordSets deploys its best model; a bad hyperparameter is a ValueError
before anything is sent."""

from __future__ import annotations

import numpy as np
import pytest

from simsage import sdk

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
CENTERS = np.array([[0.0, 0.0], [8.0, 8.0], [-8.0, 8.0]], dtype=np.float32)


@pytest.fixture
def session(simsage_local):
    return sdk.Session(boto_session=simsage_local.session())


@pytest.fixture
def blobs():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 3, size=240)
    x = (CENTERS[labels] + rng.normal(scale=0.4, size=(240, 2))).astype(np.float32)
    return x, labels


def label(record, key: str) -> float:
    return record.label[key].float32_tensor.values[0]


def serve(estimator, rows):
    predictor = estimator.deploy(1, "ml.m5.large")
    try:
        return predictor, predictor.predict(rows)
    finally:
        predictor.delete_endpoint()


def test_kmeans_fit_deploy_predict(session, blobs):
    x, labels = blobs
    kmeans = sdk.KMeans(ROLE, k=3, epochs=2, sagemaker_session=session)
    kmeans.fit(kmeans.record_set(x), mini_batch_size=60, logs=False)
    predictor, results = serve(kmeans, x[:30])
    assert isinstance(predictor, sdk.KMeansPredictor)
    clusters = [label(r, "closest_cluster") for r in results]
    by_blob = {}
    for blob, cluster in zip(labels[:30], clusters, strict=True):
        by_blob.setdefault(int(blob), set()).add(cluster)
    assert all(len(c) == 1 for c in by_blob.values())
    assert len({next(iter(c)) for c in by_blob.values()}) == len(by_blob)


def test_linear_learner_binary_fit_deploy_predict(session, blobs):
    x, labels = blobs
    y = (labels == 1).astype(np.float32)
    learner = sdk.LinearLearner(ROLE, predictor_type="binary_classifier", epochs=5,
                                sagemaker_session=session)  # fmt: skip
    learner.fit(learner.record_set(x, labels=y), logs=False)
    predictor, results = serve(learner, x[:40])
    assert isinstance(predictor, sdk.LinearLearnerPredictor)
    predicted = np.array([label(r, "predicted_label") for r in results])
    assert (predicted == y[:40]).mean() >= 0.9


def test_rcf_knn_and_pca_fit_deploy_predict(session, blobs):
    x, labels = blobs
    forest = sdk.RandomCutForest(ROLE, num_trees=50, num_samples_per_tree=64,
                                 sagemaker_session=session)  # fmt: skip
    forest.fit(forest.record_set(x), logs=False)
    outlier = np.array([[40.0, -40.0]], dtype=np.float32)
    _, results = serve(forest, np.vstack([x[:10], outlier]))
    scores = [label(r, "score") for r in results]
    assert scores[-1] > max(scores[:-1])

    knn = sdk.KNN(ROLE, k=3, sample_size=200, predictor_type="classifier",
                  sagemaker_session=session)  # fmt: skip
    knn.fit(knn.record_set(x, labels=labels.astype(np.float32)), mini_batch_size=60, logs=False)
    _, results = serve(knn, x[:20])
    assert [label(r, "predicted_label") for r in results] == labels[:20].tolist()

    pca = sdk.PCA(ROLE, num_components=1, sagemaker_session=session)
    pca.fit(pca.record_set(x), logs=False)
    _, results = serve(pca, x[:5])
    assert all(len(r.label["projection"].float32_tensor.values) == 1 for r in results)


def test_tuner_over_linear_learner_on_record_sets(session, blobs):
    x, labels = blobs
    y = (labels == 1).astype(np.float32)
    learner = sdk.LinearLearner(ROLE, predictor_type="binary_classifier", epochs=3,
                                sagemaker_session=session)  # fmt: skip
    train = learner.record_set(x[:160], labels=y[:160])
    # The linear learner refuses a sharded validation channel, as on AWS.
    validation = learner.record_set(
        x[160:], labels=y[160:], channel="validation", distribution="FullyReplicated"
    )
    tuner = sdk.HyperparameterTuner(
        learner,
        "validation:binary_classification_accuracy",
        {"learning_rate": sdk.ContinuousParameter(0.01, 0.3)},
        strategy="Random",
        max_jobs=2,
        max_parallel_jobs=2,
    )
    tuner.fit([train, validation], mini_batch_size=40)
    described = tuner.describe()
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    static = described["TrainingJobDefinition"]["StaticHyperParameters"]
    assert static["feature_dim"] == "2" and static["mini_batch_size"] == "40"
    predictor = tuner.deploy(1, "ml.m5.large")
    try:
        assert isinstance(predictor, sdk.LinearLearnerPredictor)
        results = predictor.predict(x[:10])
        assert len(results) == 10
    finally:
        predictor.delete_endpoint()


def test_a_bad_hyperparameter_raises_before_anything_is_sent(session):
    with pytest.raises(ValueError, match="Invalid hyperparameter value 1 for k"):
        sdk.KMeans(ROLE, k=1, sagemaker_session=session)
    learner = sdk.LinearLearner(ROLE, predictor_type="regressor", sagemaker_session=session)
    with pytest.raises(ValueError, match="learning_rate"):
        learner.learning_rate = -0.1
    assert session.sagemaker_client.list_training_jobs()["TrainingJobSummaries"] == []
