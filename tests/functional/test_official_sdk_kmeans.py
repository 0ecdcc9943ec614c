"""The official SageMaker Python SDK (v2), unmodified: ``sagemaker.KMeans`` with
``record_set`` (RecordIO shards + a manifest, ShardedByS3Key), ``fit``, ``deploy`` and
``predict`` (RecordIO request, RecordIO answer through the SDK's own deserializer) on
simsage's built-in k-means (fixtures: conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest

sagemaker = pytest.importorskip("sagemaker")

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
CENTERS = np.array([[0.0, 0.0], [8.0, 8.0], [-8.0, 8.0]], dtype=np.float32)


def test_kmeans_record_set_fit_deploy_predict(simsage_local, isolated_sdk, fast_sdk_polls):
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 3, size=300)
    x = (CENTERS[labels] + rng.normal(scale=0.4, size=(300, 2))).astype(np.float32)

    sess = sagemaker.Session()
    kmeans = sagemaker.KMeans(
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        k=3,
        epochs=2,
        mini_batch_size=50,
        output_path=f"s3://{sess.default_bucket()}/kmeans/out",
        sagemaker_session=sess,
    )
    kmeans.fit(kmeans.record_set(x), logs=False)
    job = sess.describe_training_job(kmeans.latest_training_job.name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["AlgorithmSpecification"]["TrainingImage"].endswith("/kmeans:1")
    assert job["HyperParameters"]["feature_dim"] == "2"

    predictor = kmeans.deploy(initial_instance_count=1, instance_type="ml.m5.large")
    try:
        results = predictor.predict(x[:30])
        clusters = [r.label["closest_cluster"].float32_tensor.values[0] for r in results]
        distances = [r.label["distance_to_cluster"].float32_tensor.values[0] for r in results]
        assert len(clusters) == 30
        # Points of one true blob share one cluster; the three blobs get three clusters.
        by_blob = {}
        for label, cluster in zip(labels[:30], clusters, strict=True):
            by_blob.setdefault(int(label), set()).add(cluster)
        assert all(len(c) == 1 for c in by_blob.values())
        assert len({next(iter(c)) for c in by_blob.values()}) == len(by_blob)
        assert max(distances) < 2.5
    finally:
        predictor.delete_endpoint()
