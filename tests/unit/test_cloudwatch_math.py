"""Metric math and statistics as CloudWatch computes them: precedence, series with
scalars and series, arrays and their reductions, no value where a division by zero
would be one, and nearest-rank percentiles that refuse spread statistic sets."""

from __future__ import annotations

import pytest

from simsage.cloudwatch.expressions import ExpressionError, Labeled, evaluate
from simsage.cloudwatch.statistics import aligned_start, percentile, period_problem
from simsage.store.metrics import Sample

A = {0.0: 1.0, 60.0: 2.0, 120.0: 4.0}
B = {60.0: 0.0, 120.0: 2.0, 180.0: 9.0}


def run(text: str):
    series = {"a": A, "b": B}

    def resolve(name: str):
        if name not in series:
            raise ExpressionError(f"Unknown metric id {name}.")
        return series[name]

    return evaluate(text, resolve, [Labeled("a", "A", A), Labeled("b", "B", B)])


def test_scalars_follow_the_usual_precedence():
    assert run("1 + 2 * 3 ^ 2") == 19.0
    assert run("-2 ^ 2") == -4.0 and run("2 ^ 3 ^ 2") == 512.0
    assert run("(1 + 2) * 3") == 9.0 and run("1.5e1 / .5") == 30.0


def test_series_arithmetic_keeps_common_timestamps_and_skips_division_by_zero():
    assert run("a * 10") == {0.0: 10.0, 60.0: 20.0, 120.0: 40.0}
    assert run("a + b") == {60.0: 2.0, 120.0: 6.0}
    assert run("a / b") == {120.0: 2.0}  # 2 / 0 at 60 s gives no value


def test_reductions_of_arrays_and_of_one_series():
    assert run("SUM(METRICS())") == {0.0: 1.0, 60.0: 2.0, 120.0: 6.0, 180.0: 9.0}
    assert run("MAX([a, b])") == {0.0: 1.0, 60.0: 2.0, 120.0: 4.0, 180.0: 9.0}
    assert run("AVG(a)") == pytest.approx(7 / 3)
    assert [s.id for s in run('METRICS("b")')] == ["b"]
    assert run("ABS(-1 * b)") == B


@pytest.mark.parametrize("text", ["a +", "FOO(a)", "c * 2", "[1, 2]", "a b", '"x"'])
def test_what_cannot_be_evaluated_is_an_expression_error(text):
    with pytest.raises(ExpressionError):
        run(text)


def test_percentiles_are_nearest_rank_and_need_single_values():
    values = [Sample.single(0.0, v) for v in (5.0, 1.0, 3.0, 2.0, 4.0)]
    assert [percentile(values, p) for p in (0, 20, 50, 90, 100)] == [1.0, 1.0, 3.0, 5.0, 5.0]
    spread = Sample.statistic_set(0.0, 2, 3.0, 1.0, 2.0)
    assert percentile([*values, spread], 50) is None
    assert percentile([Sample.statistic_set(0.0, 3, 6.0, 2.0, 2.0)], 50) == 2.0
    assert percentile([Sample.single(0.0, -1.0)], 50) is None


def test_periods_and_start_rounding():
    assert [period_problem(p) is None for p in (1, 5, 10, 30, 60, 300, 45, 90)] == [
        True, True, True, True, True, True, False, False,
    ]  # fmt: skip
    now = 10_000_000.0
    assert aligned_start(now - 125.0, 60, now) == (now - 125.0) // 60 * 60
    assert aligned_start(now - 20 * 86400, 60, now) % 300 == 0
    assert aligned_start(now - 7.0, 5, now) % 5 == 0


def test_what_has_no_value_stays_without_one_instead_of_failing():
    empty = {"a": A, "none": {}}

    def resolve(name: str):
        return empty[name]

    def value(text: str):
        return evaluate(text, resolve, [Labeled("a", "A", A)])

    import math

    for text in ("AVG(none) * 100", "1 / 0", "(0 - 8) ^ 0.5", "CEIL(SUM(none))", "ABS(2 ^ 1024)"):
        result = value(text)
        assert isinstance(result, float) and math.isnan(result), text
    assert value("a / 0") == {}
    assert value("FLOOR(a / 0)") == {}


def test_two_arrays_and_deep_nesting_are_expression_errors():
    with pytest.raises(ExpressionError, match="two arrays"):
        run("SUM([a, b] + [a, b])")
    with pytest.raises(ExpressionError, match="nested too deeply"):
        run("(" * 2000 + "1" + ")" * 2000)
