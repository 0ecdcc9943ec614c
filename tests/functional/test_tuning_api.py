"""CreateHyperParameterTuningJob & co through boto3's ``sagemaker`` client: validation
with AWS's codes and messages that say what to do, names (32 characters, not
case-sensitive), unknown jobs, listing (filters, sort, paging, the paginator), stop,
and tags. Jobs here are stopped as soon as they are made (their runs are the
integration tests' subject: tests/integration/test_tuning_jobs.py)."""

from __future__ import annotations

import copy
import json
import time

import boto3
import pytest
from botocore.exceptions import ClientError

SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "tuning-api"
TIMEOUT = 30.0


@pytest.fixture
def sm(simsage_local):
    simsage_local.client("s3").create_bucket(Bucket=BUCKET)
    return simsage_local.client("sagemaker")


def definition(**changes) -> dict:
    out = {
        "StaticHyperParameters": {"sagemaker_program": "train.py"},
        "AlgorithmSpecification": {
            "TrainingImage": SKLEARN,
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "validation:score", "Regex": "score=([0-9.]+)"}],
        },
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    out.update(changes)
    return out


def config(**changes) -> dict:
    out = {
        "Strategy": "Random",
        "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:score"},
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
        "ParameterRanges": {
            "IntegerParameterRanges": [{"Name": "x", "MinValue": "1", "MaxValue": "9"}]
        },
    }
    out.update(changes)
    return out


def request(name: str = "tune", **changes) -> dict:
    out = {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": config(),
        "TrainingJobDefinition": definition(),
    }
    out.update(changes)
    return out


def refused(sm, params) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        sm.create_hyper_parameter_tuning_job(**params)
    error = info.value.response["Error"]
    return error["Code"], error["Message"]


def wait_for(sm, name: str, statuses=("Completed", "Failed", "Stopped")) -> dict:
    deadline = time.monotonic() + TIMEOUT
    while True:
        seen = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        if seen["HyperParameterTuningJobStatus"] in statuses or time.monotonic() > deadline:
            return seen
        time.sleep(0.1)


def make_stopped(sm, name: str, **changes) -> str:
    params = request(name, **changes)
    if "TrainingJobDefinitions" in changes:
        del params["TrainingJobDefinition"]
    arn = sm.create_hyper_parameter_tuning_job(**params)["HyperParameterTuningJobArn"]
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    return arn


def test_create_answers_the_arn_and_describe_echoes_the_request(sm):
    arn = make_stopped(sm, "Echo-Job", Tags=[{"Key": "team", "Value": "ml"}])
    assert arn.endswith(":123456789012:hyper-parameter-tuning-job/echo-job")
    seen = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="echo-job")
    assert seen["HyperParameterTuningJobName"] == "Echo-Job"
    assert seen["HyperParameterTuningJobArn"] == arn
    assert seen["HyperParameterTuningJobConfig"]["Strategy"] == "Random"
    assert seen["HyperParameterTuningJobConfig"]["ParameterRanges"] == config()["ParameterRanges"]
    # SageMaker adds the objective's name to the static hyperparameters.
    assert seen["TrainingJobDefinition"]["StaticHyperParameters"] == {
        "sagemaker_program": "train.py",
        "_tuning_objective_metric": "validation:score",
    }
    assert "Tags" not in seen
    assert seen["HyperParameterTuningJobStatus"] in ("Stopping", "Stopped")
    assert set(seen["TrainingJobStatusCounters"]) == {
        "Completed",
        "InProgress",
        "RetryableError",
        "NonRetryableError",
        "Stopped",
    }
    assert set(seen["ObjectiveStatusCounters"]) == {"Succeeded", "Pending", "Failed"}
    stopped = wait_for(sm, "Echo-Job")
    assert stopped["HyperParameterTuningJobStatus"] == "Stopped"
    assert stopped["HyperParameterTuningEndTime"] >= stopped["CreationTime"]
    assert stopped["ConsumedResources"]["RuntimeInSeconds"] >= 0
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]


def test_names_are_case_insensitive_and_at_most_32_characters(sm):
    make_stopped(sm, "Taken")
    code, message = refused(sm, request("taken"))
    assert code == "ResourceInUse"
    assert message == (
        "A hyperparameter tuning job with the name, taken, already exists. Choose a different name."
    )
    code, message = refused(sm, request("x" * 33))
    assert code == "ValidationException"
    assert "hyperParameterTuningJobName" in message and "32" in message
    code, message = refused(sm, request("under_score"))
    assert code == "ValidationException" and "regular expression pattern" in message


def test_unknown_jobs_are_resource_not_found(sm):
    for call, params in (
        (sm.describe_hyper_parameter_tuning_job, {}),
        (sm.stop_hyper_parameter_tuning_job, {}),
        (sm.list_training_jobs_for_hyper_parameter_tuning_job, {}),
    ):
        with pytest.raises(ClientError) as info:
            call(HyperParameterTuningJobName="nobody", **params)
        error = info.value.response["Error"]
        assert error["Code"] == "ResourceNotFound"
        assert error["Message"] == (
            "Amazon SageMaker can't find a tuning job called nobody. Type another name."
        )


def _with(path: list, value, base=None) -> dict:
    params = copy.deepcopy(base or request())
    target = params
    for key in path[:-1]:
        target = target[key]
    if value is None:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value
    return params


CONFIG = "HyperParameterTuningJobConfig"
DEFINITION = "TrainingJobDefinition"


@pytest.mark.parametrize(
    ("params", "code", "words"),
    [
        (_with([DEFINITION], None), "ValidationException", "exactly one of TrainingJobDefinition"),
        (
            _with(["TrainingJobDefinitions"], [definition(DefinitionName="a")]),
            "ValidationException",
            "exactly one of TrainingJobDefinition",
        ),
        (
            _with([CONFIG, "HyperParameterTuningJobObjective"], None),
            "ValidationException",
            "needs an objective",
        ),
        (
            _with([CONFIG, "HyperParameterTuningJobObjective", "MetricName"], "validation:auc"),
            "ValidationException",
            "'validation:auc' is not defined in AlgorithmSpecification.MetricDefinitions",
        ),
        (
            _with(
                [CONFIG, "ParameterRanges", "IntegerParameterRanges"],
                [{"Name": "x", "MinValue": "9", "MaxValue": "1"}],
            ),
            "ValidationException",
            "x",
        ),
        (
            _with([DEFINITION, "StaticHyperParameters", "x"], "3"),
            "ValidationException",
            "both static",
        ),
        (
            _with([CONFIG, "Strategy"], "Grid"),
            "ValidationException",
            "Grid",
        ),
        (
            _with([CONFIG, "ResourceLimits", "MaxNumberOfTrainingJobs"], None),
            "ValidationException",
            "MaxNumberOfTrainingJobs is required",
        ),
        (
            _with([CONFIG, "ResourceLimits", "MaxParallelTrainingJobs"], 11),
            "ResourceLimitExceeded",
            "at most 10 training jobs in parallel",
        ),
        (
            _with(
                [CONFIG, "ResourceLimits", "MaxNumberOfTrainingJobs"],
                751,
                _with([CONFIG, "Strategy"], "Bayesian"),
            ),
            "ResourceLimitExceeded",
            "at most 750 training jobs",
        ),
        (
            _with(
                [CONFIG, "TrainingJobEarlyStoppingType"],
                "Auto",
                _with([CONFIG, "Strategy"], "Hyperband"),
            ),
            "ValidationException",
            "TrainingJobEarlyStoppingType to Off",
        ),
        (
            _with([CONFIG, "Strategy"], "Hyperband"),
            "ValidationException",
            "MaxResource parameter is not provided and could not be inferred from provided "
            "static hyperparameters of TrainingJobDefinition.",
        ),
        (
            _with([CONFIG, "StrategyConfig"], {"HyperbandStrategyConfig": {"MaxResource": 9}}),
            "ValidationException",
            "only to the Hyperband strategy",
        ),
        (
            _with([DEFINITION, "OutputDataConfig", "S3OutputPath"], "/tmp/out"),
            "ValidationException",
            "trainingJobDefinition.outputDataConfig.s3OutputPath",
        ),
        (
            _with(
                ["WarmStartConfig"],
                {
                    "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "ghost"}],
                    "WarmStartType": "TransferLearning",
                },
            ),
            "ValidationException",
            "no hyperparameter tuning job named 'ghost'",
        ),
    ],
    ids=[
        "no-definition",
        "both-definitions",
        "no-objective",
        "undefined-metric",
        "min-above-max",
        "static-and-tuned",
        "grid-with-integer-range",
        "no-max-jobs",
        "too-parallel",
        "too-many-jobs",
        "hyperband-with-early-stopping",
        "hyperband-without-max-resource",
        "hyperband-config-on-random",
        "output-not-s3",
        "warm-start-unknown-parent",
    ],
)
def test_requests_sagemaker_refuses(sm, params, code, words):
    got_code, message = refused(sm, params)
    assert got_code == code, message
    assert words in message
    with pytest.raises(ClientError):
        sm.describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=params["HyperParameterTuningJobName"]
        )


def test_grid_needs_the_number_of_combinations(sm):
    grid = config(
        Strategy="Grid",
        ParameterRanges={"CategoricalParameterRanges": [{"Name": "k", "Values": ["a", "b", "c"]}]},
    )
    code, message = refused(sm, request(HyperParameterTuningJobConfig=grid))
    assert code == "ValidationException"
    assert "must equal the number of combinations" in message and "(3)" in message
    grid["ResourceLimits"] = {"MaxParallelTrainingJobs": 1}
    make_stopped(sm, "grid-ok", HyperParameterTuningJobConfig=grid)


def test_several_definitions_need_names_and_one_objective(sm):
    objective = {"Type": "Maximize", "MetricName": "validation:score"}
    ranges = config()["ParameterRanges"]
    defs = [
        definition(DefinitionName="a", TuningObjective=objective, HyperParameterRanges=ranges),
        definition(TuningObjective=objective, HyperParameterRanges=ranges),
    ]
    plain = config()
    del plain["HyperParameterTuningJobObjective"], plain["ParameterRanges"]
    params = request(HyperParameterTuningJobConfig=plain, TrainingJobDefinitions=defs)
    del params["TrainingJobDefinition"]
    code, message = refused(sm, params)
    assert code == "ValidationException" and "DefinitionName" in message
    defs[1]["DefinitionName"] = "b"
    defs[1]["TuningObjective"] = {"Type": "Minimize", "MetricName": "validation:score"}
    code, message = refused(sm, params)
    assert code == "ValidationException" and "same objective" in message
    defs[1]["TuningObjective"] = objective
    make_stopped(
        sm, "two-defs", **{k: v for k, v in params.items() if k != "HyperParameterTuningJobName"}
    )
    seen = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="two-defs")
    assert [d["DefinitionName"] for d in seen["TrainingJobDefinitions"]] == ["a", "b"]


def test_warm_start_parents_must_have_ended(sm):
    sm.create_hyper_parameter_tuning_job(**request("parent"))
    warm = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent"}],
        "WarmStartType": "IdenticalDataAndAlgorithm",
    }
    code, message = refused(sm, request("child", WarmStartConfig=warm))
    assert code == "ValidationException"
    assert "parent tuning job parent is InProgress" in message
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="parent")
    wait_for(sm, "parent")
    other = _with(
        [CONFIG, "HyperParameterTuningJobObjective", "Type"], "Minimize", request("child")
    )
    code, message = refused(sm, {**other, "WarmStartConfig": warm})
    assert code == "ValidationException" and "must be the same" in message
    make_stopped(sm, "child", WarmStartConfig=warm)
    seen = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="child")
    assert seen["WarmStartConfig"] == warm


def test_stop_a_stopped_job_is_refused(sm):
    make_stopped(sm, "stop-me")
    assert wait_for(sm, "stop-me")["HyperParameterTuningJobStatus"] == "Stopped"
    with pytest.raises(ClientError) as info:
        sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="stop-me")
    error = info.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "in status Stopped" in error["Message"]


def test_list_sorts_by_name_by_default_filters_and_pages(sm):
    for name in ("list-b", "list-a", "other-c"):
        make_stopped(sm, name)
    for name in ("list-b", "list-a", "other-c"):
        wait_for(sm, name)
    listed = sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
    assert [s["HyperParameterTuningJobName"] for s in listed] == ["list-a", "list-b", "other-c"]
    first = listed[0]
    assert first["Strategy"] == "Random"
    assert first["HyperParameterTuningJobStatus"] == "Stopped"
    assert first["ResourceLimits"] == config()["ResourceLimits"]
    assert "TrainingJobStatusCounters" in first and "ObjectiveStatusCounters" in first
    names = [
        s["HyperParameterTuningJobName"]
        for s in sm.list_hyper_parameter_tuning_jobs(NameContains="LIST")[
            "HyperParameterTuningJobSummaries"
        ]
    ]
    assert names == ["list-a", "list-b"]
    newest = sm.list_hyper_parameter_tuning_jobs(SortBy="CreationTime", SortOrder="Descending")
    assert [
        s["HyperParameterTuningJobName"] for s in newest["HyperParameterTuningJobSummaries"]
    ] == [
        "other-c",
        "list-a",
        "list-b",
    ]
    assert (
        sm.list_hyper_parameter_tuning_jobs(StatusEquals="InProgress")[
            "HyperParameterTuningJobSummaries"
        ]
        == []
    )
    page = sm.list_hyper_parameter_tuning_jobs(MaxResults=2)
    assert len(page["HyperParameterTuningJobSummaries"]) == 2 and "NextToken" in page
    rest = sm.list_hyper_parameter_tuning_jobs(MaxResults=2, NextToken=page["NextToken"])
    assert [s["HyperParameterTuningJobName"] for s in rest["HyperParameterTuningJobSummaries"]] == [
        "other-c"
    ]
    assert "NextToken" not in rest
    paginator = sm.get_paginator("list_hyper_parameter_tuning_jobs")
    paged = [
        s["HyperParameterTuningJobName"]
        for p in paginator.paginate(PaginationConfig={"PageSize": 1})
        for s in p["HyperParameterTuningJobSummaries"]
    ]
    assert paged == ["list-a", "list-b", "other-c"]
    with pytest.raises(ClientError) as info:
        sm.list_hyper_parameter_tuning_jobs(NextToken="not-a-token")
    assert info.value.response["Error"]["Code"] == "ValidationException"


def test_tags_on_a_tuning_job(sm):
    arn = make_stopped(sm, "tagged", Tags=[{"Key": "a", "Value": "1"}])
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "b", "Value": "2"}])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [
        {"Key": "a", "Value": "1"},
        {"Key": "b", "Value": "2"},
    ]
    sm.delete_tags(ResourceArn=arn, TagKeys=["a"])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]


def test_in_process_calls_check_the_request_as_botocore_does(simsage_local):
    """simsage.transport.handler.call, how the tuning job creates its training jobs:
    the model's checks apply to the public members, private ones pass after them."""
    from simsage.errors import ValidationException
    from simsage.home import Home
    from simsage.transport.handler import call

    home = Home.open(simsage_local.config)
    with pytest.raises(ValidationException) as info:
        call(home, "sagemaker", "CreateTrainingJob", {"TrainingJobName": "no-role"})
    assert "RoleArn" in info.value.message
    with pytest.raises(ValidationException) as info:
        call(home, "sagemaker", "DescribeTrainingJob", {"TrainingJobName": "bad_name"})
    assert "regular expression pattern" in info.value.message
    with pytest.raises(ValidationException) as info:  # private members skip no check
        call(
            home,
            "sagemaker",
            "DescribeTrainingJob",
            {"TrainingJobName": "nobody"},
            private={"TuningJobArn": "arn:aws:sagemaker:eu-west-1:123456789012:x/y"},
        )
    assert info.value.message == "Requested resource not found."


def test_built_in_xgboost_objectives_need_no_metric_definitions(sm):
    xgboost = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    algorithm = {"TrainingImage": xgboost, "TrainingInputMode": "File"}
    built_in = definition(
        AlgorithmSpecification=algorithm,
        StaticHyperParameters={"objective": "binary:logistic", "num_round": "5"},
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/train"}
                },
            }
        ],
    )
    auc = config(
        HyperParameterTuningJobObjective={"Type": "Maximize", "MetricName": "validation:auc"},
        ParameterRanges={
            "ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.1", "MaxValue": "0.5"}]
        },
    )
    make_stopped(sm, "xgb-auc", HyperParameterTuningJobConfig=auc, TrainingJobDefinition=built_in)
    auc["HyperParameterTuningJobObjective"]["MetricName"] = "validation:bogus"
    code, message = refused(
        sm, request("xgb-bogus", HyperParameterTuningJobConfig=auc, TrainingJobDefinition=built_in)
    )
    assert code == "ValidationException"
    assert "'validation:bogus' is not defined" in message and "validation:auc" in message


def test_the_cli_lists_describes_and_stops_tuning_jobs(sm):
    import io
    import tarfile

    from click.testing import CliRunner

    from simsage.cli import main

    # Training jobs that run until stopped, so the stop meets a running tuning job.
    script = b"import time\ntime.sleep(120)\n"
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("train.py")
        info.size = len(script)
        tar.addfile(info, io.BytesIO(script))
    s3 = boto3.Session(region_name=sm.meta.region_name).client("s3")
    s3.put_object(Bucket=BUCKET, Key="cli/src.tar.gz", Body=archive.getvalue())
    static = {
        "sagemaker_program": json.dumps("train.py"),
        "sagemaker_submit_directory": json.dumps(f"s3://{BUCKET}/cli/src.tar.gz"),
    }
    params = request("cli-tune", TrainingJobDefinition=definition(StaticHyperParameters=static))
    runner = CliRunner()
    sm.create_hyper_parameter_tuning_job(**params)
    stopped = runner.invoke(main, ["tuning", "stop", "cli-tune"])
    assert stopped.exit_code == 0 and "stopping: cli-tune" in stopped.output, stopped.output
    assert wait_for(sm, "cli-tune")["HyperParameterTuningJobStatus"] == "Stopped"
    listed = runner.invoke(main, ["tuning", "ls"])
    assert listed.exit_code == 0, listed.output
    assert [line.split()[-1] for line in listed.output.splitlines()] == ["cli-tune"]
    assert "Stopped" in listed.output
    described = runner.invoke(main, ["tuning", "describe", "cli-tune"])
    assert json.loads(described.output)["HyperParameterTuningJobStatus"] == "Stopped"
    missing = runner.invoke(main, ["tuning", "describe", "nope"])
    assert missing.exit_code == 1 and "ResourceNotFound" in missing.output
