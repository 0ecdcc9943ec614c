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
