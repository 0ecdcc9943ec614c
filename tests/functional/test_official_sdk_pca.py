"""The official SageMaker Python SDK (v2), unmodified: ``sagemaker.PCA`` with
``record_set`` (RecordIO shards + a manifest, ShardedByS3Key), ``fit``, ``deploy`` and
``predict`` (RecordIO request, RecordIO answer through the SDK's own deserializer) on
simsage's built-in PCA (fixtures: conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest

sagemaker = pytest.importorskip("sagemaker")

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def test_pca_record_set_fit_deploy_predict(simsage_local, isolated_sdk, fast_sdk_polls):
    rng = np.random.default_rng(13)
    basis = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    x = ((rng.normal(size=(300, 4)) * [6.0, 2.0, 0.1, 0.1]) @ basis.T + 1.0).astype(np.float32)

    sess = sagemaker.Session()
    pca = sagemaker.PCA(
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        num_components=2,
        output_path=f"s3://{sess.default_bucket()}/pca/out",
        sagemaker_session=sess,
    )
    pca.fit(pca.record_set(x), logs=False)
    job = sess.describe_training_job(pca.latest_training_job.name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["AlgorithmSpecification"]["TrainingImage"].endswith("/pca:1")
    assert job["HyperParameters"]["feature_dim"] == "4"
    assert job["HyperParameters"]["mini_batch_size"] == "300"  # the SDK's default: all rows

    predictor = pca.deploy(initial_instance_count=1, instance_type="ml.m5.large")
    try:
        results = predictor.predict(x[:20])
        got = np.asarray([list(r.label["projection"].float32_tensor.values) for r in results])
        centred = x[:20].astype(float) - x.astype(float).mean(axis=0)
        _, _, vt = np.linalg.svd(x.astype(float) - x.astype(float).mean(axis=0))
        expected = centred @ vt[:2].T  # numpy's top two, top first; the model puts it last
        assert np.abs(got[:, ::-1]) == pytest.approx(np.abs(expected), abs=1e-3)
    finally:
        predictor.delete_endpoint()
