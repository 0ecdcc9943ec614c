"""Hyperparameter tuning: ``HyperparameterTuner`` runs an estimator's training job many
times over hyperparameter ranges and keeps the best by an objective metric. Names and
meanings are the official SDK v2's (``sagemaker.tuner``):

    tuner = HyperparameterTuner(
        xgb, "validation:auc",
        {"eta": ContinuousParameter(0.05, 0.5), "max_depth": IntegerParameter(2, 8)},
        strategy="Random", max_jobs=8, max_parallel_jobs=2,
    )
    tuner.fit({"train": train, "validation": validation})
    tuner.best_training_job()            # "<tuning job>-003-1a2b3c4d"
    tuner.analytics().dataframe()        # one row per training job
    predictor = tuner.deploy(1, "ml.m5.large")

Layer: SDK, on the boto3 ``sagemaker`` (and, for framework code, ``s3``) clients only, so
the same code runs on simsage and on AWS.

Invariants:

- The constructor stores its arguments; ``fit`` checks them, then sends exactly one
  CreateHyperParameterTuningJob — the request the official SDK v2 sends for the same
  estimator and arguments (tests/unit/test_sdk_tuner.py compares the two).
- The training job definition is the estimator's CreateTrainingJob request reshaped
  (one code path): its hyperparameters minus the tuned ones become
  ``StaticHyperParameters`` (framework estimators' JSON-encoded values and ``sagemaker_*``
  keys included, plus the estimator class for ``attach``), its ``ResourceConfig`` the
  ``HyperParameterTuningResourceConfig``; ``MetricDefinitions`` are the tuner's.
- Tuning job names are ``<base[:20]>-<yymmdd-HHMM>`` (32 characters at most), the base
  being ``base_tuning_job_name`` or the training image's repository name.
- One training job definition (``TrainingJobDefinition``) per tuner; tuning jobs with
  several (``TrainingJobDefinitions``, the official SDK's ``create()``) are not built or
  attached here yet.
"""

from __future__ import annotations

import copy
import importlib
import json
from enum import Enum
from typing import Any

from simsage.sdk.analytics import HyperparameterTuningJobAnalytics
from simsage.sdk.deserializers import BaseDeserializer
from simsage.sdk.estimator import Estimator
from simsage.sdk.framework import Framework
from simsage.sdk.inputs import TrainingInput
from simsage.sdk.model_monitor import DataCaptureConfig
from simsage.sdk.parameter import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    ParameterRange,
)
from simsage.sdk.predictor import Predictor
from simsage.sdk.progress import TuningProgress
from simsage.sdk.serializers import BaseSerializer
from simsage.sdk.session import Session
from simsage.sdk.utils import base_from_name, base_name_from_image, name_from_base

__all__ = [
    "HyperbandStrategyConfig",
    "HyperparameterTuner",
    "StrategyConfig",
    "TuningJob",
    "TuningJobCompletionCriteriaConfig",
    "WarmStartConfig",
    "WarmStartTypes",
]

RANGE_KINDS = ("Continuous", "Categorical", "Integer")  # the order the official SDK sends
GRID = "Grid"

# The official SDK's estimator classes, as the estimator metadata hyperparameters name
# them, and simsage's: a tuning job made by either SDK attaches in both.
_OFFICIAL_CLASSES = {
    ("sagemaker.estimator", "Estimator"): ("simsage.sdk.estimator", "Estimator"),
    ("sagemaker.sklearn.estimator", "SKLearn"): ("simsage.sdk.sklearn", "SKLearn"),
    ("sagemaker.xgboost.estimator", "XGBoost"): ("simsage.sdk.xgboost", "XGBoost"),
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


class TuningJob:
    """The tuning job a tuner started (``tuner.latest_tuning_job``)."""

    def __init__(self, sagemaker_session: Session, name: str) -> None:
        self.sagemaker_session = sagemaker_session
        self.name = name

    @property
    def job_name(self) -> str:
        return self.name

    def describe(self) -> dict[str, Any]:
        return self.sagemaker_session.describe_tuning_job(self.name)

    def wait(self, poll: float | None = None) -> dict[str, Any]:
        """Wait for the tuning job to end, showing its progress; returns its description.

        Raises:
            UnexpectedStatusException: the tuning job Failed.
        """
        progress = TuningProgress()
        try:
            return self.sagemaker_session.wait_for_tuning_job(self.name, poll, progress)
        finally:
            progress.close()

    def stop(self) -> None:
        self.sagemaker_session.stop_tuning_job(self.name)


class HyperparameterTuner:
    """Tune ``estimator``'s hyperparameters.

    Parameters
    ----------
    estimator:
        The training job to repeat (an :class:`Estimator`, or a framework estimator such
        as :class:`~simsage.sdk.sklearn.SKLearn`); it need not have been fitted.
    objective_metric_name:
        The metric to optimise: a built-in algorithm's (``validation:auc``) or one of
        ``metric_definitions``.
    hyperparameter_ranges:
        Hyperparameter name → :class:`ContinuousParameter`, :class:`IntegerParameter` or
        :class:`CategoricalParameter`.
    metric_definitions:
        ``[{"Name", "Regex"}]`` read from the training logs (for your own scripts and
        images; the built-in algorithms have theirs). The estimator's own are not used.
    strategy:
        ``Bayesian`` (default), ``Random``, ``Hyperband`` or ``Grid`` (categorical ranges
        only).
    objective_type:
        ``Maximize`` (default) or ``Minimize``.
    max_jobs, max_parallel_jobs:
        How many training jobs in all (default 1; for Grid, every combination) and at once
        (default 1).
    max_runtime_in_seconds:
        The tuning job's own time limit.
    tags:
        The tuning job's tags (the estimator's are added).
    base_tuning_job_name:
        The job names' prefix (default: the training image's repository name).
    warm_start_config, strategy_config, completion_criteria_config:
        :class:`WarmStartConfig`, :class:`StrategyConfig`,
        :class:`TuningJobCompletionCriteriaConfig` (or their request dicts).
    early_stopping_type:
        ``Off`` (default) or ``Auto`` (stop jobs that do worse than the median so far).
    random_seed:
        Seeds the strategy's random choices.
    autotune, hyperparameters_to_keep_static:
        Let the service choose ranges for the estimator's hyperparameters (all but
        those kept static).
    """

    TUNING_JOB_NAME_MAX_LENGTH = 32
    SAGEMAKER_ESTIMATOR_MODULE = "sagemaker_estimator_module"
    SAGEMAKER_ESTIMATOR_CLASS_NAME = "sagemaker_estimator_class_name"

    def __init__(
        self,
        estimator: Estimator,
        objective_metric_name: str,
        hyperparameter_ranges: dict[str, ParameterRange],
        metric_definitions: list[dict[str, str]] | None = None,
        strategy: str = "Bayesian",
        objective_type: str = "Maximize",
        max_jobs: int | None = None,
        max_parallel_jobs: int = 1,
        max_runtime_in_seconds: int | None = None,
        tags: list[dict[str, str]] | None = None,
        base_tuning_job_name: str | None = None,
        warm_start_config: WarmStartConfig | None = None,
        strategy_config: StrategyConfig | dict[str, Any] | None = None,
        completion_criteria_config: TuningJobCompletionCriteriaConfig
        | dict[str, Any]
        | None = None,
        early_stopping_type: str = "Off",
        random_seed: int | None = None,
        autotune: bool = False,
        hyperparameters_to_keep_static: list[str] | None = None,
    ) -> None:
        self.estimator = estimator
        self.objective_metric_name = objective_metric_name
        self._hyperparameter_ranges = hyperparameter_ranges
        self.metric_definitions = metric_definitions
        self.strategy = strategy
        self.objective_type = objective_type
        # The official SDK's default: one job, except for Grid (every combination).
        self.max_jobs = 1 if max_jobs is None and strategy != GRID else max_jobs
        self.max_parallel_jobs = max_parallel_jobs
        self.max_runtime_in_seconds = max_runtime_in_seconds
        self.tags = tags
        self.base_tuning_job_name = base_tuning_job_name
        self.warm_start_config = warm_start_config
        self.strategy_config = strategy_config
        self.completion_criteria_config = completion_criteria_config
        self.early_stopping_type = early_stopping_type
        self.random_seed = random_seed
        self.autotune = autotune
        self.hyperparameters_to_keep_static = hyperparameters_to_keep_static
        self.latest_tuning_job: TuningJob | None = None
        self._current_job_name: str | None = None

    @property
    def sagemaker_session(self) -> Session:
        """The estimator's session."""
        return self.estimator.sagemaker_session

    # -- the request -----------------------------------------------------------------------
    def hyperparameter_ranges(self) -> dict[str, list[dict[str, Any]]] | None:
        """The request's ``ParameterRanges``: every kind's list (empty ones too), the
        categorical values JSON-encoded for framework estimators (whose images decode
        every hyperparameter)."""
        if self._hyperparameter_ranges is None:
            return None
        framework = isinstance(self.estimator, Framework)
        ranges: dict[str, list[dict[str, Any]]] = {}
        for kind in RANGE_KINDS:
            ranges[f"{kind}ParameterRanges"] = [
                parameter.as_json_range(name)
                if framework and isinstance(parameter, CategoricalParameter)
                else parameter.as_tuning_range(name)
                for name, parameter in self._hyperparameter_ranges.items()
                if parameter is not None and kind == parameter.KIND
            ]
        return ranges

    def _check(self) -> None:
        if not self._hyperparameter_ranges and not self.autotune:
            raise ValueError("Need to specify hyperparameter ranges or set autotune=True.")
        keep = self.hyperparameters_to_keep_static
        if keep is not None and not self.autotune:
            raise ValueError(
                "hyperparameters_to_keep_static parameter is set, however Autotune mode is "
                "not enabled. Either do not set value for hyperparameters_to_keep_static "
                "parameter, or enable Autotune mode by setting autotune=True."
            )
        if keep is not None and len(keep) != len(set(keep)):
            raise ValueError("Please remove duplicate names in hyperparameters_to_keep_static.")
        for name, parameter in (self._hyperparameter_ranges or {}).items():
            if parameter is not None and not isinstance(parameter, ParameterRange):
                raise TypeError(
                    f"hyperparameter_ranges[{name!r}] must be a ContinuousParameter, "
                    f"IntegerParameter or CategoricalParameter; got {type(parameter).__name__}"
                )

    def _job_name(self, job_name: str | None) -> str:
        if job_name is not None:
            return job_name
        base = self.base_tuning_job_name or base_name_from_image(
            self.estimator.training_image_uri()
        )
        return name_from_base(base, max_length=self.TUNING_JOB_NAME_MAX_LENGTH, short=True)

    def _static_hyperparameters(
        self, hyperparameters: dict[str, str], include_cls_metadata: bool
    ) -> tuple[dict[str, str], dict[str, str] | None]:
        """(StaticHyperParameters, AutoParameters) from the training request's
        hyperparameters."""
        static = {
            key: value
            for key, value in hyperparameters.items()
            if key not in (self._hyperparameter_ranges or {})
        }
        if include_cls_metadata or isinstance(self.estimator, Framework):
            cls = type(self.estimator)
            module = _OFFICIAL_MODULES.get((cls.__module__, cls.__name__), cls.__module__)
            static[self.SAGEMAKER_ESTIMATOR_CLASS_NAME] = json.dumps(cls.__name__)
            static[self.SAGEMAKER_ESTIMATOR_MODULE] = json.dumps(module)
        if not self.autotune:
            return static, None
        keep = set(self.hyperparameters_to_keep_static or [])
        if not keep <= set(static):
            raise ValueError(
                "Names in hyperparameters_to_keep_static must be members of estimator's "
                "hyperparameters."
            )
        auto = {key: value for key, value in static.items() if key not in keep}
        return {key: value for key, value in static.items() if key in keep}, auto

    def _tags(self) -> list[dict[str, str]] | None:
        tags = list(self.tags) if self.tags is not None else None
        for tag in self.estimator.tags or []:
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
            config.setdefault("ParameterRanges", {})["AutoParameters"] = [
                {"Name": name, "ValueHint": value} for name, value in auto_parameters.items()
            ]
        if self.strategy_config is not None:
            config["StrategyConfig"] = _request(self.strategy_config)
        if self.completion_criteria_config is not None:
            config["TuningJobCompletionCriteria"] = _request(self.completion_criteria_config)
        return config

    def _definition(
        self, training: dict[str, Any], inputs: Any, static: dict[str, str]
    ) -> dict[str, Any]:
        """The TrainingJobDefinition from the estimator's CreateTrainingJob request."""
        input_mode = training["AlgorithmSpecification"]["TrainingInputMode"]
        if isinstance(inputs, TrainingInput) and inputs.input_mode is not None:
            input_mode = inputs.input_mode  # as the official SDK: the lone channel's mode
        algorithm: dict[str, Any] = {"TrainingInputMode": input_mode}
        if self.metric_definitions is not None:
            algorithm["MetricDefinitions"] = self.metric_definitions
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
        return definition

    def tuning_request(
        self, inputs: Any = None, job_name: str | None = None, include_cls_metadata: bool = False
    ) -> dict[str, Any]:
        """The CreateHyperParameterTuningJob request :meth:`fit` sends. Framework
        estimators upload their code here, as their ``fit`` would (to
        ``<bucket>/<job_name or a training job name>/source/sourcedir.tar.gz``)."""
        self._check()
        name = self._job_name(job_name)
        estimator = self.estimator
        training = estimator._training_request(estimator._job_name(job_name), inputs)
        static, auto = self._static_hyperparameters(
            training.get("HyperParameters", {}), include_cls_metadata
        )
        request: dict[str, Any] = {
            "HyperParameterTuningJobName": name,
            "HyperParameterTuningJobConfig": self._tuning_config(auto),
        }
        if self.autotune:
            request["Autotune"] = {"Mode": "Enabled"}
        request["TrainingJobDefinition"] = self._definition(training, inputs, static)
        if self.warm_start_config is not None:
            request["WarmStartConfig"] = self.warm_start_config.to_input_req()
        tags = self._tags()
        if tags is not None:
            request["Tags"] = tags
        return request

    # -- running ---------------------------------------------------------------------------
    def fit(
        self,
        inputs: Any = None,
        job_name: str | None = None,
        include_cls_metadata: bool = False,
        wait: bool = True,
    ) -> None:
        """Start a tuning job on ``inputs`` (as the estimator's ``fit`` takes them) and,
        by default, wait for it, showing its progress.

        Parameters
        ----------
        job_name:
            The tuning job's name (default ``<base>-<yymmdd-HHMM>``).
        include_cls_metadata:
            Name the estimator class in the static hyperparameters (always done for
            framework estimators) so :meth:`attach` rebuilds the same class.

        Raises
        ------
        ValueError, TypeError
            The tuner's settings do not make a tuning job (nothing was sent).
        botocore.exceptions.ClientError
            The service refused the request (ValidationException says why).
        UnexpectedStatusException
            With ``wait``, the tuning job Failed.
        """
        request = self.tuning_request(inputs, job_name, include_cls_metadata)
        name = request["HyperParameterTuningJobName"]
        self.sagemaker_session.sagemaker_client.create_hyper_parameter_tuning_job(**request)
        self._current_job_name = name
        self.latest_tuning_job = TuningJob(self.sagemaker_session, name)
        if wait:
            self.latest_tuning_job.wait()

    def _ensure_last_tuning_job(self) -> TuningJob:
        if self.latest_tuning_job is None:
            raise ValueError("No tuning job available: call fit() (or attach()) first.")
        return self.latest_tuning_job

    def wait(self) -> dict[str, Any]:
        """Wait for the latest tuning job to end; returns its description."""
        return self._ensure_last_tuning_job().wait()

    def describe(self) -> dict[str, Any]:
        """The latest tuning job's DescribeHyperParameterTuningJob answer."""
        return self._ensure_last_tuning_job().describe()

    def stop_tuning_job(self) -> None:
        """Stop the latest tuning job (and its running training jobs)."""
        self._ensure_last_tuning_job().stop()

    # -- results ---------------------------------------------------------------------------
    def _get_best_training_job(self) -> dict[str, Any]:
        job = self._ensure_last_tuning_job()
        best = job.describe().get("BestTrainingJob")
        if best is None:
            raise ValueError(f"Best training job not available for tuning job: {job.name}")
        return best

    def best_training_job(self) -> str:
        """The name of the latest tuning job's best training job so far.

        Raises:
            ValueError: no training job has reported an objective value yet.
        """
        return self._get_best_training_job()["TrainingJobName"]

    def best_estimator(self, best_training_job: dict[str, Any] | None = None) -> Estimator:
        """An estimator (of the tuner's estimator class) attached to the best training
        job, whose model it deploys."""
        best = best_training_job or self._get_best_training_job()
        return type(self.estimator).attach(best["TrainingJobName"], self.sagemaker_session)

    def deploy(
        self,
        initial_instance_count: int = 1,
        instance_type: str = "ml.m5.large",
        serializer: BaseSerializer | None = None,
        deserializer: BaseDeserializer | None = None,
        endpoint_name: str | None = None,
        wait: bool = True,
        model_name: str | None = None,
        data_capture_config: DataCaptureConfig | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> Predictor:
        """Deploy the best training job's model, as its estimator's ``deploy`` does; the
        endpoint is named after the training job unless ``endpoint_name`` is given."""
        best = self._get_best_training_job()
        return self.best_estimator(best).deploy(
            initial_instance_count=initial_instance_count,
            instance_type=instance_type,
            serializer=serializer,
            deserializer=deserializer,
            endpoint_name=endpoint_name or best["TrainingJobName"],
            model_name=model_name,
            wait=wait,
            data_capture_config=data_capture_config,
            tags=tags,
        )

    def analytics(self) -> HyperparameterTuningJobAnalytics:
        """The latest tuning job's training jobs as a dataframe (``.dataframe()``)."""
        job = self._ensure_last_tuning_job()
        return HyperparameterTuningJobAnalytics(job.name, self.sagemaker_session)

    # -- from an existing tuning job -------------------------------------------------------
    @classmethod
    def attach(
        cls,
        tuning_job_name: str,
        sagemaker_session: Session | None = None,
        job_details: dict[str, Any] | None = None,
        estimator_cls: str | type[Estimator] | None = None,
    ) -> HyperparameterTuner:
        """A tuner (and its estimator) rebuilt from tuning job ``tuning_job_name``, e.g.
        one started by another notebook, to wait for it, read its results or deploy its
        best model.

        The estimator class is ``estimator_cls`` (a class or ``"module.Class"``), else the
        one the job's static hyperparameters name (simsage's or the official SDK's
        ``Estimator``, ``SKLearn``, ``XGBoost`` map to simsage's), else :class:`Estimator`.

        Raises:
            ValueError: the job has several training job definitions.
        """
        session = sagemaker_session or Session()
        described = job_details or session.describe_tuning_job(tuning_job_name)
        if "TrainingJobDefinition" not in described:
            raise ValueError(
                f"Tuning job {tuning_job_name} has several training job definitions "
                "(TrainingJobDefinitions): simsage's SDK attaches tuning jobs of one."
            )
        definition = copy.deepcopy(described["TrainingJobDefinition"])
        static = definition.get("StaticHyperParameters", {})
        static.pop("_tuning_objective_metric", None)
        estimator_class = _estimator_class(estimator_cls, static)
        resources = definition.get("HyperParameterTuningResourceConfig") or definition.get(
            "ResourceConfig"
        )
        shaped = {**definition, "HyperParameters": static, "ResourceConfig": resources}
        estimator = estimator_class._from_description(shaped, session)
        tuner = cls(estimator, **_init_params(described, isinstance(estimator, Framework)))
        tuner.autotune = described.get("Autotune", {}).get("Mode") == "Enabled"
        tuner.latest_tuning_job = TuningJob(session, tuning_job_name)
        tuner._current_job_name = tuning_job_name
        return tuner

    # -- warm start ------------------------------------------------------------------------
    def transfer_learning_tuner(
        self, additional_parents: set[str] | None = None, estimator: Estimator | None = None
    ) -> HyperparameterTuner:
        """A new tuner like this one, warm-started (TransferLearning) from the latest
        tuning job and ``additional_parents``; ``estimator`` may replace the estimator."""
        return self._warm_start_tuner(
            additional_parents, WarmStartTypes.TRANSFER_LEARNING, estimator
        )

    def identical_dataset_and_algorithm_tuner(
        self, additional_parents: set[str] | None = None
    ) -> HyperparameterTuner:
        """A new tuner like this one, warm-started (IdenticalDataAndAlgorithm) from the
        latest tuning job and ``additional_parents``."""
        return self._warm_start_tuner(
            additional_parents, WarmStartTypes.IDENTICAL_DATA_AND_ALGORITHM, None
        )

    def _warm_start_tuner(
        self,
        additional_parents: set[str] | None,
        warm_start_type: WarmStartTypes,
        estimator: Estimator | None,
    ) -> HyperparameterTuner:
        parents = {self._ensure_last_tuning_job().name} | set(additional_parents or ())
        return HyperparameterTuner(
            estimator=estimator or self.estimator,
            objective_metric_name=self.objective_metric_name,
            hyperparameter_ranges=self._hyperparameter_ranges,
            metric_definitions=self.metric_definitions,
            strategy=self.strategy,
            objective_type=self.objective_type,
            max_jobs=self.max_jobs,
            max_parallel_jobs=self.max_parallel_jobs,
            max_runtime_in_seconds=self.max_runtime_in_seconds,
            warm_start_config=WarmStartConfig(warm_start_type, parents),
            strategy_config=self.strategy_config,
            completion_criteria_config=self.completion_criteria_config,
            early_stopping_type=self.early_stopping_type,
            random_seed=self.random_seed,
        )


def _request(config: Any) -> dict[str, Any]:
    """A config object's request part (a dict is the request part already)."""
    return config if isinstance(config, dict) else config.to_input_req()


def _estimator_class(
    estimator_cls: str | type[Estimator] | None, static: dict[str, str]
) -> type[Estimator]:
    if isinstance(estimator_cls, type):
        return estimator_cls
    if isinstance(estimator_cls, str):
        module, _, name = estimator_cls.rpartition(".")
    elif (
        HyperparameterTuner.SAGEMAKER_ESTIMATOR_CLASS_NAME in static
        and HyperparameterTuner.SAGEMAKER_ESTIMATOR_MODULE in static
    ):
        module = json.loads(static[HyperparameterTuner.SAGEMAKER_ESTIMATOR_MODULE])
        name = json.loads(static[HyperparameterTuner.SAGEMAKER_ESTIMATOR_CLASS_NAME])
    else:
        return Estimator
    module, name = _OFFICIAL_CLASSES.get((module, name), (module, name))
    return getattr(importlib.import_module(module), name)


def _init_params(described: dict[str, Any], framework: bool) -> dict[str, Any]:
    """The tuner's constructor arguments from a DescribeHyperParameterTuningJob answer."""
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
        "metric_definitions": described["TrainingJobDefinition"]["AlgorithmSpecification"].get(
            "MetricDefinitions"
        ),
        "hyperparameter_ranges": _ranges(config.get("ParameterRanges", {}), framework),
        "objective_metric_name": None,
    }
    objective = config.get("HyperParameterTuningJobObjective")
    if objective is not None:
        params["objective_metric_name"] = objective["MetricName"]
        params["objective_type"] = objective["Type"]
    if "TuningJobCompletionCriteria" in config:
        params["completion_criteria_config"] = TuningJobCompletionCriteriaConfig.from_job_desc(
            config["TuningJobCompletionCriteria"]
        )
    if "StrategyConfig" in config:
        params["strategy_config"] = StrategyConfig.from_job_desc(config["StrategyConfig"])
    return params


def _ranges(parameter_ranges: dict[str, Any], framework: bool) -> dict[str, ParameterRange]:
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
