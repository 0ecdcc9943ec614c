"""Statistics over stored samples, computed at query time for any period.

Layer: pure functions of the ``cloudwatch`` API (no store, no wire shapes).

What CloudWatch documents, and this module does:
- a period is 1, 5, 10, 30 (high resolution) or a multiple of 60 seconds;
- the start time is rounded down: to the period below 60 s, otherwise to the minute when
  it is less than 15 days ago, to 5 minutes up to 63 days, to the hour beyond; buckets are
  ``[start + k·period, start + (k+1)·period)`` and only buckets with data give a datapoint;
- standard-resolution data has one-minute granularity: in a sub-minute period it counts
  in the bucket of its minute;
- SampleCount, Sum, Minimum, Maximum, Average (Sum / SampleCount) combine every sample;
  a percentile ``pNN`` is the nearest-rank value of the samples' values weighted by
  their counts, and is unavailable (None) for a bucket holding a statistic set whose
  Minimum and Maximum differ or any negative value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from simsage.store.metrics import STANDARD_RESOLUTION, Sample

STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
HIGH_RESOLUTION_PERIODS = (1, 5, 10, 30)
PERCENTILE = re.compile(r"p(\d{1,2}(?:\.\d{1,10})?|100(?:\.0{1,10})?)")
DAY = 86400.0


def period_problem(period: int) -> str | None:
    """Why ``period`` is not a valid period (None if it is)."""
    if period in HIGH_RESOLUTION_PERIODS or (period >= 60 and period % 60 == 0):
        return None
    return (
        "The period must be 1, 5, 10 or 30 seconds (high-resolution metrics) or a "
        "multiple of 60 seconds."
    )


def percentile_of(stat: str) -> float | None:
    """The percentile a ``pNN`` statistic names (None if ``stat`` is not one)."""
    found = PERCENTILE.fullmatch(stat)
    return float(found.group(1)) if found else None


def aligned_start(start: float, period: int, now: float) -> float:
    """``start`` rounded down as CloudWatch rounds a query's start time."""
    if period < 60:
        unit = period
    else:
        age = now - start
        unit = 60 if age < 15 * DAY else 300 if age < 63 * DAY else 3600
    return math.floor(start / unit) * unit


def bucket_count(start: float, end: float, period: int) -> int:
    """How many periods ``[start, end)`` spans (the datapoints a query may answer)."""
    return max(0, math.ceil((end - start) / period))


def bucketed(
    samples: Iterable[Sample], start: float, period: int
) -> dict[tuple[float, str], list[Sample]]:
    """Samples grouped by (bucket start, unit), buckets in time order."""
    grouped: dict[tuple[float, str], list[Sample]] = {}
    for sample in samples:
        ts = sample.timestamp
        if period < 60 and sample.resolution >= STANDARD_RESOLUTION:
            ts = math.floor(ts / 60) * 60  # one-minute granularity
        bucket = start + math.floor((ts - start) / period) * period
        grouped.setdefault((bucket, sample.unit), []).append(sample)
    return dict(sorted(grouped.items()))


def statistic(samples: list[Sample], stat: str) -> float | None:
    """One statistic (a name of :data:`STATISTICS` or ``pNN``) of a bucket's samples."""
    count = sum(s.count for s in samples)
    if stat == "SampleCount":
        return count
    if stat == "Sum":
        return sum(s.total for s in samples)
    if stat == "Average":
        return sum(s.total for s in samples) / count if count else None
    if stat == "Minimum":
        return min(s.minimum for s in samples)
    if stat == "Maximum":
        return max(s.maximum for s in samples)
    rank = percentile_of(stat)
    return None if rank is None else percentile(samples, rank)


def percentile(samples: list[Sample], rank: float) -> float | None:
    """The nearest-rank ``rank``-th percentile of the samples' weighted values."""
    if any(s.value is None or s.minimum < 0 for s in samples):
        return None
    weighted = sorted((s.value, s.count) for s in samples if s.count > 0)
    total = sum(c for _, c in weighted)
    if not total:
        return None
    needed = max(math.ceil(rank / 100 * total - 1e-9), 1)
    seen = 0.0
    for value, count in weighted:
        seen += count
        if seen >= needed:
            return value
    return weighted[-1][0]
