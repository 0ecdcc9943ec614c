"""simsage.sdk's HyperparameterTuner builds the CreateHyperParameterTuningJob request the
official SDK v2 builds (the training job definition from the estimator, the ranges, the
limits, the framework estimators' JSON-encoded hyperparameters and class metadata), its
attach() rebuilds the same tuner from the job's description, and its analytics read the
service's answers into the official SDK's dataframes.

No job runs here: S3 is simsage's (framework code uploads are real), the SageMaker and
CloudWatch calls are answered by botocore's Stubber after their parameters are recorded.
(tests/functional/test_sdk_tuner_runs.py runs real tuning jobs.)
"""

from __future__ import annotations

import datetime
import io
import json
import re
import tarfile
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError
from sdk_helpers import RequestRecorder, official_sdk_v2

from simsage import sdk
from simsage.sdk.exceptions import UnexpectedStatusException

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "sagemaker-us-east-1-123456789012"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/"
NOW = datetime.datetime(2026, 12, 2, 12, 0, tzinfo=datetime.UTC)


def tuning_recorder(client) -> RequestRecorder:
    return RequestRecorder(
        client, "create_hyper_parameter_tuning_job", {"HyperParameterTuningJobArn": ARN + "x"}
    )


@pytest.fixture
def session(simsage_local):
    return sdk.Session(boto_session=simsage_local.session())


@pytest.fixture
def recorder(session):
    return tuning_recorder(session.sagemaker_client)


@pytest.fixture
def s3(simsage_local):
    return simsage_local.client("s3")


@pytest.fixture
def code(tmp_path):
    """A training script's folder."""
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "train.py").write_text("print('accuracy=0.9')\n")
    (folder / "helpers.py").write_text("X = 1\n")
    return folder


@pytest.fixture
def official(monkeypatch, tmp_path, simsage_local):
    return official_sdk_v2(monkeypatch, tmp_path)


def test_ranges_render_as_the_api_wants_them():
    assert sdk.ContinuousParameter(0.01, 0.3, "Logarithmic").as_tuning_range("eta") == {
        "Name": "eta",
        "MinValue": "0.01",
        "MaxValue": "0.3",
        "ScalingType": "Logarithmic",
    }
    assert sdk.IntegerParameter(2, 8).as_tuning_range("max_depth") == {
        "Name": "max_depth",
        "MinValue": "2",
        "MaxValue": "8",
        "ScalingType": "Auto",
    }
    booster = sdk.CategoricalParameter(["gbtree", "dart", 3])
    assert booster.as_tuning_range("booster") == {
        "Name": "booster",
        "Values": ["gbtree", "dart", "3"],
    }
    assert booster.as_json_range("booster")["Values"] == ['"gbtree"', '"dart"', '"3"']
    assert sdk.CategoricalParameter("alone").values == ["alone"]
    assert sdk.IntegerParameter(2, 8).is_valid(8) and not sdk.IntegerParameter(2, 8).is_valid(9)
    assert sdk.IntegerParameter.cast_to_type("5") == 5
    # Notebooks import the ranges from the tuner module, as from sagemaker.tuner.
    assert sdk.tuner.IntegerParameter is sdk.IntegerParameter is sdk.parameter.IntegerParameter


def test_tuning_job_names_follow_the_official_sdk(session, recorder, s3):
    estimator = sdk.Estimator(XGBOOST_IMAGE, ROLE, sagemaker_session=session)
    ranges = {"eta": sdk.ContinuousParameter(0.1, 0.5)}
    recorder.expect(2)
    sdk.HyperparameterTuner(estimator, "validation:auc", ranges).fit(wait=False)
    long_base = "flight-delays-xgboost-tuning"
    tuner = sdk.HyperparameterTuner(
        estimator, "validation:auc", ranges, base_tuning_job_name=long_base
    )
    tuner.fit(wait=False)
    first, second = (r["HyperParameterTuningJobName"] for r in recorder.requests)
    assert re.fullmatch(r"sagemaker-xgboost-\d{6}-\d{4}", first)
    assert re.fullmatch(r"flight-delays-xgboos-\d{6}-\d{4}", second) and len(second) == 32
    assert tuner.latest_tuning_job.name == second
    # One job by default (not for Grid); the request is what the tuner would send.
    assert recorder.requests[0]["HyperParameterTuningJobConfig"]["ResourceLimits"] == {
        "MaxNumberOfTrainingJobs": 1,
        "MaxParallelTrainingJobs": 1,
    }


def test_fit_checks_the_tuner_before_sending_anything(session, recorder):
    estimator = sdk.Estimator(XGBOOST_IMAGE, ROLE, sagemaker_session=session)
    with pytest.raises(ValueError, match="Need to specify hyperparameter ranges"):
        sdk.HyperparameterTuner(estimator, "validation:auc", {}).fit(wait=False)
    with pytest.raises(TypeError, match=r"hyperparameter_ranges\['eta'\] must be"):
        sdk.HyperparameterTuner(estimator, "validation:auc", {"eta": (0.1, 0.5)}).fit()
    with pytest.raises(ValueError, match="Autotune mode is not enabled"):
        sdk.HyperparameterTuner(
            estimator,
            "validation:auc",
            {"eta": sdk.ContinuousParameter(0.1, 0.5)},
            hyperparameters_to_keep_static=["num_round"],
        ).fit()
    assert recorder.requests == []


# simsage.sdk's modules under the official SDK's module names.
OURS = SimpleNamespace(
    estimator=sdk.estimator,
    inputs=sdk,
    parameter=sdk.parameter,
    sklearn=sdk.sklearn,
    tuner=sdk.tuner,
)


def official_api() -> SimpleNamespace:
    import sagemaker.estimator
    import sagemaker.inputs
    import sagemaker.parameter
    import sagemaker.sklearn
    import sagemaker.tuner

    return SimpleNamespace(
        estimator=sagemaker.estimator,
        inputs=sagemaker.inputs,
        parameter=sagemaker.parameter,
        sklearn=sagemaker.sklearn,
        tuner=sagemaker.tuner,
    )


def build_tuners(api, api_session, prefix: str, code, role: str = ROLE) -> None:
    """Start (without waiting) the same two tuning jobs with simsage.sdk or the official SDK
    (``api``): the built-in XGBoost with every tuner setting, and a scikit-learn script."""
    xgb = api.estimator.Estimator(
        image_uri=XGBOOST_IMAGE,
        role=role,
        instance_count=1,
        instance_type="ml.m5.large",
        output_path="s3://models/flights",
        hyperparameters={"objective": "binary:logistic", "num_round": 20, "eta": 0.2},
        tags=[{"Key": "team", "Value": "flights"}],
        sagemaker_session=api_session,
    )
    tuner = api.tuner.HyperparameterTuner(
        xgb,
        "validation:auc",
        {
            "eta": api.parameter.ContinuousParameter(0.05, 0.5, "Logarithmic"),
            "max_depth": api.parameter.IntegerParameter(2, 8, "Linear"),
            "booster": api.parameter.CategoricalParameter(["gbtree", "dart"]),
        },
        strategy="Random",
        max_jobs=4,
        max_parallel_jobs=2,
        max_runtime_in_seconds=3600,
        tags=[{"Key": "project", "Value": "delays"}],
        warm_start_config=api.tuner.WarmStartConfig(
            api.tuner.WarmStartTypes.IDENTICAL_DATA_AND_ALGORITHM, {"parent-tuning-job"}
        ),
        completion_criteria_config=api.tuner.TuningJobCompletionCriteriaConfig(
            max_number_of_training_jobs_not_improving=5,
            complete_on_convergence=True,
            target_objective_metric_value=0.99,
        ),
        early_stopping_type="Auto",
        random_seed=7,
    )
    tuner.fit(
        {
            "train": api.inputs.TrainingInput("s3://data/train/", content_type="text/csv"),
            "validation": "s3://data/validation/",
        },
        job_name=f"{prefix}-xgb",
        wait=False,
    )
    sklearn = api.sklearn.SKLearn(
        entry_point="train.py",
        source_dir=str(code),
        framework_version="1.2-1",
        role=role,
        instance_count=1,
        instance_type="ml.m5.large",
        hyperparameters={"n_estimators": 10, "criterion": "gini"},
        sagemaker_session=api_session,
    )
    tuner = api.tuner.HyperparameterTuner(
        sklearn,
        "validation:accuracy",
        {
            "max_depth": api.parameter.IntegerParameter(2, 6),
            "criterion": api.parameter.CategoricalParameter(["gini", "entropy"]),
        },
        metric_definitions=[{"Name": "validation:accuracy", "Regex": "accuracy=([0-9.]+)"}],
        objective_type="Maximize",
        max_jobs=3,
    )
    tuner.fit("s3://data/train/", job_name=f"{prefix}-skl", wait=False)


def test_the_official_sdk_sends_the_same_requests(official, session, recorder, s3, code):
    """Request for request, and upload for upload, the same (the job names aside)."""
    theirs = official.Session(boto_session=session.boto_session)
    their_recorder = tuning_recorder(theirs.sagemaker_client)
    recorder.expect(2)
    build_tuners(OURS, session, "ours", code)
    their_recorder.expect(2)
    build_tuners(official_api(), theirs, "theirs", code)

    renamed = json.loads(json.dumps(their_recorder.requests).replace("theirs-", "ours-"))
    assert recorder.requests == renamed
    xgb, skl = recorder.requests
    # What the comparison covers, spelled out once.
    assert xgb["HyperParameterTuningJobConfig"]["ParameterRanges"]["CategoricalParameterRanges"]
    assert xgb["TrainingJobDefinition"]["StaticHyperParameters"] == {
        "objective": "binary:logistic",
        "num_round": "20",
    }
    assert xgb["Tags"] == [
        {"Key": "project", "Value": "delays"},
        {"Key": "team", "Value": "flights"},
    ]
    static = skl["TrainingJobDefinition"]["StaticHyperParameters"]
    assert (
        static["sagemaker_submit_directory"] == f'"s3://{BUCKET}/ours-skl/source/sourcedir.tar.gz"'
    )
    assert static["sagemaker_estimator_module"] == '"sagemaker.sklearn.estimator"'
    assert "criterion" not in static and static["n_estimators"] == "10"
    ranges = skl["HyperParameterTuningJobConfig"]["ParameterRanges"]
    assert ranges["CategoricalParameterRanges"] == [
        {"Name": "criterion", "Values": ['"gini"', '"entropy"']}
    ]
    # Both uploaded the same code to the same place.
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == ["ours-skl/source/sourcedir.tar.gz", "theirs-skl/source/sourcedir.tar.gz"]
    archive = s3.get_object(Bucket=BUCKET, Key=keys[0])["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert sorted(tar.getnames()) == ["helpers.py", "train.py"]


def build_autotuner(api, api_session, prefix: str) -> None:
    xgb = api.estimator.Estimator(
        image_uri=XGBOOST_IMAGE,
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        hyperparameters={"objective": "binary:logistic", "num_round": 20, "eta": 0.2},
        sagemaker_session=api_session,
    )
    tuner = api.tuner.HyperparameterTuner(
        xgb,
        "validation:auc",
        {},
        objective_type="Maximize",
        max_jobs=6,
        autotune=True,
        hyperparameters_to_keep_static=["objective"],
        strategy_config=api.tuner.StrategyConfig(
            api.tuner.HyperbandStrategyConfig(max_resource=20, min_resource=2)
        ),
        strategy="Hyperband",
    )
    tuner.fit("s3://data/train/", job_name=f"{prefix}-auto", include_cls_metadata=True, wait=False)


def test_autotune_and_hyperband_requests_are_the_official_sdks(official, session, recorder):
    """The estimator's other hyperparameters become AutoParameters (with the class
    metadata asked for), Hyperband's resources its StrategyConfig."""
    theirs = official.Session(boto_session=session.boto_session)
    their_recorder = tuning_recorder(theirs.sagemaker_client)
    recorder.expect()
    build_autotuner(OURS, session, "ours")
    their_recorder.expect()
    build_autotuner(official_api(), theirs, "theirs")

    [ours] = recorder.requests
    [expected] = json.loads(json.dumps(their_recorder.requests).replace("theirs-", "ours-"))
    assert ours == expected
    assert ours["Autotune"] == {"Mode": "Enabled"}
    auto = ours["HyperParameterTuningJobConfig"]["ParameterRanges"]["AutoParameters"]
    assert {a["Name"] for a in auto} == {
        "num_round",
        "eta",
        "sagemaker_estimator_class_name",
        "sagemaker_estimator_module",
    }
    assert ours["TrainingJobDefinition"]["StaticHyperParameters"] == {
        "objective": "binary:logistic"
    }


def test_grid_leaves_the_job_count_to_the_service(session, recorder):
    """Grid runs every combination: without max_jobs the request has no
    MaxNumberOfTrainingJobs (which botocore accepts)."""
    estimator = sdk.Estimator(XGBOOST_IMAGE, ROLE, sagemaker_session=session)
    tuner = sdk.HyperparameterTuner(
        estimator,
        "validation:auc",
        {"max_depth": sdk.CategoricalParameter([2, 4, 6])},
        strategy="Grid",
    )
    recorder.expect()
    tuner.fit("s3://data/train/", wait=False)
    [request] = recorder.requests
    assert request["HyperParameterTuningJobConfig"]["ResourceLimits"] == {
        "MaxParallelTrainingJobs": 1
    }


def described_from(request: dict, **extra) -> dict:
    """The DescribeHyperParameterTuningJob answer of a job created by ``request``."""
    name = request["HyperParameterTuningJobName"]
    answer = json.loads(json.dumps(request))  # a copy
    answer.pop("Tags", None)
    answer.pop("Autotune", None)
    # The service adds the objective's name to every definition's static hyperparameters.
    config = request["HyperParameterTuningJobConfig"]
    for definition in answer.get("TrainingJobDefinitions", [answer.get("TrainingJobDefinition")]):
        objective = definition.get("TuningObjective") or config["HyperParameterTuningJobObjective"]
        definition["StaticHyperParameters"]["_tuning_objective_metric"] = objective["MetricName"]
    return {
        **answer,
        "HyperParameterTuningJobArn": ARN + name,
        "HyperParameterTuningJobStatus": "Completed",
        "CreationTime": NOW,
        "TrainingJobStatusCounters": {"Completed": 4},
        "ObjectiveStatusCounters": {"Succeeded": 4},
        **extra,
    }


def test_attach_rebuilds_the_tuner_that_made_the_job(session, recorder, s3, code):
    """A tuner attached to a job sends, fitted the same way, the job's very request (its
    tags aside, which a description does not carry); for a script it rebuilds the
    framework estimator and reuses the uploaded code."""
    recorder.expect(2)
    build_tuners(OURS, session, "ours", code)
    for request, inputs in zip(
        recorder.requests,
        [
            {
                "train": sdk.TrainingInput("s3://data/train/", content_type="text/csv"),
                "validation": "s3://data/validation/",
            },
            "s3://data/train/",
        ],
        strict=True,
    ):
        name = request["HyperParameterTuningJobName"]
        recorder.stubber.add_response(
            "describe_hyper_parameter_tuning_job", described_from(request)
        )
        tuner = sdk.HyperparameterTuner.attach(name, sagemaker_session=session)
        assert tuner.latest_tuning_job.name == name
        again = tuner.tuning_request(inputs, job_name=name)
        without_tags = {k: v for k, v in request.items() if k != "Tags"}
        assert again == without_tags
    assert type(tuner.estimator) is sdk.SKLearn
    assert tuner.estimator.uploaded_code == f"s3://{BUCKET}/ours-skl/source/sourcedir.tar.gz"
    # Nothing was uploaded again.
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == [
        "ours-skl/source/sourcedir.tar.gz"
    ]


MULTI_INPUTS = {
    "xgb": {"train": "s3://data/train/", "validation": "s3://data/validation/"},
    "forest": "s3://data/train/",
}


def build_multi_tuner(api, api_session, prefix: str, code) -> None:
    """One tuning job of two estimators (the official SDK's ``create()``)."""
    xgb = api.estimator.Estimator(
        image_uri=XGBOOST_IMAGE,
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        hyperparameters={"objective": "binary:logistic", "num_round": 20},
        sagemaker_session=api_session,
    )
    forest = api.sklearn.SKLearn(
        entry_point="train.py",
        source_dir=str(code),
        framework_version="1.2-1",
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        hyperparameters={"n_estimators": 10},
        sagemaker_session=api_session,
    )
    tuner = api.tuner.HyperparameterTuner.create(
        estimator_dict={"xgb": xgb, "forest": forest},
        objective_metric_name_dict={"xgb": "validation:auc", "forest": "validation:accuracy"},
        hyperparameter_ranges_dict={
            "xgb": {"eta": api.parameter.ContinuousParameter(0.05, 0.5)},
            "forest": {
                "max_depth": api.parameter.IntegerParameter(2, 6),
                "criterion": api.parameter.CategoricalParameter(["gini", "entropy"]),
            },
        },
        metric_definitions_dict={
            "forest": [{"Name": "validation:accuracy", "Regex": "accuracy=([0-9.]+)"}]
        },
        strategy="Random",
        max_jobs=6,
        max_parallel_jobs=2,
        random_seed=3,
    )
    tuner.fit(
        MULTI_INPUTS, job_name=f"{prefix}-multi", include_cls_metadata={"xgb": True}, wait=False
    )


def test_several_estimators_make_the_official_sdks_training_job_definitions(
    official, session, recorder, s3, code
):
    theirs = official.Session(boto_session=session.boto_session)
    their_recorder = tuning_recorder(theirs.sagemaker_client)
    recorder.expect()
    build_multi_tuner(OURS, session, "ours", code)
    their_recorder.expect()
    build_multi_tuner(official_api(), theirs, "theirs", code)

    [ours] = recorder.requests
    [expected] = json.loads(json.dumps(their_recorder.requests).replace("theirs-", "ours-"))
    assert ours == expected
    # Per definition, in name order: objective and ranges; none in the tuning job config.
    forest, xgb = ours["TrainingJobDefinitions"]
    assert [forest["DefinitionName"], xgb["DefinitionName"]] == ["forest", "xgb"]
    assert xgb["TuningObjective"] == {"Type": "Maximize", "MetricName": "validation:auc"}
    assert forest["HyperParameterRanges"]["CategoricalParameterRanges"] == [
        {"Name": "criterion", "Values": ['"gini"', '"entropy"']}
    ]
    config = ours["HyperParameterTuningJobConfig"]
    assert "ParameterRanges" not in config and "HyperParameterTuningJobObjective" not in config

    # Attached from its description, the tuner sends the same request again.
    recorder.stubber.add_response("describe_hyper_parameter_tuning_job", described_from(ours))
    tuner = sdk.HyperparameterTuner.attach("ours-multi", sagemaker_session=session)
    assert tuner.estimator is None and set(tuner.estimator_dict) == {"forest", "xgb"}
    assert type(tuner.estimator_dict["forest"]) is sdk.SKLearn
    again = tuner.tuning_request(MULTI_INPUTS, "ours-multi", include_cls_metadata={"xgb": True})
    assert again == {k: v for k, v in ours.items() if k != "Tags"}

    # The best job's estimator is the one of its definition.
    best = {**best_job("ours-multi-004-0a1b2c3d", 0.9), "TrainingJobDefinitionName": "forest"}
    recorder.stubber.add_response(
        "describe_hyper_parameter_tuning_job", described_from(ours, BestTrainingJob=best)
    )
    job = training_description(forest, best["TrainingJobName"])
    recorder.stubber.add_response("describe_training_job", job)
    estimator = tuner.best_estimator()
    assert type(estimator) is sdk.SKLearn and estimator.entry_point == "train.py"
    assert estimator.latest_training_job.name == best["TrainingJobName"]


def training_description(definition: dict, name: str) -> dict:
    """DescribeTrainingJob of a child of ``definition``."""
    return {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
        "TrainingJobStatus": "Completed",
        "SecondaryStatus": "Completed",
        "HyperParameters": {**definition["StaticHyperParameters"], "max_depth": "4"},
        "AlgorithmSpecification": definition["AlgorithmSpecification"],
        "RoleArn": definition["RoleArn"],
        "OutputDataConfig": definition["OutputDataConfig"],
        "ResourceConfig": definition["HyperParameterTuningResourceConfig"],
        "StoppingCondition": definition["StoppingCondition"],
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://m/{name}/output/model.tar.gz"},
        "CreationTime": NOW,
    }


def best_job(name: str, value: float) -> dict:
    return {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
        "CreationTime": NOW,
        "TrainingJobStatus": "Completed",
        "TunedHyperParameters": {"eta": "0.2"},
        "FinalHyperParameterTuningJobObjectiveMetric": {
            "MetricName": "validation:auc",
            "Value": value,
        },
        "ObjectiveStatus": "Succeeded",
    }


def attached(session, recorder, **described) -> sdk.HyperparameterTuner:
    estimator = sdk.Estimator(XGBOOST_IMAGE, ROLE, sagemaker_session=session)
    tuner = sdk.HyperparameterTuner(
        estimator, "validation:auc", {"eta": sdk.ContinuousParameter(0.1, 0.5)}
    )
    recorder.expect()
    tuner.fit("s3://data/train/", job_name="delays", wait=False)
    request = recorder.requests[-1]
    answers = described.pop("answers", [{}])
    for answer in answers:
        recorder.stubber.add_response(
            "describe_hyper_parameter_tuning_job", described_from(request, **answer)
        )
    return tuner


def test_best_training_job_is_the_one_the_service_names(session, recorder):
    tuner = attached(
        session,
        recorder,
        answers=[
            {"HyperParameterTuningJobStatus": "InProgress"},
            {"BestTrainingJob": best_job("delays-002-0a1b2c3d", 0.93)},
        ],
    )
    with pytest.raises(
        ValueError, match="^Best training job not available for tuning job: delays$"
    ):
        tuner.best_training_job()
    assert tuner.best_training_job() == "delays-002-0a1b2c3d"


def test_wait_prints_the_official_sdks_progress_and_fails_on_a_failed_job(
    session, recorder, capsys
):
    running = {"HyperParameterTuningJobStatus": "InProgress"}
    tuner = attached(
        session,
        recorder,
        answers=[
            {**running, "TrainingJobStatusCounters": {"Completed": 0}},
            {**running, "TrainingJobStatusCounters": {"Completed": 1, "NonRetryableError": 1}},
            {"TrainingJobStatusCounters": {"Completed": 3, "Stopped": 1}},
        ],
    )
    described = tuner.wait()
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert capsys.readouterr().out == "....!\n"  # a dot per training job that ended

    tuner = attached(
        session,
        recorder,
        answers=[
            {
                "HyperParameterTuningJobStatus": "Failed",
                "FailureReason": "No training job succeeded after 5 attempts.",
            }
        ],
    )
    with pytest.raises(UnexpectedStatusException, match="Failed. Reason: No training job") as err:
        tuner.wait()
    assert err.value.actual_status == "Failed"


def summary(name: str, eta: str, booster: str, value: float | None, start=None, end=None):
    out = {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
        "CreationTime": NOW,
        "TrainingJobStatus": "Completed" if value is not None else "InProgress",
        "TunedHyperParameters": {"eta": eta, "booster": booster},
    }
    if value is not None:
        out["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "MetricName": "validation:auc",
            "Value": value,
        }
    if start:
        out["TrainingStartTime"] = start
    if end:
        out["TrainingEndTime"] = end
    return out


def stub_summaries(stubber) -> None:
    """Two pages: a finished job, then a running one (no objective, no end time)."""
    later = NOW + datetime.timedelta(seconds=42)
    pages = [
        ([summary("delays-001-aaaaaaaa", "0.1", "gbtree", 0.91, NOW, later)], {"NextToken": "t"}),
        ([summary("delays-002-bbbbbbbb", "0.3", "dart", None, NOW)], {}),
    ]
    for summaries, more in pages:
        expected = {"HyperParameterTuningJobName": "delays", "MaxResults": 100}
        if not more:
            expected["NextToken"] = "t"
        stubber.add_response(
            "list_training_jobs_for_hyper_parameter_tuning_job",
            {"TrainingJobSummaries": summaries, **more},
            expected,
        )


def test_analytics_dataframe_has_the_official_sdks_rows(official, session, recorder):
    tuner = attached(session, recorder, answers=[])
    stub_summaries(recorder.stubber)
    frame = tuner.analytics().dataframe()
    assert list(frame.columns) == [
        "eta",
        "booster",
        "TrainingJobName",
        "TrainingJobStatus",
        "FinalObjectiveValue",
        "TrainingStartTime",
        "TrainingEndTime",
        "TrainingElapsedTimeSeconds",
    ]
    assert frame["eta"].tolist() == [0.1, 0.3]  # numbers where they read as numbers
    assert frame["booster"].tolist() == ["gbtree", "dart"]
    assert frame["FinalObjectiveValue"].tolist()[0] == 0.91
    assert frame["TrainingElapsedTimeSeconds"].tolist()[0] == 42.0
    assert frame.iloc[1].isna()[["FinalObjectiveValue", "TrainingElapsedTimeSeconds"]].all()
    assert tuner.analytics().dataframe is not None

    # The official SDK's analytics, on the same answers, make the same frame.
    from sagemaker.analytics import HyperparameterTuningJobAnalytics

    theirs = official.Session(boto_session=session.boto_session)
    their_stubber = tuning_recorder(theirs.sagemaker_client).stubber
    stub_summaries(their_stubber)
    expected = HyperparameterTuningJobAnalytics("delays", theirs).dataframe()
    assert frame.equals(expected)


def test_training_job_analytics_reads_the_metrics_from_cloudwatch(session):
    from botocore.stub import Stubber

    sagemaker = Stubber(session.sagemaker_client)
    cloudwatch = Stubber(session.cloudwatch_client)
    end = NOW + datetime.timedelta(minutes=3)
    sagemaker.add_response(
        "describe_training_job",
        {
            "TrainingJobName": "delays-001",
            "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/delays-001",
            "TrainingJobStatus": "Completed",
            "SecondaryStatus": "Completed",
            "AlgorithmSpecification": {
                "TrainingImage": XGBOOST_IMAGE,
                "TrainingInputMode": "File",
                "MetricDefinitions": [
                    {"Name": "train:loss", "Regex": "loss=(.*)"},
                    {"Name": "validation:auc", "Regex": "auc=(.*)"},
                ],
            },
            "ModelArtifacts": {"S3ModelArtifacts": "s3://m/model.tar.gz"},
            "ResourceConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 30,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            "CreationTime": NOW,
            "TrainingStartTime": NOW,
            "TrainingEndTime": end,
        },
        {"TrainingJobName": "delays-001"},
    )
    window = {
        "Namespace": "/aws/sagemaker/TrainingJobs",
        "Dimensions": [{"Name": "Host", "Value": "delays-001/algo-1"}],
        "StartTime": NOW,
        "EndTime": end + datetime.timedelta(minutes=1),
        "Period": 60,
        "Statistics": ["Average"],
    }
    minute = datetime.timedelta(minutes=1)
    cloudwatch.add_response(
        "get_metric_statistics",
        {
            "Label": "train:loss",
            "Datapoints": [  # CloudWatch returns data points in no particular order
                {"Timestamp": NOW + 2 * minute, "Average": 0.3, "Unit": "None"},
                {"Timestamp": NOW, "Average": 0.7, "Unit": "None"},
                {"Timestamp": NOW + minute, "Average": 0.5, "Unit": "None"},
            ],
        },
        {**window, "MetricName": "train:loss"},
    )
    cloudwatch.add_response(
        "get_metric_statistics",
        {"Label": "validation:auc", "Datapoints": []},
        {**window, "MetricName": "validation:auc"},
    )
    with sagemaker, cloudwatch:
        frame = sdk.TrainingJobAnalytics("delays-001", sagemaker_session=session).dataframe()
    assert frame.to_dict("list") == {
        "timestamp": [0.0, 60.0, 120.0],
        "metric_name": ["train:loss"] * 3,
        "value": [0.7, 0.5, 0.3],
    }
    sagemaker.assert_no_pending_responses()
    cloudwatch.assert_no_pending_responses()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_in_a_terminal_a_bar_counts_the_training_jobs_and_shows_the_best():
    from simsage.sdk.progress import TuningProgress

    screen = Terminal()
    progress = TuningProgress(screen)
    limits = {"ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2}}
    for status, completed, best in (
        ("InProgress", 0, None),
        ("InProgress", 2, 0.81),
        ("Completed", 4, 0.93),
    ):
        described = {
            "HyperParameterTuningJobStatus": status,
            "HyperParameterTuningJobConfig": limits,
            "TrainingJobStatusCounters": {"Completed": completed},
        }
        if best is not None:
            described["BestTrainingJob"] = best_job("delays-001-0a1b2c3d", best)
        progress.update(described)
    frames = screen.getvalue().split("\r")[1:]  # each redraw of the bar
    assert frames[0].startswith("tuning:   0%") and "0/4" in frames[0]
    assert "2/4" in frames[2] and frames[2].rstrip().endswith("best=0.81]")
    # tqdm pads a frame with spaces to cover a longer one before it, then ends the bar.
    assert frames[-1].startswith("tuning: 100%") and frames[-1].endswith("\n")
    assert frames[-1].rstrip().endswith("best=0.93]")
    assert "!" not in screen.getvalue()  # the status characters are for logs only


def test_stop_tuning_job_and_a_stopped_job_only_warns(session, recorder, caplog):
    tuner = attached(session, recorder, answers=[])
    stubber = recorder.stubber
    stubber.add_response(
        "stop_hyper_parameter_tuning_job", {}, {"HyperParameterTuningJobName": "delays"}
    )
    tuner.stop_tuning_job()
    # A job that has already ended answers ValidationException: nothing to stop, as in
    # the official SDK; any other error is the caller's to see.
    stubber.add_client_error("stop_hyper_parameter_tuning_job", "ValidationException")
    tuner.stop_tuning_job()
    stubber.add_client_error("stop_hyper_parameter_tuning_job", "ResourceNotFound")
    with pytest.raises(ClientError, match="ResourceNotFound"):
        tuner.stop_tuning_job()

    request = recorder.requests[-1]
    stubber.add_response(
        "describe_hyper_parameter_tuning_job",
        described_from(request, HyperParameterTuningJobStatus="Stopped"),
    )
    with caplog.at_level("WARNING", logger="simsage.sdk"):
        assert tuner.wait()["HyperParameterTuningJobStatus"] == "Stopped"
    assert "ended with status 'Stopped' rather than 'Completed'" in caplog.text
    stubber.assert_no_pending_responses()
