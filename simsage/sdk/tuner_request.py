"""How a :class:`~simsage.sdk.tuner.HyperparameterTuner` becomes its
CreateHyperParameterTuningJob request: the job name, each estimator's training job
definition (its CreateTrainingJob request, the tuned hyperparameters taken out of the
static ones), the tuning job config and the tags — as the official SDK v2 builds them. A
mixin of the tuner, which holds the settings it reads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from simsage.sdk.amazon.amazon_estimator import AmazonAlgorithmEstimatorBase, RecordSet
from simsage.sdk.amazon.hyperparameter import Hyperparameter
from simsage.sdk.estimator import Estimator
from simsage.sdk.framework import Framework
from simsage.sdk.inputs import TrainingInput
from simsage.sdk.parameter import ParameterRange
from simsage.sdk.tuner_config import (
    CLASS_NAME_KEY,
    MODULE_KEY,
    auto_parameters_request,
    config_request,
    official_module,
    ranges_request,
)
from simsage.sdk.utils import base_name_from_image, name_from_base


@dataclass
class _Target:
    """One training job definition of a tuning job: what a tuner (one estimator) or
    each estimator of ``create()`` (named ``name``) is tuned with."""

    name: str | None
    estimator: Estimator
    objective_metric_name: str | None
    ranges: dict[str, ParameterRange] | None
    metric_definitions: list[dict[str, str]] | None
    keep_static: list[str] | None


class TuningRequest:
    """The request-building half of :class:`~simsage.sdk.tuner.HyperparameterTuner`."""

    # -- the request -----------------------------------------------------------------------
    def hyperparameter_ranges(self) -> dict[str, list[dict[str, Any]]] | None:
        """The request's ``ParameterRanges``: every kind's list (empty ones too), the
        categorical values JSON-encoded for framework estimators (whose images decode
        every hyperparameter). None for a tuner of named estimators (see
        :meth:`hyperparameter_ranges_dict`)."""
        if self._hyperparameter_ranges is None:
            return None
        return ranges_request(self._hyperparameter_ranges, isinstance(self.estimator, Framework))

    def hyperparameter_ranges_dict(self) -> dict[str, dict[str, list[dict[str, Any]]]] | None:
        """Each named estimator's ``HyperParameterRanges`` (None for a single estimator)."""
        if self._hyperparameter_ranges_dict is None:
            return None
        return {
            target.name: ranges_request(
                target.ranges or {}, isinstance(target.estimator, Framework)
            )
            for target in self._targets()
        }

    def _check(self, target: _Target) -> None:
        if not target.ranges and not self.autotune:
            raise ValueError("Need to specify hyperparameter ranges or set autotune=True.")
        keep = target.keep_static
        if keep is not None and not self.autotune:
            raise ValueError(
                "hyperparameters_to_keep_static parameter is set, however Autotune mode is "
                "not enabled. Either do not set value for hyperparameters_to_keep_static "
                "parameter, or enable Autotune mode by setting autotune=True."
            )
        if keep is not None and len(keep) != len(set(keep)):
            raise ValueError("Please remove duplicate names in hyperparameters_to_keep_static.")
        for name, parameter in (target.ranges or {}).items():
            if parameter is not None and not isinstance(parameter, ParameterRange):
                raise TypeError(
                    f"hyperparameter_ranges[{name!r}] must be a ContinuousParameter, "
                    f"IntegerParameter or CategoricalParameter; got {type(parameter).__name__}"
                )
        if isinstance(target.estimator, AmazonAlgorithmEstimatorBase):
            _check_first_party_ranges(target.estimator, target.ranges or {})

    @staticmethod
    def _prepare_estimator(estimator: Estimator, inputs: Any, kwargs: dict[str, Any]) -> None:
        """As the official SDK before a tuning job: a first-party estimator trained on
        RecordSets takes ``feature_dim`` from the train set and ``mini_batch_size`` from
        ``kwargs`` (or its default rule).

        Raises:
            TypeError: ``kwargs`` for an estimator that takes none.
        """
        if isinstance(estimator, AmazonAlgorithmEstimatorBase):
            if isinstance(inputs, RecordSet | list) or kwargs:
                estimator._prepare_for_training(inputs, **kwargs)
        elif kwargs:
            raise TypeError(
                f"{type(estimator).__name__} takes no training arguments ({sorted(kwargs)}); "
                "only first-party estimators take mini_batch_size."
            )

    def _job_name(self, job_name: str | None) -> str:
        if job_name is not None:
            return job_name
        base = self.base_tuning_job_name or base_name_from_image(
            self._targets()[0].estimator.training_image_uri()
        )
        return name_from_base(base, max_length=self.TUNING_JOB_NAME_MAX_LENGTH, short=True)

    def _static_hyperparameters(
        self, target: _Target, hyperparameters: dict[str, str], include_cls_metadata: bool
    ) -> tuple[dict[str, str], dict[str, str] | None]:
        """(StaticHyperParameters, AutoParameters) from the training request's
        hyperparameters."""
        static = {
            key: value for key, value in hyperparameters.items() if key not in (target.ranges or {})
        }
        if include_cls_metadata or isinstance(target.estimator, Framework):
            cls = type(target.estimator)
            static[CLASS_NAME_KEY] = json.dumps(cls.__name__)
            static[MODULE_KEY] = json.dumps(official_module(cls))
        if not self.autotune:
            return static, None
        keep = set(target.keep_static or [])
        if not keep <= set(static):
            raise ValueError(
                "Names in hyperparameters_to_keep_static must be members of estimator's "
                "hyperparameters."
            )
        auto = {key: value for key, value in static.items() if key not in keep}
        return {key: value for key, value in static.items() if key in keep}, auto

    def _tags(self) -> list[dict[str, str]] | None:
        tags = list(self.tags) if self.tags is not None else None
        for tag in self._targets()[0].estimator.tags or []:
            tags = tags if tags is not None else []
            if tag not in tags:
                tags.append(tag)
        return tags

    def _tuning_config(self, auto_parameters: dict[str, str] | None) -> dict[str, Any]:
        limits: dict[str, Any] = {"MaxParallelTrainingJobs": self.max_parallel_jobs}
        if self.max_jobs is not None:
            limits = {"MaxNumberOfTrainingJobs": self.max_jobs, **limits}
        if self.max_runtime_in_seconds is not None:
            limits["MaxRuntimeInSeconds"] = self.max_runtime_in_seconds
        config: dict[str, Any] = {
            "Strategy": self.strategy,
            "ResourceLimits": limits,
            "TrainingJobEarlyStoppingType": self.early_stopping_type,
        }
        if self.random_seed is not None:
            config["RandomSeed"] = self.random_seed
        if self.objective_metric_name is not None:
            config["HyperParameterTuningJobObjective"] = {
                "Type": self.objective_type,
                "MetricName": self.objective_metric_name,
            }
        ranges = self.hyperparameter_ranges()
        if ranges is not None:
            config["ParameterRanges"] = ranges
        if auto_parameters is not None:
            config.setdefault("ParameterRanges", {})["AutoParameters"] = auto_parameters_request(
                auto_parameters
            )
        if self.strategy_config is not None:
            config["StrategyConfig"] = config_request(self.strategy_config)
        if self.completion_criteria_config is not None:
            config["TuningJobCompletionCriteria"] = config_request(self.completion_criteria_config)
        return config

    def _definition(
        self,
        target: _Target,
        training: dict[str, Any],
        inputs: Any,
        static: dict[str, str],
        auto: dict[str, str] | None,
    ) -> dict[str, Any]:
        """The training job definition from the estimator's CreateTrainingJob request."""
        input_mode = training["AlgorithmSpecification"]["TrainingInputMode"]
        if isinstance(inputs, TrainingInput) and inputs.input_mode is not None:
            input_mode = inputs.input_mode  # as the official SDK: the lone channel's mode
        algorithm: dict[str, Any] = {"TrainingInputMode": input_mode}
        if target.metric_definitions is not None:
            algorithm["MetricDefinitions"] = target.metric_definitions
        algorithm["TrainingImage"] = training["AlgorithmSpecification"]["TrainingImage"]
        definition: dict[str, Any] = {
            "StaticHyperParameters": static,
            "RoleArn": training["RoleArn"],
            "OutputDataConfig": training["OutputDataConfig"],
            "StoppingCondition": training["StoppingCondition"],
            "HyperParameterTuningResourceConfig": training["ResourceConfig"],
            "AlgorithmSpecification": algorithm,
        }
        for key in ("InputDataConfig", "CheckpointConfig", "Environment"):
            if key in training:
                definition[key] = training[key]
        if target.name is not None:
            definition["DefinitionName"] = target.name
            definition["TuningObjective"] = {
                "Type": self.objective_type,
                "MetricName": target.objective_metric_name,
            }
            ranges = ranges_request(target.ranges or {}, isinstance(target.estimator, Framework))
            if auto is not None:
                ranges["AutoParameters"] = auto_parameters_request(auto)
            definition["HyperParameterRanges"] = ranges
        return definition

    def tuning_request(
        self,
        inputs: Any = None,
        job_name: str | None = None,
        include_cls_metadata: bool | dict[str, bool] = False,
        estimator_kwargs: dict[str, dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The CreateHyperParameterTuningJob request :meth:`fit` sends. Framework
        estimators upload their code here, as their ``fit`` would (to
        ``<bucket>/<job_name or a training job name>/source/sourcedir.tar.gz``);
        first-party estimators on RecordSets take their ``feature_dim`` and
        ``mini_batch_size`` here (``kwargs`` for one estimator, ``estimator_kwargs`` by
        name for several)."""
        targets = self._targets()
        named = self.estimator_dict is not None
        if named:
            for label, value in (
                ("inputs", inputs),
                ("include_cls_metadata", include_cls_metadata),
                ("estimator_kwargs", estimator_kwargs),
            ):
                if value is not None and not isinstance(value, bool | dict):
                    raise ValueError(f"{label} must be a dict of estimator name to value.")
                if isinstance(value, dict) and not set(value) <= set(self.estimator_dict):
                    raise ValueError(
                        f"{label} has names that are not estimators': "
                        f"{sorted(set(value) - set(self.estimator_dict))}."
                    )
        for target in targets:
            self._check(target)
        name = self._job_name(job_name)
        definitions, single_auto = [], None
        for target in targets:
            own_inputs = (inputs or {}).get(target.name) if named else inputs
            metadata = include_cls_metadata
            if isinstance(metadata, dict):
                metadata = metadata.get(target.name, False)
            estimator = target.estimator
            own_kwargs = (estimator_kwargs or {}).get(target.name, {}) if named else kwargs
            self._prepare_estimator(estimator, own_inputs, dict(own_kwargs))
            training = estimator._training_request(estimator._job_name(job_name), own_inputs)
            static, auto = self._static_hyperparameters(
                target, training.get("HyperParameters", {}), bool(metadata)
            )
            definitions.append(self._definition(target, training, own_inputs, static, auto))
            single_auto = auto
        request: dict[str, Any] = {
            "HyperParameterTuningJobName": name,
            "HyperParameterTuningJobConfig": self._tuning_config(None if named else single_auto),
        }
        if self.autotune:
            request["Autotune"] = {"Mode": "Enabled"}
        if named:
            request["TrainingJobDefinitions"] = definitions
        else:
            request["TrainingJobDefinition"] = definitions[0]
        if self.warm_start_config is not None:
            request["WarmStartConfig"] = self.warm_start_config.to_input_req()
        tags = self._tags()
        if tags is not None:
            request["Tags"] = tags
        return request

    # -- running ---------------------------------------------------------------------------


def _check_first_party_ranges(
    estimator: AmazonAlgorithmEstimatorBase, ranges: dict[str, ParameterRange]
) -> None:
    """Each bound (or categorical value) of a range over a declared hyperparameter must be
    a value the hyperparameter accepts, as the official SDK checks (``k`` from 1 is
    refused: k > 1).

    Raises:
        ValueError: the hyperparameter's message, naming the bad value.
    """
    declared = Hyperparameter.of(type(estimator))
    for name, parameter in ranges.items():
        hp = declared.get(name)
        if hp is None or parameter is None:
            continue
        values = getattr(parameter, "values", None)
        if values is None:
            values = [parameter.min_value, parameter.max_value]
        for value in values:
            hp.validate(hp.convert(value))
