"""simsage.tuning.strategies: what each strategy proposes (inside the ranges, formatted as
the children read them, the same for the same seed and history), Grid's enumeration,
Bayesian's search beating Random's, the median rule and Hyperband stopping the weak jobs,
and the completion criteria."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simsage.tuning.bayesian import BayesianSearch
from simsage.tuning.hyperband import Hyperband, hyperband_resources
from simsage.tuning.ranges import parse_ranges
from simsage.tuning.strategies import (
    Trial,
    best_trial,
    converged,
    count_not_improving,
    grid_combinations,
    grid_size,
    make_strategy,
    median_rule_stops,
    not_improving,
)

MIXED = parse_ranges(
    {
        "IntegerParameterRanges": [
            {"Name": "max_depth", "MinValue": "1", "MaxValue": "20", "ScalingType": "Linear"}
        ],
        "ContinuousParameterRanges": [
            {"Name": "eta", "MinValue": "0.001", "MaxValue": "1", "ScalingType": "Logarithmic"}
        ],
        "CategoricalParameterRanges": [{"Name": "booster", "Values": ["gbtree", "dart"]}],
    }
)
GRID = parse_ranges(
    {
        "CategoricalParameterRanges": [
            {"Name": "booster", "Values": ["gbtree", "dart"]},
            {"Name": "max_depth", "Values": ["3", "5", "7"]},
        ]
    }
)


def _smooth(config: dict[str, str]) -> float:
    """A smooth objective to maximise, best (0) at eta = 0.05, max_depth = 7, gbtree."""
    eta = (math.log10(float(config["eta"])) + 1.3) ** 2
    depth = ((int(config["max_depth"]) - 7) / 6) ** 2
    return -(eta + depth + (0.3 if config.get("booster") == "dart" else 0.0))


def _run(strategy, objective, budget: int, parallel: int = 2, sign: float = 1.0) -> list[Trial]:
    """A tuning job's loop: ``parallel`` proposals at a time, each completed at once."""
    trials: list[Trial] = []
    while len(trials) < budget:
        for config in strategy.propose(trials, min(parallel, budget - len(trials))):
            trials.append(Trial(len(trials) + 1, config, "Completed", sign * objective(config)))
    return trials


def _inside(config: dict[str, str]) -> None:
    assert set(config) == {"max_depth", "eta", "booster"}
    assert config["max_depth"].isdigit() and 1 <= int(config["max_depth"]) <= 20
    assert 0.001 <= float(config["eta"]) <= 1.0 and float(repr(float(config["eta"]))) == float(
        config["eta"]
    )
    assert config["booster"] in ("gbtree", "dart")


# --- Random ----------------------------------------------------------------------------------


def test_random_draws_inside_the_ranges_the_same_for_the_same_seed():
    first = make_strategy("Random", MIXED, "Maximize", seed=42, max_jobs=50).propose([], 50)
    again = make_strategy("Random", MIXED, "Maximize", seed=42, max_jobs=50).propose([], 50)
    other = make_strategy("Random", MIXED, "Maximize", seed=43, max_jobs=50).propose([], 50)
    assert first == again and first != other
    for config in first:
        _inside(config)
    assert len({tuple(c.values()) for c in first}) == 50
    # Log-uniform eta: about as many draws per decade.
    decades = np.histogram([math.log10(float(c["eta"])) for c in first], bins=[-3, -1.5, 0])[0]
    assert abs(decades[0] - decades[1]) < 15


def test_random_does_not_depend_on_how_many_are_asked_for_at_once():
    strategy = make_strategy("Random", MIXED, "Minimize", seed=7, max_jobs=None)
    batch = strategy.propose([], 6)
    trials: list[Trial] = []
    for _ in range(6):
        (config,) = strategy.propose(trials, 1)
        trials.append(Trial(len(trials) + 1, config))
    assert [t.hyperparameters for t in trials] == batch


def test_random_repeats_only_once_a_small_space_is_used_up():
    strategy = make_strategy("Random", GRID, "Maximize", seed=1, max_jobs=None)
    first = strategy.propose([], 6)
    assert len({tuple(c.values()) for c in first}) == 6  # all six combinations
    assert len(strategy.propose([Trial(i, c) for i, c in enumerate(first)], 2)) == 2


def test_a_strategy_without_seed_keeps_the_one_it_drew():
    strategy = make_strategy("Random", MIXED, "Maximize", seed=None, max_jobs=None)
    again = make_strategy("Random", MIXED, "Maximize", seed=strategy.seed, max_jobs=None)
    assert strategy.propose([], 3) == again.propose([], 3)


# --- Grid ------------------------------------------------------------------------------------


def test_grid_runs_every_combination_once_in_order_then_nothing():
    assert grid_size(GRID) == 6
    strategy = make_strategy("Grid", GRID, "Maximize", seed=None, max_jobs=6)
    trials: list[Trial] = []
    while proposals := strategy.propose(trials, 4):
        trials += [Trial(len(trials) + 1, c, "Completed", 0.5) for c in proposals]
    assert [tuple(t.hyperparameters.values()) for t in trials] == [
        ("gbtree", "3"),
        ("gbtree", "5"),
        ("gbtree", "7"),
        ("dart", "3"),
        ("dart", "5"),
        ("dart", "7"),
    ]
    assert list(grid_combinations(GRID)) == [t.hyperparameters for t in trials]


def test_grid_skips_combinations_already_run_whatever_their_outcome():
    strategy = make_strategy("Grid", GRID, "Maximize", seed=None, max_jobs=None)
    failed = Trial(1, {"booster": "gbtree", "max_depth": "3", "eta": "0.1"}, "Failed")
    running = Trial(2, {"booster": "dart", "max_depth": "5"}, "InProgress")
    proposals = strategy.propose([failed, running], 10)
    assert len(proposals) == 4
    assert {"booster": "gbtree", "max_depth": "3"} not in proposals
    assert {"booster": "dart", "max_depth": "5"} not in proposals


def test_grid_refuses_numeric_ranges_and_a_job_count_other_than_its_size():
    with pytest.raises(ValueError, match="categorical ranges only, but 'max_depth', 'eta' are"):
        grid_size(MIXED)
    with pytest.raises(ValueError, match="so MaxNumberOfTrainingJobs must be 6 or be omitted"):
        make_strategy("Grid", GRID, "Maximize", seed=None, max_jobs=5)


def test_unknown_strategy_or_objective_type_is_refused():
    with pytest.raises(ValueError, match="'Evolutionary' is not one of Grid, Random, Bayesian"):
        make_strategy("Evolutionary", MIXED, "Maximize", seed=1, max_jobs=None)
    with pytest.raises(ValueError, match="'Max' is not one of Maximize, Minimize"):
        make_strategy("Random", MIXED, "Max", seed=1, max_jobs=None)


# --- Bayesian ------------------------------------------------------------------------------


def test_bayesian_starts_with_the_random_draws_then_models():
    bayesian = make_strategy("Bayesian", MIXED, "Maximize", seed=3, max_jobs=None)
    random = make_strategy("Random", MIXED, "Maximize", seed=3, max_jobs=None)
    assert bayesian.initial == 5  # 1 integer + 1 continuous + 2 one-hot features, plus one
    assert bayesian.propose([], 5) == random.propose([], 5)
    trials = _run(bayesian, _smooth, budget=12)
    for config in (t.hyperparameters for t in trials):
        _inside(config)
    assert len({tuple(t.hyperparameters.values()) for t in trials}) == 12


def test_bayesian_is_deterministic_and_its_parallel_proposals_differ():
    def proposals():
        strategy = make_strategy("Bayesian", MIXED, "Maximize", seed=11, max_jobs=None)
        history = _run(strategy, _smooth, budget=8)
        history.append(Trial(9, strategy.propose(history, 1)[0], "InProgress"))
        return history, strategy.propose(history, 3)

    history, batch = proposals()
    assert proposals()[1] == batch
    assert len({tuple(c.values()) for c in batch}) == 3
    tried = {tuple(t.hyperparameters.values()) for t in history}
    assert not tried & {tuple(c.values()) for c in batch}


def test_bayesian_follows_the_objective_direction():
    maximise = make_strategy("Bayesian", MIXED, "Maximize", seed=5, max_jobs=None)
    minimise = make_strategy("Bayesian", MIXED, "Minimize", seed=5, max_jobs=None)
    up = _run(maximise, _smooth, budget=10)
    down = _run(minimise, _smooth, budget=10, sign=-1.0)
    assert [t.hyperparameters for t in up] == [t.hyperparameters for t in down]
    # ... and maximising the negated objective is not the same search.
    wrong = _run(make_strategy("Bayesian", MIXED, "Maximize", 5, None), _smooth, 10, sign=-1.0)
    assert [t.hyperparameters for t in wrong][5:] != [t.hyperparameters for t in up][5:]


def test_bayesian_beats_random_on_a_smooth_function_in_most_seeds():
    ranges = [r for r in MIXED if r.name != "booster"]
    wins, finals = 0, {"Bayesian": [], "Random": []}
    for seed in range(6):
        for name in finals:
            trials = _run(make_strategy(name, ranges, "Maximize", seed, 12), _smooth, budget=12)
            finals[name].append(max(t.objective for t in trials))
        wins += finals["Bayesian"][-1] > finals["Random"][-1]
    assert wins >= 4, finals
    assert np.median(finals["Bayesian"]) > np.median(finals["Random"])


def test_bayesian_models_a_long_history_and_proposes_where_it_is_good():
    ranges = [r for r in MIXED if r.name != "booster"]
    configs = make_strategy("Random", ranges, "Minimize", 0, None).propose([], 260)
    # Best at the top of the eta range whatever the depth.
    history = [
        Trial(i, c, "Completed", math.log(float(c["eta"])) ** 2) for i, c in enumerate(configs)
    ]
    strategy = make_strategy("Bayesian", ranges, "Minimize", 0, None)
    (config,) = strategy.propose(history, 1)
    assert float(config["eta"]) > 0.5
    assert config not in configs


def test_bayesian_ignores_trials_it_cannot_read_and_failed_ones():
    strategy = make_strategy("Bayesian", MIXED, "Minimize", seed=2, max_jobs=None)
    history = _run(strategy, lambda c: -_smooth(c), budget=6)
    history += [
        Trial(7, {"eta": "0.1"}, "Completed", -5.0),  # a parent without max_depth
        Trial(8, {"eta": "0.1", "max_depth": "4", "booster": "gblinear"}, "Completed", 0.2),
        Trial(9, {"eta": "0.2", "max_depth": "9", "booster": "dart"}, "Failed"),
    ]
    (config,) = strategy.propose(history, 1)
    _inside(config)
    assert isinstance(strategy, BayesianSearch)
    assert strategy.encode({"eta": "0.1"}) is None
    # Clipped to the range (20 is the middle of the last cell), an unknown category as zeros.
    clipped = strategy.encode({"eta": "5", "max_depth": "30", "booster": "x"})
    assert list(clipped) == [0.975, 1.0, 0.0, 0.0]


# --- the median rule -------------------------------------------------------------------------


def _curve(number, values, status="Completed"):
    return Trial(number, {}, status, values[-1], list(enumerate(values, start=1)))


def test_the_median_rule_stops_a_job_worse_than_the_median_running_average():
    earlier = [
        _curve(1, [0.60, 0.70, 0.80]),
        _curve(2, [0.50, 0.60, 0.70]),
        _curve(3, [0.40, 0.50, 0.55]),
        _curve(4, [0.30]),  # stopped at epoch 1: not among the jobs that reached epoch 2
    ]
    # Running averages at epoch 2: 0.65, 0.55, 0.45: the median is 0.55.
    assert median_rule_stops(_curve(5, [0.5, 0.54], "InProgress"), earlier, "Maximize")
    assert not median_rule_stops(_curve(5, [0.5, 0.56], "InProgress"), earlier, "Maximize")
    # Minimising the same numbers, low is good: 0.54 is better than the median.
    assert not median_rule_stops(_curve(5, [0.5, 0.54], "InProgress"), earlier, "Minimize")
    assert median_rule_stops(_curve(5, [0.5, 0.56], "InProgress"), earlier, "Minimize")
    # The running averages, not the last values (whose median, 0.60, would stop 0.57).
    assert not median_rule_stops(_curve(5, [0.5, 0.57], "InProgress"), earlier, "Maximize")


def test_the_median_rule_needs_three_earlier_jobs_at_the_epoch():
    earlier = [_curve(1, [0.9, 0.9]), _curve(2, [0.8, 0.8]), _curve(4, [0.7, 0.7])]
    weak = _curve(3, [0.1, 0.1], "InProgress")
    assert not median_rule_stops(weak, earlier, "Maximize")  # job 4 started after job 3
    assert median_rule_stops(weak, earlier + [_curve(0, [0.5, 0.5])], "Maximize")
    assert not median_rule_stops(Trial(5, {}, "InProgress"), earlier, "Maximize")
    assert not median_rule_stops(_curve(5, [0.1, 0.1], "Completed"), earlier * 2, "Maximize")


# --- Hyperband -------------------------------------------------------------------------------


def test_hyperband_rungs_and_brackets_from_the_resources():
    hyperband = make_strategy(
        "Hyperband", MIXED, "Maximize", 1, None, hyperband={"MinResource": 1, "MaxResource": 27}
    )
    assert isinstance(hyperband, Hyperband)
    assert hyperband.rungs == [1, 3, 9]
    counts = [hyperband.schedule.count(b) for b in range(4)]
    assert counts == [27, 12, 6, 4]  # Hyperband's ceil((s+1)/(s+1-b) * 3^(s-b)), s = 3
    assert hyperband.schedule[:4] == [0, 1, 2, 3]
    assert [hyperband.rungs_of(Trial(n, {})) for n in range(4)] == [[1, 3, 9], [3, 9], [9], []]
    assert make_strategy("Hyperband", MIXED, "Maximize", 1, None, {"MaxResource": 1}).rungs == []


def test_hyperband_stops_the_weak_at_the_rungs_and_keeps_the_best():
    hyperband = make_strategy(
        "Hyperband", MIXED, "Minimize", 1, None, hyperband={"MinResource": 2, "MaxResource": 18}
    )
    assert hyperband.rungs == [2, 6]
    aggressive = [n for n in range(100) if hyperband.bracket_of(Trial(n, {})) == 0][:7]
    safe = next(n for n in range(100) if hyperband.rungs_of(Trial(n, {})) == [])

    def job(number, loss, epochs, status="InProgress"):
        # Loss falling with the epochs from a level set by the configuration.
        return Trial(number, {}, status, None, [(e, loss / e) for e in range(1, epochs + 1)])

    done = [
        job(n, loss, 18, "Completed")
        for n, loss in zip(aggressive[:5], [1, 2, 3, 4, 5], strict=True)
    ]
    assert not hyperband.should_stop(job(aggressive[5], 9, 1), done)  # before MinResource
    assert hyperband.should_stop(job(aggressive[5], 9, 2), done)  # worst at rung 2
    assert hyperband.should_stop(job(aggressive[5], 2.5, 3), done)  # 3rd of 6: not in the top 2
    assert not hyperband.should_stop(job(aggressive[5], 1.5, 3), done)  # 2nd of 6
    assert not hyperband.should_stop(job(aggressive[5], 1.5, 4, "Stopped"), done)
    assert not hyperband.should_stop(job(safe, 9, 17), done)  # the safe bracket runs to the end
    # Alone at a rung, a job cannot be ranked: it goes on.
    assert not hyperband.should_stop(job(aggressive[6], 9, 2), done[:1])
    assert hyperband.exhausted(job(aggressive[0], 1, 18)) and not hyperband.exhausted(job(1, 1, 5))


def test_hyperband_proposes_random_configurations():
    hyperband = make_strategy("Hyperband", MIXED, "Maximize", 9, None, {"MaxResource": 9})
    assert hyperband.propose([], 4) == make_strategy("Random", MIXED, "Maximize", 9, 4).propose(
        [], 4
    )


def test_hyperband_resources_default_infer_and_refuse():
    assert hyperband_resources({"MaxResource": 10}) == (1, 10)
    assert hyperband_resources(None, {"num_round": "100", "epochs": "30"}) == (1, 30)
    assert hyperband_resources({"MinResource": 3}, {"n-epochs": "9"}) == (3, 9)
    with pytest.raises(ValueError, match="needs HyperbandStrategyConfig.MaxResource"):
        hyperband_resources({"MinResource": 1}, {"num_round": "100"})
    with pytest.raises(ValueError, match="MinResource \\(20\\) is greater than MaxResource"):
        hyperband_resources({"MinResource": 20, "MaxResource": 10})
    with pytest.raises(ValueError, match="above 20000"):
        hyperband_resources({"MaxResource": 20001})
    with pytest.raises(ValueError, match="MaxResource must be a positive integer"):
        hyperband_resources(None, {"epochs": "ten"})


# --- completion ------------------------------------------------------------------------------


def _results(values, objective_status="Completed"):
    return [Trial(n, {}, objective_status, v) for n, v in enumerate(values, start=1)]


def test_not_improving_counts_jobs_that_improve_by_one_percent_or_less():
    trials = _results([0.80, 0.85, 0.855, 0.86, 0.80])  # +0.6%, +1.2% (of 0.85), then worse
    assert count_not_improving(trials, "Maximize") == 1
    trials = _results([0.80, 0.85, 0.855, 0.858, 0.80])  # +0.6%, +0.9% (of 0.85), worse
    assert count_not_improving(trials, "Maximize") == 3
    assert not_improving(trials, "Maximize", 3) and not not_improving(trials, "Maximize", 4)
    # Minimising a loss, lower is better.
    assert count_not_improving(_results([1.0, 0.5, 0.499, 0.6]), "Minimize") == 2
    running = Trial(9, {}, "InProgress", 0.1)
    assert count_not_improving(_results([1.0, 0.5, 0.499, 0.6]) + [running], "Minimize") == 2


def test_converged_once_the_latest_half_brought_nothing():
    rising = _results([0.5 + 0.01 * i for i in range(12)])
    assert not converged(rising, "Maximize")
    plateau = _results([0.5, 0.7, 0.8, 0.9, 0.95, 0.96] + [0.9605] * 6)
    assert converged(plateau, "Maximize")
    assert not converged(plateau[:9], "Maximize")  # fewer than 10 results
    assert not converged(plateau[:-1] + [Trial(12, {}, "Completed", 0.99)], "Maximize")


def test_the_best_trial_is_the_best_finished_one_first_among_equals():
    trials = [
        Trial(1, {}, "Completed", 0.7),
        Trial(2, {}, "InProgress", 0.99),
        Trial(3, {}, "Stopped", 0.9),
        Trial(4, {}, "Completed", 0.9),
        Trial(5, {}, "Failed", None),
        Trial(6, {}, "Completed", float("nan")),
    ]
    assert best_trial(trials, "Maximize").number == 3
    assert best_trial(trials, "Minimize").number == 1
    assert best_trial(trials[4:], "Maximize") is None
