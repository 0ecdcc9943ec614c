"""A runner that dies says why: the training or transform job's FailureReason names the
signal that killed the runner (or its exit code, or that nobody saw how it ended) and
quotes the last lines of runner.log; a revived endpoint supervisor logs how the previous
one ended."""

from __future__ import annotations

import io
import json
import os
import signal
import tarfile
from pathlib import Path

from endpoint_helpers import deploy, score, xgboost_artifact
from test_training_jobs import CREATE, Training, _python, wait_until

from simsage.home import Home
from simsage.hosting.endpoint_state import EndpointStore
from simsage.runtime.processes import alive as pid_alive
from simsage.training.jobs import TrainingJobStore
from simsage.transform.jobs import TransformJobStore

SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def _runner_pid(simsage_local, name: str) -> int:
    return TrainingJobStore(Home.open(simsage_local.config)).get(name).runner_pid


def test_killed_training_runner_reports_the_signal_and_its_last_log_lines(simsage_local):
    training = Training(simsage_local)
    training.start("sigkilled", mode="sleep")
    training.pids("sigkilled")  # the script runs
    pid = _runner_pid(simsage_local, "sigkilled")
    os.kill(pid, signal.SIGKILL)

    done = training.wait("sigkilled")
    assert done["TrainingJobStatus"] == "Failed"
    reason = done["FailureReason"]
    assert reason.startswith(
        f"InternalServerError: the simsage job runner (pid {pid}) was killed by signal 9 "
        "(SIGKILL) before the job finished. Last lines of runner.log: "
    )
    assert "simsage: training simsage.algorithms.script_mode on 1 host(s)" in reason


def test_runner_whose_launcher_is_gone(simsage_local):
    """Created from another process that has exited: a SIGTERM is still recorded (by the
    runner itself), a SIGKILL cannot be, and the reason says so."""
    training = Training(simsage_local)
    for name in ("orphan-term", "orphan-kill"):
        created = _python(CREATE, json.dumps(training.request(name, mode="sleep")))
        assert created.returncode == 0, created.stderr
    pids = {name: _runner_pid(simsage_local, name) for name in ("orphan-term", "orphan-kill")}
    for name in pids:
        training.pids(name)
    os.kill(pids["orphan-term"], signal.SIGTERM)
    os.kill(pids["orphan-kill"], signal.SIGKILL)

    term = training.wait("orphan-term")["FailureReason"]
    assert f"(pid {pids['orphan-term']}) was killed by signal 15 (SIGTERM)" in term
    kill = training.wait("orphan-kill")["FailureReason"]
    assert f"(pid {pids['orphan-kill']}) ended with an unknown exit status" in kill
    assert "Last lines of runner.log: simsage: training job orphan-kill" in kill


SLOW_MODEL = "import time\n\ndef model_fn(model_dir):\n    time.sleep(60)\n"


def _tar(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def test_killed_transform_runner_reports_the_signal(simsage_local):
    s3, sm = simsage_local.client("s3"), simsage_local.client("sagemaker")
    s3.create_bucket(Bucket="runner-death")
    s3.put_object(
        Bucket="runner-death",
        Key="models/slow.tar.gz",
        Body=_tar({"code/inference.py": SLOW_MODEL.encode()}),
    )
    s3.put_object(Bucket="runner-death", Key="in/rows.csv", Body=b"1,2,3\n")
    sm.create_model(
        ModelName="slow",
        PrimaryContainer={
            "Image": SKLEARN,
            "ModelDataUrl": "s3://runner-death/models/slow.tar.gz",
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
        },
        ExecutionRoleArn=ROLE,
    )
    sm.create_transform_job(
        TransformJobName="killed-transform",
        ModelName="slow",
        TransformInput={
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://runner-death/in/"}
            },
            "ContentType": "text/csv",
        },
        TransformOutput={"S3OutputPath": "s3://runner-death/out"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    job = TransformJobStore(Home.open(simsage_local.config)).get("killed-transform")
    log = Path(job.job_dir) / "runner.log"
    wait_until(
        lambda: log.is_file() and "transform servers started" in log.read_text(),
        what="the transform servers to start",
    )
    os.kill(job.runner_pid, signal.SIGKILL)

    def failed():
        described = sm.describe_transform_job(TransformJobName="killed-transform")
        return described["TransformJobStatus"] == "Failed" and described

    reason = wait_until(failed, what="the transform job to fail")["FailureReason"]
    assert reason.startswith(
        f"InternalServerError: the simsage job runner (pid {job.runner_pid}) was killed by "
        "signal 9 (SIGKILL) before the job finished. Last lines of runner.log: "
    )
    assert "simsage: transform servers started" in reason


def test_a_revived_endpoint_supervisor_logs_how_the_previous_one_ended(simsage_local):
    deploy(simsage_local, "revived", {"revived-model": xgboost_artifact()})
    store = EndpointStore(Home.open(simsage_local.config))
    endpoint = store.find("revived")
    pids = [i.pid for i in store.instances("revived")]
    os.kill(endpoint.supervisor_pid, signal.SIGKILL)
    wait_until(lambda: not any(pid_alive(p) for p in pids), what="the instances to follow")
    # The next call finds no supervisor, starts one and waits for the instance.
    assert score(simsage_local.client("sagemaker-runtime"), "revived")[0] > 0.5
    log = (Path(endpoint.folder) / "runner.log").read_text()
    assert (
        f"simsage: the endpoint supervisor (pid {endpoint.supervisor_pid}) was killed by "
        "signal 9 (SIGKILL); starting a new one"
    ) in log
