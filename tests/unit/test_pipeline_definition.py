"""Pipeline definitions: what CreatePipeline accepts and refuses, and the graph an
execution runs (simsage.pipelines.definition). Definitions written by the official SDK
are checked in tests/functional/test_pipeline_sdk_definitions.py; these are hand-written,
small, one problem each."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from simsage.errors import ValidationException
from simsage.pipelines.definition import (
    Gate,
    PipelineDefinitionError,
    parse_definition,
)
from simsage.pipelines.expressions import ExpressionError

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def processing(name, outputs=("train",), **extra):
    return {
        "Name": name,
        "Type": "Processing",
        "Arguments": {
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceType": "ml.m5.large",
                    "InstanceCount": 1,
                    "VolumeSizeInGB": 30,
                }
            },
            "AppSpecification": {"ImageUri": "image"},
            "RoleArn": ROLE,
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": o,
                        "S3Output": {
                            "S3Uri": f"s3://bucket/{o}",
                            "LocalPath": f"/opt/ml/processing/{o}",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                    for o in outputs
                ]
            },
        },
        **extra,
    }


def training(name, data=None, **extra):
    return {
        "Name": name,
        "Type": "Training",
        "Arguments": {
            "AlgorithmSpecification": {"TrainingImage": "xgboost", "TrainingInputMode": "File"},
            "RoleArn": ROLE,
            "OutputDataConfig": {"S3OutputPath": "s3://bucket/models"},
            "ResourceConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 30,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": data or "s3://bucket/train",
                        }
                    },
                }
            ],
        },
        **extra,
    }


def definition(*steps, parameters=()):
    return {"Version": "2020-12-01", "Parameters": list(parameters), "Steps": list(steps)}


def refused(doc) -> PipelineDefinitionError:
    with pytest.raises(PipelineDefinitionError) as info:
        parse_definition(json.dumps(doc) if isinstance(doc, dict) else doc)
    assert isinstance(info.value, ValidationException)
    assert info.value.code == "ValidationException"
    return info.value


TRAIN_URI = {"Get": "Steps.Prep.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"}


# -- what is accepted ---------------------------------------------------------------------


def test_a_chain_by_data_reference_and_depends_on():
    doc = definition(
        processing("Prep"),
        training("Train", data=TRAIN_URI),
        processing("Report", outputs=("report",), DependsOn=["Train"]),
    )
    dag = parse_definition(json.dumps(doc)).graph()
    assert dag.order == ("Prep", "Train", "Report")
    assert dag.nodes["Train"].prerequisites == {"Prep"}
    assert dag.nodes["Train"].data_dependencies == {"Prep"}
    assert dag.nodes["Report"].prerequisites == {"Train"}
    assert dag.nodes["Report"].data_dependencies == frozenset()
    assert dag.dependents("Prep") == ("Train",)


def test_independent_steps_share_a_layer_in_definition_order():
    doc = definition(
        training("B", data=TRAIN_URI),
        processing("Prep"),
        training("A", data=TRAIN_URI),
    )
    dag = parse_definition(doc).graph()
    assert dag.layers == (("Prep",), ("B", "A"))


def test_condition_branches_gate_their_steps():
    doc = definition(
        processing("Prep"),
        {
            "Name": "Check",
            "Type": "Condition",
            "Arguments": {
                "Conditions": [
                    {"Type": "Equals", "LeftValue": {"Get": TRAIN_URI["Get"]}, "RightValue": "x"}
                ],
                "IfSteps": [training("Train", data=TRAIN_URI)],
                "ElseSteps": [
                    {"Name": "Stop", "Type": "Fail", "Arguments": {"ErrorMessage": "no"}}
                ],
            },
        },
    )
    parsed = parse_definition(doc)
    dag = parsed.graph()
    assert dag.nodes["Check"].prerequisites == {"Prep"}
    assert dag.nodes["Train"].prerequisites == {"Check", "Prep"}
    assert dag.nodes["Train"].gate == Gate("Check", True)
    assert dag.nodes["Stop"].gate == Gate("Check", False)
    assert parsed.steps["Check"].if_steps == ("Train",)
    assert parsed.steps["Check"].else_steps == ("Stop",)
    assert parsed.steps["Check"].arguments == {
        "Conditions": doc["Steps"][1]["Arguments"]["Conditions"]
    }
    assert parsed.top_level == ("Prep", "Check")
    assert parsed.steps["Stop"].error_message == "no"


def test_plan_runs_the_chosen_branch_and_drops_the_other():
    doc = definition(
        {
            "Name": "Check",
            "Type": "Condition",
            "Arguments": {
                "Conditions": [{"Type": "Equals", "LeftValue": 1, "RightValue": 1}],
                "IfSteps": [processing("Yes")],
                "ElseSteps": [processing("No")],
            },
        },
        training("After", DependsOn=["No"]),
    )
    dag = parse_definition(doc).graph()
    assert dag.plan({}, {}).ready == ("Check",)
    assert dag.plan({"Check": "Executing"}, {}).ready == ()
    plan = dag.plan({"Check": "Succeeded"}, {"Check": True})
    assert plan.ready == ("Yes",)
    assert plan.unreachable == ("No", "After")
    plan = dag.plan({"Check": "Succeeded"}, {"Check": False})
    assert plan.ready == ("No",)
    assert dag.plan({"Check": "Succeeded", "No": "Succeeded"}, {"Check": False}).ready == ("After",)


def test_plan_after_a_failure_drops_what_depends_on_it_only():
    doc = definition(processing("A"), processing("B"), training("C", DependsOn=["A"]))
    dag = parse_definition(doc).graph()
    assert dag.plan({}, {}).ready == ("A", "B")
    plan = dag.plan({"A": "Failed", "B": "Executing"}, {})
    assert plan == type(plan)(ready=(), unreachable=("C",))
    assert dag.plan({"A": "Stopped"}, {}).unreachable == ("C",)


def test_parameters_defaults_and_start_values_are_typed():
    doc = definition(
        parameters=[
            {"Name": "Kind", "Type": "String", "DefaultValue": "a", "EnumValues": ["a", "b"]},
            {"Name": "Count", "Type": "Integer", "DefaultValue": 1},
            {"Name": "Threshold", "Type": "Float", "DefaultValue": 1},
            {"Name": "Flag", "Type": "Boolean", "DefaultValue": False},
            {"Name": "Input", "Type": "String"},
        ]
    )
    parsed = parse_definition(doc)
    assert parsed.parameters["Threshold"].default == 1.0
    values = parsed.parameter_values([{"Name": "Input", "Value": "s3://x"}])
    assert values == {"Kind": "a", "Count": 1, "Threshold": 1.0, "Flag": False, "Input": "s3://x"}
    values = parsed.parameter_values(
        {"Input": "s3://y", "Count": "3", "Threshold": "0.25", "Flag": "True", "Kind": "b"}
    )
    assert values == {"Kind": "b", "Count": 3, "Threshold": 0.25, "Flag": True, "Input": "s3://y"}
    assert type(values["Count"]) is int


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ({"Input": "x", "Count": "many"}, "'Count' is of type Integer; 'many' is not an Integer"),
        ({"Input": "x", "Count": "1.5"}, "not an Integer value"),
        ({"Input": "x", "Threshold": "high"}, "'Threshold' is of type Float"),
        ({"Input": "x", "Flag": "yes"}, "'true' or 'false'"),
        ({"Input": "x", "Kind": "c"}, "'Kind' must be one of a, b; got 'c'"),
        ({"Input": "x", "Other": "1"}, "Parameter Other is not defined in the pipeline"),
        ({}, "'Input' has no default value; pass a value"),
    ],
)
def test_start_values_that_do_not_fit_are_refused(given, words):
    doc = definition(
        parameters=[
            {"Name": "Kind", "Type": "String", "DefaultValue": "a", "EnumValues": ["a", "b"]},
            {"Name": "Count", "Type": "Integer", "DefaultValue": 1},
            {"Name": "Threshold", "Type": "Float", "DefaultValue": 0.5},
            {"Name": "Flag", "Type": "Boolean", "DefaultValue": False},
            {"Name": "Input", "Type": "String"},
        ]
    )
    with pytest.raises(ValidationException) as info:
        parse_definition(doc).parameter_values(given)
    assert words in info.value.message


def test_cache_config_and_retry_policies_are_parsed():
    step = processing(
        "Prep",
        CacheConfig={"Enabled": True, "ExpireAfter": "P1DT12H"},
        RetryPolicies=[
            {
                "ExceptionType": ["Step.SERVICE_FAULT", "SageMaker.CAPACITY_ERROR"],
                "IntervalSeconds": 5,
                "BackoffRate": 1.5,
                "MaxAttempts": 3,
            }
        ],
    )
    parsed = parse_definition(definition(step)).steps["Prep"]
    assert parsed.cache_config.enabled is True
    assert parsed.cache_config.expire_after == "P1DT12H"
    assert parsed.cache_config.expire_after_delta == timedelta(days=1, hours=12)
    (policy,) = parsed.retry_policies
    assert policy.exception_types == ("Step.SERVICE_FAULT", "SageMaker.CAPACITY_ERROR")
    assert (policy.interval_seconds, policy.backoff_rate, policy.max_attempts) == (5, 1.5, 3)
    assert policy.expire_after_min is None


def test_a_definition_is_never_changed_by_parsing():
    doc = definition(processing("Prep"), training("Train", data=TRAIN_URI))
    before = json.dumps(doc, sort_keys=True)
    parsed = parse_definition(doc)
    assert json.dumps(doc, sort_keys=True) == before
    assert parsed.document == doc and parsed.document is not doc


# -- what is refused ----------------------------------------------------------------------


def test_not_json():
    err = refused("{not json")
    assert err.message.startswith(
        "Unable to parse pipeline definition. The definition is not valid JSON"
    )


def test_not_an_object():
    assert refused("[1, 2]").message == (
        "Unable to parse pipeline definition. Expecting start of Json Object."
    )


def test_wrong_version():
    err = refused({"Version": "2019-01-01", "Steps": []})
    assert "Version must be '2020-12-01'" in err.message


def test_unknown_property_is_named():
    err = refused({**definition(processing("Prep")), "Extra": 1})
    assert err.message == (
        "Unable to parse pipeline definition. Cannot parse object, unknown property 'Extra' "
        "in the definition."
    )
    err = refused(definition(processing("Prep", Expression=1)))
    assert "unknown property 'Expression' in step 'Prep'" in err.message


@pytest.mark.parametrize(
    "kind", ["Lambda", "EMR", "Callback", "ClarifyCheck", "QualityCheck", "AutoML"]
)
def test_step_types_simsage_does_not_run_are_named(kind):
    err = refused(definition(processing("Prep"), {"Name": "Other", "Type": kind, "Arguments": {}}))
    assert f"step 'Other' is a {kind} step, which simsage does not run" in err.message
    assert "SIMSAGE_BACKEND=aws" in err.message


def test_a_step_type_nobody_knows():
    err = refused(definition({"Name": "X", "Type": "Magic", "Arguments": {}}))
    assert "step 'X' has unknown Type 'Magic'; a step's Type is one of Processing" in err.message


def test_a_step_type_inside_a_branch_is_checked_too():
    cond = {
        "Name": "Check",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [],
            "IfSteps": [{"Name": "L", "Type": "Lambda", "Arguments": {}}],
        },
    }
    assert "step 'L' is a Lambda step" in refused(definition(cond)).message


def test_duplicate_step_names():
    err = refused(definition(processing("Prep"), processing("Prep")))
    assert "step name 'Prep' is used by more than one step" in err.message


def test_depends_on_a_missing_step():
    err = refused(definition(processing("Prep", DependsOn=["Nope"])))
    assert err.message == (
        "Invalid pipeline definition: step 'Prep': DependsOn names step 'Nope', which is not "
        "in the pipeline."
    )


def test_get_of_a_missing_step():
    err = refused(definition(training("Train", data=TRAIN_URI)))
    assert "step 'Train' refers to step 'Prep'" in err.message
    assert "which is not in the pipeline" in err.message


def test_get_of_a_property_the_job_does_not_have():
    bad = {"Get": "Steps.Prep.ProcessingOutputConfig.Output['train'].S3Output.S3Uri"}
    err = refused(definition(processing("Prep"), training("Train", data=bad)))
    assert "ProcessingOutputConfig.Output: ProcessingOutputConfig has no .Output" in err.message
    assert "its members are KmsKeyId, Outputs" in err.message


def test_get_of_a_property_at_the_top_lists_the_members():
    bad = {"Get": "Steps.Prep.ModelArtifacts.S3ModelArtifacts"}
    err = refused(definition(processing("Prep"), training("Train", data=bad)))
    assert "a Processing step has no property 'ModelArtifacts'" in err.message
    assert "ProcessingOutputConfig" in err.message


def test_get_of_a_fail_or_condition_step():
    fail = {"Name": "Stop", "Type": "Fail", "Arguments": {"ErrorMessage": "x"}}
    err = refused(definition(fail, training("Train", data={"Get": "Steps.Stop.ErrorMessage"})))
    assert "a Fail step ends the execution and has no properties" in err.message
    cond = {"Name": "C", "Type": "Condition", "Arguments": {"Conditions": []}}
    err = refused(definition(cond, training("Train", data={"Get": "Steps.C.Result"})))
    assert "a Condition step's only property is Outcome" in err.message


def test_undefined_parameter():
    step = training("Train", data={"Get": "Parameters.InputData"})
    err = refused(definition(step, parameters=[{"Name": "Other", "Type": "String"}]))
    assert "step 'Train' refers to parameter 'InputData'" in err.message
    assert "not declared in Parameters (declared: Other)" in err.message


def test_unknown_execution_variable():
    err = refused(definition(training("Train", data={"Get": "Execution.StartTime"})))
    assert "'Execution.StartTime' is not an execution variable" in err.message


def test_unknown_function():
    err = refused(definition(training("Train", data={"Std:Concat": {"Values": []}})))
    assert "unknown function 'Std:Concat'; the functions are Std:Join, Std:JsonGet" in err.message


def test_json_get_of_an_undeclared_property_file():
    cond = {
        "Name": "C",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [
                {
                    "Type": "GreaterThan",
                    "LeftValue": {
                        "Std:JsonGet": {
                            "PropertyFile": {"Get": "Steps.Prep.PropertyFiles.Report"},
                            "Path": "auc",
                        }
                    },
                    "RightValue": 0.5,
                }
            ]
        },
    }
    err = refused(definition(processing("Prep"), cond))
    assert (
        "step 'Prep' declares no property file 'Report' (its property files: none)" in err.message
    )


def test_property_file_of_an_output_the_step_does_not_have():
    step = processing(
        "Prep",
        PropertyFiles=[{"PropertyFileName": "R", "OutputName": "eval", "FilePath": "e.json"}],
    )
    err = refused(definition(step))
    assert "names OutputName 'eval', which is not one of the step's outputs (train)" in err.message


def test_a_cycle_is_named():
    doc = definition(
        processing("A", DependsOn=["C"]),
        processing("B", DependsOn=["A"]),
        processing("C", DependsOn=["B"]),
    )
    err = refused(doc)
    assert "the steps depend on each other in a cycle:" in err.message
    cycle = err.message.split("cycle: ")[1].split(" (each step needs the next)")[0].split(" -> ")
    assert cycle[0] == cycle[-1] and sorted(cycle[:-1]) == ["A", "B", "C"]
    # each arrow points from a step to the one it needs
    needs = {"A": "C", "B": "A", "C": "B"}
    assert all(needs[step] == needed for step, needed in zip(cycle, cycle[1:], strict=False))


def test_a_step_depending_on_itself():
    err = refused(definition(processing("A", DependsOn=["A"])))
    assert "step 'A' lists itself in DependsOn" in err.message


def test_a_step_needing_the_other_branch():
    cond = {
        "Name": "C",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [],
            "IfSteps": [processing("Prep")],
            "ElseSteps": [training("Train", data=TRAIN_URI)],
        },
    }
    err = refused(definition(cond))
    assert "different branches of Condition step 'C', so it could never run" in err.message


@pytest.mark.parametrize(
    ("parameter", "words"),
    [
        (
            {"Name": "N", "Type": "Integer", "DefaultValue": "two"},
            "'N' is of type Integer, but its DefaultValue 'two'",
        ),
        ({"Name": "N", "Type": "Float", "DefaultValue": True}, "is not a Float value"),
        ({"Name": "N", "Type": "String", "DefaultValue": 3}, "is not a String value"),
        ({"Name": "N", "Type": "Number"}, "Type 'Number' is not one of String, Integer"),
        (
            {"Name": "N", "Type": "String", "DefaultValue": "c", "EnumValues": ["a"]},
            "not one of its EnumValues",
        ),
    ],
)
def test_bad_parameter_declarations(parameter, words):
    assert words in refused(definition(parameters=[parameter])).message


def test_duplicate_parameter():
    p = {"Name": "N", "Type": "String"}
    assert (
        "parameter 'N' is declared more than once" in refused(definition(parameters=[p, p])).message
    )


def test_a_string_parameter_where_the_job_wants_an_integer():
    step = processing("Prep")
    step["Arguments"]["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = {
        "Get": "Parameters.Count"
    }
    err = refused(definition(step, parameters=[{"Name": "Count", "Type": "String"}]))
    assert (
        "step 'Prep': Arguments.ProcessingResources.ClusterConfig.InstanceCount takes an "
        "integer, but parameter 'Count' is a String; declare it as Integer"
    ) in err.message
    # an Integer parameter there is right, and a number where a string goes is written as text
    parse_definition(definition(step, parameters=[{"Name": "Count", "Type": "Integer"}]))
    env = processing("Prep")
    env["Arguments"]["Environment"] = {"N": {"Get": "Parameters.Count"}}
    parse_definition(definition(env, parameters=[{"Name": "Count", "Type": "Integer"}]))


@pytest.mark.parametrize(
    ("policy", "words"),
    [
        ({"ExceptionType": ["Step.OOPS"], "MaxAttempts": 2}, "unknown ExceptionType Step.OOPS"),
        ({"ExceptionType": ["Step.THROTTLING"]}, "exactly one of MaxAttempts and ExpireAfterMin"),
        (
            {"ExceptionType": ["Step.THROTTLING"], "MaxAttempts": 2, "ExpireAfterMin": 3},
            "exactly one of MaxAttempts and ExpireAfterMin",
        ),
        (
            {"ExceptionType": ["Step.THROTTLING"], "MaxAttempts": 0},
            "MaxAttempts must be a whole number from 1 to 20",
        ),
        (
            {"ExceptionType": ["Step.THROTTLING"], "MaxAttempts": 21},
            "MaxAttempts must be a whole number from 1 to 20",
        ),
        (
            {"ExceptionType": ["Step.THROTTLING"], "ExpireAfterMin": 14401},
            "ExpireAfterMin must be a whole number from 1 to 14400",
        ),
        (
            {"ExceptionType": ["Step.THROTTLING"], "MaxAttempts": 2, "IntervalSeconds": -1},
            "IntervalSeconds must be a whole number from 0 up",
        ),
        (
            {"ExceptionType": ["Step.THROTTLING"], "MaxAttempts": 2, "BackoffRate": "fast"},
            "BackoffRate must be a number of 0 or more",
        ),
    ],
)
def test_bad_retry_policies(policy, words):
    assert words in refused(definition(processing("Prep", RetryPolicies=[policy]))).message


def test_bad_cache_expiry():
    step = processing("Prep", CacheConfig={"Enabled": True, "ExpireAfter": "30 days"})
    assert "ExpireAfter '30 days' is not an ISO 8601 duration" in refused(definition(step)).message
    # a disabled cache's expiry is never used (the Pipelines guide: it is ignored)
    step["CacheConfig"]["Enabled"] = False
    parsed = parse_definition(definition(step)).steps["Prep"].cache_config
    assert (parsed.enabled, parsed.expire_after, parsed.expire_after_delta) == (
        False,
        "30 days",
        None,
    )


def test_bad_step_name():
    assert "a step Name is 1-64 letters" in refused(definition(processing("has space"))).message


def test_unknown_condition_type():
    cond = {
        "Name": "C",
        "Type": "Condition",
        "Arguments": {"Conditions": [{"Type": "Between", "LeftValue": 1, "RightValue": 2}]},
    }
    assert "unknown condition type 'Between'" in refused(definition(cond)).message


def test_every_problem_is_listed_at_once():
    doc = definition(
        processing("A", DependsOn=["Nope"]),
        training("B", data={"Get": "Parameters.Missing"}),
    )
    err = refused(doc)
    assert len(err.problems) == 2
    assert "'Nope'" in err.message and "'Missing'" in err.message


def test_property_file_reader_reads_the_file_under_the_output():
    step = processing(
        "Eval",
        outputs=("evaluation",),
        PropertyFiles=[
            {"PropertyFileName": "Report", "OutputName": "evaluation", "FilePath": "e/report.json"}
        ],
    )
    parsed = parse_definition(definition(step))
    answer = {
        "ProcessingOutputConfig": {
            "Outputs": [{"OutputName": "evaluation", "S3Output": {"S3Uri": "s3://b/out/"}}]
        }
    }
    objects = {"s3://b/out/e/report.json": {"auc": 0.9}}

    def read_s3_json(uri):
        if uri not in objects:
            raise KeyError(f"NoSuchKey {uri}")
        return objects[uri]

    reader = parsed.property_file_reader({"Eval": answer}.get, read_s3_json)
    assert reader("Eval", "Report") == {"auc": 0.9}
    with pytest.raises(ExpressionError, match="the step declares no such property file"):
        reader("Eval", "Other")
    objects.clear()
    with pytest.raises(ExpressionError) as info:
        reader("Eval", "Report")
    assert "property file 'Report' of step 'Eval' (e/report.json in output 'evaluation', " in (
        info.value.message
    )
    assert "s3://b/out/e/report.json) cannot be read: 'NoSuchKey" in info.value.message
    reader = parsed.property_file_reader({}.get, read_s3_json)
    with pytest.raises(ExpressionError, match="step 'Eval' has not succeeded"):
        reader("Eval", "Report")


def test_the_library_is_pure():
    """simsage.pipelines' library (definition, graph, checks, expressions, shapes,
    caching) reads JSON and botocore's model only: no store, runtime, transport or other
    concept, so the API (api.py, store.py) and the scheduler (runner.py) both build on it."""
    import ast
    from pathlib import Path

    import simsage.pipelines

    reached = set()
    service = {"api.py", "listing.py", "store.py", "runner.py"}
    for path in Path(simsage.pipelines.__file__).parent.glob("*.py"):
        if path.name in service:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            modules = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            reached.update(m for m in modules if m.startswith("simsage."))
    assert {m for m in reached if not m.startswith("simsage.pipelines")} == {"simsage.errors"}


def test_a_depends_on_trigger_runs_a_step_when_its_upstream_fails():
    """SDK v3's StepDependency writes {"Step": …, "Trigger": …}: the notification runs
    when training fails, and never when it succeeds."""
    doc = definition(
        training("Train"),
        processing("Notify", DependsOn=[{"Step": "Train", "Trigger": "Failed"}]),
        processing("Cleanup", outputs=("c",), DependsOn=[{"Step": "Train", "Trigger": "Any"}]),
        processing("Next", outputs=("n",), DependsOn=["Train"]),
    )
    parsed = parse_definition(doc)
    assert parsed.steps["Notify"].depends_on == ("Train",)
    assert parsed.steps["Notify"].triggers == {"Train": "Failed"}
    assert parsed.steps["Next"].triggers == {}
    dag = parsed.graph()
    assert dag.plan({"Train": "Executing"}, {}).ready == ()
    plan = dag.plan({"Train": "Failed"}, {})
    assert plan.ready == ("Notify", "Cleanup")
    assert plan.unreachable == ("Next",)
    plan = dag.plan({"Train": "Succeeded"}, {})
    assert plan.ready == ("Cleanup", "Next")
    assert plan.unreachable == ("Notify",)
    assert dag.plan({"Train": "Stopped"}, {}).ready == ("Cleanup",)


def test_a_trigger_on_a_step_whose_properties_are_read_is_refused():
    step = training("Train", data=TRAIN_URI, DependsOn=[{"Step": "Prep", "Trigger": "Failed"}])
    err = refused(definition(processing("Prep"), step))
    assert "step 'Train' reads properties of step 'Prep' but runs only when it ends Failed" in (
        err.message
    )


def test_a_bad_trigger_is_refused():
    step = processing("B", DependsOn=[{"Step": "A", "Trigger": "Succeeded"}])
    err = refused(definition(processing("A"), step))
    assert "DependsOn Trigger 'Succeeded' is not one of Completed, Failed, Stopped, Any" in (
        err.message
    )


def test_the_mlflow_config_of_sdk_v3_is_read_and_checked():
    doc = definition(processing("Prep"))
    doc["PipelineExperimentConfig"] = None
    doc["MlflowConfig"] = {
        "MlflowResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/t",
        "MlflowExperimentName": {"Get": "Execution.PipelineName"},
    }
    parsed = parse_definition(doc)
    assert parsed.experiment_config is None
    assert parsed.mlflow_config["MlflowExperimentName"] == {"Get": "Execution.PipelineName"}
    doc["MlflowConfig"]["MlflowExperimentName"] = {"Get": "Parameters.Experiment"}
    assert "MlflowConfig refers to parameter 'Experiment'" in refused(doc).message
    doc["MlflowConfig"]["MlflowExperimentName"] = {"Get": "Steps.Prep.ProcessingJobName"}
    assert "MlflowConfig: {'Get': 'Steps.Prep.ProcessingJobName'} — only Parameters" in (
        refused(doc).message
    )


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("P30D", timedelta(days=30)),
        ("PT1H", timedelta(hours=1)),
        ("30d", timedelta(days=30)),
        ("5y", timedelta(days=5 * 365)),
        ("T16m", timedelta(minutes=16)),
        ("30dT5h", timedelta(days=30, hours=5)),
        ("P1W", timedelta(days=7)),
    ],
)
def test_expire_after_in_the_forms_the_pipelines_guide_shows(text, delta):
    step = processing("Prep", CacheConfig={"Enabled": True, "ExpireAfter": text})
    assert parse_definition(definition(step)).steps["Prep"].cache_config.expire_after_delta == delta
