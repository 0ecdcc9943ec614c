"""Training jobs end to end: real boto3 clients, the detached job runner and the
algorithm running as real child processes, data and artifacts in simsage's S3.

Every job runs a tiny script-mode script on the scikit-learn framework image. The
script does what its ``--mode`` hyperparameter says and reports what it saw (arguments,
``SM_*`` environment, channel files, config files) into its model directory as JSON,
so assertions are about what a user's script really gets.
"""

from __future__ import annotations

import functools
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from simsage.home import Home
from simsage.runtime import mountns, processes
from simsage.runtime.containers import MODE_ENV
from simsage.training.jobs import TrainingJobStore

REPO = Path(__file__).resolve().parents[2]
SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "simsage-training"
SOURCE = f"s3://{BUCKET}/code/sourcedir.tar.gz"
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
TERMINAL = ("Completed", "Failed", "Stopped")
POLL = 0.05
TIMEOUT = 60.0

SCRIPT = r"""
import json, os, pathlib, signal, subprocess, sys, tarfile, time

args = sys.argv[1:]
opts = dict(zip(args[0::2], args[1::2]))
mode = opts.get("--mode", "ok")
model_dir = pathlib.Path(os.environ["SM_MODEL_DIR"])
root = model_dir.parent
host = os.environ["SM_CURRENT_HOST"]


def files(folder):
    folder = pathlib.Path(folder)
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def report():
    config = root / "input" / "config"
    seen = {
        "argv": args,
        "cwd": os.getcwd(),
        "env": {k: v for k, v in os.environ.items() if k.startswith(("SM_", "TRAINING_JOB_", "MY_"))},
        "channels": {
            name: files(os.environ["SM_CHANNEL_" + name.upper()])
            for name in json.loads(os.environ["SM_CHANNELS"])
        },
        "config": {
            name: json.loads((config / name).read_text())
            for name in ("hyperparameters.json", "inputdataconfig.json", "resourceconfig.json")
        },
    }
    checkpoints = root / "checkpoints"
    if checkpoints.is_dir():
        seen["checkpoints"] = {n: (checkpoints / n).read_text() for n in files(checkpoints)}
        (checkpoints / f"state-{host}.txt").write_text(f"written by {host}")
    if "model" in seen["channels"]:
        with tarfile.open(pathlib.Path(os.environ["SM_CHANNEL_MODEL"]) / "model.tar.gz") as old:
            seen["previous_weights"] = old.extractfile("sub/weights.txt").read().decode()
    return seen


def ready(extra=None):
    (root / "pids.json").write_text(json.dumps({"script": os.getpid(), **(extra or {})}))
    print("ready", flush=True)


if mode == "ok":
    seen = report()
    (model_dir / "seen.json").write_text(json.dumps(seen))
    (model_dir / "sub").mkdir()
    weights = "w=2" if "previous_weights" in seen else "w=1"
    (model_dir / "sub" / "weights.txt").write_text(weights)
    out = pathlib.Path(os.environ["SM_OUTPUT_DATA_DIR"])
    (out / f"{host}.json").write_text(json.dumps({"host": host, "channels": seen["channels"]}))
    print("epoch 1: loss=0.75", flush=True)
    print("epoch 2: loss=0.25\tacc=0.9", flush=True)
elif mode == "fail":
    print("about to fail", flush=True)
    raise ValueError("the data has no label column")
elif mode == "failure-file":
    (root / "output" / "failure").write_text("custom failure: " + "x" * 2000)
    sys.exit(3)
elif mode == "sleep":
    def on_term(*_):
        (model_dir / "saved-on-sigterm.txt").write_text("saved")
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_term)
    ready()
    while True:
        time.sleep(0.05)
elif mode == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    ready({"child": child.pid})
    while True:
        time.sleep(0.05)
"""


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def _untar(body: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    return processes.running(pid)


def wait_until(condition, timeout: float = TIMEOUT, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(POLL)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Training:
    """The test's clients, a bucket holding the script and small data sets, and helpers
    to start jobs and wait for them."""

    def __init__(self, local) -> None:
        self.local = local
        self.sm = local.client("sagemaker")
        self.s3 = local.client("s3")
        self.s3.create_bucket(Bucket=BUCKET)
        self.put("code/sourcedir.tar.gz", _tar_gz({"train.py": SCRIPT.encode()}))
        self.put("data/train/part-0.csv", b"1,0.5\n0,0.25\n")
        self.put("data/train/nested/part-1.csv", b"1,0.75\n")
        self.put("data/validation/val.csv", b"0,0.1\n")

    @functools.cached_property
    def logs(self):
        return self.local.client("logs")

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)

    def get(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def request(self, name: str, mode: str = "ok", **changes) -> dict:
        request = {
            "TrainingJobName": name,
            "AlgorithmSpecification": {
                "TrainingImage": SKLEARN,
                "TrainingInputMode": "File",
                "MetricDefinitions": [
                    {"Name": "train:loss", "Regex": r"loss=([0-9.]+)"},
                    {"Name": "train:acc", "Regex": r"acc=([0-9.]+)"},
                ],
            },
            "RoleArn": ROLE,
            "HyperParameters": {
                "sagemaker_program": '"train.py"',
                "sagemaker_submit_directory": json.dumps(SOURCE),
                "mode": mode,
                "learning-rate": "0.1",
                "epochs": "3",
            },
            "InputDataConfig": [channel("train", f"s3://{BUCKET}/data/train/", "text/csv")],
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/output"},
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 1,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 300},
            "Environment": {"MY_SETTING": "on"},
        }
        request.update(changes)
        return request

    def start(self, name: str, mode: str = "ok", **changes) -> str:
        return self.sm.create_training_job(**self.request(name, mode, **changes))["TrainingJobArn"]

    def describe(self, name: str) -> dict:
        return self.sm.describe_training_job(TrainingJobName=name)

    def wait(self, name: str, timeout: float = TIMEOUT) -> dict:
        """Describe ``name`` every 0.05 s until it ends; its last description."""
        return wait_until(
            lambda: (d := self.describe(name))["TrainingJobStatus"] in TERMINAL and d,
            timeout,
            f"training job {name} to finish",
        )

    def run(self, name: str, mode: str = "ok", **changes) -> dict:
        self.start(name, mode, **changes)
        return self.wait(name)

    def folder(self, name: str, host: str = "algo-1") -> Path:
        return self.local.home / "jobs" / "training" / name / host

    def model(self, description: dict) -> dict[str, bytes]:
        uri = description["ModelArtifacts"]["S3ModelArtifacts"]
        assert uri.startswith(f"s3://{BUCKET}/")
        return _untar(self.get(uri[len(f"s3://{BUCKET}/") :]))

    def seen(self, description: dict) -> dict:
        return json.loads(self.model(description)["seen.json"])

    def pids(self, name: str) -> dict:
        """The pids the script wrote once it was ready (waits for them)."""
        path = self.folder(name) / "pids.json"
        wait_until(path.is_file, what=f"{name} to be ready")
        return wait_until(lambda: _read_json(path), what=f"{name}'s pids.json")


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except ValueError:  # caught half-written
        return None


def channel(name: str, uri: str, content_type: str | None = None, **source) -> dict:
    data_source = {"S3DataType": "S3Prefix", "S3Uri": uri, **source}
    out = {"ChannelName": name, "DataSource": {"S3DataSource": data_source}}
    if content_type:
        out["ContentType"] = content_type
    return out


@pytest.fixture
def training(simsage_local) -> Training:
    return Training(simsage_local)


# -- a completed job -------------------------------------------------------------------


def test_completed_job_uploads_model_and_output_and_moves_through_the_statuses(training):
    done = training.run("completed-job")

    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    assert done["SecondaryStatus"] == "Completed"
    key = "output/completed-job/output/model.tar.gz"
    assert done["ModelArtifacts"]["S3ModelArtifacts"] == f"s3://{BUCKET}/{key}"
    model = _untar(training.get(key))
    assert set(model) == {"seen.json", "sub/weights.txt"}  # relative to /opt/ml/model
    assert model["sub/weights.txt"] == b"w=1"
    output = _untar(training.get("output/completed-job/output/output.tar.gz"))
    assert set(output) == {"algo-1.json"}

    transitions = done["SecondaryStatusTransitions"]
    assert [t["Status"] for t in transitions] == [
        "Starting",
        "Downloading",
        "Training",
        "Uploading",
        "Completed",
    ]
    for before, after in zip(transitions, transitions[1:], strict=False):
        assert before["EndTime"] == after["StartTime"]
        assert before["StartTime"] <= before["EndTime"]
    assert all(t["StatusMessage"] for t in transitions)
    assert done["CreationTime"] <= done["TrainingStartTime"] <= done["TrainingEndTime"]
    assert done["LastModifiedTime"] >= done["TrainingEndTime"]
    assert done["TrainingTimeInSeconds"] >= 1
    assert done["BillableTimeInSeconds"] == done["TrainingTimeInSeconds"]
    assert "FailureReason" not in done
    assert done["HyperParameters"]["mode"] == "ok"  # the request is echoed


def test_job_folder_holds_the_config_files_as_sagemaker_writes_them(training):
    fast_file = channel("validation", f"s3://{BUCKET}/data/validation/")
    fast_file["InputMode"] = "FastFile"
    request = training.request("config-files")
    request["InputDataConfig"].append(fast_file)
    training.sm.create_training_job(**request)
    done = training.wait("config-files")
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")

    config = training.folder("config-files") / "input" / "config"
    hyperparameters = json.loads((config / "hyperparameters.json").read_text())
    assert hyperparameters == request["HyperParameters"]
    assert all(isinstance(v, str) for v in hyperparameters.values())
    channels = json.loads((config / "inputdataconfig.json").read_text())
    assert channels == {
        "train": {
            "ContentType": "text/csv",
            "TrainingInputMode": "File",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        },
        "validation": {
            "TrainingInputMode": "FastFile",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        },
    }
    resources = json.loads((config / "resourceconfig.json").read_text())
    assert resources["current_host"] == "algo-1"
    assert resources["hosts"] == ["algo-1"]
    assert resources["current_instance_type"] == "ml.m5.large"
    assert "network_interface_name" in resources
    # Channel data as the script saw it (FastFile behaves as File).
    seen = training.seen(done)
    assert seen["channels"] == {
        "train": ["nested/part-1.csv", "part-0.csv"],
        "validation": ["val.csv"],
    }
    assert seen["config"]["inputdataconfig.json"] == channels


@pytest.mark.parametrize("mode", ["namespace", "process"])
def test_script_gets_the_training_toolkit_environment_and_arguments(training, monkeypatch, mode):
    """Under a private mount namespace the paths are SageMaker's own (/opt/ml/...); in
    the fallback mode they point into the host's folder in the job folder."""
    if mode == "namespace" and not mountns.probe()[0]:
        pytest.skip(f"no private mount namespaces here: {mountns.probe()[1]}")
    monkeypatch.setenv(MODE_ENV, mode)
    done = training.run("environment")
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    seen = training.seen(done)
    env = seen["env"]
    root = Path("/opt/ml") if mode == "namespace" else training.folder("environment")

    assert seen["argv"] == ["--epochs", "3", "--learning-rate", "0.1", "--mode", "ok"]
    assert Path(seen["cwd"]) == root / "code"
    assert Path(env["SM_MODEL_DIR"]) == root / "model"
    assert Path(env["SM_OUTPUT_DATA_DIR"]) == root / "output" / "data"
    assert env["SM_CHANNELS"] == '["train"]'
    assert Path(env["SM_CHANNEL_TRAIN"]) == root / "input" / "data" / "train"
    assert json.loads(env["SM_HPS"]) == {"epochs": 3, "learning-rate": 0.1, "mode": "ok"}
    assert env["SM_HP_LEARNING-RATE"] == "0.1"
    assert env["SM_HP_EPOCHS"] == "3"
    assert env["SM_HP_MODE"] == "ok"
    assert not any(k.startswith("SM_HP_SAGEMAKER") for k in env)
    assert json.loads(env["SM_HOSTS"]) == ["algo-1"]
    assert env["SM_CURRENT_HOST"] == "algo-1"
    assert int(env["SM_NUM_CPUS"]) == os.cpu_count()
    assert env["SM_NUM_GPUS"] == "0"
    assert env["SM_USER_ENTRY_POINT"] == "train.py"
    assert json.loads(env["SM_USER_ARGS"]) == seen["argv"]
    training_env = json.loads(env["SM_TRAINING_ENV"])
    assert training_env["job_name"] == "environment"
    assert Path(training_env["channel_input_dirs"]["train"]) == root / "input" / "data" / "train"
    assert env["TRAINING_JOB_NAME"] == "environment"
    assert env["TRAINING_JOB_ARN"] == done["TrainingJobArn"]
    assert env["MY_SETTING"] == "on"  # the request's Environment


def test_logs_and_metrics_of_a_job(training):
    done = training.run("logged-job")
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")

    streams = training.logs.describe_log_streams(
        logGroupName=LOG_GROUP, logStreamNamePrefix="logged-job/"
    )["logStreams"]
    epoch = int(done["TrainingStartTime"].timestamp())
    assert [s["logStreamName"] for s in streams] == [f"logged-job/algo-1-{epoch}"]
    events = training.logs.get_log_events(
        logGroupName=LOG_GROUP, logStreamName=streams[0]["logStreamName"], startFromHead=True
    )["events"]
    messages = [e["message"] for e in events]
    assert "epoch 1: loss=0.75" in messages
    assert "epoch 2: loss=0.25#011acc=0.9" in messages  # tabs as SageMaker's agent writes them
    found = training.logs.filter_log_events(
        logGroupName=LOG_GROUP, logStreamNamePrefix="logged-job/", filterPattern="loss"
    )["events"]
    assert [e["message"] for e in found] == ["epoch 1: loss=0.75", "epoch 2: loss=0.25#011acc=0.9"]
    groups = training.logs.describe_log_groups(logGroupNamePrefix="/aws/sagemaker/")["logGroups"]
    assert LOG_GROUP in [g["logGroupName"] for g in groups]

    metrics = {m["MetricName"]: m for m in done["FinalMetricDataList"]}
    assert set(metrics) == {"train:loss", "train:acc"}
    assert metrics["train:loss"]["Value"] == 0.25  # the last value printed
    assert metrics["train:acc"]["Value"] == 0.9
    assert (
        done["TrainingStartTime"] <= metrics["train:loss"]["Timestamp"] <= done["TrainingEndTime"]
    )


def test_waiter_training_job_completed_or_stopped(training):
    training.start("waited-job")
    waiter = training.sm.get_waiter("training_job_completed_or_stopped")
    waiter.wait(TrainingJobName="waited-job", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    assert training.describe("waited-job")["TrainingJobStatus"] == "Completed"


# -- failures ----------------------------------------------------------------------------


def test_script_error_fails_the_job_with_the_toolkit_report(training):
    done = training.run("script-error", mode="fail")
    assert done["TrainingJobStatus"] == "Failed"
    assert done["SecondaryStatus"] == "Failed"
    assert done["SecondaryStatusTransitions"][-1]["Status"] == "Failed"
    reason = done["FailureReason"]
    assert reason.startswith("AlgorithmError: ExecuteUserScriptError")
    assert "ValueError: the data has no label column" in reason
    assert "ExitCode 1" in reason
    assert len(reason) <= len("AlgorithmError: ") + 1024
    assert "TrainingEndTime" in done
    messages = [
        e["message"]
        for e in training.logs.filter_log_events(
            logGroupName=LOG_GROUP, logStreamNamePrefix="script-error/"
        )["events"]
    ]
    assert "about to fail" in messages
    assert any("ValueError: the data has no label column" in m for m in messages)


def test_failure_file_gives_the_failure_reason(training):
    done = training.run("failure-file", mode="failure-file")
    assert done["TrainingJobStatus"] == "Failed"
    written = "custom failure: " + "x" * 2000
    assert done["FailureReason"] == "AlgorithmError: " + written[:1024]


def test_missing_input_prefix_fails_the_job(training):
    done = training.run(
        "missing-input",
        InputDataConfig=[channel("train", f"s3://{BUCKET}/nothing-here/")],
    )
    assert done["TrainingJobStatus"] == "Failed"
    assert done["FailureReason"].startswith(
        f'ClientError: No S3 objects found under S3 URL "s3://{BUCKET}/nothing-here/"'
    )
    assert done["ModelArtifacts"]["S3ModelArtifacts"] == ""


def test_custom_image_without_a_docker_engine_fails_with_the_reason(training, monkeypatch):
    # Point the docker SDK at an engine that cannot exist, so the test means the same on
    # a machine that has one (the runner inherits the environment).
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/simsage/docker.sock")
    images = {
        "custom-plain": "registry.example.com/team/trainer:1.0",
        "custom-ecr": "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-trainer:latest",
    }
    started = time.monotonic()
    for name, image in images.items():
        request = training.request(name)
        request["AlgorithmSpecification"]["TrainingImage"] = image
        training.sm.create_training_job(**request)
    for name, image in images.items():
        done = training.wait(name)
        assert done["TrainingJobStatus"] == "Failed"
        assert done["FailureReason"] == (
            f"AlgorithmError: The training image {image} is not a simsage built-in image "
            "(the SageMaker XGBoost and scikit-learn images are), and no Docker engine is "
            "available to run it."
        )
    assert time.monotonic() - started < 20  # the engine check fails fast
    log = (training.folder("custom-plain").parent / "runner.log").read_text()
    assert "no Docker engine" in log


# -- stopping ------------------------------------------------------------------------


def test_stop_training_job_stops_and_uploads_the_model_saved_on_sigterm(training):
    training.start("stopped-job", mode="sleep")
    training.pids("stopped-job")  # the script runs and handles SIGTERM

    training.sm.stop_training_job(TrainingJobName="stopped-job")
    assert training.describe("stopped-job")["TrainingJobStatus"] in ("Stopping", "Stopped")
    done = training.wait("stopped-job")

    assert done["TrainingJobStatus"] == "Stopped"
    assert done["SecondaryStatus"] == "Stopped"
    statuses = [t["Status"] for t in done["SecondaryStatusTransitions"]]
    assert statuses[-2:] == ["Stopping", "Stopped"]
    assert "Training" in statuses
    assert training.model(done) == {"saved-on-sigterm.txt": b"saved"}
    with pytest.raises(ClientError) as caught:
        training.sm.stop_training_job(TrainingJobName="stopped-job")
    assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_max_runtime_stops_the_job_as_max_runtime_exceeded(training):
    started = time.monotonic()
    done = training.run("timed-out", mode="sleep", StoppingCondition={"MaxRuntimeInSeconds": 2})
    assert time.monotonic() - started >= 2
    assert done["TrainingJobStatus"] == "Stopped"
    assert done["SecondaryStatus"] == "MaxRuntimeExceeded"
    assert [t["Status"] for t in done["SecondaryStatusTransitions"]][-2:] == [
        "Stopping",
        "MaxRuntimeExceeded",
    ]
    assert training.model(done) == {"saved-on-sigterm.txt": b"saved"}


def test_script_ignoring_sigterm_is_killed_with_its_children_after_the_grace_period(
    training, monkeypatch
):
    monkeypatch.setenv("SIMSAGE_STOP_GRACE_SECONDS", "1")  # the runner inherits it
    training.start("stubborn", mode="ignore-term")
    pids = training.pids("stubborn")
    assert _alive(pids["script"]) and _alive(pids["child"])

    asked = time.monotonic()
    training.sm.stop_training_job(TrainingJobName="stubborn")
    done = training.wait("stubborn")
    waited = time.monotonic() - asked

    assert done["TrainingJobStatus"] == "Stopped"
    assert waited >= 1.0  # SIGTERM was ignored: SIGKILL came after the grace period
    assert waited < 15
    wait_until(
        lambda: not _alive(pids["script"]) and not _alive(pids["child"]),
        timeout=5,
        what="the script and its child to be gone",
    )


def test_job_whose_runner_was_killed_is_failed_with_a_reason(training, simsage_local):
    training.start("orphaned", mode="sleep")
    pids = training.pids("orphaned")
    store = TrainingJobStore(Home.open(simsage_local.config))
    runner_pid = store.get("orphaned").runner_pid
    assert runner_pid and _alive(runner_pid)

    os.kill(runner_pid, signal.SIGKILL)
    done = training.wait("orphaned", timeout=40)

    assert done["TrainingJobStatus"] == "Failed"
    assert "runner" in done["FailureReason"]
    assert str(runner_pid) in done["FailureReason"]
    assert done["SecondaryStatusTransitions"][-1]["Status"] == "Failed"
    # Nobody is left running the script of a job that is over.
    wait_until(lambda: not _alive(pids["script"]), timeout=5, what="the script to be gone")
    listed = training.sm.list_training_jobs(NameContains="orphaned")["TrainingJobSummaries"]
    assert [s["TrainingJobStatus"] for s in listed] == ["Failed"]


# -- data, distribution, checkpoints, incremental training ---------------------------------


def test_distributed_job_shards_objects_across_hosts(training):
    keys = [f"shards/part-{i}.csv" for i in range(6)]
    for key in keys:
        training.put(key, b"1,0.5\n")
    done = training.run(
        "distributed",
        InputDataConfig=[
            channel("train", f"s3://{BUCKET}/shards/", S3DataDistributionType="ShardedByS3Key"),
            channel("validation", f"s3://{BUCKET}/data/validation/"),
        ],
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 1},
    )
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    assert done["BillableTimeInSeconds"] == done["TrainingTimeInSeconds"]  # per instance

    output = _untar(training.get("output/distributed/output/output.tar.gz"))
    assert set(output) == {"algo-1.json", "algo-2.json"}  # both hosts' output/data merged
    shards = {h: json.loads(output[f"{h}.json"])["channels"] for h in ("algo-1", "algo-2")}
    first, second = shards["algo-1"]["train"], shards["algo-2"]["train"]
    assert len(first) == len(second) == 3
    assert sorted(first + second) == sorted(k.split("/", 1)[1] for k in keys)
    assert shards["algo-1"]["validation"] == shards["algo-2"]["validation"] == ["val.csv"]

    for host in ("algo-1", "algo-2"):
        config = training.folder("distributed", host) / "input" / "config"
        resources = json.loads((config / "resourceconfig.json").read_text())
        assert resources["current_host"] == host
        assert resources["hosts"] == ["algo-1", "algo-2"]
        channels = json.loads((config / "inputdataconfig.json").read_text())
        assert channels["train"]["S3DistributionType"] == "ShardedByS3Key"
    # Both hosts wrote seen.json; the model holds one (later hosts win, as on SageMaker).
    seen = training.seen(done)
    assert json.loads(seen["env"]["SM_HOSTS"]) == ["algo-1", "algo-2"]
    assert seen["env"]["SM_CURRENT_HOST"] == "algo-2"
    streams = training.logs.describe_log_streams(
        logGroupName=LOG_GROUP, logStreamNamePrefix="distributed/"
    )["logStreams"]
    epoch = int(done["TrainingStartTime"].timestamp())
    assert sorted(s["logStreamName"] for s in streams) == [
        f"distributed/algo-1-{epoch}",
        f"distributed/algo-2-{epoch}",
    ]


def test_manifest_file_channel_stages_the_listed_objects(training):
    for key in ("manifest-data/a.csv", "manifest-data/sub/b.csv", "manifest-data/c.csv"):
        training.put(key, b"1,2\n")
    manifest = [{"prefix": f"s3://{BUCKET}/manifest-data/"}, "a.csv", "sub/b.csv"]
    training.put("manifests/train.manifest", json.dumps(manifest).encode())
    done = training.run(
        "manifest-job",
        InputDataConfig=[
            channel("train", f"s3://{BUCKET}/manifests/train.manifest", S3DataType="ManifestFile")
        ],
    )
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    assert training.seen(done)["channels"]["train"] == ["a.csv", "sub/b.csv"]


def test_checkpoints_are_restored_at_start_and_uploaded(training):
    training.put("checkpoints/ckpt-job/restored.txt", b"step=5")
    done = training.run(
        "ckpt-job", CheckpointConfig={"S3Uri": f"s3://{BUCKET}/checkpoints/ckpt-job"}
    )
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    assert training.seen(done)["checkpoints"] == {"restored.txt": "step=5"}
    assert training.get("checkpoints/ckpt-job/state-algo-1.txt") == b"written by algo-1"
    assert done["CheckpointConfig"]["S3Uri"] == f"s3://{BUCKET}/checkpoints/ckpt-job"


def test_incremental_training_gets_the_previous_model_in_the_model_channel(training):
    first = training.run("first-model")
    assert first["TrainingJobStatus"] == "Completed", first.get("FailureReason")
    model_channel = channel(
        "model",
        first["ModelArtifacts"]["S3ModelArtifacts"],
        "application/x-sagemaker-model",
    )
    model_channel["CompressionType"] = "None"
    request = training.request("second-model")
    request["InputDataConfig"].append(model_channel)
    training.sm.create_training_job(**request)
    second = training.wait("second-model")

    assert second["TrainingJobStatus"] == "Completed", second.get("FailureReason")
    seen = training.seen(second)
    assert seen["channels"]["model"] == ["model.tar.gz"]
    assert seen["previous_weights"] == "w=1"
    assert training.model(second)["sub/weights.txt"] == b"w=2"


# -- jobs outlive their creator; any process sees them -------------------------------------


def _python(code: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh Python process with this environment (SIMSAGE_HOME,
    SIMSAGE_BACKEND=local) and simsage importable."""
    pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**os.environ, "PYTHONPATH": pythonpath},
        capture_output=True,
        text=True,
        timeout=60,
    )


CREATE = """
import json, sys, simsage
sm = simsage.boto3_session().client("sagemaker")
print(sm.create_training_job(**json.loads(sys.argv[1]))["TrainingJobArn"])
"""

DESCRIBE = """
import sys, simsage
sm = simsage.boto3_session().client("sagemaker")
print(sm.describe_training_job(TrainingJobName=sys.argv[1])["TrainingJobStatus"])
"""


def test_job_outlives_the_process_that_created_it_and_any_process_sees_it(training):
    created = _python(CREATE, json.dumps(training.request("outliving-job")))
    assert created.returncode == 0, created.stderr
    arn = created.stdout.strip()
    assert arn.endswith(":training-job/outliving-job")

    done = training.wait("outliving-job")  # the creator has exited; the job goes on
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    assert done["TrainingJobArn"] == arn
    assert training.model(done)["sub/weights.txt"] == b"w=1"

    described = _python(DESCRIBE, "outliving-job")
    assert described.returncode == 0, described.stderr
    assert described.stdout.strip() == "Completed"
