"""The official SageMaker Python SDK (v2), unmodified, runs processing jobs on simsage.

The test bodies are notebook code: the public "scikit-learn data processing and model
evaluation" notebook's ``SKLearnProcessor.run`` over a census CSV in S3, then
``jobs[-1].describe()`` to find the outputs' S3 URIs and ``S3Downloader`` to read them;
``ScriptProcessor`` with the scikit-learn image and a local input the SDK uploads;
``FrameworkProcessor`` with a source folder (helper module, requirements.txt); a script
that fails; an input sharded over two instances; a job stopped while it runs. The
scripts are in tests/data/processing. Only the fixtures differ from a notebook
(``simsage_local`` activates simsage; ``isolated_sdk`` and ``fast_sdk_polls``:
conftest.py).

The boto3 calls the SDK makes on these paths (read from ``sagemaker/processing.py``,
``session.py``, ``s3.py``, ``estimator.py``, ``fw_utils.py``, and recorded in a run), all
answered here:

- sts ``GetCallerIdentity``, s3 ``ListBuckets``, ``HeadBucket`` (``ExpectedBucketOwner``)
  and ``CreateBucket`` (``default_bucket``);
- s3 ``PutObject`` with ``ExpectedBucketOwner``: ``Object.upload_file`` (``upload_data``:
  the local code and inputs, the FrameworkProcessor's ``sourcedir.tar.gz``) and
  ``Object.put`` (``upload_string_as_file_body``: its ``runproc.sh``);
- s3 ``ListObjects`` (``Bucket.objects.filter`` in ``S3Downloader.list``),
  ``ListObjectsV2`` (paged, in ``S3Downloader.download``), ``HeadObject`` and
  ``GetObject`` (``download_file``, ``S3Downloader.read_file``);
- sagemaker ``CreateProcessingJob``, ``DescribeProcessingJob`` (``run``'s waits with and
  without logs, ``describe``, ``ProcessingJob.from_processing_name``),
  ``StopProcessingJob``;
- logs ``DescribeLogStreams`` (prefix ``<job>/``, ordered by name, ``limit`` = the
  instance count, no ``nextToken`` expected on the last page: the SDK would loop) and
  ``GetLogEvents`` (``startFromHead``, ``nextForwardToken``) on
  ``/aws/sagemaker/ProcessingJobs`` while ``run`` tails the job's streams.

Needs the ``official-sdk`` extra (part of ``test``); without it the module is skipped.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pandas as pd
import pytest
from sdk_helpers import census_cleaned, census_split_shapes, write_census_csv

sagemaker = pytest.importorskip("sagemaker")

from sagemaker import image_uris  # noqa: E402
from sagemaker.exceptions import UnexpectedStatusException  # noqa: E402
from sagemaker.processing import (  # noqa: E402
    FrameworkProcessor,
    ProcessingInput,
    ProcessingJob,
    ProcessingOutput,
    ScriptProcessor,
)
from sagemaker.s3 import S3Downloader  # noqa: E402
from sagemaker.sklearn import SKLearn  # noqa: E402
from sagemaker.sklearn.processing import SKLearnProcessor  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
INSTANCE = "ml.m5.xlarge"
SCRIPTS = Path(__file__).resolve().parents[1] / "data" / "processing"


@pytest.fixture
def census(simsage_local, isolated_sdk, fast_sdk_polls, tmp_path):
    """The notebook's starting point: a session, its default bucket and the raw census
    CSV uploaded to it. Returns (session, bucket, local CSV path, its S3 URI)."""
    local = tmp_path / "census-income.csv"
    write_census_csv(local, rows=600, seed=1)
    sess = sagemaker.Session()
    bucket = sess.default_bucket()
    uri = sess.upload_data(str(local), bucket, "processing/census")
    assert uri == f"s3://{bucket}/processing/census/census-income.csv"
    return sess, bucket, local, uri


def _check_split(folder: Path, census_csv: Path, ratio: float) -> None:
    """What a user checks in the downloaded outputs (``folder/train``, ``folder/test``):
    the split sizes and encoded width, one label per row, both classes present."""
    for name, shape in census_split_shapes(census_csv, ratio).items():
        features = pd.read_csv(folder / name / f"{name}_features.csv", header=None)
        labels = pd.read_csv(folder / name / f"{name}_labels.csv", header=None)
        assert features.shape == shape, name
        assert labels.shape == (shape[0], 1), name
        assert features.notna().all().all()
        assert set(labels[0]) == {0, 1}


def test_sklearn_processor_notebook(census, tmp_path, monkeypatch, capsys):
    sess, bucket, local, input_data = census
    # The notebook writes preprocessing.py next to itself (%%writefile) and names it so.
    monkeypatch.chdir(tmp_path)
    shutil.copy(SCRIPTS / "preprocessing.py", "preprocessing.py")

    # --- the notebook ---------------------------------------------------------------
    sklearn_processor = SKLearnProcessor(
        framework_version="1.2-1", role=ROLE, instance_type=INSTANCE, instance_count=1
    )
    sklearn_processor.run(
        code="preprocessing.py",
        inputs=[ProcessingInput(source=input_data, destination="/opt/ml/processing/input")],
        outputs=[
            ProcessingOutput(output_name="train", source="/opt/ml/processing/train"),
            ProcessingOutput(output_name="test", source="/opt/ml/processing/test"),
        ],
        arguments=["--train-test-split-ratio", "0.2"],
    )
    preprocessing_job_description = sklearn_processor.jobs[-1].describe()
    output_config = preprocessing_job_description["ProcessingOutputConfig"]
    for output in output_config["Outputs"]:
        if output["OutputName"] == "train":
            preprocessed_training_data = output["S3Output"]["S3Uri"]
        if output["OutputName"] == "test":
            preprocessed_test_data = output["S3Output"]["S3Uri"]

    # run() tailed the job's CloudWatch stream: the script's own lines.
    cleaned = census_cleaned(local)
    printed = capsys.readouterr().out
    assert "Received arguments Namespace(train_test_split_ratio=0.2)" in printed
    assert f"Data after cleaning: ({len(cleaned)}, 9)" in printed

    # The job the SDK created: its name, its code input and entrypoint, its outputs.
    job = preprocessing_job_description["ProcessingJobName"]
    assert job.startswith("sagemaker-scikit-learn-")
    assert preprocessing_job_description["ProcessingJobStatus"] == "Completed"
    app = preprocessing_job_description["AppSpecification"]
    assert app["ImageUri"] == image_uris.retrieve("sklearn", "us-east-1", "1.2-1")
    assert app["ContainerEntrypoint"] == [
        "python3",
        "/opt/ml/processing/input/code/preprocessing.py",
    ]
    assert app["ContainerArguments"] == ["--train-test-split-ratio", "0.2"]
    inputs = {
        i["InputName"]: i["S3Input"] for i in preprocessing_job_description["ProcessingInputs"]
    }
    assert inputs["input-1"]["S3Uri"] == input_data
    assert inputs["code"]["S3Uri"] == f"s3://{bucket}/{job}/input/code/preprocessing.py"
    assert preprocessed_training_data == f"s3://{bucket}/{job}/output/train"
    assert preprocessed_test_data == f"s3://{bucket}/{job}/output/test"
    started = preprocessing_job_description["ProcessingStartTime"]
    assert started <= preprocessing_job_description["ProcessingEndTime"]

    # The outputs, as the notebook reads them next.
    assert S3Downloader.list(preprocessed_training_data) == [
        f"{preprocessed_training_data}/train_features.csv",
        f"{preprocessed_training_data}/train_labels.csv",
    ]
    S3Downloader.download(preprocessed_training_data, str(tmp_path / "out" / "train"))
    S3Downloader.download(preprocessed_test_data, str(tmp_path / "out" / "test"))
    _check_split(tmp_path / "out", local, ratio=0.2)

    # A later notebook picks the job up again by name.
    again = ProcessingJob.from_processing_name(sess, job)
    assert [o.destination for o in again.outputs] == [
        preprocessed_training_data,
        preprocessed_test_data,
    ]
    assert [i.input_name for i in again.inputs] == ["input-1", "code"]
    assert again.describe()["ProcessingJobStatus"] == "Completed"


def test_script_processor_uploads_local_input(census, tmp_path, capsys):
    sess, bucket, local, _ = census
    image = image_uris.retrieve("sklearn", sess.boto_region_name, "1.2-1")
    processor = ScriptProcessor(
        command=["python3"],
        image_uri=image,
        role=ROLE,
        instance_count=1,
        instance_type=INSTANCE,
        base_job_name="census-split",
        sagemaker_session=sess,
    )
    destination = f"s3://{bucket}/census/split"
    processor.run(
        code=str(SCRIPTS / "preprocessing.py"),
        inputs=[ProcessingInput(source=str(local), destination="/opt/ml/processing/input")],
        outputs=[
            ProcessingOutput(source="/opt/ml/processing/train", destination=f"{destination}/train"),
            ProcessingOutput(source="/opt/ml/processing/test", destination=f"{destination}/test"),
        ],
        arguments=["--train-test-split-ratio", "0.25"],
        logs=False,  # waits by polling the job's status only
    )
    described = processor.latest_job.describe()
    job = described["ProcessingJobName"]
    assert job.startswith("census-split-")
    # The SDK uploaded the local file under the job's prefix and named what was unnamed.
    inputs = {i["InputName"]: i["S3Input"] for i in described["ProcessingInputs"]}
    assert inputs["input-1"]["S3Uri"] == f"s3://{bucket}/{job}/input/input-1/census-income.csv"
    outputs = described["ProcessingOutputConfig"]["Outputs"]
    assert [o["OutputName"] for o in outputs] == ["output-1", "output-2"]
    assert capsys.readouterr().out.endswith("!")  # the wait's progress: done
    S3Downloader.download(destination, str(tmp_path / "out"))
    _check_split(tmp_path / "out", local, ratio=0.25)


def test_framework_processor_source_dir(census, tmp_path, capsys):
    sess, bucket, local, input_data = census
    processor = FrameworkProcessor(
        estimator_cls=SKLearn,
        framework_version="1.2-1",
        role=ROLE,
        instance_count=1,
        instance_type=INSTANCE,
        sagemaker_session=sess,
    )
    processor.run(
        code="process.py",
        source_dir=str(SCRIPTS / "sourcedir"),
        inputs=[ProcessingInput(source=input_data, destination="/opt/ml/processing/input/census")],
        outputs=[ProcessingOutput(output_name="summary", source="/opt/ml/processing/summary")],
        arguments=["--min-rows", "50"],
    )
    described = processor.latest_job.describe()
    job = described["ProcessingJobName"]
    # The SDK packed the folder and wrote its own entry script next to it.
    source = f"s3://{bucket}/{job}/source"
    assert S3Downloader.list(source) == [f"{source}/runproc.sh", f"{source}/sourcedir.tar.gz"]
    assert described["AppSpecification"]["ContainerEntrypoint"] == [
        "/bin/bash",
        "/opt/ml/processing/input/entrypoint/runproc.sh",
    ]
    inputs = {i["InputName"]: i["S3Input"] for i in described["ProcessingInputs"]}
    assert inputs["code"]["S3Uri"] == f"{source}/sourcedir.tar.gz"
    assert inputs["entrypoint"]["S3Uri"] == f"{source}/runproc.sh"

    expected = pd.read_csv(local)["education"].str.strip().value_counts()
    expected = expected[expected >= 50]
    assert f"wrote {len(expected)} education levels" in capsys.readouterr().out
    summary_uri = described["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    S3Downloader.download(summary_uri, str(tmp_path / "summary"))
    table = pd.read_csv(tmp_path / "summary" / "income_by_education.csv", index_col=0)
    assert table["rows"].to_dict() == expected.to_dict()
    assert table["share_50k"].between(0, 1).all()


def test_failing_script_raises_with_the_reason(census, capsys):
    sess, _, _, input_data = census
    processor = SKLearnProcessor(
        framework_version="1.2-1",
        role=ROLE,
        instance_type=INSTANCE,
        instance_count=1,
        sagemaker_session=sess,
    )
    with pytest.raises(UnexpectedStatusException) as caught:
        processor.run(
            code=str(SCRIPTS / "fail.py"),
            inputs=[ProcessingInput(source=input_data, destination="/opt/ml/processing/input")],
            job_name="census-wages",
        )
    assert caught.value.actual_status == "Failed"
    assert str(caught.value).startswith(
        "Error for Processing job census-wages: Failed. Reason: AlgorithmError"
    )
    # The traceback reached the notebook through the job's log stream.
    assert "ValueError: cannot compute wages" in capsys.readouterr().out
    described = processor.latest_job.describe()
    assert described["ExitMessage"] == "census-income.csv has no 'wage per hour' column"
    assert described["FailureReason"].startswith("AlgorithmError")


def test_sharded_input_over_two_instances(census, tmp_path, capsys):
    sess, bucket, _, _ = census
    parts = tmp_path / "parts"
    parts.mkdir()
    for i in range(4):  # part-i.csv has i + 1 lines
        (parts / f"part-{i}.csv").write_text("".join(f"{i},{j}\n" for j in range(i + 1)))
    parts_uri = sess.upload_data(str(parts), bucket, "processing/parts")
    processor = SKLearnProcessor(
        framework_version="1.2-1",
        role=ROLE,
        instance_type=INSTANCE,
        instance_count=2,
        sagemaker_session=sess,
    )
    processor.run(
        code=str(SCRIPTS / "shards.py"),
        inputs=[
            ProcessingInput(
                source=parts_uri,
                destination="/opt/ml/processing/input/parts",
                s3_data_distribution_type="ShardedByS3Key",
            )
        ],
        outputs=[ProcessingOutput(output_name="seen", source="/opt/ml/processing/output")],
    )
    described = processor.latest_job.describe()
    assert described["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 2
    # Both hosts' outputs land in the one S3 prefix of the output.
    seen_uri = described["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    assert S3Downloader.list(seen_uri) == [f"{seen_uri}/algo-1.json", f"{seen_uri}/algo-2.json"]
    shards = [json.loads(S3Downloader.read_file(f"{seen_uri}/algo-{n}.json")) for n in (1, 2)]
    assert [s["host"] for s in shards] == ["algo-1", "algo-2"]
    first, second = (set(s["files"]) for s in shards)
    assert first and second and not first & second  # each host its own shard
    assert first | second == {f"part-{i}.csv" for i in range(4)}
    for shard in shards:
        assert all(lines == int(n[5]) + 1 for n, lines in shard["files"].items())
    # run() tailed both hosts' streams.
    printed = capsys.readouterr().out
    assert "algo-1 received" in printed and "algo-2 received" in printed


def test_stopping_a_running_job(census, caplog):
    sess, _, _, _ = census
    processor = SKLearnProcessor(
        framework_version="1.2-1",
        role=ROLE,
        instance_type=INSTANCE,
        instance_count=1,
        max_runtime_in_seconds=600,
        sagemaker_session=sess,
    )
    processor.run(code=str(SCRIPTS / "sleep.py"), wait=False, logs=False)
    job = processor.latest_job
    assert job.describe()["ProcessingJobStatus"] == "InProgress"
    job.stop()
    with caplog.at_level(logging.WARNING, logger="sagemaker"):
        job.wait(logs=False)  # a stopped job is not an error for the SDK
    assert "Job ended with status 'Stopped' rather than 'Completed'" in caplog.text
    described = job.describe()
    assert described["ProcessingJobStatus"] == "Stopped"
    assert described["StoppingCondition"] == {"MaxRuntimeInSeconds": 600}
