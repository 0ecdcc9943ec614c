"""S3's REST-XML wire format, server side, driven by botocore's service model.

One codec for the HTTP transport of a rest-xml service (S3): :meth:`RestXmlCodec.route`
names the operation a request addresses (see :mod:`simsage.transport.rest_xml_routes`),
:meth:`~RestXmlCodec.parse` turns the request into the params boto3 would have passed
(the service sees the same ``request.params`` as in-process), :meth:`~RestXmlCodec.serialize`
turns the service's result (boto3's parsed output shape) into status, headers and body,
and :meth:`~RestXmlCodec.serialize_error` writes S3's ``<Error>`` document.

Nothing is written per operation: members are placed and typed as the model says, and XML
is read with botocore's own response parser (``RestXMLParser._parse_shape``) and written
with its request serializer (``RestXMLSerializer._serialize``), the two halves of the same
format. S3's wire quirks that the model cannot express are named where they are handled:
the root element names of output documents (:mod:`~simsage.transport.rest_xml_names`),
GetBucketLocation's bare ``<LocationConstraint>``, the S3 namespace on every document,
timestamps with milliseconds.

Listings with ``EncodingType=url``: the service encodes keys (and markers, prefixes) when
the request asks, in-process as over the wire, and the codec writes what it is given.
botocore asks by itself and decodes the answer; a client that does not ask (the AWS C++
SDK behind pyarrow) gets the keys as XML text, except control characters, which XML 1.0
cannot carry: as on S3, those keys need the encoding.

Encodings at the boundary: bucket, key and query values arrive percent-decoded; header
names lower-cased; the request body already de-chunked (aws-chunked is the endpoint's).
"""

from __future__ import annotations

import base64
import calendar
import email.errors
import email.header
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any, BinaryIO
from xml.etree import ElementTree

from botocore.model import OperationModel, ServiceModel, Shape
from botocore.parsers import ResponseParserError, RestXMLParser
from botocore.serialize import TIMESTAMP_PRECISION_MILLISECOND, RestXMLSerializer
from botocore.utils import parse_timestamp
from botocore.validate import ParamValidator

from simsage.errors import AWSError
from simsage.transport.rest_xml_names import S3_NAMESPACE, bare_document, root_name
from simsage.transport.rest_xml_routes import (
    CodecError,
    Router,
    method_not_allowed,
    not_implemented,
)

__all__ = [
    "CodecError",
    "Response",
    "RestXmlCodec",
    "method_not_allowed",
    "not_implemented",
]

XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
XML_CONTENT_TYPE = "application/xml"
# A request document larger than this is refused before it is parsed (S3 caps its XML
# bodies too; CompleteMultipartUpload for 10,000 parts is well under 2 MiB).
MAX_XML_BODY = 8 * 1024 * 1024

_MALFORMED = (
    "The XML you provided was not well-formed or did not validate against our published schema"
)
_STREAMING_TYPES = ("blob", "string")


@dataclass
class Response:
    """What to send back: ``body`` is bytes, or the result's streaming payload (GetObject's
    ``Body``) to be copied to the socket by the endpoint. Header names are as S3 spells
    them; ``Content-Length`` is present whenever the length is known."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | object = b""

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (case-insensitive), or None."""
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


class _Parser(RestXMLParser):
    """botocore's response parser, used here on request documents and header values."""


class _Writer(RestXMLSerializer):
    """botocore's request serializer, used here on response documents and headers.

    S3 writes timestamps in documents as ISO 8601 in UTC with milliseconds
    (``2009-10-12T17:50:30.000Z``): botocore's millisecond precision, after a move to UTC
    (its serializer formats the clock time of whatever zone it is given).
    """

    def __init__(self) -> None:
        super().__init__(timestamp_precision=TIMESTAMP_PRECISION_MILLISECOND)
        self._http_dates: dict[datetime, str] = {}

    def _timestamp_iso8601(self, value: datetime) -> str:
        return super()._timestamp_iso8601(value.astimezone(UTC))

    def header_value(self, shape: Shape, value: Any) -> str:
        """botocore's header conversion, with its answers for the common cases (a str or
        int member, a datetime in the default rfc822 format) computed directly."""
        kind = shape.type_name
        if kind == "timestamp":
            if isinstance(value, datetime) and "timestampFormat" not in shape.serialization:
                # = parse_to_aware_datetime → timegm → _timestamp_rfc822 (naive is UTC);
                # remembered, as the same objects' Last-Modified is asked for again
                text = self._http_dates.get(value)
                if text is None:
                    if len(self._http_dates) >= 4096:
                        self._http_dates.clear()
                    text = formatdate(calendar.timegm(value.utctimetuple()), usegmt=True)
                    self._http_dates[value] = text
                return text
        elif kind in ("string", "integer", "long") and type(value) in (str, int):
            if not shape.serialization.get("jsonvalue"):
                return str(value)
        return self._convert_header_value(shape, value)

    def document(self, shape: Shape, value: Any, name: str) -> bytes:
        pseudo_root = ElementTree.Element("")
        self._serialize(shape, value, pseudo_root, name)
        root = pseudo_root[0]
        # S3 quirk: every document S3 writes carries its namespace, whether or not the
        # model's shape names it (output shapes do not).
        root.set("xmlns", root.get("xmlns") or S3_NAMESPACE)
        return XML_DECLARATION + ElementTree.tostring(root, encoding="utf-8", xml_declaration=False)


def rfc2047_encode(value: str) -> str:
    """``value`` as S3 sends a non-ASCII header value: one RFC 2047 encoded word
    (``=?UTF-8?B?…?=``); ASCII values as they are."""
    if value.isascii():
        return value
    return f"=?UTF-8?B?{base64.b64encode(value.encode()).decode()}?="


def rfc2047_decode(value: str) -> str:
    """A user metadata value as S3 stores it: RFC 2047 encoded words decoded (S3 decodes
    them before storing, and encodes non-ASCII values again on the way out)."""
    if "=?" not in value:
        return value
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (ValueError, LookupError, UnicodeDecodeError, email.errors.HeaderParseError):
        return value


def _query_dict(query: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in query:
        out.setdefault(name, []).append(value)
    return out


def _path(bucket: str | None, key: str | None) -> str:
    if not bucket:
        return "/"
    return f"/{bucket}/{key}" if key else f"/{bucket}"


def _prune(shape: Shape, value: Any) -> Any:
    """``value`` without None members or members the shape does not have (the service's
    results may carry ``ResponseMetadata`` or botocore's synthetic ``ExpiresString``),
    recursively: botocore's serializer expects exactly its own input."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, Mapping):
        return {
            k: _prune(shape.members[k], v)
            for k, v in value.items()
            if v is not None and k in shape.members
        }
    if kind == "list" and isinstance(value, list | tuple):
        return [_prune(shape.member, v) for v in value if v is not None]
    if kind == "map" and isinstance(value, Mapping):
        return {k: _prune(shape.value, v) for k, v in value.items() if v is not None}
    return value


class RestXmlCodec:
    """Route, parse and serialize the rest-xml requests of one service model."""

    def __init__(self, service_model: ServiceModel) -> None:
        self.service_model = service_model
        self.router = Router(service_model)
        self._parser = _Parser()
        self._writer = _Writer()
        self._header_plans: dict[str, list[tuple[str, Shape, str | None]]] = {}
        self._output_plans: dict[str, dict[str, tuple[int, Shape, str | None, str]]] = {}
        self._body_members: dict[str, bool] = {}
        self._query_plans: dict[str, tuple[list[tuple[str, Shape, str]], frozenset[str]]] = {}

    # -- requests -------------------------------------------------------------------------

    def route(
        self,
        method: str,
        bucket: str | None,
        key: str | None,
        query: list[tuple[str, str]],
        headers: Mapping[str, str],
    ) -> OperationModel:
        """The operation a request addresses.

        Args:
            method: the HTTP method, upper case.
            bucket, key: the decoded bucket and key (None when absent), whatever the
                addressing style; an empty key is no key (``/bucket/``).
            query: the decoded query pairs in order (repeated names allowed).
            headers: the request headers with lower-cased names.

        Raises:
            CodecError: MethodNotAllowed (405) when no operation serves this method on
                the resource, NotImplemented (501) when no operation has such a path.
        """
        resource = "OBJECT" if key else ("BUCKET" if bucket else "SERVICE")
        found = self.router.find(
            method.upper(), _path(bucket, key), _query_dict(query), headers, resource
        )
        return found.op

    def parse(
        self,
        op: OperationModel,
        bucket: str | None,
        key: str | None,
        query: list[tuple[str, str]],
        headers: Mapping[str, str],
        body: BinaryIO | None,
    ) -> dict[str, Any]:
        """boto3-style params for a request routed to ``op``.

        A streaming payload (PutObject's and UploadPart's ``Body``) is ``body`` itself,
        unread; an XML payload is read and parsed per its shape. Uri, querystring and
        header members are typed as the model says; ``x-amz-meta-*`` headers become
        ``Metadata`` (names lower-cased, as S3 keeps them).

        Raises:
            CodecError: MalformedXML (400) for a document that is not well-formed or does
                not fit its shape, InvalidArgument (400) for a query value of the wrong
                type, MaxMessageLengthExceeded (400) for an oversized document.
        """
        shape = op.input_shape
        if shape is None:
            return {}
        params: dict[str, Any] = {}
        values = self.router.route_of(op).path_values(_path(bucket, key)) or {}
        params.update(values)
        self._parse_query(shape, _query_dict(query), params)
        if any(k != k.lower() for k in headers):  # callers other than the endpoint
            headers = {k.lower(): v for k, v in headers.items()}
        self._parse_headers(shape, headers, params)
        self._parse_body(shape, body, params)
        return params

    def _scalar(self, member: Shape, text: str, wire: str) -> Any:
        """A querystring value typed as its member (botocore's conversions; booleans are
        ``true``/``false`` in any case, as S3 accepts them)."""
        kind = member.type_name
        try:
            if kind in ("integer", "long"):
                return int(text)
            if kind in ("float", "double"):
                return float(text)
            if kind == "boolean":
                if text.lower() not in ("true", "false"):
                    raise ValueError(text)
                return text.lower() == "true"
            if kind == "timestamp":
                return parse_timestamp(text)
        except (ValueError, TypeError, OverflowError) as exc:
            kind_text = {"boolean": "a boolean", "timestamp": "a timestamp"}.get(
                kind, "an integer or within integer range"
            )
            raise CodecError(
                "InvalidArgument",
                f"Provided {wire} not {kind_text}",
                ArgumentName=wire,
                ArgumentValue=text,
            ) from exc
        return text

    def _parse_query(
        self, shape: Shape, query: Mapping[str, list[str]], params: dict[str, Any]
    ) -> None:
        plan = self._query_plans.get(shape.name)
        if plan is None:
            members = [
                (name, member, member.serialization.get("name", name))
                for name, member in shape.members.items()
                if member.serialization.get("location") == "querystring"
            ]
            named = frozenset(wire for _, _, wire in members)
            plan = self._query_plans[shape.name] = (members, named)
        members, named = plan
        maps = []
        for name, member, wire in members:
            if member.type_name == "map":
                maps.append(name)
            elif wire not in query:
                continue
            elif member.type_name == "list":
                params[name] = [self._scalar(member.member, v, wire) for v in query[wire]]
            else:
                params[name] = self._scalar(member, query[wire][0], wire)
        for name in maps:
            # A querystring map takes every parameter no other member names.
            rest = {k: v[0] for k, v in query.items() if k not in named}
            if rest:
                params[name] = rest

    def _header_members(self, shape: Shape) -> list[tuple[str, Shape, str | None]]:
        """``(name, member, lower-cased wire name)`` of a shape's header members (the wire
        name None for a header map such as ``x-amz-meta-``), computed once per shape."""
        plan = self._header_plans.get(shape.name)
        if plan is None:
            plan = []
            for name, member in shape.members.items():
                location = member.serialization.get("location")
                if location == "headers":
                    plan.append((name, member, None))
                elif location == "header":
                    plan.append((name, member, member.serialization.get("name", name).lower()))
            self._header_plans[shape.name] = plan
        return plan

    def _parse_headers(
        self, shape: Shape, headers: Mapping[str, str], params: dict[str, Any]
    ) -> None:
        """Header members from ``headers`` (names lower-cased, as :meth:`parse` says)."""
        for name, member, wire in self._header_members(shape):
            if wire is None:
                found = self._parser._parse_header_map(member, headers)
                if found:
                    params[name] = {k: rfc2047_decode(v) for k, v in found.items()}
            else:
                if wire not in headers:
                    continue
                try:
                    params[name] = self._parser._parse_shape(member, headers[wire])
                except (ValueError, TypeError, OverflowError) as exc:
                    if member.type_name == "timestamp":
                        # S3 ignores a conditional date it cannot read (as HTTP says) and
                        # keeps an unreadable Expires verbatim, which botocore reads back
                        # as no Expires: either way the member is absent.
                        continue
                    raise CodecError(
                        "InvalidArgument",
                        f"Invalid value for header {wire}",
                        ArgumentName=wire,
                        ArgumentValue=headers[wire],
                    ) from exc

    def _parse_body(self, shape: Shape, body: BinaryIO | None, params: dict[str, Any]) -> None:
        payload = shape.serialization.get("payload")
        if payload is not None:
            member = shape.members[payload]
            if member.type_name == "blob":
                # Like botocore, a blob payload streams (PutObject, UploadPart).
                if body is not None:
                    params[payload] = body
                return
            if member.type_name == "string":
                # A text payload (PutBucketPolicy's Policy) is the body as it is.
                text = self._read_document(body)
                if text:
                    params[payload] = text.decode("utf-8", "replace")
                return
            document = self._read_document(body)
            if document:
                params[payload] = self._parse_document(member, document, payload)
            elif payload in shape.required_members:
                raise CodecError("MissingRequestBodyError", "Request Body is empty")
            return
        has_body_members = self._body_members.get(shape.name)
        if has_body_members is None:
            has_body_members = any(
                "location" not in m.serialization for m in shape.members.values()
            )
            self._body_members[shape.name] = has_body_members
        if has_body_members:
            document = self._read_document(body)
            if document:
                params.update(self._parse_document(shape, document, shape.name))

    @staticmethod
    def _read_document(body: BinaryIO | None) -> bytes:
        if body is None:
            return b""
        data = body.read(MAX_XML_BODY + 1)
        if len(data) > MAX_XML_BODY:
            raise CodecError("MaxMessageLengthExceeded", "Your request was too big.")
        return data

    def _parse_document(self, shape: Shape, document: bytes, name: str) -> Any:
        expected = shape.serialization.get("name", name)
        try:
            root = self._parser._parse_xml_string_to_dom(document)
            if self._parser._node_tag(root) != expected:
                raise ValueError(f"root element {root.tag}, expected {expected}")
            value = self._parser._parse_shape(shape, root)
        except (ResponseParserError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise CodecError("MalformedXML", _MALFORMED) from exc
        # A document missing a required element (a Part without PartNumber, a Tag without
        # Value) does not "validate against the published schema" either.
        if ParamValidator().validate(value, shape).has_errors():
            raise CodecError("MalformedXML", _MALFORMED)
        return value

    # -- responses ------------------------------------------------------------------------

    def serialize(
        self, op: OperationModel, result: Mapping[str, Any], status: int | None = None
    ) -> Response:
        """The HTTP answer for a service result.

        Args:
            op: the operation that produced ``result``.
            result: boto3's parsed output shape as the service returns it.
            status: overrides the model's ``http.responseCode`` (default 200), e.g. 206
                for a ranged GetObject.
        """
        status = status or op.http.get("responseCode", 200)
        shape = op.output_shape
        if shape is None:
            return Response(status, [("Content-Length", "0")], b"")
        placed: list[tuple[int, str, str]] = []  # (member position, name, value)
        body_members: dict[str, Any] = {}
        payload = shape.serialization.get("payload")
        plan = self._output_members(shape)
        for name, value in result.items():  # the result's members only, not all ~50
            entry = plan.get(name)
            if entry is None or value is None:
                continue
            position, member, location, wire = entry
            if location == "header":
                if member.type_name == "list" and not value:
                    continue
                placed.append((position, wire, self._writer.header_value(member, value)))
            elif location == "headers":
                placed.extend((position, wire + k, str(v)) for k, v in value.items())
            elif location == "statusCode":
                status = int(value)
            elif name != payload:
                body_members[name] = value
        if len(body_members) > 1:  # documents keep the shape's member order
            body_members = {k: body_members[k] for k in shape.members if k in body_members}
        placed.sort(key=lambda h: h[0])  # in the shape's order, as before (stable)
        # S3 quirk: header values that are not US-ASCII go out RFC 2047-encoded (S3 does
        # so for user metadata; a value stored in-process is the only way to get one in
        # any other header, which HTTP/1.1 could not carry raw either).
        headers = [(k, rfc2047_encode(v)) for _, k, v in placed]
        body: bytes | object = b""
        document = True
        if payload is not None:
            member = shape.members[payload]
            value = result.get(payload)
            if member.type_name in _STREAMING_TYPES:
                document = False
                body = value.encode() if isinstance(value, str) else (value or b"")
            elif value is not None:
                name = member.serialization.get("name", payload)
                body = self._writer.document(member, _prune(member, value), name)
        elif bare_document(op.name):
            body = self._bare(shape, body_members)
        elif body_members:
            body = self._writer.document(shape, _prune(shape, body_members), root_name(op))
        if document and body:
            headers.append(("Content-Type", XML_CONTENT_TYPE))
        if isinstance(body, bytes) and not any(k.lower() == "content-length" for k, _ in headers):
            headers.append(("Content-Length", str(len(body))))
        return Response(status, headers, body)

    def _output_members(self, shape: Shape) -> dict[str, tuple[int, Shape, str | None, str]]:
        """name → ``(position, member, location, wire name)`` of an output shape's
        members, computed once."""
        plan = self._output_plans.get(shape.name)
        if plan is None:
            plan = {
                name: (
                    position,
                    member,
                    member.serialization.get("location"),
                    member.serialization.get("name", name),
                )
                for position, (name, member) in enumerate(shape.members.items())
            }
            self._output_plans[shape.name] = plan
        return plan

    def _bare(self, shape: Shape, members: dict[str, Any]) -> bytes:
        # S3 quirk: GetBucketLocation's document is its one member's element with the value
        # as text (empty for us-east-1), which botocore reads back with a handler
        # (botocore.handlers.parse_get_bucket_location) because the model cannot say so.
        ((name, member),) = shape.members.items()
        root = ElementTree.Element(member.serialization.get("name", name), xmlns=S3_NAMESPACE)
        if members.get(name):
            root.text = str(members[name])
        return XML_DECLARATION + ElementTree.tostring(root, encoding="utf-8", xml_declaration=False)

    def serialize_exception(self, err: AWSError, request_id: str, head: bool = False) -> Response:
        """:meth:`serialize_error` for a service's :class:`~simsage.errors.AWSError`
        (S3 names a server-side fault ``InternalError``, not ``InternalFailure``). The
        headers an S3 error carries (``x-amz-delete-marker``, ``x-amz-version-id`` on a
        read of a key hidden by a delete marker) are sent with it, HEAD included."""
        code = "InternalError" if err.code == "InternalFailure" else err.code
        answer = self.serialize_error(
            code, err.message, err.status, err.error_fields, request_id, head=head
        )
        extra = getattr(err, "headers", None) or {}
        answer.headers[:0] = [(name, str(value)) for name, value in extra.items()]
        return answer

    def serialize_error(
        self,
        code: str,
        message: str,
        status: int,
        fields: Mapping[str, Any] | None,
        request_id: str,
        head: bool = False,
    ) -> Response:
        """S3's error answer: ``<Error><Code/><Message/>…fields…<RequestId/><HostId/>``.

        A HEAD answer has no body (botocore then reads the code from the status alone,
        as it does against S3). ``x-amz-request-id`` and ``x-amz-id-2`` carry the ids.
        """
        host_id = base64.b64encode(hashlib.sha256(request_id.encode()).digest()).decode()
        headers = [("x-amz-request-id", request_id), ("x-amz-id-2", host_id)]
        if head:
            return Response(status, [*headers, ("Content-Length", "0")], b"")
        root = ElementTree.Element("Error")
        items = [("Code", code), ("Message", message), *(fields or {}).items()]
        items += [("RequestId", request_id), ("HostId", host_id)]
        for name, value in items:
            if value is None:
                continue
            if isinstance(value, datetime):
                value = self._writer._timestamp_iso8601(value)
            ElementTree.SubElement(root, name).text = str(value)
        body = XML_DECLARATION + ElementTree.tostring(root, encoding="utf-8", xml_declaration=False)
        headers += [("Content-Type", XML_CONTENT_TYPE), ("Content-Length", str(len(body)))]
        return Response(status, headers, body)
