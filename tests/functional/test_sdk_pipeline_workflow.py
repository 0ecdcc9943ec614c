"""simsage.sdk.workflow writes the pipeline definition the official SDK v2's
``sagemaker.workflow`` writes for the same pipeline, and runs it end to end on simsage.

The pipeline is the one of test_official_sdk_pipelines.py (preprocess, train, evaluate
with a property file, a condition on the AUC that creates and registers the model or
fails), written once with each SDK's names. The definitions are compared as parsed JSON:
equal but for what only the official SDK adds to a training job (its Debugger and
Profiler configuration, which simsage.sdk never sends) and the digest in the uploaded
script's S3 key (the official SDK hashes the script's path too). Then the simsage.sdk.workflow
pipeline is upserted, started, waited for, and its steps listed, as a notebook does;
the second execution reuses the cached steps. A tuning and a transform step run too,
and ``stop()`` stops an execution and its running job.
"""

from __future__ import annotations

import importlib
import json
import re
import time
import types
from typing import Any

import pytest
from botocore.exceptions import ClientError, WaiterError
from sdk_helpers import dataset, write_csv
from test_official_sdk_pipelines import EVALUATE, INSTANCE, PREPROCESS, ROLE

from simsage import sdk
from simsage.pipelines.definition import parse_definition
from simsage.sdk.workflow.pipeline import Pipeline
from simsage.sdk.workflow.pipeline_context import PipelineSession
from simsage.sdk.workflow.steps import ProcessingStep

# What only the official SDK adds to a step's arguments (simsage.sdk never sends it).
OFFICIAL_ONLY = {"Training": ("DebugHookConfig", "ProfilerConfig")}


def write_inputs(tmp_path) -> None:
    x, y = dataset(400, seed=4)
    (tmp_path / "raw").mkdir(parents=True, exist_ok=True)
    write_csv(tmp_path / "raw" / "raw.csv", x, y)
    (tmp_path / "preprocess.py").write_text(PREPROCESS)
    (tmp_path / "evaluate.py").write_text(EVALUATE)


def churn_pipeline(m, sess, tmp_path, threshold_default=0.7):
    """The churn pipeline in the names of ``m``, a namespace of one SDK's classes."""
    bucket = sess.default_bucket()
    write_inputs(tmp_path)
    raw = sess.upload_data(str(tmp_path / "raw"), bucket, "churn/raw")
    threshold = m.ParameterFloat("AucThreshold", default_value=threshold_default)
    instance_type = m.ParameterString("InstanceType", default_value=INSTANCE)
    instance_count = m.ParameterInteger("InstanceCount", default_value=1)
    cache = m.CacheConfig(enable_caching=True, expire_after="P30D")
    processor = m.SKLearnProcessor(
        framework_version="1.2-1",
        role=ROLE,
        instance_type=INSTANCE,
        instance_count=instance_count,
        sagemaker_session=sess,
    )
    preprocess = m.ProcessingStep(
        "Preprocess",
        step_args=processor.run(
            code=str(tmp_path / "preprocess.py"),
            inputs=[m.ProcessingInput(source=raw, destination="/opt/ml/processing/input")],
            outputs=[
                m.ProcessingOutput(output_name="train", source="/opt/ml/processing/train"),
                m.ProcessingOutput(
                    output_name="validation", source="/opt/ml/processing/validation"
                ),
            ],
        ),
        cache_config=cache,
        retry_policies=[
            m.StepRetryPolicy(
                exception_types=[m.StepExceptionTypeEnum.SERVICE_FAULT], max_attempts=3
            )
        ],
    )
    outputs = preprocess.properties.ProcessingOutputConfig.Outputs
    image = m.image_uris.retrieve("xgboost", sess.boto_region_name, "1.7-1")
    estimator = m.Estimator(
        image_uri=image,
        role=ROLE,
        instance_type=INSTANCE,
        instance_count=1,
        output_path=m.Join(
            on="/", values=["s3:/", bucket, "churn", m.ExecutionVariables.PIPELINE_EXECUTION_ID]
        ),
        hyperparameters={"objective": "binary:logistic", "num_round": 20},
        sagemaker_session=sess,
    )
    train = m.TrainingStep(
        "Train",
        step_args=estimator.fit(
            {"train": m.TrainingInput(outputs["train"].S3Output.S3Uri, content_type="text/csv")}
        ),
        cache_config=cache,
        retry_policies=[
            m.SageMakerJobStepRetryPolicy(
                exception_types=[m.SageMakerJobExceptionTypeEnum.CAPACITY_ERROR], max_attempts=2
            )
        ],
    )
    report = m.PropertyFile(name="Evaluation", output_name="evaluation", path="evaluation.json")
    evaluate = m.ProcessingStep(
        "Evaluate",
        step_args=processor.run(
            code=str(tmp_path / "evaluate.py"),
            inputs=[
                m.ProcessingInput(
                    source=train.properties.ModelArtifacts.S3ModelArtifacts,
                    destination="/opt/ml/processing/model",
                ),
                m.ProcessingInput(
                    source=outputs["validation"].S3Output.S3Uri,
                    destination="/opt/ml/processing/validation",
                ),
            ],
            outputs=[
                m.ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation")
            ],
        ),
        property_files=[report],
        cache_config=cache,
    )
    model = m.Model(
        image_uri=image,
        model_data=train.properties.ModelArtifacts.S3ModelArtifacts,
        role=ROLE,
        sagemaker_session=sess,
    )
    create = m.ModelStep("Create", step_args=model.create(instance_type=INSTANCE))
    register = m.ModelStep(
        "Register",
        step_args=model.register(
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=[INSTANCE],
            transform_instances=[INSTANCE],
            model_package_group_name="churn",
            approval_status="Approved",
        ),
    )
    too_low = m.FailStep("AucTooLow", error_message=m.Join(on=" ", values=["AUC below", threshold]))
    check = m.ConditionStep(
        "CheckAuc",
        conditions=[
            m.ConditionGreaterThanOrEqualTo(
                left=m.JsonGet(
                    step_name=evaluate.name, property_file=report, json_path="metrics.auc.value"
                ),
                right=threshold,
            ),
            m.ConditionOr(
                [
                    m.ConditionIn(value=instance_type, in_values=[INSTANCE, "ml.c5.xlarge"]),
                    m.ConditionNot(m.ConditionEquals(instance_count, 3)),
                ]
            ),
        ],
        if_steps=[create, register],
        else_steps=[too_low],
        depends_on=[train],
    )
    return m.Pipeline(
        "Churn",
        parameters=[threshold, instance_type, instance_count],
        steps=[preprocess, train, evaluate, check],
        sagemaker_session=sess,
    )


# The workflow names churn_pipeline uses; each SDK has them in the same modules.
WORKFLOW_MODULES = (
    "condition_step",
    "conditions",
    "execution_variables",
    "fail_step",
    "functions",
    "model_step",
    "parameters",
    "pipeline",
    "properties",
    "retry",
    "steps",
)


def names_of(package: str, **classic: Any) -> types.SimpleNamespace:
    """The classes ``<package>.workflow``'s modules define, plus the ``classic`` ones."""
    names = types.SimpleNamespace(**classic)
    for module_name in WORKFLOW_MODULES:
        module = importlib.import_module(f"{package}.workflow.{module_name}")
        for name, value in vars(module).items():
            if name[:1].isupper() and getattr(value, "__module__", None) == module.__name__:
                setattr(names, name, value)
    return names


def simsage_names() -> types.SimpleNamespace:
    from simsage.sdk import image_uris
    from simsage.sdk.estimator import Estimator
    from simsage.sdk.inputs import ProcessingInput, ProcessingOutput, TrainingInput
    from simsage.sdk.model import Model
    from simsage.sdk.processing import SKLearnProcessor
    from simsage.sdk.transformer import Transformer
    from simsage.sdk.tuner import ContinuousParameter, HyperparameterTuner

    return names_of(
        "simsage.sdk",
        Transformer=Transformer,
        HyperparameterTuner=HyperparameterTuner,
        ContinuousParameter=ContinuousParameter,
        image_uris=image_uris,
        Estimator=Estimator,
        TrainingInput=TrainingInput,
        Model=Model,
        ProcessingInput=ProcessingInput,
        ProcessingOutput=ProcessingOutput,
        SKLearnProcessor=SKLearnProcessor,
    )


def official_names() -> types.SimpleNamespace:
    """The official SDK v2's names for the same (the test is skipped without it)."""
    pytest.importorskip("sagemaker")
    from sagemaker import image_uris
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.model import Model
    from sagemaker.processing import ProcessingInput, ProcessingOutput
    from sagemaker.sklearn.processing import SKLearnProcessor
    from sagemaker.transformer import Transformer
    from sagemaker.tuner import ContinuousParameter, HyperparameterTuner

    return names_of(
        "sagemaker",
        Transformer=Transformer,
        HyperparameterTuner=HyperparameterTuner,
        ContinuousParameter=ContinuousParameter,
        image_uris=image_uris,
        Estimator=Estimator,
        TrainingInput=TrainingInput,
        Model=Model,
        ProcessingInput=ProcessingInput,
        ProcessingOutput=ProcessingOutput,
        SKLearnProcessor=SKLearnProcessor,
    )


def tuned_pipeline(m, sess, tmp_path):
    """Preprocess, tune, create the best model, batch-score: the tuning and transform
    steps, in the names of ``m``."""
    bucket = sess.default_bucket()
    write_inputs(tmp_path)
    processor = m.SKLearnProcessor(
        framework_version="1.2-1",
        role=ROLE,
        instance_type=INSTANCE,
        instance_count=1,
        sagemaker_session=sess,
    )
    preprocess = m.ProcessingStep(
        "Preprocess",
        step_args=processor.run(
            code=str(tmp_path / "preprocess.py"),
            inputs=[
                m.ProcessingInput(
                    source=f"s3://{bucket}/churn/raw", destination="/opt/ml/processing/input"
                )
            ],
            outputs=[
                m.ProcessingOutput(output_name=name, source=f"/opt/ml/processing/{name}")
                for name in ("train", "validation")
            ],
        ),
    )
    outputs = preprocess.properties.ProcessingOutputConfig.Outputs
    channels = {
        name: m.TrainingInput(outputs[name].S3Output.S3Uri, content_type="text/csv")
        for name in ("train", "validation")
    }
    image = m.image_uris.retrieve("xgboost", sess.boto_region_name, "1.7-1")
    estimator = m.Estimator(
        image_uri=image,
        role=ROLE,
        instance_type=INSTANCE,
        instance_count=1,
        output_path=f"s3://{bucket}/churn/tuning",
        hyperparameters={"objective": "binary:logistic", "num_round": 10},
        sagemaker_session=sess,
    )
    tuner = m.HyperparameterTuner(
        estimator,
        "validation:auc",
        {"eta": m.ContinuousParameter(0.1, 0.5)},
        max_jobs=2,
        max_parallel_jobs=1,
    )
    tune = m.TuningStep("Tune", step_args=tuner.fit(channels))
    model = m.Model(
        image_uri=image,
        model_data=tune.get_top_model_s3_uri(top_k=0, s3_bucket=bucket, prefix="churn/tuning"),
        role=ROLE,
        sagemaker_session=sess,
    )
    create = m.ModelStep("Best", step_args=model.create(instance_type=INSTANCE))
    transformer = m.Transformer(
        model_name=create.properties.ModelName,
        instance_type=INSTANCE,
        instance_count=1,
        output_path=f"s3://{bucket}/churn/scores",
        assemble_with="Line",
        sagemaker_session=sess,
    )
    score = m.TransformStep(
        "Score",
        step_args=transformer.transform(
            data=outputs["validation"].S3Output.S3Uri,
            content_type="text/csv",
            split_type="Line",
            input_filter="$[1:]",  # the features, without the label
        ),
    )
    return m.Pipeline("Tuned", steps=[preprocess, tune, create, score], sagemaker_session=sess)


def comparable(definition: str) -> dict:
    """The definition as parsed JSON, without what only the official SDK sends, and with
    the digest in the uploaded code's key (``<pipeline>/code/<digest>/<script>``) left
    out: the official SDK hashes the script's local path with its content, simsage.sdk
    its content only (the tests' two scripts are in different folders)."""
    parsed = json.loads(re.sub(r"/code/[0-9a-f]{64}/", "/code/<digest>/", definition))

    def strip(steps):
        for step in steps:
            for key in OFFICIAL_ONLY.get(step["Type"], ()):
                step["Arguments"].pop(key, None)
            if step["Type"] == "Condition":
                strip(step["Arguments"]["IfSteps"])
                strip(step["Arguments"]["ElseSteps"])

    strip(parsed["Steps"])
    return parsed


SIMSAGE = simsage_names()


@pytest.fixture
def official(simsage_local, isolated_sdk):
    return official_names()


def test_the_definition_is_the_official_sdks(official, tmp_path):
    from sagemaker.workflow.pipeline_context import PipelineSession as OfficialSession

    ours = churn_pipeline(SIMSAGE, PipelineSession(), tmp_path / "ours")
    theirs = churn_pipeline(official, OfficialSession(), tmp_path / "theirs")
    assert comparable(ours.definition()) == comparable(theirs.definition())

    # simsage reads both the same way: steps, types, graph and the branches.
    mine, official_definition = (parse_definition(p.definition()) for p in (ours, theirs))
    assert list(mine.steps) == list(official_definition.steps)
    assert mine.graph().layers == official_definition.graph().layers
    assert mine.graph().layers[:3] == (("Preprocess",), ("Train",), ("Evaluate",))


def test_tuning_and_transform_steps_are_the_official_sdks(official, tmp_path):
    from sagemaker.workflow.pipeline_context import PipelineSession as OfficialSession

    ours = tuned_pipeline(SIMSAGE, PipelineSession(), tmp_path / "ours")
    theirs = tuned_pipeline(official, OfficialSession(), tmp_path / "theirs")
    assert comparable(ours.definition()) == comparable(theirs.definition())
    dag = parse_definition(ours.definition()).graph()
    assert dag.layers == (("Preprocess",), ("Tune",), ("Best-CreateModel",), ("Score",))


def test_the_definition_is_the_same_from_one_upsert_to_the_next(simsage_local, tmp_path):
    # Replayed SDK calls choose the same S3 keys each time, so cached steps stay cached.
    pipeline = churn_pipeline(SIMSAGE, PipelineSession(), tmp_path)
    first = pipeline.definition()
    assert pipeline.definition() == first
    steps = json.loads(first)["Steps"]
    code = steps[0]["Arguments"]["ProcessingInputs"][-1]["S3Input"]["S3Uri"]
    assert code.startswith("s3://sagemaker-us-east-1-123456789012/Churn/code/")
    assert code.endswith("/preprocess.py")
    assert "TrainingJobName" not in steps[1]["Arguments"]  # the service names the jobs


def test_a_local_input_is_uploaded_under_the_pipeline_and_step(simsage_local, tmp_path):
    write_inputs(tmp_path)
    sess = PipelineSession()
    processor = SIMSAGE.SKLearnProcessor(
        framework_version="1.2-1",
        role=ROLE,
        instance_type=INSTANCE,
        instance_count=1,
        sagemaker_session=sess,
    )
    step_args = processor.run(
        code=str(tmp_path / "preprocess.py"),
        inputs=[
            SIMSAGE.ProcessingInput(
                source=str(tmp_path / "raw"), destination="/opt/ml/processing/input"
            )
        ],
    )
    assert processor.latest_job is None  # nothing ran: the call was recorded
    step = ProcessingStep("Prep", step_args=step_args)
    arguments = Pipeline("Local", steps=[step], sagemaker_session=sess).to_request()["Steps"]
    uri = arguments[0]["Arguments"]["ProcessingInputs"][0]["S3Input"]["S3Uri"]
    bucket = sess.default_bucket()
    assert uri == f"s3://{bucket}/Local/Prep/input/input-1"
    listed = sess.s3_client.list_objects_v2(Bucket=bucket, Prefix="Local/Prep/input/")
    assert [item["Key"] for item in listed["Contents"]] == ["Local/Prep/input/input-1/raw.csv"]


def test_step_args_must_come_from_a_pipeline_session_and_match_the_step(simsage_local):
    with pytest.raises(TypeError, match="PipelineSession"):
        ProcessingStep("Preprocess", step_args=None)
    step_args = SIMSAGE.Model("image", sagemaker_session=PipelineSession()).create()
    with pytest.raises(ValueError, match="Processing step.*create_model"):
        ProcessingStep("Preprocess", step_args=step_args).to_request("Churn")
    with pytest.raises(TypeError, match="model.create"):
        SIMSAGE.ModelStep("Create", step_args=None)


def _steps(execution) -> dict[str, dict]:
    return {step["StepName"]: step for step in execution.list_steps()}


def test_the_pipeline_runs_on_simsage_caches_and_fails(simsage_local, tmp_path):
    sess = PipelineSession()
    pipeline = churn_pipeline(SIMSAGE, sess, tmp_path)
    created = pipeline.upsert(role_arn=ROLE, description="churn")
    assert created["PipelineArn"].endswith(":pipeline/churn")
    assert pipeline.upsert(role_arn=ROLE)["PipelineArn"] == created["PipelineArn"]  # update
    assert pipeline.describe()["PipelineDefinition"] == pipeline.definition()

    first = pipeline.start()
    first.wait(max_attempts=3000)
    assert first.describe()["PipelineExecutionStatus"] == "Succeeded"
    steps = _steps(first)
    assert set(steps) == {
        "Preprocess",
        "Train",
        "Evaluate",
        "CheckAuc",
        "Create-CreateModel",
        "Register-RegisterModel",
    }
    assert steps["CheckAuc"]["Metadata"]["Condition"]["Outcome"] == "True"
    package = steps["Register-RegisterModel"]["Metadata"]["RegisterModel"]["Arn"]
    assert package.endswith(":model-package/churn/1")
    sm = sess.sagemaker_client
    described = sm.describe_model_package(ModelPackageName=package)
    assert described["ModelApprovalStatus"] == "Approved"
    train_job = steps["Train"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[-1]
    artifacts = sm.describe_training_job(TrainingJobName=train_job)["ModelArtifacts"]
    container = described["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == artifacts["S3ModelArtifacts"]
    execution_id = first.arn.rsplit("/", 1)[-1]
    assert artifacts["S3ModelArtifacts"].startswith(
        f"s3://sagemaker-us-east-1-123456789012/churn/{execution_id}/"
    )

    second = pipeline.start()
    second.wait(max_attempts=3000)
    again = _steps(second)
    for name in ("Preprocess", "Train", "Evaluate"):
        assert again[name]["Metadata"] == steps[name]["Metadata"]  # the cached jobs
        assert "CacheHitResult" in again[name]
    assert again["Register-RegisterModel"]["Metadata"]["RegisterModel"]["Arn"].endswith("/2")

    # A threshold no model reaches: the Fail step ends the execution, wait() raises.
    failing = pipeline.start(parameters={"AucThreshold": 1.5})
    with pytest.raises(WaiterError):
        failing.wait(max_attempts=3000)
    described = failing.describe()
    assert described["PipelineExecutionStatus"] == "Failed"
    assert _steps(failing)["AucTooLow"]["StepStatus"] == "Failed"
    assert {p["Name"]: p["Value"] for p in failing.list_parameters()}["AucThreshold"] == "1.5"
    summaries = pipeline.list_executions()["PipelineExecutionSummaries"]
    assert [s["PipelineExecutionArn"] for s in summaries] == [failing.arn, second.arn, first.arn]

    pipeline.delete()
    with pytest.raises(ClientError) as refused:
        pipeline.describe()
    assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_a_tuning_and_a_transform_step_run_on_simsage(simsage_local, tmp_path):
    sess = PipelineSession()
    pipeline = tuned_pipeline(SIMSAGE, sess, tmp_path)
    sess.upload_data(str(tmp_path / "raw"), sess.default_bucket(), "churn/raw")
    pipeline.upsert(role_arn=ROLE)
    execution = pipeline.start()
    execution.wait(max_attempts=3000)
    steps = _steps(execution)
    assert {name: step["StepStatus"] for name, step in steps.items()} == {
        "Preprocess": "Succeeded",
        "Tune": "Succeeded",
        "Best-CreateModel": "Succeeded",
        "Score": "Succeeded",
    }
    sm = sess.sagemaker_client
    tuning = steps["Tune"]["Metadata"]["TuningJob"]["Arn"].rsplit("/", 1)[-1]
    best = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning)
    model_name = steps["Best-CreateModel"]["Metadata"]["Model"]["Arn"].rsplit("/", 1)[-1]
    container = sm.describe_model(ModelName=model_name)["PrimaryContainer"]
    best_job = best["BestTrainingJob"]["TrainingJobName"]
    assert container["ModelDataUrl"] == (
        f"s3://sagemaker-us-east-1-123456789012/churn/tuning/{best_job}/output/model.tar.gz"
    )
    scores = sess.s3_client.list_objects_v2(Bucket=sess.default_bucket(), Prefix="churn/scores/")[
        "Contents"
    ]
    assert [item["Key"] for item in scores] == ["churn/scores/validation.csv.out"]


def test_model_register_outside_a_pipeline_adds_a_version(simsage_local):
    session = sdk.Session()
    session.sagemaker_client.create_model_package_group(ModelPackageGroupName="churn")
    image = sdk.image_uris.retrieve("xgboost", session.boto_region_name, "1.7-1")
    bucket = session.default_bucket()
    session.s3_client.put_object(Bucket=bucket, Key="models/model.tar.gz", Body=b"model")
    data = f"s3://{bucket}/models/model.tar.gz"
    model = sdk.Model(image, model_data=data, sagemaker_session=session)
    arn = model.register(
        content_types=["text/csv"],
        response_types=["text/csv"],
        model_package_group_name="churn",
        approval_status="PendingManualApproval",
    )
    assert arn.endswith(":model-package/churn/1")
    described = session.sagemaker_client.describe_model_package(ModelPackageName=arn)
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    container = described["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == data
    with pytest.raises(ValueError, match="one of model_package_group_name"):
        model.register(content_types=["text/csv"])


def test_stop_ends_the_execution_and_its_running_job(simsage_local, tmp_path):
    (tmp_path / "sleep.py").write_text("import time\ntime.sleep(600)\n")
    sess = PipelineSession()
    processor = SIMSAGE.SKLearnProcessor(
        framework_version="1.2-1",
        role=ROLE,
        instance_type=INSTANCE,
        instance_count=1,
        sagemaker_session=sess,
    )
    sleep = ProcessingStep("Sleep", step_args=processor.run(code=str(tmp_path / "sleep.py")))
    pipeline = Pipeline("Sleepy", steps=[sleep], sagemaker_session=sess)
    pipeline.upsert(role_arn=ROLE)
    execution = pipeline.start()
    while _steps(execution).get("Sleep", {}).get("StepStatus") != "Executing":
        assert execution.describe()["PipelineExecutionStatus"] == "Executing"
        time.sleep(0.1)
    execution.stop()
    with pytest.raises(WaiterError):
        execution.wait()
    assert execution.describe()["PipelineExecutionStatus"] == "Stopped"
    step = _steps(execution)["Sleep"]
    assert step["StepStatus"] == "Stopped"
    job = step["Metadata"]["ProcessingJob"]["Arn"].rsplit("/", 1)[-1]
    described = sess.sagemaker_client.describe_processing_job(ProcessingJobName=job)
    assert described["ProcessingJobStatus"] == "Stopped"


def test_a_script_mode_training_step_is_the_official_sdks(official, tmp_path):
    from sagemaker.sklearn.estimator import SKLearn as OfficialSKLearn
    from sagemaker.workflow.pipeline import Pipeline as OfficialPipeline
    from sagemaker.workflow.pipeline_context import PipelineSession as OfficialSession
    from sagemaker.workflow.steps import TrainingStep as OfficialTrainingStep

    from simsage.sdk.sklearn import SKLearn
    from simsage.sdk.workflow.steps import TrainingStep

    def pipeline(pipeline_cls, step_cls, estimator_cls, sess, folder):
        code = tmp_path / folder
        code.mkdir()
        (code / "train.py").write_text("import helper\nprint(helper.X)\n")
        (code / "helper.py").write_text("X = 1\n")
        estimator = estimator_cls(
            entry_point="train.py",
            source_dir=str(code),
            framework_version="1.2-1",
            role=ROLE,
            instance_type=INSTANCE,
            instance_count=1,
            hyperparameters={"alpha": 0.5},
            sagemaker_session=sess,
        )
        inputs = {"train": f"s3://{sess.default_bucket()}/churn/raw"}
        step = step_cls("Fit", step_args=estimator.fit(inputs))
        return pipeline_cls("Script", steps=[step], sagemaker_session=sess)

    ours = pipeline(Pipeline, TrainingStep, SKLearn, PipelineSession(), "ours")
    theirs = pipeline(
        OfficialPipeline, OfficialTrainingStep, OfficialSKLearn, OfficialSession(), "theirs"
    )
    assert comparable(ours.definition()) == comparable(theirs.definition())
    # The code's key is its content's digest: the same from one definition to the next.
    assert ours.definition() == ours.definition()
