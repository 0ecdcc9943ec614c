"""The entry point of simsage's images (simsage/algorithms/image_entry.py) on the host:
which module trains and which server mode serves for each image, the ``SM_*``
variables it fills in where SageMaker gives none (and keeps where simsage's engine set
them), the one-instance rule, fetching script-mode code that the runner did not stage
(boto3 replaced by a double that serves one archive), and a whole ``train`` of the
k-means image's algorithm against a hand-made ``/opt/ml`` folder."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import types
from pathlib import Path

import pytest

from simsage.algorithms import image_entry
from simsage.algorithms.image_entry import (
    EntryError,
    image_kind,
    prepare_script_source,
    serve_arguments,
    toolkit_environment,
    train_module,
)
from simsage.runtime.python import child_environment


def _opt_ml(root: Path, hyperparameters: dict, hosts=("algo-1",)) -> Path:
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (root / "input" / "data" / "train").mkdir(parents=True)
    (root / "model").mkdir()
    (root / "output").mkdir()
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (config / "inputdataconfig.json").write_text(
        json.dumps({"train": {"ContentType": "text/csv;label_size=0", "TrainingInputMode": "File"}})
    )
    (config / "resourceconfig.json").write_text(
        json.dumps(
            {"current_host": hosts[0], "hosts": list(hosts), "current_instance_type": "ml.m5.large"}
        )
    )
    return root


def test_each_image_names_its_training_module():
    assert train_module("xgboost", {}) == "simsage.algorithms.xgboost_train"
    assert train_module("xgboost", {"sagemaker_program": "t.py"}) == image_entry.SCRIPT_MODE
    assert train_module("sklearn", {}) == image_entry.SCRIPT_MODE
    assert train_module("linear-learner", {}) == "simsage.algorithms.linear_learner_train"
    assert train_module("randomcutforest", {}) == "simsage.algorithms.rcf_train"
    assert image_kind({"SIMSAGE_IMAGE": "knn"}) == "knn"
    with pytest.raises(EntryError, match="SIMSAGE_IMAGE='' names no simsage image"):
        image_kind({})


def test_each_image_serves_in_its_mode_on_the_container_address():
    model = "/opt/ml/model"
    base = ["--container", "--model-dir", model, "--mode"]
    assert serve_arguments("kmeans", {}, model) == [*base, "first-party", "--framework", "kmeans"]
    assert serve_arguments("xgboost", {}, model) == [*base, "xgboost", "--framework", "xgboost"]
    with_script = {"SAGEMAKER_PROGRAM": "inference.py"}
    assert serve_arguments("xgboost", with_script, model)[4:] == [
        "script",
        "--framework",
        "xgboost",
    ]
    assert serve_arguments("sklearn", {}, model)[4:] == ["script", "--framework", "sklearn"]


def test_the_toolkit_variables_are_filled_in_and_set_ones_kept(tmp_path):
    root = _opt_ml(tmp_path, {"k": "3", "sagemaker_program": '"train.py"'})
    env = toolkit_environment(root, {"TRAINING_JOB_NAME": "job-1", "SM_NUM_CPUS": "7"})
    assert "SM_NUM_CPUS" not in env  # simsage's engine set it: kept as it is
    assert env["SM_CHANNEL_TRAIN"] == f"{root}/input/data/train"
    assert env["SM_MODEL_DIR"] == f"{root}/model"
    assert env["SM_HP_K"] == "3" and env["SM_USER_ARGS"] == '["--k","3"]'
    assert env["SM_USER_ENTRY_POINT"] == "train.py"
    assert json.loads(env["SM_TRAINING_ENV"])["job_name"] == "job-1"


def test_a_job_of_several_instances_is_refused_at_once(tmp_path):
    root = _opt_ml(tmp_path, {}, hosts=("algo-1", "algo-2"))
    with pytest.raises(EntryError, match="train on one instance only; this job has 2"):
        toolkit_environment(root, {})


def _archive(members: dict[str, bytes], link: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name.endswith(".sh") else 0o644
            tar.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo("evil")
            info.type = tarfile.SYMTYPE
            info.linkname = link
            tar.addfile(info)
    return buffer.getvalue()


@pytest.fixture
def fake_s3(monkeypatch):
    """boto3 replaced by a module whose S3 client serves ``objects`` (bucket, key)."""
    objects: dict[tuple[str, str], bytes] = {}
    asked: list[tuple] = []

    class Client:
        def download_file(self, bucket, key, filename):
            asked.append((bucket, key))
            if (bucket, key) not in objects:
                raise RuntimeError("An error occurred (404) when calling the HeadObject operation")
            Path(filename).write_bytes(objects[(bucket, key)])

    def client(service, region_name=None):
        asked.append((service, region_name))
        return Client()

    monkeypatch.setitem(sys.modules, "boto3", types.SimpleNamespace(client=client))
    return objects, asked


def test_code_the_runner_did_not_stage_is_fetched_from_s3(tmp_path, fake_s3):
    objects, asked = fake_s3
    objects[("bkt", "code/sourcedir.tar.gz")] = _archive(
        {"train.py": b"print('hi')\n", "lib/util.py": b"X = 1\n", "run.sh": b"#!/bin/sh\n"}
    )
    hps = {
        "sagemaker_program": "train.py",
        "sagemaker_submit_directory": "s3://bkt/code/sourcedir.tar.gz",
        "sagemaker_region": "eu-west-1",
    }
    prepare_script_source(tmp_path, hps, {})
    assert asked == [("s3", "eu-west-1"), ("bkt", "code/sourcedir.tar.gz")]
    assert (tmp_path / "code" / "train.py").read_text() == "print('hi')\n"
    assert (tmp_path / "code" / "lib" / "util.py").read_text() == "X = 1\n"
    assert os.access(tmp_path / "code" / "run.sh", os.X_OK)
    asked.clear()
    prepare_script_source(tmp_path, hps, {})  # staged now (as simsage's runner does): no fetch
    assert asked == []


def test_a_source_archive_reaching_outside_or_missing_fails_with_the_reason(tmp_path, fake_s3):
    objects, _ = fake_s3
    objects[("bkt", "up.tar.gz")] = _archive({"../escape.py": b""})
    objects[("bkt", "link.tar.gz")] = _archive({"train.py": b""}, link="/etc/passwd")
    for key, member in (("up.tar.gz", "'../escape.py'"), ("link.tar.gz", "'evil'")):
        hps = {"sagemaker_program": "train.py", "sagemaker_submit_directory": f"s3://bkt/{key}"}
        with pytest.raises(EntryError, match=f"member {member} is not a plain file or folder"):
            prepare_script_source(tmp_path / key, hps, {})
        assert not (tmp_path / key / "code" / "train.py").exists()  # nothing written
    hps = {"sagemaker_program": "t.py", "sagemaker_submit_directory": "s3://bkt/none.tar.gz"}
    with pytest.raises(EntryError, match="could not download the source s3://bkt/none.tar.gz"):
        prepare_script_source(tmp_path / "none", hps, {})


def test_train_runs_the_images_algorithm_against_an_opt_ml_folder(tmp_path):
    """The k-means image's ``train`` in a child process (as in the container, the entry
    sets SIMSAGE_OPT_ML and the SM_* variables itself); /opt/ml is a temporary folder."""
    root = _opt_ml(tmp_path, {"k": "2", "feature_dim": "2", "mini_batch_size": "10"})
    rows = [f"{x},{x}" for x in (0.0, 0.1, 0.2, 5.0, 5.1, 5.2)] * 5
    (root / "input" / "data" / "train" / "a.csv").write_text("\n".join(rows) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "SIMSAGE_"))}
    env["SIMSAGE_IMAGE"] = "kmeans"
    env = child_environment(env)  # this checkout's simsage first on the child's path
    code = f"import sys, pathlib; from simsage.algorithms import image_entry as e; sys.exit(e.train(pathlib.Path({str(root)!r})))"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "#quality_metric: host=algo-1, train msd <loss>=" in done.stdout
    model = json.loads((root / "model" / "kmeans-model.json").read_text())
    assert sorted(round(c[0]) for c in model["centers"]) == [0, 5]
    assert (root / "output" / "success").exists()


def test_a_refused_job_writes_the_failure_file(tmp_path, monkeypatch):
    root = _opt_ml(tmp_path, {}, hosts=("algo-1", "algo-2"))
    monkeypatch.setenv("SIMSAGE_IMAGE", "pca")
    monkeypatch.setenv("SIMSAGE_OPT_ML", "")  # train() sets it: restored after the test
    assert image_entry.train(root) == 1
    assert (
        (root / "output" / "failure")
        .read_text()
        .startswith("ClientError: simsage's images train on one instance only")
    )
    assert image_entry.main([]) == 2
