"""Checks of a CreateHyperParameterTuningJob request beyond botocore's model, as
SageMaker makes them (CONTRACTS part 2 §1), each refused with a message that says what
to do.

Layer: tuning (pure functions of the request, plus the parent tuning jobs a warm start
names, read by the caller).

What is checked: one of TrainingJobDefinition / TrainingJobDefinitions; an objective
for every definition (the same metric and direction across definitions); the ranges
(:func:`simsage.tuning.ranges.parse_ranges`); a hyperparameter never both static and
tuned; at most 100 hyperparameters with ``_tuning_objective_metric``; the objective
metric among the definition's MetricDefinitions (or the built-in algorithm's); the
limits (750 jobs, 10 000 for Random; 10 in parallel); Grid's categorical-only space and
its job count; Hyperband's early stopping (Off) and resources (MaxResource from the
static ``epochs``-like hyperparameters when not given, at most 20000); warm start
parents (at most 5, terminal, the same objective and hyperparameters, and for
IdenticalDataAndAlgorithm the same image and data).
"""

from __future__ import annotations

from typing import Any

from simsage.errors import ValidationException
from simsage.runtime.images import builtin_metric_definitions
from simsage.runtime.metrics import MetricDefinitionError, compile_definitions
from simsage.store.registry import ResourceLimitExceeded
from simsage.tuning.definitions import OBJECTIVE_KEY, Definition, child_request, definitions
from simsage.tuning.jobs import TERMINAL, TuningJob

MAX_JOBS = 750
MAX_JOBS_RANDOM = 10000
MAX_PARALLEL = 10
MAX_HYPERPARAMETERS = 100
MAX_PARENTS = 5
MAX_WARM_START_CHANGES = 10


def _ranges(definition: Definition):
    from simsage.tuning.ranges import parse_ranges

    try:
        return parse_ranges(definition.ranges)
    except ValueError as exc:
        raise ValidationException(f"{definition.where}: {exc}") from None


def _metric_names(definition: Definition) -> list[str]:
    algorithm = definition.body.get("AlgorithmSpecification") or {}
    given = algorithm.get("MetricDefinitions") or []
    if given:
        return [d["Name"] for d in given]
    spec = child_request(definition, "x", {})
    return [d["Name"] for d in builtin_metric_definitions(algorithm.get("TrainingImage", ""), spec)]


def hyperband_resources(spec: dict[str, Any], definition: Definition) -> tuple[int, int]:
    """``(MinResource, MaxResource)`` of a Hyperband request, MaxResource inferred from
    the definition's static ``epochs``-like hyperparameters when the request leaves it
    out (:func:`simsage.tuning.hyperband.hyperband_resources`).

    Raises:
        ValidationException: no MaxResource and no such hyperparameter, or out of range.
    """
    from simsage.tuning.hyperband import EPOCH_HYPERPARAMETERS
    from simsage.tuning.hyperband import hyperband_resources as resources

    config = spec["HyperParameterTuningJobConfig"]
    given = (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig")
    if (given or {}).get("MaxResource") is None and not any(
        key in definition.static for key in EPOCH_HYPERPARAMETERS
    ):
        # SageMaker's words (awslabs/graphstorm #1243), then what to do.
        raise ValidationException(
            "MaxResource parameter is not provided and could not be inferred from provided "
            f"static hyperparameters of {definition.where}. Set StrategyConfig."
            "HyperbandStrategyConfig.MaxResource, or a static hyperparameter giving the "
            f"epochs ({', '.join(EPOCH_HYPERPARAMETERS)})."
        )
    try:
        return resources(given, definition.static)
    except ValueError as exc:
        raise ValidationException(f"{definition.where}: {exc}") from None


def _check_definition(definition: Definition, strategy: str) -> list:
    body = definition.body
    algorithm = body.get("AlgorithmSpecification") or {}
    if algorithm.get("AlgorithmName") and not algorithm.get("TrainingImage"):
        raise ValidationException(
            f"{definition.where}: simsage does not emulate algorithm resources "
            "(AlgorithmName); give AlgorithmSpecification.TrainingImage instead."
        )
    if not algorithm.get("TrainingImage"):
        raise ValidationException(
            f"{definition.where}: AlgorithmSpecification.TrainingImage is required."
        )
    if not body.get("ResourceConfig") and not body.get("HyperParameterTuningResourceConfig"):
        raise ValidationException(
            f"{definition.where}: give ResourceConfig (or HyperParameterTuningResourceConfig) "
            "with the instance type and count of the training jobs."
        )
    if not body["OutputDataConfig"]["S3OutputPath"].startswith("s3://"):
        raise ValidationException(
            f"{definition.where}: OutputDataConfig.S3OutputPath must be an s3:// URI "
            f"(s3://bucket/prefix); got {body['OutputDataConfig']['S3OutputPath']!r}."
        )
    try:
        compile_definitions(algorithm.get("MetricDefinitions") or [])
    except MetricDefinitionError as exc:
        raise ValidationException(f"{definition.where}: {exc}") from None
    if definition.objective is None:
        raise ValidationException(
            f"{definition.where}: the tuning job needs an objective: set "
            "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective (or the "
            "definition's TuningObjective) with Type Maximize|Minimize and the MetricName."
        )
    metric = definition.objective["MetricName"]
    names = _metric_names(definition)
    if metric not in names:
        known = ", ".join(names) if names else "none"
        raise ValidationException(
            f"{definition.where}: the objective metric {metric!r} is not defined in "
            f"AlgorithmSpecification.MetricDefinitions (defined: {known}); add a metric "
            "definition with this Name and a Regex that captures its value."
        )
    ranges = _ranges(definition)
    if not ranges:
        raise ValidationException(
            f"{definition.where}: give at least one hyperparameter range to tune "
            "(ParameterRanges: IntegerParameterRanges, ContinuousParameterRanges or "
            "CategoricalParameterRanges)."
        )
    static = definition.static
    both = sorted({r.name for r in ranges} & set(static))
    if both:
        raise ValidationException(
            f"{definition.where}: the hyperparameter(s) {', '.join(both)} are both static "
            "(StaticHyperParameters) and tunable (ParameterRanges); keep each in one place."
        )
    total = len(set(static) | {r.name for r in ranges} | {OBJECTIVE_KEY})
    if total > MAX_HYPERPARAMETERS:
        raise ValidationException(
            f"{definition.where}: a training job can have at most {MAX_HYPERPARAMETERS} "
            f"hyperparameters, static and tunable together with {OBJECTIVE_KEY}; this "
            f"definition has {total}."
        )
    return ranges


def validate(spec: dict[str, Any], parents: list[TuningJob | None]) -> None:
    """Check a CreateHyperParameterTuningJob request (see the module docstring).

    Args:
        spec: the request.
        parents: the tuning jobs WarmStartConfig names, in order (None: not found).

    Raises:
        ValidationException: what SageMaker refuses, with what to do instead.
        ResourceLimitExceeded: more jobs or parallel jobs than SageMaker allows.
    """
    has_one = spec.get("TrainingJobDefinition") is not None
    has_many = bool(spec.get("TrainingJobDefinitions"))
    if has_one == has_many:
        raise ValidationException(
            "Give exactly one of TrainingJobDefinition and TrainingJobDefinitions."
        )
    config = spec["HyperParameterTuningJobConfig"]
    strategy = config["Strategy"]
    found = definitions(spec)
    if has_many:
        names = [d.name for d in found]
        if None in names:
            raise ValidationException(
                "Each of TrainingJobDefinitions needs a DefinitionName (they tell the training "
                "jobs of each definition apart)."
            )
        lowered = [n.lower() for n in names]
        if len(set(lowered)) != len(lowered):
            raise ValidationException(
                "The DefinitionName values of TrainingJobDefinitions must be unique."
            )
    all_ranges = [_check_definition(d, strategy) for d in found]
    objectives = {(d.objective["Type"], d.objective["MetricName"]) for d in found}
    if len(objectives) > 1:
        raise ValidationException(
            "Every training job definition must tune the same objective (the same Type and "
            "MetricName), so their training jobs can be compared."
        )
    limits = config["ResourceLimits"]
    maximum = limits.get("MaxNumberOfTrainingJobs")
    if strategy == "Grid":
        from simsage.tuning.strategies import grid_size

        sizes = []
        for definition, ranges in zip(found, all_ranges, strict=True):
            try:
                sizes.append(grid_size(ranges))
            except ValueError as exc:
                raise ValidationException(f"{definition.where}: {exc}") from None
        combinations = sum(sizes)
        if maximum is not None and maximum != combinations:
            raise ValidationException(
                f"With the Grid strategy, MaxNumberOfTrainingJobs must equal the number of "
                f"combinations of the categorical ranges ({combinations}), or be left out; "
                f"got {maximum}."
            )
        maximum = combinations
    elif maximum is None:
        raise ValidationException(
            f"ResourceLimits.MaxNumberOfTrainingJobs is required with the {strategy} strategy "
            "(only Grid may leave it out: it runs every combination)."
        )
    cap = MAX_JOBS_RANDOM if strategy == "Random" else MAX_JOBS
    if maximum > cap:
        raise ResourceLimitExceeded(
            f"A {strategy} tuning job can launch at most {cap} training jobs "
            f"(MaxNumberOfTrainingJobs); you asked for {maximum}."
        )
    if limits["MaxParallelTrainingJobs"] > MAX_PARALLEL:
        raise ResourceLimitExceeded(
            f"A tuning job can run at most {MAX_PARALLEL} training jobs in parallel "
            f"(MaxParallelTrainingJobs); you asked for {limits['MaxParallelTrainingJobs']}."
        )
    early = config.get("TrainingJobEarlyStoppingType", "Off")
    if strategy == "Hyperband":
        if early != "Off":
            raise ValidationException(
                "The Hyperband strategy stops weak training jobs itself: set "
                "TrainingJobEarlyStoppingType to Off (or leave it out)."
            )
        for definition in found:
            hyperband_resources(spec, definition)
    elif (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig"):
        raise ValidationException(
            "StrategyConfig.HyperbandStrategyConfig applies only to the Hyperband strategy; "
            f"remove it or set Strategy to Hyperband (got {strategy})."
        )
    warm = spec.get("WarmStartConfig")
    if warm:
        _check_warm_start(warm, found, all_ranges, parents)


def _static(definition: Definition) -> dict[str, str]:
    """The static hyperparameters a caller gave (a stored parent's also hold the
    ``_tuning_objective_metric`` SageMaker added, which the objective check covers)."""
    return {k: v for k, v in definition.static.items() if k != OBJECTIVE_KEY}


def _check_warm_start(
    warm: dict[str, Any], found: list[Definition], all_ranges: list, parents: list
) -> None:
    names = warm["ParentHyperParameterTuningJobs"]
    if len(names) > MAX_PARENTS:
        raise ValidationException(
            f"WarmStartConfig can name at most {MAX_PARENTS} parent tuning jobs; got {len(names)}."
        )
    mine = found[0]
    my_static = _static(mine)
    my_names = set(my_static) | {r.name for r in all_ranges[0]}
    for entry, parent in zip(names, parents, strict=True):
        name = entry.get("HyperParameterTuningJobName", "")
        if parent is None:
            raise ValidationException(
                f"WarmStartConfig: there is no hyperparameter tuning job named {name!r} to "
                "warm start from."
            )
        if parent.status not in TERMINAL:
            raise ValidationException(
                f"WarmStartConfig: the parent tuning job {parent.name} is {parent.status}; a "
                f"parent must be in a terminal state ({', '.join(TERMINAL)})."
            )
        theirs = definitions(parent.spec)[0]
        if theirs.objective != mine.objective:
            raise ValidationException(
                f"WarmStartConfig: the parent tuning job {parent.name} tunes the objective "
                f"{theirs.objective}, this one {mine.objective}; they must be the same."
            )
        from simsage.tuning.ranges import parse_ranges

        parent_ranges = {r.name: r for r in parse_ranges(theirs.ranges)}
        their_static = _static(theirs)
        their_names = set(their_static) | set(parent_ranges)
        if their_names != my_names:
            raise ValidationException(
                f"WarmStartConfig: the parent tuning job {parent.name} has the hyperparameters "
                f"{sorted(their_names)}, this one {sorted(my_names)}; the static and tunable "
                "hyperparameters together must be the same."
            )
        mine_by_name = {r.name: r for r in all_ranges[0]}
        for key, theirs_range in parent_ranges.items():
            own = mine_by_name.get(key)
            if own is not None and type(own) is not type(theirs_range):
                raise ValidationException(
                    f"WarmStartConfig: the hyperparameter {key} is a "
                    f"{type(theirs_range).__name__} in the parent tuning job {parent.name} and "
                    f"a {type(own).__name__} here; each hyperparameter must keep its type."
                )
        changes = 0
        for key, theirs_range in parent_ranges.items():
            if key in my_static:  # tunable -> static: as many changes as its values
                values = getattr(theirs_range, "values", None)
                changes += len(values) if values else 1
        for key, value in their_static.items():
            if key in my_static and my_static[key] != value:
                changes += 2
        if changes > MAX_WARM_START_CHANGES:
            raise ValidationException(
                f"WarmStartConfig: this tuning job differs from its parent {parent.name} by "
                f"{changes} changes of hyperparameters (at most {MAX_WARM_START_CHANGES}: each "
                "tunable made static counts its values, each changed static value counts 2)."
            )
        if warm["WarmStartType"] == "IdenticalDataAndAlgorithm":
            image = (mine.body.get("AlgorithmSpecification") or {}).get("TrainingImage")
            theirs_image = (theirs.body.get("AlgorithmSpecification") or {}).get("TrainingImage")
            if image != theirs_image or mine.body.get("InputDataConfig") != theirs.body.get(
                "InputDataConfig"
            ):
                raise ValidationException(
                    "WarmStartConfig: IdenticalDataAndAlgorithm needs the same training image "
                    f"and input data as the parent tuning job {parent.name}; use "
                    "TransferLearning when they differ."
                )
