"""The official SageMaker Python SDK (v2), unmodified: ``sagemaker.RandomCutForest`` with
``record_set`` (RecordIO shards + a manifest, ShardedByS3Key), ``fit``, ``deploy`` and
``predict`` (RecordIO request, RecordIO answer through the SDK's own deserializer) on
simsage's built-in random cut forest (fixtures: conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest

sagemaker = pytest.importorskip("sagemaker")

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def test_random_cut_forest_record_set_fit_deploy_predict(
    simsage_local, isolated_sdk, fast_sdk_polls
):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(800, 4)).astype(np.float32)

    sess = sagemaker.Session()
    rcf = sagemaker.RandomCutForest(
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        num_trees=50,
        num_samples_per_tree=128,
        output_path=f"s3://{sess.default_bucket()}/rcf/out",
        sagemaker_session=sess,
    )
    rcf.fit(rcf.record_set(x), logs=False)
    job = sess.describe_training_job(rcf.latest_training_job.name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["AlgorithmSpecification"]["TrainingImage"].endswith("/randomcutforest:1")
    assert job["HyperParameters"]["feature_dim"] == "4"
    assert job["HyperParameters"]["mini_batch_size"] == "1000"

    predictor = rcf.deploy(initial_instance_count=1, instance_type="ml.m5.large")
    try:
        probe = np.vstack([x[:20], np.full((2, 4), 7.0, dtype=np.float32)])
        results = predictor.predict(probe)
        scores = np.array([r.label["score"].float32_tensor.values[0] for r in results])
        assert len(scores) == 22
        # The two far-away records score clearly above every typical one.
        assert scores[20:].min() > 2 * np.median(scores[:20])
        assert scores[20:].min() > scores[:20].mean() + 3 * scores[:20].std()
    finally:
        predictor.delete_endpoint()
