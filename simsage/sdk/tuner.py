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
- A tuner of one estimator sends a ``TrainingJobDefinition`` (objective and ranges in
  the tuning job config); one made by :meth:`HyperparameterTuner.create` (or with
  ``estimator_name``) sends ``TrainingJobDefinitions``, in estimator-name order, each with
  its ``DefinitionName``, ``TuningObjective`` and ``HyperParameterRanges``.
"""

from __future__ import annotations

from typing import Any

from simsage.sdk.analytics import HyperparameterTuningJobAnalytics
from simsage.sdk.deserializers import BaseDeserializer
from simsage.sdk.estimator import Estimator
from simsage.sdk.framework import Framework
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
from simsage.sdk.tuner_config import (
    CLASS_NAME_KEY,
    MODULE_KEY,
    HyperbandStrategyConfig,
    StrategyConfig,
    TuningJobCompletionCriteriaConfig,
    WarmStartConfig,
    WarmStartTypes,
    estimator_from_definition,
    init_params,
    ranges_from_request,
)
from simsage.sdk.tuner_request import TuningRequest, _Target
from simsage.sdk.workflow.pipeline_context import runnable_by_pipeline

__all__ = [
    # The ranges are importable from here too, as notebooks import them from sagemaker.tuner.
    "CategoricalParameter",
    "ContinuousParameter",
    "HyperbandStrategyConfig",
    "HyperparameterTuner",
    "IntegerParameter",
    "ParameterRange",
    "StrategyConfig",
    "TuningJob",
    "TuningJobCompletionCriteriaConfig",
    "WarmStartConfig",
    "WarmStartTypes",
]

GRID = "Grid"


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


class HyperparameterTuner(TuningRequest):
    """Tune ``estimator``'s hyperparameters (or, with :meth:`create`, several estimators'
    in one tuning job).

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
    estimator_name:
        Name the estimator's training job definition (``TrainingJobDefinitions`` with
        one entry, as :meth:`create` makes).
    random_seed:
        Seeds the strategy's random choices.
    autotune, hyperparameters_to_keep_static:
        Let the service choose ranges for the estimator's hyperparameters (all but
        those kept static).
    """

    TUNING_JOB_NAME_MAX_LENGTH = 32
    SAGEMAKER_ESTIMATOR_MODULE = MODULE_KEY
    SAGEMAKER_ESTIMATOR_CLASS_NAME = CLASS_NAME_KEY

    def __init__(
        self,
        estimator: Estimator,
        objective_metric_name: str | None,
        hyperparameter_ranges: dict[str, ParameterRange] | None,
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
        estimator_name: str | None = None,
        random_seed: int | None = None,
        autotune: bool = False,
        hyperparameters_to_keep_static: list[str] | None = None,
    ) -> None:
        # One estimator (TrainingJobDefinition), or named ones (TrainingJobDefinitions),
        # kept as the official SDK keeps them: the single ones or the *_dict ones are None.
        self.estimator: Estimator | None = estimator
        self.objective_metric_name = objective_metric_name
        self._hyperparameter_ranges = hyperparameter_ranges
        self.metric_definitions = metric_definitions
        self.hyperparameters_to_keep_static = hyperparameters_to_keep_static
        self.estimator_dict: dict[str, Estimator] | None = None
        self.objective_metric_name_dict: dict[str, str] | None = None
        self._hyperparameter_ranges_dict: dict[str, dict[str, ParameterRange]] | None = None
        self.metric_definitions_dict: dict[str, list[dict[str, str]]] | None = None
        self.hyperparameters_to_keep_static_dict: dict[str, list[str]] | None = None
        if estimator_name is not None:
            self.estimator, self.objective_metric_name = None, None
            self._hyperparameter_ranges, self.metric_definitions = None, None
            self.hyperparameters_to_keep_static = None
            self.estimator_dict = {estimator_name: estimator}
            self.objective_metric_name_dict = {estimator_name: objective_metric_name}
            self._hyperparameter_ranges_dict = {estimator_name: hyperparameter_ranges}
            self.metric_definitions_dict = (
                {estimator_name: metric_definitions} if metric_definitions is not None else {}
            )
            self.hyperparameters_to_keep_static_dict = {
                estimator_name: hyperparameters_to_keep_static
            }
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
        self.latest_tuning_job: TuningJob | None = None
        self._current_job_name: str | None = None

    @classmethod
    def create(
        cls,
        estimator_dict: dict[str, Estimator],
        objective_metric_name_dict: dict[str, str],
        hyperparameter_ranges_dict: dict[str, dict[str, ParameterRange]],
        metric_definitions_dict: dict[str, list[dict[str, str]]] | None = None,
        base_tuning_job_name: str | None = None,
        strategy: str = "Bayesian",
        strategy_config: StrategyConfig | dict[str, Any] | None = None,
        completion_criteria_config: TuningJobCompletionCriteriaConfig
        | dict[str, Any]
        | None = None,
        objective_type: str = "Maximize",
        max_jobs: int | None = None,
        max_parallel_jobs: int = 1,
        max_runtime_in_seconds: int | None = None,
        tags: list[dict[str, str]] | None = None,
        warm_start_config: WarmStartConfig | None = None,
        early_stopping_type: str = "Off",
        random_seed: int | None = None,
        autotune: bool = False,
        hyperparameters_to_keep_static_dict: dict[str, list[str]] | None = None,
    ) -> HyperparameterTuner:
        """A tuner of several estimators (``TrainingJobDefinitions``, one per name of
        ``estimator_dict``, in name order), each with its objective metric, ranges and
        metric definitions under the same name; the budget and strategy are shared.
        ``fit`` then takes the inputs (and ``include_cls_metadata``) by name too.

        Raises:
            ValueError: the dicts' names are not the estimators' names.
        """
        if not estimator_dict:
            raise ValueError("estimator_dict must not be empty.")
        names = set(estimator_dict)
        for label, value in (
            ("objective_metric_name_dict", objective_metric_name_dict),
            ("hyperparameter_ranges_dict", hyperparameter_ranges_dict),
        ):
            if set(value or {}) != names:
                raise ValueError(
                    f"{label} must have exactly the names of estimator_dict "
                    f"({sorted(names)}); got {sorted(value or {})}."
                )
        for label, value in (
            ("metric_definitions_dict", metric_definitions_dict),
            ("hyperparameters_to_keep_static_dict", hyperparameters_to_keep_static_dict),
        ):
            if not set(value or {}) <= names:
                raise ValueError(
                    f"{label} has names that estimator_dict has not: "
                    f"{sorted(set(value or {}) - names)}."
                )
        first = sorted(estimator_dict)[0]
        tuner = cls(
            estimator_dict[first],
            objective_metric_name_dict[first],
            hyperparameter_ranges_dict[first],
            (metric_definitions_dict or {}).get(first),
            strategy=strategy,
            objective_type=objective_type,
            max_jobs=max_jobs,
            max_parallel_jobs=max_parallel_jobs,
            max_runtime_in_seconds=max_runtime_in_seconds,
            tags=tags,
            base_tuning_job_name=base_tuning_job_name,
            warm_start_config=warm_start_config,
            strategy_config=strategy_config,
            completion_criteria_config=completion_criteria_config,
            early_stopping_type=early_stopping_type,
            estimator_name=first,
            random_seed=random_seed,
            autotune=autotune,
            hyperparameters_to_keep_static=(hyperparameters_to_keep_static_dict or {}).get(first),
        )
        tuner.estimator_dict = dict(estimator_dict)
        tuner.objective_metric_name_dict = dict(objective_metric_name_dict)
        tuner._hyperparameter_ranges_dict = dict(hyperparameter_ranges_dict)
        tuner.metric_definitions_dict = dict(metric_definitions_dict or {})
        tuner.hyperparameters_to_keep_static_dict = dict(hyperparameters_to_keep_static_dict or {})
        return tuner

    def _targets(self) -> list[_Target]:
        if self.estimator_dict is None:
            return [
                _Target(
                    None,
                    self.estimator,
                    self.objective_metric_name,
                    self._hyperparameter_ranges,
                    self.metric_definitions,
                    self.hyperparameters_to_keep_static,
                )
            ]
        return [
            _Target(
                name,
                self.estimator_dict[name],
                self.objective_metric_name_dict[name],
                self._hyperparameter_ranges_dict[name],
                self.metric_definitions_dict.get(name),
                (self.hyperparameters_to_keep_static_dict or {}).get(name),
            )
            for name in sorted(self.estimator_dict)
        ]

    @property
    def sagemaker_session(self) -> Session:
        """The (first, by name) estimator's session."""
        return self._targets()[0].estimator.sagemaker_session

    @runnable_by_pipeline
    def fit(
        self,
        inputs: Any = None,
        job_name: str | None = None,
        include_cls_metadata: bool | dict[str, bool] = False,
        estimator_kwargs: dict[str, dict[str, Any]] | None = None,
        wait: bool = True,
        **kwargs: Any,
    ) -> None:
        """Start a tuning job on ``inputs`` (as the estimator's ``fit`` takes them; by
        estimator name for a tuner of several) and, by default, wait for it, showing its
        progress.

        Parameters
        ----------
        job_name:
            The tuning job's name (default ``<base>-<yymmdd-HHMM>``).
        include_cls_metadata:
            Name the estimator class in the static hyperparameters (always done for
            framework estimators) so :meth:`attach` rebuilds the same class.
        estimator_kwargs, **kwargs:
            For first-party estimators (``KMeans``, ``LinearLearner`` …) on a
            :class:`~simsage.sdk.amazon.RecordSet` or a list of them:
            ``mini_batch_size=…`` (by estimator name in ``estimator_kwargs`` for a tuner
            of several), as their ``fit`` takes it.

        Raises
        ------
        ValueError, TypeError
            The tuner's settings do not make a tuning job (nothing was sent).
        botocore.exceptions.ClientError
            The service refused the request (ValidationException says why).
        UnexpectedStatusException
            With ``wait``, the tuning job Failed.
        """
        request = self.tuning_request(
            inputs, job_name, include_cls_metadata, estimator_kwargs, **kwargs
        )
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
        """An estimator (of the class of the estimator that made it) attached to the best
        training job, whose model it deploys."""
        best = best_training_job or self._get_best_training_job()
        if self.estimator_dict is None:
            estimator = self.estimator
        else:
            estimator = self.estimator_dict[best["TrainingJobDefinitionName"]]
        return type(estimator).attach(best["TrainingJobName"], self.sagemaker_session)

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
        estimator_cls: str | type[Estimator] | dict[str, str | type[Estimator]] | None = None,
    ) -> HyperparameterTuner:
        """A tuner (and its estimators) rebuilt from tuning job ``tuning_job_name``, e.g.
        one started by another notebook, to wait for it, read its results or deploy its
        best model.

        An estimator's class is ``estimator_cls`` (a class or ``"module.Class"``; by
        definition name for a job of several definitions), else the one the job's static
        hyperparameters name (simsage's or the official SDK's ``Estimator``,
        ``SKLearn``, ``XGBoost`` map to simsage's), else :class:`Estimator`.
        """
        session = sagemaker_session or Session()
        described = job_details or session.describe_tuning_job(tuning_job_name)
        if "TrainingJobDefinition" in described:
            definition = described["TrainingJobDefinition"]
            estimator = estimator_from_definition(definition, estimator_cls, session)
            tuner = cls(
                estimator,
                **init_params(described, definition, isinstance(estimator, Framework)),
            )
        else:
            classes = estimator_cls if isinstance(estimator_cls, dict) else {}
            estimators, objectives, ranges, metrics = {}, {}, {}, {}
            for definition in described["TrainingJobDefinitions"]:
                name = definition["DefinitionName"]
                estimators[name] = estimator_from_definition(definition, classes.get(name), session)
                objectives[name] = definition["TuningObjective"]["MetricName"]
                framework = isinstance(estimators[name], Framework)
                ranges[name] = ranges_from_request(
                    definition.get("HyperParameterRanges", {}), framework
                )
                metric_definitions = definition["AlgorithmSpecification"].get("MetricDefinitions")
                if metric_definitions is not None:
                    metrics[name] = metric_definitions
            first = described["TrainingJobDefinitions"][0]
            params = init_params(described, first, False)
            for key in ("hyperparameter_ranges", "metric_definitions", "objective_metric_name"):
                params.pop(key)
            tuner = cls.create(estimators, objectives, ranges, metrics, **params)
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
        shared = {
            "strategy": self.strategy,
            "objective_type": self.objective_type,
            "max_jobs": self.max_jobs,
            "max_parallel_jobs": self.max_parallel_jobs,
            "max_runtime_in_seconds": self.max_runtime_in_seconds,
            "warm_start_config": WarmStartConfig(warm_start_type, parents),
            "strategy_config": self.strategy_config,
            "completion_criteria_config": self.completion_criteria_config,
            "early_stopping_type": self.early_stopping_type,
            "random_seed": self.random_seed,
        }
        if self.estimator_dict is None:
            return HyperparameterTuner(
                estimator=estimator or self.estimator,
                objective_metric_name=self.objective_metric_name,
                hyperparameter_ranges=self._hyperparameter_ranges,
                metric_definitions=self.metric_definitions,
                **shared,
            )
        if len(self.estimator_dict) > 1:
            raise ValueError(
                "Warm start is not supported currently for tuners with multiple estimators"
            )
        estimators = dict(self.estimator_dict)
        if estimator is not None:
            estimators = {name: estimator for name in estimators}
        return HyperparameterTuner.create(
            estimators,
            self.objective_metric_name_dict,
            self._hyperparameter_ranges_dict,
            self.metric_definitions_dict,
            **shared,
        )
