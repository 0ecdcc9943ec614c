"""The official SDK v3's pipelines (sagemaker-mlops), unmodified, run end to end on simsage,
as v3's notebook ``v3-pipeline-train-create-registry`` writes them: a ``ScriptProcessor``
preprocessing step, a ``TrainingStep`` from ``ModelTrainer.train()`` (built-in XGBoost), an
evaluation step writing ``evaluation.json`` (a ``PropertyFile``), a ``ConditionStep`` on a
``JsonGet`` of the AUC that creates and registers the model (``ModelStep`` with
``ModelBuilder.build()`` and ``register()``) and batch-scores the held-out rows
(``TransformStep`` from v3's ``Transformer.transform()``), or fails (``FailStep``) —
through ``Pipeline.upsert`` (with tags), ``start``, ``PipelineExecution.wait``,
``list_steps``, ``list_parameters`` and ``describe``. A second execution reuses the cached
jobs; a threshold no model reaches ends in the Fail step. Then v3's pipeline versions
(``list_pipeline_versions``, ``latest_pipeline_version_id``, ``start(pipeline_version_id=)``),
``mlflow_config`` and a step triggered by another's failure (``StepDependency``); and a
``TuningStep`` from ``HyperparameterTuner.tune()`` whose best job becomes a model.

The ``v3``/``fast_polls``/``role`` fixtures (see conftest.py) activate simsage, keep the
SDK offline and create the execution role once.
"""

from __future__ import annotations

import importlib.util

import pytest
from botocore.exceptions import WaiterError
from sdk_helpers import dataset, write_csv

# Only looked up here: importing sagemaker.mlops creates a boto3 client at import time
# (sagemaker.ai_registry), which needs simsage active (the ``v3`` fixture) for its region.
if importlib.util.find_spec("sagemaker") is None or (
    importlib.util.find_spec("sagemaker.mlops") is None
):
    pytest.skip("needs sagemaker-mlops (the SDK v3's pipelines)", allow_module_level=True)

INSTANCE = "ml.m5.xlarge"

PREPROCESS = """
import os
import numpy as np
rows = np.loadtxt("/opt/ml/processing/input/raw.csv", delimiter=",")
for name, part in (("train", rows[:300]), ("validation", rows[300:])):
    os.makedirs(f"/opt/ml/processing/{name}", exist_ok=True)
    np.savetxt(f"/opt/ml/processing/{name}/{name}.csv", part, delimiter=",", fmt="%.5f")
os.makedirs("/opt/ml/processing/batch", exist_ok=True)
np.savetxt("/opt/ml/processing/batch/batch.csv", rows[300:, 1:], delimiter=",", fmt="%.5f")
"""
EVALUATE = """
import json, os, tarfile
import numpy as np, xgboost as xgb
from sklearn.metrics import roc_auc_score
tarfile.open("/opt/ml/processing/model/model.tar.gz").extractall("/tmp/model")
booster = xgb.Booster()
booster.load_model("/tmp/model/xgboost-model")
rows = np.loadtxt("/opt/ml/processing/validation/validation.csv", delimiter=",")
auc = roc_auc_score(rows[:, 0], booster.predict(xgb.DMatrix(rows[:, 1:])))
os.makedirs("/opt/ml/processing/evaluation", exist_ok=True)
with open("/opt/ml/processing/evaluation/evaluation.json", "w") as out:
    json.dump({"metrics": {"auc": {"value": auc}}}, out)
"""


def _build_pipeline(sess, role, tmp_path):
    from sagemaker.core import image_uris
    from sagemaker.core.processing import ScriptProcessor
    from sagemaker.core.shapes import (
        ProcessingInput,
        ProcessingOutput,
        ProcessingS3Input,
        ProcessingS3Output,
    )
    from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig
    from sagemaker.core.transformer import Transformer
    from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import ParameterFloat, ParameterString
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import (
        CacheConfig,
        ProcessingStep,
        TrainingStep,
        TransformStep,
    )
    from sagemaker.serve.model_builder import ModelBuilder
    from sagemaker.train import ModelTrainer

    bucket = sess.default_bucket()
    x, y = dataset(400, seed=4)
    (tmp_path / "raw").mkdir()
    write_csv(tmp_path / "raw" / "raw.csv", x, y)
    raw = sess.upload_data(str(tmp_path / "raw"), bucket, "churn-v3/raw")
    (tmp_path / "preprocess.py").write_text(PREPROCESS)
    (tmp_path / "evaluate.py").write_text(EVALUATE)

    input_data = ParameterString("InputDataUrl", default_value=raw)
    threshold = ParameterFloat("AucThreshold", default_value=0.7)
    cache = CacheConfig(enable_caching=True, expire_after="30d")
    processor = ScriptProcessor(
        image_uri=image_uris.retrieve(
            framework="sklearn", region=sess.boto_region_name, version="1.2-1"
        ),
        command=["python3"],
        instance_type=INSTANCE,
        instance_count=1,
        base_job_name="churn-v3-process",
        sagemaker_session=sess,
        role=role,
    )

    def output(name: str) -> ProcessingOutput:
        return ProcessingOutput(
            output_name=name,
            s3_output=ProcessingS3Output(
                s3_uri=f"s3://{bucket}/churn-v3/{name}",
                local_path=f"/opt/ml/processing/{name}",
                s3_upload_mode="EndOfJob",
            ),
        )

    def s3_input(name: str, source, local_path: str) -> ProcessingInput:
        return ProcessingInput(
            input_name=name,
            s3_input=ProcessingS3Input(
                s3_uri=source, local_path=local_path, s3_data_type="S3Prefix", s3_input_mode="File"
            ),
        )

    preprocess = ProcessingStep(
        name="Preprocess",
        step_args=processor.run(
            code=str(tmp_path / "preprocess.py"),
            inputs=[s3_input("raw", input_data, "/opt/ml/processing/input")],
            outputs=[output("train"), output("validation"), output("batch")],
        ),
        cache_config=cache,
    )
    outputs = preprocess.properties.ProcessingOutputConfig.Outputs
    image = image_uris.retrieve("xgboost", region=sess.boto_region_name, version="1.7-1")
    trainer = ModelTrainer(
        training_image=image,
        compute=Compute(instance_type=INSTANCE, instance_count=1),
        base_job_name="churn-v3-train",
        hyperparameters={"objective": "binary:logistic", "num_round": 20},
        output_data_config=OutputDataConfig(s3_output_path=f"s3://{bucket}/churn-v3/models"),
        input_data_config=[
            InputData(
                channel_name="train",
                data_source=outputs["train"].S3Output.S3Uri,
                content_type="text/csv",
            )
        ],
        sagemaker_session=sess,
        role=role,
    )
    train = TrainingStep(name="Train", step_args=trainer.train(), cache_config=cache)
    report = PropertyFile(name="Evaluation", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        name="Evaluate",
        step_args=processor.run(
            code=str(tmp_path / "evaluate.py"),
            inputs=[
                s3_input(
                    "model",
                    train.properties.ModelArtifacts.S3ModelArtifacts,
                    "/opt/ml/processing/model",
                ),
                s3_input(
                    "validation",
                    outputs["validation"].S3Output.S3Uri,
                    "/opt/ml/processing/validation",
                ),
            ],
            outputs=[output("evaluation")],
        ),
        property_files=[report],
        cache_config=cache,
    )
    builder = ModelBuilder(
        s3_model_data_url=train.properties.ModelArtifacts.S3ModelArtifacts,
        image_uri=image,
        sagemaker_session=sess,
        role_arn=role,
    )
    create = ModelStep(name="CreateModel", step_args=builder.build())
    register = ModelStep(
        name="RegisterModel",
        step_args=builder.register(
            model_package_group_name="churn-v3",
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=[INSTANCE],
            approval_status="Approved",
        ),
    )
    transformer = Transformer(
        model_name=create.properties.ModelName,
        instance_count=1,
        instance_type=INSTANCE,
        output_path=f"s3://{bucket}/churn-v3/scores",
        sagemaker_session=sess,
    )
    score = TransformStep(
        name="Score",
        step_args=transformer.transform(
            data=outputs["batch"].S3Output.S3Uri, content_type="text/csv", split_type="Line"
        ),
    )
    too_low = FailStep(
        name="AucTooLow", error_message=Join(on=" ", values=["AUC below", threshold])
    )
    check = ConditionStep(
        name="CheckAuc",
        conditions=[
            ConditionGreaterThanOrEqualTo(
                left=JsonGet(
                    step_name=evaluate.name, property_file=report, json_path="metrics.auc.value"
                ),
                right=threshold,
            )
        ],
        if_steps=[create, register, score],
        else_steps=[too_low],
    )
    return Pipeline(
        name="churn-v3",
        parameters=[input_data, threshold],
        steps=[preprocess, train, evaluate, check],
        sagemaker_session=sess,
    )


def _steps(execution) -> dict[str, dict]:
    return {s["StepName"]: s for s in execution.list_steps()}


def test_a_v3_pipeline_runs_caches_and_fails_as_on_aws(v3, fast_polls, role, tmp_path):
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    sess = PipelineSession()
    pipeline = _build_pipeline(sess, role, tmp_path)
    created = pipeline.upsert(role_arn=role, tags=[{"Key": "team", "Value": "churn"}])
    assert created["PipelineArn"].endswith(":pipeline/churn-v3")
    # upsert of an existing pipeline: update, then the tags merged in with add_tags
    updated = pipeline.upsert(role_arn=role, tags=[{"Key": "stage", "Value": "dev"}])
    assert updated["PipelineArn"] == created["PipelineArn"]
    sm = sess.sagemaker_client
    tags = sm.list_tags(ResourceArn=created["PipelineArn"])["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == {"team": "churn", "stage": "dev"}
    assert pipeline.describe()["PipelineName"] == "churn-v3"

    first = pipeline.start()
    first.wait(delay=1, max_attempts=300)
    assert first.describe()["PipelineExecutionStatus"] == "Succeeded"
    steps = _steps(first)
    assert set(steps) == {
        "Preprocess",
        "Train",
        "Evaluate",
        "CheckAuc",
        "CreateModel",
        "RegisterModel",
        "Score",
    }
    assert {s["StepStatus"] for s in steps.values()} == {"Succeeded"}
    assert steps["CheckAuc"]["Metadata"]["Condition"]["Outcome"] == "True"
    # v3's ModelStep names its steps as given (v2 appends -CreateModel, -RegisterModel).
    package = steps["RegisterModel"]["Metadata"]["RegisterModel"]["Arn"]
    assert package.endswith(":model-package/churn-v3/1")
    described = sm.describe_model_package(ModelPackageName=package)
    assert described["ModelApprovalStatus"] == "Approved"
    # (a model's ARN spells its name in lower case, as AWS does)
    model = sm.describe_model(
        ModelName=steps["CreateModel"]["Metadata"]["Model"]["Arn"].rsplit("/", 1)[1]
    )
    container = described["InferenceSpecification"]["Containers"][0]
    assert model["PrimaryContainer"]["ModelDataUrl"] == container["ModelDataUrl"]
    job_arn = steps["Train"]["Metadata"]["TrainingJob"]["Arn"]
    job = sm.describe_training_job(TrainingJobName=job_arn.rsplit("/", 1)[1])
    assert job["TrainingJobStatus"] == "Completed"
    assert job["ModelArtifacts"]["S3ModelArtifacts"].startswith(
        f"s3://{sess.default_bucket()}/churn-v3/models/"
    )
    # The Score step batch-scored the held-out rows with the model CreateModel made.
    transform = steps["Score"]["Metadata"]["TransformJob"]["Arn"].rsplit("/", 1)[1]
    scored = sm.describe_transform_job(TransformJobName=transform)
    assert scored["ModelName"] == model["ModelName"]
    s3 = v3.client("s3")
    out = s3.get_object(Bucket=sess.default_bucket(), Key="churn-v3/scores/batch.csv.out")
    assert len(out["Body"].read().decode().split()) == 100
    parameters = {p["Name"]: p["Value"] for p in first.list_parameters()["PipelineParameters"]}
    assert parameters["AucThreshold"] == "0.7"

    # The second execution: the unchanged jobs come from the cache, as on AWS.
    second = pipeline.start()
    second.wait(delay=1, max_attempts=300)
    cached = _steps(second)
    for name in ("Preprocess", "Train", "Evaluate"):
        assert cached[name]["CacheHitResult"]["SourcePipelineExecutionArn"] == first.arn
        assert cached[name]["Metadata"] == steps[name]["Metadata"]
    # Model steps are not cached: the model is registered again, as version 2.
    assert cached["RegisterModel"]["Metadata"]["RegisterModel"]["Arn"].endswith("churn-v3/2")

    # A threshold no model reaches: the Fail step ends the execution Failed.
    failing = pipeline.start(parameters={"AucThreshold": 1.01})
    with pytest.raises(WaiterError):
        failing.wait(delay=1, max_attempts=300)
    described = failing.describe()
    assert described["PipelineExecutionStatus"] == "Failed"
    failed = _steps(failing)
    assert failed["CheckAuc"]["Metadata"]["Condition"]["Outcome"] == "False"
    assert failed["AucTooLow"]["StepStatus"] == "Failed"
    assert failed["AucTooLow"]["Metadata"]["Fail"]["ErrorMessage"] == "AUC below 1.01"
    assert "RegisterModel" not in failed

    executions = pipeline.list_executions()["PipelineExecutionSummaries"]
    assert {e["PipelineExecutionArn"] for e in executions} == {
        first.arn,
        second.arn,
        failing.arn,
    }


CHECK = """
import sys
print("checking", sys.argv[1:])
sys.exit(1 if sys.argv[1:] == ["--mode", "fail"] else 0)
"""


def _check_pipeline(sess, role, tmp_path, default_mode: str):
    """One processing step (which fails when ``Mode`` is ``fail``) and a Fail step that
    runs only when it failed (v3's ``StepDependency`` with ``TriggerCondition.FAILED``), in
    a pipeline that names its MLflow tracking server (v3's ``mlflow_config``)."""
    from sagemaker.core import image_uris
    from sagemaker.core.processing import ScriptProcessor
    from sagemaker.core.shapes import MlflowConfig
    from sagemaker.core.workflow.parameters import ParameterString
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.step_dependency import StepDependency, TriggerCondition
    from sagemaker.mlops.workflow.steps import ProcessingStep

    (tmp_path / "check.py").write_text(CHECK)
    mode = ParameterString("Mode", default_value=default_mode)
    processor = ScriptProcessor(
        image_uri=image_uris.retrieve("sklearn", region=sess.boto_region_name, version="1.2-1"),
        command=["python3"],
        instance_type=INSTANCE,
        instance_count=1,
        sagemaker_session=sess,
        role=role,
    )
    check = ProcessingStep(
        name="Check",
        step_args=processor.run(code=str(tmp_path / "check.py"), arguments=["--mode", mode]),
    )
    on_failure = FailStep(
        name="OnFailure",
        error_message="the check failed",
        depends_on=[StepDependency(check, TriggerCondition.FAILED)],
    )
    account = sess.account_id()
    return Pipeline(
        name="check-v3",
        parameters=[mode],
        steps=[check, on_failure],
        mlflow_config=MlflowConfig(
            mlflow_resource_arn=(
                f"arn:aws:sagemaker:{sess.boto_region_name}:{account}:mlflow-tracking-server/mlf"
            ),
            mlflow_experiment_name="checks",
        ),
        sagemaker_session=sess,
    )


def test_v3_pipeline_versions_mlflow_config_and_a_failure_trigger(v3, fast_polls, role, tmp_path):
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.mlops.workflow.parallelism_config import ParallelismConfiguration

    sess = PipelineSession()
    first = _check_pipeline(sess, role, tmp_path, default_mode="pass")
    first.upsert(role_arn=role)
    assert first.latest_pipeline_version_id == 1
    # A changed definition (the parameter's default) is a new version of the pipeline.
    second = _check_pipeline(sess, role, tmp_path, default_mode="fail")
    updated = second.upsert(role_arn=role)
    assert updated["PipelineVersionId"] == 2
    assert second.latest_pipeline_version_id == 2
    versions = second.list_pipeline_versions(sort_order="Ascending")["PipelineVersionSummaries"]
    assert [v["PipelineVersionId"] for v in versions] == [1, 2]
    assert '"pass"' in second.describe(pipeline_version_id=1)["PipelineDefinition"]
    assert '"fail"' in second.describe()["PipelineDefinition"]

    # Version 1 (Mode "pass"), with v3's per-execution options.
    passing = second.start(
        pipeline_version_id=1,
        execution_display_name="from-version-1",
        parallelism_config=ParallelismConfiguration(max_parallel_execution_steps=1),
        mlflow_experiment_name="checks-rerun",
    )
    passing.wait(delay=1, max_attempts=300)
    described = passing.describe()
    assert described["PipelineExecutionStatus"] == "Succeeded"
    assert described["PipelineVersionId"] == 1
    assert described["PipelineExecutionDisplayName"] == "from-version-1"
    assert described["ParallelismConfiguration"] == {"MaxParallelExecutionSteps": 1}
    assert described["MLflowConfig"] == {
        "MlflowResourceArn": first.mlflow_config.mlflow_resource_arn,
        "MlflowExperimentName": "checks-rerun",
    }
    steps = _steps(passing)
    assert steps["Check"]["StepStatus"] == "Succeeded"
    assert "OnFailure" not in steps  # its trigger (Check failed) never fired

    # The latest version (Mode "fail"): the check fails, the failure trigger runs.
    failing = second.start()
    with pytest.raises(WaiterError):
        failing.wait(delay=1, max_attempts=300)
    described = failing.describe()
    assert described["PipelineExecutionStatus"] == "Failed"
    assert described["PipelineVersionId"] == 2
    assert described["MLflowConfig"]["MlflowExperimentName"] == "checks"
    steps = _steps(failing)
    assert steps["Check"]["StepStatus"] == "Failed"
    assert steps["OnFailure"]["Metadata"]["Fail"]["ErrorMessage"] == "the check failed"
    by_version = {
        v["PipelineVersionId"]: v.get("LastExecutionPipelineExecutionArn")
        for v in second.list_pipeline_versions()["PipelineVersionSummaries"]
    }
    assert by_version == {1: passing.arn, 2: failing.arn}


def test_a_v3_tuning_step_and_a_model_of_its_best_job(v3, fast_polls, role, tmp_path):
    """v3's ``TuningStep`` from ``HyperparameterTuner.tune()`` over a ``ModelTrainer``,
    and a ``ModelStep`` on ``get_top_model_s3_uri(0, …)``: the best job's artifacts."""
    from sagemaker.core import image_uris
    from sagemaker.core.parameter import ContinuousParameter
    from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import TuningStep
    from sagemaker.serve.model_builder import ModelBuilder
    from sagemaker.train import ModelTrainer
    from sagemaker.train.tuner import HyperparameterTuner

    sess = PipelineSession()
    bucket = sess.default_bucket()
    uris = {}
    for name, seed in (("train", 5), ("validation", 6)):
        x, y = dataset(200, seed=seed)
        (tmp_path / name).mkdir()
        write_csv(tmp_path / name / f"{name}.csv", x, y)
        uris[name] = sess.upload_data(str(tmp_path / name), bucket, f"tune-v3/{name}")
    image = image_uris.retrieve("xgboost", region=sess.boto_region_name, version="1.7-1")
    trainer = ModelTrainer(
        training_image=image,
        role=role,
        compute=Compute(instance_type=INSTANCE, instance_count=1),
        hyperparameters={"objective": "binary:logistic", "eval_metric": "auc", "num_round": 10},
        output_data_config=OutputDataConfig(s3_output_path=f"s3://{bucket}/tune-v3/out"),
        sagemaker_session=sess,
    )
    tuner = HyperparameterTuner(
        trainer,
        "validation:auc",
        {"eta": ContinuousParameter(0.05, 0.5)},
        strategy="Random",
        objective_type="Maximize",
        max_jobs=2,
        max_parallel_jobs=2,
        random_seed=3,
    )
    tune = TuningStep(
        name="Tune",
        step_args=tuner.tune(
            inputs=[
                InputData(channel_name=c, data_source=uris[c], content_type="text/csv")
                for c in ("train", "validation")
            ]
        ),
    )
    best = ModelBuilder(
        s3_model_data_url=tune.get_top_model_s3_uri(
            top_k=0, s3_bucket=bucket, prefix="tune-v3/out"
        ),
        image_uri=image,
        sagemaker_session=sess,
        role_arn=role,
    )
    create = ModelStep(name="BestModel", step_args=best.build())
    pipeline = Pipeline(name="tune-v3", steps=[tune, create], sagemaker_session=sess)
    pipeline.upsert(role_arn=role)
    execution = pipeline.start()
    execution.wait(delay=1, max_attempts=300)
    assert execution.describe()["PipelineExecutionStatus"] == "Succeeded"
    steps = _steps(execution)
    sm = sess.sagemaker_client
    tuning = sm.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=steps["Tune"]["Metadata"]["TuningJob"]["Arn"].rsplit("/")[-1]
    )
    assert tuning["HyperParameterTuningJobStatus"] == "Completed"
    winner = sm.describe_training_job(TrainingJobName=tuning["BestTrainingJob"]["TrainingJobName"])
    model = sm.describe_model(
        ModelName=steps["BestModel"]["Metadata"]["Model"]["Arn"].rsplit("/", 1)[1]
    )
    assert model["PrimaryContainer"]["ModelDataUrl"] == winner["ModelArtifacts"]["S3ModelArtifacts"]
