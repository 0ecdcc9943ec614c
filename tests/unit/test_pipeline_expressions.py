"""The expression language of pipeline definitions (simsage.pipelines.expressions) and
the property paths it reads (simsage.pipelines.shapes), evaluated against answers shaped
as the Describe operations answer (botocore's output shapes)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from simsage.pipelines import shapes
from simsage.pipelines.expressions import (
    Context,
    ExpressionError,
    evaluate_condition,
    evaluate_conditions,
    property_file_uri,
    references,
    resolve,
    tuning_properties,
)

# What DescribeProcessingJob answers for a job with two outputs (members and nesting as
# botocore's DescribeProcessingJobResponse; only the members the paths read).
PROCESSING = {
    "ProcessingJobName": "pipelines-abc-Prep-1",
    "ProcessingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:processing-job/pipelines-abc-prep-1",
    "ProcessingJobStatus": "Completed",
    "ProcessingInputs": [
        {"InputName": "code", "S3Input": {"S3Uri": "s3://b/code/prep.py"}},
    ],
    "ProcessingOutputConfig": {
        "Outputs": [
            {
                "OutputName": "train",
                "S3Output": {
                    "S3Uri": "s3://b/exec/Prep/output/train",
                    "LocalPath": "/opt/ml/processing/train",
                },
            },
            {
                "OutputName": "evaluation",
                "S3Output": {
                    "S3Uri": "s3://b/exec/Prep/output/evaluation/",
                    "LocalPath": "/opt/ml/processing/evaluation",
                },
            },
        ]
    },
    "Environment": {"MODE": "fast"},
}
TRAINING = {
    "TrainingJobName": "pipelines-abc-Train",
    "ModelArtifacts": {"S3ModelArtifacts": "s3://b/models/pipelines-abc-Train/output/model.tar.gz"},
    "HyperParameters": {"num_round": "10", "eta": "0.3"},
    "FinalMetricDataList": [
        {"MetricName": "train:auc", "Value": 0.91},
        {"MetricName": "validation:auc", "Value": 0.87},
    ],
    "InputDataConfig": [
        {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3Uri": "s3://b/t"}}}
    ],
}
START = datetime(2026, 12, 3, 12, 0, 0, 123000, tzinfo=UTC)


def context(**overrides) -> Context:
    values = {
        "parameters": {"Threshold": 0.8, "Count": 2, "Kind": "ml.m5.large", "Flag": True},
        "execution": {
            "PipelineExecutionId": "abc123",
            "PipelineExecutionArn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/abc123",
            "PipelineName": "p",
            "PipelineArn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p",
            "StartDateTime": START,
        },
        "steps": {"Prep": PROCESSING, "Train": TRAINING, "Check": {"Outcome": "True"}},
        "read_property_file": lambda step, name: {
            "metrics": {"auc": {"value": 0.83}, "list": [{"v": 1}, {"v": 2}]}
        },
        "now": lambda: datetime(2026, 12, 3, 12, 5, tzinfo=UTC),
    }
    values.update(overrides)
    return Context(**values)


# -- Get ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "value"),
    [
        ("Parameters.Threshold", 0.8),
        ("Parameters.Count", 2),
        ("Execution.PipelineExecutionId", "abc123"),
        ("Execution.PipelineName", "p"),
        ("Execution.StartDateTime", "2026-12-03T12:00:00.123Z"),
        ("Execution.CurrentDateTime", "2026-12-03T12:05:00.000Z"),
        (
            "Steps.Prep.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri",
            "s3://b/exec/Prep/output/train",
        ),
        (
            'Steps.Prep.ProcessingOutputConfig.Outputs["train"].S3Output.LocalPath',
            "/opt/ml/processing/train",
        ),
        ("Steps.Prep.ProcessingOutputConfig.Outputs[1].OutputName", "evaluation"),
        ("Steps.Prep.ProcessingInputs['code'].S3Input.S3Uri", "s3://b/code/prep.py"),
        ("Steps.Prep.Environment['MODE']", "fast"),
        (
            "Steps.Train.ModelArtifacts.S3ModelArtifacts",
            "s3://b/models/pipelines-abc-Train/output/model.tar.gz",
        ),
        ("Steps.Train.HyperParameters['eta']", "0.3"),
        ("Steps.Train.FinalMetricDataList['validation:auc'].Value", 0.87),
        ("Steps.Train.InputDataConfig['train'].DataSource.S3DataSource.S3Uri", "s3://b/t"),
        ("Steps.Check.Outcome", "True"),
    ],
)
def test_get(reference, value):
    assert resolve({"Get": reference}, context()) == value


def test_steps_may_be_a_callable():
    seen = []

    def answers(name):
        seen.append(name)
        return TRAINING if name == "Train" else None

    ctx = context(steps=answers)
    assert resolve({"Get": "Steps.Train.TrainingJobName"}, ctx) == "pipelines-abc-Train"
    assert seen == ["Train"]
    with pytest.raises(ExpressionError, match="step 'Prep' has not succeeded"):
        resolve({"Get": "Steps.Prep.ProcessingJobName"}, ctx)


@pytest.mark.parametrize(
    ("reference", "words"),
    [
        (
            "Steps.Eval.ProcessingJobName",
            "Steps.Eval.ProcessingJobName: step 'Eval' has not succeeded",
        ),
        (
            "Steps.Train.ModelArtifacts.Nope",
            "Steps.Train.ModelArtifacts.Nope is not set in the answer of step 'Train'",
        ),
        (
            "Steps.Prep.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri",
            "Outputs['test']: no item named 'test'",
        ),
        (
            "Steps.Prep.ProcessingOutputConfig.Outputs[5].OutputName",
            "Outputs[5]: step 'Prep' has 2 items there",
        ),
        ("Steps.Train.HyperParameters['alpha']", "no key 'alpha'"),
        ("Steps.Train.ModelArtifacts..S3ModelArtifacts", "cannot read"),
        ("Parameters.Missing", "Parameters.Missing: the execution has no parameter 'Missing'"),
        ("Execution.TrainingJobName", "no execution variable 'TrainingJobName' here"),
        ("Things.X", "a reference starts with Parameters., Execution. or Steps."),
    ],
)
def test_get_errors_name_the_path(reference, words):
    with pytest.raises(ExpressionError) as info:
        resolve({"Get": reference}, context())
    assert words in info.value.message
    assert info.value.code == "ValidationException"


def test_resolve_walks_arguments_and_never_changes_them():
    arguments = {
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3Uri": {
                            "Get": "Steps.Prep.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"
                        }
                    }
                },
            }
        ],
        "ResourceConfig": {"InstanceCount": {"Get": "Parameters.Count"}, "VolumeSizeInGB": 30},
        "OutputDataConfig": {
            "S3OutputPath": {
                "Std:Join": {
                    "On": "/",
                    "Values": ["s3:/", "b", {"Get": "Execution.PipelineExecutionId"}],
                }
            }
        },
        "Tags": [],
    }
    before = copy.deepcopy(arguments)
    resolved = resolve(arguments, context())
    assert arguments == before
    assert resolved == {
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3Uri": "s3://b/exec/Prep/output/train"}},
            }
        ],
        "ResourceConfig": {"InstanceCount": 2, "VolumeSizeInGB": 30},
        "OutputDataConfig": {"S3OutputPath": "s3://b/abc123"},
        "Tags": [],
    }


# -- functions ----------------------------------------------------------------------------


def test_join_writes_values_as_text():
    expr = {
        "Std:Join": {
            "On": ",",
            "Values": [
                "a",
                1,
                0.5,
                True,
                {"Get": "Parameters.Threshold"},
                {"Get": "Parameters.Flag"},
            ],
        }
    }
    assert resolve(expr, context()) == "a,1,0.5,true,0.8,true"
    assert resolve({"Std:Join": {"Values": ["x", "y"]}}, context()) == "xy"


def test_join_nests():
    inner = {"Std:Join": {"On": "-", "Values": [{"Get": "Execution.PipelineName"}, "x"]}}
    assert resolve({"Std:Join": {"On": "/", "Values": [inner, "y"]}}, context()) == "p-x/y"


def test_json_get_reads_the_property_file():
    calls = []

    def reader(step, name):
        calls.append((step, name))
        return {"metrics": {"auc": {"value": 0.83}, "list": [{"v": 1}, {"v": 2}]}}

    expr = {
        "Std:JsonGet": {
            "PropertyFile": {"Get": "Steps.Prep.PropertyFiles.EvaluationReport"},
            "Path": "metrics.auc.value",
        }
    }
    assert resolve(expr, context(read_property_file=reader)) == 0.83
    assert calls == [("Prep", "EvaluationReport")]
    expr["Std:JsonGet"]["Path"] = "metrics.list[1].v"
    assert resolve(expr, context(read_property_file=reader)) == 2


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("metrics.f1.value", "'metrics.f1.value' matches nothing"),
        ("metrics.list[*].v", "matches 2 values"),
        ("metrics.[[", "is not a JSONPath"),
    ],
)
def test_json_get_errors(path, words):
    expr = {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Prep.PropertyFiles.R"}, "Path": path}}
    with pytest.raises(ExpressionError) as info:
        resolve(expr, context())
    assert words in info.value.message


def test_json_get_of_a_step_that_has_not_run():
    expr = {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Eval.PropertyFiles.R"}, "Path": "a"}}
    with pytest.raises(ExpressionError, match="step 'Eval' has not succeeded"):
        resolve(expr, context())


def test_json_get_of_an_s3_uri():
    seen = []

    def read(uri):
        seen.append(uri)
        return {"Return": 7}

    expr = {
        "Std:JsonGet": {
            "S3Uri": {
                "Std:Join": {
                    "On": "/",
                    "Values": ["s3://b", {"Get": "Execution.PipelineExecutionId"}, "results.json"],
                }
            },
            "Path": "Return",
        }
    }
    assert resolve(expr, context(read_s3_json=read)) == 7
    assert seen == ["s3://b/abc123/results.json"]


def test_property_file_uri():
    assert property_file_uri(PROCESSING, "evaluation", "evaluation.json") == (
        "s3://b/exec/Prep/output/evaluation/evaluation.json"
    )
    with pytest.raises(
        ExpressionError,
        match=r"OutputName 'eval' is not an output of the job \(its outputs: train, evaluation\)",
    ):
        property_file_uri(PROCESSING, "eval", "e.json")


def test_tuning_properties_put_the_best_job_first():
    describe = {
        "HyperParameterTuningJobName": "t",
        "HyperParameterTuningJobConfig": {
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:auc"}
        },
    }
    summaries = [
        {"TrainingJobName": "a", "FinalHyperParameterTuningJobObjectiveMetric": {"Value": 0.7}},
        {"TrainingJobName": "failed"},
        {"TrainingJobName": "b", "FinalHyperParameterTuningJobObjectiveMetric": {"Value": 0.9}},
        {"TrainingJobName": "c", "FinalHyperParameterTuningJobObjectiveMetric": {"Value": 0.8}},
    ]
    props = tuning_properties(describe, summaries)
    assert [s["TrainingJobName"] for s in props["TrainingJobSummaries"]] == [
        "b",
        "c",
        "a",
        "failed",
    ]
    ctx = context(steps={"Tune": props})
    assert resolve({"Get": "Steps.Tune.TrainingJobSummaries[0].TrainingJobName"}, ctx) == "b"
    assert resolve({"Get": "Steps.Tune.HyperParameterTuningJobName"}, ctx) == "t"
    describe["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["Type"] = (
        "Minimize"
    )
    props = tuning_properties(describe, summaries)
    assert [s["TrainingJobName"] for s in props["TrainingJobSummaries"]] == [
        "a",
        "c",
        "b",
        "failed",
    ]
    many = [
        {"TrainingJobName": str(i), "FinalHyperParameterTuningJobObjectiveMetric": {"Value": i}}
        for i in range(60)
    ]
    assert len(tuning_properties(describe, many)["TrainingJobSummaries"]) == 50


# -- conditions ---------------------------------------------------------------------------


def compare(kind, left, right):
    return {"Type": kind, "LeftValue": left, "RightValue": right}


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        (compare("Equals", 1, 1.0), True),
        (compare("Equals", "a", "a"), True),
        (compare("Equals", "a", "b"), False),
        (compare("Equals", "10", 10), True),  # Describe answers carry numbers as text
        (compare("Equals", "abc", 10), False),
        (compare("Equals", True, "true"), True),
        (compare("Equals", False, "True"), False),
        (compare("Equals", "1", "1.0"), False),  # two strings compare as strings
        (compare("GreaterThan", 0.9, 0.8), True),
        (compare("GreaterThan", 0.8, 0.8), False),
        (compare("GreaterThanOrEqualTo", 0.8, 0.8), True),
        (compare("LessThan", 1, 2), True),
        (compare("LessThanOrEqualTo", 2, 2.0), True),
        (compare("LessThan", "0.5", 1), True),
        (
            compare(
                "GreaterThanOrEqualTo",
                {"Get": "Steps.Train.FinalMetricDataList['validation:auc'].Value"},
                {"Get": "Parameters.Threshold"},
            ),
            True,
        ),
        (compare("Equals", {"Get": "Steps.Check.Outcome"}, "True"), True),
        (
            {
                "Type": "In",
                "QueryValue": {"Get": "Parameters.Kind"},
                "Values": ["ml.c5.xlarge", "ml.m5.large"],
            },
            True,
        ),
        ({"Type": "In", "QueryValue": 3, "Values": [1, "3"]}, True),
        ({"Type": "In", "QueryValue": "x", "Values": []}, False),
        ({"Type": "Not", "Condition": compare("Equals", 1, 2)}, True),
        ({"Type": "Or", "Conditions": [compare("Equals", 1, 2), compare("LessThan", 1, 2)]}, True),
        ({"Type": "Or", "Conditions": []}, False),
        # the operands inside "Arguments" are read too
        ({"Type": "GreaterThan", "Arguments": {"LeftValue": 2, "RightValue": 1}}, True),
    ],
)
def test_conditions(condition, holds):
    assert evaluate_condition(condition, context()) is holds


def test_json_get_in_a_condition():
    left = {
        "Std:JsonGet": {
            "PropertyFile": {"Get": "Steps.Prep.PropertyFiles.R"},
            "Path": "metrics.auc.value",
        }
    }
    ctx = context()
    assert evaluate_condition(
        compare("GreaterThanOrEqualTo", left, {"Get": "Parameters.Threshold"}), ctx
    )
    assert not evaluate_condition(compare("GreaterThan", left, 0.9), ctx)


def test_all_conditions_must_hold():
    ctx = context()
    assert evaluate_conditions([compare("Equals", 1, 1), compare("LessThan", 1, 2)], ctx)
    assert not evaluate_conditions([compare("Equals", 1, 1), compare("LessThan", 2, 1)], ctx)
    assert evaluate_conditions([], ctx)


@pytest.mark.parametrize(
    ("condition", "words"),
    [
        (
            compare("GreaterThan", "abc", 1),
            "GreaterThan compares numbers; got 'abc' (string) and 1 (number)",
        ),
        (compare("LessThan", True, 1), "got True (boolean)"),
        ({"Type": "Between", "LeftValue": 1}, "unknown condition type 'Between'"),
        ({"Type": "In", "QueryValue": 1, "Values": 3}, "In: Values must be a list"),
        (compare("Equals", {"Get": "Steps.Nope.X"}, 1), "step 'Nope' has not succeeded"),
    ],
)
def test_condition_errors(condition, words):
    with pytest.raises(ExpressionError) as info:
        evaluate_condition(condition, context())
    assert words in info.value.message


# -- references and paths -----------------------------------------------------------------


def test_references_are_found_everywhere():
    value = {
        "A": {"Get": "Parameters.X"},
        "B": [{"Std:Join": {"On": "", "Values": [{"Get": "Steps.S.P"}]}}],
        "C": {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.E.PropertyFiles.R"}, "Path": "a"}},
        "D": {"Type": "Not", "Condition": compare("Equals", {"Get": "Execution.PipelineName"}, 1)},
    }
    assert references(value) == [
        "Parameters.X",
        "Steps.S.P",
        "Steps.E.PropertyFiles.R",
        "Execution.PipelineName",
    ]


def test_paths_are_checked_against_the_describe_shapes():
    ok = [
        ("Processing", "ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"),
        ("Training", "ModelArtifacts.S3ModelArtifacts"),
        ("Training", "FinalMetricDataList['validation:auc'].Value"),
        ("Training", "HyperParameters['eta']"),
        ("Tuning", "BestTrainingJob.TrainingJobName"),
        ("Tuning", "TrainingJobSummaries[0].TrainingJobName"),
        ("Transform", "TransformOutput.S3OutputPath"),
        ("Model", "ModelName"),
        ("RegisterModel", "ModelPackageArn"),
    ]
    for step_type, path in ok:
        shapes.check_path(step_type, shapes.parse_path(path))
    with pytest.raises(
        shapes.PathError, match="TransformOutput.S3Path: TransformOutput has no .S3Path"
    ):
        shapes.check_path("Transform", shapes.parse_path("TransformOutput.S3Path"))
    with pytest.raises(shapes.PathError, match="is a list; index it"):
        shapes.check_path("Training", shapes.parse_path("FinalMetricDataList.Value"))
    with pytest.raises(shapes.PathError, match="is a map; pick a value"):
        shapes.check_path("Training", shapes.parse_path("HyperParameters[0]"))


def test_parse_path_round_trips():
    path = "ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"
    assert shapes.format_path(shapes.parse_path(path)) == path
    assert shapes.parse_path("A[0][1]") == (shapes.Member("A"), shapes.Index(0), shapes.Index(1))
    with pytest.raises(shapes.PathError, match="must start with a member name"):
        shapes.parse_path("[0]")


def test_coerce_request_fits_values_to_the_create_request():
    resolved = {
        "HyperParameters": {"num_round": 10, "eta": 0.3, "flag": True},
        "ResourceConfig": {
            "InstanceCount": "2",
            "InstanceType": "ml.m5.large",
            "VolumeSizeInGB": 30,
        },
        "Environment": {"N": 3},
        "EnableNetworkIsolation": "false",
        "Unknown": {"Kept": 1},
    }
    out = shapes.coerce_request("Training", resolved)
    assert out == {
        "HyperParameters": {"num_round": "10", "eta": "0.3", "flag": "true"},
        "ResourceConfig": {"InstanceCount": 2, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30},
        "Environment": {"N": "3"},
        "EnableNetworkIsolation": False,
        "Unknown": {"Kept": 1},
    }
    processing = {"AppSpecification": {"ContainerArguments": ["--k", 3, "--rate", 0.5]}}
    assert shapes.coerce_request("Processing", processing) == {
        "AppSpecification": {"ContainerArguments": ["--k", "3", "--rate", "0.5"]}
    }
