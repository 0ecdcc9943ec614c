"""The official SDK v3, unmodified, with a custom image under a real Docker engine:
``ModelTrainer(training_image=<ECR-style name>)`` trains on two instances, then the
sagemaker-core resources deploy the model and the image's ``serve`` answers a CSV row.
The image is the tests' standard-library one (tests/integration/docker_image, built from
a local base: tests/docker_helpers.py); marked ``docker``, skipped with the reason where
no engine answers (fixtures: conftest.py)."""

from __future__ import annotations

import pytest
from docker_helpers import ecr_name, leftovers_after
from v3_resources import INSTANCE, delete_endpoint, deploy_endpoint

pytest.importorskip("sagemaker.train", reason="needs the SDK v3 (make test-sdk3)")

pytestmark = pytest.mark.docker


def test_model_trainer_with_a_custom_image_trains_and_serves(
    v3, fast_polls, role, tmp_path, docker_client, custom_image
):
    image = ecr_name(custom_image)
    from sagemaker.core.helper.session_helper import Session
    from sagemaker.core.training.configs import Compute, InputData
    from sagemaker.train import ModelTrainer

    sess = Session()
    bucket = sess.default_bucket()
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "rows.csv").write_text("1,2\n3,4\n")
    train = sess.upload_data(str(tmp_path / "train"), bucket, "byoc-v3/train")
    trainer = ModelTrainer(
        training_image=image,
        role=role,
        compute=Compute(instance_type=INSTANCE, instance_count=2),
        hyperparameters={"weight": 5},
        base_job_name="byoc-v3",
        sagemaker_session=sess,
    )
    trainer.train(
        input_data_config=[InputData(channel_name="train", data_source=train)],
        wait=True,
        logs=False,
    )
    job = trainer._latest_training_job
    assert job.training_job_status == "Completed"
    name = job.training_job_name
    assert leftovers_after(docker_client, name) == []

    model, config, endpoint = deploy_endpoint(
        name, image, job.model_artifacts.s3_model_artifacts, role
    )
    try:
        answer = endpoint.invoke(body="1,2\n", content_type="text/csv")
        assert answer.body.read() == b"15.0\n"
    finally:
        delete_endpoint(model, config, endpoint)
    assert leftovers_after(docker_client, name) == []
