"""The settings objects of a tuning job, with the official SDK v2's names (in
``sagemaker.tuner`` there, importable from :mod:`simsage.sdk.tuner` here too):
``WarmStartConfig``/``WarmStartTypes``, ``StrategyConfig``/``HyperbandStrategyConfig`` and
``TuningJobCompletionCriteriaConfig``. Each renders its part of
CreateHyperParameterTuningJob (``to_input_req``) and reads it back from a
DescribeHyperParameterTuningJob answer (``from_job_desc``).

The functions render ranges and read a description back into a tuner's constructor
arguments (``HyperparameterTuner.attach``).

Layer: SDK, no client (``estimator_from_definition`` builds an estimator on a session).
"""

from __future__ import annotations

import copy
import importlib
import json
from enum import Enum
from typing import Any

from simsage.sdk.estimator import Estimator
from simsage.sdk.parameter import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    ParameterRange,
)
from simsage.sdk.session import Session
from simsage.sdk.utils import base_from_name

__all__ = [
    "HyperbandStrategyConfig",
    "StrategyConfig",
    "TuningJobCompletionCriteriaConfig",
    "WarmStartConfig",
    "WarmStartTypes",
    "auto_parameters_request",
    "config_request",
    "estimator_from_definition",
    "init_params",
    "official_module",
    "ranges_from_request",
    "ranges_request",
]

RANGE_KINDS = ("Continuous", "Categorical", "Integer")  # the order the official SDK sends
# The static hyperparameters naming a framework estimator's class, for attach().
CLASS_NAME_KEY = "sagemaker_estimator_class_name"
MODULE_KEY = "sagemaker_estimator_module"

# The official SDK's estimator classes, as the estimator metadata hyperparameters name
# them, and simsage's: a tuning job made by either SDK attaches in both.
_OFFICIAL_CLASSES = {
    ("sagemaker.estimator", "Estimator"): ("simsage.sdk.estimator", "Estimator"),
    ("sagemaker.sklearn.estimator", "SKLearn"): ("simsage.sdk.sklearn", "SKLearn"),
    ("sagemaker.xgboost.estimator", "XGBoost"): ("simsage.sdk.xgboost", "XGBoost"),
    ("sagemaker.amazon.kmeans", "KMeans"): ("simsage.sdk.amazon.kmeans", "KMeans"),
    ("sagemaker.amazon.linear_learner", "LinearLearner"): (
        "simsage.sdk.amazon.linear_learner",
        "LinearLearner",
    ),
    ("sagemaker.amazon.randomcutforest", "RandomCutForest"): (
        "simsage.sdk.amazon.randomcutforest",
        "RandomCutForest",
    ),
    ("sagemaker.amazon.knn", "KNN"): ("simsage.sdk.amazon.knn", "KNN"),
    ("sagemaker.amazon.pca", "PCA"): ("simsage.sdk.amazon.pca", "PCA"),
}
_OFFICIAL_MODULES = {ours: theirs[0] for theirs, ours in _OFFICIAL_CLASSES.items()}


class WarmStartTypes(Enum):
    """How a warm-started tuning job reuses its parents: the same data and algorithm, or
    similar ones (ranges, data and image version may change)."""

    IDENTICAL_DATA_AND_ALGORITHM = "IdenticalDataAndAlgorithm"
    TRANSFER_LEARNING = "TransferLearning"


class WarmStartConfig:
    """Start a tuning job from what 1–5 earlier ones (``parents``, by name) learnt.

    Raises:
        ValueError: ``warm_start_type`` is not a :class:`WarmStartTypes`, or no parents.
    """

    def __init__(self, warm_start_type: WarmStartTypes, parents: Any) -> None:
        if warm_start_type not in list(WarmStartTypes):
            raise ValueError(
                f"Invalid type: {warm_start_type}, valid warm start types are: "
                f"{list(WarmStartTypes)}"
            )
        if not parents:
            raise ValueError(f"Invalid parents: {parents}, parents should not be None/empty")
        self.type = warm_start_type
        self.parents = set(parents)

    @classmethod
    def from_job_desc(cls, warm_start_config: dict[str, Any] | None) -> WarmStartConfig | None:
        """The config of a DescribeHyperParameterTuningJob ``WarmStartConfig`` (None if
        there is none)."""
        if not warm_start_config or "ParentHyperParameterTuningJobs" not in warm_start_config:
            return None
        parents = [
            parent["HyperParameterTuningJobName"]
            for parent in warm_start_config["ParentHyperParameterTuningJobs"]
        ]
        return cls(WarmStartTypes(warm_start_config["WarmStartType"]), parents)

    def to_input_req(self) -> dict[str, Any]:
        """The request's ``WarmStartConfig``."""
        return {
            "WarmStartType": self.type.value,
            "ParentHyperParameterTuningJobs": [
                {"HyperParameterTuningJobName": parent} for parent in self.parents
            ],
        }


class HyperbandStrategyConfig:
    """Hyperband's resource bounds (epochs): a job is never stopped before
    ``min_resource`` and always stopped at ``max_resource``."""

    def __init__(self, max_resource: int | None = None, min_resource: int | None = None) -> None:
        self.max_resource = max_resource
        self.min_resource = min_resource

    @classmethod
    def from_job_desc(cls, config: dict[str, Any]) -> HyperbandStrategyConfig:
        return cls(max_resource=config.get("MaxResource"), min_resource=config.get("MinResource"))

    def to_input_req(self) -> dict[str, Any]:
        request = {"MinResource": self.min_resource, "MaxResource": self.max_resource}
        return {key: value for key, value in request.items() if value is not None}


class StrategyConfig:
    """The strategy's settings: only Hyperband has some."""

    def __init__(self, hyperband_strategy_config: HyperbandStrategyConfig) -> None:
        self.hyperband_strategy_config = hyperband_strategy_config

    @classmethod
    def from_job_desc(cls, config: dict[str, Any]) -> StrategyConfig:
        return cls(HyperbandStrategyConfig.from_job_desc(config["HyperbandStrategyConfig"]))

    def to_input_req(self) -> dict[str, Any]:
        return {"HyperbandStrategyConfig": self.hyperband_strategy_config.to_input_req()}


class TuningJobCompletionCriteriaConfig:
    """When the tuning job may end before ``max_jobs``: after
    ``max_number_of_training_jobs_not_improving`` jobs without a better objective, on
    convergence, or once a job reaches ``target_objective_metric_value``."""

    def __init__(
        self,
        max_number_of_training_jobs_not_improving: int | None = None,
        complete_on_convergence: bool | None = None,
        target_objective_metric_value: float | None = None,
    ) -> None:
        self.max_number_of_training_jobs_not_improving = max_number_of_training_jobs_not_improving
        self.complete_on_convergence = complete_on_convergence
        self.target_objective_metric_value = target_objective_metric_value

    @classmethod
    def from_job_desc(cls, config: dict[str, Any]) -> TuningJobCompletionCriteriaConfig:
        convergence = config.get("ConvergenceDetected", {}).get("CompleteOnConvergence")
        return cls(
            max_number_of_training_jobs_not_improving=config.get(
                "BestObjectiveNotImproving", {}
            ).get("MaxNumberOfTrainingJobsNotImproving"),
            complete_on_convergence=None if convergence is None else convergence == "Enabled",
            target_objective_metric_value=config.get("TargetObjectiveMetricValue"),
        )

    def to_input_req(self) -> dict[str, Any]:
        """The request's ``TuningJobCompletionCriteria``."""
        request: dict[str, Any] = {}
        if self.max_number_of_training_jobs_not_improving is not None:
            request["BestObjectiveNotImproving"] = {
                "MaxNumberOfTrainingJobsNotImproving": self.max_number_of_training_jobs_not_improving
            }
        if self.target_objective_metric_value is not None:
            request["TargetObjectiveMetricValue"] = self.target_objective_metric_value
        if self.complete_on_convergence is not None:
            mode = "Enabled" if self.complete_on_convergence else "Disabled"
            request["ConvergenceDetected"] = {"CompleteOnConvergence": mode}
        return request


def config_request(config: Any) -> dict[str, Any]:
    """A config object's request part (a dict is the request part already)."""
    return config if isinstance(config, dict) else config.to_input_req()


def auto_parameters_request(auto_parameters: dict[str, str]) -> list[dict[str, str]]:
    """``AutoParameters``: each hyperparameter with its value as the hint."""
    return [{"Name": name, "ValueHint": value} for name, value in auto_parameters.items()]


def ranges_request(
    ranges: dict[str, ParameterRange], framework: bool
) -> dict[str, list[dict[str, Any]]]:
    """A ``ParameterRanges`` request: every kind's list (empty ones too), in the official
    SDK's order; categorical values JSON-encoded for a ``framework`` estimator (whose
    image decodes every hyperparameter)."""
    return {
        f"{kind}ParameterRanges": [
            parameter.as_json_range(name)
            if framework and isinstance(parameter, CategoricalParameter)
            else parameter.as_tuning_range(name)
            for name, parameter in ranges.items()
            if parameter is not None and kind == parameter.KIND
        ]
        for kind in RANGE_KINDS
    }


def init_params(
    described: dict[str, Any], definition: dict[str, Any], framework: bool
) -> dict[str, Any]:
    """The tuner's constructor arguments from a DescribeHyperParameterTuningJob answer
    (``definition`` being its, or its first, training job definition)."""
    config = described["HyperParameterTuningJobConfig"]
    limits = config["ResourceLimits"]
    params: dict[str, Any] = {
        "strategy": config["Strategy"],
        "max_jobs": limits.get("MaxNumberOfTrainingJobs"),
        "max_parallel_jobs": limits["MaxParallelTrainingJobs"],
        "max_runtime_in_seconds": limits.get("MaxRuntimeInSeconds"),
        "warm_start_config": WarmStartConfig.from_job_desc(described.get("WarmStartConfig")),
        "early_stopping_type": config.get("TrainingJobEarlyStoppingType", "Off"),
        "base_tuning_job_name": base_from_name(described["HyperParameterTuningJobName"]),
        "random_seed": config.get("RandomSeed"),
        "metric_definitions": definition["AlgorithmSpecification"].get("MetricDefinitions"),
        "hyperparameter_ranges": ranges_from_request(config.get("ParameterRanges", {}), framework),
        "objective_metric_name": None,
    }
    objective = config.get("HyperParameterTuningJobObjective") or definition.get("TuningObjective")
    if objective is not None:
        params["objective_type"] = objective["Type"]
        if "HyperParameterTuningJobObjective" in config:
            params["objective_metric_name"] = objective["MetricName"]
    if "TuningJobCompletionCriteria" in config:
        params["completion_criteria_config"] = TuningJobCompletionCriteriaConfig.from_job_desc(
            config["TuningJobCompletionCriteria"]
        )
    if "StrategyConfig" in config:
        params["strategy_config"] = StrategyConfig.from_job_desc(config["StrategyConfig"])
    return params


def ranges_from_request(
    parameter_ranges: dict[str, Any], framework: bool
) -> dict[str, ParameterRange]:
    """Range objects from a request's ``ParameterRanges`` (scaling types kept; a
    framework estimator's JSON-encoded categorical values decoded)."""
    ranges: dict[str, ParameterRange] = {}
    for item in parameter_ranges.get("CategoricalParameterRanges", []):
        values = item["Values"]
        if framework:
            values = [_decoded(value) for value in values]
        ranges[item["Name"]] = CategoricalParameter(values)
    for kind, cast in (("Continuous", float), ("Integer", int)):
        parameter_class = ContinuousParameter if kind == "Continuous" else IntegerParameter
        for item in parameter_ranges.get(f"{kind}ParameterRanges", []):
            ranges[item["Name"]] = parameter_class(
                cast(item["MinValue"]), cast(item["MaxValue"]), item.get("ScalingType", "Auto")
            )
    return ranges


def _decoded(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def official_module(cls: type) -> str:
    """The module the estimator metadata names for ``cls``: the official SDK's for
    simsage's own estimators (so the official SDK attaches the job too), else its own."""
    return _OFFICIAL_MODULES.get((cls.__module__, cls.__name__), cls.__module__)


def estimator_from_definition(
    definition: dict[str, Any],
    estimator_cls: str | type[Estimator] | None,
    session: Session,
) -> Estimator:
    """The estimator of a tuning job's training job definition, of class
    ``estimator_cls`` (a class or ``"module.Class"``), else of the class its static
    hyperparameters name (the official SDK's ``Estimator``, ``SKLearn``, ``XGBoost`` and
    first-party estimators being simsage's), else :class:`Estimator`."""
    definition = copy.deepcopy(definition)
    static = definition.get("StaticHyperParameters", {})
    static.pop("_tuning_objective_metric", None)
    resources = definition.get("HyperParameterTuningResourceConfig") or definition.get(
        "ResourceConfig"
    )
    shaped = {**definition, "HyperParameters": static, "ResourceConfig": resources}
    return _estimator_class(estimator_cls, static)._from_description(shaped, session)


def _estimator_class(
    estimator_cls: str | type[Estimator] | None, static: dict[str, str]
) -> type[Estimator]:
    if isinstance(estimator_cls, type):
        return estimator_cls
    if isinstance(estimator_cls, str):
        module, _, name = estimator_cls.rpartition(".")
    elif CLASS_NAME_KEY in static and MODULE_KEY in static:
        module = json.loads(static[MODULE_KEY])
        name = json.loads(static[CLASS_NAME_KEY])
    else:
        return Estimator
    module, name = _OFFICIAL_CLASSES.get((module, name), (module, name))
    return getattr(importlib.import_module(module), name)
