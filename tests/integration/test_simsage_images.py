"""simsage's own images built for real: ``simsage images build`` on a Docker engine, then
the image run the way SageMaker runs it (``docker run <image> train`` with ``/opt/ml``
bind-mounted, ``docker run <image> serve`` with port 8080 published on 127.0.0.1).

Opt-in: building pip-installs simsage's dependencies into the image (about 40 s on the
machine this was written on, with a fast PyPI proxy; minutes elsewhere), so these run
only with ``SIMSAGE_TEST_IMAGE_BUILD=1``, a Docker engine that answers, and the base
image on it (``SIMSAGE_TEST_BASE_IMAGE``, default ``simsage-base:bookworm``, made by
``.ci/docker-engine``; no registry is needed). Each test builds under its own
``simsage-it-<random>-`` prefix and removes its image and containers. The engine's
layer cache shares the pip step between the images, so a second build is seconds.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import docker.errors
import pytest
from docker_helpers import ecr_name, engine_or_skip, leftovers_after, unavailable

from simsage.runtime.python import child_environment

pytestmark = [pytest.mark.docker, pytest.mark.slow]

BASE_IMAGE = os.environ.get("SIMSAGE_TEST_BASE_IMAGE", "simsage-base:bookworm")
BUCKET = "simsage-images"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


@pytest.fixture(scope="module")
def engine():
    if os.environ.get("SIMSAGE_TEST_IMAGE_BUILD") != "1":
        pytest.skip(
            "building an image pip-installs simsage's dependencies (slow): "
            "set SIMSAGE_TEST_IMAGE_BUILD=1 to run it"
        )
    client = engine_or_skip()
    try:
        client.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        client.close()
        unavailable(
            f"the base image {BASE_IMAGE} is not on the engine (.ci/docker-engine makes it)"
        )
    yield client
    client.close()


@pytest.fixture(scope="module")
def built(engine):
    """``build(name) -> (tag, seconds)``: ``simsage images build <name>`` under a prefix
    of this module's own, once per name (the tests share the images: each build costs
    tens of seconds); the images and the containers made from them are removed after."""
    prefix = f"simsage-it-{secrets.token_hex(4)}-"
    tags: list[str] = []
    done_builds: dict[str, tuple[str, float]] = {}

    def build(name: str) -> tuple[str, float]:
        if name in done_builds:
            return done_builds[name]
        started = time.monotonic()
        command = [sys.executable, "-m", "simsage", "images", "build", name]
        command += ["--base-image", BASE_IMAGE, "--prefix", prefix, "--tag", "it"]
        env = child_environment()  # this checkout's simsage first on the child's path
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800, env=env)
        seconds = time.monotonic() - started
        tag = f"{prefix}{name}:it"
        tags.append(tag)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr
        assert done.stdout.splitlines()[-1].startswith(f"built {tag} (sha256:")
        print(f"simsage images build {name}: {seconds:.1f} s")
        done_builds[name] = (tag, seconds)
        return tag, seconds

    yield build
    for tag in tags:
        for container in engine.containers.list(all=True, filters={"ancestor": tag}):
            container.remove(force=True)
        with contextlib.suppress(docker.errors.ImageNotFound):
            engine.images.remove(tag, force=True)


def _opt_ml(root: Path, hyperparameters: dict, rows: list[str]) -> Path:
    """A training job's /opt/ml as SageMaker lays it out, by hand."""
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (root / "input" / "data" / "train").mkdir(parents=True)
    (root / "model").mkdir()
    (root / "output").mkdir()
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    channel = {"ContentType": "text/csv;label_size=0", "TrainingInputMode": "File"}
    (config / "inputdataconfig.json").write_text(json.dumps({"train": channel}))
    resource = {
        "current_host": "algo-1",
        "hosts": ["algo-1"],
        "current_instance_type": "ml.m5.large",
    }
    (config / "resourceconfig.json").write_text(json.dumps(resource))
    (root / "input" / "data" / "train" / "a.csv").write_text("\n".join(rows) + "\n")
    root.chmod(0o777)  # the container's root user writes into it whatever our uid
    return root


def _request(port: int, method: str, path: str, body: bytes = b"", content_type: str = ""):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Content-Type": content_type} if content_type else {}
        connection.request(method, path, body=body, headers=headers)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def _wait_for_ping(container, port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        assert container.status in ("created", "running"), container.logs().decode()
        try:
            if _request(port, "GET", "/ping")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"/ping never answered 200: {container.logs().decode()}")


def test_the_kmeans_image_builds_trains_and_serves_as_sagemaker_runs_it(
    engine, built, tmp_path, simsage_home
):
    tag, seconds = built("kmeans")
    image = engine.images.get(tag)
    assert image.labels["simsage.image"] == "kmeans"
    assert image.attrs["Config"]["Entrypoint"] == ["python", "-m", "simsage.algorithms.image_entry"]
    assert "8080/tcp" in image.attrs["Config"]["ExposedPorts"]

    blobs = [(0.0, 0.0), (6.0, 6.0), (-6.0, 6.0)]
    rows = [
        f"{x + 0.1 * (i % 5)},{y - 0.1 * (i % 3)}" for i in range(60) for x, y in [blobs[i % 3]]
    ]
    hyperparameters = {"k": "3", "feature_dim": "2", "mini_batch_size": "20", "epochs": "2"}
    root = _opt_ml(tmp_path / "opt_ml", hyperparameters, rows)
    logs = engine.containers.run(
        tag,
        ["train"],
        volumes={str(root): {"bind": "/opt/ml", "mode": "rw"}},
        environment={"TRAINING_JOB_NAME": "it-kmeans"},
        remove=True,
        stdout=True,
        stderr=True,
    ).decode()
    assert "#quality_metric: host=algo-1, train msd <loss>=" in logs
    assert (root / "output" / "success").exists(), logs
    model = json.loads((root / "model" / "kmeans-model.json").read_text())
    centers = sorted((round(c[0]), round(c[1])) for c in model["centers"])
    assert centers == [(-6, 6), (0, 0), (6, 6)], model

    server = engine.containers.run(
        tag,
        ["serve"],
        volumes={str(root / "model"): {"bind": "/opt/ml/model", "mode": "ro"}},
        ports={"8080/tcp": ("127.0.0.1", None)},  # the host side on loopback only
        detach=True,
    )
    try:
        server.reload()
        port = int(server.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"])
        _wait_for_ping(server, port)
        status, body = _request(port, "POST", "/invocations", b"0.1,0\n6,6.1\n", "text/csv")
        assert status == 200, body
        predictions = json.loads(body)["predictions"]
        assert len(predictions) == 2
        first, second = (p["closest_cluster"] for p in predictions)
        assert first != second
        status, body = _request(port, "GET", "/execution-parameters")
        assert status == 200 and json.loads(body)["BatchStrategy"] == "MULTI_RECORD"
        server.stop(timeout=10)  # SIGTERM: the server drains and exits 0
        assert server.wait(timeout=15)["StatusCode"] == 0
        output = server.logs().decode()
        assert "simsage-serving: listening on 0.0.0.0:8080" in output
        assert "simsage-serving: stopped" in output
    finally:
        server.remove(force=True)
    print(f"kmeans image: built in {seconds:.1f} s")


def _sourcedir(folder: Path) -> Path:
    script = folder / "train.py"
    script.write_text(
        "import argparse, glob, os, pickle\n"
        "import numpy as np\n"
        "from sklearn.linear_model import LinearRegression\n"
        "parser = argparse.ArgumentParser()\n"
        "parser.add_argument('--fit-intercept', default='true')\n"
        "args = parser.parse_args()\n"
        "path = glob.glob(os.path.join(os.environ['SM_CHANNEL_TRAIN'], '*.csv'))[0]\n"
        "rows = np.loadtxt(path, delimiter=',')\n"
        "model = LinearRegression(fit_intercept=args.fit_intercept == 'true')\n"
        "model.fit(rows[:, 1:], rows[:, 0])\n"
        "print('coefficient', round(float(model.coef_[0]), 3), 'in', os.getcwd())\n"
        "pickle.dump(model, open(os.path.join(os.environ['SM_MODEL_DIR'], 'model.pkl'), 'wb'))\n"
    )
    archive = folder / "sourcedir.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(script, arcname="train.py")
    return archive


def test_the_sklearn_image_runs_a_script_mode_job_under_simsages_docker_engine(
    built, tmp_path, simsage_local
):
    """A custom (non-ECR) training image in script mode: simsage's runner stages
    sagemaker_submit_directory into the job folder it mounts as /opt/ml, so the image
    finds the code in /opt/ml/code without reaching S3."""
    tag, _ = built("sklearn")
    session = simsage_local.session(region_name="us-east-1")
    s3, sm = session.client("s3"), session.client("sagemaker")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(
        Bucket=BUCKET, Key="train/a.csv", Body="".join(f"{3 * i + 1},{i}\n" for i in range(30))
    )
    s3.upload_file(str(_sourcedir(tmp_path)), BUCKET, "code/sourcedir.tar.gz")
    sm.create_training_job(
        TrainingJobName="sklearn-image",
        AlgorithmSpecification={"TrainingImage": tag, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        HyperParameters={
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(f"s3://{BUCKET}/code/sourcedir.tar.gz"),
            "fit-intercept": "true",
        },
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/train/"}
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )
    deadline = time.monotonic() + 300
    while True:
        described = sm.describe_training_job(TrainingJobName="sklearn-image")
        if described["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        assert time.monotonic() < deadline, described
        time.sleep(0.3)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    logs = session.client("logs")
    group = "/aws/sagemaker/TrainingJobs"
    stream = logs.describe_log_streams(logGroupName=group)["logStreams"][0]["logStreamName"]
    events = logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]
    text = "\n".join(e["message"] for e in events)
    assert "coefficient 3.0 in /opt/ml/code" in text, text
    key = described["ModelArtifacts"]["S3ModelArtifacts"].removeprefix(f"s3://{BUCKET}/")
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    with tarfile.open(archive) as tar:
        assert tar.getnames() == ["model.pkl"]


def test_the_xgboost_image_trains_serves_and_transforms_under_simsage(engine, built, simsage_local):
    """The same image, named as code written for SageMaker names it (its ECR URI), is a
    custom image to simsage: the built-in XGBoost algorithm trains in its container, and
    an endpoint and a batch transform serve the model from containers started with
    ``serve``."""
    import numpy as np

    tag, _ = built("xgboost")
    image = ecr_name(tag)
    session = simsage_local.session(region_name="us-east-1")
    s3, sm = session.client("s3"), session.client("sagemaker")
    runtime = session.client("sagemaker-runtime")
    s3.create_bucket(Bucket=BUCKET)
    rng = np.random.default_rng(0)
    x = rng.random((400, 3))
    rows = "".join(f"{int(r[0] > 0.5)},{r[0]:.4f},{r[1]:.4f},{r[2]:.4f}\n" for r in x)
    s3.put_object(Bucket=BUCKET, Key="xgb/train/t.csv", Body=rows.encode())
    s3.put_object(Bucket=BUCKET, Key="xgb/batch/b.csv", Body=b"0.9,0.1,0.1\n0.1,0.5,0.5\n")
    sm.create_training_job(
        TrainingJobName="xgb-image",
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        HyperParameters={"objective": "binary:logistic", "num_round": "20"},
        InputDataConfig=[
            {
                "ChannelName": "train",
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{BUCKET}/xgb/train/",
                    }
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/xgb/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )
    sm.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName="xgb-image", WaiterConfig={"Delay": 1, "MaxAttempts": 300}
    )
    job = sm.describe_training_job(TrainingJobName="xgb-image")
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    sm.create_model(
        ModelName="xgb-image",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": image,
            "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"],
        },
    )
    sm.create_endpoint_config(
        EndpointConfigName="xgb-image",
        ProductionVariants=[
            {
                "VariantName": "main",
                "ModelName": "xgb-image",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sm.create_endpoint(EndpointName="xgb-image", EndpointConfigName="xgb-image")
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName="xgb-image", WaiterConfig={"Delay": 1, "MaxAttempts": 300}
    )
    try:
        answer = runtime.invoke_endpoint(
            EndpointName="xgb-image", Body=b"0.9,0.1,0.1\n0.1,0.5,0.5", ContentType="text/csv"
        )
        high, low = (float(v) for v in answer["Body"].read().split())
        assert high > 0.9 and low < 0.1
    finally:
        sm.delete_endpoint(EndpointName="xgb-image")
    assert leftovers_after(engine, "xgb-image") == []

    sm.create_transform_job(
        TransformJobName="xgb-image",
        ModelName="xgb-image",
        TransformInput={
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/xgb/batch/"}
            },
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/xgb/scored"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    sm.get_waiter("transform_job_completed_or_stopped").wait(
        TransformJobName="xgb-image", WaiterConfig={"Delay": 1, "MaxAttempts": 300}
    )
    done = sm.describe_transform_job(TransformJobName="xgb-image")
    assert done["TransformJobStatus"] == "Completed", done.get("FailureReason")
    scored = s3.get_object(Bucket=BUCKET, Key="xgb/scored/b.csv.out")["Body"].read().split()
    assert [float(v) > 0.5 for v in scored] == [True, False]
    assert leftovers_after(engine, "xgb-image") == []
