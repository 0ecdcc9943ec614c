"""Pipeline definitions written by the official SageMaker Python SDK (v2), unmodified,
read by simsage.pipelines: the flight-delay workflow as one pipeline (parameters, a
ProcessingStep with ``code=`` and a property file, a TrainingStep and a TuningStep with
the built-in XGBoost image, ModelStep create and register, the older RegisterModel
collection, a TransformStep, a ConditionStep on a JsonGet, a FailStep, CacheConfig and
RetryPolicies), built with a ``PipelineSession`` whose S3 calls (the uploaded script)
simsage answers; the step types simsage does not run (Lambda, EMR, Callback) are refused
by name.

The resolved arguments of each job step are checked to be a request botocore accepts for
the job's Create operation, and the Processing and Training steps' requests are sent to
simsage: a property path is then resolved against simsage's real DescribeProcessingJob
answer.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from botocore.validate import ParamValidator

sagemaker = pytest.importorskip("sagemaker")

from sagemaker import image_uris  # noqa: E402
from sagemaker.estimator import Estimator  # noqa: E402
from sagemaker.inputs import TrainingInput  # noqa: E402
from sagemaker.model import Model  # noqa: E402
from sagemaker.processing import ProcessingInput, ProcessingOutput  # noqa: E402
from sagemaker.sklearn.processing import SKLearnProcessor  # noqa: E402
from sagemaker.transformer import Transformer  # noqa: E402
from sagemaker.tuner import ContinuousParameter, HyperparameterTuner  # noqa: E402
from sagemaker.workflow.condition_step import ConditionStep  # noqa: E402
from sagemaker.workflow.conditions import (  # noqa: E402
    ConditionEquals,
    ConditionGreaterThanOrEqualTo,
    ConditionIn,
    ConditionNot,
    ConditionOr,
)
from sagemaker.workflow.execution_variables import ExecutionVariables  # noqa: E402
from sagemaker.workflow.fail_step import FailStep  # noqa: E402
from sagemaker.workflow.functions import Join, JsonGet  # noqa: E402
from sagemaker.workflow.model_step import ModelStep  # noqa: E402
from sagemaker.workflow.parameters import (  # noqa: E402
    ParameterFloat,
    ParameterInteger,
    ParameterString,
)
from sagemaker.workflow.pipeline import Pipeline  # noqa: E402
from sagemaker.workflow.pipeline_context import PipelineSession  # noqa: E402
from sagemaker.workflow.properties import PropertyFile  # noqa: E402
from sagemaker.workflow.retry import (  # noqa: E402
    SageMakerJobExceptionTypeEnum,
    SageMakerJobStepRetryPolicy,
    StepExceptionTypeEnum,
    StepRetryPolicy,
)
from sagemaker.workflow.step_collections import RegisterModel  # noqa: E402
from sagemaker.workflow.steps import (  # noqa: E402
    CacheConfig,
    ProcessingStep,
    TrainingStep,
    TransformStep,
    TuningStep,
)

from simsage.pipelines import shapes  # noqa: E402
from simsage.pipelines.caching import cache_key  # noqa: E402
from simsage.pipelines.definition import (  # noqa: E402
    Gate,
    PipelineDefinitionError,
    parse_definition,
)
from simsage.pipelines.expressions import (  # noqa: E402
    Context,
    evaluate_conditions,
    resolve,
    tuning_properties,
)

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
INSTANCE = "ml.m5.large"
EXECUTION = "exec0001"


@pytest.fixture
def session(simsage_local, isolated_sdk):
    return PipelineSession()


def flight_delay_pipeline(sess, tmp_path, script_text="print('preprocess')\n") -> Pipeline:
    """The issue's workflow, written as a notebook writes it."""
    bucket = sess.default_bucket()
    script = tmp_path / "preprocess.py"
    script.write_text(script_text)
    instance_type = ParameterString("ProcessingInstanceType", default_value=INSTANCE)
    instance_count = ParameterInteger("ProcessingInstanceCount", default_value=1)
    threshold = ParameterFloat("AucThreshold", default_value=0.7)
    cache = CacheConfig(enable_caching=True, expire_after="P30D")

    processor = SKLearnProcessor(
        framework_version="1.2-1",
        role=ROLE,
        instance_type=instance_type,
        instance_count=instance_count,
        sagemaker_session=sess,
    )
    preprocess = ProcessingStep(
        "Preprocess",
        step_args=processor.run(
            code=str(script),
            inputs=[
                ProcessingInput(
                    source=f"s3://{bucket}/flights/raw", destination="/opt/ml/processing/input"
                )
            ],
            outputs=[
                ProcessingOutput(output_name="train", source="/opt/ml/processing/train"),
                ProcessingOutput(output_name="validation", source="/opt/ml/processing/validation"),
            ],
        ),
        cache_config=cache,
        retry_policies=[
            StepRetryPolicy(exception_types=[StepExceptionTypeEnum.SERVICE_FAULT], max_attempts=3)
        ],
    )
    outputs = preprocess.properties.ProcessingOutputConfig.Outputs
    channels = {
        name: TrainingInput(outputs[name].S3Output.S3Uri, content_type="text/csv")
        for name in ("train", "validation")
    }
    image = image_uris.retrieve("xgboost", sess.boto_region_name, "1.7-1")
    estimator = Estimator(
        image_uri=image,
        role=ROLE,
        instance_type=INSTANCE,
        instance_count=1,
        output_path=Join(
            on="/", values=["s3:/", bucket, "models", ExecutionVariables.PIPELINE_EXECUTION_ID]
        ),
        sagemaker_session=sess,
        hyperparameters={"objective": "binary:logistic", "num_round": 10},
    )
    train = TrainingStep(
        "Train",
        step_args=estimator.fit(channels),
        retry_policies=[
            SageMakerJobStepRetryPolicy(
                exception_types=[SageMakerJobExceptionTypeEnum.CAPACITY_ERROR], max_attempts=2
            )
        ],
    )
    tuner = HyperparameterTuner(
        estimator,
        "validation:auc",
        {"eta": ContinuousParameter(0.1, 0.5)},
        max_jobs=2,
        max_parallel_jobs=1,
    )
    tune = TuningStep("Tune", step_args=tuner.fit(channels), cache_config=cache)
    report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        "Evaluate",
        step_args=processor.run(
            code=str(script),
            inputs=[
                ProcessingInput(
                    source=tune.get_top_model_s3_uri(top_k=0, s3_bucket=bucket),
                    destination="/opt/ml/processing/model",
                ),
                ProcessingInput(
                    source=outputs["validation"].S3Output.S3Uri,
                    destination="/opt/ml/processing/validation",
                ),
            ],
            outputs=[
                ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation")
            ],
        ),
        property_files=[report],
    )
    model = Model(
        image_uri=image,
        model_data=train.properties.ModelArtifacts.S3ModelArtifacts,
        role=ROLE,
        sagemaker_session=sess,
    )
    create = ModelStep("CreateModel", step_args=model.create(instance_type=INSTANCE))
    register = ModelStep(
        "Register",
        step_args=model.register(
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=[INSTANCE],
            transform_instances=[INSTANCE],
            model_package_group_name="flight-delay",
            approval_status="PendingManualApproval",
        ),
    )
    legacy_register = RegisterModel(
        "LegacyRegister",
        estimator=estimator,
        model_data=train.properties.ModelArtifacts.S3ModelArtifacts,
        content_types=["text/csv"],
        response_types=["text/csv"],
        inference_instances=[INSTANCE],
        transform_instances=[INSTANCE],
        model_package_group_name="flight-delay",
    )
    transformer = Transformer(
        model_name=create.properties.ModelName,
        instance_type=INSTANCE,
        instance_count=1,
        output_path=f"s3://{bucket}/flights/scores",
        sagemaker_session=sess,
    )
    score = TransformStep(
        "Score",
        step_args=transformer.transform(
            data=outputs["validation"].S3Output.S3Uri, content_type="text/csv"
        ),
    )
    too_low = FailStep("AucTooLow", error_message=Join(on=" ", values=["AUC below", threshold]))
    check = ConditionStep(
        "CheckAuc",
        conditions=[
            ConditionGreaterThanOrEqualTo(
                left=JsonGet(
                    step_name=evaluate.name, property_file=report, json_path="metrics.auc.value"
                ),
                right=threshold,
            ),
            ConditionOr(
                [
                    ConditionIn(value=instance_type, in_values=[INSTANCE, "ml.c5.xlarge"]),
                    ConditionNot(ConditionEquals(instance_count, 3)),
                ]
            ),
        ],
        if_steps=[create, register, legacy_register, score],
        else_steps=[too_low],
    )
    return Pipeline(
        "FlightDelay",
        parameters=[instance_type, instance_count, threshold],
        steps=[preprocess, train, tune, evaluate, check],
        sagemaker_session=sess,
    )


def describe_answers(bucket: str) -> dict:
    """Answers shaped as the Describe operations answer (members the paths read)."""

    def output(name):
        uri = f"s3://{bucket}/FlightDelay/{EXECUTION}/Preprocess/output/{name}"
        return {"OutputName": name, "S3Output": {"S3Uri": uri}}

    tuning = tuning_properties(
        {
            "HyperParameterTuningJobName": "tune-1",
            "HyperParameterTuningJobConfig": {
                "HyperParameterTuningJobObjective": {
                    "Type": "Maximize",
                    "MetricName": "validation:auc",
                }
            },
        },
        [
            {
                "TrainingJobName": "tune-1-002",
                "FinalHyperParameterTuningJobObjectiveMetric": {"Value": 0.8},
            },
            {
                "TrainingJobName": "tune-1-001",
                "FinalHyperParameterTuningJobObjectiveMetric": {"Value": 0.9},
            },
        ],
    )
    return {
        "Preprocess": {
            "ProcessingOutputConfig": {"Outputs": [output("train"), output("validation")]}
        },
        "Train": {"ModelArtifacts": {"S3ModelArtifacts": f"s3://{bucket}/models/model.tar.gz"}},
        "Tune": tuning,
        "Evaluate": {
            "ProcessingOutputConfig": {
                "Outputs": [
                    {"OutputName": "evaluation", "S3Output": {"S3Uri": f"s3://{bucket}/eval"}}
                ]
            }
        },
        "CheckAuc": {"Outcome": "True"},
        "CreateModel-CreateModel": {"ModelName": "pipelines-exec0001-createmodel"},
    }


def context_for(definition, answers, auc=0.83, given=None) -> Context:
    return Context(
        parameters=definition.parameter_values(given or {}),
        execution={
            "PipelineExecutionId": EXECUTION,
            "PipelineName": "FlightDelay",
            "PipelineArn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/flightdelay",
            "PipelineExecutionArn": (
                "arn:aws:sagemaker:us-east-1:123456789012:pipeline/flightdelay/execution/"
                + EXECUTION
            ),
            "StartDateTime": datetime(2026, 12, 3, tzinfo=UTC),
        },
        steps=answers,
        read_property_file=lambda step, name: {"metrics": {"auc": {"value": auc}}},
    )


def test_the_sdk_definition_is_read_with_its_steps_and_graph(session, tmp_path):
    pipeline = flight_delay_pipeline(session, tmp_path)
    definition = parse_definition(pipeline.definition())

    assert list(definition.parameters) == [
        "ProcessingInstanceType",
        "ProcessingInstanceCount",
        "AucThreshold",
    ]
    assert {name: step.type for name, step in definition.steps.items()} == {
        "Preprocess": "Processing",
        "Train": "Training",
        "Tune": "Tuning",
        "Evaluate": "Processing",
        "CheckAuc": "Condition",
        "CreateModel-CreateModel": "Model",
        "Register-RegisterModel": "RegisterModel",
        "LegacyRegister-RegisterModel": "RegisterModel",
        "Score": "Transform",
        "AucTooLow": "Fail",
    }
    assert definition.top_level == ("Preprocess", "Train", "Tune", "Evaluate", "CheckAuc")
    assert definition.experiment_config == {
        "ExperimentName": {"Get": "Execution.PipelineName"},
        "TrialName": {"Get": "Execution.PipelineExecutionId"},
    }

    dag = definition.graph()
    prerequisites = {name: set(node.prerequisites) for name, node in dag.nodes.items()}
    assert prerequisites == {
        "Preprocess": set(),
        "Train": {"Preprocess"},
        "Tune": {"Preprocess"},
        "Evaluate": {"Preprocess", "Tune"},
        "CheckAuc": {"Evaluate"},
        "CreateModel-CreateModel": {"CheckAuc", "Train"},
        "Register-RegisterModel": {"CheckAuc", "Train"},
        "LegacyRegister-RegisterModel": {"CheckAuc", "Train"},
        "Score": {"CheckAuc", "CreateModel-CreateModel", "Preprocess"},
        "AucTooLow": {"CheckAuc"},
    }
    assert dag.nodes["Score"].gate == Gate("CheckAuc", True)
    assert dag.nodes["AucTooLow"].gate == Gate("CheckAuc", False)
    assert dag.layers[:2] == (("Preprocess",), ("Train", "Tune"))

    preprocess = definition.steps["Preprocess"]
    assert preprocess.cache_config.enabled and preprocess.cache_config.expire_after == "P30D"
    assert preprocess.retry_policies[0].exception_types == ("Step.SERVICE_FAULT",)
    assert preprocess.retry_policies[0].max_attempts == 3
    assert definition.steps["Train"].retry_policies[0].exception_types == (
        "SageMaker.CAPACITY_ERROR",
    )
    report = definition.steps["Evaluate"].property_files["EvaluationReport"]
    assert (report.output_name, report.file_path) == ("evaluation", "evaluation.json")


def test_an_execution_walks_the_graph_as_the_condition_decides(session, tmp_path):
    definition = parse_definition(flight_delay_pipeline(session, tmp_path).definition())
    dag = definition.graph()
    answers = describe_answers(session.default_bucket())
    statuses = {}
    assert dag.plan(statuses, {}).ready == ("Preprocess",)
    statuses["Preprocess"] = "Succeeded"
    assert dag.plan(statuses, {}).ready == ("Train", "Tune")
    statuses.update(Train="Succeeded", Tune="Succeeded")
    assert dag.plan(statuses, {}).ready == ("Evaluate",)
    statuses["Evaluate"] = "Succeeded"
    assert dag.plan(statuses, {}).ready == ("CheckAuc",)

    conditions = list(definition.steps["CheckAuc"].conditions)
    assert evaluate_conditions(conditions, context_for(definition, answers, auc=0.83))
    assert not evaluate_conditions(conditions, context_for(definition, answers, auc=0.5))
    assert not evaluate_conditions(
        conditions, context_for(definition, answers, given={"AucThreshold": "0.9"})
    )

    statuses["CheckAuc"] = "Succeeded"
    plan = dag.plan(statuses, {"CheckAuc": True})
    assert plan.ready == (
        "CreateModel-CreateModel",
        "Register-RegisterModel",
        "LegacyRegister-RegisterModel",
    )
    assert plan.unreachable == ("AucTooLow",)
    plan = dag.plan(statuses, {"CheckAuc": False})
    assert plan.ready == ("AucTooLow",)
    fail = definition.steps["AucTooLow"]
    assert resolve(fail.error_message, context_for(definition, answers)) == "AUC below 0.7"


def test_resolved_job_arguments_are_requests_botocore_accepts(session, tmp_path):
    definition = parse_definition(flight_delay_pipeline(session, tmp_path).definition())
    bucket = session.default_bucket()
    context = context_for(
        definition, describe_answers(bucket), given={"ProcessingInstanceCount": "2"}
    )
    model = shapes.service_model()
    names = {
        "Processing": ("CreateProcessingJob", "ProcessingJobName"),
        "Training": ("CreateTrainingJob", "TrainingJobName"),
        "Tuning": ("CreateHyperParameterTuningJob", "HyperParameterTuningJobName"),
        "Transform": ("CreateTransformJob", "TransformJobName"),
        "Model": ("CreateModel", "ModelName"),
        "RegisterModel": ("CreateModelPackage", None),
    }
    requests = {}
    for name, step in definition.steps.items():
        if step.type not in names:
            continue
        operation, name_member = names[step.type]
        request = shapes.coerce_request(step.type, resolve(step.arguments, context))
        if name_member:
            request[name_member] = f"pipelines-{EXECUTION}-{name}"[:32]
        report = ParamValidator().validate(request, model.operation_model(operation).input_shape)
        assert not report.has_errors(), (name, report.generate_report())
        assert "Get" not in json.dumps(request) and "Std:" not in json.dumps(request)
        requests[name] = request

    preprocess = requests["Preprocess"]
    assert preprocess["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 2
    assert preprocess["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] == (
        f"s3://{bucket}/FlightDelay/{EXECUTION}/Preprocess/output/train"
    )
    train = requests["Train"]
    assert train["OutputDataConfig"]["S3OutputPath"] == f"s3://{bucket}/models/{EXECUTION}"
    assert train["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == (
        f"s3://{bucket}/FlightDelay/{EXECUTION}/Preprocess/output/train"
    )
    evaluate = requests["Evaluate"]
    assert evaluate["ProcessingInputs"][0]["S3Input"]["S3Uri"] == (
        f"s3://{bucket}/tune-1-001/output/model.tar.gz"
    )
    assert requests["Score"]["ModelName"] == "pipelines-exec0001-createmodel"
    assert requests["Register-RegisterModel"]["InferenceSpecification"]["Containers"][0][
        "ModelDataUrl"
    ] == (f"s3://{bucket}/models/model.tar.gz")


def test_a_property_path_resolves_against_simsages_describe_answer(
    simsage_local, session, tmp_path
):
    """The Processing step's request, resolved, is accepted by simsage's
    CreateProcessingJob; the Train step's reference to its output is then read from
    simsage's own DescribeProcessingJob answer, and the Train request is accepted too."""
    definition = parse_definition(flight_delay_pipeline(session, tmp_path).definition())
    sm = simsage_local.client("sagemaker")
    context = context_for(definition, {})
    request = shapes.coerce_request(
        "Processing", resolve(definition.steps["Preprocess"].arguments, context)
    )
    sm.create_processing_job(ProcessingJobName="pipelines-exec0001-Preprocess", **request)
    described = sm.describe_processing_job(ProcessingJobName="pipelines-exec0001-Preprocess")

    context = context_for(definition, {"Preprocess": described})
    train = shapes.coerce_request("Training", resolve(definition.steps["Train"].arguments, context))
    channel = train["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
    assert channel == described["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    assert channel.endswith(f"/FlightDelay/{EXECUTION}/Preprocess/output/train")
    sm.create_training_job(TrainingJobName="pipelines-exec0001-Train", **train)
    assert (
        sm.describe_training_job(TrainingJobName="pipelines-exec0001-Train")["InputDataConfig"][0][
            "DataSource"
        ]["S3DataSource"]["S3Uri"]
        == channel
    )
    sm.stop_training_job(TrainingJobName="pipelines-exec0001-Train")


def test_a_second_execution_has_the_same_cache_keys_unless_a_parameter_they_use_changes(
    session, tmp_path
):
    """What makes "run it twice to show caching" work: another execution id changes the
    steps' output paths but none of their cache keys; a parameter that reaches a key
    attribute changes that key only, and the script's content is part of the key."""
    bucket = session.default_bucket()

    def keys(pipeline, execution, given=None):
        definition = parse_definition(pipeline.definition())
        context = context_for(definition, describe_answers(bucket), given=given)
        context.execution = {**context.execution, "PipelineExecutionId": execution}
        return {
            name: cache_key(step.type, resolve(step.arguments, context))
            for name, step in definition.steps.items()
            if step.cache_config is not None and step.cache_config.enabled
        }

    pipeline = flight_delay_pipeline(session, tmp_path)
    first = keys(pipeline, "exec0001")
    assert set(first) == {"Preprocess", "Tune"}
    assert keys(pipeline, "exec0002") == first
    # the instance count is not a key attribute of a processing job
    assert keys(pipeline, "exec0002", {"ProcessingInstanceCount": "4"}) == first
    edited = flight_delay_pipeline(session, tmp_path, script_text="print('edited')\n")
    changed = keys(edited, "exec0003")
    assert changed["Preprocess"] != first["Preprocess"]
    assert changed["Tune"] == first["Tune"]


def _one_step_pipeline(sess, step) -> str:
    return Pipeline("Other", steps=[step], sagemaker_session=sess).definition()


def test_step_types_simsage_does_not_run_are_refused_by_name(session):
    from sagemaker.lambda_helper import Lambda
    from sagemaker.workflow.callback_step import CallbackOutput, CallbackStep
    from sagemaker.workflow.emr_step import EMRStep, EMRStepConfig
    from sagemaker.workflow.lambda_step import LambdaStep

    steps = {
        "Lambda": LambdaStep(
            "Notify",
            lambda_func=Lambda(
                function_arn="arn:aws:lambda:us-east-1:123456789012:function:notify",
                session=session,
            ),
        ),
        "EMR": EMRStep(
            "Spark",
            display_name="spark",
            description="a Spark step",
            cluster_id="j-1ABCDEFGHIJKL",
            step_config=EMRStepConfig(jar="command-runner.jar", args=["spark-submit", "x.py"]),
        ),
        "Callback": CallbackStep(
            "Approve",
            sqs_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/q",
            inputs={"x": 1},
            outputs=[CallbackOutput(output_name="ok")],
        ),
    }
    for kind, step in steps.items():
        with pytest.raises(PipelineDefinitionError) as info:
            parse_definition(_one_step_pipeline(session, step))
        assert f"step '{step.name}' is a {kind} step, which simsage does not run" in (
            info.value.message
        )


def test_a_model_step_that_repacks_adds_a_training_step_the_registration_needs(session, tmp_path):
    """A framework model with its own inference script and a model known only when the
    pipeline runs: the SDK's ModelStep writes a ``<name>-RepackModel-0`` Training step,
    and ``<name>-RegisterModel`` reads its ModelArtifacts."""
    from sagemaker.pytorch.model import PyTorchModel

    (tmp_path / "inference.py").write_text("def model_fn(model_dir):\n    return None\n")
    model_data = ParameterString("ModelData", default_value="s3://bucket/model.tar.gz")
    model = PyTorchModel(
        model_data=model_data,
        role=ROLE,
        entry_point="inference.py",
        source_dir=str(tmp_path),
        framework_version="1.13",
        py_version="py39",
        sagemaker_session=session,
    )
    step = ModelStep(
        "Register",
        step_args=model.register(
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=[INSTANCE],
            transform_instances=[INSTANCE],
            model_package_group_name="flight-delay",
        ),
    )
    text = Pipeline(
        "Repack", parameters=[model_data], steps=[step], sagemaker_session=session
    ).definition()
    definition = parse_definition(text)
    assert {name: s.type for name, s in definition.steps.items()} == {
        "Register-RepackModel-0": "Training",
        "Register-RegisterModel": "RegisterModel",
    }
    assert definition.graph().nodes["Register-RegisterModel"].prerequisites == {
        "Register-RepackModel-0"
    }
