"""Bayesian optimisation for tuning jobs (``Strategy: Bayesian``): a Gaussian-process
surrogate over the encoded search space with Expected Improvement, as
:class:`BayesianSearch` describes. Pure and deterministic given the seed and the history,
like every strategy of :mod:`simsage.tuning.strategies`; scikit-learn is imported only when
a model is fitted."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

from simsage.tuning.ranges import (
    CategoricalRange,
    Range,
    snap_units,
    to_unit,
)
from simsage.tuning.strategies import (
    FINISHED,
    RandomSearch,
    Trial,
    _decode,
    _finite,
    _key,
    _width,
)

# Observations the Bayesian GP learns its kernel from (it then conditions on all of them):
# 750 jobs (AWS's limit) would take seconds per proposal, 200 about one.
KERNEL_FIT_POINTS = 200


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
        from threadpoolctl import threadpool_limits  # with scikit-learn, only for Bayesian

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


_erf = np.frompyfunc(math.erf, 1, 1)


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    """The standard normal CDF (with the standard library's erf: scipy.stats costs over a
    second to import, in a runner that starts for every tuning job)."""
    return 0.5 * (1.0 + _erf(np.asarray(z, dtype=float) / math.sqrt(2.0)).astype(float))


def _normal_pdf(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=float)
    return np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """EI of a minimised objective below ``best`` under a Gaussian posterior (0 where the
    posterior has no spread and the mean is no better)."""
    std = np.maximum(std, 1e-12)
    gain = best - mean
    z = gain / std
    return np.maximum(gain * _normal_cdf(z) + std * _normal_pdf(z), 0.0)


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
