"""Random sequences of S3 calls through a real boto3 client, against simsage and against
a plain-dict model of S3: no divergence in content, ETags, listings or errors, and the
store never keeps a byte it no longer needs (no leaked blob, inline row or temp file).

Each state-machine run gets its own SIMSAGE_HOME, removed when the run ends.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import sqlite3
import tempfile
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import simsage
from simsage.config import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, Config

BUCKET = "model-bucket"
MIB = 1024 * 1024
MIN_PART = 5 * MIB
INLINE_MAX = 64 * 1024

# '/' and 'a' are delimiters too; 'é' and '中' sort after ASCII in UTF-8 byte order.
KEY_ALPHABET = ["/", "a", "é", "中", ".", " ", "b"]
keys = st.text(alphabet=KEY_ALPHABET, min_size=1, max_size=5)
prefixes = st.text(alphabet=KEY_ALPHABET, max_size=3)
delimiters = st.sampled_from([None, "/", "/", "a", "é", "中/"])
sizes = st.one_of(
    st.just(0),
    st.integers(1, 2000),
    st.sampled_from([INLINE_MAX - 1, INLINE_MAX, INLINE_MAX + 1]),
    st.integers(66 * 1024, 72 * 1024),
    st.integers(190 * 1024, 210 * 1024),
)
part_sizes = st.one_of(st.integers(0, 3000), st.integers(66 * 1024, 80 * 1024))


def content(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def multipart_etag(parts: list[bytes]) -> str:
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    return f"{hashlib.md5(digests).hexdigest()}-{len(parts)}"


_sessions: list[boto3.Session] = []


def _session() -> boto3.Session:
    """One boto3 session for every run: loading S3's service model takes a second, and a
    session caches it. Each run still gets its own client, bound to its own home."""
    if not _sessions:
        _sessions.append(boto3.Session(region_name=DEFAULT_REGION))
    return _sessions[0]


def error_code(exc: ClientError) -> str:
    return exc.response["Error"]["Code"]


def utf8_order(key: str) -> bytes:
    return key.encode()


class S3Model(RuleBasedStateMachine):
    """simsage's S3 against ``objects`` (key -> (bytes, etag)) and ``uploads``."""

    def __init__(self) -> None:
        super().__init__()
        self.home = Path(tempfile.mkdtemp(prefix="simsage-stateful-"))
        config = Config(
            backend="local", home=self.home, region=DEFAULT_REGION, account_id=DEFAULT_ACCOUNT_ID
        )
        with simsage.local(config) as transport:
            # Clients keep their binding for life: no need to stay activated.
            self.s3 = _session().client("s3")
        self.transport = transport
        self._registry: sqlite3.Connection | None = None
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.uploads: dict[str, tuple[str, dict[int, bytes]]] = {}  # id -> (key, parts)
        self.finished_uploads: list[tuple[str, str]] = []  # (id, key), completed or aborted

    def teardown(self) -> None:
        try:
            if self._registry is not None:
                self._registry.close()
            if self.transport._home is not None:
                self.transport.home.close()
        finally:
            shutil.rmtree(self.home, ignore_errors=True)

    # -- helpers -------------------------------------------------------------------

    def _key(self, data, existing_bias: bool = True) -> str:
        if self.objects and existing_bias and data.draw(st.booleans(), label="existing key"):
            return data.draw(st.sampled_from(sorted(self.objects)), label="key")
        return data.draw(keys, label="key")

    def _expect_error(self, code: str, call, **params) -> None:
        try:
            call(**params)
        except ClientError as exc:
            assert error_code(exc) == code, exc.response["Error"]
        else:
            raise AssertionError(f"expected {code} from {call.__name__}({params})")

    # -- setup ---------------------------------------------------------------------

    @initialize()
    def make_bucket(self) -> None:
        self.s3.create_bucket(Bucket=BUCKET)

    # -- objects -------------------------------------------------------------------

    @rule(data=st.data(), size=sizes, seed=st.integers(0, 2**32))
    def put(self, data, size: int, seed: int) -> None:
        key = self._key(data)
        body = content(seed, size)
        answer = self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        assert answer["ETag"] == f'"{md5(body)}"'
        self.objects[key] = (body, md5(body))

    @rule(data=st.data(), count=st.integers(2, 6), seed=st.integers(0, 2**32))
    def put_many_small(self, data, count: int, seed: int) -> None:
        """Several small objects at once, so listings have something to page through."""
        for i in range(count):
            key = self._key(data, existing_bias=False)
            body = content(seed + i, (seed + i) % 300)
            self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
            self.objects[key] = (body, md5(body))

    @rule(data=st.data())
    def delete(self, data) -> None:
        key = self._key(data)
        answer = self.s3.delete_object(Bucket=BUCKET, Key=key)
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 204
        self.objects.pop(key, None)

    @rule(data=st.data(), count=st.integers(1, 4), quiet=st.booleans())
    def delete_many(self, data, count: int, quiet: bool) -> None:
        chosen = list(dict.fromkeys(self._key(data) for _ in range(count)))
        answer = self.s3.delete_objects(
            Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in chosen], "Quiet": quiet}
        )
        assert "Errors" not in answer
        if quiet:
            assert "Deleted" not in answer
        else:
            assert [d["Key"] for d in answer["Deleted"]] == chosen
        for key in chosen:
            self.objects.pop(key, None)

    @precondition(lambda self: self.objects)
    @rule(data=st.data())
    def copy(self, data) -> None:
        source = data.draw(st.sampled_from(sorted(self.objects)), label="source")
        target = self._key(data)
        body, _ = self.objects[source]
        params = {"Bucket": BUCKET, "Key": target, "CopySource": {"Bucket": BUCKET, "Key": source}}
        if target == source:  # copying onto itself needs a change of metadata
            params["MetadataDirective"] = "REPLACE"
        answer = self.s3.copy_object(**params)
        # A copy is a new single-part object, even from a multipart source.
        assert answer["CopyObjectResult"]["ETag"] == f'"{md5(body)}"'
        self.objects[target] = (body, md5(body))

    @rule(data=st.data())
    def get(self, data) -> None:
        key = self._key(data)
        if key not in self.objects:
            self._expect_error("NoSuchKey", self.s3.get_object, Bucket=BUCKET, Key=key)
            self._expect_error("404", self.s3.head_object, Bucket=BUCKET, Key=key)
            return
        body, etag = self.objects[key]
        answer = self.s3.get_object(Bucket=BUCKET, Key=key)
        assert answer["Body"].read() == body
        assert answer["ContentLength"] == len(body)
        assert answer["ETag"] == f'"{etag}"'
        head = self.s3.head_object(Bucket=BUCKET, Key=key)
        assert (head["ContentLength"], head["ETag"]) == (len(body), f'"{etag}"')

    @precondition(lambda self: self.objects)
    @rule(data=st.data())
    def get_range(self, data) -> None:
        key = data.draw(st.sampled_from(sorted(self.objects)), label="key")
        body, etag = self.objects[key]
        size = len(body)
        form = data.draw(st.sampled_from(["a-b", "a-", "-n", "past-end"]), label="form")
        if form == "past-end" or size == 0:
            start = data.draw(st.integers(size, size + 10), label="start")
            self._expect_error(
                "InvalidRange", self.s3.get_object, Bucket=BUCKET, Key=key, Range=f"bytes={start}-"
            )
            return
        if form == "a-b":
            start = data.draw(st.integers(0, size - 1), label="start")
            end = data.draw(st.integers(start, size + 5), label="end")
            header, expected = f"bytes={start}-{end}", (start, min(end, size - 1))
        elif form == "a-":
            start = data.draw(st.integers(0, size - 1), label="start")
            header, expected = f"bytes={start}-", (start, size - 1)
        else:
            n = data.draw(st.integers(1, size + 5), label="suffix")
            header, expected = f"bytes=-{n}", (max(0, size - n), size - 1)
        answer = self.s3.get_object(Bucket=BUCKET, Key=key, Range=header)
        start, end = expected
        assert answer["Body"].read() == body[start : end + 1]
        assert answer["ContentRange"] == f"bytes {start}-{end}/{size}"
        assert answer["ContentLength"] == end - start + 1
        assert answer["ETag"] == f'"{etag}"'
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 206

    @rule(data=st.data(), delimiter=delimiters)
    def list_all_pages(self, data, delimiter: str | None) -> None:
        """One prefix, listed whole and in pages of 1, 2 and 3, with and without
        ``delimiter``: every page boundary (on a key, on a common prefix) is crossed."""
        if self.objects and data.draw(st.booleans(), label="prefix of a key"):
            key = data.draw(st.sampled_from(sorted(self.objects)), label="key")
            prefix = key[: data.draw(st.integers(0, len(key)), label="cut")]
        else:
            prefix = data.draw(prefixes, label="prefix")
        for each_delimiter in dict.fromkeys([None, delimiter]):
            for max_keys in (None, 1, 2, 3):
                self._check_listing(prefix, each_delimiter, max_keys)

    def _check_listing(self, prefix: str, delimiter: str | None, max_keys: int | None) -> None:
        expected: list[tuple] = []  # in S3 order
        seen_prefixes = set()
        for key in sorted(self.objects, key=utf8_order):
            if not key.startswith(prefix):
                continue
            cut = key.find(delimiter, len(prefix)) if delimiter else -1
            if cut >= 0:
                common = key[: cut + len(delimiter)]
                if common not in seen_prefixes:
                    seen_prefixes.add(common)
                    expected.append(("prefix", common))
                continue
            body, etag = self.objects[key]
            expected.append(("object", key, len(body), f'"{etag}"'))

        got: list[tuple] = []
        params = {"Bucket": BUCKET, "Prefix": prefix}
        if delimiter is not None:
            params["Delimiter"] = delimiter
        if max_keys is not None:
            params["MaxKeys"] = max_keys
        pages = 0
        while True:
            answer = self.s3.list_objects_v2(**params)
            pages += 1
            assert pages <= len(expected) + 2, "paging does not end"
            page = [("object", o["Key"], o["Size"], o["ETag"]) for o in answer.get("Contents", [])]
            page_prefixes = [("prefix", p["Prefix"]) for p in answer.get("CommonPrefixes", [])]
            assert answer["KeyCount"] == len(page) + len(page_prefixes)
            if max_keys is not None:
                assert answer["KeyCount"] <= max_keys
            # objects and prefixes of one page interleave in S3 order
            got.extend(sorted(page + page_prefixes, key=lambda item: utf8_order(item[1])))
            if not answer["IsTruncated"]:
                assert "NextContinuationToken" not in answer
                break
            assert answer["KeyCount"] > 0
            params["ContinuationToken"] = answer["NextContinuationToken"]
        assert got == expected, (prefix, delimiter, max_keys)

    # -- multipart uploads ---------------------------------------------------------

    @rule(data=st.data())
    def create_upload(self, data) -> None:
        key = self._key(data)
        answer = self.s3.create_multipart_upload(Bucket=BUCKET, Key=key)
        self.uploads[answer["UploadId"]] = (key, {})

    @rule(
        data=st.data(),
        two_parts=st.booleans(),
        big_first=st.integers(0, 5),
        redo_first=st.booleans(),
        unused_part=st.booleans(),
        seed=st.integers(0, 2**32),
    )
    def multipart_object(
        self, data, two_parts: bool, big_first: int, redo_first: bool, unused_part: bool, seed: int
    ) -> None:
        """A whole upload in one step: 1-2 listed parts (the first one 5 MiB now and then),
        maybe a part uploaded twice and a part left out of the list."""
        key = self._key(data)
        upload_id = self.s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
        self.uploads[upload_id] = (key, {})
        rng = random.Random(seed)
        plan = []
        if redo_first:
            plan.append((1, data.draw(part_sizes, label="replaced part size")))
        first = MIN_PART if two_parts and big_first == 0 else data.draw(part_sizes, label="size")
        plan.append((1, first))
        if two_parts:
            plan.append((2, data.draw(part_sizes, label="last part size")))
        if unused_part:
            plan.append((3, rng.randrange(100)))
        parts = self.uploads[upload_id][1]
        for number, size in plan:
            body = content(rng.randrange(2**32), size)
            self.s3.upload_part(
                Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=number, Body=body
            )
            parts[number] = body
        listed = [1, 2] if two_parts else [1]
        params = {
            "Bucket": BUCKET,
            "Key": key,
            "UploadId": upload_id,
            "MultipartUpload": {
                "Parts": [{"PartNumber": n, "ETag": f'"{md5(parts[n])}"'} for n in listed]
            },
        }
        if two_parts and first < MIN_PART:
            self._expect_error("EntityTooSmall", self.s3.complete_multipart_upload, **params)
            return  # the upload stays open for the other rules
        answer = self.s3.complete_multipart_upload(**params)
        chosen = [parts[n] for n in listed]
        assert answer["ETag"] == f'"{multipart_etag(chosen)}"'
        self.objects[key] = (b"".join(chosen), multipart_etag(chosen))
        del self.uploads[upload_id]
        self.finished_uploads.append((upload_id, key))

    @precondition(lambda self: self.uploads)
    @rule(
        data=st.data(),
        number=st.integers(1, 2),
        size=part_sizes,
        full_size=st.integers(0, 9),
        seed=st.integers(0, 2**32),
    )
    def upload_part(self, data, number: int, size: int, full_size: int, seed: int) -> None:
        upload_id = data.draw(st.sampled_from(list(self.uploads)), label="upload")
        key, parts = self.uploads[upload_id]
        if number == 1 and full_size == 0:  # now and then, a part big enough to be non-last
            size = MIN_PART
        body = content(seed, size)
        answer = self.s3.upload_part(
            Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=number, Body=body
        )
        assert answer["ETag"] == f'"{md5(body)}"'
        parts[number] = body

    @precondition(lambda self: self.uploads)
    @rule(data=st.data())
    def list_parts(self, data) -> None:
        upload_id = data.draw(st.sampled_from(list(self.uploads)), label="upload")
        key, parts = self.uploads[upload_id]
        answer = self.s3.list_parts(Bucket=BUCKET, Key=key, UploadId=upload_id)
        got = [(p["PartNumber"], p["Size"], p["ETag"]) for p in answer.get("Parts", [])]
        assert got == [(n, len(b), f'"{md5(b)}"') for n, b in sorted(parts.items())]

    @precondition(lambda self: self.uploads)
    @rule(data=st.data())
    def complete_upload(self, data) -> None:
        upload_id = data.draw(st.sampled_from(list(self.uploads)), label="upload")
        key, parts = self.uploads[upload_id]
        numbers = sorted(parts)
        if numbers and data.draw(st.booleans(), label="only some parts"):
            numbers = [n for n in numbers if data.draw(st.booleans(), label=f"use {n}")]
        listed = [{"PartNumber": n, "ETag": f'"{md5(parts[n])}"'} for n in numbers]
        call = self.s3.complete_multipart_upload
        params = {
            "Bucket": BUCKET,
            "Key": key,
            "UploadId": upload_id,
            "MultipartUpload": {"Parts": listed},
        }
        if not numbers:
            self._expect_error("MalformedXML", call, **params)
            return
        if any(len(parts[n]) < MIN_PART for n in numbers[:-1]):
            self._expect_error("EntityTooSmall", call, **params)
            return
        answer = call(**params)
        chosen = [parts[n] for n in numbers]
        etag = multipart_etag(chosen)
        assert answer["ETag"] == f'"{etag}"'
        self.objects[key] = (b"".join(chosen), etag)
        del self.uploads[upload_id]
        self.finished_uploads.append((upload_id, key))

    @precondition(lambda self: self.uploads)
    @rule(data=st.data())
    def abort_upload(self, data) -> None:
        upload_id = data.draw(st.sampled_from(list(self.uploads)), label="upload")
        key, _ = self.uploads.pop(upload_id)
        self.s3.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id)
        self.finished_uploads.append((upload_id, key))

    @precondition(lambda self: self.finished_uploads)
    @rule(data=st.data())
    def use_finished_upload(self, data) -> None:
        upload_id, key = data.draw(st.sampled_from(self.finished_uploads), label="upload")
        self._expect_error(
            "NoSuchUpload",
            self.s3.upload_part,
            Bucket=BUCKET,
            Key=key,
            UploadId=upload_id,
            PartNumber=1,
            Body=b"late",
        )
        self._expect_error(
            "NoSuchUpload",
            self.s3.abort_multipart_upload,
            Bucket=BUCKET,
            Key=key,
            UploadId=upload_id,
        )

    @rule()
    def list_uploads(self) -> None:
        answer = self.s3.list_multipart_uploads(Bucket=BUCKET)
        got = sorted((u["Key"], u["UploadId"]) for u in answer.get("Uploads", []))
        assert got == sorted((key, upload_id) for upload_id, (key, _) in self.uploads.items())

    # -- the store keeps exactly what it needs -------------------------------------

    @invariant()
    def store_holds_no_garbage(self) -> None:
        if self._registry is None:
            if not (self.home / "state.db").exists():
                return
            self._registry = sqlite3.connect(self.home / "state.db")
        conn = self._registry
        referenced = set()
        for (segments,) in conn.execute("SELECT segments FROM s3_objects"):
            referenced.update(blob for blob, _ in json.loads(segments))
        referenced.update(blob for (blob,) in conn.execute("SELECT blob FROM s3_parts"))
        (orphans,) = conn.execute(
            "SELECT COUNT(*) FROM s3_inline WHERE id NOT IN "
            "(SELECT inline_id FROM s3_objects WHERE inline_id IS NOT NULL)"
        ).fetchone()
        (rows,) = conn.execute("SELECT COUNT(*) FROM s3_objects").fetchone()
        blobs_dir = self.home / "blobs"
        on_disk = {p.name for p in blobs_dir.glob("*/*") if p.parent.name != "tmp"}
        assert on_disk == referenced, "blob files and registry disagree"
        assert list((blobs_dir / "tmp").iterdir()) == [], "temp files left behind"
        assert orphans == 0, "inline rows nobody references"
        assert rows == len(self.objects)


def test_s3_matches_a_dict_model(simsage_home, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIMSAGE_CHECK_OUTPUT", "1")  # answers checked against AWS's shapes
    run_state_machine_as_test(
        S3Model,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            database=None,  # no .hypothesis folder in the checkout
            print_blob=True,  # a failure prints the @reproduce_failure line to replay it
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
