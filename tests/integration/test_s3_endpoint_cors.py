"""CORS over real HTTP, as a browser meets it: preflights (OPTIONS, unsigned) answered
by the bucket's CORS rules, and the CORS headers on the answers to requests that carry
an Origin (a presigned GET, a presigned POST form), none without one."""

from __future__ import annotations

import http.client
import urllib.request
from urllib.parse import urlsplit

import pytest
import s3_endpoint_helpers as helpers

endpoint, s3 = helpers.endpoint, helpers.s3  # the fixtures

BUCKET = "bkt-cors"
APP = "http://localhost:8501"
RULES = [
    {
        "AllowedMethods": ["GET", "PUT", "POST"],
        "AllowedOrigins": [APP, "http://*.example.com"],
        "AllowedHeaders": ["content-type", "x-amz-*"],
        "ExposeHeaders": ["ETag"],
        "MaxAgeSeconds": 600,
    },
    {"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]},
]


def _options(url: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("OPTIONS", path, headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


@pytest.fixture
def bucket(s3):
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="page.json", Body=b"{}")
    return s3


def test_without_cors_rules_a_preflight_is_forbidden(bucket, endpoint):
    status, _, body = _options(
        endpoint.url,
        f"/{BUCKET}/page.json",
        {"Origin": APP, "Access-Control-Request-Method": "GET"},
    )
    assert status == 403
    assert b"<Code>AccessForbidden</Code>" in body
    assert b"CORS is not enabled for this bucket" in body


def test_a_preflight_is_answered_by_the_first_matching_rule(bucket, endpoint):
    bucket.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": RULES})
    status, headers, _ = _options(
        endpoint.url,
        f"/{BUCKET}/upload.csv",
        {
            "Origin": APP,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "Content-Type, X-Amz-Meta-Owner",
        },
    )
    assert status == 200
    assert headers["access-control-allow-origin"] == APP
    assert headers["access-control-allow-methods"] == "GET, PUT, POST"
    assert headers["access-control-allow-headers"] == "content-type, x-amz-meta-owner"
    assert headers["access-control-expose-headers"] == "ETag"
    assert headers["access-control-max-age"] == "600"
    assert headers["access-control-allow-credentials"] == "true"

    # A wildcard origin matches a subdomain; the catch-all rule answers "*" for GET only.
    status, headers, _ = _options(
        endpoint.url,
        f"/{BUCKET}/x",
        {"Origin": "http://docs.example.com", "Access-Control-Request-Method": "POST"},
    )
    assert (status, headers["access-control-allow-origin"]) == (200, "http://docs.example.com")
    status, headers, _ = _options(
        endpoint.url,
        f"/{BUCKET}/x",
        {"Origin": "http://elsewhere.test", "Access-Control-Request-Method": "GET"},
    )
    assert (status, headers["access-control-allow-origin"]) == (200, "*")
    assert "access-control-allow-credentials" not in headers


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        (
            {"Origin": "http://elsewhere.test", "Access-Control-Request-Method": "PUT"},
            403,
            b"AccessForbidden",
        ),
        (
            {
                "Origin": APP,
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "authorization",
            },
            403,
            b"AccessForbidden",
        ),
        ({"Access-Control-Request-Method": "GET"}, 400, b"BadRequest"),
        ({"Origin": APP}, 400, b"BadRequest"),
    ],
)
def test_a_preflight_no_rule_allows_is_refused(bucket, endpoint, headers, status, code):
    bucket.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": RULES})
    got, answer_headers, body = _options(endpoint.url, f"/{BUCKET}/page.json", headers)
    assert got == status
    assert f"<Code>{code.decode()}</Code>".encode() in body
    assert "access-control-allow-origin" not in answer_headers


def test_a_preflight_for_a_missing_bucket_is_no_such_bucket(endpoint):
    status, _, body = _options(
        endpoint.url, "/bkt-nowhere/x", {"Origin": APP, "Access-Control-Request-Method": "GET"}
    )
    assert status == 404
    assert b"<Code>NoSuchBucket</Code>" in body


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


def test_answers_to_a_browsers_requests_carry_cors_headers(bucket):
    bucket.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": RULES})
    url = bucket.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "page.json"})
    status, headers, body = _get(url, {"Origin": APP})
    assert (status, body) == (200, b"{}")
    assert headers["Access-Control-Allow-Origin"] == APP
    assert headers["Access-Control-Expose-Headers"] == "ETag"
    assert "Access-Control-Allow-Origin" not in _get(url)[1]

    post = bucket.generate_presigned_post(BUCKET, "uploads/${filename}")
    status, headers, body = helpers.post_form(
        post["url"], post["fields"], "a.csv", b"a,b\n", headers={"Origin": APP}
    )
    assert status == 204, body
    assert headers["Access-Control-Allow-Origin"] == APP
    assert bucket.get_object(Bucket=BUCKET, Key="uploads/a.csv")["Body"].read() == b"a,b\n"

    bucket.delete_bucket_cors(Bucket=BUCKET)
    status, headers, _ = _get(url, {"Origin": APP})
    assert status == 200
    assert "Access-Control-Allow-Origin" not in headers
