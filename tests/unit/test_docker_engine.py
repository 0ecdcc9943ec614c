"""Custom training images under Docker (simsage/runtime/docker_engine.py).

There is no Docker engine on the machines these tests run on, so everything that needs
one talks to ``FakeDocker`` below: a small test double of the slice of the docker SDK
the engine code calls (``images``, ``networks``, ``containers``, and containers'
``start``/``logs``/``wait``/``kill``/``remove``). It records every call, so the tests
check the ``docker run`` arguments simsage builds (mounts, environment, command,
network, hostnames and aliases) and the runner's handling of containers (logs, exit
codes, stop, clean-up). What it cannot show is that a real engine accepts those
arguments and that containers really resolve each other by name.

Without the double: :func:`connect` against a missing socket and against an engine that
never answers (it must give up quickly).
"""

from __future__ import annotations

import io
import json
import signal
import socket
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import docker.errors
import pytest

from simsage.home import Home
from simsage.processing.runner import Runner as ProcessingRunner
from simsage.runtime import docker_engine, instance_types, launcher
from simsage.runtime.docker_engine import (
    ContainerProcess,
    DockerEngine,
    EngineError,
    HostSpec,
    container_command,
    container_environment,
    container_options,
    local_name,
)
from simsage.runtime.model_setup import serving_plan
from simsage.training.runner import Runner

IMAGE = "registry.example.com/team/trainer:1.0"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "simsage-docker"


# -- the test double of the docker SDK ----------------------------------------------------


class FakeContainer:
    """A container whose "image" is a Python function ``program(container) -> exit
    code``, run in a thread on start. It sees the bind-mounted ``/opt/ml`` as
    ``container.opt_ml`` and its environment as ``container.env``, prints with ``say``
    and can wait for signals with ``wait_signal``."""

    def __init__(self, client: FakeDocker, options: dict) -> None:
        self.client = client
        self.options = options
        self.name = options["name"]
        self.signals: list[int] = []
        self.removed = False
        self.started = False
        self._chunks: list[bytes | None] = []
        self._cond = threading.Condition()
        self._code: int | None = None
        self.attrs: dict = {"State": {"Pid": 0}}  # no host process: the relay skips it

    def reload(self) -> None:
        pass

    @property
    def opt_ml(self) -> Path:
        (source,) = [s for s, v in self.options["volumes"].items() if v["bind"] == "/opt/ml"]
        return Path(source)

    @property
    def env(self) -> dict[str, str]:
        return self.options["environment"]

    def say(self, data: bytes) -> None:
        with self._cond:
            self._chunks.append(data)
            self._cond.notify_all()

    def wait_signal(self, timeout: float = 10.0) -> int | None:
        with self._cond:
            self._cond.wait_for(lambda: self.signals, timeout)
            return self.signals[0] if self.signals else None

    # the SDK's Container methods the engine uses
    def start(self) -> None:
        self.client.calls.append(("start", self.name))
        self.started = True
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        code = self.client.program(self)
        with self._cond:
            self._code = code
            self._chunks.append(None)
            self._cond.notify_all()

    def logs(self, stream: bool, follow: bool, stdout: bool, stderr: bool):
        assert stream and follow and stdout and stderr

        def chunks():
            position = 0
            while True:
                with self._cond:
                    self._cond.wait_for(lambda p=position: len(self._chunks) > p)
                    chunk = self._chunks[position]
                position += 1
                if chunk is None:
                    return
                yield chunk

        return chunks()

    def wait(self) -> dict:
        with self._cond:
            self._cond.wait_for(lambda: self._code is not None)
            return {"StatusCode": self._code}

    def kill(self, signal: int | None = None) -> None:
        self.client.calls.append(("kill", self.name, signal))
        with self._cond:
            self.signals.append(signal)
            self._cond.notify_all()

    def remove(self, force: bool = False) -> None:
        self.client.calls.append(("remove", self.name, force))
        self.removed = True


class FakeNetwork:
    def __init__(self, client: FakeDocker, name: str) -> None:
        self.client, self.name = client, name

    def remove(self) -> None:
        self.client.calls.append(("remove-network", self.name))


class FakeDocker:
    """Records calls; ``images`` lists what the engine "has", ``pull_error`` makes pulls
    fail, ``program`` is what every container runs."""

    def __init__(self, program=None, images=(IMAGE,), pull_error: str | None = None) -> None:
        self.program = program or (lambda container: 0)
        self.calls: list[tuple] = []
        self.created: list[FakeContainer] = []
        self.known_images = set(images)
        self.pull_error = pull_error
        self.images = _Namespace(get=self._get_image, pull=self._pull)
        self.networks = _Namespace(create=self._create_network, get=self._get_network)
        self.containers = _Namespace(create=self._create_container, get=self._get_container)
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def _get_container(self, name: str):
        self.calls.append(("get", name))
        for container in self.created:
            if container.name == name and not container.removed:
                return container
        raise docker.errors.NotFound(f"No such container: {name}")

    def _get_network(self, name: str):
        self.calls.append(("get-network", name))
        if ("create-network", name) not in [call[:2] for call in self.calls]:
            raise docker.errors.NotFound(f"network {name} not found")
        return FakeNetwork(self, name)

    def _get_image(self, uri: str):
        self.calls.append(("get-image", uri))
        if uri not in self.known_images:
            raise docker.errors.ImageNotFound(f"No such image: {uri}")
        return object()

    def _pull(self, uri: str):
        self.calls.append(("pull", uri))
        if self.pull_error:
            raise docker.errors.APIError(self.pull_error)
        self.known_images.add(uri)
        return object()

    def _create_network(self, name: str, **options):
        self.calls.append(("create-network", name, options))
        return FakeNetwork(self, name)

    def _create_container(self, **options):
        self.calls.append(("create", options["name"]))
        container = FakeContainer(self, options)
        self.created.append(container)
        return container


class _Namespace:
    def __init__(self, **methods) -> None:
        self.__dict__.update(methods)


# -- arguments --------------------------------------------------------------------------


def test_command_is_train_unless_the_algorithm_specification_overrides_it():
    assert container_command({}) == (None, ["train"])
    assert container_command({"ContainerArguments": ["fit", "--fast"]}) == (None, ["fit", "--fast"])
    assert container_command({"ContainerEntrypoint": ["python", "/app/train.py"]}) == (
        ["python", "/app/train.py"],
        None,  # the image's CMD (and "train") are not added to an explicit entrypoint
    )
    assert container_command(
        {"ContainerEntrypoint": ["python", "/app/train.py"], "ContainerArguments": ["--x", "1"]}
    ) == (["python", "/app/train.py"], ["--x", "1"])
    # A processing container runs the image's own command unless the request gives one.
    assert container_command({}, default=None) == (None, None)
    assert container_command({"ContainerArguments": ["--x"]}, default=None) == (None, ["--x"])


def test_container_environment_is_the_request_environment_and_sm_variables_for_opt_ml():
    env = container_environment(
        {"MY_SETTING": "on", "SM_LOG_LEVEL": "overridden"},
        "my-job",
        "arn:aws:sagemaker:us-east-1:123456789012:training-job/my-job",
        {"epochs": "3", "sagemaker_program": '"train.py"'},
        {"train": {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated"}},
        {"current_host": "algo-2", "hosts": ["algo-1", "algo-2"]},
    )
    assert env["MY_SETTING"] == "on"
    assert env["SM_MODEL_DIR"] == "/opt/ml/model"
    assert env["SM_INPUT_CONFIG_DIR"] == "/opt/ml/input/config"
    assert env["SM_OUTPUT_DATA_DIR"] == "/opt/ml/output/data"
    assert env["SM_CHANNEL_TRAIN"] == "/opt/ml/input/data/train"
    assert env["SM_CHANNELS"] == '["train"]'
    assert env["SM_HP_EPOCHS"] == "3"
    assert env["SM_HOSTS"] == '["algo-1","algo-2"]'
    assert env["SM_CURRENT_HOST"] == "algo-2"
    assert json.loads(env["SM_TRAINING_ENV"])["model_dir"] == "/opt/ml/model"
    assert env["TRAINING_JOB_NAME"] == "my-job"
    assert env["TRAINING_JOB_ARN"].endswith(":training-job/my-job")
    assert env["SM_LOG_LEVEL"] == "20"  # the toolkit's variables win over the request's
    # Nothing of the runner's own environment or of simsage's internals goes in.
    assert not any(k.startswith("SIMSAGE_") for k in env)
    assert "PATH" not in env and "HOME" not in env


def test_sm_training_env_holds_the_hyperparameters_as_the_toolkit_names_them():
    env = container_environment(
        {}, "job", "arn", {"epochs": "3"}, {}, {"current_host": "algo-1", "hosts": ["algo-1"]}
    )
    assert json.loads(env["SM_TRAINING_ENV"])["hyperparameters"] == {"epochs": 3}


def test_container_options_mount_opt_ml_and_name_the_host_on_the_job_network(tmp_path):
    root = tmp_path / "algo-2"
    checkpoints = tmp_path / "algo-2" / "external" / "checkpoints"
    host = HostSpec("algo-2", root, {"A": "1"}, {checkpoints: "/checkpoints"})
    options = container_options(
        IMAGE,
        host,
        "simsage-job-1234abcd",
        {},
        {"simsage.job": "job", "simsage.job-kind": "training"},
    )
    assert options == {
        "image": IMAGE,
        "command": ["train"],
        "entrypoint": None,
        "name": "simsage-job-1234abcd-algo-2",
        "hostname": "algo-2",
        "environment": {"A": "1"},
        "volumes": {
            str(root.resolve()): {"bind": "/opt/ml", "mode": "rw"},
            str(checkpoints.resolve()): {"bind": "/checkpoints", "mode": "rw"},
        },
        "network": "simsage-job-1234abcd",
        "networking_config": {"simsage-job-1234abcd": {"Aliases": ["algo-2"]}},
        "labels": {"simsage.job": "job", "simsage.job-kind": "training", "simsage.host": "algo-2"},
    }


def test_start_hosts_creates_the_network_and_all_containers_before_starting_any(tmp_path):
    client = FakeDocker()
    engine = DockerEngine(client, "My-Job")
    hosts = [HostSpec(f"algo-{i}", tmp_path / f"algo-{i}", {"N": str(i)}) for i in (1, 2)]
    algorithm = {"ContainerEntrypoint": ["/bin/run"], "ContainerArguments": ["--epochs", "2"]}
    processes = engine.start_hosts(IMAGE, algorithm, hosts, isolated=True)
    assert [p.wait(5) for p in processes] == [0, 0]

    network = engine.network_name
    assert network.startswith("simsage-my-job-")
    assert client.calls[:5] == [
        (
            "create-network",
            network,
            {
                "driver": "bridge",
                "internal": True,
                "labels": {"simsage.job": "My-Job", "simsage.job-kind": "training"},
            },
        ),
        ("create", f"{network}-algo-1"),
        ("create", f"{network}-algo-2"),
        ("start", f"{network}-algo-1"),
        ("start", f"{network}-algo-2"),
    ]
    for i, container in enumerate(client.created, start=1):
        assert container.options["hostname"] == f"algo-{i}"
        assert container.options["networking_config"] == {network: {"Aliases": [f"algo-{i}"]}}
        assert container.options["entrypoint"] == ["/bin/run"]
        assert container.options["command"] == ["--epochs", "2"]
        assert container.opt_ml == (tmp_path / f"algo-{i}").resolve()
        assert container.env == {"N": str(i)}

    engine.cleanup()
    assert [c.removed for c in client.created] == [True, True]
    assert client.calls[-1] == ("remove-network", network)
    assert ("remove", f"{network}-algo-1", True) in client.calls


def test_network_is_not_internal_without_network_isolation(tmp_path):
    client = FakeDocker()
    hosts = [HostSpec("algo-1", tmp_path / "1", {}), HostSpec("algo-2", tmp_path / "2", {})]
    DockerEngine(client, "job").start_hosts(IMAGE, {}, hosts, isolated=False)
    assert client.calls[0][2]["internal"] is False


@pytest.mark.parametrize(("isolated", "network"), [(False, "bridge"), (True, "none")])
def test_a_lone_host_runs_on_the_engines_own_network(tmp_path, isolated, network):
    """No peers to resolve: no network is created (nor removed), the container joins the
    engine's bridge (or none, isolated) without aliases, named after the job as ever."""
    client = FakeDocker()
    engine = DockerEngine(client, "job", record=tmp_path / "engine.json")
    engine.start_hosts(IMAGE, {}, [HostSpec("algo-1", tmp_path, {})], isolated=isolated)
    assert [call[0] for call in client.calls] == ["create", "start"]
    (container,) = client.created
    assert container.options["network"] == network
    assert "networking_config" not in container.options
    assert container.options["name"] == f"{engine.network_name}-algo-1"
    assert json.loads((tmp_path / "engine.json").read_text()) == {
        "network": None,
        "containers": [f"{engine.network_name}-algo-1"],
    }
    engine.cleanup()
    assert [call[0] for call in client.calls][-1] == "remove"


def test_two_engines_for_the_same_job_name_use_different_networks():
    assert (
        DockerEngine(FakeDocker(), "job").network_name
        != DockerEngine(FakeDocker(), "job").network_name
    )


def test_ensure_image_pulls_only_a_missing_image():
    client = FakeDocker(images=[IMAGE])
    DockerEngine(client, "job").ensure_image(IMAGE)
    assert client.calls == [("get-image", IMAGE)]

    client = FakeDocker(images=[])
    DockerEngine(client, "job").ensure_image(IMAGE)
    assert client.calls == [("get-image", IMAGE), ("pull", IMAGE)]

    client = FakeDocker(images=[], pull_error="pull access denied")
    with pytest.raises(EngineError) as caught:
        DockerEngine(client, "job").ensure_image(IMAGE)
    assert str(caught.value).startswith(
        f"ClientError: The training image {IMAGE} is not on the Docker engine (looked for "
        f"{IMAGE}) and could not be pulled"
    )
    assert "pull access denied" in str(caught.value)


ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/trainer"


def test_local_name_of_ecr_style_images():
    assert local_name(f"{ECR}:1.0") == "team/trainer:1.0"
    assert local_name(ECR) == "team/trainer:latest"
    assert local_name(f"{ECR}@sha256:{'0' * 64}") == "team/trainer:latest"
    assert local_name("registry.example.com/team/trainer:1.0") is None
    assert local_name("trainer:1.0") is None


def test_an_ecr_name_runs_the_image_built_under_its_short_name():
    """Code written for SageMaker names the ECR URI; a locally built `team/trainer:1.0`
    runs it, and the containers are created from the name the engine has."""
    client = FakeDocker(images=["team/trainer:1.0"])
    engine = DockerEngine(client, "job")
    assert engine.ensure_image(f"{ECR}:1.0") == "team/trainer:1.0"
    assert ("pull", f"{ECR}:1.0") not in client.calls
    engine.start_hosts(f"{ECR}:1.0", {}, [HostSpec("algo-1", Path("/tmp/x"), {})], False)
    assert [c.options["image"] for c in client.created] == ["team/trainer:1.0"]

    missing = FakeDocker(images=[], pull_error="no basic auth credentials")
    with pytest.raises(EngineError) as caught:
        DockerEngine(missing, "job").ensure_image(f"{ECR}:2")
    assert f"(looked for {ECR}:2 or team/trainer:2)" in str(caught.value)
    assert "docker build -t team/trainer:2 ." in str(caught.value)


def test_container_process_gives_whole_lines_exit_code_and_signals(tmp_path):
    def program(container):
        container.say(b"first li")
        container.say(b"ne\nsecond\nthi")
        container.say(b"rd without newline")
        return 3

    client = FakeDocker(program)
    container = client.containers.create(
        **container_options(IMAGE, HostSpec("algo-1", tmp_path, {}), "net", {}, {})
    )
    process = ContainerProcess(container)
    assert process.pid is None
    assert list(process.stdout) == [b"first line\n", b"second\n", b"third without newline"]
    assert process.wait(5) == 3
    assert process.poll() == 3
    process.send_signal(signal.SIGTERM)  # already exited: nothing is sent
    assert container.signals == []


def test_container_process_sends_signals_to_the_container(tmp_path):
    def program(container):
        return 128 + container.wait_signal()

    client = FakeDocker(program)
    container = client.containers.create(
        **container_options(IMAGE, HostSpec("algo-1", tmp_path, {}), "net", {}, {})
    )
    process = ContainerProcess(container)
    assert process.poll() is None
    process.send_signal(signal.SIGTERM)
    assert process.wait(5) == 128 + signal.SIGTERM
    assert container.signals == [int(signal.SIGTERM)]


# -- connect: no engine ------------------------------------------------------------------


def test_connect_reports_no_engine_quickly_when_the_socket_is_missing(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/simsage/docker.sock")
    started = time.monotonic()
    client, why = docker_engine.connect()
    assert client is None
    assert why  # says what went wrong
    assert time.monotonic() - started < 2


def test_connect_gives_up_on_an_engine_that_never_answers(monkeypatch):
    # A listening socket that accepts connections and never answers: a hung engine.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{server.getsockname()[1]}")
        monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
        started = time.monotonic()
        client, why = docker_engine.connect(timeout=0.5)
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert client is None
    assert "timed out" in why.lower() or "timeout" in why.lower()
    assert elapsed < 3


# -- the runner with a (fake) engine -------------------------------------------------------


def _request(name: str, **changes) -> dict:
    request = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "loss", "Regex": r"loss=([0-9.]+)"}],
        },
        "RoleArn": ROLE,
        "HyperParameters": {"epochs": "2"},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/data/"}
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        "Environment": {"MY_SETTING": "on"},
    }
    request.update(changes)
    return request


@pytest.fixture
def docker_job(simsage_local, monkeypatch):
    """Creates jobs through boto3 without starting a runner process, and runs their
    runner in this process against a FakeDocker: ``run(request, client)`` returns the
    job's description once the runner is done."""
    sleeper = subprocess.Popen(["sleep", "120"], start_new_session=True)
    # The registry needs a live runner pid while the job is created; a sleeper stands in
    # (never this process: the fixture's teardown kills runner pids of unfinished jobs).
    monkeypatch.setattr(launcher, "launch", lambda module, home, name, job_dir: sleeper.pid)
    s3 = simsage_local.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="data/a.csv", Body=b"1,2\n")
    s3.put_object(Bucket=BUCKET, Key="data/b.csv", Body=b"3,4\n")
    sm = simsage_local.client("sagemaker")
    home = Home.open(simsage_local.config)

    def run(request: dict, client: FakeDocker, during=None) -> dict:
        """Run a training job (or, for a CreateProcessingJob request, a processing job)."""
        monkeypatch.setattr(docker_engine, "connect", lambda: (client, ""))
        kind, runner_class = "training", Runner
        if "ProcessingJobName" in request:
            kind, runner_class = "processing", ProcessingRunner
        getattr(sm, f"create_{kind}_job")(**request)
        name = request[f"{kind.capitalize()}JobName"]
        (home.path / "jobs" / kind / name).mkdir(parents=True, exist_ok=True)
        runner = threading.Thread(target=runner_class(home, name).run)
        runner.start()
        if during is not None:
            during(sm)
        runner.join(30)
        assert not runner.is_alive()
        return getattr(sm, f"describe_{kind}_job")(**{f"{kind.capitalize()}JobName": name})

    run.s3 = s3
    run.logs = simsage_local.client("logs")
    run.home = home
    yield run
    sleeper.kill()
    sleeper.wait()


def _model(s3, description: dict) -> dict[str, bytes]:
    uri = description["ModelArtifacts"]["S3ModelArtifacts"]
    body = s3.get_object(Bucket=BUCKET, Key=uri[len(f"s3://{BUCKET}/") :])["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}


def test_runner_trains_a_custom_image_in_containers(docker_job):
    def program(container):
        root = container.opt_ml
        data = sorted(p.name for p in (root / "input" / "data" / "train").iterdir())
        host = container.env["SM_CURRENT_HOST"]
        (root / "model" / f"{host}.json").write_text(json.dumps({"data": data}))
        container.say(f"{host}: loss=0.5\n".encode())
        container.say(f"{host}: loss=0.{host[-1]}\tdone\n".encode())
        return 0

    client = FakeDocker(program, images=[])
    done = docker_job(
        _request(
            "docker-job",
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 1},
        ),
        client,
    )

    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    assert [t["Status"] for t in done["SecondaryStatusTransitions"]] == [
        "Starting",
        "Downloading",
        "Training",
        "Uploading",
        "Completed",
    ]
    assert ("pull", IMAGE) in client.calls
    model = _model(docker_job.s3, done)
    assert set(model) == {"algo-1.json", "algo-2.json"}
    assert json.loads(model["algo-2.json"]) == {"data": ["a.csv", "b.csv"]}
    assert done["FinalMetricDataList"][0]["MetricName"] == "loss"

    job_dir = docker_job.home.path / "jobs" / "training" / "docker-job"
    for i, container in enumerate(client.created, start=1):
        options = container.options
        assert options["image"] == IMAGE
        assert options["command"] == ["train"]
        assert options["hostname"] == f"algo-{i}"
        assert container.opt_ml == (job_dir / f"algo-{i}").resolve()
        env = options["environment"]
        assert env["SM_CURRENT_HOST"] == f"algo-{i}"
        assert env["SM_HOSTS"] == '["algo-1","algo-2"]'
        assert env["SM_CHANNEL_TRAIN"] == "/opt/ml/input/data/train"
        assert env["SM_HP_EPOCHS"] == "2"
        assert env["MY_SETTING"] == "on"
        assert env["TRAINING_JOB_NAME"] == "docker-job"
        assert env["TRAINING_JOB_ARN"] == done["TrainingJobArn"]
        assert container.removed  # clean-up after the job
    assert client.calls[-1][0] == "remove-network"

    events = docker_job.logs.filter_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix="docker-job/"
    )["events"]
    assert "algo-1: loss=0.1#011done" in [e["message"] for e in events]


def test_runner_fails_the_job_with_the_container_failure_file(docker_job):
    def program(container):
        (container.opt_ml / "output" / "failure").write_text("image says: bad input")
        container.say(b"crashing\n")
        return 2

    done = docker_job(_request("docker-failed"), FakeDocker(program))
    assert done["TrainingJobStatus"] == "Failed"
    assert done["FailureReason"] == "AlgorithmError: image says: bad input"


def test_runner_fails_the_job_when_the_image_cannot_be_pulled(docker_job):
    client = FakeDocker(images=[], pull_error="pull access denied for trainer")
    done = docker_job(_request("docker-no-image"), client)
    assert done["TrainingJobStatus"] == "Failed"
    assert done["FailureReason"].startswith(
        f"ClientError: The training image {IMAGE} is not on the Docker engine"
    )
    assert "pull access denied for trainer" in done["FailureReason"]
    assert not client.created


def test_stop_signals_the_container_and_uploads_what_it_saved(docker_job):
    def program(container):
        received = container.wait_signal()
        (container.opt_ml / "model" / "partial.txt").write_text(f"signal {received}")
        return 143

    def stop_when_training(sm):
        deadline = time.monotonic() + 30
        while sm.describe_training_job(TrainingJobName="docker-stop")["SecondaryStatus"] != (
            "Training"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        sm.stop_training_job(TrainingJobName="docker-stop")

    client = FakeDocker(program)
    done = docker_job(_request("docker-stop"), client, during=stop_when_training)
    assert done["TrainingJobStatus"] == "Stopped"
    assert client.created[0].signals[0] == int(signal.SIGTERM)
    assert _model(docker_job.s3, done) == {"partial.txt": f"signal {int(signal.SIGTERM)}".encode()}
    assert client.created[0].removed


# -- processing jobs under the (fake) engine ---------------------------------------------


def _processing_request(name: str, **app) -> dict:
    return {
        "ProcessingJobName": name,
        "RoleArn": ROLE,
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 2,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 1,
            }
        },
        "AppSpecification": {"ImageUri": IMAGE, **app},
        "Environment": {"MODE": "full"},
        "ProcessingInputs": [
            {
                "InputName": "data",
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/data/",
                    "LocalPath": "/opt/ml/processing/input",
                    "S3DataType": "S3Prefix",
                    "S3DataDistributionType": "ShardedByS3Key",
                },
            }
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "out",
                    "S3Output": {
                        "S3Uri": f"s3://{BUCKET}/processed",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
    }


def test_processing_runs_any_image_under_the_engine_with_its_own_command(docker_job):
    def program(container):
        root = container.opt_ml
        host = json.loads((root / "config" / "resourceconfig.json").read_text())["current_host"]
        seen = sorted(p.name for p in (root / "processing" / "input").iterdir())
        (root / "processing" / "output" / f"{host}.json").write_text(
            json.dumps({"seen": seen, "mode": container.env.get("MODE")})
        )
        container.say(f"{host} processed\n".encode())
        return 0

    client = FakeDocker(program)
    described = docker_job(_processing_request("docker-prep"), client)
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    s3 = docker_job.s3
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="processed/")["Contents"]
    assert sorted(o["Key"] for o in listed) == ["processed/algo-1.json", "processed/algo-2.json"]
    first = json.loads(s3.get_object(Bucket=BUCKET, Key="processed/algo-1.json")["Body"].read())
    second = json.loads(s3.get_object(Bucket=BUCKET, Key="processed/algo-2.json")["Body"].read())
    assert sorted(first["seen"] + second["seen"]) == ["a.csv", "b.csv"]  # one shard each
    assert first["mode"] == "full"
    for container in client.created:
        # No ContainerEntrypoint/Arguments: the image's own ENTRYPOINT and CMD run.
        assert container.options["entrypoint"] is None
        assert container.options["command"] is None
    # Labelled as a processing job (a training job may have the same name).
    assert [c.options["labels"] for c in client.created] == [
        {"simsage.job": "docker-prep", "simsage.job-kind": "processing", "simsage.host": host}
        for host in ("algo-1", "algo-2")
    ]


def test_processing_gives_the_engine_the_entrypoint_and_arguments(docker_job):
    client = FakeDocker(lambda container: 0)
    described = docker_job(
        _processing_request(
            "docker-args",
            ContainerEntrypoint=["python3", "/opt/ml/processing/input/code/run.py"],
            ContainerArguments=["--rows", "10"],
        ),
        client,
    )
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    options = client.created[0].options
    assert options["entrypoint"] == ["python3", "/opt/ml/processing/input/code/run.py"]
    assert options["command"] == ["--rows", "10"]


def test_processing_stop_interrupts_the_containers(docker_job):
    def program(container):
        container.say(b"waiting\n")
        return 130 if container.wait_signal(20) is not None else 0

    client = FakeDocker(program)

    def stop(sm):
        deadline = time.time() + 20
        while not all(c.started for c in client.created) or len(client.created) < 2:
            assert time.time() < deadline
            time.sleep(0.02)
        sm.stop_processing_job(ProcessingJobName="docker-stop")

    described = docker_job(_processing_request("docker-stop"), client, during=stop)
    assert described["ProcessingJobStatus"] == "Stopped"
    kills = [call for call in client.calls if call[0] == "kill"]
    assert kills and kills[0][2] == signal.SIGINT


# -- a dead runner's leftovers ------------------------------------------------------------


def test_the_engine_names_what_it_creates_in_the_job_folder_until_it_cleans_up(tmp_path):
    client = FakeDocker(lambda container: 0)
    record = tmp_path / docker_engine.LEFTOVERS
    engine = DockerEngine(client, "job", record=record)
    hosts = [HostSpec(f"algo-{i}", tmp_path / f"algo-{i}", {}) for i in (1, 2)]
    engine.start_hosts(IMAGE, {}, hosts, isolated=False)
    network = engine.network_name
    assert json.loads(record.read_text()) == {
        "network": network,
        "containers": [f"{network}-algo-1", f"{network}-algo-2"],
    }
    engine.cleanup()
    assert not record.exists()


def test_a_dead_runners_containers_and_network_are_removed_on_next_sight(tmp_path, monkeypatch):
    client = FakeDocker(lambda container: 0)
    monkeypatch.setattr(docker_engine, "connect", lambda: (client, ""))
    folder = tmp_path / "job"
    folder.mkdir()
    engine = DockerEngine(client, "job", record=folder / docker_engine.LEFTOVERS)
    hosts = [HostSpec(f"algo-{i}", folder / f"algo-{i}", {}) for i in (1, 2)]
    engine.start_hosts(IMAGE, {}, hosts, isolated=False)
    # The runner dies here: nobody calls engine.cleanup().
    jobs = _OneJob(folder)
    assert launcher.fail_orphan(jobs, jobs.job, now=1.0)
    assert jobs.failed
    for container in client.created:
        assert container.removed
        assert ("remove", container.name, True) in client.calls
    assert client.calls[-1] == ("remove-network", engine.network_name)
    assert not (folder / docker_engine.LEFTOVERS).exists()
    assert client.closed
    # Seen again: nothing left to ask the engine.
    monkeypatch.setattr(docker_engine, "connect", _no_connection_expected)
    assert docker_engine.remove_leftovers(folder) is False


def test_without_a_record_no_engine_is_asked(tmp_path, monkeypatch):
    monkeypatch.setattr(docker_engine, "connect", _no_connection_expected)
    jobs = _OneJob(tmp_path)
    assert launcher.fail_orphan(jobs, jobs.job, now=1.0)  # a process job: no engine at all


def test_leftovers_stay_recorded_while_no_engine_answers(tmp_path, monkeypatch):
    record = tmp_path / docker_engine.LEFTOVERS
    record.write_text(json.dumps({"network": "n", "containers": ["n-algo-1"]}))
    monkeypatch.setattr(docker_engine, "connect", lambda: (None, "no engine"))
    assert docker_engine.remove_leftovers(tmp_path) is False
    assert record.exists()  # the next look tries again
    client = FakeDocker()  # the engine is back; the container is already gone there
    monkeypatch.setattr(docker_engine, "connect", lambda: (client, ""))
    assert docker_engine.remove_leftovers(tmp_path) is True
    assert not record.exists()
    record.write_text("{torn")  # a torn record names nothing to remove
    assert docker_engine.remove_leftovers(tmp_path) is False
    assert not record.exists()


def test_every_serving_record_in_a_folder_is_acted_on(tmp_path, monkeypatch):
    """An endpoint's folder holds one record per container instance
    (engine-<instance id>.json, without a network): all are removed at once, with one
    engine connection."""
    client = FakeDocker()
    for name in ("a", "b"):
        client.containers.create(name=f"simsage-e-{name}", image=IMAGE)
        (tmp_path / f"engine-i-{name}.json").write_text(
            json.dumps({"network": None, "containers": [f"simsage-e-{name}"]})
        )
    connections = []
    monkeypatch.setattr(docker_engine, "connect", lambda: connections.append(1) or (client, ""))
    assert docker_engine.remove_leftovers(tmp_path) is True
    assert connections == [1]
    assert list(tmp_path.iterdir()) == []
    removed = [call[1] for call in client.calls if call[0] == "remove"]
    assert removed == ["simsage-e-a", "simsage-e-b"]


def test_a_custom_image_is_served_as_a_container_plan():
    plan = serving_plan("my-algo:1", {"A": "1"})
    assert (plan.mode, plan.framework, plan.environment) == ("container", "my-algo:1", {"A": "1"})
    assert serving_plan(f"{ECR}:3", None).mode == "container"
    xgboost = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    assert serving_plan(xgboost, None).mode == "xgboost"


def _no_connection_expected():
    raise AssertionError("no engine should be asked")


class _OneJob:
    """The slice of a JobTable that fail_orphan uses, holding one running job whose runner
    is gone (no lock held, no pid)."""

    def __init__(self, folder: Path) -> None:
        self.job = _Namespace(
            name="job", job_dir=str(folder), finished=False, runner_pid=None, created=0.0
        )
        self.failed = False

    def transition(self, name, status, only_from, failure, ended) -> bool:
        assert (name, status, only_from) == ("job", "Failed", ("InProgress", "Stopping"))
        self.failed = True
        return True


# -- instance limits ------------------------------------------------------------------------


def test_instance_types_have_ec2s_vcpus_and_memory():
    assert instance_types.resources("ml.m5.large") == (2, 8 * 1024)
    assert instance_types.resources("ml.m5.xlarge") == (4, 16 * 1024)
    assert instance_types.resources("ml.c5.9xlarge") == (36, 72 * 1024)
    assert instance_types.resources("ml.c4.8xlarge") == (36, 60 * 1024)
    assert instance_types.resources("ml.r5.2xlarge") == (8, 64 * 1024)
    assert instance_types.resources("ml.p3.2xlarge") == (8, 61 * 1024)
    assert instance_types.resources("ml.t3.medium") == (2, 4 * 1024)
    assert instance_types.resources("ml.g5.48xlarge") == (192, 768 * 1024)
    for unknown in ("ml.m5.metal", "ml.x9.large", "m5.large", "local", ""):
        assert instance_types.resources(unknown) is None


def test_limits_apply_only_when_asked_for():
    assert docker_engine.instance_limits("ml.m5.xlarge", {}) == ({}, "")
    limits, note = docker_engine.instance_limits(
        "ml.m5.xlarge", {"SIMSAGE_ENFORCE_INSTANCE_LIMITS": "1"}
    )
    assert limits == {"nano_cpus": 4_000_000_000, "mem_limit": "16384m"}
    assert "4 vCPUs and 16384 MiB" in note
    limits, note = docker_engine.instance_limits(
        "ml.x9.large", {"SIMSAGE_ENFORCE_INSTANCE_LIMITS": "1"}
    )
    assert limits == {} and "does not know" in note and "ml.x9.large" in note


def test_a_job_asked_to_enforce_limits_gives_each_container_its_instances(docker_job, monkeypatch):
    monkeypatch.setenv("SIMSAGE_ENFORCE_INSTANCE_LIMITS", "1")
    client = FakeDocker(lambda container: 0)
    described = docker_job(_processing_request("limited-prep"), client)
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    cpus, mib = instance_types.resources(
        described["ProcessingResources"]["ClusterConfig"]["InstanceType"]
    )
    for container in client.created:
        assert container.options["nano_cpus"] == cpus * 1_000_000_000
        assert container.options["mem_limit"] == f"{mib}m"


def test_a_custom_serving_image_without_an_engine_fails_saying_what_to_do(tmp_path, monkeypatch):
    from simsage.runtime import docker_serving
    from simsage.runtime.servers import ContainerError, start_server

    monkeypatch.setattr(docker_engine, "shared_client", lambda: (None, "FileNotFoundError"))
    (tmp_path / "model").mkdir()
    with pytest.raises(ContainerError) as caught:
        start_server(serving_plan("my-algo:1", {}), tmp_path / "model", {})
    assert str(caught.value) == (
        "The image my-algo:1 is not one simsage emulates; simsage runs such custom images "
        "under a Docker engine, and none answers (FileNotFoundError). Start one (e.g. "
        "`dockerd`, or Docker Desktop) or set DOCKER_HOST, then try again."
    )
    assert list(tmp_path.glob("engine*.json")) == []  # nothing was recorded
    assert docker_serving.record_name("i-1") == "engine-i-1.json"
