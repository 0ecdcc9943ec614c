"""The metric store: CloudWatch metric data points in the registry.

Layer: store, below every concept: the ``cloudwatch`` API reads and writes it, and the
publishers write it directly (the job runners through the runtime, the endpoint router)
while the tuning runner reads its training jobs' series; none of them imports another's
internals for it.

Invariants:
- a metric is its namespace, name and full set of dimensions (``metric_series``: one
  row each, dimensions kept sorted by name); a query names a metric by all three, as
  CloudWatch does;
- every datum put is kept as it came (``metric_points``): a single value, each value of
  Values/Counts and each StatisticValues set is one row of ``count``, ``sum``,
  ``min``, ``max``, plus ``value`` — the value percentiles can use (the datum's own for
  a single value or a Values entry, the rounded value of an aggregated bucket, NULL for
  a statistic set whose Min and Max differ, as CloudWatch computes no percentile from
  those). Statistics are computed at query time for any period;
- timestamps are epoch seconds (floats); points of a series read back in time order,
  and in the order they were put for equal times;
- :class:`MetricBuffer` gathers points from any thread and writes each flush in one
  transaction; :func:`flush_pending` flushes the buffers of this process that write to
  a home, so a reader in the same process sees what was put before it asked.
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass

from simsage.store.db import register_schema

log = logging.getLogger("simsage.cloudwatch")

register_schema(
    """
    CREATE TABLE IF NOT EXISTS metric_series (
        id INTEGER PRIMARY KEY, namespace TEXT NOT NULL, name TEXT NOT NULL,
        dims TEXT NOT NULL, last_put REAL NOT NULL,
        UNIQUE (namespace, name, dims));
    CREATE TABLE IF NOT EXISTS metric_points (
        id INTEGER PRIMARY KEY, series INTEGER NOT NULL, ts REAL NOT NULL,
        value REAL, count REAL NOT NULL, sum REAL NOT NULL, min REAL NOT NULL,
        max REAL NOT NULL, unit TEXT NOT NULL, resolution INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS metric_points_by_series ON metric_points (series, ts, id)
    """
)

STANDARD_RESOLUTION = 60
HIGH_RESOLUTION = 1


@dataclass(frozen=True)
class Sample:
    """One stored datum: ``count`` values summing to ``total`` between ``minimum`` and
    ``maximum``; ``value`` is what percentiles use (None: this datum has none)."""

    timestamp: float
    count: float
    total: float
    minimum: float
    maximum: float
    value: float | None
    unit: str = "None"
    resolution: int = STANDARD_RESOLUTION

    @classmethod
    def single(
        cls,
        timestamp: float,
        value: float,
        count: float = 1.0,
        unit: str = "None",
        resolution: int = STANDARD_RESOLUTION,
    ) -> Sample:
        """``count`` occurrences of ``value`` (a Value, or one entry of Values/Counts)."""
        return cls(timestamp, count, value * count, value, value, value, unit, resolution)

    @classmethod
    def statistic_set(
        cls,
        timestamp: float,
        count: float,
        total: float,
        minimum: float,
        maximum: float,
        unit: str = "None",
        resolution: int = STANDARD_RESOLUTION,
    ) -> Sample:
        """A StatisticValues set (percentiles only when it holds one distinct value)."""
        value = minimum if (count == 1 or minimum == maximum) else None
        return cls(timestamp, count, total, minimum, maximum, value, unit, resolution)


@dataclass(frozen=True)
class Metric:
    """A metric: namespace, name and dimensions (``((name, value), …)`` sorted by name)."""

    id: int
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    last_put: float


def dims_key(dimensions: dict[str, str] | Iterable[tuple[str, str]]) -> str:
    """The stored form of a dimension set (order does not matter)."""
    pairs = dimensions.items() if isinstance(dimensions, dict) else dimensions
    return json.dumps(sorted([str(k), str(v)] for k, v in pairs), separators=(",", ":"))


def _metric(row: tuple) -> Metric:
    id_, namespace, name, dims, last_put = row
    return Metric(id_, namespace, name, tuple((k, v) for k, v in json.loads(dims)), last_put)


class MetricStore:
    """Reads and writes the metric tables of one home."""

    def __init__(self, home) -> None:
        self.db = home.db
        self.clock = home.clock

    # -- writing -------------------------------------------------------------------

    def put(
        self,
        namespace: str,
        metric: str,
        dimensions: dict[str, str],
        points: list[tuple[float, float]],
        unit: str = "None",
    ) -> None:
        """Store ``(epoch seconds, value)`` points of one metric (standard resolution)."""
        samples = [Sample.single(ts, value, unit=unit) for ts, value in points]
        self.put_samples([(namespace, metric, dimensions, samples)])

    def put_samples(
        self, batch: Iterable[tuple[str, str, dict[str, str] | str, list[Sample]]]
    ) -> None:
        """Store the samples of several metrics in one transaction. Dimensions are a
        dict or already a :func:`dims_key`."""
        now = self.clock.time()
        with self.db.write() as conn:
            for namespace, metric, dimensions, samples in batch:
                if not samples:
                    continue
                key = dimensions if isinstance(dimensions, str) else dims_key(dimensions)
                conn.execute(
                    "INSERT INTO metric_series (namespace, name, dims, last_put) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (namespace, name, dims) "
                    "DO UPDATE SET last_put = excluded.last_put",
                    (namespace, metric, key, now),
                )
                (series,) = conn.execute(
                    "SELECT id FROM metric_series WHERE namespace = ? AND name = ? AND dims = ?",
                    (namespace, metric, key),
                ).fetchone()
                conn.executemany(
                    "INSERT INTO metric_points (series, ts, value, count, sum, min, max, "
                    "unit, resolution) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            series,
                            s.timestamp,
                            s.value,
                            s.count,
                            s.total,
                            s.minimum,
                            s.maximum,
                            s.unit,
                            s.resolution,
                        )
                        for s in samples
                    ],
                )

    # -- reading -------------------------------------------------------------------

    def find(self, namespace: str, metric: str, dimensions: dict[str, str]) -> Metric | None:
        """The metric with exactly these dimensions, or None if nothing was put to it."""
        row = self.db.query_one(
            "SELECT id, namespace, name, dims, last_put FROM metric_series "
            "WHERE namespace = ? AND name = ? AND dims = ?",
            (namespace, metric, dims_key(dimensions)),
        )
        return _metric(row) if row else None

    def samples(
        self,
        metric: Metric | None,
        start: float | None = None,
        end: float | None = None,
        unit: str | None = None,
    ) -> list[Sample]:
        """The metric's samples with ``start <= timestamp < end`` (of ``unit`` if
        given), in time order."""
        if metric is None:
            return []
        sql = (
            "SELECT ts, count, sum, min, max, value, unit, resolution FROM metric_points "
            "WHERE series = ?"
        )
        params: list = [metric.id]
        if start is not None:
            sql += " AND ts >= ?"
            params.append(start)
        if end is not None:
            sql += " AND ts < ?"
            params.append(end)
        if unit is not None:
            sql += " AND unit = ?"
            params.append(unit)
        sql += " ORDER BY ts, id"
        return [Sample(*row) for row in self.db.query(sql, params)]

    def series(
        self,
        namespace: str,
        metric: str,
        dimensions: dict[str, str],
        start: float | None = None,
        end: float | None = None,
    ) -> list[tuple[float, float]]:
        """``(epoch seconds, value)`` of every datum put to the metric with exactly
        these dimensions, ``start <= time < end``, in time order (a statistic set or
        aggregated bucket reads as its average)."""
        found = self.find(namespace, metric, dimensions)
        return [
            (s.timestamp, s.total / s.count if s.count else s.total)
            for s in self.samples(found, start, end)
        ]

    def metrics(
        self,
        namespace: str | None = None,
        name: str | None = None,
        active_since: float | None = None,
    ) -> list[Metric]:
        """The metrics (optionally of one namespace and name, or with data put since
        ``active_since``), ordered by namespace, name, then dimensions (as tuples)."""
        sql = "SELECT id, namespace, name, dims, last_put FROM metric_series WHERE 1 = 1"
        params: list = []
        if namespace is not None:
            sql += " AND namespace = ?"
            params.append(namespace)
        if name is not None:
            sql += " AND name = ?"
            params.append(name)
        if active_since is not None:
            sql += " AND last_put >= ?"
            params.append(active_since)
        found = [_metric(row) for row in self.db.query(sql, params)]
        # The order ListMetrics pages in: its token compares the same key (dims_key), so
        # the list and the token agree on what comes next.
        return sorted(found, key=lambda m: (m.namespace, m.name, dims_key(m.dimensions)))


# Buffers of this process, flushed at exit and before reads of their home.
_live: weakref.WeakSet[MetricBuffer] = weakref.WeakSet()
_live_lock = threading.Lock()


def flush_pending(home) -> None:
    """Flush every buffer of this process that writes to ``home`` (a reader calls it
    first, so what this process put is visible to what it reads)."""
    with _live_lock:
        buffers = [b for b in _live if b.store.db.path == home.db.path]
    for buffer in buffers:
        buffer.flush_quietly()


def _flush_all_at_exit() -> None:
    with _live_lock:
        buffers = list(_live)
    for buffer in buffers:
        buffer.flush_quietly()


atexit.register(_flush_all_at_exit)


def _significant(value: float, digits: int) -> float:
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


class MetricBuffer:
    """Metric values gathered from any thread and written in batches: one transaction
    per :meth:`flush` (a commit per value would cost more than the value).

    Job runners call :meth:`flush` from their own loop. A long-lived caller calls
    :meth:`start` to flush every few seconds in the background until :meth:`close`;
    with ``idle_flush`` the background thread starts with the first value and ends
    once nothing is left to write (a buffer that sits idle holds no thread). A failing
    background write is logged, never raised. Whatever is still queued is written at
    interpreter exit.

    Parameters
    ----------
    store:
        The metric store.
    aggregate:
        None: every value is its own datum (training metrics: each epoch's value).
        A period in seconds: the values of one metric, unit and period are written
        as one datum per distinct value (Values/Counts, as CloudWatch's agents
        publish), the values kept to ``significant`` significant digits for
        percentiles while count, sum, min and max stay exact.
    idle_flush:
        Seconds between background flushes for a buffer that starts its own thread
        on first use (None: only :meth:`flush`/:meth:`start` write).
    """

    def __init__(
        self,
        store: MetricStore,
        aggregate: float | None = None,
        significant: int = 3,
        idle_flush: float | None = None,
    ) -> None:
        self.store = store
        self.aggregate = aggregate
        self.significant = significant
        self.idle_flush = idle_flush
        # (namespace, metric, dims key, timestamp, value, unit, resolution)
        self._pending: list[tuple[str, str, str, float, float, str, int]] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        with _live_lock:
            _live.add(self)

    def add(
        self,
        namespace: str,
        metric: str,
        dimensions: dict[str, str] | str,
        value: float,
        timestamp: float | None = None,
        unit: str = "None",
        resolution: int = STANDARD_RESOLUTION,
    ) -> None:
        """Queue one value (``timestamp`` in epoch seconds, now by default; dimensions
        a dict or a :func:`dims_key`, which callers on a hot path compute once)."""
        key = dimensions if isinstance(dimensions, str) else dims_key(dimensions)
        stamp = time.time() if timestamp is None else timestamp
        with self._lock:
            self._pending.append((namespace, metric, key, stamp, value, unit, resolution))
            if self.idle_flush is not None and self._thread is None:
                self._start_thread(self.idle_flush, until_idle=True)

    def add_values(
        self,
        namespace: str,
        dimensions: dict[str, str] | str,
        values: list[tuple[str, float, str]],
        timestamp: float | None = None,
    ) -> None:
        """Queue several metrics of one dimension set at once (``(metric, value, unit)``
        each, standard resolution): one lock for them all, for hot paths."""
        key = dimensions if isinstance(dimensions, str) else dims_key(dimensions)
        stamp = time.time() if timestamp is None else timestamp
        rows = [(namespace, m, key, stamp, v, u, STANDARD_RESOLUTION) for m, v, u in values]
        with self._lock:
            self._pending.extend(rows)
            if self.idle_flush is not None and self._thread is None:
                self._start_thread(self.idle_flush, until_idle=True)

    def flush(self) -> None:
        """Write everything queued so far (one transaction)."""
        with self._write_lock:  # two flushes must not interleave their batches
            with self._lock:
                pending, self._pending = self._pending, []
            if not pending:
                return
            if not self.store.db.path.exists():
                # The home was deleted (or its index moved away): connecting would create
                # a new, foreign state.db in its place. The values have nowhere to go.
                log.info("%d metric values dropped: %s is gone", len(pending), self.store.db.path)
                return
            self.store.put_samples(self._batch(pending))

    def _batch(self, pending: list) -> list[tuple[str, str, str, list[Sample]]]:
        by_metric: dict[tuple[str, str, str], list[Sample]] = {}
        if self.aggregate is None:
            for namespace, metric, key, ts, value, unit, resolution in pending:
                by_metric.setdefault((namespace, metric, key), []).append(
                    Sample.single(ts, value, unit=unit, resolution=resolution)
                )
            return [(*k, samples) for k, samples in by_metric.items()]
        period = self.aggregate
        # (metric, period start, unit, resolution, rounded value) -> [count, sum, min, max]
        buckets: dict[tuple, list[float]] = {}
        for namespace, metric, key, ts, value, unit, resolution in pending:
            bucket = (
                (namespace, metric, key),
                math.floor(ts / period) * period,
                unit,
                resolution,
                _significant(value, self.significant),
            )
            found = buckets.get(bucket)
            if found is None:
                buckets[bucket] = [1.0, value, value, value]
            else:
                found[0] += 1
                found[1] += value
                found[2] = min(found[2], value)
                found[3] = max(found[3], value)
        for (metric_key, start, unit, resolution, rounded), stats in buckets.items():
            count, total, minimum, maximum = stats
            by_metric.setdefault(metric_key, []).append(
                Sample(start, count, total, minimum, maximum, rounded, unit, resolution)
            )
        return [(*k, samples) for k, samples in by_metric.items()]

    def flush_quietly(self) -> None:
        """:meth:`flush`, logging (never raising) a failure: metrics must never take
        down what they measure."""
        try:
            self.flush()
        except Exception:
            log.warning("writing metric data failed", exc_info=True)

    def start(self, interval: float) -> None:
        """Flush every ``interval`` seconds in a daemon thread until :meth:`close`."""
        with self._lock:
            if self._thread is None:
                self._start_thread(interval, until_idle=False)

    def _start_thread(self, interval: float, until_idle: bool) -> None:
        # Called with self._lock held.
        def loop() -> None:
            while not self._stop.wait(interval):
                self.flush_quietly()
                if until_idle:
                    with self._lock:
                        if not self._pending:
                            self._thread = None
                            return
            self.flush_quietly()

        self._thread = threading.Thread(target=loop, name="metric-buffer", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the background flushing (after a last flush)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(5.0)
        self.flush_quietly()
