"""simsage.tuning.ranges: the request's ParameterRanges are parsed or refused with a message
saying what to change, and each ScalingType's [0, 1] encoding gives the distribution the
docs describe, stays inside the range, and reads back the values it wrote."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simsage.tuning.ranges import (
    CategoricalRange,
    ContinuousRange,
    IntegerRange,
    auto_range,
    format_value,
    from_unit,
    parse_ranges,
    parse_value,
    resolve_scaling,
    snap_units,
    to_unit,
)


def _bounded(name, low, high, scaling="Auto"):
    return {"Name": name, "MinValue": str(low), "MaxValue": str(high), "ScalingType": scaling}


def test_the_three_lists_parse_in_request_order_with_their_types():
    ranges = parse_ranges(
        {
            "CategoricalParameterRanges": [{"Name": "booster", "Values": ["gbtree", "dart"]}],
            "ContinuousParameterRanges": [_bounded("eta", "0.01", "0.5", "Logarithmic")],
            "IntegerParameterRanges": [_bounded("max_depth", 2, 8)],
        }
    )
    assert ranges == [
        IntegerRange("max_depth", 2, 8, "Auto"),
        ContinuousRange("eta", 0.01, 0.5, "Logarithmic"),
        CategoricalRange("booster", ("gbtree", "dart")),
    ]
    # The SDK sends ScalingType; a hand-written request may leave it out: Auto.
    (plain,) = parse_ranges(
        {"IntegerParameterRanges": [{"Name": "n", "MinValue": "1", "MaxValue": "3"}]}
    )
    assert plain.scaling == "Auto"


@pytest.mark.parametrize(
    ("ranges", "says"),
    [
        ({"IntegerParameterRanges": [_bounded("depth", 9, 3)]}, "MinValue (9) of the hyperparameter 'depth' is greater than its MaxValue (3)"),
        ({"ContinuousParameterRanges": [_bounded("eta", "0.5", "0.1")]}, "greater than its MaxValue"),
        ({"ContinuousParameterRanges": [_bounded("eta", "0", "1", "Logarithmic")]}, "Logarithmic, so its range must be greater than 0, but MinValue is 0.0"),
        ({"IntegerParameterRanges": [_bounded("n", -1, 10, "Logarithmic")]}, "Logarithmic"),
        ({"IntegerParameterRanges": [_bounded("n", 0, 1, "ReverseLogarithmic")]}, "cannot use ScalingType ReverseLogarithmic"),
        ({"ContinuousParameterRanges": [_bounded("m", "0.5", "1", "ReverseLogarithmic")]}, "must lie in 0 <= x < 1"),
        ({"ContinuousParameterRanges": [_bounded("m", "-0.1", "0.5", "ReverseLogarithmic")]}, "must lie in 0 <= x < 1"),
        ({"IntegerParameterRanges": [_bounded("n", "1.5", 4)]}, "MinValue '1.5' of the hyperparameter 'n' must be an integer"),
        ({"ContinuousParameterRanges": [_bounded("x", "low", "2")]}, "MinValue 'low' of the hyperparameter 'x' must be a number"),
        ({"ContinuousParameterRanges": [_bounded("x", "0", "inf")]}, "MaxValue 'inf'"),
        ({"IntegerParameterRanges": [_bounded("n", 1, 4, "Exponential")]}, "ScalingType 'Exponential'"),
        ({"CategoricalParameterRanges": [{"Name": "c", "Values": []}]}, "needs at least one value"),
        ({"CategoricalParameterRanges": [{"Name": "c", "Values": [str(i) for i in range(31)]}]}, "has 31 values; a categorical range can hold at most 30"),
        ({"IntegerParameterRanges": [_bounded("a", 1, 2)], "CategoricalParameterRanges": [{"Name": "a", "Values": ["x"]}]}, "'a' has more than one range"),
        ({"IntegerParameterRanges": [_bounded(f"p{i}", 1, 2) for i in range(20)], "ContinuousParameterRanges": [_bounded(f"q{i}", 0, 1) for i in range(11)]}, "31 tunable hyperparameters; a tuning job can tune at most 30"),
        ({}, "defines no hyperparameter to tune"),
    ],
)  # fmt: skip
def test_invalid_ranges_are_refused_saying_what_to_change(ranges, says):
    with pytest.raises(ValueError) as refused:
        parse_ranges(ranges)
    assert says in str(refused.value)


def test_thirty_tunable_and_repeated_categorical_values_are_accepted():
    ranges = parse_ranges(
        {
            "IntegerParameterRanges": [_bounded(f"p{i}", 1, 2) for i in range(29)],
            "CategoricalParameterRanges": [{"Name": "c", "Values": ["a", "b", "a", "c", "b"]}],
        }
    )
    assert len(ranges) == 30
    assert ranges[-1].values == ("a", "b", "c")  # each distinct value once, first-seen order


def test_equal_bounds_are_a_range_of_one_value():
    (fixed,) = parse_ranges({"ContinuousParameterRanges": [_bounded("x", "0.3", "0.3")]})
    assert [from_unit(fixed, u) for u in (0.0, 0.5, 1.0)] == [0.3, 0.3, 0.3]
    (single,) = parse_ranges({"IntegerParameterRanges": [_bounded("n", 7, 7, "Logarithmic")]})
    assert {from_unit(single, u) for u in np.linspace(0, 1, 11)} == {7}


def test_auto_is_logarithmic_for_positive_ranges_spanning_enough_decades():
    assert resolve_scaling(ContinuousRange("eta", 0.01, 0.5)) == "Logarithmic"
    assert resolve_scaling(ContinuousRange("eta", 0.1, 0.5)) == "Linear"
    assert resolve_scaling(ContinuousRange("shift", -1.0, 100.0)) == "Linear"
    assert resolve_scaling(ContinuousRange("zero", 0.0, 100.0)) == "Linear"
    assert resolve_scaling(IntegerRange("depth", 1, 10)) == "Linear"
    assert resolve_scaling(IntegerRange("rounds", 10, 1000)) == "Logarithmic"
    assert resolve_scaling(IntegerRange("rounds", 10, 1000, "Linear")) == "Linear"
    assert resolve_scaling(CategoricalRange("c", ("a",))) == "Categorical"


def _draws(parameter, n=20000):
    return np.array([from_unit(parameter, u) for u in np.random.default_rng(7).random(n)])


def test_linear_is_uniform_on_the_range():
    values = _draws(ContinuousRange("x", 2.0, 6.0, "Linear"))
    assert values.min() >= 2.0 and values.max() <= 6.0
    assert np.mean(values < 3.0) == pytest.approx(0.25, abs=0.02)
    assert np.median(values) == pytest.approx(4.0, abs=0.1)


def test_logarithmic_spreads_values_evenly_over_the_decades():
    values = _draws(ContinuousRange("alpha", 1e-4, 1.0, "Logarithmic"))
    assert values.min() >= 1e-4 and values.max() <= 1.0
    decades = np.histogram(np.log10(values), bins=[-4, -3, -2, -1, 0])[0] / len(values)
    assert decades == pytest.approx([0.25] * 4, abs=0.02)


def test_reverse_logarithmic_crowds_values_near_one():
    values = _draws(ContinuousRange("momentum", 0.0, 0.999, "ReverseLogarithmic"))
    assert values.min() >= 0.0 and values.max() < 1.0
    # Uniform in log(1 - x) over [log 0.001, log 1]: each decade of 1 - x gets a third.
    gaps = np.histogram(np.log10(1 - values), bins=[-3, -2, -1, 0])[0] / len(values)
    assert gaps == pytest.approx([1 / 3] * 3, abs=0.02)
    assert np.mean(values > 0.9) == pytest.approx(2 / 3, abs=0.02)


def test_integers_each_get_their_share_of_the_space():
    linear = _draws(IntegerRange("n", 1, 4, "Linear"))
    assert set(linear) == {1, 2, 3, 4}
    assert [np.mean(linear == v) for v in (1, 2, 3, 4)] == pytest.approx([0.25] * 4, abs=0.02)
    logarithmic = _draws(IntegerRange("n", 1, 1000, "Logarithmic"))
    assert logarithmic.min() >= 1 and logarithmic.max() <= 1000
    # Half the log space [0.5, 1000.5] lies below its geometric middle, about 22.4.
    assert np.mean(logarithmic <= 22) == pytest.approx(0.5, abs=0.02)
    assert all(isinstance(v, int) for v in (from_unit(IntegerRange("n", 1, 9), 0.3),))


def test_categorical_values_are_equally_likely():
    values = _draws(CategoricalRange("c", ("a", "b", "c")))
    assert [np.mean(values == v) for v in "abc"] == pytest.approx([1 / 3] * 3, abs=0.02)
    assert [to_unit(CategoricalRange("c", ("a", "b")), v) for v in "ab"] == [0.25, 0.75]
    with pytest.raises(ValueError, match="'z' is not one of the values"):
        to_unit(CategoricalRange("c", ("a", "b")), "z")


def test_units_outside_zero_one_and_values_outside_the_range_are_clipped():
    parameter = ContinuousRange("x", 1.0, 100.0, "Logarithmic")
    assert from_unit(parameter, -0.5) == 1.0 and from_unit(parameter, 1.5) == 100.0
    assert to_unit(parameter, 1000.0) == 1.0 and to_unit(parameter, 0.001) == 0.0
    assert from_unit(IntegerRange("n", 3, 5), 1.0) == 5


scalings = st.sampled_from(["Linear", "Logarithmic", "Auto"])


@settings(max_examples=200, deadline=None)
@given(low=st.integers(1, 10_000), span=st.integers(0, 10_000), scaling=scalings, u=st.floats(0, 1))
def test_integer_values_round_trip_through_the_unit_space(low, span, scaling, u):
    parameter = IntegerRange("n", low, low + span, scaling)
    value = from_unit(parameter, u)
    assert low <= value <= low + span
    assert from_unit(parameter, to_unit(parameter, value)) == value
    assert parse_value(parameter, format_value(parameter, value)) == value


@settings(max_examples=200, deadline=None)
@given(
    low=st.floats(1e-6, 1e3),
    factor=st.floats(1.0, 1e4),
    scaling=scalings,
    u=st.floats(0, 1),
)
def test_continuous_values_round_trip_and_stay_inside(low, factor, scaling, u):
    parameter = ContinuousRange("x", low, low * factor, scaling)
    value = from_unit(parameter, u)
    assert parameter.min <= value <= parameter.max
    assert from_unit(parameter, to_unit(parameter, value)) == pytest.approx(value, rel=1e-9)
    if factor > 1.01:  # a range of (nearly) one value has no room to tell the u apart
        assert to_unit(parameter, value) == pytest.approx(u, abs=1e-6)
    assert parse_value(parameter, format_value(parameter, value)) == value


@settings(max_examples=100, deadline=None)
@given(low=st.floats(0, 0.5), high=st.floats(0.5, 0.99999), u=st.floats(0, 1))
def test_reverse_logarithmic_round_trips_inside_zero_one(low, high, u):
    parameter = ContinuousRange("m", low, high, "ReverseLogarithmic")
    value = from_unit(parameter, u)
    assert low <= value <= high < 1
    assert from_unit(parameter, to_unit(parameter, value)) == pytest.approx(value, abs=1e-9)
    if high - low > 0.01:
        assert to_unit(parameter, value) == pytest.approx(u, abs=1e-6)


def test_values_are_formatted_as_the_children_read_them():
    assert format_value(IntegerRange("n", 1, 20), 12) == "12"
    assert format_value(IntegerRange("n", 1, 20), np.int64(12)) == "12"
    assert format_value(ContinuousRange("x", 0, 1), 0.1) == "0.1"
    assert format_value(ContinuousRange("x", 0, 1), np.float64(1e-5)) == "1e-05"
    assert format_value(ContinuousRange("x", 0, 100), 100) == "100.0"
    assert format_value(CategoricalRange("c", ('"relu"', '"tanh"')), '"relu"') == '"relu"'
    assert parse_value(IntegerRange("n", 1, 20), "12.0") == 12
    with pytest.raises(ValueError, match="not an integer"):
        parse_value(IntegerRange("n", 1, 20), "12.5")
    with pytest.raises(ValueError, match="not one of the values"):
        parse_value(CategoricalRange("c", ("a",)), "b")


def test_auto_parameters_get_a_range_around_their_hint():
    assert auto_range("max_depth", "6") == IntegerRange("max_depth", 1, 60, "Auto")
    assert auto_range("num_round", "100") == IntegerRange("num_round", 10, 1000, "Auto")
    eta = auto_range("eta", "0.1")
    assert (eta.min, eta.max, resolve_scaling(eta)) == (pytest.approx(0.01), 1.0, "Logarithmic")
    assert auto_range("bias", "0") == IntegerRange("bias", -10, 10, "Linear")
    assert auto_range("objective", "binary:logistic") == CategoricalRange(
        "objective", ("binary:logistic",)
    )
    (parsed,) = parse_ranges({"AutoParameters": [{"Name": "eta", "ValueHint": "0.3"}]})
    assert isinstance(parsed, ContinuousRange) and math.isclose(parsed.max, 3.0)


@settings(max_examples=60, deadline=None)
@given(
    parameter=st.one_of(
        st.builds(IntegerRange, st.just("n"), st.integers(1, 50), st.integers(50, 5000), scalings),
        st.builds(ContinuousRange, st.just("x"), st.floats(1e-4, 1), st.floats(1, 1e3), scalings),
        st.builds(
            ContinuousRange,
            st.just("m"),
            st.just(0.0),
            st.floats(0.5, 0.999),
            st.just("ReverseLogarithmic"),
        ),
        st.builds(
            CategoricalRange,
            st.just("c"),
            st.lists(st.text(min_size=1), min_size=1, max_size=5, unique=True).map(tuple),
        ),
    ),  # fmt: skip
    seed=st.integers(0, 2**32),
)
def test_snapping_many_candidates_agrees_with_decoding_each(parameter, seed):
    units = np.random.default_rng(seed).random(50)
    expected = [to_unit(parameter, from_unit(parameter, u)) for u in units]
    assert snap_units(parameter, units) == pytest.approx(expected, abs=unit_tolerance(parameter))


def unit_tolerance(parameter) -> float:
    """How far two correct roundings of one unit value may differ: 1e-12, widened for a
    narrow continuous range, where the unit scale magnifies a value's last-bit rounding by
    ``max(|min|, |max|, 1) / (max - min)`` (e.g. [0.99999, 1.0] by 1e5)."""
    if isinstance(parameter, ContinuousRange) and parameter.max > parameter.min:
        magnitude = max(abs(parameter.min), abs(parameter.max), 1.0)
        conditioning = magnitude / (parameter.max - parameter.min)
        return 1e-12 + 64 * np.finfo(float).eps * conditioning
    return 1e-12


def test_the_ends_of_a_logarithmic_range_are_its_bounds_exactly():
    parameter = ContinuousRange("lambda", 0.001, 64.0, "Logarithmic")
    assert [format_value(parameter, from_unit(parameter, u)) for u in (0, 1)] == ["0.001", "64.0"]
