"""The official SDK v3's processing API on simsage, unmodified.

- sagemaker-core's resource: ``ProcessingJob.create`` with the ``sagemaker.core.shapes``
  (``AppSpecification``, ``ProcessingResources``, ``ProcessingInput``/``ProcessingS3Input``,
  ``ProcessingOutputConfig``/``ProcessingS3Output``), ``wait(logs=True)``, ``refresh``,
  ``get``, ``get_all``, ``stop``, and ``FailedStatusError`` for a failed job.
- the processors of ``sagemaker.core.processing``: ``ScriptProcessor.run`` (a local script
  and a local input, both uploaded by the SDK; the logs tailed) and
  ``FrameworkProcessor.run`` with a source folder (``sourcedir.tar.gz``, ``runproc.sh``,
  ``install_requirements.py``).

The scripts are tests/data/processing's, shared with the v2 tests. The test bodies are
notebook code; the ``v3``/``fast_polls``/``role`` fixtures (see conftest.py) activate
simsage, keep the SDK offline and create the execution role once.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
from sdk_helpers import census_cleaned, census_split_shapes, write_census_csv

pytest.importorskip("sagemaker.core.processing", reason="needs the SDK v3 (make test-sdk3)")

INSTANCE = "ml.m5.xlarge"
SCRIPTS = Path(__file__).resolve().parents[1] / "data" / "processing"


@pytest.fixture
def census(v3, fast_polls, tmp_path):
    """A session, its default bucket, the raw census CSV (local and in S3) and the
    preprocessing script in S3, as the resource-level calls need them there."""
    from sagemaker.core.helper.session_helper import Session

    local = tmp_path / "census-income.csv"
    write_census_csv(local, rows=600, seed=1)
    sess = Session()
    bucket = sess.default_bucket()
    uri = sess.upload_data(str(local), bucket, "processing-v3/census")
    code = sess.upload_data(str(SCRIPTS / "preprocessing.py"), bucket, "processing-v3/code")
    for name in ("fail.py", "sleep.py"):
        sess.upload_data(str(SCRIPTS / name), bucket, "processing-v3/code")
    return {"session": sess, "bucket": bucket, "local": local, "uri": uri, "code": code}


def _image(sess) -> str:
    from sagemaker.core import image_uris

    return image_uris.retrieve("sklearn", region=sess.boto_region_name, version="1.2-1")


def _check_split(s3, bucket: str, prefix: str, local: Path, ratio: float) -> None:
    """The split a user checks in S3 (``prefix/train``, ``prefix/test``): the sizes and
    encoded width, one label per row, both classes present."""
    for name, (rows, width) in census_split_shapes(local, ratio).items():
        features = pd.read_csv(
            s3.get_object(Bucket=bucket, Key=f"{prefix}/{name}/{name}_features.csv")["Body"],
            header=None,
        )
        labels = pd.read_csv(
            s3.get_object(Bucket=bucket, Key=f"{prefix}/{name}/{name}_labels.csv")["Body"],
            header=None,
        )
        assert features.shape == (rows, width), name
        assert labels.shape == (rows, 1), name
        assert set(labels[0]) == {0, 1}


def _resource_job(census, role: str, name: str, script: str, outputs: bool = True):
    """``ProcessingJob.create`` as a sagemaker-core user writes it."""
    from sagemaker.core.resources import ProcessingJob
    from sagemaker.core.shapes import (
        AppSpecification,
        ProcessingClusterConfig,
        ProcessingInput,
        ProcessingOutput,
        ProcessingOutputConfig,
        ProcessingResources,
        ProcessingS3Input,
        ProcessingS3Output,
        ProcessingStoppingCondition,
    )

    bucket = census["bucket"]
    output_config = ProcessingOutputConfig(
        outputs=[
            ProcessingOutput(
                output_name=split,
                s3_output=ProcessingS3Output(
                    s3_uri=f"s3://{bucket}/processing-v3/{name}/{split}",
                    local_path=f"/opt/ml/processing/{split}",
                    s3_upload_mode="EndOfJob",
                ),
            )
            for split in ("train", "test")
        ]
    )
    return ProcessingJob.create(
        processing_job_name=name,
        processing_resources=ProcessingResources(
            cluster_config=ProcessingClusterConfig(
                instance_count=1, instance_type=INSTANCE, volume_size_in_gb=5
            )
        ),
        app_specification=AppSpecification(
            image_uri=_image(census["session"]),
            container_entrypoint=["python3", f"/opt/ml/processing/input/code/{script}"],
            container_arguments=["--train-test-split-ratio", "0.2"],
        ),
        role_arn=role,
        processing_inputs=[
            ProcessingInput(
                input_name="code",
                s3_input=ProcessingS3Input(
                    s3_uri=f"s3://{bucket}/processing-v3/code/{script}",
                    local_path="/opt/ml/processing/input/code",
                    s3_data_type="S3Prefix",
                    s3_input_mode="File",
                ),
            ),
            ProcessingInput(
                input_name="census",
                s3_input=ProcessingS3Input(
                    s3_uri=census["uri"],
                    local_path="/opt/ml/processing/input",
                    s3_data_type="S3Prefix",
                    s3_input_mode="File",
                    s3_data_distribution_type="FullyReplicated",
                ),
            ),
        ],
        stopping_condition=ProcessingStoppingCondition(max_runtime_in_seconds=600),
        environment={"PYTHONUNBUFFERED": "1"},
        **({"processing_output_config": output_config} if outputs else {}),
    )


def test_processing_job_resource(v3, census, role, caplog):
    from sagemaker.core.resources import ProcessingJob

    caplog.set_level(logging.INFO)
    job = _resource_job(census, role, "census-preprocess-v3", "preprocessing.py")
    assert job.processing_job_status == "InProgress"  # create returns at once
    job.wait(logs=True)
    # wait(logs=True) read the job's CloudWatch stream: the script's own lines.
    assert f"Data after cleaning: ({len(census_cleaned(census['local']))}, 9)" in caplog.text
    job.refresh()
    assert job.processing_job_status == "Completed"
    assert job.processing_start_time <= job.processing_end_time
    assert job.processing_job_arn.endswith(":processing-job/census-preprocess-v3")
    assert job.environment == {"PYTHONUNBUFFERED": "1"}
    train = job.processing_output_config.outputs[0].s3_output
    assert (train.s3_uri, train.local_path) == (
        f"s3://{census['bucket']}/processing-v3/census-preprocess-v3/train",
        "/opt/ml/processing/train",
    )
    s3 = v3.client("s3")
    _check_split(s3, census["bucket"], "processing-v3/census-preprocess-v3", census["local"], 0.2)

    again = ProcessingJob.get("census-preprocess-v3")
    assert again.app_specification.container_arguments == ["--train-test-split-ratio", "0.2"]
    names = [j.processing_job_name for j in ProcessingJob.get_all(name_contains="preprocess")]
    assert names == ["census-preprocess-v3"]


def test_processing_job_resource_failed_and_stopped(census, role):
    from sagemaker.core.utils.exceptions import FailedStatusError

    failing = _resource_job(census, role, "census-wages-v3", "fail.py", outputs=False)
    with pytest.raises(FailedStatusError) as caught:
        failing.wait()
    assert "Final Resource State: Failed" in str(caught.value)
    assert "Failure Reason: AlgorithmError" in str(caught.value)
    failing.refresh()
    assert failing.exit_message == "census-income.csv has no 'wage per hour' column"

    sleeping = _resource_job(census, role, "census-sleep-v3", "sleep.py", outputs=False)
    sleeping.stop()
    sleeping.wait()  # Stopped is a terminal state, not a failure
    assert sleeping.processing_job_status == "Stopped"


def test_script_processor_run(v3, census, role, capsys):
    from sagemaker.core.processing import ScriptProcessor
    from sagemaker.core.shapes import (
        ProcessingInput,
        ProcessingOutput,
        ProcessingS3Input,
        ProcessingS3Output,
    )

    sess, bucket = census["session"], census["bucket"]
    processor = ScriptProcessor(
        role=role,
        image_uri=_image(sess),
        command=["python3"],
        instance_count=1,
        instance_type=INSTANCE,
        sagemaker_session=sess,
    )
    processor.run(
        code=str(SCRIPTS / "preprocessing.py"),
        inputs=[
            ProcessingInput(
                input_name="census",
                s3_input=ProcessingS3Input(
                    s3_uri=str(census["local"]),  # a local file: the SDK uploads it
                    local_path="/opt/ml/processing/input",
                    s3_data_type="S3Prefix",
                    s3_input_mode="File",
                ),
            )
        ],
        outputs=[
            ProcessingOutput(
                output_name=split,
                s3_output=ProcessingS3Output(
                    s3_uri=f"s3://{bucket}/script-v3/{split}",
                    local_path=f"/opt/ml/processing/{split}",
                    s3_upload_mode="EndOfJob",
                ),
            )
            for split in ("train", "test")
        ],
        arguments=["--train-test-split-ratio", "0.2"],
    )
    # run() tailed the job's logs.
    assert "Received arguments Namespace(train_test_split_ratio=0.2)" in capsys.readouterr().out
    job = processor.latest_job
    job.refresh()
    assert job.processing_job_status == "Completed"
    assert job.processing_job_name.startswith("sagemaker-scikit-learn-")
    name = job.processing_job_name
    inputs = {i.input_name: i.s3_input.s3_uri for i in job.processing_inputs}
    assert inputs == {
        "census": f"s3://{bucket}/{name}/input/census/census-income.csv",
        "code": f"s3://{bucket}/{name}/input/code/preprocessing.py",
    }
    assert job.app_specification.container_entrypoint == [
        "python3",
        "/opt/ml/processing/input/code/preprocessing.py",
    ]
    _check_split(v3.client("s3"), bucket, "script-v3", census["local"], 0.2)


def test_framework_processor_run(v3, census, role, capsys):
    from sagemaker.core.processing import FrameworkProcessor
    from sagemaker.core.shapes import (
        ProcessingInput,
        ProcessingOutput,
        ProcessingS3Input,
        ProcessingS3Output,
    )

    sess, bucket = census["session"], census["bucket"]
    processor = FrameworkProcessor(
        image_uri=_image(sess),
        role=role,
        instance_count=1,
        instance_type=INSTANCE,
        base_job_name="census-summary-v3",
        sagemaker_session=sess,
    )
    processor.run(
        code="process.py",
        source_dir=str(SCRIPTS / "sourcedir"),
        inputs=[
            ProcessingInput(
                input_name="census",
                s3_input=ProcessingS3Input(
                    s3_uri=census["uri"],
                    local_path="/opt/ml/processing/input/census",
                    s3_data_type="S3Prefix",
                ),
            )
        ],
        outputs=[
            ProcessingOutput(
                output_name="summary",
                s3_output=ProcessingS3Output(
                    s3_uri=f"s3://{bucket}/framework-v3/summary",
                    local_path="/opt/ml/processing/summary",
                    s3_upload_mode="EndOfJob",
                ),
            )
        ],
        arguments=["--min-rows", "50"],
    )
    expected = pd.read_csv(census["local"])["education"].str.strip().value_counts()
    expected = expected[expected >= 50]
    assert f"wrote {len(expected)} education levels" in capsys.readouterr().out
    job = processor.latest_job
    job.refresh()
    assert job.processing_job_status == "Completed"
    name = job.processing_job_name
    s3 = v3.client("s3")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{name}/source/")
    assert sorted(o["Key"].rsplit("/", 1)[1] for o in listed["Contents"]) == [
        "install_requirements.py",
        "runproc.sh",
        "sourcedir.tar.gz",
    ]
    assert job.app_specification.container_entrypoint == [
        "/bin/bash",
        "/opt/ml/processing/input/entrypoint/runproc.sh",
    ]
    body = s3.get_object(Bucket=bucket, Key="framework-v3/summary/income_by_education.csv")
    table = pd.read_csv(body["Body"], index_col=0)
    assert table["rows"].to_dict() == expected.to_dict()
