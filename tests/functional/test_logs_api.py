"""CloudWatch Logs through boto3's ``logs`` client: log groups and streams (create,
describe with prefix, pattern and paging, delete), PutLogEvents' rules, GetLogEvents'
and FilterLogEvents' paging, retention, tags, subscription filters, and the errors."""

from __future__ import annotations

import contextlib
import time

import pytest
from botocore.exceptions import ClientError

DAY_MS = 86_400_000
HOUR_MS = 3_600_000


@pytest.fixture
def logs(simsage_local):
    return simsage_local.client("logs")


def now_ms() -> int:
    return int(time.time() * 1000)


def error(call, **params) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**params)
    err = info.value.response["Error"]
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return err["Code"], err["Message"]


def stream_with(logs, group: str, stream: str, count: int, start: int | None = None) -> None:
    """A group and stream holding ``count`` events ``event-0`` … one ms apart."""
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    start = now_ms() - 60_000 if start is None else start
    events = [{"timestamp": start + i, "message": f"event-{i}"} for i in range(count)]
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


# -- log groups ----------------------------------------------------------------------


def test_create_and_describe_log_groups_with_prefix_pattern_and_paging(logs):
    names = ["/aws/sagemaker/TrainingJobs", "/app/DataLogs", "/app/datalogs", "other/GroupDataLogs"]
    for name in names:
        logs.create_log_group(logGroupName=name)
    described = logs.describe_log_groups()["logGroups"]
    assert [g["logGroupName"] for g in described] == sorted(names)
    first = described[0]
    assert first["arn"].endswith(f":log-group:{first['logGroupName']}:*")
    assert first["logGroupArn"] == first["arn"][: -len(":*")]
    assert first["storedBytes"] == 0 and "retentionInDays" not in first

    prefixed = logs.describe_log_groups(logGroupNamePrefix="/app/")["logGroups"]
    assert [g["logGroupName"] for g in prefixed] == ["/app/DataLogs", "/app/datalogs"]
    # The pattern is a case-sensitive substring, and then only three fields are answered.
    matched = logs.describe_log_groups(logGroupNamePattern="DataLogs")["logGroups"]
    assert [g["logGroupName"] for g in matched] == ["/app/DataLogs", "other/GroupDataLogs"]
    assert set(matched[0]) == {"logGroupName", "creationTime", "arn"}
    assert (
        error(logs.describe_log_groups, logGroupNamePrefix="/app", logGroupNamePattern="Data")[0]
        == "InvalidParameterException"
    )

    pages, token = [], None
    while True:
        response = logs.describe_log_groups(limit=3, **({"nextToken": token} if token else {}))
        pages.append([g["logGroupName"] for g in response["logGroups"]])
        token = response.get("nextToken")
        if not token:
            break
    assert pages == [sorted(names)[:3], sorted(names)[3:]]
    paginated = [
        g["logGroupName"]
        for page in logs.get_paginator("describe_log_groups").paginate(
            PaginationConfig={"PageSize": 1}
        )
        for g in page["logGroups"]
    ]
    assert paginated == sorted(names)


def test_log_group_errors(logs):
    logs.create_log_group(logGroupName="/app/once")
    code, message = error(logs.create_log_group, logGroupName="/app/once")
    assert (code, message) == (
        "ResourceAlreadyExistsException",
        "The specified log group already exists",
    )
    code, message = error(logs.create_log_group, logGroupName="bad name")
    assert code == "InvalidParameterException"
    assert message == (
        "1 validation error detected: Value 'bad name' at 'logGroupName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+"
    )
    assert error(logs.create_log_group, logGroupName="aws/reserved")[0] == (
        "InvalidParameterException"
    )
    code, message = error(logs.describe_log_groups, nextToken="not-a-token")
    assert code == "InvalidParameterException"
    code, message = error(logs.describe_log_streams, logGroupName="/missing")
    assert (code, message) == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )


def test_delete_log_group_and_stream(logs):
    stream_with(logs, "/app/gone", "s1", 3)
    logs.create_log_stream(logGroupName="/app/gone", logStreamName="s2")
    logs.delete_log_stream(logGroupName="/app/gone", logStreamName="s1")
    streams = logs.describe_log_streams(logGroupName="/app/gone")["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["s2"]
    assert error(logs.delete_log_stream, logGroupName="/app/gone", logStreamName="s1") == (
        "ResourceNotFoundException",
        "The specified log stream does not exist.",
    )
    assert error(logs.delete_log_stream, logGroupName="/app/none", logStreamName="s1") == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )
    logs.tag_log_group(logGroupName="/app/gone", tags={"team": "ml"})
    logs.delete_log_group(logGroupName="/app/gone")
    assert logs.describe_log_groups(logGroupNamePrefix="/app/gone")["logGroups"] == []
    assert error(logs.delete_log_group, logGroupName="/app/gone")[0] == "ResourceNotFoundException"
    # A new group of the same name starts empty: no streams, no tags.
    logs.create_log_group(logGroupName="/app/gone")
    assert logs.describe_log_streams(logGroupName="/app/gone")["logStreams"] == []
    assert logs.list_tags_log_group(logGroupName="/app/gone")["tags"] == {}


# -- log streams ---------------------------------------------------------------------


def test_describe_log_streams_prefix_order_and_paging(logs):
    logs.create_log_group(logGroupName="/app/streams")
    base = now_ms() - 60_000
    for i, name in enumerate(["job/algo-2", "job/algo-1", "other"]):
        logs.create_log_stream(logGroupName="/app/streams", logStreamName=name)
        logs.put_log_events(
            logGroupName="/app/streams",
            logStreamName=name,
            logEvents=[{"timestamp": base + i, "message": name}],
        )
    streams = logs.describe_log_streams(logGroupName="/app/streams", logStreamNamePrefix="job/")
    assert [s["logStreamName"] for s in streams["logStreams"]] == ["job/algo-1", "job/algo-2"]
    first = streams["logStreams"][0]
    assert first["firstEventTimestamp"] == first["lastEventTimestamp"] == base + 1
    assert first["arn"].endswith(":log-group:/app/streams:log-stream:job/algo-1")
    newest = logs.describe_log_streams(
        logGroupName="/app/streams", orderBy="LastEventTime", descending=True, limit=1
    )
    assert [s["logStreamName"] for s in newest["logStreams"]] == ["other"]
    rest = logs.describe_log_streams(
        logGroupName="/app/streams",
        orderBy="LastEventTime",
        descending=True,
        nextToken=newest["nextToken"],
    )
    assert [s["logStreamName"] for s in rest["logStreams"]] == ["job/algo-1", "job/algo-2"]
    assert "nextToken" not in rest
    assert error(
        logs.describe_log_streams,
        logGroupName="/app/streams",
        logStreamNamePrefix="job/",
        orderBy="LastEventTime",
    ) == ("InvalidParameterException", "Cannot order by LastEventTime with a logStreamNamePrefix.")
    code, _ = error(logs.create_log_stream, logGroupName="/app/streams", logStreamName="other")
    assert code == "ResourceAlreadyExistsException"
    code, message = error(logs.create_log_stream, logGroupName="/app/streams", logStreamName="a:b")
    assert code == "InvalidParameterException" and "'logStreamName'" in message


# -- PutLogEvents --------------------------------------------------------------------


def test_put_log_events_rejects_too_old_expired_and_too_new_events(logs):
    logs.create_log_group(logGroupName="/app/put")
    logs.create_log_stream(logGroupName="/app/put", logStreamName="s")
    now = now_ms()
    events = [
        {"timestamp": now - 15 * DAY_MS, "message": "too old"},
        {"timestamp": now - 15 * DAY_MS + 1, "message": "too old too"},
        {"timestamp": now - 60_000, "message": "kept 1"},
        {"timestamp": now - 30_000, "message": "kept 2"},
        {"timestamp": now + 3 * HOUR_MS, "message": "too new"},
    ]
    answer = logs.put_log_events(logGroupName="/app/put", logStreamName="s", logEvents=events)
    assert answer["rejectedLogEventsInfo"] == {
        "tooOldLogEventEndIndex": 2,  # exclusive
        "tooNewLogEventStartIndex": 4,  # inclusive
    }
    kept = logs.get_log_events(logGroupName="/app/put", logStreamName="s", startFromHead=True)
    assert [e["message"] for e in kept["events"]] == ["kept 1", "kept 2"]
    first_token = answer["nextSequenceToken"]

    # With a retention of 1 day, a 3-day-old event is expired (but not "too old").
    logs.put_retention_policy(logGroupName="/app/put", retentionInDays=1)
    answer = logs.put_log_events(
        logGroupName="/app/put",
        logStreamName="s",
        sequenceToken="ignored-since-2023",
        logEvents=[
            {"timestamp": now - 3 * DAY_MS, "message": "expired"},
            {"timestamp": now, "message": "kept 3"},
        ],
    )
    assert answer["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}
    assert int(answer["nextSequenceToken"]) > int(first_token)

    answer = logs.put_log_events(
        logGroupName="/app/put", logStreamName="s", logEvents=[{"timestamp": now, "message": "x"}]
    )
    assert "rejectedLogEventsInfo" not in answer


def test_put_log_events_refuses_unordered_long_and_oversized_batches(logs):
    logs.create_log_group(logGroupName="/app/refused")
    logs.create_log_stream(logGroupName="/app/refused", logStreamName="s")
    now = now_ms()

    def put(events):
        return error(
            logs.put_log_events, logGroupName="/app/refused", logStreamName="s", logEvents=events
        )

    assert put([{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}]) == (
        "InvalidParameterException",
        "Log events in a single PutLogEvents request must be in chronological order.",
    )
    span = [
        {"timestamp": now - 2 * DAY_MS, "message": "a"},
        {"timestamp": now - 1000, "message": "b"},
    ]
    assert put(span) == (
        "InvalidParameterException",
        "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.",
    )
    big = [
        {"timestamp": now, "message": "x" * 600_000},
        {"timestamp": now, "message": "y" * 600_000},
    ]
    code, message = put(big)
    assert code == "InvalidParameterException"
    assert message == "Upload too large: 1200052 bytes exceeds limit of 1048576"
    # Nothing of a refused batch was stored.
    assert logs.get_log_events(logGroupName="/app/refused", logStreamName="s")["events"] == []
    code, message = error(
        logs.put_log_events,
        logGroupName="/app/refused",
        logStreamName="missing",
        logEvents=[{"timestamp": now, "message": "x"}],
    )
    assert (code, message) == (
        "ResourceNotFoundException",
        "The specified log stream does not exist.",
    )


# -- GetLogEvents and FilterLogEvents ------------------------------------------------


def test_get_log_events_pages_forward_and_backward_with_stable_end_tokens(logs):
    stream_with(logs, "/app/get", "s", 7)
    # By default the newest events come back (in time order).
    newest = logs.get_log_events(logGroupName="/app/get", logStreamName="s", limit=3)
    assert [e["message"] for e in newest["events"]] == ["event-4", "event-5", "event-6"]
    older = logs.get_log_events(
        logGroupName="/app/get", logStreamName="s", limit=3, nextToken=newest["nextBackwardToken"]
    )
    assert [e["message"] for e in older["events"]] == ["event-1", "event-2", "event-3"]

    messages, token = [], None
    while True:
        params = {"nextToken": token} if token else {"startFromHead": True}
        page = logs.get_log_events(logGroupName="/app/get", logStreamName="s", limit=3, **params)
        messages += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:  # the end: the same token comes back
            assert page["events"] == []
            break
        token = page["nextForwardToken"]
    assert messages == [f"event-{i}" for i in range(7)]

    # New events appear after the last forward token.
    logs.put_log_events(
        logGroupName="/app/get",
        logStreamName="s",
        logEvents=[{"timestamp": now_ms(), "message": "late"}],
    )
    page = logs.get_log_events(logGroupName="/app/get", logStreamName="s", nextToken=token)
    assert [e["message"] for e in page["events"]] == ["late"]

    # The time window, and the group named by its ARN.
    # (the identifier is the ARN without the trailing ":*", which its pattern refuses)
    arn = logs.describe_log_groups(logGroupNamePrefix="/app/get")["logGroups"][0]["logGroupArn"]
    first = logs.get_log_events(logGroupName="/app/get", logStreamName="s", startFromHead=True)
    start = first["events"][2]["timestamp"]
    window = logs.get_log_events(
        logGroupIdentifier=arn,
        logStreamName="s",
        startTime=start,
        endTime=start + 2,
        startFromHead=True,
    )
    assert [e["message"] for e in window["events"]] == ["event-2", "event-3"]
    assert (
        error(
            logs.get_log_events, logGroupName="/app/get", logGroupIdentifier=arn, logStreamName="s"
        )[0]
        == "InvalidParameterException"
    )
    assert error(logs.get_log_events, logGroupName="/app/get", logStreamName="s", nextToken="x")[
        0
    ] == ("InvalidParameterException")


def test_filter_log_events_patterns_streams_and_paging(logs):
    stream_with(logs, "/app/filter", "job/algo-1", 5)
    stream_with(logs, "/app/filter", "job/algo-2", 5)
    stream_with(logs, "/app/filter", "other", 5)
    found = logs.filter_log_events(logGroupName="/app/filter", filterPattern="event-3")
    assert sorted(e["logStreamName"] for e in found["events"]) == [
        "job/algo-1",
        "job/algo-2",
        "other",
    ]
    assert found["searchedLogStreams"] == []
    prefixed = logs.filter_log_events(
        logGroupName="/app/filter", logStreamNamePrefix="job/", filterPattern="?event-1 ?event-2"
    )
    assert len(prefixed["events"]) == 4
    named = logs.filter_log_events(
        logGroupName="/app/filter", logStreamNames=["other"], filterPattern="-event-0"
    )
    assert [e["message"] for e in named["events"]] == [f"event-{i}" for i in range(1, 5)]
    assert (
        error(
            logs.filter_log_events,
            logGroupName="/app/filter",
            logStreamNames=["other"],
            logStreamNamePrefix="job/",
        )[0]
        == "InvalidParameterException"
    )

    events = [
        e
        for page in logs.get_paginator("filter_log_events").paginate(
            logGroupName="/app/filter", PaginationConfig={"PageSize": 4}
        )
        for e in page["events"]
    ]
    assert len(events) == 15 and len({e["eventId"] for e in events}) == 15
    latest = logs.filter_log_events(logGroupName="/app/filter", startFromHead=False, limit=2)
    assert [e["message"] for e in latest["events"]] == ["event-4", "event-3"]
    assert [e["logStreamName"] for e in latest["events"]] == ["other", "other"]


# -- retention, tags, subscription filters -------------------------------------------


def test_retention_policy(logs):
    logs.create_log_group(logGroupName="/app/kept")
    logs.put_retention_policy(logGroupName="/app/kept", retentionInDays=30)
    (group,) = logs.describe_log_groups(logGroupNamePrefix="/app/kept")["logGroups"]
    assert group["retentionInDays"] == 30
    code, message = error(logs.put_retention_policy, logGroupName="/app/kept", retentionInDays=2)
    assert code == "InvalidParameterException"
    assert message.startswith(
        "1 validation error detected: Value '2' at 'retentionInDays' failed to satisfy "
        "constraint: Member must satisfy enum value set: [1, 3, 5, 7, 14, 30,"
    )
    logs.delete_retention_policy(logGroupName="/app/kept")
    (group,) = logs.describe_log_groups(logGroupNamePrefix="/app/kept")["logGroups"]
    assert "retentionInDays" not in group
    for call in (logs.put_retention_policy, logs.delete_retention_policy):
        params = {"retentionInDays": 7} if call == logs.put_retention_policy else {}
        assert error(call, logGroupName="/app/none", **params)[0] == "ResourceNotFoundException"


def test_tags_by_group_name_and_by_arn(logs):
    logs.create_log_group(logGroupName="/app/tagged", tags={"team": "ml"})
    logs.tag_log_group(logGroupName="/app/tagged", tags={"stage": "dev", "team": "research"})
    assert logs.list_tags_log_group(logGroupName="/app/tagged")["tags"] == {
        "stage": "dev",
        "team": "research",
    }
    logs.untag_log_group(logGroupName="/app/tagged", tags=["stage"])
    (group,) = logs.describe_log_groups(logGroupNamePrefix="/app/tagged")["logGroups"]
    arn = group["logGroupArn"]
    logs.tag_resource(resourceArn=arn, tags={"cost": "42"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {
        "cost": "42",
        "team": "research",
    }
    logs.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"cost": "42"}
    # The ARN with its trailing ":*" (DescribeLogGroups' "arn") breaks resourceArn's pattern.
    code, _ = error(logs.list_tags_for_resource, resourceArn=group["arn"])
    assert code == "InvalidParameterException"

    too_many = {f"k{i}": "v" for i in range(50)}
    with pytest.raises(ClientError) as info:
        logs.tag_resource(resourceArn=arn, tags=too_many)
    assert info.value.response["Error"]["Code"] == "TooManyTagsException"
    assert info.value.response["resourceName"] == arn
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"cost": "42"}

    missing = arn.replace("/app/tagged", "/app/missing")
    assert error(logs.list_tags_for_resource, resourceArn=missing)[0] == "ResourceNotFoundException"
    assert error(logs.tag_log_group, logGroupName="/app/missing", tags={"a": "b"})[0] == (
        "ResourceNotFoundException"
    )
    code, message = error(logs.tag_resource, resourceArn=arn, tags={"bad;key": "v"})
    assert code == "InvalidParameterException" and "'tags.key'" in message


def test_describe_subscription_filters(logs):
    logs.create_log_group(logGroupName="/app/subscribed")
    assert (
        logs.describe_subscription_filters(logGroupName="/app/subscribed")["subscriptionFilters"]
        == []
    )
    assert error(logs.describe_subscription_filters, logGroupName="/app/none") == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )
