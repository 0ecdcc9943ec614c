"""simsage.sdk.workflow's pure pieces write what the official SDK v2's
``sagemaker.workflow`` writes: parameters, execution variables, ``Join``, ``JsonGet``,
property paths, conditions, retry policies, ``CacheConfig`` and the Fail step; a
pipeline variable refuses to become text, and a pipeline refuses two steps of one
name. (tests/functional/test_sdk_pipeline_workflow.py compares whole definitions and runs one.)
"""

from __future__ import annotations

import importlib
import json

import pytest
from sdk_helpers import official_sdk_v2

from simsage.sdk.workflow import conditions as ours_conditions
from simsage.sdk.workflow import execution_variables as ours_execution
from simsage.sdk.workflow import functions as ours_functions
from simsage.sdk.workflow import parameters as ours_parameters
from simsage.sdk.workflow import retry as ours_retry
from simsage.sdk.workflow.condition_step import ConditionStep
from simsage.sdk.workflow.fail_step import FailStep
from simsage.sdk.workflow.pipeline import Pipeline
from simsage.sdk.workflow.properties import Properties, PropertyFile
from simsage.sdk.workflow.steps import CacheConfig


def as_json(request):
    """A request as the definition writes it (the official SDK's requests hold the
    variables themselves, which its pipeline writes as their ``expr``)."""
    return json.loads(json.dumps(request, default=lambda variable: variable.expr))


@pytest.fixture
def official(monkeypatch, tmp_path):
    official_sdk_v2(monkeypatch, tmp_path)
    return lambda module: importlib.import_module(f"sagemaker.workflow.{module}")


def test_parameters_are_written_as_the_official_sdk_writes_them(official):
    def build(m):
        items = [
            m.ParameterString("Kind", default_value="a", enum_values=["a", "b"]),
            m.ParameterInteger("Count", default_value=2),
            m.ParameterFloat("Threshold", default_value=0.5),
            m.ParameterBoolean("Flag", default_value=True),
            m.ParameterString("NoDefault"),
        ]
        return [item.to_request() for item in items], [item.expr for item in items]

    ours = build(ours_parameters)
    assert ours == build(official("parameters"))
    assert ours[1][0] == {"Get": "Parameters.Kind"}
    with pytest.raises(TypeError, match="Count"):
        ours_parameters.ParameterInteger("Count", default_value="2")


def test_execution_variables_join_and_json_get_match(official):
    for name in ("START_DATETIME", "PIPELINE_NAME", "PIPELINE_EXECUTION_ID", "PIPELINE_ARN"):
        ours = getattr(ours_execution.ExecutionVariables, name).expr
        assert ours == getattr(official("execution_variables").ExecutionVariables, name).expr
    join = ours_functions.Join(
        on="/", values=["s3:/", "bucket", ours_execution.ExecutionVariables.PIPELINE_EXECUTION_ID]
    )
    official_join = official("functions").Join(
        on="/",
        values=[
            "s3:/",
            "bucket",
            official("execution_variables").ExecutionVariables.PIPELINE_EXECUTION_ID,
        ],
    )
    assert join.expr == official_join.expr
    report = PropertyFile(name="Evaluation", output_name="evaluation", path="evaluation.json")
    theirs_report = official("properties").PropertyFile(
        name="Evaluation", output_name="evaluation", path="evaluation.json"
    )
    assert report.expr == theirs_report.expr
    ours_get = ours_functions.JsonGet(step_name="Eval", property_file=report, json_path="a.b")
    theirs_get = official("functions").JsonGet(
        step_name="Eval", property_file=theirs_report, json_path="a.b"
    )
    assert ours_get.expr == theirs_get.expr
    by_name = ours_functions.JsonGet(step_name="Eval", property_file="Evaluation", json_path="a.b")
    assert by_name.expr == ours_get.expr


def test_property_paths_read_as_the_sdk_writes_them(official):
    outputs = Properties("Steps.Prep").ProcessingOutputConfig.Outputs
    assert outputs["train"].S3Output.S3Uri.expr == {
        "Get": "Steps.Prep.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"
    }
    assert outputs[0].OutputName.expr == {
        "Get": "Steps.Prep.ProcessingOutputConfig.Outputs[0].OutputName"
    }
    # Only API member names extend a path, so probes such as copy's stay plain attributes.
    with pytest.raises(AttributeError):
        outputs.s3_uri  # noqa: B018
    assert not hasattr(outputs, "__deepcopy_hook__")


def test_pipeline_variables_do_not_become_text():
    threshold = ours_parameters.ParameterFloat("Threshold", default_value=0.5)
    with pytest.raises(TypeError, match="to_string"):
        str(threshold)
    with pytest.raises(TypeError, match="Join"):
        threshold + "x"  # noqa: B018
    assert threshold.to_string().expr == {
        "Std:Join": {"On": "", "Values": [{"Get": "Parameters.Threshold"}]}
    }


def test_conditions_match(official):
    def build(m, p):
        count = p.ParameterInteger("Count", default_value=1)
        kind = p.ParameterString("Kind", default_value="a")
        items = [
            m.ConditionEquals(left=count, right=3),
            m.ConditionGreaterThan(left=count, right=1),
            m.ConditionGreaterThanOrEqualTo(left=count, right=1),
            m.ConditionLessThan(left=count, right=1),
            m.ConditionLessThanOrEqualTo(left=count, right=1.5),
            m.ConditionIn(value=kind, in_values=["a", "b"]),
            m.ConditionNot(expression=m.ConditionEquals(left=kind, right="c")),
            m.ConditionOr(
                conditions=[m.ConditionEquals(left=count, right=2), m.ConditionIn(kind, ["b"])]
            ),
        ]
        return [as_json(item.to_request()) for item in items]

    ours = build(ours_conditions, ours_parameters)
    theirs = build(official("conditions"), official("parameters"))
    assert ours == theirs


def test_retry_policies_and_cache_config_match(official):
    def build(m):
        return [
            m.StepRetryPolicy(
                exception_types=[m.StepExceptionTypeEnum.SERVICE_FAULT], max_attempts=3
            ).to_request(),
            m.StepRetryPolicy(
                exception_types=[m.StepExceptionTypeEnum.THROTTLING],
                interval_seconds=5,
                backoff_rate=1.5,
                expire_after_mins=10,
            ).to_request(),
            m.SageMakerJobStepRetryPolicy(
                exception_types=[m.SageMakerJobExceptionTypeEnum.CAPACITY_ERROR], max_attempts=2
            ).to_request(),
        ]

    ours = build(ours_retry)
    theirs = build(official("retry"))
    assert ours == theirs
    with pytest.raises(ValueError, match="Only one of"):
        ours_retry.StepRetryPolicy(exception_types=[]).to_request()
    theirs_cache = official("steps").CacheConfig(enable_caching=True, expire_after="P1D")
    assert CacheConfig(enable_caching=True, expire_after="P1D").config == theirs_cache.config


def test_condition_and_fail_steps_match(official):
    ours_step = ConditionStep(
        "Check",
        conditions=[
            ours_conditions.ConditionGreaterThan(
                left=ours_parameters.ParameterFloat("Threshold", default_value=0.5), right=0.3
            )
        ],
        if_steps=[FailStep("Empty")],
        else_steps=[
            FailStep(
                "TooLow",
                error_message=ours_functions.Join(
                    on=" ", values=["below", ours_parameters.ParameterFloat("Threshold")]
                ),
            )
        ],
        depends_on=["Train"],
    )
    c, f, fn, p = (
        official(name) for name in ("conditions", "fail_step", "functions", "parameters")
    )
    theirs_step = official("condition_step").ConditionStep(
        "Check",
        conditions=[c.ConditionGreaterThan(left=p.ParameterFloat("Threshold"), right=0.3)],
        if_steps=[f.FailStep("Empty")],
        else_steps=[
            f.FailStep(
                "TooLow",
                error_message=fn.Join(on=" ", values=["below", p.ParameterFloat("Threshold")]),
            )
        ],
        depends_on=["Train"],
    )
    assert ours_step.to_request("P") == as_json(theirs_step.to_request())
    assert ours_step.properties.Outcome.expr == {"Get": "Steps.Check.Outcome"}


def test_a_pipeline_refuses_two_steps_of_one_name():
    pipeline = Pipeline(
        "P",
        steps=[
            ConditionStep("Check", if_steps=[FailStep("Stop")], else_steps=[FailStep("Stop")]),
        ],
    )
    with pytest.raises(ValueError, match="two steps named 'Stop'"):
        pipeline.definition()
    threshold = ours_parameters.ParameterFloat("T", default_value=0.1)
    twice = Pipeline("P", parameters=[threshold, threshold], steps=[FailStep("Stop")])
    with pytest.raises(ValueError, match="two parameters named 'T'"):
        twice.definition()
    no_config = Pipeline("P", steps=[FailStep("Stop")], pipeline_experiment_config=None)
    assert "PipelineExperimentConfig" not in json.loads(no_config.definition())
