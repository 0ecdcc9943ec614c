"""Browser-based uploads (``POST /bucket`` with ``multipart/form-data``): what boto3's
``generate_presigned_post`` and HTML upload forms send.

Layer: transport (HTTP side), called by :class:`~simsage.transport.s3_endpoint.S3Endpoint`.
The form is parsed as it streams by python-multipart (a push parser, adapted here to
the pull reads of the store): the fields before the ``file`` part are read (S3 requires
``file`` to be the last field and ignores what follows), the policy's signature
(``x-amz-signature`` over the base64 ``policy``: :func:`sigv4.verify_post_policy`), its
``expiration`` and every condition are checked (``bucket``, ``key`` with ``eq`` /
``starts-with``, ``content-length-range``, any field), every field must be named by a
condition (S3's "Extra input fields"), ``${filename}`` in the key becomes the file's
name, then the file part streams into PutObject: the fields that are headers of
PutObject (``Content-Type``, ``x-amz-meta-*``, ``Cache-Control`` …) are parsed by the
codec like the headers of a PUT. The answer follows ``success_action_redirect`` (303 to
it with bucket, key and etag) or ``success_action_status`` (204 by default; 200; 201 with
S3's ``PostResponse`` XML).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import deque
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit
from xml.etree import ElementTree

from python_multipart.multipart import MultipartParser, parse_options_header

from simsage.errors import AWSError
from simsage.transport import sigv4
from simsage.transport.s3_endpoint_bodies import PIECE

# Fields no policy condition has to name (S3's POST documentation).
_EXEMPT = {"policy", "x-amz-signature", "file", "awsaccesskeyid", "signature"}
# Fields that are not PutObject headers.
_NOT_HEADERS = _EXEMPT | {
    "key",
    "bucket",
    "acl",
    "success_action_status",
    "success_action_redirect",
    "redirect",
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-date",
    "x-amz-security-token",
}


def _denied(why: str) -> AWSError:
    return sigv4.auth_error("AccessDenied", f"Invalid according to Policy: {why}")


def _invalid(message: str, name: str, value: str = "") -> AWSError:
    return sigv4.auth_error(
        "InvalidArgument", message, status=400, ArgumentName=name, ArgumentValue=value
    )


class _Form:
    """The fields of a multipart form up to its ``file`` part, then that part's bytes."""

    def __init__(self, source, boundary: bytes) -> None:
        self._source = source
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.file_started = False
        self.file_done = False
        self.ended = False
        self._pending: deque[bytes] = deque()
        self._in_file = False
        self._headers: dict[str, str] = {}
        self._field = self._value = b""
        self._name = ""
        self._data = bytearray()
        self._parser = MultipartParser(
            boundary,
            callbacks={
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
            max_header_count=16,
            max_header_size=16 * 1024,
        )

    # python-multipart's callbacks
    def _part_begin(self) -> None:
        self._headers, self._data = {}, bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.decode("latin-1").lower()] = self._value.decode(
            "utf-8", "replace"
        )
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get("content-disposition", ""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        if self._name.lower() == "file" and not self.file_started:
            self.file_started = self._in_file = True
            self.filename = options.get(b"filename", b"").decode("utf-8", "replace")
            self.file_content_type = self._headers.get("content-type")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._pending.append(bytes(data[start:end]))
        elif not self.file_started:
            self._data += data[start:end]
            if len(self._data) > 1024 * 1024:
                raise _invalid("Your form field is too large.", self._name)

    def _part_end(self) -> None:
        if self._in_file:
            self._in_file, self.file_done = False, True
        elif not self.file_started:
            self.fields[self._name.lower()] = self._data.decode("utf-8", "replace")

    def _end(self) -> None:
        self.ended = True

    def _feed(self) -> bool:
        data = self._source.read(PIECE)
        if not data:
            self.ended = True
            return False
        try:
            self._parser.write(data)
        except AWSError:
            raise
        except Exception as exc:  # python-multipart's MultipartParseError
            raise sigv4.auth_error(
                "MalformedPOSTRequest",
                "The body of your POST request is not well-formed multipart/form-data.",
                status=400,
            ) from exc
        return True

    def read_fields(self) -> None:
        while not self.file_started and not self.ended:
            self._feed()

    def read(self, size: int = -1) -> bytes:
        while not self._pending and not self.file_done and not self.ended:
            self._feed()
        if not self._pending:
            return b""
        chunk = self._pending.popleft()
        if 0 <= size < len(chunk):
            chunk, rest = chunk[:size], chunk[size:]
            self._pending.appendleft(rest)
        return chunk


class _Counted:
    """The file part, counted against the policy's content-length-range."""

    def __init__(self, form: _Form, low: int | None, high: int | None) -> None:
        self._form, self._low, self._high = form, low, high
        self.size = 0
        self.done = False

    def read(self, size: int = -1) -> bytes:
        data = self._form.read(size)
        self.size += len(data)
        if self._high is not None and self.size > self._high:
            raise sigv4.auth_error(
                "EntityTooLarge",
                "Your proposed upload exceeds the maximum allowed size",
                status=400,
                ProposedSize=str(self.size),
                MaxSizeAllowed=str(self._high),
            )
        if not data:
            self.done = True
            if self._low is not None and self.size < self._low:
                raise sigv4.auth_error(
                    "EntityTooSmall",
                    "Your proposed upload is smaller than the minimum allowed size",
                    status=400,
                    ProposedSize=str(self.size),
                    MinSizeAllowed=str(self._low),
                )
        return data


def _policy(fields: dict[str, str]) -> dict[str, Any]:
    try:
        policy = json.loads(base64.b64decode(fields["policy"], validate=True))
    except (binascii.Error, ValueError):
        raise _invalid("Invalid Policy: Invalid JSON.", "policy") from None
    if not isinstance(policy, dict) or not isinstance(policy.get("conditions", []), list):
        raise _invalid("Invalid Policy: Invalid JSON.", "policy")
    return policy


def _check_expiration(policy: dict[str, Any], now: datetime) -> None:
    text = policy.get("expiration")
    if not isinstance(text, str):
        raise _invalid("Invalid Policy: Policy missing expiration.", "policy")
    try:
        expires = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _invalid("Invalid Policy: Invalid 'expiration' value.", "policy") from None
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    if now > expires:
        raise _denied("Policy expired.")


def _check_conditions(
    policy: dict[str, Any], values: dict[str, str]
) -> tuple[set[str], int | None, int | None]:
    """Check every condition against the form's ``values`` (with ``bucket``); returns the
    fields the conditions name and the content-length range."""
    named: set[str] = set()
    low = high = None
    for condition in policy.get("conditions", []):
        if isinstance(condition, dict):
            for name, expected in condition.items():
                name = name.lower()
                named.add(name)
                if values.get(name) != expected:
                    raise _denied(
                        f'Policy Condition failed: ["eq", "${name}", {json.dumps(expected)}]'
                    )
            continue
        if not isinstance(condition, list) or len(condition) != 3:
            raise _invalid("Invalid Policy: Invalid Condition.", "policy")
        operator, target, expected = condition
        operator = str(operator).lower()
        if operator == "content-length-range":
            low, high = int(target), int(expected)
            continue
        name = str(target).lstrip("$").lower()
        named.add(name)
        value = values.get(name, "")
        if operator == "eq":
            ok = value == expected
        elif operator == "starts-with":
            ok = value.startswith(str(expected))
        else:
            raise _invalid(f"Invalid Policy: Invalid Condition operator: {operator}", "policy")
        if not ok:
            raise _denied(f"Policy Condition failed: {json.dumps(condition)}")
    return named, low, high


def answer_post(server, exchange, bucket: str, source, request_id: str):
    """Answer one browser-based upload (see the module docstring)."""
    if source is None:
        raise sigv4.auth_error(
            "MissingContentLength", "You must provide the Content-Length HTTP header.", status=411
        )
    _, options = parse_options_header(exchange.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if not boundary:
        raise sigv4.auth_error(
            "MalformedPOSTRequest",
            "The body of your POST request is not well-formed multipart/form-data.",
            status=400,
        )
    form = _Form(source, boundary)
    form.read_fields()
    fields = form.fields
    verified = sigv4.verify_post_policy(fields)
    if not form.file_started:
        raise _invalid("POST requires exactly one file upload per request.", "file", "0")
    key = fields.get("key")
    if not key:
        raise _invalid(
            "Bucket POST must contain a field named 'key'.  If it is specified, please check "
            "the order of the fields.",
            "key",
        )
    key = key.replace("${filename}", form.filename or "")
    policy = _policy(fields)
    _check_expiration(policy, datetime.now(UTC))
    values = {**fields, "bucket": bucket, "key": fields["key"]}
    named, low, high = _check_conditions(policy, values)
    extra = sorted(
        name
        for name in fields
        if name not in named and name not in _EXEMPT and not name.startswith("x-ignore-")
    )
    if extra:
        raise _denied(f"Extra input fields: {', '.join(extra)}")
    headers = {
        name: value
        for name, value in fields.items()
        if name not in _NOT_HEADERS and not name.startswith("x-ignore-")
    }
    if "content-type" not in headers and form.file_content_type:
        headers["content-type"] = form.file_content_type
    headers.pop("x-amz-copy-source", None)
    body = _Counted(form, low, high)
    response = server.call("PUT", bucket, key, [], headers, body, verified.region)
    if response.status >= 300:
        return response
    etag = next((v for n, v in response.headers if n.lower() == "etag"), "")
    return _success(exchange, fields, bucket, key, etag, response)


def _success(exchange, fields, bucket: str, key: str, etag: str, response):
    host = exchange.headers.get("host", "127.0.0.1")
    location = f"http://{host}/{quote(bucket)}/{quote(key)}"
    redirect = fields.get("success_action_redirect") or fields.get("redirect")
    if redirect:
        parts = urlsplit(redirect)
        query = urlencode({"bucket": bucket, "key": key, "etag": etag})
        target = urlunsplit(
            parts._replace(query=f"{parts.query}&{query}" if parts.query else query)
        )
        response.status, response.body = 303, b""
        response.headers = [("Location", target), ("ETag", etag)]
        return response
    status = fields.get("success_action_status", "204")
    response.headers = [("ETag", etag), ("Location", location)] + [
        (n, v)
        for n, v in response.headers
        if n.lower() not in ("etag", "location", "content-length")
    ]
    if status == "201":
        root = ElementTree.Element("PostResponse")
        for name, value in (
            ("Location", location),
            ("Bucket", bucket),
            ("Key", key),
            ("ETag", etag),
        ):
            ElementTree.SubElement(root, name).text = value
        response.status = 201
        response.body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root)
        response.headers.append(("Content-Type", "application/xml"))
    else:
        response.status = 200 if status == "200" else 204
        response.body = b""
    return response
