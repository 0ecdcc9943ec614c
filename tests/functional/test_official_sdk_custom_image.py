"""The official SDK v2, unmodified, with a custom image (bring your own container) under
a real Docker engine: ``Estimator(image_uri=<ECR-style name>).fit`` on two instances,
``deploy`` and ``predict`` through the image's ``serve``, ``transformer().transform``,
and a ``Processor`` with the image's own entrypoint — what a notebook does on AWS after
pushing its image to ECR. The image is the tests' standard-library one
(tests/integration/docker_image, built from a local base: tests/docker_helpers.py);
marked ``docker``, skipped with the reason where no engine answers."""

from __future__ import annotations

import json

import pytest
from docker_helpers import ecr_name, leftovers, leftovers_after

sagemaker = pytest.importorskip("sagemaker")

from sagemaker.estimator import Estimator  # noqa: E402
from sagemaker.processing import ProcessingInput, ProcessingOutput, Processor  # noqa: E402
from sagemaker.s3 import S3Downloader  # noqa: E402
from sagemaker.serializers import CSVSerializer  # noqa: E402

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
INSTANCE = "ml.m5.large"


def test_estimator_fit_deploy_predict_and_transform(
    simsage_local, isolated_sdk, fast_sdk_polls, tmp_path, docker_client, custom_image
):
    image = ecr_name(custom_image)
    sess = sagemaker.Session()
    bucket = sess.default_bucket()
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "rows.csv").write_text("1,2\n3,4\n5,6\n")
    train = sess.upload_data(str(tmp_path / "train"), bucket, "byoc/train")

    estimator = Estimator(
        image_uri=image,
        role=ROLE,
        instance_count=2,
        instance_type=INSTANCE,
        output_path=f"s3://{bucket}/byoc/out",
        hyperparameters={"weight": 2},
        environment={"ANSWER": "yes"},
        base_job_name="byoc",
        sagemaker_session=sess,
    )
    estimator.fit({"train": train}, logs=False)
    job = estimator.latest_training_job.describe()
    assert job["TrainingJobStatus"] == "Completed"
    assert job["AlgorithmSpecification"]["TrainingImage"] == image
    assert leftovers(docker_client, job["TrainingJobName"]) == []

    predictor = estimator.deploy(1, INSTANCE, serializer=CSVSerializer())
    try:
        assert predictor.predict([[1, 2, 3]]) == b"12.0\n"
        assert predictor.predict([[1, 1], [2, 2]]) == b"4.0\n8.0\n"
    finally:
        predictor.delete_endpoint()
    assert leftovers_after(docker_client, predictor.endpoint_name) == []

    transformer = estimator.transformer(1, INSTANCE, output_path=f"s3://{bucket}/byoc/scored")
    transformer.transform(train, content_type="text/csv", split_type="Line", logs=False)
    transformer.wait(logs=False)
    scored = S3Downloader.read_file(f"s3://{bucket}/byoc/scored/rows.csv.out", sess)
    assert [float(v) for v in scored.split()] == [6.0, 14.0, 22.0]


def test_processor_with_the_images_entrypoint(
    simsage_local, isolated_sdk, fast_sdk_polls, tmp_path, docker_client, custom_image
):
    image = ecr_name(custom_image)
    sess = sagemaker.Session()
    bucket = sess.default_bucket()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("1,2\n3,4\n")
    data = sess.upload_data(str(tmp_path / "data"), bucket, "byoc/data")
    processor = Processor(
        role=ROLE,
        image_uri=image,
        instance_count=1,
        instance_type=INSTANCE,
        entrypoint=["process", "/opt/ml/processing/input", "/opt/ml/processing/output"],
        sagemaker_session=sess,
    )
    processor.run(
        inputs=[ProcessingInput(source=data, destination="/opt/ml/processing/input")],
        outputs=[
            ProcessingOutput(
                source="/opt/ml/processing/output", destination=f"s3://{bucket}/byoc/summary"
            )
        ],
        logs=False,
    )
    job = processor.latest_job.describe()
    assert job["ProcessingJobStatus"] == "Completed"
    summary = json.loads(S3Downloader.read_file(f"s3://{bucket}/byoc/summary/summary.json", sess))
    assert summary == {"rows": 2, "total": 10.0, "job": summary["job"]}
    assert leftovers(docker_client, job["ProcessingJobName"]) == []
