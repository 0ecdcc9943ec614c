"""The search of a tuning job: which configurations to train next (Grid, Random, Bayesian,
Hyperband), which running jobs to stop early (the median rule, Hyperband's rungs), and when
the search is done (not improving, converged).

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
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from scipy.stats import norm
from threadpoolctl import threadpool_limits

from simsage.tuning.ranges import (
    CategoricalRange,
    Range,
    format_value,
    from_unit,
    parse_value,
    snap_units,
    to_unit,
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
HYPERBAND_ETA = 3
HYPERBAND_MAX_RESOURCE = 20000  # the largest MaxResource AWS accepts
EPOCH_HYPERPARAMETERS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")
# Observations the Bayesian GP learns its kernel from (it then conditions on all of them):
# 750 jobs (AWS's limit) would take seconds per proposal, 200 about one.
KERNEL_FIT_POINTS = 200
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
        return BayesianSearch(ranges, objective_type, seed)
    if name == "Hyperband":
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


# --- Bayesian ------------------------------------------------------------------------------


class BayesianSearch:
    """Bayesian optimisation (the AMT paper's scheme, arXiv:2012.08489): a Gaussian-process
    surrogate of the objective over the encoded space, Expected Improvement as the
    acquisition function.

    - Encoding: each Integer/Continuous range is one feature, its :func:`to_unit` value;
      each categorical range with n > 1 values is n one-hot features.
    - Observations: trials with an objective that are Completed or Stopped. Until there are
      ``initial`` of them (``max(3, features + 1)``, at most 10), proposals are random (the
      same draws :class:`RandomSearch` makes with this seed).
    - Surrogate: scikit-learn's GaussianProcessRegressor, Matern(ν=5/2) with one length
      scale per feature times a constant, plus white noise (training jobs are noisy),
      ``normalize_y``, the marginal likelihood maximised with 2 restarts from a seeded state
      (on at most 200 observations; the GP then conditions on all of them). Maximised
      objectives are negated so the model always minimises.
    - Acquisition: EI maximised over 1,000 uniform candidates, 100 perturbations of each of
      the five best observations, then three rounds of shrinking perturbations around the
      best candidates (local refinement). Candidates are snapped to the values they decode
      to (integers, categories) before EI is evaluated, so EI is that of a real configuration.
    - Parallel proposals (``count`` > 1, or trials still InProgress): kriging believer — each
      pending configuration is added to the model with the GP's mean as its objective, the
      GP refitted with the same kernel, so its variance (and EI) there drops and the next
      proposal goes elsewhere.
    """

    random_candidates = 1000
    local_candidates = 100
    refinement_rounds = (0.05, 0.02, 0.008)

    def __init__(self, ranges: Sequence[Range], objective_type: str, seed: int) -> None:
        self.ranges = list(ranges)
        self.objective_type = objective_type
        self.seed = seed
        self.random = RandomSearch(self.ranges, seed)
        self.width = sum(_width(r) for r in self.ranges)
        self.initial = min(10, max(3, self.width + 1))

    def propose(self, trials: list[Trial], count: int) -> list[dict[str, str]]:
        """``count`` configurations: random until ``initial`` trials have objectives, then
        each the EI maximiser given the observations and the pending configurations."""
        observed: list[tuple[np.ndarray, float]] = []
        pending: list[np.ndarray] = []
        for trial in trials:
            x = self.encode(trial.hyperparameters)
            if x is None:
                continue
            if trial.status in FINISHED and _finite(trial.objective):
                sign = -1.0 if self.objective_type == "Maximize" else 1.0
                observed.append((x, sign * trial.objective))
            elif trial.status == "InProgress":
                pending.append(x)
        if len(observed) < self.initial or self.width == 0 or count <= 0:
            return self.random.propose(trials, count)
        # The GP's linear algebra is a few dozen points: BLAS threads only contend, with each
        # other and with the children training beside the runner (a loaded 2-core laptop
        # spent 7x longer in them than in one thread).
        with threadpool_limits(limits=1):
            return self._propose_modelled(trials, count, observed, pending)

    def _propose_modelled(
        self,
        trials: list[Trial],
        count: int,
        observed: list[tuple[np.ndarray, float]],
        pending: list[np.ndarray],
    ) -> list[dict[str, str]]:
        seen = {_key(self.ranges, t.hyperparameters) for t in trials}
        x_seen = np.array([x for x, _ in observed])
        y_seen = np.array([y for _, y in observed])
        step = np.random.default_rng([self.seed, len(trials), 7919])
        model = _fit(x_seen, y_seen, int(step.integers(2**31)))
        proposals: list[dict[str, str]] = []
        for index in range(len(trials), len(trials) + count):
            believed = _believe(model, x_seen, y_seen, pending)
            config = self._maximise_ei(believed, x_seen, y_seen, seen, index)
            if config is None:  # every candidate already tried: the space is (nearly) used up
                config = self.random.draw(index, seen)
            proposals.append(config)
            seen.add(_key(self.ranges, config))
            pending.append(self.encode(config))
        return proposals

    def encode(self, hyperparameters: dict[str, str]) -> np.ndarray | None:
        """The feature vector of a configuration, or None when it lacks a tuned
        hyperparameter or holds an unreadable value (a warm-start parent's, for instance);
        numbers outside a range are clipped to it, unknown categories encode as all zeros."""
        features: list[float] = []
        for parameter in self.ranges:
            text = hyperparameters.get(parameter.name)
            if text is None:
                return None
            if isinstance(parameter, CategoricalRange):
                if len(parameter.values) > 1:
                    features.extend(float(text == v) for v in parameter.values)
                continue
            try:
                number = float(text)
            except ValueError:
                return None
            if not math.isfinite(number):
                return None
            features.append(to_unit(parameter, number))
        return np.array(features)

    def _maximise_ei(
        self,
        model,
        x_seen: np.ndarray,
        y_seen: np.ndarray,
        seen: set[tuple],
        index: int,
    ) -> dict[str, str] | None:
        rng = np.random.default_rng([self.seed, index, 104729])
        dims = len(self.ranges)
        best = float(y_seen.min())
        units = [rng.random((self.random_candidates, dims))]
        for row in np.array([self._units_of(x) for x in x_seen[np.argsort(y_seen)[:5]]]):
            units.append(row + rng.normal(0.0, 0.1, (self.local_candidates, dims)))
        pool, scores = self._score(model, np.vstack(units), best)
        for scale in self.refinement_rounds:
            leaders = pool[np.argsort(-scores, kind="stable")[:3]]
            moved = np.vstack(
                [u + rng.normal(0.0, scale, (self.local_candidates, dims)) for u in leaders]
            )
            more, more_scores = self._score(model, moved, best)
            pool, scores = np.vstack([pool, more]), np.concatenate([scores, more_scores])
        for position in np.argsort(-scores, kind="stable"):
            config = _decode(self.ranges, pool[position])
            if _key(self.ranges, config) not in seen:
                return config
        return None

    def _score(self, model, units: np.ndarray, best: float) -> tuple[np.ndarray, np.ndarray]:
        """The candidates snapped to the configurations they decode to, and their EI."""
        snapped = np.column_stack([snap_units(r, units[:, i]) for i, r in enumerate(self.ranges)])
        mean, std = model.predict(self._features(snapped), return_std=True)
        return snapped, expected_improvement(mean, std, best)

    def _features(self, units: np.ndarray) -> np.ndarray:
        """The feature matrix of snapped unit points (one row per candidate)."""
        columns = []
        for i, parameter in enumerate(self.ranges):
            if isinstance(parameter, CategoricalRange):
                n = len(parameter.values)
                if n > 1:
                    chosen = np.minimum(np.floor(units[:, i] * n), n - 1).astype(int)
                    columns.append(np.eye(n)[chosen])
            else:
                columns.append(units[:, i : i + 1])
        return np.hstack(columns)

    def _units_of(self, features: np.ndarray) -> np.ndarray:
        """The per-range unit point of a feature vector (a one-hot becomes the middle of its
        category's slice of [0, 1])."""
        units, column = [], 0
        for parameter in self.ranges:
            if isinstance(parameter, CategoricalRange):
                n = len(parameter.values)
                if n > 1:
                    units.append((float(np.argmax(features[column : column + n])) + 0.5) / n)
                    column += n
                else:
                    units.append(0.5)
            else:
                units.append(float(features[column]))
                column += 1
        return np.array(units)


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """EI of a minimised objective below ``best`` under a Gaussian posterior (0 where the
    posterior has no spread and the mean is no better)."""
    std = np.maximum(std, 1e-12)
    gain = best - mean
    z = gain / std
    return np.maximum(gain * norm.cdf(z) + std * norm.pdf(z), 0.0)


def _fit(x: np.ndarray, y: np.ndarray, random_state: int):
    """The GP on every observation; its kernel's hyperparameters are learned on at most
    :data:`KERNEL_FIT_POINTS` of them (the best half and a seeded draw of the rest), as each
    step of that optimisation costs a Cholesky factorisation of the points it sees."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    kernel = ConstantKernel(1.0, (1e-3, 1e3)) * Matern(
        length_scale=np.full(x.shape[1], 0.5), length_scale_bounds=(1e-2, 1e2), nu=2.5
    ) + WhiteKernel(1e-4, (1e-8, 0.5))
    model = GaussianProcessRegressor(
        kernel, normalize_y=True, n_restarts_optimizer=2, random_state=random_state
    )
    subset = np.arange(len(y))
    if len(y) > KERNEL_FIT_POINTS:
        order = np.argsort(y, kind="stable")
        half = KERNEL_FIT_POINTS // 2
        rest = np.random.default_rng(random_state).choice(
            order[half:], KERNEL_FIT_POINTS - half, replace=False
        )
        subset = np.sort(np.concatenate([order[:half], rest]))
    with warnings.catch_warnings():
        # A length scale at its bound is an answer here (a feature that does not matter).
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x[subset], y[subset])
    if len(subset) == len(y):
        return model
    everything = GaussianProcessRegressor(model.kernel_, normalize_y=True, optimizer=None)
    return everything.fit(x, y)


def _believe(model, x: np.ndarray, y: np.ndarray, pending: list[np.ndarray]):
    """The kriging-believer model: the pending points added with the GP's mean as their
    value, the kernel kept (no re-optimisation)."""
    if not pending:
        return model
    from sklearn.gaussian_process import GaussianProcessRegressor

    points = np.array(pending)
    believed = GaussianProcessRegressor(model.kernel_, normalize_y=True, optimizer=None)
    return believed.fit(np.vstack([x, points]), np.concatenate([y, model.predict(points)]))


# --- Hyperband -----------------------------------------------------------------------------


def hyperband_resources(
    config: dict | None, static_hyperparameters: dict[str, str] | None = None
) -> tuple[int, int]:
    """``(MinResource, MaxResource)`` of a ``HyperbandStrategyConfig``: MinResource defaults
    to 1; MaxResource, when omitted, is the static hyperparameter ``epochs``,
    ``numepochs``, ``n-epochs``, ``n_epochs`` or ``num_epochs``.

    Raises:
        ValueError: no MaxResource and no epochs hyperparameter; a value that is not a
            positive integer; MaxResource above 20000; MinResource above MaxResource.
    """
    config = config or {}
    minimum = config.get("MinResource", config.get("min_resource"))
    maximum = config.get("MaxResource", config.get("max_resource"))
    if maximum is None:
        for name in EPOCH_HYPERPARAMETERS:
            if name in (static_hyperparameters or {}):
                maximum = static_hyperparameters[name]
                break
        else:
            raise ValueError(
                "The Hyperband strategy needs HyperbandStrategyConfig.MaxResource, or a static "
                f"hyperparameter giving the epochs ({', '.join(EPOCH_HYPERPARAMETERS)}) to "
                "infer it from. Set MaxResource."
            )
    min_resource = _positive_integer("MinResource", 1 if minimum is None else minimum)
    max_resource = _positive_integer("MaxResource", maximum)
    if max_resource > HYPERBAND_MAX_RESOURCE:
        raise ValueError(
            f"MaxResource ({max_resource}) is above {HYPERBAND_MAX_RESOURCE}, the largest the "
            "Hyperband strategy accepts."
        )
    if min_resource > max_resource:
        raise ValueError(
            f"MinResource ({min_resource}) is greater than MaxResource ({max_resource}); "
            "MinResource must be less than or equal to MaxResource."
        )
    return min_resource, max_resource


class Hyperband:
    """Hyperband (Li et al., JMLR 2018) run asynchronously, as jobs are stopped rather than
    paused: every job trains for up to MaxResource epochs, and is stopped at a rung if it is
    not among the best ``1/eta`` (eta = 3) of the jobs that reached that rung.

    - Rungs: ``MinResource · 3^k`` epochs below MaxResource (MinResource=1, MaxResource=27:
      1, 3, 9). No job is stopped before MinResource epochs.
    - Brackets: bracket b may stop its jobs only at rungs b, b+1, …; the last bracket never
      stops (its jobs always reach MaxResource). Trials are assigned to brackets by their
      number over a fixed cycle in which bracket b appears ``ceil((s+1)/(s+1-b) · 3^(s-b))``
      times (s = the number of rungs), Hyperband's own proportions: most trials go to the
      aggressive brackets, a few are kept safe from early stopping.
    - The decision at a rung r: the trial's value at r (its last intermediate value at an
      epoch ≤ r) is ranked against the values at r of every other trial that reached r (any
      bracket, any status); with n trials in all, the best ``max(1, n // 3)`` continue. With
      fewer than 2 others there, the trial continues. Each call judges the trial at the
      latest rung its bracket allows that it has reached.
    - Configurations are drawn as :class:`RandomSearch` draws them (the stopping spends the
      budget, not the sampling).
    """

    eta = HYPERBAND_ETA

    def __init__(
        self,
        ranges: Sequence[Range],
        objective_type: str,
        seed: int,
        min_resource: int,
        max_resource: int,
    ) -> None:
        self.ranges = list(ranges)
        self.objective_type = objective_type
        self.seed = seed
        self.min_resource = min_resource
        self.max_resource = max_resource
        self.random = RandomSearch(self.ranges, seed)
        self.rungs: list[int] = []
        rung = min_resource
        while rung < max_resource:
            self.rungs.append(rung)
            rung *= self.eta
        self.schedule = _bracket_cycle(len(self.rungs), self.eta)

    def propose(self, trials: list[Trial], count: int) -> list[dict[str, str]]:
        """``count`` random configurations (see :class:`RandomSearch`)."""
        return self.random.propose(trials, count)

    def bracket_of(self, trial: Trial) -> int:
        """The trial's bracket: the index of the first rung at which it may be stopped."""
        return self.schedule[trial.number % len(self.schedule)]

    def rungs_of(self, trial: Trial) -> list[int]:
        """The epochs at which the trial may be stopped (empty in the safe bracket)."""
        return self.rungs[self.bracket_of(trial) :]

    def should_stop(self, trial: Trial, others: Sequence[Trial]) -> bool:
        """Whether the InProgress ``trial`` is to be stopped now, judged at the latest of its
        rungs it has reached against every other trial that reached that rung."""
        series = _series(trial)
        if trial.status != "InProgress" or not series:
            return False
        reached = [r for r in self.rungs_of(trial) if r <= series[-1][0]]
        if not reached:
            return False
        rung = reached[-1]
        mine = _value_at(series, rung)
        peers = [
            _value_at(s, rung)
            for other in others
            if other.number != trial.number
            for s in [_series(other)]
            if s and s[-1][0] >= rung
        ]
        if len(peers) < self.eta - 1:
            return False
        keep = max(1, (len(peers) + 1) // self.eta)
        better = sum(_better(value, mine, self.objective_type) for value in peers)
        return better >= keep

    def exhausted(self, trial: Trial) -> bool:
        """Whether the trial has trained MaxResource epochs (AWS stops a job there)."""
        series = _series(trial)
        return bool(series) and series[-1][0] >= self.max_resource


def _bracket_cycle(rungs: int, eta: int) -> list[int]:
    """Brackets 0..rungs interleaved round-robin, bracket b appearing
    ``ceil((s+1)/(s+1-b) · eta^(s-b))`` times (s = rungs)."""
    left = [math.ceil((rungs + 1) / (rungs + 1 - b) * eta ** (rungs - b)) for b in range(rungs + 1)]
    cycle = []
    while any(left):
        for bracket in range(rungs + 1):
            if left[bracket]:
                cycle.append(bracket)
                left[bracket] -= 1
    return cycle


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
