"""CloudWatch metrics through boto3's ``cloudwatch`` client: PutMetricData (Value, Values
with Counts, StatisticValues) and its limits, GetMetricStatistics' periods, statistics,
percentiles and units, GetMetricData's metric stats, math, order and paging, ListMetrics'
filters and paging, and CloudWatch's error codes."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.exceptions import ClientError

NS = "Shop/Checkout"
DIMS = [{"Name": "Service", "Value": "cart"}]


_minute = dt.datetime.now(dt.UTC)


@pytest.fixture(autouse=True)
def this_minute():
    """Freeze "the current minute" of a test at its start, so a test that runs across a
    minute boundary still names the minutes it put its data in."""
    global _minute
    _minute = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)


@pytest.fixture
def cw(simsage_local):
    return simsage_local.client("cloudwatch")


def minute_ago(minutes: int) -> dt.datetime:
    """The start of the minute ``minutes`` before the test's current one (aware UTC)."""
    return _minute - dt.timedelta(minutes=minutes)


def error(call, **params) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**params)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    err = info.value.response["Error"]
    return err["Code"], err["Message"]


def put_latencies(cw, minutes: dict[int, list[float]], name: str = "Latency") -> None:
    """One Value datum per value, 10 s into the minute ``minutes ago``."""
    cw.put_metric_data(
        Namespace=NS,
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": DIMS,
                "Value": value,
                "Unit": "Milliseconds",
                "Timestamp": minute_ago(ago) + dt.timedelta(seconds=10 + i),
            }
            for ago, values in minutes.items()
            for i, value in enumerate(values)
        ],
    )


def statistics(cw, period=60, name="Latency", **params):
    answer = cw.get_metric_statistics(
        Namespace=NS,
        MetricName=name,
        Dimensions=DIMS,
        StartTime=minute_ago(10),
        EndTime=minute_ago(-1),
        Period=period,
        **params,
    )
    assert answer["Label"] == name
    return sorted(answer["Datapoints"], key=lambda p: p["Timestamp"])


# -- PutMetricData and GetMetricStatistics ------------------------------------------------


def test_statistics_per_period_only_for_periods_with_data(cw):
    put_latencies(cw, {5: [10.0, 20.0, 60.0], 3: [40.0], 2: [1.0, 2.0]})
    points = statistics(cw, Statistics=["SampleCount", "Average", "Sum", "Minimum", "Maximum"])
    assert [p["Timestamp"] for p in points] == [minute_ago(5), minute_ago(3), minute_ago(2)]
    assert [(p["SampleCount"], p["Sum"], p["Minimum"], p["Maximum"]) for p in points] == [
        (3.0, 90.0, 10.0, 60.0),
        (1.0, 40.0, 40.0, 40.0),
        (2.0, 3.0, 1.0, 2.0),
    ]
    assert points[0]["Average"] == 30.0 and points[0]["Unit"] == "Milliseconds"

    # A 5-minute period from a start rounded down to the minute: two buckets.
    wide = cw.get_metric_statistics(
        Namespace=NS,
        MetricName="Latency",
        Dimensions=DIMS,
        StartTime=minute_ago(6) + dt.timedelta(seconds=42),
        EndTime=minute_ago(-1),
        Period=300,
        Statistics=["Sum"],
    )["Datapoints"]
    assert [(p["Timestamp"], p["Sum"]) for p in wide] == [(minute_ago(6), 133.0)]
    # The dimensions name the metric: none, or others, find nothing.
    assert (
        cw.get_metric_statistics(
            Namespace=NS,
            MetricName="Latency",
            StartTime=minute_ago(10),
            EndTime=minute_ago(-1),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        == []
    )


def test_percentiles_from_values_and_counts_but_not_from_spread_statistic_sets(cw):
    when = minute_ago(4) + dt.timedelta(seconds=5)
    cw.put_metric_data(
        Namespace=NS,
        MetricData=[
            {
                "MetricName": "Latency",
                "Dimensions": DIMS,
                "Values": [1.0, 2.0, 3.0, 100.0],
                "Counts": [50, 30, 19, 1],
                "Timestamp": when,
            },
            {
                "MetricName": "Spread",
                "Dimensions": DIMS,
                "StatisticValues": {"SampleCount": 4, "Sum": 10, "Minimum": 1, "Maximum": 4},
                "Timestamp": when,
            },
        ],
    )
    (point,) = statistics(cw, ExtendedStatistics=["p50", "p80", "p99", "p100"])
    assert point["ExtendedStatistics"] == {"p50": 1.0, "p80": 2.0, "p99": 3.0, "p100": 100.0}
    (total,) = statistics(cw, Statistics=["SampleCount", "Sum"])
    assert (total["SampleCount"], total["Sum"]) == (100.0, 50 + 60 + 57 + 100)
    (spread,) = statistics(cw, name="Spread", ExtendedStatistics=["p50"])
    assert spread["ExtendedStatistics"] == {}
    (spread,) = statistics(cw, name="Spread", Statistics=["Average", "Maximum"])
    assert (spread["Average"], spread["Maximum"]) == (2.5, 4.0)


def test_units_are_kept_apart_and_filter(cw):
    when = minute_ago(3)
    for value, unit in ((1.0, "Seconds"), (2.0, "Seconds"), (500.0, "Milliseconds")):
        cw.put_metric_data(
            Namespace=NS,
            MetricData=[
                {
                    "MetricName": "Wait",
                    "Dimensions": DIMS,
                    "Value": value,
                    "Unit": unit,
                    "Timestamp": when,
                }
            ],
        )
    both = statistics(cw, name="Wait", Statistics=["Sum"])
    assert sorted((p["Unit"], p["Sum"]) for p in both) == [
        ("Milliseconds", 500.0),
        ("Seconds", 3.0),
    ]
    (seconds,) = statistics(cw, name="Wait", Statistics=["Sum"], Unit="Seconds")
    assert seconds["Sum"] == 3.0


def test_high_resolution_periods(cw):
    base = minute_ago(2)
    cw.put_metric_data(
        Namespace=NS,
        MetricData=[
            {
                "MetricName": "Fast",
                "Dimensions": DIMS,
                "Value": float(i),
                "Timestamp": base + dt.timedelta(seconds=i),
                "StorageResolution": 1,
            }
            for i in range(20)
        ],
    )
    points = statistics(cw, period=10, name="Fast", Statistics=["SampleCount", "Sum"])
    assert [(p["Timestamp"], p["SampleCount"], p["Sum"]) for p in points] == [
        (base, 10.0, 45.0),
        (base + dt.timedelta(seconds=10), 10.0, 145.0),
    ]


@pytest.mark.parametrize(
    ("datum", "code", "says"),
    [
        ({"Value": 1.0, "Values": [1.0]}, "InvalidParameterCombination", "mutually exclusive"),
        ({}, "InvalidParameterCombination", "At least one of the parameters"),
        ({"Values": [1.0, 2.0], "Counts": [1.0]}, "InvalidParameterValue", "same size"),
        ({"Values": [1.0] * 151}, "InvalidParameterValue", "greater than 150"),
        ({"Value": 2.0**400}, "InvalidParameterValue", "2^360"),
        ({"Value": float("nan")}, "InvalidParameterValue", "finite"),
        ({"Value": 1.0, "StorageResolution": 5}, "InvalidParameterValue", "StorageResolution"),
        (
            {"Value": 1.0, "Timestamp": dt.datetime.now(dt.UTC) - dt.timedelta(days=15)},
            "InvalidParameterValue",
            "two weeks in the past",
        ),
        (
            {"Value": 1.0, "Timestamp": dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)},
            "InvalidParameterValue",
            "two hours in the future",
        ),
        (
            {
                "Value": 1.0,
                "Dimensions": [{"Name": "A", "Value": "1"}, {"Name": "A", "Value": "2"}],
            },
            "InvalidParameterValue",
            "more than once",
        ),
        (
            {"Value": 1.0, "Dimensions": [{"Name": f"D{i}", "Value": "v"} for i in range(31)]},
            "ValidationError",
            "length less than or equal to 30",
        ),
    ],
)
def test_put_metric_data_refuses_what_cloudwatch_refuses(cw, datum, code, says):
    got, message = error(
        cw.put_metric_data, Namespace=NS, MetricData=[{"MetricName": "M", **datum}]
    )
    assert got == code and says in message
    assert cw.list_metrics(Namespace=NS)["Metrics"] == []  # nothing of the call was kept


def test_put_metric_data_limits_and_the_reserved_namespace(cw):
    code, message = error(
        cw.put_metric_data, Namespace="AWS/SageMaker", MetricData=[{"MetricName": "M", "Value": 1}]
    )
    assert code == "InvalidParameterValue"
    assert message.startswith("The value AWS/SageMaker for parameter Namespace is invalid.")
    with pytest.raises(cw.exceptions.InvalidParameterValueException):
        cw.put_metric_data(Namespace=NS, MetricData=[{"MetricName": "M", "Value": 1.0}] * 1001)
    cw.put_metric_data(Namespace=NS, MetricData=[{"MetricName": "M", "Value": 1.0}] * 1000)
    (point,) = cw.get_metric_statistics(
        Namespace=NS,
        MetricName="M",
        StartTime=minute_ago(1),
        EndTime=minute_ago(-1),
        Period=120,
        Statistics=["SampleCount"],
    )["Datapoints"]
    assert point["SampleCount"] == 1000.0
    assert error(cw.put_metric_data, Namespace=NS)[0] == "MissingParameter"


@pytest.mark.parametrize(
    ("changes", "code", "says"),
    [
        ({"Period": 45}, "InvalidParameterValue", "multiple of 60"),
        ({"ExtendedStatistics": ["p50"]}, "InvalidParameterCombination", "mutually exclusive"),
        ({"Statistics": None, "ExtendedStatistics": ["p101"]}, "InvalidParameterValue", "p100"),
        ({"Statistics": None}, "InvalidParameterCombination", "At least one of the parameters"),
        ({"Statistics": ["Median"]}, "ValidationError", "enum value set"),
        # Times as minutes ago, resolved when the test runs (not when it is collected).
        ({"StartTime": -1}, "InvalidParameterValue", "less than the parameter EndTime"),
        ({"Period": 60, "StartTime": 1441}, "InvalidParameterCombination", "1,440"),
    ],
)
def test_get_metric_statistics_refuses_what_cloudwatch_refuses(cw, changes, code, says):
    params = {
        "Namespace": NS,
        "MetricName": "Latency",
        "StartTime": minute_ago(10),
        "EndTime": minute_ago(-1),
        "Period": 60,
        "Statistics": ["Sum"],
        **changes,
    }
    if isinstance(params["StartTime"], int):
        params["StartTime"] = minute_ago(params["StartTime"])
    params = {k: v for k, v in params.items() if v is not None}
    got, message = error(cw.get_metric_statistics, **params)
    assert got == code and says in message


# -- GetMetricData --------------------------------------------------------------------------


def stat(query_id: str, name: str, stat_name: str = "Sum", **extra) -> dict:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {"Namespace": NS, "MetricName": name, "Dimensions": DIMS},
            "Period": 60,
            "Stat": stat_name,
        },
        **extra,
    }


def test_metric_data_with_math_in_timestamp_order(cw):
    put_latencies(cw, {4: [1.0, 3.0], 3: [5.0], 2: [2.0, 2.0]}, name="Errors")
    put_latencies(cw, {4: [10.0], 3: [10.0], 1: [10.0]}, name="Requests")
    queries = [
        stat("errors", "Errors", ReturnData=False),
        stat("requests", "Requests", ReturnData=False),
        {"Id": "rate", "Expression": "100 * errors / requests", "Label": "Error rate"},
        {"Id": "total", "Expression": "SUM([errors, requests])"},
        {"Id": "all", "Expression": "SUM(METRICS())"},
        {"Id": "peak", "Expression": "MAX(requests) + 1"},
        stat("p", "Errors", "p50"),
    ]
    answer = cw.get_metric_data(
        MetricDataQueries=queries, StartTime=minute_ago(10), EndTime=minute_ago(-1)
    )
    results = {r["Id"]: r for r in answer["MetricDataResults"]}
    assert list(results) == ["rate", "total", "all", "peak", "p"]  # ReturnData ones, in order
    rate = results["rate"]
    assert rate["Label"] == "Error rate" and rate["StatusCode"] == "Complete"
    # Newest first by default; only where both series have data.
    assert rate["Timestamps"] == [minute_ago(3), minute_ago(4)]
    assert rate["Values"] == [50.0, 40.0]
    total = dict(zip(results["total"]["Timestamps"], results["total"]["Values"], strict=True))
    assert total == {
        minute_ago(4): 14.0,
        minute_ago(3): 15.0,
        minute_ago(2): 4.0,
        minute_ago(1): 10.0,
    }
    # METRICS() is every MetricStat query, the p50 of Errors included.
    every = dict(zip(results["all"]["Timestamps"], results["all"]["Values"], strict=True))
    assert every == {
        minute_ago(4): 15.0,
        minute_ago(3): 20.0,
        minute_ago(2): 6.0,
        minute_ago(1): 10.0,
    }
    assert set(results["peak"]["Values"]) == {11.0}  # a scalar, at every timestamp
    assert results["p"]["Label"] == "Errors"

    ascending = cw.get_metric_data(
        MetricDataQueries=[stat("errors", "Errors")],
        StartTime=minute_ago(10),
        EndTime=minute_ago(-1),
        ScanBy="TimestampAscending",
    )["MetricDataResults"][0]
    assert ascending["Timestamps"] == [minute_ago(4), minute_ago(3), minute_ago(2)]
    assert ascending["Values"] == [4.0, 5.0, 4.0]


def test_metric_data_pages_by_max_datapoints(cw):
    put_latencies(cw, {5: [1.0], 4: [2.0], 3: [3.0]}, name="Errors")
    put_latencies(cw, {4: [10.0], 3: [20.0]}, name="Requests")
    request = {
        "MetricDataQueries": [stat("a", "Errors"), stat("b", "Requests")],
        "StartTime": minute_ago(10),
        "EndTime": minute_ago(-1),
        "MaxDatapoints": 2,
    }
    first = cw.get_metric_data(**request)
    assert [(r["Values"], r["StatusCode"]) for r in first["MetricDataResults"]] == [
        ([3.0, 2.0], "PartialData"),
        ([], "PartialData"),
    ]
    second = cw.get_metric_data(**request, NextToken=first["NextToken"])
    assert [r["Values"] for r in second["MetricDataResults"]] == [[1.0], [20.0]]
    third = cw.get_metric_data(**request, NextToken=second["NextToken"])
    assert [r["Values"] for r in third["MetricDataResults"]] == [[], [10.0]]
    assert "NextToken" not in third

    pages = cw.get_paginator("get_metric_data").paginate(**request)
    by_id: dict[str, list[float]] = {}
    for page in pages:
        for result in page["MetricDataResults"]:
            by_id.setdefault(result["Id"], []).extend(result["Values"])
    assert by_id == {"a": [3.0, 2.0, 1.0], "b": [20.0, 10.0]}

    other = {**request, "MetricDataQueries": [stat("a", "Errors")]}
    with pytest.raises(cw.exceptions.InvalidNextToken):
        cw.get_metric_data(**other, NextToken=first["NextToken"])


@pytest.mark.parametrize(
    ("queries", "says"),
    [
        ([stat("a", "Errors"), stat("a", "Requests")], "not unique"),
        ([stat("A1", "Errors")], "starts with a lowercase letter"),
        ([{"Id": "e", "Expression": "FOO(2)"}], "Unsupported function FOO"),
        ([{"Id": "e", "Expression": "missing * 2"}], "Unknown metric id missing"),
        ([{"Id": "e", "Expression": "e + 1"}], "circular"),
        ([{"Id": "e", "Expression": "(1 +"}], "Error in expression e"),
        ([{"Id": "e"}], "Exactly one of"),
        ([stat("a", "Errors", "Median")], "MetricStat.Stat is invalid"),
    ],
)
def test_metric_data_refuses_bad_queries(cw, queries, says):
    code, message = error(
        cw.get_metric_data,
        MetricDataQueries=queries,
        StartTime=minute_ago(5),
        EndTime=minute_ago(0),
    )
    assert code == "ValidationError" and says in message


# -- ListMetrics ----------------------------------------------------------------------------


def test_list_metrics_filters_and_pages(cw):
    for i in range(3):
        cw.put_metric_data(
            Namespace=NS,
            MetricData=[
                {
                    "MetricName": "Orders",
                    "Dimensions": [{"Name": "Store", "Value": f"s{i}"}],
                    "Value": 1.0,
                },
                {
                    "MetricName": "Visits",
                    "Dimensions": [{"Name": "Page", "Value": "home"}],
                    "Value": 1.0,
                },
            ],
        )
    cw.put_metric_data(Namespace="Other", MetricData=[{"MetricName": "Orders", "Value": 1.0}])

    everything = cw.list_metrics()["Metrics"]
    assert [(m["Namespace"], m["MetricName"]) for m in everything] == [
        ("Other", "Orders"),
        (NS, "Orders"),
        (NS, "Orders"),
        (NS, "Orders"),
        (NS, "Visits"),
    ]
    stores = cw.list_metrics(Namespace=NS, MetricName="Orders")["Metrics"]
    assert [m["Dimensions"] for m in stores] == [
        [{"Name": "Store", "Value": f"s{i}"}] for i in range(3)
    ]
    one = cw.list_metrics(Dimensions=[{"Name": "Store", "Value": "s1"}])["Metrics"]
    assert [m["Dimensions"][0]["Value"] for m in one] == ["s1"]
    any_page = cw.list_metrics(Dimensions=[{"Name": "Page"}], RecentlyActive="PT3H")["Metrics"]
    assert [m["MetricName"] for m in any_page] == ["Visits"]
    listed = [
        m
        for page in cw.get_paginator("list_metrics").paginate(Namespace=NS)
        for m in page["Metrics"]
    ]
    assert len(listed) == 4
    assert error(cw.list_metrics, NextToken="bogus")[0] == "InvalidParameterValue"


def test_list_metrics_pages_every_metric_once_when_dimension_sets_nest(cw):
    """``{a}`` next to ``{a, b}``: the listing's order and its token's agree."""
    cw.put_metric_data(
        Namespace=NS,
        MetricData=[{"MetricName": "M", "Dimensions": [{"Name": "a", "Value": "v"}], "Value": 1.0}],
    )
    for start in range(0, 520, 20):
        cw.put_metric_data(
            Namespace=NS,
            MetricData=[
                {
                    "MetricName": "M",
                    "Dimensions": [{"Name": "a", "Value": "v"}, {"Name": "b", "Value": f"{i:03d}"}],
                    "Value": 1.0,
                }
                for i in range(start, start + 20)
            ],
        )
    pages = list(cw.get_paginator("list_metrics").paginate(Namespace=NS))
    seen = [
        tuple((d["Name"], d["Value"]) for d in m["Dimensions"]) for p in pages for m in p["Metrics"]
    ]
    assert len(pages) == 2
    assert len(seen) == len(set(seen)) == 521
