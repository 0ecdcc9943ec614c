"""The official SageMaker Python SDK (v2), unmodified: ``sagemaker.KNN`` with
``record_set(x, labels=y)`` (RecordIO shards with labels + a manifest), ``fit``, ``deploy``
and ``predict`` (RecordIO request, RecordIO answer through the SDK's own deserializer) on
simsage's built-in k-NN (fixtures: conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest

sagemaker = pytest.importorskip("sagemaker")

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
CENTERS = np.array([[0.0, 0.0], [8.0, 8.0], [-8.0, 8.0]], dtype=np.float32)


def test_knn_record_set_fit_deploy_predict(simsage_local, isolated_sdk, fast_sdk_polls):
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 3, size=300)
    x = (CENTERS[labels] + rng.normal(scale=0.5, size=(300, 2))).astype(np.float32)

    sess = sagemaker.Session()
    knn = sagemaker.KNN(
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        k=5,
        sample_size=200,
        predictor_type="classifier",
        output_path=f"s3://{sess.default_bucket()}/knn/out",
        sagemaker_session=sess,
    )
    knn.fit(knn.record_set(x[:250], labels=labels[:250].astype(np.float32)), logs=False)
    job = sess.describe_training_job(knn.latest_training_job.name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["AlgorithmSpecification"]["TrainingImage"].endswith("/knn:1")
    assert job["HyperParameters"]["feature_dim"] == "2"

    predictor = knn.deploy(initial_instance_count=1, instance_type="ml.m5.large")
    try:
        results = predictor.predict(x[250:])
        predicted = [r.label["predicted_label"].float32_tensor.values[0] for r in results]
        assert predicted == labels[250:].astype(float).tolist()
    finally:
        predictor.delete_endpoint()
