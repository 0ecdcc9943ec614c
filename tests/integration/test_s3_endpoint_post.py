"""Presigned POST (browser-based uploads) over real HTTP: boto3's generate_presigned_post,
the form built by hand and sent with urllib."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import pytest
import s3_endpoint_helpers as helpers

endpoint, s3 = helpers.endpoint, helpers.s3  # the fixtures


_post = helpers.post_form


def _code(body: bytes) -> tuple[str, str]:
    root = ElementTree.fromstring(body)
    return root.find("Code").text, root.find("Message").text


@pytest.mark.parametrize("version", [None, "s3v4"])
def test_a_presigned_post_uploads_the_file(endpoint, version):
    """boto3's default presigned POST is SigV2 (``AWSAccessKeyId``, ``signature``); with
    ``signature_version="s3v4"`` it is SigV4 (``x-amz-signature``). Both are accepted."""
    s3 = helpers.client(endpoint.url, **({"signature_version": version} if version else {}))
    s3.create_bucket(Bucket="bkt")
    post = s3.generate_presigned_post("bkt", "uploads/${filename}", ExpiresIn=600)
    assert ("x-amz-signature" in post["fields"]) == (version == "s3v4")
    status, headers, body = _post(post["url"], post["fields"], "report.csv", b"a,b\n1,2\n")
    assert status == 204, body
    got = s3.get_object(Bucket="bkt", Key="uploads/report.csv")
    assert got["Body"].read() == b"a,b\n1,2\n"
    assert headers["ETag"] == got["ETag"]


def test_success_action_status_201_answers_post_response_xml(s3):
    s3.create_bucket(Bucket="bkt")
    post = s3.generate_presigned_post(
        "bkt",
        "k.txt",
        Fields={"success_action_status": "201", "Content-Type": "text/plain"},
        Conditions=[{"success_action_status": "201"}, {"Content-Type": "text/plain"}],
    )
    status, _, body = _post(post["url"], post["fields"])
    assert status == 201, body
    root = ElementTree.fromstring(body)
    assert root.tag == "PostResponse"
    assert (root.find("Bucket").text, root.find("Key").text) == ("bkt", "k.txt")
    assert s3.head_object(Bucket="bkt", Key="k.txt")["ContentType"] == "text/plain"


def test_success_action_redirect(s3):
    s3.create_bucket(Bucket="bkt")
    target = "http://example.invalid/done"
    post = s3.generate_presigned_post(
        "bkt",
        "r.txt",
        Fields={"success_action_redirect": target},
        Conditions=[{"success_action_redirect": target}],
    )
    status, headers, _ = _post(post["url"], post["fields"])
    assert status == 303
    location = urlsplit(headers["Location"])
    assert location.netloc == "example.invalid"
    assert parse_qs(location.query)["key"] == ["r.txt"]


def test_policy_conditions_are_enforced(s3):
    s3.create_bucket(Bucket="bkt")
    post = s3.generate_presigned_post(
        "bkt",
        "in/x.bin",
        Conditions=[["starts-with", "$key", "in/"], ["content-length-range", 1, 10]],
    )
    status, _, body = _post(post["url"], post["fields"], content=b"x" * 11)
    assert (status, _code(body)[0]) == (400, "EntityTooLarge")
    fields = {**post["fields"], "key": "out/x.bin"}
    status, _, body = _post(post["url"], fields, content=b"x")
    assert status == 403 and _code(body)[0] == "AccessDenied"
    assert "Policy Condition failed" in _code(body)[1]
    fields = {**post["fields"], "x-amz-meta-extra": "1"}
    status, _, body = _post(post["url"], fields, content=b"x")
    assert status == 403 and "Extra input fields: x-amz-meta-extra" in _code(body)[1]
    assert s3.list_objects_v2(Bucket="bkt")["KeyCount"] == 0


def test_a_tampered_or_expired_policy_is_refused(s3, monkeypatch):
    s3.create_bucket(Bucket="bkt")
    post = s3.generate_presigned_post("bkt", "k")
    name = "x-amz-signature" if "x-amz-signature" in post["fields"] else "signature"
    fields = {**post["fields"], name: post["fields"][name][::-1]}
    status, _, body = _post(post["url"], fields)
    assert (status, _code(body)[0]) == (403, "SignatureDoesNotMatch")
    expired = s3.generate_presigned_post("bkt", "k", ExpiresIn=-10)
    status, _, body = _post(expired["url"], expired["fields"])
    assert status == 403 and _code(body) == (
        "AccessDenied",
        "Invalid according to Policy: Policy expired.",
    )


@pytest.mark.parametrize("missing", ["policy", "key"])
def test_missing_fields(s3, missing):
    s3.create_bucket(Bucket="bkt")
    post = s3.generate_presigned_post("bkt", "k")
    fields = {k: v for k, v in post["fields"].items() if k != missing}
    status, _, body = _post(post["url"], fields)
    assert status in (400, 403)
    assert _code(body)[0] == ("AccessDenied" if missing == "policy" else "InvalidArgument")
