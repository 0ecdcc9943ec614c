"""Hyperband for tuning jobs (``Strategy: Hyperband``): configurations drawn as Random
draws them, weak ones stopped at the rungs of asynchronous successive halving, as
:class:`Hyperband` describes; :func:`hyperband_resources` reads MinResource/MaxResource.
Pure and deterministic given the seed and the history, like every strategy of
:mod:`simsage.tuning.strategies`."""

from __future__ import annotations

import math
from collections.abc import Sequence

from simsage.tuning.ranges import Range
from simsage.tuning.strategies import (
    RandomSearch,
    Trial,
    _better,
    _positive_integer,
    _series,
    _value_at,
)

HYPERBAND_ETA = 3
HYPERBAND_MAX_RESOURCE = 20000  # the largest MaxResource AWS accepts
EPOCH_HYPERPARAMETERS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")


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
