"""Listing through real boto3 clients: ListObjectsV2 and ListObjects (v1) with Prefix,
Delimiter, CommonPrefixes, MaxKeys, continuation, StartAfter and Marker; S3's order
(UTF-8 bytes); keys that must come back exactly as written; paginators; the resource
API's collections."""

from __future__ import annotations

import hashlib
import itertools

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore.exceptions import ClientError

# Parsed service models, shared by every test's clients (each test still gets fresh
# sessions and clients, bound to its own SIMSAGE_HOME).
_LOADER = botocore.loaders.create_loader()

BUCKET = "listing"

# Keys that are easy to mangle: URL-special characters, unicode, path-like forms.
AWKWARD_KEYS = [
    "a b/c d.txt",
    "plus+sign",
    "plus+/nested",
    "percent%20not-a-space",
    "100%",
    "q?x=1&y=2#frag",
    "../escape",
    "a/../b",
    "double//slash",
    "trailing/",
    "/leading",
    "é",
    "中文/数据.csv",
    "emoji-🙂",
    "tab\tand~tilde",
    "xml<&>'\"",
]


def _session(region: str = "us-east-1") -> boto3.Session:
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return boto3.Session(botocore_session=core, region_name=region)


@pytest.fixture
def s3(simsage_local):
    client = _session().client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def _put(s3, keys, body: bytes = b"") -> None:
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def _keys(response) -> list[str]:
    return [o["Key"] for o in response.get("Contents", [])]


def _prefixes(response) -> list[str]:
    return [p["Prefix"] for p in response.get("CommonPrefixes", [])]


def _pages(page_iterator, limit: int = 50) -> list[dict]:
    """The pages of a paginator, failing (not hanging) if it never ends."""
    pages = list(itertools.islice(page_iterator, limit + 1))
    assert len(pages) <= limit, "the paginator did not stop"
    return pages


def _utf8_sorted(keys) -> list[str]:
    return sorted(keys, key=lambda k: k.encode("utf-8"))


# -- ListObjectsV2 ---------------------------------------------------------------------------


def test_list_empty_bucket(s3):
    response = s3.list_objects_v2(Bucket=BUCKET)
    assert response["KeyCount"] == 0
    assert response["IsTruncated"] is False
    assert "Contents" not in response
    assert response["Name"] == BUCKET
    assert response["MaxKeys"] == 1000


def test_list_contents_fields(s3):
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"12345")
    s3.put_object(Bucket=BUCKET, Key="ia", Body=b"1", StorageClass="STANDARD_IA")
    response = s3.list_objects_v2(Bucket=BUCKET)
    by_key = {o["Key"]: o for o in response["Contents"]}
    item = by_key["k"]
    assert item["Size"] == 5
    assert item["ETag"] == f'"{hashlib.md5(b"12345").hexdigest()}"'
    assert item["StorageClass"] == "STANDARD"
    assert item["LastModified"].tzinfo is not None
    assert "Owner" not in item  # only with FetchOwner
    assert by_key["ia"]["StorageClass"] == "STANDARD_IA"
    owned = s3.list_objects_v2(Bucket=BUCKET, FetchOwner=True)["Contents"][0]
    assert owned["Owner"]["ID"]


def test_list_order_is_utf8_byte_order(s3):
    keys = ["中", "a/b", "Z", "é", "a-", "a", "0", "a.", "~", "\U0001f642", "\uffee", "A"]
    _put(s3, keys)
    listed = _keys(s3.list_objects_v2(Bucket=BUCKET))
    assert listed == ["0", "A", "Z", "a", "a-", "a.", "a/b", "~", "é", "中", "\uffee", "\U0001f642"]
    assert listed == _utf8_sorted(keys)


def test_awkward_keys_round_trip_exactly(s3):
    for i, key in enumerate(AWKWARD_KEYS):
        s3.put_object(Bucket=BUCKET, Key=key, Body=str(i).encode())
    listed = _keys(s3.list_objects_v2(Bucket=BUCKET))
    assert listed == _utf8_sorted(AWKWARD_KEYS)
    v1 = _keys(s3.list_objects(Bucket=BUCKET))
    assert v1 == listed
    for i, key in enumerate(AWKWARD_KEYS):
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == str(i).encode()


@pytest.mark.parametrize("prefix", ["plus+", "a b/", "percent%20", "中文/", "q?x=1&"])
def test_awkward_prefixes_match_literally(s3, prefix):
    _put(s3, AWKWARD_KEYS)
    expected = [k for k in _utf8_sorted(AWKWARD_KEYS) if k.startswith(prefix)]
    assert expected
    response = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    assert _keys(response) == expected
    assert response["Prefix"] == prefix
    assert _keys(s3.list_objects(Bucket=BUCKET, Prefix=prefix)) == expected


def test_explicit_url_encoding_type(s3):
    # Asked for explicitly, the answer stays URL-encoded (botocore decodes only what it
    # asked for itself).
    _put(s3, ["a b", "c+d", "é"])
    response = s3.list_objects_v2(Bucket=BUCKET, EncodingType="url")
    assert response["EncodingType"] == "url"
    from urllib.parse import unquote_plus

    assert [unquote_plus(k) for k in _keys(response)] == ["a b", "c+d", "é"]
    assert all(" " not in k and "é" not in k for k in _keys(response))


def test_prefix(s3):
    _put(s3, ["data/a", "data/b/c", "data-x", "dat", "other/data/a"])
    response = s3.list_objects_v2(Bucket=BUCKET, Prefix="data/")
    assert _keys(response) == ["data/a", "data/b/c"]
    assert response["KeyCount"] == 2
    assert response["Prefix"] == "data/"
    assert _keys(s3.list_objects_v2(Bucket=BUCKET, Prefix="data")) == [
        "data-x",
        "data/a",
        "data/b/c",
    ]
    assert _keys(s3.list_objects_v2(Bucket=BUCKET, Prefix="nothing")) == []


def test_delimiter_rolls_up_common_prefixes(s3):
    _put(s3, ["a", "a/b", "a/c/d", "b/x", "b/y", "c", "d/", "d/e"])
    response = s3.list_objects_v2(Bucket=BUCKET, Delimiter="/")
    assert _keys(response) == ["a", "c"]
    assert _prefixes(response) == ["a/", "b/", "d/"]
    assert response["KeyCount"] == 5
    assert response["Delimiter"] == "/"


def test_delimiter_with_prefix(s3):
    _put(s3, ["p/", "p/x", "p/y/1", "p/y/2", "p/z/", "pq/1"])
    response = s3.list_objects_v2(Bucket=BUCKET, Prefix="p/", Delimiter="/")
    assert _keys(response) == ["p/", "p/x"]
    assert _prefixes(response) == ["p/y/", "p/z/"]


def test_multi_character_and_non_slash_delimiters(s3):
    _put(s3, ["2024--01--a", "2024--01--b", "2024--02--a", "2025", "x-y"])
    response = s3.list_objects_v2(Bucket=BUCKET, Delimiter="--")
    assert _prefixes(response) == ["2024--"]
    assert _keys(response) == ["2025", "x-y"]
    response = s3.list_objects_v2(Bucket=BUCKET, Prefix="2024--", Delimiter="--")
    assert _prefixes(response) == ["2024--01--", "2024--02--"]
    response = s3.list_objects_v2(Bucket=BUCKET, Delimiter="-")
    assert _prefixes(response) == ["2024-", "x-"]
    assert _keys(response) == ["2025"]


def test_delimiter_with_awkward_prefixes_round_trips(s3):
    _put(s3, AWKWARD_KEYS)
    response = s3.list_objects_v2(Bucket=BUCKET, Delimiter="/")
    expected = set()
    for key in AWKWARD_KEYS:
        if "/" in key:
            expected.add(key[: key.index("/") + 1])
    assert _prefixes(response) == _utf8_sorted(expected)
    for prefix in _prefixes(response):
        under = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
        assert _keys(under) == [k for k in _utf8_sorted(AWKWARD_KEYS) if k.startswith(prefix)]


def test_max_keys_and_continuation(s3):
    keys = [f"k{i:03d}" for i in range(25)]
    _put(s3, keys)
    first = s3.list_objects_v2(Bucket=BUCKET, MaxKeys=10)
    assert _keys(first) == keys[:10]
    assert first["IsTruncated"] is True
    assert first["KeyCount"] == 10
    assert first["MaxKeys"] == 10
    token = first["NextContinuationToken"]
    second = s3.list_objects_v2(Bucket=BUCKET, MaxKeys=10, ContinuationToken=token)
    assert _keys(second) == keys[10:20]
    assert second["ContinuationToken"] == token
    third = s3.list_objects_v2(
        Bucket=BUCKET, MaxKeys=10, ContinuationToken=second["NextContinuationToken"]
    )
    assert _keys(third) == keys[20:]
    assert third["IsTruncated"] is False
    assert "NextContinuationToken" not in third


def test_max_keys_exactly_all(s3):
    _put(s3, ["a", "b", "c"])
    response = s3.list_objects_v2(Bucket=BUCKET, MaxKeys=3)
    assert _keys(response) == ["a", "b", "c"]
    assert response["IsTruncated"] is False


def test_max_keys_zero(s3):
    _put(s3, ["a"])
    response = s3.list_objects_v2(Bucket=BUCKET, MaxKeys=0)
    assert response["KeyCount"] == 0
    assert "Contents" not in response
    assert response["MaxKeys"] == 0


def test_max_keys_above_1000_is_capped(s3):
    response = s3.list_objects_v2(Bucket=BUCKET, MaxKeys=5000)
    assert response["MaxKeys"] == 1000


def test_start_after(s3):
    _put(s3, ["a", "b", "c", "d"])
    response = s3.list_objects_v2(Bucket=BUCKET, StartAfter="b")
    assert _keys(response) == ["c", "d"]
    assert response["StartAfter"] == "b"
    assert _keys(s3.list_objects_v2(Bucket=BUCKET, StartAfter="bb")) == ["c", "d"]
    assert _keys(s3.list_objects_v2(Bucket=BUCKET, StartAfter="z")) == []
    assert _keys(s3.list_objects_v2(Bucket=BUCKET, StartAfter="")) == ["a", "b", "c", "d"]


def test_start_after_with_awkward_key(s3):
    _put(s3, ["a+b", "a b", "a%2Bb", "é", "z"])
    response = s3.list_objects_v2(Bucket=BUCKET, StartAfter="a+b")
    assert response["StartAfter"] == "a+b"
    assert _keys(response) == ["z", "é"]


def test_start_after_with_prefix(s3):
    _put(s3, ["p/1", "p/2", "p/3", "q/1"])
    assert _keys(s3.list_objects_v2(Bucket=BUCKET, Prefix="p/", StartAfter="p/1")) == [
        "p/2",
        "p/3",
    ]
    # StartAfter before the prefix: the whole prefix.
    assert _keys(s3.list_objects_v2(Bucket=BUCKET, Prefix="p/", StartAfter="a")) == [
        "p/1",
        "p/2",
        "p/3",
    ]
    # StartAfter past the prefix: nothing.
    assert _keys(s3.list_objects_v2(Bucket=BUCKET, Prefix="p/", StartAfter="q")) == []


def test_continuation_token_wins_over_start_after(s3):
    _put(s3, ["a", "b", "c", "d", "e"])
    first = s3.list_objects_v2(Bucket=BUCKET, MaxKeys=2, StartAfter="a")
    assert _keys(first) == ["b", "c"]
    second = s3.list_objects_v2(
        Bucket=BUCKET, MaxKeys=2, StartAfter="a", ContinuationToken=first["NextContinuationToken"]
    )
    assert _keys(second) == ["d", "e"]


def test_invalid_continuation_token(s3):
    with pytest.raises(ClientError) as excinfo:
        s3.list_objects_v2(Bucket=BUCKET, ContinuationToken="!!not a token!!")
    assert excinfo.value.response["Error"]["Code"] == "InvalidArgument"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_list_missing_bucket(s3):
    for call in (s3.list_objects_v2, s3.list_objects):
        with pytest.raises(ClientError) as excinfo:
            call(Bucket="no-such-bucket")
        error = excinfo.value.response["Error"]
        assert error["Code"] == "NoSuchBucket"
        assert error["BucketName"] == "no-such-bucket"
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_delimiter_paging_one_at_a_time_never_repeats_a_prefix(s3):
    keys = ["a", "b/1", "b/2", "b/3", "c", "d/1", "d/e/2", "e/", "f"]
    _put(s3, keys)
    entries, token, pages = [], None, 0
    while pages < 20:  # bounded: a paging bug must fail, not hang
        kwargs = {"Bucket": BUCKET, "Delimiter": "/", "MaxKeys": 1}
        if token:
            kwargs["ContinuationToken"] = token
        response = s3.list_objects_v2(**kwargs)
        pages += 1
        assert response["KeyCount"] == 1
        entries += _keys(response) + _prefixes(response)
        if not response["IsTruncated"]:
            break
        token = response["NextContinuationToken"]
    assert entries == ["a", "b/", "c", "d/", "e/", "f"]
    assert pages == 6


def test_delimiter_paging_v1_one_at_a_time_never_repeats_a_prefix(s3):
    _put(s3, ["a", "b+/1", "b+/2", "c d/1", "c d/2", "e"])
    entries, marker = [], ""
    for _ in range(20):  # bounded: a paging bug must fail, not hang
        response = s3.list_objects(Bucket=BUCKET, Delimiter="/", MaxKeys=1, Marker=marker)
        entries += _keys(response) + _prefixes(response)
        if not response["IsTruncated"]:
            break
        marker = response["NextMarker"]
    assert entries == ["a", "b+/", "c d/", "e"]


# -- paginators --------------------------------------------------------------------------------


def _bulk_put(s3, count: int, prefix: str = "") -> list[str]:
    keys = [f"{prefix}obj-{i:05d}" for i in range(count)]
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key)
    return keys


def test_v2_paginator_over_2500_keys(s3):
    keys = _bulk_put(s3, 2500, prefix="many/")
    s3.put_object(Bucket=BUCKET, Key="outside")
    paginator = s3.get_paginator("list_objects_v2")
    pages = _pages(
        paginator.paginate(Bucket=BUCKET, Prefix="many/", PaginationConfig={"PageSize": 1000})
    )
    assert [p["KeyCount"] for p in pages] == [1000, 1000, 500]
    listed = [k for p in pages for k in _keys(p)]
    assert listed == keys  # all of them, once each, in order
    assert len(set(listed)) == 2500
    result = paginator.paginate(Bucket=BUCKET, Prefix="many/").build_full_result()
    assert [o["Key"] for o in result["Contents"]] == keys


def test_v2_paginator_with_delimiter(s3):
    _put(s3, [f"dir{i:02d}/file" for i in range(15)] + [f"top{i:02d}" for i in range(7)])
    pages = _pages(
        s3.get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET, Delimiter="/", PaginationConfig={"PageSize": 4}
        )
    )
    prefixes = [p for page in pages for p in _prefixes(page)]
    keys = [k for page in pages for k in _keys(page)]
    assert prefixes == [f"dir{i:02d}/" for i in range(15)]
    assert keys == [f"top{i:02d}" for i in range(7)]
    assert len(pages) == 6


def test_v2_paginator_max_items_and_resume(s3):
    keys = [f"k{i:02d}" for i in range(12)]
    _put(s3, keys)
    paginator = s3.get_paginator("list_objects_v2")
    first = paginator.paginate(
        Bucket=BUCKET, PaginationConfig={"MaxItems": 5, "PageSize": 3}
    ).build_full_result()
    assert [o["Key"] for o in first["Contents"]] == keys[:5]
    rest = paginator.paginate(
        Bucket=BUCKET, PaginationConfig={"StartingToken": first["NextToken"], "PageSize": 3}
    ).build_full_result()
    assert [o["Key"] for o in rest["Contents"]] == keys[5:]


# -- ListObjects (v1) ---------------------------------------------------------------------


def test_v1_marker_and_owner(s3):
    _put(s3, ["a", "b", "c", "d"], body=b"x")
    response = s3.list_objects(Bucket=BUCKET, Marker="b")
    assert _keys(response) == ["c", "d"]
    assert response["Marker"] == "b"
    assert response["IsTruncated"] is False
    for item in response["Contents"]:
        assert item["Owner"]["ID"]
        assert item["Size"] == 1


def test_v1_truncated_without_delimiter_has_no_next_marker(s3):
    # S3 sends NextMarker only when a delimiter was given; clients use the last key.
    _put(s3, ["a", "b", "c"])
    response = s3.list_objects(Bucket=BUCKET, MaxKeys=2)
    assert _keys(response) == ["a", "b"]
    assert response["IsTruncated"] is True
    assert "NextMarker" not in response
    assert _keys(s3.list_objects(Bucket=BUCKET, Marker="b")) == ["c"]


def test_v1_next_marker_with_delimiter(s3):
    _put(s3, ["a/1", "a/2", "b", "c/1"])
    response = s3.list_objects(Bucket=BUCKET, Delimiter="/", MaxKeys=2)
    assert _prefixes(response) == ["a/"]
    assert _keys(response) == ["b"]
    assert response["IsTruncated"] is True
    assert response["NextMarker"] == "b"
    rest = s3.list_objects(Bucket=BUCKET, Delimiter="/", Marker=response["NextMarker"])
    assert _prefixes(rest) == ["c/"]
    assert rest["IsTruncated"] is False


def test_v1_next_marker_keeps_awkward_characters(s3):
    _put(s3, ["a+b/1", "a+b/2", "c%41/1", "d e/1", "z"])
    response = s3.list_objects(Bucket=BUCKET, Delimiter="/", MaxKeys=1)
    assert _prefixes(response) == ["a+b/"]
    assert response["NextMarker"] == "a+b/"
    response = s3.list_objects(Bucket=BUCKET, Delimiter="/", MaxKeys=1, Marker="a+b/")
    assert response["Marker"] == "a+b/"
    assert _prefixes(response) == ["c%41/"]
    assert response["NextMarker"] == "c%41/"


def test_v1_paginator(s3):
    keys = _bulk_put(s3, 250)
    pages = _pages(
        s3.get_paginator("list_objects").paginate(Bucket=BUCKET, PaginationConfig={"PageSize": 100})
    )
    assert [len(p["Contents"]) for p in pages] == [100, 100, 50]
    assert [k for p in pages for k in _keys(p)] == keys


def test_v1_paginator_with_delimiter_and_awkward_prefixes(s3):
    keys = [f"{p}/{i}" for p in ["a+b", "c d", "e%2Ff", "é", "中"] for i in range(3)] + ["top+"]
    _put(s3, keys)
    pages = _pages(
        s3.get_paginator("list_objects").paginate(
            Bucket=BUCKET, Delimiter="/", PaginationConfig={"PageSize": 2}
        )
    )
    prefixes = [p for page in pages for p in _prefixes(page)]
    assert prefixes == ["a+b/", "c d/", "e%2Ff/", "é/", "中/"]
    assert [k for page in pages for k in _keys(page)] == ["top+"]


# -- the resource API ------------------------------------------------------------------------


def test_resource_bucket_objects_filter_and_all(s3):
    _put(s3, ["logs/1", "logs/2", "data/x", "data/y", "data/z/deep"], body=b"abc")
    bucket = _session().resource("s3").Bucket(BUCKET)
    assert [o.key for o in bucket.objects.filter(Prefix="data/")] == [
        "data/x",
        "data/y",
        "data/z/deep",
    ]
    assert [o.size for o in bucket.objects.filter(Prefix="logs/")] == [3, 3]
    assert len(list(bucket.objects.all())) == 5
    assert [o.key for o in bucket.objects.filter(Prefix="data/").page_size(1).limit(2)] == [
        "data/x",
        "data/y",
    ]


@pytest.mark.parametrize(
    ("keys", "prefix", "delimiter"),
    [(["/", "/a"], "/", "/"), (["a", "a /"], "a", "a"), (["p/", "p/x", "p/y/z"], "p/", "/")],
)
def test_a_page_ending_on_the_key_equal_to_the_prefix_does_not_skip_the_rest(
    s3, keys, prefix, delimiter
):
    # Found by the stateful test: the key equal to the prefix ends with the delimiter,
    # yet it is an object, so the next page must not skip what follows it.
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"")
    seen, token = [], None
    for _ in range(10):
        kwargs = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(
            Bucket=BUCKET, Prefix=prefix, Delimiter=delimiter, MaxKeys=1, **kwargs
        )
        seen += [o["Key"] for o in page.get("Contents", [])]
        seen += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    full = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix, Delimiter=delimiter)
    expected = [o["Key"] for o in full.get("Contents", [])] + [
        p["Prefix"] for p in full.get("CommonPrefixes", [])
    ]
    assert sorted(seen) == sorted(expected)
    assert len(seen) == len(set(seen))
    assert len(expected) >= 2
