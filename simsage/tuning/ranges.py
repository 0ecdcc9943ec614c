"""Hyperparameter ranges of a tuning job: parsing the request's ``ParameterRanges``, the
scaling types, and the [0, 1] encoding the search strategies work in.

Layer: pure functions of the request (no store, no jobs); the tuning API calls
:func:`parse_ranges` when a job is created (a ``ValueError`` becomes a
``ValidationException`` there) and the strategies in :mod:`simsage.tuning.strategies` search
in the unit space that :func:`to_unit` / :func:`from_unit` define.

Invariants:
- A parsed range is valid: ``min <= max``, Logarithmic ranges are > 0, ReverseLogarithmic
  ranges are Continuous and inside [0, 1), categorical values are distinct and non-empty,
  names are unique across the three lists, at most 30 tunable hyperparameters.
- ``from_unit`` maps every u in [0, 1] to a value inside the range (u outside is clipped),
  and ``from_unit(r, to_unit(r, v)) == v`` for every value v of an Integer or Categorical
  range (for Continuous ranges up to floating-point rounding).
- Uniform u gives each scaling's distribution: Linear uniform on [min, max], Logarithmic
  uniform in log space, ReverseLogarithmic uniform in log(1 - x); an Integer range gives
  each integer the mass of the cell [v - 0.5, v + 0.5] in that space, a Categorical range
  each value 1/n.
- Values reach the children as strings (:func:`format_value`): integers as ``"12"``, floats
  as Python's shortest round-trip repr (``"0.1"``, ``"1e-05"``), categorical values as given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_TUNABLE = 30  # tunable hyperparameters per tuning job [DG automatic-model-tuning-limits]
MAX_CATEGORICAL_VALUES = 30  # values of one categorical range [DG define-ranges]
SCALING_TYPES = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")

# Auto (simsage choice, CONTRACTS part 2 §1): Logarithmic when the range is positive and spans
# at least this ratio, else Linear. Integer ranges need two decades: over one decade (1..10)
# there are too few values for log spacing to help, and linear keeps each value equally likely.
AUTO_LOG_RATIO_CONTINUOUS = 10.0
AUTO_LOG_RATIO_INTEGER = 100.0


@dataclass(frozen=True)
class IntegerRange:
    """An ``IntegerParameterRanges`` entry: integers in [min, max]; ``scaling`` as requested."""

    name: str
    min: int
    max: int
    scaling: str = "Auto"


@dataclass(frozen=True)
class ContinuousRange:
    """A ``ContinuousParameterRanges`` entry: floats in [min, max]; ``scaling`` as requested."""

    name: str
    min: float
    max: float
    scaling: str = "Auto"


@dataclass(frozen=True)
class CategoricalRange:
    """A ``CategoricalParameterRanges`` entry: one of ``values`` (distinct, in request order)."""

    name: str
    values: tuple[str, ...]


Range = IntegerRange | ContinuousRange | CategoricalRange


def parse_ranges(parameter_ranges: dict[str, Any] | None) -> list[Range]:
    """The ranges of a request's ``ParameterRanges``, in request order: the Integer ranges,
    then the Continuous ones, then the Categorical ones, then ``AutoParameters`` (each
    turned into a range by :func:`auto_range`).

    Categorical values that repeat are kept once (the first time they appear), so Grid runs
    each distinct combination once.

    Raises:
        ValueError: with a message naming the hyperparameter and what to change, when a
            bound is not a number (or not an integer for an Integer range), MinValue >
            MaxValue, the ScalingType is unknown, Logarithmic has MinValue <= 0,
            ReverseLogarithmic is on an Integer range or outside 0 <= x < 1, a categorical
            range has no values or more than 30, a name is used twice, there are more than
            30 tunable hyperparameters or none at all.
    """
    parameter_ranges = parameter_ranges or {}
    ranges: list[Range] = []
    for entry in parameter_ranges.get("IntegerParameterRanges") or []:
        ranges.append(_integer_range(entry))
    for entry in parameter_ranges.get("ContinuousParameterRanges") or []:
        ranges.append(_continuous_range(entry))
    for entry in parameter_ranges.get("CategoricalParameterRanges") or []:
        ranges.append(_categorical_range(entry))
    for entry in parameter_ranges.get("AutoParameters") or []:
        ranges.append(auto_range(_name(entry, "AutoParameters"), str(entry.get("ValueHint", ""))))
    if not ranges:
        raise ValueError(
            "ParameterRanges defines no hyperparameter to tune: give at least one of "
            "IntegerParameterRanges, ContinuousParameterRanges, CategoricalParameterRanges "
            "or AutoParameters."
        )
    if len(ranges) > MAX_TUNABLE:
        raise ValueError(
            f"ParameterRanges defines {len(ranges)} tunable hyperparameters; a tuning job can "
            f"tune at most {MAX_TUNABLE}. Make some of them static hyperparameters."
        )
    seen: set[str] = set()
    for parameter in ranges:
        if parameter.name in seen:
            raise ValueError(
                f"The hyperparameter '{parameter.name}' has more than one range in "
                "ParameterRanges; give each hyperparameter one range."
            )
        seen.add(parameter.name)
    return ranges


def auto_range(name: str, value_hint: str) -> Range:
    """The range simsage tunes for an ``AutoParameters`` entry (simsage choice; AWS does not
    document how Autotune derives ranges): an integer hint n > 0 gives integers in
    [ceil(n / 10), 10 n], a positive float hint f gives [f / 10, 10 f] (both Auto scaling,
    so Logarithmic), a hint of 0 or less gives a Linear range of the same width around it,
    and any other hint is a categorical range holding that value only.
    """
    hint = value_hint.strip()
    try:
        integer = int(hint)
    except ValueError:
        integer = None
    if integer is not None:
        if integer > 0:
            return IntegerRange(name, max(1, math.ceil(integer / 10)), integer * 10, "Auto")
        width = max(10, abs(integer) * 10)
        return IntegerRange(name, integer - width, integer + width, "Linear")
    try:
        number = float(hint)
    except ValueError:
        number = math.nan
    if math.isfinite(number):
        if number > 0:
            return ContinuousRange(name, number / 10, number * 10, "Auto")
        width = max(1.0, abs(number) * 10)
        return ContinuousRange(name, number - width, number + width, "Linear")
    return CategoricalRange(name, (value_hint,))


def resolve_scaling(parameter: Range) -> str:
    """The scaling a range is searched with: its ScalingType, with ``Auto`` resolved to
    ``Logarithmic`` when min > 0 and max / min reaches 10 (Continuous) or 100 (Integer),
    else ``Linear``. Categorical ranges answer ``"Categorical"``."""
    if isinstance(parameter, CategoricalRange):
        return "Categorical"
    if parameter.scaling != "Auto":
        return parameter.scaling
    threshold = (
        AUTO_LOG_RATIO_INTEGER if isinstance(parameter, IntegerRange) else AUTO_LOG_RATIO_CONTINUOUS
    )
    if parameter.min > 0 and parameter.max / parameter.min >= threshold:
        return "Logarithmic"
    return "Linear"


def to_unit(parameter: Range, value: Any) -> float:
    """The point in [0, 1] that encodes ``value`` (a number, or a categorical value) under
    the range's scaling; values outside the range are clipped to its ends.

    Integer v encodes to a point inside its cell [v - 0.5, v + 0.5] (in the scaling's
    space), Categorical value i of n to the middle of [i/n, (i+1)/n].

    Raises:
        ValueError: a categorical value that is not one of the range's values.
    """
    if isinstance(parameter, CategoricalRange):
        index = parameter.values.index(str(value)) if str(value) in parameter.values else -1
        if index < 0:
            raise ValueError(
                f"'{value}' is not one of the values of the categorical hyperparameter "
                f"'{parameter.name}': {list(parameter.values)}."
            )
        return (index + 0.5) / len(parameter.values)
    low, high = _bounds(parameter)
    if high == low:
        return 0.0
    point = _forward(
        resolve_scaling(parameter), min(max(float(value), parameter.min), parameter.max)
    )
    return min(max((point - low) / (high - low), 0.0), 1.0)


def from_unit(parameter: Range, u: float) -> int | float | str:
    """The value of the range that ``u`` (clipped to [0, 1]) encodes: an ``int`` for Integer
    ranges, a ``float`` for Continuous ones, the value string for Categorical ones."""
    u = min(max(float(u), 0.0), 1.0)
    if isinstance(parameter, CategoricalRange):
        return parameter.values[min(int(u * len(parameter.values)), len(parameter.values) - 1)]
    if isinstance(parameter, ContinuousRange) and u in (0.0, 1.0):
        # The ends exactly: exp(log(0.001)) is 0.0010000000000000002.
        return parameter.max if u == 1.0 else parameter.min
    low, high = _bounds(parameter)
    value = _inverse(resolve_scaling(parameter), low + u * (high - low))
    if isinstance(parameter, IntegerRange):
        # The cells are [v - 0.5, v + 0.5]: rounding half up keeps each one's mass to itself.
        return min(max(math.floor(value + 0.5), parameter.min), parameter.max)
    return min(max(value, parameter.min), parameter.max)


def snap_units(parameter: Range, units: np.ndarray) -> np.ndarray:
    """For an array of points in [0, 1] (clipped), the unit point of the value each one
    decodes to, elementwise: ``to_unit(r, from_unit(r, u))`` for many candidates at once.
    Continuous points stay where they are, Integer ones move to their integer's point,
    Categorical ones to the middle of their value's slice."""
    units = np.clip(np.asarray(units, dtype=float), 0.0, 1.0)
    if isinstance(parameter, CategoricalRange):
        n = len(parameter.values)
        return (np.minimum(np.floor(units * n), n - 1) + 0.5) / n
    low, high = _bounds(parameter)
    if high == low:
        return np.zeros_like(units)
    if isinstance(parameter, ContinuousRange):
        return units
    scaling = resolve_scaling(parameter)
    values = np.floor(_inverse_array(scaling, low + units * (high - low)) + 0.5)
    values = np.clip(values, parameter.min, parameter.max)
    return np.clip((_forward_array(scaling, values) - low) / (high - low), 0.0, 1.0)


def format_value(parameter: Range, value: Any) -> str:
    """The string a child's HyperParameters carry for ``value``: ``"12"`` for an integer,
    the shortest repr that reads back as the same float (``"0.1"``, ``"1e-05"``) for a
    continuous value, the value itself for a categorical one."""
    if isinstance(parameter, CategoricalRange):
        return str(value)
    if isinstance(parameter, IntegerRange):
        return str(int(value))
    return repr(float(value))


def parse_value(parameter: Range, text: str) -> int | float | str:
    """The value a formatted hyperparameter string holds for this range (the inverse of
    :func:`format_value`; Integer ranges also read ``"12.0"``).

    Raises:
        ValueError: the text is not a number of the range's type, or not one of the
            categorical values.
    """
    if isinstance(parameter, CategoricalRange):
        if text not in parameter.values:
            raise ValueError(
                f"'{text}' is not one of the values of the categorical hyperparameter "
                f"'{parameter.name}': {list(parameter.values)}."
            )
        return text
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"'{text}' is not a finite number for '{parameter.name}'.")
    if isinstance(parameter, IntegerRange):
        if number != int(number):
            raise ValueError(f"'{text}' is not an integer for '{parameter.name}'.")
        return int(number)
    return number


# --- the scalings' spaces ----------------------------------------------------------------


def _bounds(parameter: IntegerRange | ContinuousRange) -> tuple[float, float]:
    """The range's ends in its scaling's space (Integer ranges widened by half a cell)."""
    scaling = resolve_scaling(parameter)
    low, high = float(parameter.min), float(parameter.max)
    if isinstance(parameter, IntegerRange):
        low, high = low - 0.5, high + 0.5
    return _forward(scaling, low), _forward(scaling, high)


def _forward(scaling: str, x: float) -> float:
    if scaling == "Logarithmic":
        return math.log(x)
    if scaling == "ReverseLogarithmic":
        # Increasing in x, so u grows with the value: -log(1 - x).
        return -math.log(1.0 - x)
    return x


def _forward_array(scaling: str, x: np.ndarray) -> np.ndarray:
    if scaling == "Logarithmic":
        return np.log(x)
    if scaling == "ReverseLogarithmic":
        return -np.log(1.0 - x)
    return x


def _inverse_array(scaling: str, y: np.ndarray) -> np.ndarray:
    if scaling == "Logarithmic":
        return np.exp(y)
    if scaling == "ReverseLogarithmic":
        return 1.0 - np.exp(-y)
    return y


def _inverse(scaling: str, y: float) -> float:
    if scaling == "Logarithmic":
        return math.exp(y)
    if scaling == "ReverseLogarithmic":
        return 1.0 - math.exp(-y)
    return y


# --- parsing the request -----------------------------------------------------------------


def _name(entry: dict[str, Any], kind: str) -> str:
    name = entry.get("Name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"Every entry of {kind} needs a Name.")
    return name


def _scaling(entry: dict[str, Any], name: str) -> str:
    scaling = entry.get("ScalingType") or "Auto"
    if scaling not in SCALING_TYPES:
        raise ValueError(
            f"ScalingType '{scaling}' of the hyperparameter '{name}' is not one of "
            f"{', '.join(SCALING_TYPES)}."
        )
    return scaling


def _number(entry: dict[str, Any], key: str, name: str, integer: bool) -> int | float:
    text = entry.get(key)
    kind = "an integer" if integer else "a number"
    try:
        number = float(str(text).strip()) if text is not None else math.nan
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or (integer and number != int(number)):
        raise ValueError(f"{key} '{text}' of the hyperparameter '{name}' must be {kind}.")
    return int(number) if integer else number


def _check_order(name: str, low: float, high: float) -> None:
    if low > high:
        raise ValueError(
            f"MinValue ({low}) of the hyperparameter '{name}' is greater than its MaxValue "
            f"({high}); MinValue must be less than or equal to MaxValue."
        )


def _integer_range(entry: dict[str, Any]) -> IntegerRange:
    name = _name(entry, "IntegerParameterRanges")
    low = _number(entry, "MinValue", name, integer=True)
    high = _number(entry, "MaxValue", name, integer=True)
    scaling = _scaling(entry, name)
    _check_order(name, low, high)
    if scaling == "ReverseLogarithmic":
        raise ValueError(
            f"The integer hyperparameter '{name}' cannot use ScalingType ReverseLogarithmic: "
            "it applies to continuous ranges only. Use Linear, Logarithmic or Auto."
        )
    if scaling == "Logarithmic" and low <= 0:
        raise ValueError(
            f"The hyperparameter '{name}' uses ScalingType Logarithmic, so its range must be "
            f"greater than 0, but MinValue is {low}. Raise MinValue or use Linear scaling."
        )
    return IntegerRange(name, int(low), int(high), scaling)


def _continuous_range(entry: dict[str, Any]) -> ContinuousRange:
    name = _name(entry, "ContinuousParameterRanges")
    low = float(_number(entry, "MinValue", name, integer=False))
    high = float(_number(entry, "MaxValue", name, integer=False))
    scaling = _scaling(entry, name)
    _check_order(name, low, high)
    if scaling == "Logarithmic" and low <= 0:
        raise ValueError(
            f"The hyperparameter '{name}' uses ScalingType Logarithmic, so its range must be "
            f"greater than 0, but MinValue is {low}. Raise MinValue or use Linear scaling."
        )
    if scaling == "ReverseLogarithmic" and not (low >= 0 and high < 1):
        raise ValueError(
            f"The hyperparameter '{name}' uses ScalingType ReverseLogarithmic, so its range "
            f"must lie in 0 <= x < 1, but it is [{low}, {high}]. Narrow the range or use "
            "Linear scaling."
        )
    return ContinuousRange(name, low, high, scaling)


def _categorical_range(entry: dict[str, Any]) -> CategoricalRange:
    name = _name(entry, "CategoricalParameterRanges")
    given = entry.get("Values") or []
    values = tuple(dict.fromkeys(str(value) for value in given))
    if not values:
        raise ValueError(f"The categorical hyperparameter '{name}' needs at least one value.")
    if len(values) > MAX_CATEGORICAL_VALUES:
        raise ValueError(
            f"The categorical hyperparameter '{name}' has {len(values)} values; a categorical "
            f"range can hold at most {MAX_CATEGORICAL_VALUES}."
        )
    return CategoricalRange(name, values)
