"""Metric math for GetMetricData: the simple expressions of CloudWatch's syntax.

Layer: pure functions of the ``cloudwatch`` API.

Supported: numbers, the ids of other queries, ``+ - * / ^`` (``^`` binding tightest and
right-associative, a sign applying to the power after it), parentheses,
arrays ``[m1, m2]``, ``METRICS()`` / ``METRICS("text")`` (the request's MetricStat
results, optionally those whose id or label contains the text), and ``SUM``, ``AVG``,
``MIN``, ``MAX``, ``ABS``, ``CEIL``, ``FLOOR``. As in CloudWatch:
- arithmetic between two time series is computed at the timestamps both have; between a
  series and a scalar, at every timestamp of the series; an array with a scalar or a
  series applies to each of its series;
- ``SUM``/``AVG``/``MIN``/``MAX`` of an array is one series (at every timestamp where
  some member has a value, over the members that have one); of a single series, a scalar;
- a division by zero gives no value at that timestamp.

Anything else (an unknown function or id, a syntax error, a cycle between expressions)
raises :class:`ExpressionError`, answered as a ValidationError naming the query.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

Series = dict[float, float]  # timestamp -> value


class ExpressionError(ValueError):
    """An expression that cannot be evaluated; the message says why."""


@dataclass
class Labeled:
    """A series with the id and label of the query it comes from."""

    id: str
    label: str
    values: Series


_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<string>\"[^\"]*\"|'[^']*')"
    r"|(?P<op>[-+*/^(),\[\]]))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        found = _TOKEN.match(text, position)
        if found is None or found.end() == position:
            raise ExpressionError(f"Syntax error at character {position + 1} of '{text}'.")
        kind = found.lastgroup
        tokens.append((kind, found.group(kind)))
        position = found.end()
    return tokens


_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "^": operator.pow,
}


def _apply(op: str, left, right):
    """``left op right`` for scalars, series (dicts) and arrays (lists of Labeled). A
    result that is not a finite number is "no value": dropped from a series, NaN for two
    scalars."""
    if isinstance(left, list) and isinstance(right, list):
        raise ExpressionError(
            "Arithmetic between two arrays of time series is not supported; combine an "
            "array with a single time series or a number, or reduce one side first "
            "(SUM, AVG, MIN, MAX)."
        )
    if isinstance(left, list):
        return [Labeled(s.id, s.label, _apply(op, s.values, right)) for s in left]
    if isinstance(right, list):
        return [Labeled(s.id, s.label, _apply(op, left, s.values)) for s in right]
    fn = _ARITHMETIC[op]

    def safe(a: float, b: float) -> float | None:
        try:
            value = fn(a, b)
        except (ZeroDivisionError, OverflowError, ValueError):
            return None
        if isinstance(value, complex) or not math.isfinite(value):
            return None
        return value

    if isinstance(left, dict) and isinstance(right, dict):
        pairs = ((ts, safe(left[ts], right[ts])) for ts in left if ts in right)
    elif isinstance(left, dict):
        pairs = ((ts, safe(v, right)) for ts, v in left.items())
    elif isinstance(right, dict):
        pairs = ((ts, safe(left, v)) for ts, v in right.items())
    else:
        value = safe(left, right)
        return math.nan if value is None else value
    return {ts: v for ts, v in pairs if v is not None}


_REDUCERS: dict[str, Callable[[list[float]], float]] = {
    "SUM": sum,
    "AVG": lambda values: sum(values) / len(values),
    "MIN": min,
    "MAX": max,
}
_ELEMENTWISE: dict[str, Callable[[float], float]] = {
    "ABS": abs,
    "CEIL": math.ceil,
    "FLOOR": math.floor,
}


def _one(fn: Callable[[float], float], value) -> float:
    """``fn(value)``, or NaN ("no value") when there is none to take (NaN, infinite)."""
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return math.nan
    result = float(fn(value))
    return result if math.isfinite(result) else math.nan


def _each(fn: Callable[[float], float], series: dict) -> dict:
    """``fn`` of each value of a series, leaving out what has no value."""
    out = {t: _one(fn, v) for t, v in series.items()}
    return {t: v for t, v in out.items() if math.isfinite(v)}


class _Parser:
    def __init__(self, text: str, resolve: Callable[[str], object], metrics: list[Labeled]):
        self.tokens = _tokens(text)
        self.position = 0
        self.text = text
        self.resolve = resolve
        self.metrics = metrics

    def parse(self):
        if not self.tokens:
            raise ExpressionError("The expression is empty.")
        value = self.expression()
        if self.position != len(self.tokens):
            raise ExpressionError(f"Unexpected '{self.tokens[self.position][1]}' in '{self.text}'.")
        return value

    def peek(self) -> str | None:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.position >= len(self.tokens):
            raise ExpressionError(f"The expression '{self.text}' ends too early.")
        token = self.tokens[self.position]
        if expected is not None and token[1] != expected:
            raise ExpressionError(f"Expected '{expected}' but found '{token[1]}' in '{self.text}'.")
        self.position += 1
        return token

    def expression(self):
        value = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()[1]
            value = _apply(op, value, self.term())
        return value

    def term(self):
        value = self.unary()
        while self.peek() in ("*", "/"):
            op = self.take()[1]
            value = _apply(op, value, self.unary())
        return value

    def unary(self):
        # A sign applies to the power after it: -2 ^ 2 is -(2 ^ 2).
        if self.peek() == "-":
            self.take()
            return _apply("*", -1.0, self.unary())
        if self.peek() == "+":
            self.take()
            return self.unary()
        return self.power()

    def power(self):
        value = self.primary()
        if self.peek() == "^":
            self.take()
            value = _apply("^", value, self.unary())  # right-associative: 2^3^2 = 2^9
        return value

    def primary(self):
        kind, text = self.take()
        if kind == "number":
            return float(text)
        if kind == "string":
            raise ExpressionError(f"A string ({text}) can only be an argument of METRICS().")
        if text == "(":
            value = self.expression()
            self.take(")")
            return value
        if text == "[":
            items = [self.expression()]
            while self.peek() == ",":
                self.take()
                items.append(self.expression())
            self.take("]")
            return self.array(items)
        if kind != "name":
            raise ExpressionError(f"Unexpected '{text}' in '{self.text}'.")
        if self.peek() == "(":
            return self.call(text)
        return self.resolve(text)

    def array(self, items: list) -> list[Labeled]:
        out: list[Labeled] = []
        for index, item in enumerate(items):
            if isinstance(item, list):
                out.extend(item)
            elif isinstance(item, dict):
                out.append(Labeled(f"[{index}]", f"[{index}]", item))
            else:
                raise ExpressionError("An array can hold time series only, not a number.")
        return out

    def call(self, name: str):
        function = name.upper()
        self.take("(")
        if function == "METRICS":
            text = ""
            if self.peek() != ")":
                kind, raw = self.take()
                if kind != "string":
                    raise ExpressionError("METRICS() takes an optional string only.")
                text = raw[1:-1]
            self.take(")")
            return [m for m in self.metrics if text in m.id or text in m.label]
        argument = self.expression()
        self.take(")")
        if function in _REDUCERS:
            reduce = _REDUCERS[function]
            if isinstance(argument, list):
                stamps = sorted({ts for s in argument for ts in s.values})
                return {
                    ts: reduce([s.values[ts] for s in argument if ts in s.values]) for ts in stamps
                }
            if isinstance(argument, dict):
                return reduce(list(argument.values())) if argument else math.nan
            return argument
        if function in _ELEMENTWISE:
            fn = _ELEMENTWISE[function]
            if isinstance(argument, list):
                return [Labeled(s.id, s.label, _each(fn, s.values)) for s in argument]
            if isinstance(argument, dict):
                return _each(fn, argument)
            return _one(fn, argument)
        raise ExpressionError(
            f"Unsupported function {name}: simsage evaluates SUM, AVG, MIN, MAX, ABS, CEIL, "
            "FLOOR and METRICS()."
        )


def evaluate(text: str, resolve: Callable[[str], object], metrics: list[Labeled]):
    """The value of expression ``text``: a float, a series (``{timestamp: value}``) or
    an array (``[Labeled]``).

    Args:
        resolve: the value of another query's id (raises ExpressionError if unknown).
        metrics: the request's MetricStat results, for ``METRICS()``.
    """
    try:
        return _Parser(text, resolve, metrics).parse()
    except RecursionError:
        raise ExpressionError(
            "The expression is nested too deeply; simplify it (fewer nested parentheses or signs)."
        ) from None
