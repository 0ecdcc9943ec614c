"""Processing jobs that really run, through boto3: inputs downloaded to their LocalPath
before the entrypoint starts, outputs uploaded (EndOfJob after a clean exit, Continuous
while the job runs, never symlinks), the container's config files, AppSpecification's
Docker semantics, ExitMessage and FailureReason, stop and MaxRuntimeInSeconds, several
hosts with sharded inputs, and the logs in CloudWatch Logs."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError, WaiterError
from request_helpers import processing_input, processing_output, processing_resources

SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "processing-jobs"
LOG_GROUP = "/aws/sagemaker/ProcessingJobs"
TIMEOUT = 60.0


@pytest.fixture
def aws(simsage_local):
    s3 = simsage_local.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    return simsage_local.client("sagemaker"), s3, simsage_local.client("logs")


def put_script(s3, name: str, text: str) -> str:
    s3.put_object(Bucket=BUCKET, Key=f"code/{name}", Body=text.encode())
    return f"s3://{BUCKET}/code/{name}"


def code_input(uri: str) -> dict:
    return processing_input("code", uri, "/opt/ml/processing/input/code")


def output(name: str, local: str, mode: str = "EndOfJob") -> dict:
    return processing_output(name, f"s3://{BUCKET}/out/{name}", local, mode)


def run_script(sm, name: str, script_uri: str, basename: str, **extra) -> None:
    request = {
        "ProcessingJobName": name,
        "RoleArn": ROLE,
        "ProcessingResources": processing_resources(volume_gb=5),
        "AppSpecification": {
            "ImageUri": SKLEARN,
            "ContainerEntrypoint": ["python3", f"/opt/ml/processing/input/code/{basename}"],
        },
    }
    inputs = extra.pop("inputs", [])
    request["ProcessingInputs"] = [code_input(script_uri), *inputs]
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(request.get(key), dict):
            request[key] = {**request[key], **value}
        else:
            request[key] = value
    sm.create_processing_job(**request)


def wait(sm, name: str) -> dict:
    """The job once it has ended, waited for with boto3's own waiter (which raises on
    Failed: its failure state)."""
    try:
        sm.get_waiter("processing_job_completed_or_stopped").wait(
            ProcessingJobName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": int(TIMEOUT * 10)}
        )
    except WaiterError as error:
        assert error.last_response["ProcessingJobStatus"] == "Failed"
    return sm.describe_processing_job(ProcessingJobName=name)


def wait_until(condition, what: str, timeout: float = TIMEOUT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def body(s3, key: str) -> str:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()


def keys(s3, prefix: str) -> list[str]:
    answer = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"] for o in answer.get("Contents", []))


def log_lines(logs, name: str) -> dict[str, list[str]]:
    try:
        streams = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{name}/")
    except logs.exceptions.ResourceNotFoundException:  # no job has logged yet
        return {}
    return {
        s["logStreamName"]: [
            e["message"]
            for e in logs.get_log_events(
                logGroupName=LOG_GROUP, logStreamName=s["logStreamName"], startFromHead=True
            )["events"]
        ]
        for s in streams["logStreams"]
    }


PREPROCESS = """
import argparse, csv, json, os
parser = argparse.ArgumentParser()
parser.add_argument("--scale", type=float, default=1.0)
args = parser.parse_args()
rows = list(csv.reader(open("/opt/ml/processing/input/data/raw.csv")))
os.makedirs("/opt/ml/processing/train/nested", exist_ok=True)
with open("/opt/ml/processing/train/nested/train.csv", "w") as out:
    for a, b in rows:
        out.write(f"{float(a) * args.scale},{b}\\n")
config = json.load(open("/opt/ml/config/processingjobconfig.json"))
resources = json.load(open("/opt/ml/config/resourceconfig.json"))
json.dump({"config": config, "resources": resources, "env": os.environ.get("STAGE")},
          open("/opt/ml/processing/report/seen.json", "w"))
os.symlink("/etc/passwd", "/opt/ml/processing/report/passwd")
print("processed\\t%d rows" % len(rows))
with open("/opt/ml/output/message", "w") as message:
    message.write("processed %d rows" % len(rows))
"""


def test_a_script_reads_its_inputs_and_its_outputs_land_in_s3(aws):
    sm, s3, logs = aws
    s3.put_object(Bucket=BUCKET, Key="raw/raw.csv", Body=b"1,a\n2,b\n")
    uri = put_script(s3, "preprocess.py", PREPROCESS)
    raw = {
        "InputName": "raw",
        "S3Input": {
            "S3Uri": f"s3://{BUCKET}/raw",
            "LocalPath": "/opt/ml/processing/input/data",
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
        },
    }
    run_script(
        sm,
        "prep",
        uri,
        "preprocess.py",
        inputs=[raw],
        AppSpecification={
            "ImageUri": SKLEARN,
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/preprocess.py"],
            "ContainerArguments": ["--scale", "10"],
        },
        Environment={"STAGE": "test"},
        ProcessingOutputConfig={
            "Outputs": [
                output("train", "/opt/ml/processing/train"),
                output("report", "/opt/ml/processing/report"),
            ]
        },
    )
    described = wait(sm, "prep")
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["ExitMessage"] == "processed 2 rows"
    assert described["ProcessingStartTime"] <= described["ProcessingEndTime"]
    assert body(s3, "out/train/nested/train.csv") == "10.0,a\n20.0,b\n"
    # The symlink the script left is not uploaded.
    assert keys(s3, "out/report/") == ["out/report/seen.json"]
    seen = json.loads(body(s3, "out/report/seen.json"))
    assert seen["env"] == "test"
    assert seen["resources"] == {"current_host": "algo-1", "hosts": ["algo-1"]}
    config = seen["config"]
    assert config["ProcessingJobName"] == "prep"
    assert config["ProcessingJobArn"] == described["ProcessingJobArn"]
    assert config["AppSpecification"]["ContainerArguments"] == ["--scale", "10"]
    assert config["StoppingCondition"] is None  # unset fields are JSON null
    assert config["NetworkConfig"] is None
    assert config["ProcessingInputs"][1]["S3Input"]["S3DownloadMode"] == "StartOfJob"
    assert config["ProcessingInputs"][1]["S3Input"]["LocalPath"] == "/opt/ml/processing/input/data"
    assert config["ProcessingOutputConfig"]["Outputs"][0]["OutputName"] == "train"
    assert config["Environment"] == {"STAGE": "test"}
    streams = log_lines(logs, "prep")
    [(stream, lines)] = streams.items()
    assert stream.startswith("prep/algo-1-")
    assert "processed#0112 rows" in lines  # tabs as SageMaker's log agent writes them


def test_a_failing_script_fails_the_job_and_uploads_nothing(aws):
    sm, s3, _ = aws
    uri = put_script(
        s3,
        "fail.py",
        "import os\n"
        "open('/opt/ml/processing/out/partial.csv', 'w').write('x')\n"
        "open('/opt/ml/output/message', 'w').write('bad input: column price is missing')\n"
        "raise SystemExit('giving up: no price column')\n",
    )
    run_script(
        sm,
        "fails",
        uri,
        "fail.py",
        ProcessingOutputConfig={"Outputs": [output("out", "/opt/ml/processing/out")]},
    )
    described = wait(sm, "fails")
    assert described["ProcessingJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith("AlgorithmError: See job logs for more information")
    assert "giving up: no price column" in reason and "exit code 1" in reason
    assert described["ExitMessage"] == "bad input: column price is missing"
    assert keys(s3, "out/out/") == []  # EndOfJob outputs only after a clean exit
    summary = sm.list_processing_jobs(NameContains="fails")["ProcessingJobSummaries"][0]
    assert summary["FailureReason"] == reason
    assert summary["ExitMessage"] == described["ExitMessage"]


def test_a_message_that_is_not_utf8_fails_the_job_with_a_client_error(aws):
    sm, s3, _ = aws
    uri = put_script(s3, "msg.py", "open('/opt/ml/output/message', 'wb').write(b'\\xff\\xfe ok')\n")
    run_script(sm, "badmsg", uri, "msg.py")
    described = wait(sm, "badmsg")
    assert described["ProcessingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("ClientError: ")
    assert "UTF-8" in described["FailureReason"]


def test_continuous_outputs_are_uploaded_while_the_job_runs(aws):
    sm, s3, _ = aws
    uri = put_script(
        s3,
        "stream.py",
        "import os, time\n"
        "with open('/opt/ml/processing/stream/part-1.csv', 'w') as f:\n"
        "    f.write('first')\n"
        "while not os.path.exists('/opt/ml/processing/input/code/go'):\n"
        "    time.sleep(0.05)\n"
        "    if os.path.exists('/opt/ml/processing/stream/stop'): break\n",
    )
    run_script(
        sm,
        "streams",
        uri,
        "stream.py",
        ProcessingOutputConfig={
            "Outputs": [output("stream", "/opt/ml/processing/stream", "Continuous")]
        },
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )
    # The first part is in S3 while the script still runs (it waits for a file that
    # never comes, so the job is stopped afterwards).
    wait_until(lambda: keys(s3, "out/stream/"), "the continuous upload")
    assert body(s3, "out/stream/part-1.csv") == "first"
    assert sm.describe_processing_job(ProcessingJobName="streams")["ProcessingJobStatus"] in (
        "InProgress",
    )
    sm.stop_processing_job(ProcessingJobName="streams")
    described = wait(sm, "streams")
    assert described["ProcessingJobStatus"] == "Stopped"
    assert keys(s3, "out/stream/") == ["out/stream/part-1.csv"]


def test_stop_interrupts_the_script_then_the_job_is_stopped(aws):
    sm, s3, logs = aws
    uri = put_script(
        s3,
        "sleepy.py",
        "import time\n"
        "print('started', flush=True)\n"
        "try:\n"
        "    time.sleep(60)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted: cleaning up', flush=True)\n"
        "    raise\n",
    )
    run_script(sm, "sleepy", uri, "sleepy.py")
    wait_until(
        lambda: any("started" in lines for lines in log_lines(logs, "sleepy").values()),
        "the script to start",
    )
    sm.stop_processing_job(ProcessingJobName="sleepy")
    assert sm.describe_processing_job(ProcessingJobName="sleepy")["ProcessingJobStatus"] in (
        "Stopping",
        "Stopped",
    )
    described = wait(sm, "sleepy")
    assert described["ProcessingJobStatus"] == "Stopped"
    assert "FailureReason" not in described
    [lines] = log_lines(logs, "sleepy").values()
    assert "interrupted: cleaning up" in lines  # SIGINT, as SageMaker sends it
    with pytest.raises(ClientError) as caught:
        sm.stop_processing_job(ProcessingJobName="sleepy")
    assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_max_runtime_stops_the_job(aws):
    sm, s3, _ = aws
    uri = put_script(s3, "forever.py", "import time\ntime.sleep(60)\n")
    run_script(sm, "forever", uri, "forever.py", StoppingCondition={"MaxRuntimeInSeconds": 1})
    described = wait(sm, "forever")
    assert described["ProcessingJobStatus"] == "Stopped"
    assert described["StoppingCondition"] == {"MaxRuntimeInSeconds": 1}


def test_two_hosts_each_get_their_shard_and_share_the_output_prefix(aws):
    sm, s3, _ = aws
    for index in range(4):
        s3.put_object(Bucket=BUCKET, Key=f"shards/part-{index}.csv", Body=f"{index}\n".encode())
    s3.put_object(
        Bucket=BUCKET,
        Key="manifests/all.json",
        Body=json.dumps([{"prefix": f"s3://{BUCKET}/shards/"}, "part-0.csv", "part-3.csv"]),
    )
    uri = put_script(
        s3,
        "shard.py",
        "import json, os\n"
        "host = json.load(open('/opt/ml/config/resourceconfig.json'))['current_host']\n"
        "seen = {'sharded': sorted(os.listdir('/opt/ml/processing/shards')),\n"
        "        'manifest': sorted(os.listdir('/opt/ml/processing/manifest'))}\n"
        "json.dump(seen, open(f'/opt/ml/processing/out/{host}.json', 'w'))\n",
    )
    run_script(
        sm,
        "sharded",
        uri,
        "shard.py",
        inputs=[
            {
                "InputName": "shards",
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/shards/",
                    "LocalPath": "/opt/ml/processing/shards",
                    "S3DataType": "S3Prefix",
                    "S3DataDistributionType": "ShardedByS3Key",
                },
            },
            {
                "InputName": "manifest",
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/manifests/all.json",
                    "LocalPath": "/opt/ml/processing/manifest",
                    "S3DataType": "ManifestFile",
                },
            },
        ],
        ProcessingResources=processing_resources(2, volume_gb=5),
        ProcessingOutputConfig={"Outputs": [output("out", "/opt/ml/processing/out")]},
    )
    described = wait(sm, "sharded")
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert keys(s3, "out/out/") == ["out/out/algo-1.json", "out/out/algo-2.json"]
    first = json.loads(body(s3, "out/out/algo-1.json"))
    second = json.loads(body(s3, "out/out/algo-2.json"))
    assert sorted(first["sharded"] + second["sharded"]) == [f"part-{i}.csv" for i in range(4)]
    assert not set(first["sharded"]) & set(second["sharded"])
    assert first["manifest"] == second["manifest"] == ["part-0.csv", "part-3.csv"]


XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


@pytest.mark.parametrize("image", [SKLEARN, XGBOOST], ids=["scikit-learn", "xgboost"])
def test_arguments_alone_run_as_the_command_in_either_framework_image(aws, image):
    sm, s3, logs = aws
    put_script(
        s3,
        "versions.py",
        "import sklearn, xgboost\nprint('with', type(xgboost.DMatrix).__name__)\n",
    )
    name = "args-" + image.split("/")[1].split(":")[0]
    sm.create_processing_job(
        ProcessingJobName=name,
        RoleArn=ROLE,
        ProcessingResources=processing_resources(volume_gb=5),
        AppSpecification={
            "ImageUri": image,
            "ContainerArguments": ["python3", "/opt/ml/processing/input/code/versions.py"],
        },
        ProcessingInputs=[code_input(f"s3://{BUCKET}/code/versions.py")],
    )
    described = wait(sm, name)
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    [lines] = log_lines(logs, name).values()
    assert "with type" in lines


def test_an_image_simsage_cannot_run_fails_with_its_name(aws, monkeypatch):
    sm, _, _ = aws
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-spark-processor:latest"
    sm.create_processing_job(
        ProcessingJobName="custom",
        RoleArn=ROLE,
        ProcessingResources=processing_resources(volume_gb=5),
        AppSpecification={"ImageUri": image},
    )
    described = wait(sm, "custom")
    assert described["ProcessingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith(f"AlgorithmError: The processing image {image}")
    assert "no Docker engine" in described["FailureReason"]


def test_a_framework_image_without_a_command_fails_saying_what_to_give(aws):
    sm, _, _ = aws
    sm.create_processing_job(
        ProcessingJobName="no-command",
        RoleArn=ROLE,
        ProcessingResources=processing_resources(volume_gb=5),
        AppSpecification={"ImageUri": SKLEARN},
    )
    described = wait(sm, "no-command")
    assert described["ProcessingJobStatus"] == "Failed"
    assert "ContainerEntrypoint" in described["FailureReason"]


def test_missing_input_data_fails_the_job_with_a_client_error(aws):
    sm, s3, _ = aws
    uri = put_script(s3, "noop.py", "pass\n")
    missing = {
        "InputName": "data",
        "S3Input": {
            "S3Uri": f"s3://{BUCKET}/nothing-here/",
            "LocalPath": "/opt/ml/processing/input/data",
            "S3DataType": "S3Prefix",
        },
    }
    run_script(sm, "no-data", uri, "noop.py", inputs=[missing])
    described = wait(sm, "no-data")
    assert described["ProcessingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("ClientError: No S3 objects found")


def test_the_cli_lists_describes_and_prints_the_logs_of_processing_jobs(aws):
    from click.testing import CliRunner

    from simsage.cli import main

    sm, s3, _ = aws
    uri = put_script(s3, "say.py", "print('said\\tby the job')\n")
    run_script(sm, "cli-said", uri, "say.py")
    assert wait(sm, "cli-said")["ProcessingJobStatus"] == "Completed"
    runner = CliRunner()
    listed = runner.invoke(main, ["processing", "ls"])
    assert listed.exit_code == 0, listed.output
    assert [line.split()[-1] for line in listed.output.splitlines()] == ["cli-said"]
    assert "Completed" in listed.output
    described = runner.invoke(main, ["processing", "describe", "cli-said"])
    assert json.loads(described.output)["ProcessingJobStatus"] == "Completed"
    logs = runner.invoke(main, ["processing", "logs", "cli-said"])
    assert "said#011by the job" in logs.output.splitlines()
    missing = runner.invoke(main, ["processing", "stop", "nope"])
    assert missing.exit_code == 1 and "Requested resource not found." in missing.output


def test_what_a_script_leaves_running_ends_with_the_job(aws):
    import psutil

    sm, s3, _ = aws
    uri = put_script(
        s3,
        "orphans.py",
        "import subprocess\n"
        "subprocess.Popen(['sleep', '313.7'])\n"
        "subprocess.Popen(['sleep', '313.7'], stdout=subprocess.DEVNULL)\n"
        "print('left two sleepers behind')\n",
    )
    run_script(sm, "orphans", uri, "orphans.py")
    assert wait(sm, "orphans")["ProcessingJobStatus"] == "Completed"

    def sleepers():
        found = []
        for proc in psutil.process_iter(["cmdline"]):
            if (proc.info["cmdline"] or [])[-1:] == ["313.7"]:
                found.append(proc)
        return found

    # As a container's processes end with its main process, nothing of the job is left.
    wait_until(lambda: not sleepers(), "the job's leftover processes to end", timeout=10)
