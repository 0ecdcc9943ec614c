"""The search of a tuning job: which configurations to train next (Grid, Random, Bayesian,
Hyperband), which running jobs to stop early (the median rule, Hyperband's rungs), and when
the search is done (not improving, converged).

Bayesian optimisation is :mod:`simsage.tuning.bayesian`, Hyperband
:mod:`simsage.tuning.hyperband`; this module holds the trials, Grid and Random, the
stopping and completion rules, and the helpers they share.

Layer: pure, deterministic code over :mod:`simsage.tuning.ranges` and a list of
:class:`Trial` (the children as the tuning runner last read them); no store, no jobs, no
clock. The runner asks :meth:`Strategy.propose` for configurations, launches them, and
passes every trial back on the next call, InProgress ones included.

Invariants:
- ``propose`` returns configurations as the children's HyperParameters carry them (strings
  from :func:`~simsage.tuning.ranges.format_value`), every value inside its range.
- Given the seed and the same history, every strategy proposes the same configurations.
  Random (and the random phases of Bayesian and Hyperband) draw configuration k from a
  generator seeded by ``(seed, k)``, so the sequence does not depend on how many
  configurations are asked for at once.
- Grid proposes each combination of the categorical values exactly once, in
  :func:`grid_combinations` order, and nothing once all are proposed. Random and Bayesian
  avoid repeating a configuration of the history while the space has others left.
- Objectives are compared in the job's direction (``Maximize`` or ``Minimize``); a trial
  without an objective (failed, or not finished) never counts as the best.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from simsage.tuning.ranges import (
    CategoricalRange,
    Range,
    format_value,
    from_unit,
    parse_value,
)

STRATEGIES = ("Grid", "Random", "Bayesian", "Hyperband")
OBJECTIVE_TYPES = ("Maximize", "Minimize")
TRIAL_STATUSES = ("InProgress", "Completed", "Failed", "Stopped")
# Statuses whose objective is a result: a stopped job's last reported value counts, as AWS
# reports early-stopped jobs' final objective.
FINISHED = ("Completed", "Stopped")

# "Not improving" means improving by 1% or less [DG automatic-model-tuning-progress].
NOT_IMPROVING_TOLERANCE = 0.01
# CompleteOnConvergence (simsage choice, see converged()).
CONVERGENCE_MIN_TRIALS = 10
CONVERGENCE_TOLERANCE = 0.001
# The median rule (simsage choice): a median of fewer than three running averages is one
# run's noise, so no job is stopped before three earlier jobs reached its epoch.
MEDIAN_RULE_MIN_PEERS = 3
# Draws per proposal before Random accepts a configuration it has already tried.
DISTINCT_ATTEMPTS = 32


@dataclass
class Trial:
    """One child training job as the search sees it.

    ``number`` orders the trials (the child's NNN); ``hyperparameters`` holds at least the
    tuned values as strings (static ones are ignored); ``objective`` is the final objective
    metric value, None while there is none; ``intermediate`` the objective's values as
    reported during training, as ``(epoch or step, value)`` with steps counting epochs
    completed (1, 2, …).
    """

    number: int
    hyperparameters: dict[str, str]
    status: str = "InProgress"
    objective: float | None = None
    intermediate: list[tuple[int, float]] = field(default_factory=list)


class Strategy(Protocol):
    """What the tuning runner drives: configurations to launch next."""

    def propose(self, trials: list[Trial], count: int) -> list[dict[str, str]]:
        """Up to ``count`` new configurations (name → formatted value) given every trial so
        far; fewer, or none, when the space is exhausted (Grid)."""
        ...


def make_strategy(
    name: str,
    ranges: Sequence[Range],
    objective_type: str,
    seed: int | None,
    max_jobs: int | None,
    hyperband: dict | None = None,
    static_hyperparameters: dict[str, str] | None = None,
) -> Strategy:
    """The strategy a tuning job's ``Strategy`` names, over its parsed ranges.

    Args:
        name: ``Grid``, ``Random``, ``Bayesian`` or ``Hyperband``.
        ranges: from :func:`~simsage.tuning.ranges.parse_ranges`.
        objective_type: ``Maximize`` or ``Minimize``.
        seed: ``RandomSeed``; None draws one (kept as the strategy's ``seed``, so a runner
            that restarts can pass it again and propose the same configurations).
        max_jobs: ``MaxNumberOfTrainingJobs`` (None when omitted).
        hyperband: ``HyperbandStrategyConfig`` (``MinResource``, ``MaxResource``).
        static_hyperparameters: the definition's StaticHyperParameters, where Hyperband
            finds the epochs when MaxResource is omitted.

    Raises:
        ValueError: an unknown strategy or objective type; Grid over a non-categorical
            range, or with ``max_jobs`` other than the number of combinations; Hyperband
            resources that are invalid or cannot be inferred.
    """
    if objective_type not in OBJECTIVE_TYPES:
        raise ValueError(
            f"The objective Type '{objective_type}' is not one of {', '.join(OBJECTIVE_TYPES)}."
        )
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**63))
    if name == "Grid":
        size = grid_size(ranges)
        if max_jobs is not None and max_jobs != size:
            raise ValueError(
                f"The Grid strategy runs every combination of the categorical values, {size} "
                f"here, so MaxNumberOfTrainingJobs must be {size} or be omitted, not {max_jobs}."
            )
        return GridSearch(ranges)
    if name == "Random":
        return RandomSearch(ranges, seed)
    if name == "Bayesian":
        from simsage.tuning.bayesian import BayesianSearch

        return BayesianSearch(ranges, objective_type, seed)
    if name == "Hyperband":
        from simsage.tuning.hyperband import Hyperband, hyperband_resources

        min_resource, max_resource = hyperband_resources(hyperband, static_hyperparameters)
        return Hyperband(ranges, objective_type, seed, min_resource, max_resource)
    raise ValueError(f"The Strategy '{name}' is not one of {', '.join(STRATEGIES)}.")


# --- Grid ----------------------------------------------------------------------------------


def grid_size(ranges: Sequence[Range]) -> int:
    """The number of combinations Grid runs: the product of the categorical ranges' sizes.

    Raises:
        ValueError: a range is not categorical (Grid searches categorical ranges only).
    """
    numeric = [r.name for r in ranges if not isinstance(r, CategoricalRange)]
    if numeric:
        raise ValueError(
            "The Grid strategy searches categorical ranges only, but "
            f"{', '.join(repr(n) for n in numeric)} {'is' if len(numeric) == 1 else 'are'} "
            "not categorical. Make them CategoricalParameterRanges or use another strategy."
        )
    return math.prod(len(r.values) for r in ranges)


def grid_combinations(ranges: Sequence[Range]) -> Iterator[dict[str, str]]:
    """Every combination, in the order Grid runs them: the ranges in request order, the
    first varying slowest and the last fastest (``itertools.product``), each range's values
    in their given order."""
    grid_size(ranges)
    names = [r.name for r in ranges]
    for values in itertools.product(*(r.values for r in ranges)):
        yield dict(zip(names, values, strict=True))


class GridSearch:
    """Grid: the next combinations of :func:`grid_combinations` that no trial has run."""

    def __init__(self, ranges: Sequence[Range]) -> None:
        self.ranges = list(ranges)
        self.size = grid_size(self.ranges)

    def propose(self, trials: list[Trial], count: int) -> list[dict[str, str]]:
        """Up to ``count`` combinations not yet in ``trials`` (whatever their status, so a
        failed combination is not run again), in grid order; [] once all have run."""
        seen = {_key(self.ranges, t.hyperparameters) for t in trials}
        fresh = (c for c in grid_combinations(self.ranges) if _key(self.ranges, c) not in seen)
        return list(itertools.islice(fresh, max(count, 0)))


# --- Random --------------------------------------------------------------------------------


class RandomSearch:
    """Random: each configuration drawn independently, uniformly in each range's unit space
    (so Logarithmic ranges are log-uniform), from a generator seeded by ``(seed, k)`` for
    the k-th configuration."""

    def __init__(self, ranges: Sequence[Range], seed: int) -> None:
        self.ranges = list(ranges)
        self.seed = seed

    def propose(self, trials: list[Trial], count: int) -> list[dict[str, str]]:
        """``count`` configurations, each distinct from the history's and the others' while
        :data:`DISTINCT_ATTEMPTS` draws can find one (a small categorical space repeats)."""
        seen = {_key(self.ranges, t.hyperparameters) for t in trials}
        proposals = []
        for index in range(len(trials), len(trials) + max(count, 0)):
            config = self.draw(index, seen)
            seen.add(_key(self.ranges, config))
            proposals.append(config)
        return proposals

    def draw(self, index: int, seen: set[tuple]) -> dict[str, str]:
        """The ``index``-th random configuration, avoiding ``seen`` where it can."""
        rng = np.random.default_rng([self.seed, index])
        for _ in range(DISTINCT_ATTEMPTS):
            config = _decode(self.ranges, rng.random(len(self.ranges)))
            if _key(self.ranges, config) not in seen:
                return config
        return config


# --- early stopping and completion ---------------------------------------------------------


def median_rule_stops(trial: Trial, others: Sequence[Trial], objective_type: str) -> bool:
    """``TrainingJobEarlyStoppingType=Auto``: whether the InProgress ``trial`` is to be
    stopped [DG automatic-model-tuning-early-stopping].

    At the trial's latest epoch t, take every earlier trial (a smaller number) that has
    reached epoch t, each one's running average of its objective up to t, and the median of
    those averages; the trial is stopped if its value at t is worse than that median (lower
    when maximising, higher when minimising). With fewer than three earlier trials at t
    (simsage choice) nothing is stopped.
    """
    series = _series(trial)
    if trial.status != "InProgress" or not series:
        return False
    epoch, value = series[-1]
    averages = [
        float(np.mean([v for step, v in s if step <= epoch]))
        for other in others
        if other.number < trial.number
        for s in [_series(other)]
        if s and s[-1][0] >= epoch
    ]
    if len(averages) < MEDIAN_RULE_MIN_PEERS:
        return False
    return _better(float(np.median(averages)), value, objective_type)


def best_trial(trials: Sequence[Trial], objective_type: str) -> Trial | None:
    """The Completed or Stopped trial with the best objective (the lowest number among
    equals), None when no trial has one."""
    best = None
    for trial in sorted(_results(trials), key=lambda t: t.number):
        if best is None or _better(trial.objective, best.objective, objective_type):
            best = trial
    return best


def count_not_improving(
    trials: Sequence[Trial], objective_type: str, tolerance: float = NOT_IMPROVING_TOLERANCE
) -> int:
    """``NumberOfTrainingJobsObjectiveNotImproving``: how many of the latest trials with an
    objective (Completed or Stopped, in number order) have not improved on the best
    objective as it stood before them by more than ``tolerance`` (relative: 1% by default).

    The reference is the best value at the last real improvement, so a run of small gains
    that add up to more than the tolerance ends the streak, and the first result always
    improves.
    """
    reference, streak = None, 0
    for trial in sorted(_results(trials), key=lambda t: t.number):
        value = trial.objective
        if reference is None:
            improved = True
        else:
            margin = tolerance * abs(reference)
            improved = (
                value > reference + margin
                if objective_type == "Maximize"
                else value < reference - margin
            )
        if improved:
            reference, streak = value, 0
        else:
            streak += 1
    return streak


def not_improving(trials: Sequence[Trial], objective_type: str, window: int) -> bool:
    """``BestObjectiveNotImproving``: whether the last ``window``
    (MaxNumberOfTrainingJobsNotImproving) trials with an objective have each improved the
    best objective by 1% or less."""
    return count_not_improving(trials, objective_type) >= window


def converged(trials: Sequence[Trial], objective_type: str) -> bool:
    """``CompleteOnConvergence`` (simsage choice; AWS does not publish its test): at least
    10 trials have an objective and the latest half of them (at least 5) have not improved
    the best objective by more than 0.1% — half of the search brought nothing measurable."""
    results = _results(trials)
    if len(results) < CONVERGENCE_MIN_TRIALS:
        return False
    streak = count_not_improving(results, objective_type, CONVERGENCE_TOLERANCE)
    return streak >= max(5, len(results) // 2)


# --- helpers -------------------------------------------------------------------------------


def _width(parameter: Range) -> int:
    if isinstance(parameter, CategoricalRange):
        return len(parameter.values) if len(parameter.values) > 1 else 0
    return 1


def _decode(ranges: Sequence[Range], units: np.ndarray) -> dict[str, str]:
    return {r.name: format_value(r, from_unit(r, u)) for r, u in zip(ranges, units, strict=True)}


def _key(ranges: Sequence[Range], hyperparameters: dict[str, str]) -> tuple:
    """A configuration's identity: its tuned values read back (so "12" and "12.0" agree)."""
    key = []
    for parameter in ranges:
        text = hyperparameters.get(parameter.name)
        try:
            key.append(parse_value(parameter, text) if text is not None else None)
        except ValueError:
            key.append(text)
    return tuple(key)


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _results(trials: Sequence[Trial]) -> list[Trial]:
    return [t for t in trials if t.status in FINISHED and _finite(t.objective)]


def _better(a: float, b: float, objective_type: str) -> bool:
    """Whether ``a`` is strictly better than ``b`` in the objective's direction."""
    return a > b if objective_type == "Maximize" else a < b


def _series(trial: Trial) -> list[tuple[int, float]]:
    """The finite intermediate values by step (the last value of a repeated step)."""
    steps = {int(step): float(v) for step, v in trial.intermediate if _finite(v)}
    return sorted(steps.items())


def _value_at(series: list[tuple[int, float]], step: int) -> float:
    """The last value at or before ``step`` (the first value if all come after it)."""
    before = [v for s, v in series if s <= step]
    return before[-1] if before else series[0][1]


def _positive_integer(name: str, value: object) -> int:
    try:
        number = float(str(value).strip())
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number != int(number) or number < 1:
        raise ValueError(f"{name} must be a positive integer (epochs), not '{value}'.")
    return int(number)
