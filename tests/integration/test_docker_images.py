"""Custom images under a real Docker engine: training (several hosts on the job's
network, failure, stop, a killed runner's leftovers), processing, endpoints (127.0.0.1
publishing, a dead container replaced, a killed supervisor's containers removed) and
batch transform, with the tiny standard-library image in ``docker_image/`` built here
from a local base.

Marked ``docker``: where no engine answers, or no base image is present, every test
skips and says why (``.ci/docker-engine start`` prepares both on a Linux machine as
root); see tests/docker_helpers.py.
"""

from __future__ import annotations

import io
import json
import os
import signal
import tarfile
import time

import pytest
from docker_helpers import ecr_name, leftovers
from endpoint_helpers import tar_gz
from request_helpers import processing_input, processing_output, processing_resources

from simsage.home import Home
from simsage.hosting.endpoint_state import EndpointStore
from simsage.runtime import docker_engine
from simsage.training.jobs import TrainingJobStore

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "bkt-docker"


def _wait(describe, key: str, done=("Completed", "Failed", "Stopped"), timeout: float = 120):
    deadline = time.monotonic() + timeout
    while True:
        found = describe()
        if found[key] in done or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def _until(check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.fixture
def aws(simsage_local):
    s3 = simsage_local.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    for index in range(4):
        rows = "".join(f"{index},{i}\n" for i in range(index + 2))
        s3.put_object(Bucket=BUCKET, Key=f"data/part-{index}.csv", Body=rows.encode())
    return simsage_local


def _train(
    aws, image: str, name: str, count: int = 1, wait: bool = True, runtime: int = 300, **hyper
):
    sm = aws.client("sagemaker")
    sm.create_training_job(
        TrainingJobName=name,
        RoleArn=ROLE,
        AlgorithmSpecification={
            "TrainingImage": image,
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "train:rows", "Regex": "train-rows=([0-9]+);"}],
        },
        HyperParameters={k: str(v) for k, v in hyper.items()},
        Environment={"ANSWER": "42"},
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/data/"}
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": count, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": runtime},
    )
    if not wait:
        return None
    return _wait(lambda: sm.describe_training_job(TrainingJobName=name), "TrainingJobStatus")


def _model_json(aws, uri: str, member: str = "model.json") -> dict:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        return json.load(tar.extractfile(member))


def _log_messages(aws, group: str, prefix: str) -> dict[str, list[str]]:
    logs = aws.client("logs")
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=prefix)
    return {
        s["logStreamName"]: [
            e["message"]
            for e in logs.get_log_events(logGroupName=group, logStreamName=s["logStreamName"])[
                "events"
            ]
        ]
        for s in streams["logStreams"]
    }


def test_training_on_two_hosts_meets_the_container_contract(aws, docker_client, custom_image):
    """The hosts reach each other as algo-1/algo-2 on the job's network; the model,
    metrics and logs come back; nothing stays on the engine."""
    done = _train(aws, ecr_name(custom_image), "docker-fit", count=2, weight=2)
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    model = _model_json(aws, done["ModelArtifacts"]["S3ModelArtifacts"])
    assert model["weight"] == 2.0 and model["env"] == "42"
    # ShardedByS3Key is not asked for: each host got every file (2+3+4+5 rows).
    assert model["rows"] == {"algo-1": 14, "algo-2": 14}
    metrics = {m["MetricName"]: m["Value"] for m in done["FinalMetricDataList"]}
    assert metrics == {"train:rows": 28.0}
    logs = _log_messages(aws, "/aws/sagemaker/TrainingJobs", "docker-fit/")
    assert sorted(stream.split("-")[2] for stream in logs) == ["1", "2"]
    text = "\n".join(line for lines in logs.values() for line in lines)
    assert "host algo-2 of ['algo-1', 'algo-2']; mode fit; job docker-fit" in text
    assert "runs under Docker" in text
    assert leftovers(docker_client, "docker-fit") == []


def test_failing_training_image_reports_its_failure_file(aws, docker_client, custom_image):
    done = _train(aws, custom_image, "docker-fail", mode="fail")
    assert done["TrainingJobStatus"] == "Failed"
    assert "the data has no label column" in done["FailureReason"]
    assert leftovers(docker_client, "docker-fail") == []


def test_stop_sends_sigterm_through_docker_stop(aws, docker_client, custom_image):
    sm = aws.client("sagemaker")
    _train(aws, custom_image, "docker-stop", wait=False, mode="sleep")
    _until(
        lambda: [
            c
            for c in docker_client.containers.list(
                filters={"label": "simsage.job=docker-stop"}, sparse=True
            )
        ]
    )
    sm.stop_training_job(TrainingJobName="docker-stop")
    done = _wait(
        lambda: sm.describe_training_job(TrainingJobName="docker-stop"), "TrainingJobStatus"
    )
    assert done["TrainingJobStatus"] == "Stopped"
    logs = _log_messages(aws, "/aws/sagemaker/TrainingJobs", "docker-stop/")
    assert any("got signal 15, stopping" in line for lines in logs.values() for line in lines)
    assert leftovers(docker_client, "docker-stop") == []


def test_max_runtime_stops_the_container(aws, docker_client, custom_image):
    done = _train(aws, custom_image, "docker-deadline", runtime=1, mode="sleep")
    assert done["TrainingJobStatus"] == "Stopped"
    assert done["SecondaryStatus"] == "MaxRuntimeExceeded"
    logs = _log_messages(aws, "/aws/sagemaker/TrainingJobs", "docker-deadline/")
    assert any("got signal 15, stopping" in line for lines in logs.values() for line in lines)
    assert leftovers(docker_client, "docker-deadline") == []


def test_a_killed_runners_containers_are_removed_on_next_sight(aws, docker_client, custom_image):
    sm = aws.client("sagemaker")
    _train(aws, custom_image, "docker-orphan", count=2, wait=False, mode="sleep")
    _until(
        lambda: (
            len(
                docker_client.containers.list(
                    filters={"label": "simsage.job=docker-orphan"}, sparse=True
                )
            )
            == 2
        )
    )
    runner = TrainingJobStore(Home.open(aws.config)).get("docker-orphan").runner_pid
    os.kill(runner, signal.SIGKILL)
    done = _wait(
        lambda: sm.describe_training_job(TrainingJobName="docker-orphan"), "TrainingJobStatus"
    )
    assert done["TrainingJobStatus"] == "Failed"
    assert "was killed by signal 9" in done["FailureReason"]
    assert leftovers(docker_client, "docker-orphan") == []


def test_missing_image_fails_the_job_with_a_clear_reason(aws, docker_client):
    done = _train(aws, "simsage-it-absent:0", "docker-absent")
    assert done["TrainingJobStatus"] == "Failed"
    reason = done["FailureReason"]
    assert reason.startswith("ClientError: The training image simsage-it-absent:0 is not on")
    assert "could not be pulled" in reason


def test_processing_job_with_a_custom_image(aws, docker_client, custom_image):
    sm = aws.client("sagemaker")
    sm.create_processing_job(
        ProcessingJobName="docker-process",
        RoleArn=ROLE,
        AppSpecification={
            "ImageUri": custom_image,
            "ContainerEntrypoint": [
                "process",
                "/opt/ml/processing/input/data",
                "/opt/ml/processing/output/summary",
            ],
        },
        ProcessingInputs=[
            processing_input("data", f"s3://{BUCKET}/data/", "/opt/ml/processing/input/data")
        ],
        ProcessingOutputConfig={
            "Outputs": [
                processing_output(
                    "summary", f"s3://{BUCKET}/summary", "/opt/ml/processing/output/summary"
                )
            ]
        },
        ProcessingResources=processing_resources(),
    )
    done = _wait(
        lambda: sm.describe_processing_job(ProcessingJobName="docker-process"),
        "ProcessingJobStatus",
    )
    assert done["ProcessingJobStatus"] == "Completed", done.get("FailureReason")
    body = aws.client("s3").get_object(Bucket=BUCKET, Key="summary/summary.json")["Body"].read()
    summary = json.loads(body)
    # The rows of part-0..3: (index, i) for i < index + 2.
    expected = sum(index * (index + 2) + sum(range(index + 2)) for index in range(4))
    assert summary["rows"] == 14 and summary["total"] == expected
    assert leftovers(docker_client, "docker-process") == []


def _model(aws, image: str, name: str) -> None:
    s3 = aws.client("s3")
    artifact = tar_gz({"model.json": json.dumps({"weight": 3}).encode()})
    s3.put_object(Bucket=BUCKET, Key=f"models/{name}.tar.gz", Body=artifact)
    aws.client("sagemaker").create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": image, "ModelDataUrl": f"s3://{BUCKET}/models/{name}.tar.gz"},
    )


def _endpoint(aws, image: str, name: str, count: int = 1) -> dict:
    sm = aws.client("sagemaker")
    _model(aws, image, name)
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "main",
                "ModelName": name,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": count,
            }
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    return _wait(
        lambda: sm.describe_endpoint(EndpointName=name),
        "EndpointStatus",
        done=("InService", "Failed"),
    )


def _delete_endpoint(aws, name: str) -> None:
    sm = aws.client("sagemaker")
    sm.delete_endpoint(EndpointName=name)

    def gone() -> bool:
        try:
            sm.describe_endpoint(EndpointName=name)
        except sm.exceptions.ClientError:
            return True
        return False

    _until(gone)


def _invoke(aws, name: str, body: str = "1,2,3\n4,5,6\n") -> str:
    runtime = aws.client("sagemaker-runtime")
    answer = runtime.invoke_endpoint(EndpointName=name, Body=body.encode(), ContentType="text/csv")
    return answer["Body"].read().decode()


def test_endpoint_serves_a_custom_image_on_127_0_0_1_only(aws, docker_client, custom_image):
    done = _endpoint(aws, ecr_name(custom_image), "docker-serve", count=2)
    assert done["EndpointStatus"] == "InService", done.get("FailureReason")
    try:
        assert _invoke(aws, "docker-serve") == "18.0\n45.0\n"
        containers = docker_client.containers.list(filters={"label": "simsage.job=docker-serve"})
        assert len(containers) == 2
        for container in containers:
            assert container.labels[docker_engine.KIND_LABEL] == "endpoint"
            bindings = container.attrs["NetworkSettings"]["Ports"]["8080/tcp"]
            assert bindings and {b["HostIp"] for b in bindings} == {"127.0.0.1"}
            assert container.attrs["Config"]["Cmd"] == ["serve"]
            mounts = {m["Destination"]: m for m in container.attrs["Mounts"]}
            assert "/opt/ml/model" in mounts
    finally:
        _delete_endpoint(aws, "docker-serve")
    assert leftovers(docker_client, "docker-serve") == []
    logs = _log_messages(aws, "/aws/sagemaker/Endpoints/docker-serve", "main/")
    assert len(logs) == 2
    for lines in logs.values():
        assert "serve: listening on 8080" in lines
        assert "serve: SIGTERM, stopping" in lines  # docker stop drained it


def test_dead_container_is_replaced_and_a_killed_supervisor_leaves_nothing(
    aws, docker_client, custom_image
):
    done = _endpoint(aws, custom_image, "docker-heal")
    assert done["EndpointStatus"] == "InService", done.get("FailureReason")
    label = {"label": "simsage.job=docker-heal"}
    try:
        (first,) = docker_client.containers.list(filters=label)
        first.kill()
        second = _until(
            lambda: [
                c
                for c in docker_client.containers.list(filters=label, sparse=True)
                if c.id != first.id
            ]
        )[0]
        _until(lambda: _ready_instances(aws, "docker-heal"))
        assert _invoke(aws, "docker-heal", "1,1\n") == "6.0\n"
        # The supervisor dies: its container outlives it, and the next look at the
        # endpoint (a new supervisor) removes it before starting its own.
        endpoint = EndpointStore(Home.open(aws.config)).find("docker-heal")
        os.kill(endpoint.supervisor_pid, signal.SIGKILL)
        _until(lambda: not _pid_running(endpoint.supervisor_pid))
        aws.client("sagemaker").describe_endpoint(EndpointName="docker-heal")
        third = _until(
            lambda: [
                c
                for c in docker_client.containers.list(filters=label, sparse=True)
                if c.id != second.id
            ]
        )[0]
        assert third.id != first.id
        _until(
            lambda: (
                second.id
                not in {c.id for c in docker_client.containers.list(all=True, sparse=True)}
            )
        )
        _until(lambda: _ready_instances(aws, "docker-heal"))
        assert _invoke(aws, "docker-heal", "2,2\n") == "12.0\n"
    finally:
        _delete_endpoint(aws, "docker-heal")
    assert leftovers(docker_client, "docker-heal") == []


def _ready_instances(aws, endpoint: str) -> list:
    store = EndpointStore(Home.open(aws.config))
    return [i for i in store.instances(endpoint) if i.state == "ready"]


def _pid_running(pid: int) -> bool:
    from simsage.runtime.processes import running

    return running(pid)


def test_endpoint_with_a_missing_image_fails_with_the_reason(aws, docker_client):
    done = _endpoint(aws, "simsage-it-absent:0", "docker-noimage")
    assert done["EndpointStatus"] == "Failed"
    assert "simsage-it-absent:0 is not on the Docker engine" in done["FailureReason"]
    assert leftovers(docker_client, "docker-noimage") == []


def test_batch_transform_with_a_custom_image(aws, docker_client, custom_image):
    sm = aws.client("sagemaker")
    _model(aws, custom_image, "docker-batch")
    sm.create_transform_job(
        TransformJobName="docker-batch",
        ModelName="docker-batch",
        TransformInput={
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/data/"}
            },
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/scored"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 2},
    )
    done = _wait(
        lambda: sm.describe_transform_job(TransformJobName="docker-batch"), "TransformJobStatus"
    )
    assert done["TransformJobStatus"] == "Completed", done.get("FailureReason")
    s3 = aws.client("s3")
    for index in range(4):
        body = s3.get_object(Bucket=BUCKET, Key=f"scored/part-{index}.csv.out")["Body"].read()
        expected = [3.0 * (index + i) for i in range(index + 2)]
        assert [float(v) for v in body.decode().split()] == expected
    assert leftovers(docker_client, "docker-batch") == []


def test_tuning_job_runs_the_custom_image_for_every_trial(aws, docker_client, custom_image):
    """A tuning job's trials are training jobs like any other: each runs the image, its
    objective read from the image's output by the definition's regex."""
    sm = aws.client("sagemaker")
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="docker-tune",
        HyperParameterTuningJobConfig={
            "Strategy": "Random",
            "RandomSeed": 3,
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "objective"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "ContinuousParameterRanges": [{"Name": "weight", "MinValue": "0", "MaxValue": "6"}]
            },
        },
        TrainingJobDefinition={
            "AlgorithmSpecification": {
                "TrainingImage": ecr_name(custom_image),
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "objective", "Regex": "objective=(-?[0-9.]+);"}],
            },
            "RoleArn": ROLE,
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": f"s3://{BUCKET}/data/",
                        }
                    },
                }
            ],
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/tuning"},
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 1,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        },
    )
    done = _wait(
        lambda: sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="docker-tune"),
        "HyperParameterTuningJobStatus",
    )
    assert done["HyperParameterTuningJobStatus"] == "Completed", done.get("FailureReason")
    assert done["TrainingJobStatusCounters"]["Completed"] == 4
    trials = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="docker-tune"
    )["TrainingJobSummaries"]
    for trial in trials:
        weight = float(trial["TunedHyperParameters"]["weight"])
        value = trial["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        assert value == pytest.approx(10 - (weight - 3) ** 2, abs=1e-5)
        assert leftovers(docker_client, trial["TrainingJobName"]) == []
    best = done["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    assert best == max(t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for t in trials)
