"""A training job that tries to make simsage read or write outside its job folder: its
script plants symlinks to files outside SIMSAGE_HOME in its checkpoint, model and output
folders, and its checkpoint prefix holds a key with ``..`` segments. Nothing outside the
job folder is uploaded to S3 or written, as SageMaker does not follow symlinks."""

from __future__ import annotations

import io
import json
import tarfile

from test_training_jobs import BUCKET, Training, _tar_gz

SCRIPT = r"""
import os, pathlib, shutil

secret = pathlib.Path(os.environ["MY_SECRET"])
model_dir = pathlib.Path(os.environ["SM_MODEL_DIR"])
root = model_dir.parent
checkpoints = root / "checkpoints"
(checkpoints / "real.txt").write_text("step=1")
(checkpoints / "leak.txt").symlink_to(secret / "key.pem")
(checkpoints / "leak-folder").symlink_to(secret)
(model_dir / "weights.txt").write_text("w=1")
(model_dir / "leak.pem").symlink_to(secret / "key.pem")
(model_dir / "leak-folder").symlink_to(secret)
output = pathlib.Path(os.environ["SM_OUTPUT_DATA_DIR"])
shutil.rmtree(output)
output.symlink_to(secret)
print("planted", flush=True)
"""


def _members(body: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        return sorted(archive.getnames())


def test_symlinks_out_of_the_job_folder_are_never_uploaded(simsage_local, tmp_path):
    secret = tmp_path / "outside"
    secret.mkdir()
    (secret / "key.pem").write_text("PRIVATE KEY")
    training = Training(simsage_local)
    training.put("code/escape.tar.gz", _tar_gz({"train.py": SCRIPT.encode()}))
    request = training.request(
        "planted-links",
        CheckpointConfig={"S3Uri": f"s3://{BUCKET}/checkpoints/planted-links"},
        Environment={"MY_SECRET": str(secret)},
    )
    request["HyperParameters"]["sagemaker_submit_directory"] = json.dumps(
        f"s3://{BUCKET}/code/escape.tar.gz"
    )
    training.sm.create_training_job(**request)
    done = training.wait("planted-links")
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")

    listed = training.s3.list_objects_v2(Bucket=BUCKET, Prefix="checkpoints/planted-links/")
    assert [o["Key"] for o in listed["Contents"]] == ["checkpoints/planted-links/real.txt"]
    model = training.get("output/planted-links/output/model.tar.gz")
    assert _members(model) == ["weights.txt"]
    output = training.get("output/planted-links/output/output.tar.gz")
    assert _members(output) == []
    everything = training.s3.list_objects_v2(Bucket=BUCKET)["Contents"]
    for listed_object in everything:
        assert b"PRIVATE KEY" not in training.get(listed_object["Key"]), listed_object["Key"]


def test_a_checkpoint_key_with_dot_dot_segments_fails_the_job(simsage_local, tmp_path):
    training = Training(simsage_local)
    training.put("checkpoints/dots/../../../../../outside.txt", b"written outside")
    done = training.run("dots", CheckpointConfig={"S3Uri": f"s3://{BUCKET}/checkpoints/dots"})
    assert done["TrainingJobStatus"] == "Failed"
    assert done["FailureReason"] == (
        "ClientError: The S3 key '../../../../../outside.txt' cannot be written inside the "
        "checkpoint folder."
    )
    home = simsage_local.home
    assert not any(p.name == "outside.txt" for p in home.parent.rglob("outside.txt"))


FAILURE_LINK = r"""
import os, pathlib, sys

failure = pathlib.Path(os.environ["SM_MODEL_DIR"]).parent / "output" / "failure"
failure.symlink_to(pathlib.Path(os.environ["MY_SECRET"]) / "key.pem")
print("failing with a linked report", flush=True)
sys.exit(2)
"""


def test_a_failure_report_linked_out_of_the_job_folder_is_not_read(simsage_local, tmp_path):
    secret = tmp_path / "outside"
    secret.mkdir()
    (secret / "key.pem").write_text("PRIVATE KEY")
    training = Training(simsage_local)
    training.put("code/failure-link.tar.gz", _tar_gz({"train.py": FAILURE_LINK.encode()}))
    request = training.request("failure-link", Environment={"MY_SECRET": str(secret)})
    request["HyperParameters"]["sagemaker_submit_directory"] = json.dumps(
        f"s3://{BUCKET}/code/failure-link.tar.gz"
    )
    training.sm.create_training_job(**request)
    done = training.wait("failure-link")
    assert done["TrainingJobStatus"] == "Failed"
    assert "PRIVATE KEY" not in done["FailureReason"]
    assert done["FailureReason"].startswith("AlgorithmError: ")
