"""Pipeline definitions written by the official SDK v3's pipelines (sagemaker-mlops),
unmodified, read by simsage.pipelines: a ``ScriptProcessor`` step with a property file
and a cache, a ConditionStep on a JsonGet with a FailStep, and a step that runs only when
the evaluation fails (v3's ``StepDependency``, written as ``{"Step": …, "Trigger":
"Failed"}``); the definition carries v3's ``MlflowConfig``.

Needs sagemaker-mlops in the v3 environment; without it the module is skipped.
"""

from __future__ import annotations

import importlib.util

import pytest

# Only looked up here: importing sagemaker.mlops creates a boto3 client at import time
# (sagemaker.ai_registry), which needs simsage active (the ``v3`` fixture) for its region.
if importlib.util.find_spec("sagemaker") is None or (
    importlib.util.find_spec("sagemaker.mlops") is None
):
    pytest.skip("needs sagemaker-mlops (the SDK v3's pipelines)", allow_module_level=True)

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def test_a_v3_definition_is_read_with_its_trigger_and_condition(v3, role, tmp_path):
    from sagemaker.core.processing import ScriptProcessor
    from sagemaker.core.shapes import ProcessingOutput, ProcessingS3Output
    from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import ParameterFloat
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.step_dependency import StepDependency, TriggerCondition
    from sagemaker.mlops.workflow.steps import CacheConfig, ProcessingStep

    from simsage.pipelines.definition import Gate, parse_definition
    from simsage.pipelines.expressions import Context, evaluate_conditions

    sess = PipelineSession()
    bucket = sess.default_bucket()
    script = tmp_path / "evaluate.py"
    script.write_text("print('evaluate')\n")
    threshold = ParameterFloat("AucThreshold", default_value=0.7)
    processor = ScriptProcessor(
        role=role,
        image_uri=IMAGE,
        command=["python3"],
        instance_count=1,
        instance_type="ml.m5.large",
        sagemaker_session=sess,
    )
    report = PropertyFile(name="Report", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        name="Evaluate",
        step_args=processor.run(
            code=str(script),
            outputs=[
                ProcessingOutput(
                    output_name="evaluation",
                    s3_output=ProcessingS3Output(
                        s3_uri=f"s3://{bucket}/evaluation",
                        local_path="/opt/ml/processing/evaluation",
                        s3_upload_mode="EndOfJob",
                    ),
                )
            ],
        ),
        property_files=[report],
        cache_config=CacheConfig(enable_caching=True, expire_after="PT1H"),
    )
    too_low = FailStep(name="TooLow", error_message=Join(on=" ", values=["AUC below", threshold]))
    check = ConditionStep(
        name="CheckAuc",
        conditions=[
            ConditionGreaterThanOrEqualTo(
                left=JsonGet(step_name="Evaluate", property_file=report, json_path="auc"),
                right=threshold,
            )
        ],
        else_steps=[too_low],
    )
    on_failure = FailStep(
        name="OnFailure",
        error_message="the evaluation failed",
        depends_on=[StepDependency(evaluate, TriggerCondition.FAILED)],
    )
    pipeline = Pipeline(
        name="V3Evaluation",
        parameters=[threshold],
        steps=[evaluate, check, on_failure],
        sagemaker_session=sess,
    )

    definition = parse_definition(pipeline.definition())
    assert definition.mlflow_config is None
    assert {n: s.type for n, s in definition.steps.items()} == {
        "Evaluate": "Processing",
        "CheckAuc": "Condition",
        "TooLow": "Fail",
        "OnFailure": "Fail",
    }
    assert definition.steps["OnFailure"].triggers == {"Evaluate": "Failed"}
    assert definition.steps["Evaluate"].cache_config.expire_after == "PT1H"
    dag = definition.graph()
    assert dag.nodes["TooLow"].gate == Gate("CheckAuc", False)
    assert dag.plan({"Evaluate": "Failed"}, {}).ready == ("OnFailure",)
    plan = dag.plan({"Evaluate": "Succeeded"}, {})
    assert plan.ready == ("CheckAuc",)
    assert plan.unreachable == ("OnFailure",)

    context = Context(
        parameters=definition.parameter_values({}),
        steps={"Evaluate": {}},
        read_property_file=lambda step, name: {"auc": 0.75},
    )
    assert evaluate_conditions(list(definition.steps["CheckAuc"].conditions), context)
