"""Wire-level plumbing for the backend-switch contract test.

- :func:`canonical_local` / :func:`canonical_wire` reduce a request — as simsage
  received it (botocore's serialized request dict) or as it reached the wire on the
  ``aws`` backend (the prepared HTTP request at ``before-send``) — to what AWS would
  act on: operation, method, path (S3's virtual-host bucket folded into the path),
  query, the modeled headers and the body (JSON decoded, form fields parsed, streams
  and blobs as their MD5).
- :func:`to_wire` turns a parsed answer simsage gave back into the HTTP response AWS
  would have sent (status, headers, body) for the protocols the pipeline uses, so the
  ``aws`` run can be answered from the recording of the ``local`` run.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit
from xml.sax.saxutils import escape

from botocore.model import OperationModel

from simsage.transport.handler import http_date


@dataclass(frozen=True)
class CanonicalRequest:
    operation: str
    method: str
    path: str
    query: tuple
    headers: tuple
    body: Any

    def __str__(self) -> str:
        return (
            f"{self.operation} {self.method} {self.path} query={self.query} "
            f"headers={self.headers} body={self.body}"
        )


def _modeled_headers(model: OperationModel, headers) -> tuple:
    wanted = {"x-amz-target"}
    shape = model.input_shape
    if shape is not None:
        for member in shape.members.values():
            if member.serialization.get("location") == "header":
                wanted.add(member.serialization["name"].lower())
    lowered = {_str(k).lower(): _str(v) for k, v in headers.items()}
    # aws-chunked is wire framing botocore adds after serializing (for the checksum
    # trailer), not part of the request simsage or AWS acts on.
    encoding = [e for e in lowered.get("content-encoding", "").split(",") if e.strip()]
    encoding = [e for e in encoding if e.strip() != "aws-chunked"]
    if encoding:
        lowered["content-encoding"] = ",".join(encoding)
    else:
        lowered.pop("content-encoding", None)
    return tuple(sorted((k, v) for k, v in lowered.items() if k in wanted))


def _str(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _read_stream(body) -> bytes:
    position = body.tell() if hasattr(body, "tell") else None
    data = body.read()
    if position is not None and hasattr(body, "seek"):
        body.seek(position)
    return data if isinstance(data, bytes) else data.encode("utf-8")


def _aws_chunked(data: bytes) -> bytes:
    """The payload of an ``aws-chunked`` body (chunks, then trailing checksums)."""
    out, stream = [], io.BytesIO(data)
    while True:
        size = int(stream.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            return b"".join(out)
        out.append(stream.read(size))
        stream.readline()


def _body(model: OperationModel, body: Any, content_encoding: str = "") -> Any:
    protocol = model.metadata["protocol"]
    if body is None:
        return None
    if hasattr(body, "read"):
        body = _read_stream(body)
    if "aws-chunked" in content_encoding:
        body = _aws_chunked(body)
    if protocol == "query":
        pairs = body.items() if isinstance(body, dict) else parse_qsl(_text(body))
        return tuple(sorted((str(k), str(v)) for k, v in pairs))
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not body:
        return None
    if protocol == "json" or (protocol == "rest-json" and not _has_payload(model)):
        return json.loads(body)
    return "md5:" + hashlib.md5(body).hexdigest()


def _text(body: Any) -> str:
    return body.decode("utf-8") if isinstance(body, bytes) else str(body)


def _has_payload(model: OperationModel) -> bool:
    shape = model.input_shape
    return shape is not None and "payload" in shape.serialization


def _query(query: Any) -> tuple:
    if isinstance(query, dict):
        pairs = []
        for key, value in query.items():
            for item in value if isinstance(value, list) else [value]:
                pairs.append((str(key), str(item)))
        return tuple(sorted(pairs))
    return tuple(sorted(parse_qsl(query or "", keep_blank_values=True)))


def canonical_local(model: OperationModel, request_dict: dict[str, Any]) -> CanonicalRequest:
    """What simsage received (botocore's serialized request dict at before-call)."""
    headers = request_dict["headers"]
    url = urlsplit(request_dict.get("url") or request_dict["url_path"])
    path = unquote(request_dict["url_path"].split("?")[0])
    if model.service_model.service_name == "s3":
        # botocore moves S3's bucket from the path to the host when it resolves the
        # endpoint, which simsage skips: take it from the call's parameters.
        bucket = request_dict["context"].get("simsage.params", {}).get("Bucket")
        if bucket and not path.startswith(f"/{bucket}"):
            path = f"/{bucket}{path if path != '/' else ''}"
    return CanonicalRequest(
        model.name,
        request_dict["method"],
        path,
        _query(request_dict.get("query_string"))
        + _query(url.query if "?" in request_dict["url_path"] else ""),
        _modeled_headers(model, headers),
        _body(model, request_dict.get("body"), str(headers.get("Content-Encoding", ""))),
    )


def canonical_wire(model: OperationModel, request) -> CanonicalRequest:
    """What reached the wire (botocore's AWSPreparedRequest at before-send)."""
    url = urlsplit(request.url)
    return CanonicalRequest(
        model.name,
        request.method,
        _path(model, url.netloc, unquote(url.path)),
        _query(url.query),
        _modeled_headers(model, request.headers),
        _body(model, request.body, str(request.headers.get("Content-Encoding", ""))),
    )


def _path(model: OperationModel, host: str, path: str) -> str:
    if model.service_model.service_name == "s3" and ".s3." in f".{host}":
        bucket = host.split(".s3", 1)[0]
        if bucket and not host.startswith("s3."):
            return f"/{bucket}{path if path != '/' else ''}"
    return path or "/"


# -- answers ------------------------------------------------------------------------------
def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value


def _header_value(value: Any) -> str:
    if isinstance(value, datetime):
        return http_date(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_wire(model: OperationModel, parsed: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """The HTTP response AWS would have sent for ``parsed`` (simsage's answer)."""
    meta = parsed.get("ResponseMetadata", {})
    status = meta.get("HTTPStatusCode", 200)
    protocol = model.metadata["protocol"]
    headers = {"x-amzn-RequestId": meta.get("RequestId", "0")}
    if "Error" in parsed:
        return _error(model, status, parsed, headers)
    output = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
    if protocol == "json":
        headers["Content-Type"] = "application/x-amz-json-1.1"
        return status, headers, json.dumps(_json_value(output)).encode()
    if protocol == "query":
        members = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in output.items())
        name = model.name
        body = (
            f'<{name}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            f"<{name}Result>{members}</{name}Result>"
            f"<ResponseMetadata><RequestId>0</RequestId></ResponseMetadata></{name}Response>"
        )
        return status, {**headers, "Content-Type": "text/xml"}, body.encode()
    # rest-json / rest-xml: header members, then the payload (or a JSON body).
    shape = model.output_shape
    body = b""
    rest: dict[str, Any] = {}
    payload = shape.serialization.get("payload") if shape is not None else None
    for name, value in output.items():
        member = shape.members[name]
        location = member.serialization.get("location")
        if location == "header":
            headers[member.serialization["name"]] = _header_value(value)
        elif name == payload:
            body = value.read() if hasattr(value, "read") else value
        else:
            rest[name] = value
    if rest:
        if protocol != "rest-json":
            raise NotImplementedError(f"no XML body serializer for {model.name}: {sorted(rest)}")
        body = json.dumps(_json_value(rest)).encode()
    return status, headers, body


def _error(model: OperationModel, status: int, parsed: dict, headers: dict) -> tuple:
    error = parsed["Error"]
    protocol = model.metadata["protocol"]
    modeled = {k: v for k, v in parsed.items() if k not in ("Error", "ResponseMetadata")}
    if model.http.get("method") == "HEAD":
        return status, headers, b""
    if protocol in ("json", "rest-json"):
        headers["x-amzn-ErrorType"] = error["Code"]
        body = {"__type": error["Code"], "message": error["Message"], **_json_value(modeled)}
        return status, headers, json.dumps(body).encode()
    body = (
        f"<Error><Code>{escape(error['Code'])}</Code>"
        f"<Message>{escape(error['Message'])}</Message></Error>"
    )
    return status, headers, body.encode()
