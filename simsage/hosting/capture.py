"""Data capture: copying sampled endpoint requests and responses to S3.

Layer: data plane (called by the router after each invocation). The records and keys
are SageMaker's:

- key ``<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm>-<ss>-<ms>-<uuid>.jsonl``;
- one JSON line per invocation: ``captureData.endpointInput`` / ``endpointOutput``
  (``observedContentType``, ``mode`` INPUT|OUTPUT, ``data``, ``encoding``),
  ``eventMetadata`` (``eventId``, ``inferenceTime``, ``inferenceId`` when the caller
  gave one) and ``eventVersion`` "0";
- ``encoding`` is ``CSV`` or ``JSON`` when the content type is listed in the
  configuration's CaptureContentTypeHeader, else ``BASE64``.

SageMaker delivers capture files minutes later, several records per file; simsage
writes each sampled invocation at once as its own object, so a test can read it right
after the call. A capture that cannot be written (e.g. the bucket is gone) never fails
the invocation.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import uuid
from datetime import UTC, datetime

from simsage.hosting.endpoint_configs import DataCapture
from simsage.runtime.staging import split_uri
from simsage.s3.backend import S3Backend

log = logging.getLogger("simsage.hosting.capture")


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _encoded(data: bytes, content_type: str | None, capture: DataCapture) -> tuple[str, str]:
    media = _media_type(content_type)
    if media and media in {_media_type(t) for t in capture.csv_content_types or ()}:
        return data.decode("utf-8", "replace"), "CSV"
    if media and media in {_media_type(t) for t in capture.json_content_types or ()}:
        return data.decode("utf-8", "replace"), "JSON"
    return base64.b64encode(data).decode("ascii"), "BASE64"


def capture_record(
    capture: DataCapture,
    request_body: bytes,
    request_type: str | None,
    response_body: bytes,
    response_type: str | None,
    when: datetime,
    inference_id: str | None = None,
) -> dict:
    """One capture line (as a dict) for an invocation, with the modes the config asks."""
    modes = {m.lower() for m in capture.capture_modes}
    data: dict = {}
    if modes & {"input", "inputandoutput"}:
        text, encoding = _encoded(request_body, request_type, capture)
        data["endpointInput"] = {
            "observedContentType": request_type or "",
            "mode": "INPUT",
            "data": text,
            "encoding": encoding,
        }
    if modes & {"output", "inputandoutput"}:
        text, encoding = _encoded(response_body, response_type, capture)
        data["endpointOutput"] = {
            "observedContentType": response_type or "",
            "mode": "OUTPUT",
            "data": text,
            "encoding": encoding,
        }
    metadata = {"eventId": str(uuid.uuid4()), "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
    if inference_id:
        metadata["inferenceId"] = inference_id
    return {"captureData": data, "eventMetadata": metadata, "eventVersion": "0"}


def capture_key(prefix: str, endpoint: str, variant: str, when: datetime) -> str:
    folder = "/".join(p for p in (prefix.strip("/"), endpoint, variant) if p)
    stamp = when.strftime("%Y/%m/%d/%H")
    name = f"{when:%M-%S}-{when.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
    return f"{folder}/{stamp}/{name}"


class CaptureWriter:
    """Samples invocations and writes their capture records to simsage's S3."""

    def __init__(self, home) -> None:
        self.s3 = S3Backend(home)

    def maybe_capture(
        self,
        capture: DataCapture | None,
        endpoint: str,
        variant: str,
        request_body: bytes,
        request_type: str | None,
        response_body: bytes,
        response_type: str | None,
        inference_id: str | None = None,
    ) -> None:
        if capture is None or not capture.enable_capture:
            return
        if random.random() * 100 >= capture.initial_sampling_percentage:
            return
        when = datetime.now(UTC)
        record = capture_record(
            capture, request_body, request_type, response_body, response_type, when, inference_id
        )
        bucket, prefix = split_uri(capture.destination_s3_uri)
        key = capture_key(prefix, endpoint, variant, when)
        body = (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")
        try:
            self.s3.put_object(
                bucket, key, body, {"content_type": "application/jsonlines", "metadata": {}}
            )
        except Exception:  # capture must never fail the invocation
            log.warning("data capture to s3://%s/%s failed", bucket, key, exc_info=True)
