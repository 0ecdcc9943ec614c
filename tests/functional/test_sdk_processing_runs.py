"""simsage.sdk's processors run real processing jobs on simsage: the script runs in the
scikit-learn image with its arguments, reads its inputs, and what it writes is in S3 at
the job's output destinations; its log lines are printed while ``run`` waits; a failing
script raises UnexpectedStatusException with the job's FailureReason; a
FrameworkProcessor's script imports a module from its ``source_dir``; a stopped job ends
Stopped.

Each job takes about a second, so there are four. (tests/unit/test_sdk_processing.py
checks the requests themselves.)
"""

from __future__ import annotations

import re

import pytest

from simsage import sdk

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"

SPLIT = """\
import argparse, pathlib
parser = argparse.ArgumentParser()
parser.add_argument("--train-rows", type=int)
args = parser.parse_args()
rows = pathlib.Path("/opt/ml/processing/input/rows.csv").read_text().splitlines()
header, body = rows[0], rows[1:]
for name, part in (("train", body[: args.train_rows]), ("test", body[args.train_rows :])):
    pathlib.Path(f"/opt/ml/processing/{name}/{name}.csv").write_text("\\n".join(part) + "\\n")
print(f"split {len(body)} rows: {args.train_rows} for training")
"""


@pytest.fixture
def session(simsage_local):
    return sdk.Session(boto_session=simsage_local.session())


def read(session: sdk.Session, uri: str) -> str:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return session.read_s3_file(bucket, key)


def test_sklearn_processor_runs_the_script_and_its_outputs_are_in_s3(session, tmp_path, capsys):
    (tmp_path / "split.py").write_text(SPLIT)
    (tmp_path / "rows.csv").write_text("x,y\n1,0\n2,1\n3,0\n4,1\n5,1\n")
    session.s3_client.create_bucket(Bucket="reports")
    processor = sdk.SKLearnProcessor(
        "1.2-1", ROLE, instance_count=1, instance_type="ml.m5.large", sagemaker_session=session
    )
    processor.run(
        code=str(tmp_path / "split.py"),
        inputs=[sdk.ProcessingInput(str(tmp_path / "rows.csv"), "/opt/ml/processing/input")],
        outputs=[
            sdk.ProcessingOutput("/opt/ml/processing/train", output_name="train"),
            sdk.ProcessingOutput("/opt/ml/processing/test", "s3://reports/split/test"),
        ],
        arguments=["--train-rows", "3"],
    )

    # run() waited, printing the job's log as it came.
    assert "split 5 rows: 3 for training" in capsys.readouterr().out
    job = processor.latest_job
    described = job.describe()
    assert described["ProcessingJobStatus"] == "Completed"
    train, test = job.outputs
    bucket = session.default_bucket()
    assert train.destination == f"s3://{bucket}/{job.job_name}/output/train"
    uris = {
        o["OutputName"]: o["S3Output"]["S3Uri"]
        for o in described["ProcessingOutputConfig"]["Outputs"]
    }
    assert uris == {"train": train.destination, "output-2": "s3://reports/split/test"}
    assert read(session, f"{train.destination}/train.csv") == "1,0\n2,1\n3,0\n"
    assert read(session, "s3://reports/split/test/test.csv") == "4,1\n5,1\n"


def test_a_failing_script_raises_with_the_failure_reason(session, tmp_path, capsys):
    (tmp_path / "broken.py").write_text(
        "import sys\nprint('checking the columns')\nsys.exit('column delayed is missing')\n"
    )
    processor = sdk.SKLearnProcessor(
        "1.2-1", ROLE, 1, "ml.m5.large", base_job_name="prep", sagemaker_session=session
    )
    with pytest.raises(sdk.UnexpectedStatusException) as caught:
        processor.run(code=str(tmp_path / "broken.py"))

    name = processor.latest_job.job_name
    reason = processor.latest_job.describe()["FailureReason"]
    assert reason.startswith("AlgorithmError")
    assert str(caught.value) == f"Error for Processing job {name}: Failed. Reason: {reason}"
    assert caught.value.actual_status == "Failed"
    printed = capsys.readouterr().out
    assert "checking the columns" in printed and "column delayed is missing" in printed


def test_framework_processor_runs_a_script_with_its_source_dir(session, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "features.py").write_text("def double(x):\n    return 2 * x\n")
    (source / "process.py").write_text(
        "import sys, pathlib\n"
        "from features import double\n"
        "values = [double(int(v)) for v in sys.argv[1:]]\n"
        "pathlib.Path('/opt/ml/processing/out/doubled.txt').write_text(repr(values))\n"
    )
    processor = sdk.FrameworkProcessor(
        sdk.SKLearn, "1.2-1", ROLE, 1, "ml.m5.large", sagemaker_session=session
    )
    processor.run(
        "process.py",
        source_dir=str(source),
        outputs=[sdk.ProcessingOutput("/opt/ml/processing/out", output_name="doubled")],
        arguments=["1", "2", "21"],
        wait=False,
    )

    job = processor.latest_job
    assert re.fullmatch(r"sklearn-[\d-]+", job.job_name)
    assert job.wait(logs=False)["ProcessingJobStatus"] == "Completed"
    [output] = job.outputs
    assert read(session, f"{output.destination}/doubled.txt") == "[2, 4, 42]"
    # Another process (or notebook) picks the job up by name, outputs included.
    again = sdk.ProcessingJob.from_processing_name(session, job.job_name)
    assert [(o.output_name, o.destination) for o in again.outputs] == [
        ("doubled", output.destination)
    ]
    assert [i.input_name for i in again.inputs] == ["code", "entrypoint"]


def test_a_stopped_job_ends_stopped(session, tmp_path):
    (tmp_path / "slow.py").write_text("import time\nprint('working', flush=True)\ntime.sleep(60)\n")
    processor = sdk.SKLearnProcessor("1.2-1", ROLE, 1, "ml.m5.large", sagemaker_session=session)
    processor.run(code=str(tmp_path / "slow.py"), wait=False, logs=False)
    job = processor.latest_job
    job.stop()
    with pytest.raises(sdk.UnexpectedStatusException) as caught:
        job.wait(logs=False)
    assert caught.value.actual_status == "Stopped"
    assert job.describe()["ProcessingJobStatus"] == "Stopped"
