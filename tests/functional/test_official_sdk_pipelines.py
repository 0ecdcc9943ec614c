"""The official SDK v2's ``sagemaker.workflow``, unmodified, runs a pipeline end to end:
preprocess (SKLearnProcessor with ``code=``), train (built-in XGBoost), evaluate (a
processing step writing ``evaluation.json``, a PropertyFile), a ConditionStep on the AUC
(JsonGet) that creates and registers the model (ModelStep) or fails (FailStep), with
``CacheConfig`` — through ``pipeline.upsert()``, ``pipeline.start()``,
``execution.wait()``, ``execution.list_steps()`` and ``describe()``, as a notebook runs
it on AWS. The second execution reuses the cached steps; a threshold no model reaches
ends in the Fail step."""

from __future__ import annotations

import pytest
from botocore.exceptions import WaiterError
from sdk_helpers import dataset, write_csv

sagemaker = pytest.importorskip("sagemaker")

from sagemaker import image_uris  # noqa: E402
from sagemaker.estimator import Estimator  # noqa: E402
from sagemaker.inputs import TrainingInput  # noqa: E402
from sagemaker.model import Model  # noqa: E402
from sagemaker.processing import ProcessingInput, ProcessingOutput  # noqa: E402
from sagemaker.sklearn.processing import SKLearnProcessor  # noqa: E402
from sagemaker.workflow.condition_step import ConditionStep  # noqa: E402
from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo  # noqa: E402
from sagemaker.workflow.fail_step import FailStep  # noqa: E402
from sagemaker.workflow.functions import Join, JsonGet  # noqa: E402
from sagemaker.workflow.model_step import ModelStep  # noqa: E402
from sagemaker.workflow.parameters import ParameterFloat  # noqa: E402
from sagemaker.workflow.pipeline import Pipeline  # noqa: E402
from sagemaker.workflow.pipeline_context import PipelineSession  # noqa: E402
from sagemaker.workflow.properties import PropertyFile  # noqa: E402
from sagemaker.workflow.steps import CacheConfig, ProcessingStep, TrainingStep  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
INSTANCE = "ml.m5.large"

PREPROCESS = """
import os
import numpy as np
rows = np.loadtxt("/opt/ml/processing/input/raw.csv", delimiter=",")
for name, part in (("train", rows[:300]), ("validation", rows[300:])):
    os.makedirs(f"/opt/ml/processing/{name}", exist_ok=True)
    np.savetxt(f"/opt/ml/processing/{name}/{name}.csv", part, delimiter=",", fmt="%.5f")
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


def build_pipeline(sess, tmp_path) -> Pipeline:
    bucket = sess.default_bucket()
    x, y = dataset(400, seed=4)
    (tmp_path / "raw").mkdir()
    write_csv(tmp_path / "raw" / "raw.csv", x, y)
    raw = sess.upload_data(str(tmp_path / "raw"), bucket, "churn/raw")
    (tmp_path / "preprocess.py").write_text(PREPROCESS)
    (tmp_path / "evaluate.py").write_text(EVALUATE)

    threshold = ParameterFloat("AucThreshold", default_value=0.7)
    cache = CacheConfig(enable_caching=True, expire_after="P30D")
    processor = SKLearnProcessor(
        framework_version="1.2-1",
        role=ROLE,
        instance_type=INSTANCE,
        instance_count=1,
        sagemaker_session=sess,
    )
    preprocess = ProcessingStep(
        "Preprocess",
        step_args=processor.run(
            code=str(tmp_path / "preprocess.py"),
            inputs=[ProcessingInput(source=raw, destination="/opt/ml/processing/input")],
            outputs=[
                ProcessingOutput(output_name="train", source="/opt/ml/processing/train"),
                ProcessingOutput(output_name="validation", source="/opt/ml/processing/validation"),
            ],
        ),
        cache_config=cache,
    )
    outputs = preprocess.properties.ProcessingOutputConfig.Outputs
    image = image_uris.retrieve("xgboost", sess.boto_region_name, "1.7-1")
    estimator = Estimator(
        image_uri=image,
        role=ROLE,
        instance_type=INSTANCE,
        instance_count=1,
        output_path=f"s3://{bucket}/churn/models",
        hyperparameters={"objective": "binary:logistic", "num_round": 20},
        sagemaker_session=sess,
    )
    train = TrainingStep(
        "Train",
        step_args=estimator.fit(
            {"train": TrainingInput(outputs["train"].S3Output.S3Uri, content_type="text/csv")}
        ),
        cache_config=cache,
    )
    report = PropertyFile(name="Evaluation", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        "Evaluate",
        step_args=processor.run(
            code=str(tmp_path / "evaluate.py"),
            inputs=[
                ProcessingInput(
                    source=train.properties.ModelArtifacts.S3ModelArtifacts,
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
        cache_config=cache,
    )
    model = Model(
        image_uri=image,
        model_data=train.properties.ModelArtifacts.S3ModelArtifacts,
        role=ROLE,
        sagemaker_session=sess,
    )
    create = ModelStep("Create", step_args=model.create(instance_type=INSTANCE))
    register = ModelStep(
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
    too_low = FailStep("AucTooLow", error_message=Join(on=" ", values=["AUC below", threshold]))
    check = ConditionStep(
        "CheckAuc",
        conditions=[
            ConditionGreaterThanOrEqualTo(
                left=JsonGet(
                    step_name=evaluate.name, property_file=report, json_path="metrics.auc.value"
                ),
                right=threshold,
            )
        ],
        if_steps=[create, register],
        else_steps=[too_low],
    )
    return Pipeline(
        "Churn",
        parameters=[threshold],
        steps=[preprocess, train, evaluate, check],
        sagemaker_session=sess,
    )


def _steps(execution) -> dict[str, dict]:
    return {s["StepName"]: s for s in execution.list_steps()}


def test_pipeline_runs_caches_and_fails_as_on_aws(
    simsage_local, isolated_sdk, fast_sdk_polls, tmp_path
):
    sess = PipelineSession()
    pipeline = build_pipeline(sess, tmp_path)
    created = pipeline.upsert(role_arn=ROLE)
    assert created["PipelineArn"].endswith(":pipeline/churn")
    assert pipeline.upsert(role_arn=ROLE)["PipelineArn"] == created["PipelineArn"]  # update

    first = pipeline.start()
    first.wait(delay=1, max_attempts=300)
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
    training = steps["Train"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[-1]
    artifacts = sm.describe_training_job(TrainingJobName=training)["ModelArtifacts"]
    container = described["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == artifacts["S3ModelArtifacts"]

    second = pipeline.start()
    second.wait(delay=1, max_attempts=300)
    again = _steps(second)
    for name in ("Preprocess", "Train", "Evaluate"):
        assert again[name]["CacheHitResult"]["SourcePipelineExecutionArn"] == first.arn
        assert again[name]["Metadata"] == steps[name]["Metadata"]
    assert again["Register-RegisterModel"]["Metadata"]["RegisterModel"]["Arn"].endswith("/2")

    unreachable = pipeline.start(parameters={"AucThreshold": 1.01})
    with pytest.raises(WaiterError):
        unreachable.wait(delay=1, max_attempts=300)
    assert unreachable.describe()["PipelineExecutionStatus"] == "Failed"
    failed = _steps(unreachable)
    assert failed["AucTooLow"]["FailureReason"] == "AUC below 1.01"
    assert "Register-RegisterModel" not in failed
    parameters = sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=unreachable.arn)
    assert parameters["PipelineParameters"] == [{"Name": "AucThreshold", "Value": "1.01"}]
    executions = pipeline.list_executions()["PipelineExecutionSummaries"]
    assert len(executions) == 3
