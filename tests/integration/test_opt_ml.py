"""``/opt/ml`` at its real path and entrypoint commands, end to end: real boto3 clients,
the detached runner, the container processes.

Scripts here hard-code SageMaker's paths (``/opt/ml/model/model.joblib``,
``/opt/ml/input/data/train/...``) as real training scripts and the official SDK v3's
driver scripts do. They run in a private mount namespace in which each host's folder
is ``/opt/ml`` (skipped where this machine has none); the fallback (plain processes,
``SIMSAGE_CONTAINER_MODE=process``) is checked to say so in the job's log.
"""

from __future__ import annotations

import io
import json
import tarfile
import textwrap
import time

import pytest
from endpoint_helpers import SKLEARN, deploy, tar_gz

from simsage.runtime import mountns
from simsage.runtime.containers import MODE_ENV

XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "simsage-opt-ml"
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
TERMINAL = ("Completed", "Failed", "Stopped")
NAMESPACE_LINE = "simsage: /opt/ml is this container's own folder"

needs_namespaces = pytest.mark.skipif(
    not mountns.probe()[0], reason=f"no private mount namespaces here: {mountns.probe()[1]}"
)

# A training script that knows nothing of SM_* variables: SageMaker's paths, literally.
LITERAL = textwrap.dedent(
    """
    import glob, json, os, sys
    import joblib
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    rows = [np.loadtxt(p, delimiter=",", ndmin=2)
            for p in sorted(glob.glob("/opt/ml/input/data/train/*.csv"))]
    data = np.vstack(rows)
    model = LogisticRegression().fit(data[:, 1:], data[:, 0])
    joblib.dump(model, "/opt/ml/model/model.joblib")
    with open("/opt/ml/input/config/hyperparameters.json") as f:
        hps = json.load(f)
    home = hps.get("home", "")
    seen = {
        "python": sys.executable,
        "cwd": os.getcwd(),
        "argv": sys.argv[1:],
        "model_dir": os.environ.get("SM_MODEL_DIR"),
        "channel": os.environ.get("SM_CHANNEL_TRAIN"),
        "home_visible": bool(home) and os.path.exists(home) and bool(os.listdir(home)),
        "ml": sorted(os.listdir("/opt/ml")),
        "job": os.environ.get("TRAINING_JOB_NAME"),
    }
    with open("/opt/ml/model/seen.json", "w") as f:
        json.dump(seen, f)
    print("trained on", len(data), "rows", flush=True)
    """
)

# The shape of the SDK v3's sm_train.sh: find python3 and pip3 on PATH, read the config
# files, run the user's script from the code channel with that python.
DRIVER = textwrap.dedent(
    """\
    #!/bin/bash
    set -e
    SM_PYTHON_CMD=$(command -v python3 || command -v python)
    SM_PIP_CMD=$(command -v pip3 || command -v pip)
    if [[ -z "$SM_PYTHON_CMD" || -z "$SM_PIP_CMD" ]]; then
        echo "Error: The Python executable was not found in the system path."
        exit 1
    fi
    cat /opt/ml/input/config/resourceconfig.json
    echo
    cat /opt/ml/input/config/inputdataconfig.json > /dev/null
    cd /opt/ml/input/data/code
    echo "driver: running train.py with $SM_PYTHON_CMD"
    $SM_PYTHON_CMD train.py --from-driver yes
    """
)


def _tar(members: dict[str, bytes]) -> bytes:
    return tar_gz(members)


def _untar(body: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}


class Jobs:
    def __init__(self, local) -> None:
        self.local = local
        self.sm = local.client("sagemaker")
        self.s3 = local.client("s3")
        self.logs = local.client("logs")
        self.s3.create_bucket(Bucket=BUCKET)
        self.put("data/train/part-0.csv", b"0,0.1\n0,0.2\n1,0.8\n1,0.9\n")
        self.put("code/train.py", LITERAL.encode())
        self.put("drivers/sm_train.sh", DRIVER.encode())
        self.put("source/sourcedir.tar.gz", _tar({"train.py": LITERAL.encode()}))

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)

    def start(self, name: str, image: str = SKLEARN, channels=("train",), **algorithm) -> None:
        prefixes = {"train": "data/train/", "code": "code/", "sm_drivers": "drivers/"}
        hyperparameters = algorithm.pop("HyperParameters", {})
        self.sm.create_training_job(
            TrainingJobName=name,
            AlgorithmSpecification={
                "TrainingImage": image,
                "TrainingInputMode": "File",
                **algorithm,
            },
            RoleArn=ROLE,
            HyperParameters={"home": str(self.local.home), **hyperparameters},
            InputDataConfig=[
                {
                    "ChannelName": c,
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": f"s3://{BUCKET}/{prefixes[c]}",
                        }
                    },
                }
                for c in channels
            ],
            OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/output"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 300},
        )

    def wait(self, name: str, timeout: float = 90.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = self.sm.describe_training_job(TrainingJobName=name)
            if done["TrainingJobStatus"] in TERMINAL:
                return done
            time.sleep(0.05)
        raise AssertionError(f"{name} did not finish")

    def model(self, done: dict) -> dict[str, bytes]:
        uri = done["ModelArtifacts"]["S3ModelArtifacts"]
        key = uri[len(f"s3://{BUCKET}/") :]
        return _untar(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())

    def messages(self, name: str) -> list[str]:
        events = self.logs.filter_log_events(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{name}/")
        return [e["message"] for e in events["events"]]


@pytest.fixture
def jobs(simsage_local) -> Jobs:
    return Jobs(simsage_local)


def _script_mode(jobs: Jobs) -> dict:
    source = f"s3://{BUCKET}/source/sourcedir.tar.gz"
    return {
        "sagemaker_program": '"train.py"',
        "sagemaker_submit_directory": json.dumps(source),
    }


@needs_namespaces
def test_a_script_writing_literal_opt_ml_paths_trains_and_its_model_is_uploaded(jobs):
    jobs.start("literal", HyperParameters=_script_mode(jobs))
    done = jobs.wait("literal")
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    model = jobs.model(done)
    assert set(model) == {"model.joblib", "seen.json"}
    seen = json.loads(model["seen.json"])
    assert seen["model_dir"] == "/opt/ml/model"
    assert seen["channel"] == "/opt/ml/input/data/train"
    assert seen["cwd"] == "/opt/ml/code"
    assert seen["home_visible"] is False  # SIMSAGE_HOME (every job's tree) is hidden
    assert "trained on 4 rows" in jobs.messages("literal")
    assert any(m.startswith(NAMESPACE_LINE) for m in jobs.messages("literal"))


@needs_namespaces
def test_sklearn_image_runs_container_entrypoint_and_arguments(jobs):
    jobs.start(
        "entrypoint-sklearn",
        channels=("train", "code"),
        ContainerEntrypoint=["python3", "/opt/ml/input/data/code/train.py"],
        ContainerArguments=["--epochs", "2"],
    )
    done = jobs.wait("entrypoint-sklearn")
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    seen = json.loads(jobs.model(done)["seen.json"])
    assert seen["argv"] == ["--epochs", "2"]
    assert seen["job"] == "entrypoint-sklearn"
    assert "model.joblib" in jobs.model(done)


@needs_namespaces
def test_xgboost_image_runs_a_bash_driver_as_the_sdk_v3_does(jobs):
    """ContainerEntrypoint ["/bin/bash"] with "-c" arguments, the code and sm_drivers
    channels beside train (the built-in algorithm's channel check does not apply), and
    python3/pip3 on PATH being simsage's interpreter."""
    jobs.start(
        "entrypoint-xgboost",
        image=XGBOOST,
        channels=("train", "code", "sm_drivers"),
        ContainerEntrypoint=["/bin/bash"],
        ContainerArguments=[
            "-c",
            "chmod +x /opt/ml/input/data/sm_drivers/sm_train.sh "
            "&& /opt/ml/input/data/sm_drivers/sm_train.sh",
        ],
        HyperParameters={"max_depth": "3"},  # not checked against the built-in's rules
    )
    done = jobs.wait("entrypoint-xgboost")
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    seen = json.loads(jobs.model(done)["seen.json"])
    assert seen["argv"] == ["--from-driver", "yes"]
    assert seen["cwd"] == "/opt/ml/input/data/code"
    messages = jobs.messages("entrypoint-xgboost")
    assert "driver: running train.py with /opt/simsage/bin/python3" in messages
    assert any('"current_host": "algo-1"' in m for m in messages)  # resourceconfig.json


def test_arguments_alone_replace_train_and_a_failing_command_fails_the_job(jobs):
    jobs.start(
        "arguments-only",
        ContainerArguments=["/bin/sh", "-c", "echo about to fail; exit 7"],
    )
    done = jobs.wait("arguments-only")
    assert done["TrainingJobStatus"] == "Failed"
    assert "exit code 7" in done["FailureReason"]
    assert "about to fail" in done["FailureReason"]


def test_an_entrypoint_that_does_not_exist_fails_the_job_with_the_reason(jobs):
    jobs.start("no-such-entrypoint", ContainerEntrypoint=["/no/such/program"])
    done = jobs.wait("no-such-entrypoint")
    assert done["TrainingJobStatus"] == "Failed"
    assert "/no/such/program" in done["FailureReason"]


def test_fallback_mode_maps_opt_ml_into_the_job_folder_and_says_so(jobs, monkeypatch):
    monkeypatch.setenv(MODE_ENV, "process")
    jobs.start("fallback", HyperParameters=_script_mode(jobs))
    done = jobs.wait("fallback")
    # The script hard-codes /opt/ml: without a namespace it cannot find its data.
    assert done["TrainingJobStatus"] == "Failed"
    messages = jobs.messages("fallback")
    assert any(
        m.startswith("simsage: no private mount namespace (SIMSAGE_CONTAINER_MODE=process)")
        for m in messages
    )
    assert not any(m.startswith(NAMESPACE_LINE) for m in messages)


@needs_namespaces
def test_two_concurrent_jobs_each_see_only_their_own_tree(jobs):
    watcher = textwrap.dedent(
        """
        import json, os, sys, time
        with open("/opt/ml/input/config/hyperparameters.json") as f:
            hps = json.load(f)
        me, other, home = hps["me"], hps["other"], hps["home"]
        open(f"/opt/ml/model/{me}.mark", "w").close()
        deadline = time.time() + 3
        leaked = []
        while time.time() < deadline:
            leaked += [n for n in os.listdir("/opt/ml/model") if n != f"{me}.mark"]
            leaked += [home] if os.path.exists(os.path.join(home, "state.db")) else []
            time.sleep(0.05)
        json.dump({"leaked": sorted(set(leaked))}, open("/opt/ml/model/seen.json", "w"))
        """
    )
    jobs.put("code/watch.py", watcher.encode())
    command = ["python3", "/opt/ml/input/data/code/watch.py"]
    for me, other in (("left", "right"), ("right", "left")):
        jobs.start(
            me,
            channels=("code",),
            ContainerEntrypoint=command,
            HyperParameters={"me": me, "other": other},
        )
    for name in ("left", "right"):
        done = jobs.wait(name)
        assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
        model = jobs.model(done)
        assert set(model) == {f"{name}.mark", "seen.json"}
        assert json.loads(model["seen.json"]) == {"leaked": []}


LITERAL_INFERENCE = textwrap.dedent(
    """
    import json, os, pickle

    def model_fn(model_dir):
        with open("/opt/ml/model/model.pkl", "rb") as f:
            return {"model": pickle.load(f), "dir": model_dir, "cwd": os.getcwd()}

    def input_fn(body, content_type):
        return json.loads(body)["instances"]

    def predict_fn(data, loaded):
        return {"labels": loaded["model"].predict(data).tolist(), "dir": loaded["dir"],
                "cwd": loaded["cwd"], "listing": sorted(os.listdir("/opt/ml"))}

    def output_fn(prediction, accept):
        return json.dumps(prediction), "application/json"
    """
)


@needs_namespaces
def test_an_endpoint_instance_reads_opt_ml_model_literally(simsage_local):
    import pickle

    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit([[0.0], [0.1], [0.9], [1.0]], [0, 0, 1, 1])
    artifact = tar_gz(
        {"model.pkl": pickle.dumps(model), "code/inference.py": LITERAL_INFERENCE.encode()}
    )
    deploy(
        simsage_local,
        "literal-endpoint",
        {"literal-model": artifact},
        image=SKLEARN,
        environment={"SAGEMAKER_PROGRAM": "inference.py"},
    )
    runtime = simsage_local.client("sagemaker-runtime")
    response = runtime.invoke_endpoint(
        EndpointName="literal-endpoint",
        Body=json.dumps({"instances": [[0.05], [0.95]]}),
        ContentType="application/json",
    )
    answer = json.loads(response["Body"].read())
    assert answer["labels"] == [0, 1]
    assert answer["dir"] == "/opt/ml/model"
    assert answer["cwd"] == "/opt/ml/model"
    assert "model" in answer["listing"]
    logs = simsage_local.client("logs")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the supervisor ships log lines in batches
        events = logs.filter_log_events(logGroupName="/aws/sagemaker/Endpoints/literal-endpoint")
        if any(e["message"].startswith(NAMESPACE_LINE) for e in events["events"]):
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the instance's log does not say how /opt/ml is provided")
    simsage_local.client("sagemaker").delete_endpoint(EndpointName="literal-endpoint")
