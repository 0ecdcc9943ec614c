"""The ``cloudwatch`` API (CloudWatch metrics): PutMetricData, GetMetricStatistics,
GetMetricData and ListMetrics over the :class:`~simsage.store.metrics.MetricStore`.

Layer: the API (wire shapes, AWS's limits and errors) over the store; statistics in
:mod:`simsage.cloudwatch.statistics`, metric math in :mod:`simsage.cloudwatch.expressions`.

What a caller sees, as on AWS:
- PutMetricData takes at most 1000 metric data (and EntityMetricData's), each with
  exactly one of Value, Values (+Counts, at most 150) or StatisticValues, at most 30
  dimensions with unique names, values within ±2^360 (and not smaller than 2^-260),
  timestamps at most two weeks old and two hours ahead, StorageResolution 1 or 60; a
  Namespace starting with ``AWS/`` is refused (those are AWS services' own: simsage
  writes them directly to the store, never through this call);
- GetMetricStatistics answers datapoints only for periods that have data, at most
  1,440 of them per call, with the Statistics or the ExtendedStatistics asked (never
  both) per unit (one datapoint per unit when Unit is not given);
- GetMetricData evaluates MetricStat queries and expressions, answers the ReturnData
  ones in request order, TimestampDescending by default, at most MaxDatapoints values
  per page (NextToken; a token of another request is ``InvalidNextToken``);
- ListMetrics lists the metrics with data in the past two weeks (RecentlyActive=PT3H:
  three hours), 500 per page, ordered by namespace, name and dimensions.

What this process itself put (through a :class:`~simsage.store.metrics.MetricBuffer`,
an endpoint's invocation metrics) is flushed before each read.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import datetime
from typing import Any

from simsage.cloudwatch import expressions
from simsage.cloudwatch.errors import (
    INPUT_ERRORS,
    InvalidNextToken,
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
    ValidationError,
    exclusive,
    invalid_value,
)
from simsage.cloudwatch.statistics import (
    STATISTICS,
    aligned_start,
    bucket_count,
    bucketed,
    percentile_of,
    period_problem,
    statistic,
)
from simsage.ids import from_epoch
from simsage.paging import decode_token, encode_token, keyset_page
from simsage.store.metrics import (
    HIGH_RESOLUTION,
    STANDARD_RESOLUTION,
    Metric,
    MetricStore,
    Sample,
    dims_key,
    flush_pending,
)
from simsage.transport import Request

MAX_METRIC_DATA = 1000
MAX_VALUES = 150
MAX_DIMENSIONS = 30
MAX_DATAPOINTS = 1440
MAX_QUERIES = 500
DEFAULT_MAX_DATAPOINTS = 100800
LIST_PAGE = 500
MAX_MAGNITUDE = 2.0**360
MIN_MAGNITUDE = 2.0**-260
PAST_LIMIT = 14 * 86400.0
FUTURE_LIMIT = 2 * 3600.0
RECENT = 3 * 3600.0
RESERVED_PREFIX = "AWS/"
_ID = re.compile(r"[a-z][a-zA-Z0-9_]*")


def _epoch(value: Any) -> float:
    """A request timestamp (datetime, ISO string or epoch number, as botocore takes
    them; naive datetimes are UTC) as epoch seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    from botocore.utils import parse_to_aware_datetime

    parsed: datetime = parse_to_aware_datetime(value)
    return parsed.timestamp()


def _dimensions(given: list[dict[str, str]] | None, where: str) -> dict[str, str]:
    dims: dict[str, str] = {}
    for dimension in given or []:
        name = dimension["Name"]
        if name in dims:
            raise InvalidParameterValue(
                f"The dimension name {name} appears more than once in {where}.Dimensions; "
                "each dimension of a metric needs its own name."
            )
        dims[name] = dimension["Value"]
    return dims


def _check_number(value: float, where: str) -> None:
    if not math.isfinite(value) or abs(value) > MAX_MAGNITUDE or 0 < abs(value) < MIN_MAGNITUDE:
        raise invalid_value(
            value,
            where,
            "Values must be finite numbers between -2^360 and 2^360, and not closer to 0 "
            "than 2^-260 (other than 0 itself).",
        )


class CloudWatchService:
    """Answers CloudWatch metrics operations for one home."""

    CHECK_INPUT = INPUT_ERRORS

    def __init__(self, home) -> None:
        self.home = home
        self.store = MetricStore(home)
        self.clock = home.clock

    # -- PutMetricData ---------------------------------------------------------------

    def put_metric_data(self, request: Request) -> dict[str, Any]:
        params = request.params
        namespace = params["Namespace"]
        if namespace.startswith(RESERVED_PREFIX):
            raise invalid_value(
                namespace,
                "Namespace",
                'Namespaces starting with "AWS/" are reserved for AWS services; publish '
                "your metrics under a namespace of your own.",
            )
        data = [
            (f"MetricData.member.{i}", d) for i, d in enumerate(params.get("MetricData") or [], 1)
        ]
        for e, entity in enumerate(params.get("EntityMetricData") or [], 1):
            data += [
                (f"EntityMetricData.member.{e}.MetricData.member.{i}", d)
                for i, d in enumerate(entity.get("MetricData") or [], 1)
            ]
        if not data:
            raise MissingParameter("The parameter MetricData is required.")
        if len(data) > MAX_METRIC_DATA:
            raise InvalidParameterValue(
                f"The collection MetricData must not have a size greater than {MAX_METRIC_DATA} "
                f"(it has {len(data)}). Send the data in several PutMetricData calls."
            )
        now = self.clock.time()
        batch = []
        for where, datum in data:  # every datum is checked before anything is stored
            dims, samples = self._datum(where, datum, now)
            batch.append((namespace, datum["MetricName"], dims, samples))
        self.store.put_samples(batch)
        return {}

    def _datum(self, where: str, datum: dict[str, Any], now: float) -> tuple[str, list[Sample]]:
        given = [m for m in ("Value", "Values", "StatisticValues") if datum.get(m) is not None]
        if len(given) > 1:
            raise exclusive(f"{where}.{given[0]}", f"{where}.{given[1]}")
        if not given:
            raise InvalidParameterCombination(
                f"At least one of the parameters {where}.Value, {where}.Values or "
                f"{where}.StatisticValues must be specified."
            )
        if datum.get("Counts") is not None and given != ["Values"]:
            raise InvalidParameterCombination(
                f"The parameter {where}.Counts can only be given with {where}.Values."
            )
        dims = _dimensions(datum.get("Dimensions"), where)
        if len(dims) > MAX_DIMENSIONS:
            raise InvalidParameterValue(
                f"The collection {where}.Dimensions must not have a size greater than "
                f"{MAX_DIMENSIONS}."
            )
        resolution = datum.get("StorageResolution", STANDARD_RESOLUTION)
        if resolution not in (HIGH_RESOLUTION, STANDARD_RESOLUTION):
            raise invalid_value(
                resolution,
                f"{where}.StorageResolution",
                "StorageResolution is 1 (high resolution) or 60 (standard resolution).",
            )
        ts = now if datum.get("Timestamp") is None else _epoch(datum["Timestamp"])
        if ts < now - PAST_LIMIT:
            raise InvalidParameterValue(
                f"The parameter {where}.Timestamp must specify a time no more than two weeks "
                "in the past."
            )
        if ts > now + FUTURE_LIMIT:
            raise InvalidParameterValue(
                f"The parameter {where}.Timestamp must specify a time no more than two hours "
                "in the future."
            )
        unit = datum.get("Unit") or "None"
        if "Value" in given:
            _check_number(float(datum["Value"]), f"{where}.Value")
            return dims_key(dims), [Sample.single(ts, float(datum["Value"]), 1, unit, resolution)]
        if "StatisticValues" in given:
            stats = datum["StatisticValues"]
            values = {k: float(stats[k]) for k in ("SampleCount", "Sum", "Minimum", "Maximum")}
            for name, value in values.items():
                _check_number(value, f"{where}.StatisticValues.{name}")
            if values["SampleCount"] <= 0:
                raise invalid_value(
                    values["SampleCount"],
                    f"{where}.StatisticValues.SampleCount",
                    "SampleCount must be greater than 0.",
                )
            if values["Minimum"] > values["Maximum"]:
                raise InvalidParameterValue(
                    f"The parameter {where}.StatisticValues.Minimum must be less than or equal "
                    f"to {where}.StatisticValues.Maximum."
                )
            sample = Sample.statistic_set(
                ts,
                values["SampleCount"],
                values["Sum"],
                values["Minimum"],
                values["Maximum"],
                unit,
                resolution,
            )
            return dims_key(dims), [sample]
        values = [float(v) for v in datum["Values"]]
        if len(values) > MAX_VALUES:
            raise InvalidParameterValue(
                f"The collection {where}.Values must not have a size greater than {MAX_VALUES}."
            )
        counts = [float(c) for c in datum.get("Counts") or [1.0] * len(values)]
        if len(counts) != len(values):
            raise InvalidParameterValue(
                f"The parameters {where}.Values and {where}.Counts must be of the same size."
            )
        for i, value in enumerate(values, 1):
            _check_number(value, f"{where}.Values.member.{i}")
        for i, count in enumerate(counts, 1):
            if not math.isfinite(count) or count < 0:
                raise invalid_value(
                    count, f"{where}.Counts.member.{i}", "Counts must be numbers of 0 or more."
                )
        samples = [
            Sample.single(ts, value, count, unit, resolution)
            for value, count in zip(values, counts, strict=True)
            if count > 0
        ]
        return dims_key(dims), samples

    # -- GetMetricStatistics ---------------------------------------------------------

    def get_metric_statistics(self, request: Request) -> dict[str, Any]:
        params = request.params
        flush_pending(self.home)
        stats = params.get("Statistics")
        extended = params.get("ExtendedStatistics")
        if stats and extended:
            raise exclusive("Statistics", "ExtendedStatistics")
        if not stats and not extended:
            raise InvalidParameterCombination(
                "At least one of the parameters Statistics and ExtendedStatistics must be "
                "specified."
            )
        for stat in extended or []:
            if percentile_of(stat) is None:
                raise invalid_value(
                    stat,
                    "ExtendedStatistics",
                    "Give percentiles as p0.0 to p100 (for example p90 or p99.9).",
                )
        period = params["Period"]
        problem = period_problem(period)
        if problem:
            raise invalid_value(period, "Period", problem)
        start, end = _epoch(params["StartTime"]), _epoch(params["EndTime"])
        if start >= end:
            raise InvalidParameterValue(
                "The parameter StartTime must be less than the parameter EndTime."
            )
        start = aligned_start(start, period, self.clock.time())
        requested = bucket_count(start, end, period)
        if requested > MAX_DATAPOINTS:
            raise InvalidParameterCombination(
                f"You have requested up to {requested:,} datapoints, which exceeds the limit of "
                f"{MAX_DATAPOINTS:,}. You may reduce the datapoints requested by increasing "
                "Period, or decreasing the time range."
            )
        dims = _dimensions(params.get("Dimensions"), "Dimensions")
        metric = self.store.find(params["Namespace"], params["MetricName"], dims)
        samples = self.store.samples(metric, start, end, params.get("Unit"))
        datapoints = []
        for (bucket, unit), members in bucketed(samples, start, period).items():
            point: dict[str, Any] = {"Timestamp": from_epoch(bucket)}
            for stat in stats or []:
                point[stat] = statistic(members, stat)
            if extended:
                values = {p: statistic(members, p) for p in extended}
                point["ExtendedStatistics"] = {p: v for p, v in values.items() if v is not None}
            point["Unit"] = unit
            datapoints.append(point)
        return {"Label": params["MetricName"], "Datapoints": datapoints}

    # -- GetMetricData ---------------------------------------------------------------

    def get_metric_data(self, request: Request) -> dict[str, Any]:
        params = request.params
        flush_pending(self.home)
        queries = params["MetricDataQueries"]
        if not queries:
            raise ValidationError("The parameter MetricDataQueries must hold at least one query.")
        if len(queries) > MAX_QUERIES:
            raise ValidationError(
                f"The collection MetricDataQueries must not have a size greater than {MAX_QUERIES}."
            )
        ids = [q["Id"] for q in queries]
        if len(set(ids)) != len(ids):
            raise ValidationError(
                "The values for parameter id in MetricDataQueries are not unique."
            )
        for index, query in enumerate(queries, 1):
            self._check_query(index, query)
        start, end = _epoch(params["StartTime"]), _epoch(params["EndTime"])
        if start >= end:
            raise ValidationError(
                "The parameter StartTime must be less than the parameter EndTime."
            )
        now = self.clock.time()
        results = _Evaluation(self.store, queries, start, end, now).results()
        descending = params.get("ScanBy", "TimestampDescending") == "TimestampDescending"
        limit = params.get("MaxDatapoints") or DEFAULT_MAX_DATAPOINTS
        if limit < 1:
            raise ValidationError("The parameter MaxDatapoints must be greater than 0.")
        scope = _request_digest(params)
        at, after = self._position(params.get("NextToken"), scope)
        out, left, next_position = [], limit, None
        for index, (query, series) in enumerate(results):
            stamps = sorted(series, reverse=descending)
            if index < at:
                stamps = []  # answered on an earlier page
            elif index == at and after is not None:
                stamps = [t for t in stamps if (t < after if descending else t > after)]
            taken: list[float] = []
            if next_position is None:
                taken = stamps[:left]
                left -= len(taken)
                if len(taken) < len(stamps):
                    next_position = (index, taken[-1] if taken else None)
            out.append(
                {
                    "Id": query["Id"],
                    "Label": query.get("Label") or _default_label(query),
                    "Timestamps": [from_epoch(t) for t in taken],
                    "Values": [series[t] for t in taken],
                    "StatusCode": "PartialData" if len(taken) < len(stamps) else "Complete",
                    "Messages": [],
                }
            )
        answer: dict[str, Any] = {"MetricDataResults": out, "Messages": []}
        if next_position is not None:
            answer["NextToken"] = encode_token([scope, *next_position])
        return answer

    @staticmethod
    def _position(token: str | None, scope: str) -> tuple[int, float | None]:
        """Where a page starts: the result's index, and the timestamp after which its
        values continue (None: from its first)."""
        if not token:
            return 0, None
        position = decode_token(token, InvalidNextToken)
        if (
            len(position) != 3
            or position[0] != scope
            or not isinstance(position[1], int)
            or not isinstance(position[2], (int, float, type(None)))
        ):
            raise InvalidNextToken(
                f"Invalid NextToken: {token} was not made for this request. Give the NextToken "
                "of the previous page of the same request."
            )
        return position[1], position[2]

    @staticmethod
    def _check_query(index: int, query: dict[str, Any]) -> None:
        where = f"MetricDataQueries.member.{index}"
        if not _ID.fullmatch(query["Id"]):
            raise ValidationError(
                f"Invalid metric id {query['Id']!r} at {where}.Id: an id starts with a lowercase "
                "letter and holds only letters, digits and underscores."
            )
        stat, expression = query.get("MetricStat"), query.get("Expression")
        if (stat is None) == (expression is None):
            raise ValidationError(
                f"Exactly one of {where}.MetricStat and {where}.Expression must be specified."
            )
        if stat is None:
            return
        metric = stat["Metric"]
        for member in ("Namespace", "MetricName"):
            if not metric.get(member):
                raise ValidationError(
                    f"The parameter {where}.MetricStat.Metric.{member} is required."
                )
        problem = period_problem(stat["Period"])
        if problem:
            raise ValidationError(
                f"The value {stat['Period']} for parameter {where}.MetricStat.Period is invalid. "
                + problem
            )
        name = stat["Stat"]
        if name not in STATISTICS and percentile_of(name) is None:
            raise ValidationError(
                f"The value {name} for parameter {where}.MetricStat.Stat is invalid. simsage "
                f"computes {', '.join(STATISTICS)} and percentiles p0.0 to p100."
            )
        _dimensions(metric.get("Dimensions"), f"{where}.MetricStat.Metric")

    # -- ListMetrics -----------------------------------------------------------------

    def list_metrics(self, request: Request) -> dict[str, Any]:
        params = request.params
        flush_pending(self.home)
        now = self.clock.time()
        since = now - (RECENT if params.get("RecentlyActive") == "PT3H" else PAST_LIMIT)
        filters = [(d["Name"], d.get("Value")) for d in params.get("Dimensions") or []]
        metrics = [
            m
            for m in self.store.metrics(params.get("Namespace"), params.get("MetricName"), since)
            if all(
                any(k == name and (value is None or v == value) for k, v in m.dimensions)
                for name, value in filters
            )
        ]

        def key(metric: Metric) -> list:
            return [metric.namespace, metric.name, dims_key(metric.dimensions)]

        def bad_token(message: str) -> InvalidParameterValue:
            return InvalidParameterValue(f"{message}. Give the NextToken of the previous page.")

        page, token = keyset_page(
            metrics, key, LIST_PAGE, params.get("NextToken"), bad_token, scope=("metrics",)
        )
        answer: dict[str, Any] = {
            "Metrics": [
                {
                    "Namespace": m.namespace,
                    "MetricName": m.name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in m.dimensions],
                }
                for m in page
            ]
        }
        if token:
            answer["NextToken"] = token
        return answer


def _default_label(query: dict[str, Any]) -> str:
    stat = query.get("MetricStat")
    return stat["Metric"]["MetricName"] if stat else query["Id"]


def _request_digest(params: dict[str, Any]) -> str:
    """What a GetMetricData token is bound to: the request without its paging."""
    kept = {k: v for k, v in params.items() if k not in ("NextToken", "MaxDatapoints")}
    text = json.dumps(kept, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class _Evaluation:
    """The series of every query of one GetMetricData request."""

    def __init__(
        self, store: MetricStore, queries: list[dict], start: float, end: float, now: float
    ) -> None:
        self.store = store
        self.queries = {q["Id"]: q for q in queries}
        self.order = [q["Id"] for q in queries]
        self.start, self.end, self.now = start, end, now
        self.values: dict[str, Any] = {}
        self.busy: set[str] = set()
        self.metrics: list[expressions.Labeled] = []  # the MetricStat results, for METRICS()

    def results(self) -> list[tuple[dict, dict[float, float]]]:
        stats = [
            expressions.Labeled(i, q.get("Label") or _default_label(q), self.value(i))
            for i, q in ((i, self.queries[i]) for i in self.order)
            if "MetricStat" in q
        ]
        self.metrics = stats
        out = []
        stamps = sorted({t for s in stats for t in s.values})
        for query_id in self.order:
            query = self.queries[query_id]
            if query.get("ReturnData", True) is False:
                continue
            value = self.value(query_id)
            if isinstance(value, list):
                if len(value) != 1:
                    raise ValidationError(
                        f"The expression of query {query_id} gives {len(value)} time series; "
                        "a returned query must give one (wrap it in SUM, AVG, MIN or MAX), or "
                        "set ReturnData to false."
                    )
                value = value[0].values
            if not isinstance(value, dict):  # a scalar: shown at every timestamp of the request
                finite = isinstance(value, (int, float)) and math.isfinite(value)
                value = {t: float(value) for t in stamps} if finite else {}
            out.append((query, value))
        return out

    def value(self, query_id: str):
        if query_id in self.values:
            return self.values[query_id]
        query = self.queries.get(query_id)
        if query is None:
            raise expressions.ExpressionError(f"Unknown metric id {query_id}.")
        if query_id in self.busy:
            raise expressions.ExpressionError(
                f"The expression of query {query_id} depends on itself (a circular reference)."
            )
        self.busy.add(query_id)
        try:
            if "MetricStat" in query:
                value = self._stat(query["MetricStat"])
            else:
                try:
                    value = expressions.evaluate(query["Expression"], self.value, self.metrics)
                except expressions.ExpressionError as exc:
                    raise ValidationError(f"Error in expression {query_id}: {exc}") from None
        finally:
            self.busy.discard(query_id)
        self.values[query_id] = value
        return value

    def _stat(self, stat: dict[str, Any]) -> dict[float, float]:
        metric = stat["Metric"]
        period = stat["Period"]
        start = aligned_start(self.start, period, self.now)
        found = self.store.find(
            metric["Namespace"], metric["MetricName"], _dimensions(metric.get("Dimensions"), "")
        )
        samples = self.store.samples(found, start, self.end, stat.get("Unit"))
        by_bucket: dict[float, list[Sample]] = {}
        for (bucket, _unit), members in bucketed(samples, start, period).items():
            by_bucket.setdefault(bucket, []).extend(members)
        series = {}
        for bucket, members in by_bucket.items():
            value = statistic(members, stat["Stat"])
            if value is not None:
                series[bucket] = value
        return series
