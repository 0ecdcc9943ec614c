"""simsage.sdk's processors build the CreateProcessingJob request the official SDK v2
builds — names, S3 layout of the uploaded code and inputs, entrypoint, arguments,
defaults — and check their settings before anything is uploaded or started.

No job runs here: S3 is simsage's (the uploads are real), and CreateProcessingJob is
answered by botocore's Stubber after its parameters are recorded. The official SDK's
processors, given the same arguments, must send the very same request.
(tests/functional/test_sdk_processing_runs.py runs real jobs.)
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import tarfile
from types import SimpleNamespace

import pytest
from sdk_helpers import RequestRecorder, official_sdk_v2

from simsage import sdk
from simsage.sdk.framework_processor import runproc_script

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "sagemaker-us-east-1-123456789012"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
TIMESTAMP = r"\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-\d{3}"


def processing_recorder(client) -> RequestRecorder:
    """The CreateProcessingJob requests sent through one sagemaker client; each is answered
    (without running anything) by a Stubber response."""
    arn = "arn:aws:sagemaker:us-east-1:123456789012:processing-job/recorded"
    return RequestRecorder(client, "create_processing_job", {"ProcessingJobArn": arn})


@pytest.fixture
def session(simsage_local):
    return sdk.Session(boto_session=simsage_local.session())


@pytest.fixture
def recorder(session):
    return processing_recorder(session.sagemaker_client)


@pytest.fixture
def s3(simsage_local):
    return simsage_local.client("s3")


@pytest.fixture
def files(tmp_path):
    """A script, a local data file and a local data folder (beside SIMSAGE_HOME, not
    around it)."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "preprocess.py").write_text("print('preprocessing')\n")
    (src / "raw.csv").write_text("a,b\n1,2\n")
    (src / "lookup").mkdir()
    (src / "lookup" / "airports.csv").write_text("code\nJFK\n")
    (src / "lookup" / "nested").mkdir()
    (src / "lookup" / "nested" / "carriers.csv").write_text("code\nAA\n")
    return src


def keys(s3, bucket: str = BUCKET) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def everything(s3) -> list[str]:
    """Every object in simsage's S3, as ``bucket/key``."""
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    return [f"{bucket}/{key}" for bucket in buckets for key in keys(s3, bucket)]


def s3_input(name: str, uri: str, local_path: str) -> dict:
    return {
        "InputName": name,
        "AppManaged": False,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local_path,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
            "S3CompressionType": "None",
        },
    }


def test_sklearn_processor_request(session, recorder, s3, files):
    processor = sdk.SKLearnProcessor(
        "1.2-1", ROLE, instance_count=1, instance_type="ml.m5.large", sagemaker_session=session
    )
    inputs = [
        sdk.ProcessingInput("s3://data/flights/raw/", "/opt/ml/processing/input"),
        sdk.ProcessingInput(str(files / "raw.csv"), "/opt/ml/processing/local"),
        sdk.ProcessingInput(str(files / "lookup"), "/opt/ml/processing/lookup", "lookup"),
    ]
    outputs = [
        sdk.ProcessingOutput("/opt/ml/processing/train", output_name="train"),
        sdk.ProcessingOutput("/opt/ml/processing/report", "s3://reports/flights"),
    ]
    recorder.expect()
    processor.run(
        code=str(files / "preprocess.py"),
        inputs=inputs,
        outputs=outputs,
        arguments=["--train-fraction", "0.7"],
        wait=False,
    )

    [request] = recorder.requests
    job = request["ProcessingJobName"]
    assert re.fullmatch(f"sagemaker-scikit-learn-{TIMESTAMP}", job)
    root = f"s3://{BUCKET}/{job}"
    assert request == {
        "ProcessingJobName": job,
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 30,
            }
        },
        "AppSpecification": {
            "ImageUri": SKLEARN_IMAGE,
            "ContainerArguments": ["--train-fraction", "0.7"],
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/preprocess.py"],
        },
        "RoleArn": ROLE,
        "ProcessingInputs": [
            s3_input("input-1", "s3://data/flights/raw/", "/opt/ml/processing/input"),
            s3_input("input-2", f"{root}/input/input-2/raw.csv", "/opt/ml/processing/local"),
            s3_input("lookup", f"{root}/input/lookup", "/opt/ml/processing/lookup"),
            s3_input("code", f"{root}/input/code/preprocess.py", "/opt/ml/processing/input/code"),
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "train",
                    "AppManaged": False,
                    "S3Output": {
                        "S3Uri": f"{root}/output/train",
                        "LocalPath": "/opt/ml/processing/train",
                        "S3UploadMode": "EndOfJob",
                    },
                },
                {
                    "OutputName": "output-2",
                    "AppManaged": False,
                    "S3Output": {
                        "S3Uri": "s3://reports/flights",
                        "LocalPath": "/opt/ml/processing/report",
                        "S3UploadMode": "EndOfJob",
                    },
                },
            ]
        },
    }
    # The uploads are where the request says, byte for byte.
    assert keys(s3) == [
        f"{job}/input/code/preprocess.py",
        f"{job}/input/input-2/raw.csv",
        f"{job}/input/lookup/airports.csv",
        f"{job}/input/lookup/nested/carriers.csv",
    ]
    body = s3.get_object(Bucket=BUCKET, Key=f"{job}/input/code/preprocess.py")["Body"].read()
    assert body == (files / "preprocess.py").read_bytes()

    # The job keeps its named, uploaded inputs and outputs; the caller's are unchanged.
    latest = processor.latest_job
    assert processor.jobs == [latest] and latest.job_name == latest.name == job
    assert [i.input_name for i in latest.inputs] == ["input-1", "input-2", "lookup", "code"]
    assert [o.destination for o in latest.outputs] == [
        f"{root}/output/train",
        outputs[1].destination,
    ]
    assert [i.input_name for i in inputs] == [None, None, "lookup"]
    assert inputs[1].source == str(files / "raw.csv")
    assert outputs[0].destination is None and outputs[1].output_name is None


def test_processor_request_with_every_setting(session, recorder):
    processor = sdk.Processor(
        ROLE,
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-team/feature-builder:3",
        instance_count=2,
        instance_type="ml.c5.xlarge",
        entrypoint=["python3", "/app/build.py"],
        volume_size_in_gb=50,
        max_runtime_in_seconds=600,
        sagemaker_session=session,
        env={"MODE": "full"},
        tags=[{"Key": "team", "Value": "ops"}],
        network_config={"EnableNetworkIsolation": True},
    )
    recorder.expect(2)
    processor.run(arguments=["--day", "2026-12-01"], wait=False, logs=False)
    processor.run(wait=False, logs=False, job_name="nightly-features")

    first, second = recorder.requests
    assert re.fullmatch(f"feature-builder-{TIMESTAMP}", first["ProcessingJobName"])
    assert first["ProcessingResources"] == {
        "ClusterConfig": {"InstanceCount": 2, "InstanceType": "ml.c5.xlarge", "VolumeSizeInGB": 50}
    }
    assert first["AppSpecification"] == {
        "ImageUri": processor.image_uri,
        "ContainerEntrypoint": ["python3", "/app/build.py"],
        "ContainerArguments": ["--day", "2026-12-01"],
    }
    assert first["StoppingCondition"] == {"MaxRuntimeInSeconds": 600}
    assert first["Environment"] == {"MODE": "full"}
    assert first["Tags"] == [{"Key": "team", "Value": "ops"}]
    assert first["NetworkConfig"] == {"EnableNetworkIsolation": True}
    assert "ProcessingInputs" not in first and "ProcessingOutputConfig" not in first
    # No arguments: none sent (the image's own CMD would apply); the given name is used.
    assert second["ProcessingJobName"] == "nightly-features"
    assert "ContainerArguments" not in second["AppSpecification"]
    assert [job.job_name for job in processor.jobs] == [
        first["ProcessingJobName"],
        "nightly-features",
    ]


def test_job_names_follow_the_official_sdk(session, recorder, files):
    recorder.expect(4)
    sklearn = sdk.SKLearnProcessor("1.2-1", ROLE, 1, "ml.m5.large", sagemaker_session=session)
    sklearn.run(code=str(files / "preprocess.py"), wait=False)
    named = sdk.SKLearnProcessor(
        "1.2-1", ROLE, 1, "ml.m5.large", base_job_name="flight-prep", sagemaker_session=session
    )
    named.run(code=str(files / "preprocess.py"), wait=False)
    framework = sdk.FrameworkProcessor(
        sdk.SKLearn, "1.2-1", ROLE, 1, "ml.m5.large", sagemaker_session=session
    )
    framework.run("preprocess.py", str(files), wait=False)
    xgboost = sdk.FrameworkProcessor(
        sdk.XGBoost, "1.7-1", ROLE, 1, "ml.m5.large", sagemaker_session=session
    )
    xgboost.run("preprocess.py", str(files), wait=False)

    names = [request["ProcessingJobName"] for request in recorder.requests]
    bases = [re.fullmatch(f"(.+)-{TIMESTAMP}", name).group(1) for name in names]
    assert bases == ["sagemaker-scikit-learn", "flight-prep", "sklearn", "xgboost"]
    assert recorder.requests[3]["AppSpecification"]["ImageUri"] == (
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    )


def test_framework_processor_ships_the_folder_and_runproc(session, recorder, s3, files):
    processor = sdk.FrameworkProcessor(
        sdk.SKLearn,
        "1.2-1",
        ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        sagemaker_session=session,
    )
    recorder.expect()
    processor.run(
        "preprocess.py",
        source_dir=str(files),
        inputs=[sdk.ProcessingInput("s3://data/raw/", "/opt/ml/processing/input")],
        arguments=["--rows", "10"],
        wait=False,
    )

    [request] = recorder.requests
    job = request["ProcessingJobName"]
    source = f"s3://{BUCKET}/{job}/source"
    assert request["AppSpecification"] == {
        "ImageUri": SKLEARN_IMAGE,
        "ContainerArguments": ["--rows", "10"],
        "ContainerEntrypoint": ["/bin/bash", "/opt/ml/processing/input/entrypoint/runproc.sh"],
    }
    assert request["ProcessingInputs"] == [
        s3_input("input-1", "s3://data/raw/", "/opt/ml/processing/input"),
        s3_input("code", f"{source}/sourcedir.tar.gz", "/opt/ml/processing/input/code/"),
        s3_input("entrypoint", f"{source}/runproc.sh", "/opt/ml/processing/input/entrypoint"),
    ]
    archive = s3.get_object(Bucket=BUCKET, Key=f"{job}/source/sourcedir.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert sorted(tar.getnames()) == [
            "lookup/airports.csv",
            "lookup/nested/carriers.csv",
            "preprocess.py",
            "raw.csv",
        ]
    runner = s3.get_object(Bucket=BUCKET, Key=f"{job}/source/runproc.sh")["Body"].read().decode()
    assert runner == runproc_script(["python"], "preprocess.py")


def test_runproc_unpacks_installs_requirements_and_runs_the_command():
    script = runproc_script(["python3", "-u"], "my step.py")
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0
    lines = script.splitlines()
    assert lines[0] == "#!/bin/bash"
    assert "set -e" in lines  # a failed unpack or install fails the job
    assert "cd /opt/ml/processing/input/code/" in lines
    assert "tar -xzf sourcedir.tar.gz" in lines
    assert "    python -m pip install -r requirements.txt" in lines
    assert lines[-1] == """exec python3 -u 'my step.py' "$@\""""


def test_an_s3_code_uri_is_used_as_is(session, recorder, s3):
    processor = sdk.ScriptProcessor(
        ROLE, SKLEARN_IMAGE, ["python3", "-u"], 1, "ml.m5.large", sagemaker_session=session
    )
    recorder.expect()
    processor.run(code="s3://code-bucket/steps/evaluate.py", wait=False)
    [request] = recorder.requests
    assert request["AppSpecification"]["ContainerEntrypoint"] == [
        "python3",
        "-u",
        "/opt/ml/processing/input/code/evaluate.py",
    ]
    assert request["ProcessingInputs"] == [
        s3_input("code", "s3://code-bucket/steps/evaluate.py", "/opt/ml/processing/input/code")
    ]
    assert everything(s3) == []  # nothing uploaded


GZIP_IN_FILE_MODE = sdk.ProcessingInput("s3://d/x.gz", "/in", s3_compression_type="Gzip")
MISSING_FOLDER = sdk.ProcessingInput("no/such/folder", "/opt/ml/processing/in")


@pytest.mark.parametrize(
    ("settings", "run", "error", "message"),
    [
        ({}, {"code": "missing.py"}, ValueError, "code missing.py wasn't found"),
        ({}, {"code": "."}, ValueError, "must be a file, not a directory"),
        ({}, {"code": "ftp://host/x.py"}, ValueError, "url scheme ftp is not recognized"),
        ({}, {"arguments": "--rows 10"}, TypeError, "arguments must be a list of strings"),
        ({}, {"arguments": ["--rows", 10]}, TypeError, "10 is not"),
        ({}, {"inputs": ["s3://data/raw/"]}, TypeError, "must be provided as ProcessingInput"),
        ({}, {"outputs": ["/opt/ml/out"]}, TypeError, "must be provided as ProcessingOutput"),
        ({}, {"inputs": [GZIP_IN_FILE_MODE]}, ValueError, "gzipped when the input mode is Pipe"),
        ({}, {"inputs": [MISSING_FOLDER]}, ValueError, "nor an existing local file or folder"),
        ({"framework_version": "9.9"}, {}, ValueError, "Unsupported sklearn version: 9.9"),
        ({"role": None}, {}, ValueError, "An AWS IAM role is required"),
        ({"instance_count": None}, {}, ValueError, "instance_count .* are required"),
        ({"command": "python3"}, {}, TypeError, "command must be a list of strings"),
    ],
)
def test_run_checks_everything_before_uploading_or_starting(
    session, recorder, s3, files, monkeypatch, settings, run, error, message
):
    monkeypatch.chdir(files)
    # The constructor only stores: a wrong setting is reported when the job would start.
    processor = sdk.SKLearnProcessor(
        **{
            "framework_version": "1.2-1",
            "role": ROLE,
            "instance_count": 1,
            "instance_type": "ml.m5.large",
            "sagemaker_session": session,
            **settings,
        }
    )
    arguments = {
        "code": "preprocess.py",
        "inputs": [sdk.ProcessingInput("raw.csv", "/opt/ml/processing/input")],
        "outputs": [sdk.ProcessingOutput("/opt/ml/processing/out")],
        **run,
    }
    with pytest.raises(error, match=message):
        processor.run(wait=False, **arguments)
    assert recorder.requests == []
    assert processor.latest_job is None and processor.jobs == []
    assert everything(s3) == []


def test_logs_need_wait_in_processor_run(session, recorder):
    processor = sdk.Processor(ROLE, SKLEARN_IMAGE, 1, "ml.m5.large", sagemaker_session=session)
    with pytest.raises(ValueError, match="Logs can only be shown if wait is set to True"):
        processor.run(wait=False)
    assert recorder.requests == []


# -- the official SDK v2, given the same arguments, sends the same request ----------------
@pytest.fixture
def official(monkeypatch, tmp_path, simsage_local):
    return official_sdk_v2(monkeypatch, tmp_path)


def test_the_official_sdk_sends_the_same_requests(official, session, recorder, s3, files):
    """SKLearnProcessor.run(code=…) and FrameworkProcessor.run(code, source_dir) with S3 and
    local inputs, named and unnamed outputs, arguments: request for request, and upload for
    upload, the same (the job names aside)."""
    from sagemaker import processing, sklearn

    theirs = official.Session(boto_session=session.boto_session)
    their_recorder = processing_recorder(theirs.sagemaker_client)
    # The official SDK's classes under simsage.sdk's names.
    official_api = SimpleNamespace(
        ProcessingInput=processing.ProcessingInput,
        ProcessingOutput=processing.ProcessingOutput,
        SKLearnProcessor=sklearn.SKLearnProcessor,
        FrameworkProcessor=processing.FrameworkProcessor,
        SKLearn=sklearn.SKLearn,
    )

    def run_both(api, api_session, prefix: str) -> None:
        settings = {"role": ROLE, "instance_count": 1, "instance_type": "ml.m5.large"}

        def io() -> dict:
            return {
                "inputs": [
                    api.ProcessingInput("s3://data/raw/", "/opt/ml/processing/input"),
                    api.ProcessingInput(str(files / "lookup"), "/opt/ml/processing/lookup"),
                ],
                "outputs": [
                    api.ProcessingOutput("/opt/ml/processing/train", output_name="train"),
                    api.ProcessingOutput("/opt/ml/processing/test", "s3://elsewhere/test"),
                ],
                "arguments": ["--train-fraction", "0.7"],
                "wait": False,
                "logs": False,
            }

        script = api.SKLearnProcessor("1.2-1", sagemaker_session=api_session, **settings)
        script.run(code=str(files / "preprocess.py"), job_name=f"{prefix}-script", **io())
        framework = api.FrameworkProcessor(
            api.SKLearn, "1.2-1", sagemaker_session=api_session, **settings
        )
        framework.run(
            "preprocess.py", source_dir=str(files), job_name=f"{prefix}-framework", **io()
        )

    recorder.expect(2)
    run_both(sdk, session, "ours")
    their_recorder.expect(2)
    run_both(official_api, theirs, "theirs")

    renamed = json.loads(json.dumps(their_recorder.requests).replace("theirs-", "ours-"))
    assert recorder.requests == renamed
    ours_keys = [k for k in keys(s3) if k.startswith("ours-")]
    theirs_keys = [k.replace("theirs-", "ours-") for k in keys(s3) if k.startswith("theirs-")]
    assert ours_keys == theirs_keys and len(ours_keys) == 7
