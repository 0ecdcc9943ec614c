"""The training job control plane through boto3's ``sagemaker`` client: service-side
validation with AWS's error codes and messages, duplicate and missing jobs, stopping,
ListTrainingJobs (filters, sort, pagination) and tags on job ARNs.

Jobs that must exist run a script that does nothing (Completed in about a second) or
read a missing S3 prefix (Failed at once).
"""

from __future__ import annotations

import io
import json
import tarfile
import time

import pytest
from botocore.exceptions import ClientError, ParamValidationError

SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "simsage-training-api"
NAME_PATTERN = "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
TERMINAL = ("Completed", "Failed", "Stopped")


def _sourcedir() -> bytes:
    script = b"print('nothing to learn')\n"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("train.py")
        info.size = len(script)
        archive.addfile(info, io.BytesIO(script))
    return buffer.getvalue()


@pytest.fixture
def api(simsage_local):
    """The sagemaker client, for requests refused before any job exists."""
    return simsage_local.client("sagemaker")


@pytest.fixture
def sm(api, simsage_local):
    """The sagemaker client, with a bucket holding the script and data jobs need."""
    s3 = simsage_local.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="code/sourcedir.tar.gz", Body=_sourcedir())
    s3.put_object(Bucket=BUCKET, Key="data/train.csv", Body=b"1,2\n")
    return api


def request(name: str, fail: bool = False, **changes) -> dict:
    """A CreateTrainingJob request; ``fail`` points its channel at a missing prefix."""
    prefix = "missing/" if fail else "data/"
    out = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": SKLEARN, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "HyperParameters": {
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": json.dumps(f"s3://{BUCKET}/code/sourcedir.tar.gz"),
        },
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{prefix}"}
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
    }
    out.update(changes)
    return out


def wait(sm, *names: str, timeout: float = 60.0) -> dict[str, dict]:
    """Describe the jobs every 0.05 s until all have ended; their last descriptions."""
    deadline = time.monotonic() + timeout
    done: dict[str, dict] = {}
    while time.monotonic() < deadline:
        for name in names:
            if name not in done:
                description = sm.describe_training_job(TrainingJobName=name)
                if description["TrainingJobStatus"] in TERMINAL:
                    done[name] = description
        if len(done) == len(names):
            return done
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {sorted(set(names) - set(done))}")


def error_of(call, **params) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


# -- validation --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["my_job", "-leading-dash", "trailing-dash-", "dot.name"])
def test_job_name_must_match_the_pattern(api, name):
    code, message, status = error_of(api.create_training_job, **request(name))
    assert (code, status) == ("ValidationException", 400)
    assert message == (
        f"1 validation error detected: Value '{name}' at 'trainingJobName' failed to satisfy "
        f"constraint: Member must satisfy regular expression pattern: {NAME_PATTERN}"
    )


def test_job_name_longer_than_63_characters_is_refused(api):
    name = "a" * 64
    code, message, _ = error_of(api.create_training_job, **request(name))
    assert code == "ValidationException"
    assert message.startswith("2 validation errors detected: ")
    assert (
        f"Value '{name}' at 'trainingJobName' failed to satisfy constraint: "
        "Member must have length less than or equal to 63"
    ) in message


def test_job_name_of_63_characters_is_accepted(sm):
    name = "a-" * 31 + "b"
    assert len(name) == 63
    arn = sm.create_training_job(**request(name))["TrainingJobArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}"


def test_unknown_instance_type_is_an_enum_violation(api):
    params = request("bad-instance")
    params["ResourceConfig"]["InstanceType"] = "ml.fake.large"
    code, message, _ = error_of(api.create_training_job, **params)
    assert code == "ValidationException"
    assert message.startswith(
        "1 validation error detected: Value 'ml.fake.large' at 'resourceConfig.instanceType' "
        "failed to satisfy constraint: Member must satisfy enum value set: ["
    )
    assert "ml.m5.large" in message


def test_unknown_input_modes_are_enum_violations(api):
    params = request("bad-mode")
    params["AlgorithmSpecification"]["TrainingInputMode"] = "Streaming"
    code, message, _ = error_of(api.create_training_job, **params)
    assert code == "ValidationException"
    assert (
        "Value 'Streaming' at 'algorithmSpecification.trainingInputMode' failed to satisfy "
        "constraint: Member must satisfy enum value set: [Pipe, File, FastFile]"
    ) in message

    params = request("bad-channel-mode")
    params["InputDataConfig"][0]["InputMode"] = "Streaming"
    params["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataDistributionType"] = "Split"
    code, message, _ = error_of(api.create_training_job, **params)
    assert code == "ValidationException"
    assert message.startswith("2 validation errors detected: ")
    assert "Value 'Streaming' at 'inputDataConfig.1.member.inputMode'" in message
    assert (
        "Value 'Split' at 'inputDataConfig.1.member.dataSource.s3DataSource."
        "s3DataDistributionType' failed to satisfy constraint: Member must satisfy enum value "
        "set: [FullyReplicated, ShardedByS3Key]"
    ) in message


def test_algorithm_specification_is_required(api):
    params = request("no-algorithm")
    del params["AlgorithmSpecification"]
    code, message, _ = error_of(api.create_training_job, **params)
    assert code == "ValidationException"
    assert "AlgorithmSpecification" in message


def test_resource_config_is_required(api):
    params = request("no-resources")
    del params["ResourceConfig"]
    code, message, _ = error_of(api.create_training_job, **params)
    assert code == "ValidationException"
    assert "ResourceConfig" in message

    params = request("no-instance-type", ResourceConfig={"InstanceCount": 1, "VolumeSizeInGB": 1})
    code, message, _ = error_of(api.create_training_job, **params)
    assert code == "ValidationException"
    assert "InstanceType" in message


def test_role_arn_is_required_by_botocore_before_any_call(api):
    params = request("no-role")
    del params["RoleArn"]
    with pytest.raises(ParamValidationError):
        api.create_training_job(**params)


def test_pipe_mode_is_refused_with_a_clear_message(api):
    params = request("pipe-job")
    params["AlgorithmSpecification"]["TrainingInputMode"] = "Pipe"
    code, message, _ = error_of(api.create_training_job, **params)
    assert code == "ValidationException"
    assert "Pipe input mode" in message and "File" in message

    params = request("pipe-channel")
    params["InputDataConfig"][0]["InputMode"] = "Pipe"
    code, message, _ = error_of(api.create_training_job, **params)
    assert code == "ValidationException"
    assert message.startswith("Channel train: ")


def test_refused_requests_create_no_job(api):
    params = request("refused-job")
    params["ResourceConfig"]["InstanceType"] = "ml.fake.large"
    error_of(api.create_training_job, **params)
    code, message, _ = error_of(api.describe_training_job, TrainingJobName="refused-job")
    assert (code, message) == ("ValidationException", "Requested resource not found.")
    assert api.list_training_jobs()["TrainingJobSummaries"] == []


# -- duplicate and missing jobs, stop ----------------------------------------------------------


def test_duplicate_name_is_resource_in_use_whatever_the_case(sm):
    arn = sm.create_training_job(**request("dup-job", fail=True))["TrainingJobArn"]
    for name in ("dup-job", "DUP-Job"):
        code, message, status = error_of(sm.create_training_job, **request(name))
        assert (code, status) == ("ResourceInUse", 400)
        assert message == (
            "Training job names must be unique within an AWS account and region, and a "
            f"training job with this name already exists ({arn})"
        )


def test_describe_and_stop_of_a_missing_job(api):
    for call in (api.describe_training_job, api.stop_training_job):
        code, message, status = error_of(call, TrainingJobName="no-such-job")
        assert (code, message, status) == (
            "ValidationException",
            "Requested resource not found.",
            400,
        )


def test_stop_of_a_finished_job_is_refused(sm):
    sm.create_training_job(**request("finished-job"))
    sm.create_training_job(**request("failed-job", fail=True))
    done = wait(sm, "finished-job", "failed-job")
    assert done["finished-job"]["TrainingJobStatus"] == "Completed"
    assert done["failed-job"]["TrainingJobStatus"] == "Failed"
    for name, status in (("finished-job", "Completed"), ("failed-job", "Failed")):
        code, message, _ = error_of(sm.stop_training_job, TrainingJobName=name)
        assert code == "ValidationException"
        assert status in message
    assert sm.describe_training_job(TrainingJobName="finished-job")["TrainingJobStatus"] == (
        "Completed"
    )


def test_describe_finds_a_job_by_any_case_of_its_name(sm):
    sm.create_training_job(**request("Mixed-Case-Job", fail=True))
    described = sm.describe_training_job(TrainingJobName="mixed-case-job")
    assert described["TrainingJobName"] == "Mixed-Case-Job"


# -- ListTrainingJobs -----------------------------------------------------------------------

NAMES = ["alpha-one", "alpha-two", "beta-one", "beta-two", "gamma-one"]
FAILING = {"beta-one", "gamma-one"}


@pytest.fixture
def listed(sm):
    """Five finished jobs (two Failed), created in NAMES order; their descriptions."""
    for name in NAMES:
        sm.create_training_job(**request(name, fail=name in FAILING))
        time.sleep(0.01)  # distinct creation times
    return wait(sm, *NAMES)


def _names(response: dict) -> list[str]:
    return [s["TrainingJobName"] for s in response["TrainingJobSummaries"]]


def test_list_filters_summaries_and_sort_orders(sm, listed):
    assert {n: d["TrainingJobStatus"] for n, d in listed.items()} == {
        n: "Failed" if n in FAILING else "Completed" for n in NAMES
    }
    assert sorted(_names(sm.list_training_jobs(NameContains="alpha"))) == ["alpha-one", "alpha-two"]
    assert sorted(_names(sm.list_training_jobs(StatusEquals="Failed"))) == sorted(FAILING)
    assert _names(sm.list_training_jobs(StatusEquals="Stopped")) == []
    assert _names(sm.list_training_jobs(NameContains="one", StatusEquals="Completed")) == [
        "alpha-one"
    ]
    after = listed["alpha-two"]["CreationTime"]
    assert sorted(_names(sm.list_training_jobs(CreationTimeAfter=after))) == [
        "beta-one",
        "beta-two",
        "gamma-one",
    ]
    assert sorted(_names(sm.list_training_jobs(CreationTimeBefore=after))) == ["alpha-one"]

    # Summaries, newest first by default, and the other sort orders.
    response = sm.list_training_jobs()
    assert _names(response) == list(reversed(NAMES))
    summary = response["TrainingJobSummaries"][-1]
    described = listed["alpha-one"]
    assert summary["TrainingJobArn"] == described["TrainingJobArn"]
    assert summary["CreationTime"] == described["CreationTime"]
    assert summary["TrainingJobStatus"] == "Completed"
    assert summary["SecondaryStatus"] == "Completed"
    assert summary["TrainingEndTime"] == described["TrainingEndTime"]

    assert _names(sm.list_training_jobs(SortBy="CreationTime", SortOrder="Ascending")) == NAMES
    assert _names(sm.list_training_jobs(SortBy="Name", SortOrder="Ascending")) == sorted(NAMES)
    assert _names(sm.list_training_jobs(SortBy="Name", SortOrder="Descending")) == sorted(
        NAMES, reverse=True
    )
    by_status = _names(sm.list_training_jobs(SortBy="Status", SortOrder="Ascending"))
    assert set(by_status[:3]) == set(NAMES) - FAILING  # "Completed" < "Failed"
    assert set(by_status[3:]) == FAILING


def test_list_pagination_with_max_results_next_token_and_the_paginator(sm, listed):
    pages, token = [], None
    while True:
        params = {"MaxResults": 2, "SortBy": "Name", "SortOrder": "Ascending"}
        if token:
            params["NextToken"] = token
        response = sm.list_training_jobs(**params)
        pages.append(_names(response))
        token = response.get("NextToken")
        if not token:
            break
    assert pages == [["alpha-one", "alpha-two"], ["beta-one", "beta-two"], ["gamma-one"]]

    code, _, _ = error_of(sm.list_training_jobs, NextToken="not-a-token")
    assert code == "ValidationException"

    # The same through boto3's paginator.
    paginator = sm.get_paginator("list_training_jobs")
    pages = list(
        paginator.paginate(SortBy="Name", SortOrder="Ascending", PaginationConfig={"PageSize": 2})
    )
    assert [len(p["TrainingJobSummaries"]) for p in pages] == [2, 2, 1]
    assert [name for page in pages for name in _names(page)] == sorted(NAMES)
    whole = paginator.paginate(NameContains="beta").build_full_result()
    assert sorted(_names(whole)) == ["beta-one", "beta-two"]


# -- tags ------------------------------------------------------------------------------------


def test_tags_on_a_training_job(sm):
    arn = sm.create_training_job(
        **request("tagged-job", fail=True, Tags=[{"Key": "team", "Value": "fraud"}])
    )["TrainingJobArn"]
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "fraud"}]

    added = sm.add_tags(
        ResourceArn=arn, Tags=[{"Key": "stage", "Value": "dev"}, {"Key": "team", "Value": "risk"}]
    )
    assert added["Tags"] == [{"Key": "stage", "Value": "dev"}, {"Key": "team", "Value": "risk"}]
    assert sorted((t["Key"], t["Value"]) for t in sm.list_tags(ResourceArn=arn)["Tags"]) == [
        ("stage", "dev"),
        ("team", "risk"),
    ]

    sm.delete_tags(ResourceArn=arn, TagKeys=["team", "not-there"])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "stage", "Value": "dev"}]
    assert "Tags" not in sm.describe_training_job(TrainingJobName="tagged-job")


def test_tags_calls_on_an_unknown_arn(api):
    arn = "arn:aws:sagemaker:us-east-1:123456789012:training-job/never-created"
    calls = (
        (api.list_tags, {"ResourceArn": arn}),
        (api.add_tags, {"ResourceArn": arn, "Tags": [{"Key": "k", "Value": "v"}]}),
        (api.delete_tags, {"ResourceArn": arn, "TagKeys": ["k"]}),
    )
    for call, params in calls:
        code, message, status = error_of(call, **params)
        assert (code, status) == ("ValidationException", 400)
        assert arn in message and "not found" in message

    code, message, _ = error_of(api.list_tags, ResourceArn="not-an-arn")
    assert code == "ValidationException"
    assert "at 'resourceArn' failed to satisfy constraint" in message
