"""The tuning service's pure parts: a child's CreateTrainingJob request built from a
definition, the CPU share of parallel children, and the counters and best training job
a description reports from the children."""

from __future__ import annotations

import pytest

from simsage.tuning.api import best_child, child_summary, counters, objective_status
from simsage.tuning.definitions import (
    OBJECTIVE_KEY,
    child_request,
    definitions,
    resource_config,
    thread_share,
)
from simsage.tuning.jobs import Child

OBJECTIVE = {"Type": "Minimize", "MetricName": "validation:rmse"}


def _definition(**changes) -> dict:
    out = {
        "StaticHyperParameters": {"num_round": "10", "objective": "reg:squarederror"},
        "AlgorithmSpecification": {
            "TrainingImage": "img",
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "validation:rmse", "Regex": "rmse=(.*)"}],
        },
        "RoleArn": "arn:aws:iam::123456789012:role/R",
        "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        "Environment": {"A": "1"},
    }
    out.update(changes)
    return out


def _spec(**changes) -> dict:
    out = {
        "HyperParameterTuningJobName": "t",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": OBJECTIVE,
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
            "ParameterRanges": {
                "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "1", "MaxValue": "4"}]
            },
        },
        "TrainingJobDefinition": _definition(),
    }
    out.update(changes)
    return out


def test_a_child_gets_the_static_and_tuned_values_and_the_objective_key():
    (definition,) = definitions(_spec())
    request = child_request(
        definition, "t-001-0123abcd", {"max_depth": "3"}, [{"Key": "k", "Value": "v"}]
    )
    assert request["TrainingJobName"] == "t-001-0123abcd"
    assert request["HyperParameters"] == {
        "num_round": "10",
        "objective": "reg:squarederror",
        "max_depth": "3",
        OBJECTIVE_KEY: "validation:rmse",
    }
    assert request["AlgorithmSpecification"]["MetricDefinitions"][0]["Name"] == "validation:rmse"
    assert request["Environment"] == {"A": "1"}
    assert request["Tags"] == [{"Key": "k", "Value": "v"}]
    assert "StaticHyperParameters" not in request and "TuningObjective" not in request


def test_the_request_is_not_changed_by_building_children():
    spec = _spec()
    (definition,) = definitions(spec)
    child_request(definition, "t-001-0123abcd", {"max_depth": "3"})["HyperParameters"]["x"] = "y"
    assert spec["TrainingJobDefinition"]["StaticHyperParameters"] == {
        "num_round": "10",
        "objective": "reg:squarederror",
    }


def test_several_definitions_keep_their_own_objective_and_ranges():
    ranges = {"CategoricalParameterRanges": [{"Name": "k", "Values": ["a"]}]}
    spec = _spec(
        TrainingJobDefinitions=[
            _definition(
                DefinitionName="one", TuningObjective=OBJECTIVE, HyperParameterRanges=ranges
            ),
            _definition(DefinitionName="two", TuningObjective=OBJECTIVE),
        ]
    )
    del spec["TrainingJobDefinition"]
    one, two = definitions(spec)
    assert (one.name, one.where, one.ranges) == ("one", "TrainingJobDefinitions[0] (one)", ranges)
    # A definition without ranges of its own falls back to the config's.
    assert two.ranges == spec["HyperParameterTuningJobConfig"]["ParameterRanges"]


def test_hyperparameter_tuning_resource_config_becomes_the_childs_resource_config():
    body = _definition(
        ResourceConfig=None,
        HyperParameterTuningResourceConfig={
            "InstanceConfigs": [
                {"InstanceType": "ml.c5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5},
                {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
            ],
            "AllocationStrategy": "Prioritized",
        },
    )
    assert resource_config(body) == {
        "InstanceType": "ml.c5.xlarge",
        "InstanceCount": 1,
        "VolumeSizeInGB": 5,
    }


@pytest.mark.parametrize(
    ("parallel", "cores", "share"), [(1, 8, 8), (2, 8, 4), (3, 8, 2), (4, 2, 1), (10, 2, 1)]
)
def test_parallel_children_share_the_cores(parallel, cores, share):
    assert thread_share(parallel, cores) == share


def _child(number, status, objective=None, retryable=False, definition=None) -> Child:
    return Child(
        name=f"t-{number:03d}-0000000{number}",
        arn=f"arn:aws:sagemaker:eu-west-1:123456789012:training-job/t-{number:03d}-0000000{number}",
        number=number,
        definition=definition,
        tuned={"max_depth": str(number)},
        status=status,
        created=float(number),
        objective=objective,
        retryable=retryable,
    )


def test_counters_tell_retryable_from_other_failures():
    children = [
        _child(1, "Completed", 0.5),
        _child(2, "Failed", retryable=True),
        _child(3, "Failed"),
        _child(4, "Stopped", 0.7),
        _child(5, "InProgress"),
        _child(6, "Stopping"),
        _child(7, "Completed"),  # ended without reporting the objective
    ]
    status, objective = counters(children)
    assert status == {
        "Completed": 2,
        "InProgress": 2,
        "RetryableError": 1,
        "NonRetryableError": 1,
        "Stopped": 1,
    }
    assert objective == {"Succeeded": 2, "Pending": 2, "Failed": 3}
    assert [objective_status(c) for c in children[:2]] == ["Succeeded", "Failed"]


def test_the_best_child_follows_the_objective_direction_and_ignores_running_ones():
    children = [
        _child(1, "Completed", 0.5),
        _child(2, "Completed", 0.25),
        _child(3, "InProgress", 0.01),  # not ended: not a candidate yet
        _child(4, "Failed", 0.0),
        _child(5, "Completed", 0.25),  # a tie: the earlier launch wins
    ]
    assert best_child(children, {"Type": "Minimize", "MetricName": "m"}).number == 2
    assert best_child(children, {"Type": "Maximize", "MetricName": "m"}).number == 1
    assert best_child([_child(1, "InProgress")], OBJECTIVE) is None


def test_a_childs_summary_carries_the_objective_and_its_definition():
    child = _child(2, "Completed", 0.25, definition="one")
    summary = child_summary("t", child, OBJECTIVE)
    assert summary["TrainingJobDefinitionName"] == "one"
    assert summary["TuningJobName"] == "t"
    assert summary["TunedHyperParameters"] == {"max_depth": "2"}
    assert summary["FinalHyperParameterTuningJobObjectiveMetric"] == {**OBJECTIVE, "Value": 0.25}
    assert summary["ObjectiveStatus"] == "Succeeded"
    pending = child_summary("t", _child(3, "InProgress"), OBJECTIVE)
    assert "FinalHyperParameterTuningJobObjectiveMetric" not in pending
    assert pending["ObjectiveStatus"] == "Pending"
