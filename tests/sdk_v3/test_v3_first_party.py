"""The official SDK v3 with first-party algorithms, unmodified: ``ModelTrainer`` with the
k-means image (``image_uris.retrieve("kmeans", region)``), a CSV ``train`` channel and
the ``k`` / ``feature_dim`` hyperparameters; then the sagemaker-core resources deploy the
model and a CSV row is answered with its ``closest_cluster``; a linear-learner regressor
trains on CSV train and validation channels (fixtures: conftest.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from v3_resources import INSTANCE, delete_endpoint, deploy_endpoint

pytest.importorskip("sagemaker.train", reason="needs the SDK v3 (make test-sdk3)")

CENTERS = np.array([[0.0, 0.0], [8.0, 8.0], [-8.0, 8.0]])


def test_model_trainer_kmeans_deploys_and_predicts(v3, fast_polls, role, tmp_path):
    from sagemaker.core import image_uris
    from sagemaker.core.helper.session_helper import Session
    from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig
    from sagemaker.train import ModelTrainer

    sess = Session()
    bucket = sess.default_bucket()
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 3, size=300)
    x = CENTERS[labels] + rng.normal(scale=0.4, size=(300, 2))
    (tmp_path / "train").mkdir()
    np.savetxt(tmp_path / "train" / "train.csv", x, delimiter=",", fmt="%.5f")
    train = sess.upload_data(str(tmp_path / "train"), bucket, "kmeans-v3/train")

    image = image_uris.retrieve("kmeans", region=sess.boto_region_name)
    assert image.endswith("/kmeans:1")
    trainer = ModelTrainer(
        training_image=image,
        role=role,
        compute=Compute(instance_type=INSTANCE, instance_count=1),
        hyperparameters={"k": 3, "feature_dim": 2, "mini_batch_size": 100},
        output_data_config=OutputDataConfig(s3_output_path=f"s3://{bucket}/kmeans-v3/out"),
        base_job_name="kmeans-v3",
        sagemaker_session=sess,
    )
    trainer.train(
        input_data_config=[
            InputData(channel_name="train", data_source=train, content_type="text/csv")
        ],
        wait=True,
        logs=False,
    )
    job = trainer._latest_training_job
    assert job.training_job_status == "Completed"
    assert job.hyper_parameters["k"] == "3"

    name = job.training_job_name
    model, config, endpoint = deploy_endpoint(
        name, image, job.model_artifacts.s3_model_artifacts, role
    )
    try:
        rows = "\n".join(",".join(f"{v:.5f}" for v in row) for row in x[:30])
        answer = endpoint.invoke(body=rows, content_type="text/csv", accept="application/json")
        predictions = json.loads(answer.body.read())["predictions"]
        clusters = [p["closest_cluster"] for p in predictions]
        assert len(clusters) == 30
        by_blob = {}
        for blob, cluster in zip(labels[:30], clusters, strict=True):
            by_blob.setdefault(int(blob), set()).add(cluster)
        assert all(len(c) == 1 for c in by_blob.values())
        assert len({next(iter(c)) for c in by_blob.values()}) == len(by_blob)
    finally:
        delete_endpoint(model, config, endpoint)


def test_model_trainer_linear_learner_regressor(v3, fast_polls, role, tmp_path):
    """A regressor on CSV (the label first), its validation RMSE small for a linear target."""
    from sagemaker.core import image_uris
    from sagemaker.core.helper.session_helper import Session
    from sagemaker.core.training.configs import Compute, InputData
    from sagemaker.train import ModelTrainer

    sess = Session()
    bucket = sess.default_bucket()
    rng = np.random.default_rng(12)
    x = rng.normal(size=(300, 3))
    y = x @ np.array([2.0, -1.0, 0.5]) + 3.0 + rng.normal(scale=0.05, size=300)
    uris = {}
    for name, rows in (("train", slice(0, 240)), ("validation", slice(240, 300))):
        (tmp_path / name).mkdir()
        table = np.column_stack([y[rows], x[rows]])
        np.savetxt(tmp_path / name / f"{name}.csv", table, delimiter=",", fmt="%.5f")
        uris[name] = sess.upload_data(str(tmp_path / name), bucket, f"ll-v3/{name}")
    trainer = ModelTrainer(
        training_image=image_uris.retrieve("linear-learner", region=sess.boto_region_name),
        role=role,
        compute=Compute(instance_type=INSTANCE, instance_count=1),
        hyperparameters={
            "predictor_type": "regressor",
            "feature_dim": 3,
            "epochs": 10,
            "mini_batch_size": 40,
        },
        base_job_name="ll-v3",
        sagemaker_session=sess,
    )
    trainer.train(
        input_data_config=[
            InputData(channel_name=name, data_source=uri, content_type="text/csv")
            for name, uri in uris.items()
        ],
        wait=True,
        logs=False,
    )
    job = trainer._latest_training_job
    assert job.training_job_status == "Completed"
    metrics = {m.metric_name: m.value for m in job.final_metric_data_list or []}
    assert metrics["validation:rmse"] < 0.5
