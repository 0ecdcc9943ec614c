"""SageMaker Pipelines through boto3: pipelines and their versions, executions that really
run their steps (processing jobs with the scikit-learn image running a one-line
``python3 -c`` command, so each step takes well under a second), property files and a
condition on them, parameters, execution variables, caching across executions, failure
propagation, retry, stop, and the errors AWS answers."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError

SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "pipes"
OUT = "/opt/ml/processing/out"

# Writes report.json ({"score": <argv[1]>}) and a copy of its input's first file.
PRODUCE = (
    "import json, os, sys, glob; os.makedirs('/opt/ml/processing/out', exist_ok=True); "
    "json.dump({'score': float(sys.argv[1])}, open('/opt/ml/processing/out/report.json', 'w')); "
    "print('produced', sys.argv[1])"
)
# Fails unless s3://pipes/flag/ready was staged into its input.
NEEDS_FLAG = (
    "import os, sys; sys.exit(0 if os.listdir('/opt/ml/processing/flag') else 'no flag yet')"
)
SLEEP = "import time; time.sleep(60)"


def _processing(command: str, *arguments, inputs=(), outputs=(), **extra) -> dict:
    return {
        "AppSpecification": {
            "ImageUri": SKLEARN,
            "ContainerEntrypoint": ["python3", "-c", command],
            **({"ContainerArguments": list(arguments)} if arguments else {}),
        },
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 1,
            }
        },
        "RoleArn": ROLE,
        "ProcessingInputs": list(inputs),
        **({"ProcessingOutputConfig": {"Outputs": list(outputs)}} if outputs else {}),
        **extra,
    }


def _s3_input(name: str, uri, local: str) -> dict:
    return {
        "InputName": name,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
        },
    }


REPORT_OUTPUT = {
    "OutputName": "report",
    "S3Output": {
        "S3Uri": {
            "Std:Join": {
                "On": "/",
                "Values": [
                    f"s3://{BUCKET}/runs",
                    {"Get": "Execution.PipelineExecutionId"},
                    "report",
                ],
            }
        },
        "LocalPath": OUT,
        "S3UploadMode": "EndOfJob",
    },
}


def definition(cache: bool = False) -> dict:
    """Produce (a score from the Score parameter, a property file) → a condition on the
    score → Consume (reads Produce's output) or the Fail step."""
    produce = {
        "Name": "Produce",
        "Type": "Processing",
        "Arguments": _processing(PRODUCE, {"Get": "Parameters.Score"}, outputs=[REPORT_OUTPUT]),
        "PropertyFiles": [
            {"PropertyFileName": "Report", "OutputName": "report", "FilePath": "report.json"}
        ],
    }
    if cache:
        produce["CacheConfig"] = {"Enabled": True, "ExpireAfter": "P1D"}
    consume = {
        "Name": "Consume",
        "Type": "Processing",
        "Arguments": _processing(
            "import os; print(sorted(os.listdir('/opt/ml/processing/report')))",
            inputs=[
                _s3_input(
                    "report",
                    {
                        "Get": "Steps.Produce.ProcessingOutputConfig.Outputs['report']"
                        ".S3Output.S3Uri"
                    },
                    "/opt/ml/processing/report",
                )
            ],
        ),
    }
    fail = {
        "Name": "TooLow",
        "Type": "Fail",
        "Arguments": {"ErrorMessage": {"Std:Join": {"On": " ", "Values": ["score below", 0.5]}}},
    }
    check = {
        "Name": "Check",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [
                {
                    "Type": "GreaterThanOrEqualTo",
                    "LeftValue": {
                        "Std:JsonGet": {
                            "PropertyFile": {"Get": "Steps.Produce.PropertyFiles.Report"},
                            "Path": "score",
                        }
                    },
                    "RightValue": 0.5,
                }
            ],
            "IfSteps": [consume],
            "ElseSteps": [fail],
        },
    }
    return {
        "Version": "2020-12-01",
        "Parameters": [{"Name": "Score", "Type": "Float", "DefaultValue": 0.9}],
        "Steps": [produce, check],
    }


def _token() -> str:
    """A ClientRequestToken (32 to 128 characters)."""
    return uuid.uuid4().hex


@pytest.fixture
def sm(simsage_local):
    simsage_local.client("s3").create_bucket(Bucket=BUCKET)
    return simsage_local.client("sagemaker")


def _create(sm, name: str = "Scores", body: dict | None = None, **extra) -> str:
    return sm.create_pipeline(
        PipelineName=name,
        PipelineDefinition=json.dumps(body or definition()),
        RoleArn=ROLE,
        ClientRequestToken=_token(),
        **extra,
    )["PipelineArn"]


def _start(sm, name: str = "Scores", **parameters) -> str:
    return sm.start_pipeline_execution(
        PipelineName=name,
        ClientRequestToken=_token(),
        PipelineParameters=[{"Name": k, "Value": str(v)} for k, v in parameters.items()],
    )["PipelineExecutionArn"]


def _wait(sm, arn: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        if found["PipelineExecutionStatus"] not in ("Executing", "Stopping"):
            return found
        assert time.monotonic() < deadline, found
        time.sleep(0.1)


def _steps(sm, arn: str) -> dict[str, dict]:
    pages = sm.get_paginator("list_pipeline_execution_steps").paginate(PipelineExecutionArn=arn)
    return {s["StepName"]: s for page in pages for s in page["PipelineExecutionSteps"]}


def test_pipelines_are_versioned_described_listed_and_deleted(sm):
    arn = _create(sm, PipelineDescription="scores", Tags=[{"Key": "team", "Value": "ml"}])
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:pipeline/scores"
    described = sm.describe_pipeline(PipelineName="Scores")
    assert described["PipelineStatus"] == "Active"
    assert json.loads(described["PipelineDefinition"]) == definition()
    assert described["PipelineDescription"] == "scores"
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]

    with pytest.raises(ClientError) as taken:
        _create(sm)
    assert taken.value.response["Error"]["Code"] == "ValidationException"
    assert "already exists" in taken.value.response["Error"]["Message"]

    updated = sm.update_pipeline(
        PipelineName="Scores", PipelineDefinition=json.dumps(definition(cache=True))
    )
    assert updated["PipelineVersionId"] == 2
    first = sm.describe_pipeline(PipelineName="Scores", PipelineVersionId=1)
    assert json.loads(first["PipelineDefinition"]) == definition()
    versions = sm.list_pipeline_versions(PipelineName="Scores")["PipelineVersionSummaries"]
    assert sorted(v["PipelineVersionId"] for v in versions) == [1, 2]

    _create(sm, "Other")
    names = [
        p["PipelineName"]
        for p in sm.list_pipelines(SortBy="Name", SortOrder="Ascending")["PipelineSummaries"]
    ]
    assert names == ["Other", "Scores"]
    assert [
        p["PipelineName"] for p in sm.list_pipelines(PipelineNamePrefix="Oth")["PipelineSummaries"]
    ] == ["Other"]

    sm.delete_pipeline(PipelineName="Other", ClientRequestToken=_token())
    with pytest.raises(ClientError) as missing:
        sm.describe_pipeline(PipelineName="Other")
    assert missing.value.response["Error"]["Code"] == "ValidationException"
    assert "does not exist" in missing.value.response["Error"]["Message"]


def test_definitions_that_could_never_run_are_refused(sm):
    body = definition()
    body["Steps"][0]["DependsOn"] = ["Check"]  # Check reads Produce: a cycle
    with pytest.raises(ClientError) as cycle:
        _create(sm, "Cycle", body)
    assert cycle.value.response["Error"]["Code"] == "ValidationException"
    assert "Produce" in cycle.value.response["Error"]["Message"]

    lambda_step = {"Name": "Notify", "Type": "Lambda", "Arguments": {}}
    with pytest.raises(ClientError) as unknown:
        _create(sm, "Lambda", {"Version": "2020-12-01", "Steps": [lambda_step]})
    assert "Lambda" in unknown.value.response["Error"]["Message"]

    with pytest.raises(ClientError) as bad_json:
        sm.create_pipeline(
            PipelineName="Broken", PipelineDefinition="{", RoleArn=ROLE, ClientRequestToken=_token()
        )
    assert bad_json.value.response["Error"]["Code"] == "ValidationException"


def test_definition_from_s3(sm, simsage_local):
    s3 = simsage_local.client("s3")
    s3.put_object(Bucket=BUCKET, Key="defs/scores.json", Body=json.dumps(definition()).encode())
    sm.create_pipeline(
        PipelineName="FromS3",
        PipelineDefinitionS3Location={"Bucket": BUCKET, "ObjectKey": "defs/scores.json"},
        RoleArn=ROLE,
        ClientRequestToken=_token(),
    )
    assert json.loads(sm.describe_pipeline(PipelineName="FromS3")["PipelineDefinition"]) == (
        definition()
    )
    with pytest.raises(ClientError) as missing:
        sm.create_pipeline(
            PipelineName="Nowhere",
            PipelineDefinitionS3Location={"Bucket": BUCKET, "ObjectKey": "defs/none.json"},
            RoleArn=ROLE,
            ClientRequestToken=_token(),
        )
    assert "s3://pipes/defs/none.json" in missing.value.response["Error"]["Message"]


def test_an_execution_runs_its_steps_as_the_condition_decides(sm, simsage_local):
    _create(sm)
    arn = _start(sm)
    done = _wait(sm, arn)
    assert done["PipelineExecutionStatus"] == "Succeeded", done.get("FailureReason")
    steps = _steps(sm, arn)
    assert set(steps) == {"Produce", "Check", "Consume"}
    assert all(s["StepStatus"] == "Succeeded" for s in steps.values())
    assert steps["Check"]["Metadata"] == {"Condition": {"Outcome": "True"}}
    job_arn = steps["Produce"]["Metadata"]["ProcessingJob"]["Arn"]
    job_name = job_arn.rsplit("/", 1)[-1]
    execution_id = arn.rsplit("/", 1)[-1]
    assert job_name.startswith(f"pipelines-{execution_id}-produce-")
    produced = sm.describe_processing_job(ProcessingJobName=job_name)
    # Std:Join of the execution id wrote the output under this execution's own prefix.
    output = produced["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    assert output == f"s3://{BUCKET}/runs/{execution_id}/report"
    consumer = steps["Consume"]["Metadata"]["ProcessingJob"]["Arn"].rsplit("/", 1)[-1]
    consumed = sm.describe_processing_job(ProcessingJobName=consumer)
    assert consumed["ProcessingInputs"][0]["S3Input"]["S3Uri"] == output
    ordered = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    assert [s["StepName"] for s in ordered] == ["Consume", "Check", "Produce"]  # latest first

    parameters = sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)
    assert parameters["PipelineParameters"] == [{"Name": "Score", "Value": "0.9"}]
    snapshot = sm.describe_pipeline_definition_for_execution(PipelineExecutionArn=arn)
    assert json.loads(snapshot["PipelineDefinition"]) == definition()
    listed = sm.list_pipeline_executions(PipelineName="Scores")["PipelineExecutionSummaries"]
    assert [e["PipelineExecutionArn"] for e in listed] == [arn]

    low = _wait(sm, _start(sm, Score=0.2))
    assert low["PipelineExecutionStatus"] == "Failed"
    assert low["FailureReason"] == "Step failure: One or multiple steps failed."
    steps = _steps(sm, low["PipelineExecutionArn"])
    assert steps["Check"]["Metadata"] == {"Condition": {"Outcome": "False"}}
    assert steps["TooLow"]["StepStatus"] == "Failed"
    assert steps["TooLow"]["FailureReason"] == "score below 0.5"
    assert steps["TooLow"]["Metadata"] == {"Fail": {"ErrorMessage": "score below 0.5"}}
    assert "Consume" not in steps

    with pytest.raises(ClientError) as wrong_type:
        _start(sm, Score="high")
    assert wrong_type.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as undeclared:
        _start(sm, Threshold=1)
    assert "Threshold" in undeclared.value.response["Error"]["Message"]


def test_a_cached_step_reuses_its_earlier_run_until_its_arguments_change(sm):
    _create(sm, body=definition(cache=True))
    first = _wait(sm, _start(sm))
    second = _wait(sm, _start(sm))
    assert first["PipelineExecutionStatus"] == second["PipelineExecutionStatus"] == "Succeeded"
    before = _steps(sm, first["PipelineExecutionArn"])["Produce"]
    again = _steps(sm, second["PipelineExecutionArn"])["Produce"]
    assert again["CacheHitResult"] == {"SourcePipelineExecutionArn": first["PipelineExecutionArn"]}
    assert again["Metadata"] == before["Metadata"]  # the same job, not a new one
    assert "CacheHitResult" not in before
    # Consume is not cached: it runs again, reading the reused step's output.
    assert "CacheHitResult" not in _steps(sm, second["PipelineExecutionArn"])["Consume"]

    changed = _wait(sm, _start(sm, Score=0.8))  # the command's arguments changed
    produce = _steps(sm, changed["PipelineExecutionArn"])["Produce"]
    assert "CacheHitResult" not in produce
    assert produce["Metadata"] != before["Metadata"]


def _flagged() -> dict:
    gate = {
        "Name": "Gate",
        "Type": "Processing",
        "Arguments": _processing(
            NEEDS_FLAG,
            inputs=[_s3_input("flag", f"s3://{BUCKET}/flag/", "/opt/ml/processing/flag")],
        ),
    }
    first = {"Name": "First", "Type": "Processing", "Arguments": _processing(PRODUCE, "1")}
    after = {
        "Name": "After",
        "Type": "Processing",
        "Arguments": _processing(PRODUCE, "2"),
        "DependsOn": ["Gate", "First"],
    }
    return {"Version": "2020-12-01", "Steps": [first, gate, after]}


def test_a_failed_step_stops_its_dependents_and_retry_runs_what_failed(sm, simsage_local):
    s3 = simsage_local.client("s3")
    _create(sm, "Flagged", _flagged())
    arn = _start(sm, "Flagged")
    failed = _wait(sm, arn)
    assert failed["PipelineExecutionStatus"] == "Failed"
    steps = _steps(sm, arn)
    assert steps["First"]["StepStatus"] == "Succeeded"
    assert steps["Gate"]["StepStatus"] == "Failed"
    assert steps["Gate"]["FailureReason"]  # the job's own reason (its input is empty)
    assert "After" not in steps
    first_job = steps["First"]["Metadata"]

    s3.put_object(Bucket=BUCKET, Key="flag/ready", Body=b"yes")
    assert (
        sm.retry_pipeline_execution(PipelineExecutionArn=arn, ClientRequestToken=_token())[
            "PipelineExecutionArn"
        ]
        == arn
    )
    retried = _wait(sm, arn)
    assert retried["PipelineExecutionStatus"] == "Succeeded", retried.get("FailureReason")
    steps = _steps(sm, arn)
    assert steps["First"]["Metadata"] == first_job  # kept, not run again
    assert steps["Gate"]["StepStatus"] == steps["After"]["StepStatus"] == "Succeeded"
    assert steps["Gate"]["AttemptCount"] == 2

    with pytest.raises(ClientError) as not_failed:
        sm.retry_pipeline_execution(PipelineExecutionArn=arn, ClientRequestToken=_token())
    assert "only a Failed execution can be retried" in not_failed.value.response["Error"]["Message"]


def test_stop_stops_the_running_steps_jobs(sm):
    body = {
        "Version": "2020-12-01",
        "Steps": [{"Name": "Sleep", "Type": "Processing", "Arguments": _processing(SLEEP)}],
    }
    _create(sm, "Sleepy", body)
    arn = _start(sm, "Sleepy")
    deadline = time.monotonic() + 60
    while _steps(sm, arn).get("Sleep", {}).get("StepStatus") != "Executing":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    sm.stop_pipeline_execution(PipelineExecutionArn=arn, ClientRequestToken=_token())
    done = _wait(sm, arn)
    assert done["PipelineExecutionStatus"] == "Stopped"
    step = _steps(sm, arn)["Sleep"]
    assert step["StepStatus"] == "Stopped"
    job = step["Metadata"]["ProcessingJob"]["Arn"].rsplit("/", 1)[-1]
    assert sm.describe_processing_job(ProcessingJobName=job)["ProcessingJobStatus"] == "Stopped"
    with pytest.raises(ClientError) as finished:
        sm.stop_pipeline_execution(PipelineExecutionArn=arn, ClientRequestToken=_token())
    assert (
        "only an Executing execution can be stopped" in finished.value.response["Error"]["Message"]
    )


def test_unknown_executions_are_refused(sm):
    missing = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/none/execution/abcdefabcdef"
    with pytest.raises(ClientError) as caught:
        sm.describe_pipeline_execution(PipelineExecutionArn=missing)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "does not exist" in caught.value.response["Error"]["Message"]


def test_the_command_line_lists_starts_and_shows_the_steps(sm):
    from click.testing import CliRunner

    from simsage.cli import main

    _create(sm)
    runner = CliRunner()
    assert "Scores  (never run)" in runner.invoke(main, ["pipelines", "ls"]).output
    started = runner.invoke(main, ["pipelines", "start", "Scores", "-p", "Score=0.2"])
    assert started.exit_code == 0, started.output
    arn = started.output.strip()
    _wait(sm, arn)
    steps = runner.invoke(main, ["pipelines", "steps", "Scores"]).output.splitlines()
    assert [line.split()[:2] for line in steps] == [
        ["Succeeded", "Produce"],
        ["Succeeded", "Check"],
        ["Failed", "TooLow"],
    ]
    assert "False" in steps[1] and steps[2].endswith("TooLow                       score below 0.5")
    executions = runner.invoke(main, ["pipelines", "executions", "Scores"]).output
    assert "Failed" in executions and arn in executions
    described = runner.invoke(main, ["pipelines", "describe", "Scores"])
    assert '"PipelineStatus": "Active"' in described.output
    bad = runner.invoke(main, ["pipelines", "start", "Scores", "-p", "Score"])
    assert bad.exit_code == 1 and "is not NAME=VALUE" in bad.output
    finished = runner.invoke(main, ["pipelines", "stop", arn])
    assert finished.exit_code == 1 and "only an Executing execution" in finished.output


def test_a_retry_policy_starts_a_step_again_after_an_internal_error(sm, simsage_local):
    """The job of attempt 1 dies with its runner (an InternalServerError, as SageMaker's
    own faults are): the step's SageMaker.JOB_INTERNAL_ERROR policy starts a new job,
    which succeeds."""
    import os
    import signal

    from simsage.home import Home
    from simsage.processing.jobs import ProcessingJobStore

    step = {
        "Name": "Flaky",
        "Type": "Processing",
        "Arguments": _processing("import time; time.sleep(2)"),
        "RetryPolicies": [
            {
                "ExceptionType": ["SageMaker.JOB_INTERNAL_ERROR"],
                "IntervalSeconds": 1,
                "BackoffRate": 1.0,
                "MaxAttempts": 2,
            }
        ],
    }
    _create(sm, "Flaky", {"Version": "2020-12-01", "Steps": [step]})
    arn = _start(sm, "Flaky")
    jobs = ProcessingJobStore(Home.open(simsage_local.config))
    deadline = time.monotonic() + 60
    while not (first := [j for j in jobs.all() if j.runner_pid]):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(first[0].runner_pid, signal.SIGKILL)

    done = _wait(sm, arn)
    assert done["PipelineExecutionStatus"] == "Succeeded", done.get("FailureReason")
    flaky = _steps(sm, arn)["Flaky"]
    assert flaky["AttemptCount"] == 2
    job_names = sorted(j.name for j in jobs.all())
    assert len(job_names) == 2
    assert flaky["Metadata"]["ProcessingJob"]["Arn"].rsplit("/", 1)[-1] != first[0].name.lower()
    statuses = {j.name: j.status for j in ProcessingJobStore(Home.open(simsage_local.config)).all()}
    assert statuses[first[0].name] == "Failed"
    assert sorted(statuses.values()) == ["Completed", "Failed"]
