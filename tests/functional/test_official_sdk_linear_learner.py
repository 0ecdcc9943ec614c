"""The official SageMaker Python SDK (v2), unmodified: ``sagemaker.LinearLearner`` with
``record_set`` (RecordIO shards + a manifest, ShardedByS3Key), ``fit``, ``deploy`` and
``predict`` (RecordIO request, RecordIO answer through the SDK's own deserializer) on
simsage's built-in linear learner (fixtures: conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest

sagemaker = pytest.importorskip("sagemaker")

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def test_linear_learner_record_set_fit_deploy_predict(simsage_local, isolated_sdk, fast_sdk_polls):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(600, 3)).astype(np.float32)
    y = (x @ np.array([1.5, -2.0, 0.5]) - 0.3 > 0).astype(np.float32)

    sess = sagemaker.Session()
    ll = sagemaker.LinearLearner(
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        predictor_type="binary_classifier",
        epochs=8,
        mini_batch_size=100,
        output_path=f"s3://{sess.default_bucket()}/ll/out",
        sagemaker_session=sess,
    )
    ll.fit(ll.record_set(x[:500], labels=y[:500]), logs=False)
    job = sess.describe_training_job(ll.latest_training_job.name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["AlgorithmSpecification"]["TrainingImage"].endswith("/linear-learner:1")
    assert job["HyperParameters"]["feature_dim"] == "3"
    metrics = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert metrics["train:binary_classification_accuracy"] >= 0.95

    predictor = ll.deploy(initial_instance_count=1, instance_type="ml.m5.large")
    try:
        results = predictor.predict(x[500:])
        labels = [r.label["predicted_label"].float32_tensor.values[0] for r in results]
        scores = [r.label["score"].float32_tensor.values[0] for r in results]
        assert len(labels) == 100
        assert np.mean(np.array(labels) == y[500:]) >= 0.95
        assert all(0.0 <= s <= 1.0 for s in scores)
    finally:
        predictor.delete_endpoint()


def test_generic_estimator_with_csv_trains_a_regressor_and_serves_json(
    simsage_local, isolated_sdk, fast_sdk_polls
):
    from sagemaker.deserializers import JSONDeserializer
    from sagemaker.inputs import TrainingInput
    from sagemaker.serializers import CSVSerializer

    rng = np.random.default_rng(4)
    x = rng.normal(size=(400, 3)) * [1.0, 10.0, 0.1]
    y = x @ np.array([2.0, 0.3, 10.0]) + 5.0 + rng.normal(scale=0.1, size=400)
    sess = sagemaker.Session()
    bucket = sess.default_bucket()
    body = "".join(",".join(f"{v:.6f}" for v in row) + "\n" for row in np.column_stack([y, x]))
    sess.boto_session.client("s3").put_object(Bucket=bucket, Key="ll-csv/train.csv", Body=body)
    image = sagemaker.image_uris.retrieve("linear-learner", sess.boto_region_name)
    estimator = sagemaker.estimator.Estimator(
        image, ROLE, instance_count=1, instance_type="ml.m5.large",
        output_path=f"s3://{bucket}/ll-csv/out", sagemaker_session=sess,
    )  # fmt: skip
    estimator.set_hyperparameters(predictor_type="regressor", mini_batch_size=50, epochs=10)
    estimator.fit(
        {"train": TrainingInput(f"s3://{bucket}/ll-csv/", content_type="text/csv")}, logs=False
    )
    job = sess.describe_training_job(estimator.latest_training_job.name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    predictor = estimator.deploy(
        initial_instance_count=1, instance_type="ml.m5.large",
        serializer=CSVSerializer(), deserializer=JSONDeserializer(),
    )  # fmt: skip
    try:
        answer = predictor.predict(x[:20])
        scores = np.array([p["score"] for p in answer["predictions"]])
        assert scores == pytest.approx(y[:20], abs=0.5)
    finally:
        predictor.delete_endpoint()
