"""Step cache keys (simsage.pipelines.caching): the members SageMaker Pipelines names
for each step type decide, and nothing else."""

from __future__ import annotations

import copy

import pytest

from simsage.pipelines.caching import cache_key

TRAINING = {
    "AlgorithmSpecification": {"TrainingImage": "xgboost", "TrainingInputMode": "File"},
    "HyperParameters": {"num_round": "10", "eta": "0.3"},
    "InputDataConfig": [
        {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3Uri": "s3://b/run1/train"}}}
    ],
    "OutputDataConfig": {"S3OutputPath": "s3://b/models/exec-1"},
    "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30},
    "RoleArn": "arn:aws:iam::123456789012:role/R",
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
}


def changed(base: dict, path: tuple, value) -> dict:
    out = copy.deepcopy(base)
    target = out
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return out


def test_members_outside_the_key_do_not_change_it():
    key = cache_key("Training", TRAINING)
    assert key == cache_key("Training", copy.deepcopy(TRAINING))
    for path, value in [
        (("OutputDataConfig", "S3OutputPath"), "s3://b/models/exec-2"),
        (("ResourceConfig", "InstanceType"), "ml.c5.xlarge"),
        (("StoppingCondition", "MaxRuntimeInSeconds"), 60),
        (("RoleArn",), "arn:aws:iam::123456789012:role/Other"),
    ]:
        assert cache_key("Training", changed(TRAINING, path, value)) == key, path


def test_members_in_the_key_change_it():
    key = cache_key("Training", TRAINING)
    for path, value in [
        (("HyperParameters", "eta"), "0.2"),
        (("AlgorithmSpecification", "TrainingImage"), "linear-learner"),
        (("InputDataConfig", 0, "DataSource", "S3DataSource", "S3Uri"), "s3://b/run2/train"),
    ]:
        assert cache_key("Training", changed(TRAINING, path, value)) != key, path
    assert cache_key("Training", {**TRAINING, "Environment": {"A": "1"}}) != key


def test_values_are_fitted_to_the_request_and_order_does_not_matter():
    numbers = changed(TRAINING, ("HyperParameters",), {"eta": 0.3, "num_round": 10})
    assert cache_key("Training", numbers) == cache_key("Training", TRAINING)
    reordered = dict(reversed(list(TRAINING.items())))
    assert cache_key("Training", reordered) == cache_key("Training", TRAINING)


def test_tuning_keeps_only_the_named_children_of_the_training_definition():
    tuning = {
        "HyperParameterTuningJobConfig": {"Strategy": "Bayesian"},
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {"TrainingImage": "xgboost", "TrainingInputMode": "File"},
            "StaticHyperParameters": {"num_round": "10"},
            "OutputDataConfig": {"S3OutputPath": "s3://b/exec-1"},
            "RoleArn": "arn:aws:iam::123456789012:role/R",
        },
    }
    key = cache_key("Tuning", tuning)
    assert (
        cache_key(
            "Tuning",
            changed(
                tuning,
                ("TrainingJobDefinition", "OutputDataConfig"),
                {"S3OutputPath": "s3://b/exec-2"},
            ),
        )
        == key
    )
    assert (
        cache_key(
            "Tuning",
            changed(
                tuning, ("TrainingJobDefinition", "StaticHyperParameters"), {"num_round": "20"}
            ),
        )
        != key
    )
    assert (
        cache_key(
            "Tuning", changed(tuning, ("HyperParameterTuningJobConfig", "Strategy"), "Random")
        )
        != key
    )


def test_processing_and_transform_keys():
    processing = {
        "AppSpecification": {"ImageUri": "sklearn"},
        "ProcessingInputs": [{"InputName": "code", "S3Input": {"S3Uri": "s3://b/code/abc/p.py"}}],
        "ProcessingOutputConfig": {
            "Outputs": [{"OutputName": "o", "S3Output": {"S3Uri": "s3://b/e1"}}]
        },
    }
    key = cache_key("Processing", processing)
    other_output = changed(processing, ("ProcessingOutputConfig",), {"Outputs": []})
    assert cache_key("Processing", other_output) == key
    new_code = changed(
        processing, ("ProcessingInputs", 0, "S3Input", "S3Uri"), "s3://b/code/def/p.py"
    )
    assert cache_key("Processing", new_code) != key
    transform = {
        "ModelName": "m-1",
        "TransformInput": {"ContentType": "text/csv"},
        "TransformOutput": {"S3OutputPath": "s3://b/1"},
    }
    key = cache_key("Transform", transform)
    assert (
        cache_key("Transform", {**transform, "TransformOutput": {"S3OutputPath": "s3://b/2"}})
        == key
    )
    assert cache_key("Transform", {**transform, "ModelName": "m-2"}) != key
    # the same members under another step type are another key
    assert cache_key("Processing", {"Environment": {}}) != cache_key(
        "Training", {"Environment": {}}
    )


@pytest.mark.parametrize("step_type", ["Model", "RegisterModel", "Condition", "Fail"])
def test_steps_that_are_never_cached(step_type):
    assert cache_key(step_type, {"ModelName": "m"}) is None
