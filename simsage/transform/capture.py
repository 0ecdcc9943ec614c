"""Data capture for batch transform (CreateTransformJob's DataCaptureConfig).

Layer: data plane, in the transform runner. What SageMaker documents (DG
model-monitor-data-capture-batch, and its Model Monitor example notebooks):

- batch transform capture does not copy the data, it writes **manifest files** that
  point at it: ``<DestinationS3Uri>/input/yyyy/mm/dd/hh/<uuid>.json`` lists the job's
  input objects, ``<DestinationS3Uri>/output/yyyy/mm/dd/hh/<uuid>.json`` its ``.out``
  objects, each a manifest as TransformInput's ManifestFile takes it:
  ``[{"prefix": "s3://bucket/prefix/"}, "relative/key", …]`` (the input prefix is the
  job's S3Uri as given, so a single-object input lists ``""``; the output prefix is
  S3OutputPath with a trailing ``/``). The hour is the job's start, in UTC;
- with ``GenerateInferenceId``, every output record carries an inference id (a UUID)
  and the inference time (the job's start, ``yyyy-mm-ddThh:mm:ssZ``): two more columns
  at the end of a CSV record, ``SageMakerInferenceId`` and ``SageMakerInferenceTime``
  keys at the front of a JSON object (JSON that is not an object, and other content
  types, are left as they are);
- KmsKeyId is recorded and echoed (simsage's S3 does not encrypt).

The manifests are written when the job has transformed its objects (the output
manifest lists the objects that succeeded); a job that is stopped writes none.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from simsage.runtime.staging import S3Object, split_uri
from simsage.s3 import errors as s3_errors
from simsage.s3.backend import S3Backend

ID_KEY = "SageMakerInferenceId"
TIME_KEY = "SageMakerInferenceTime"


def _media(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


class BatchCapture:
    """One transform job's data capture (does nothing without a DataCaptureConfig)."""

    def __init__(self, s3: S3Backend, spec: dict[str, Any]) -> None:
        self.s3 = s3
        self.spec = spec
        self.config: dict[str, Any] | None = spec.get("DataCaptureConfig")
        self.generate_ids = bool(self.config and self.config.get("GenerateInferenceId"))
        self.started = datetime.now(UTC)
        self._outputs: list[str] = []
        self._lock = threading.Lock()

    def begin(self, started: float) -> None:
        """The job started transforming at ``started`` (epoch seconds)."""
        self.started = datetime.fromtimestamp(started, UTC)

    # -- GenerateInferenceId ----------------------------------------------------------
    def tag(self, body: bytes, content_type: str | None) -> bytes:
        """``body`` (one or more output records) with the inference id and time added to
        each record, when GenerateInferenceId asks for them."""
        if not self.generate_ids or not body:
            return body
        media = _media(content_type)
        stamp = self.started.strftime("%Y-%m-%dT%H:%M:%SZ")
        if media == "text/csv":
            return b"".join(self._csv_line(line, stamp) for line in body.splitlines(keepends=True))
        if "json" in media:
            return self._json(body, stamp)
        return body

    @staticmethod
    def _csv_line(line: bytes, stamp: str) -> bytes:
        content = line.rstrip(b"\r\n")
        if not content.strip():
            return line
        ending = line[len(content) :]
        return content + f",{uuid.uuid4()},{stamp}".encode() + ending

    def _json(self, body: bytes, stamp: str) -> bytes:
        lines = body.splitlines(keepends=True)
        try:  # JSON Lines: one record per line
            docs = [json.loads(line) if line.strip() else None for line in lines]
        except ValueError:
            docs = None
        if docs is not None and len(lines) > 1:
            return b"".join(
                line if doc is None else self._json_record(doc, line, stamp)
                for line, doc in zip(lines, docs, strict=True)
            )
        try:
            doc = json.loads(body)
        except ValueError:
            return body
        return self._json_record(doc, body, stamp)

    @staticmethod
    def _json_record(doc: Any, raw: bytes, stamp: str) -> bytes:
        if not isinstance(doc, dict):
            return raw
        tagged = {ID_KEY: str(uuid.uuid4()), TIME_KEY: stamp, **doc}
        ending = raw[len(raw.rstrip(b"\r\n")) :]
        return json.dumps(tagged, separators=(",", ":")).encode() + ending

    # -- the manifests ------------------------------------------------------------------
    def output_written(self, relative: str) -> None:
        """``<S3OutputPath>/<relative>`` was stored."""
        with self._lock:
            self._outputs.append(relative)

    def write(self, inputs: list[S3Object]) -> str | None:
        """Write the input and output manifests; returns why they could not be written
        (the job's FailureReason), or None."""
        if self.config is None or not inputs:
            return None
        source = self.spec["TransformInput"]["DataSource"]["S3DataSource"]
        if source["S3DataType"] == "ManifestFile":
            first = inputs[0]
            prefix = f"s3://{first.bucket}/{first.key[: len(first.key) - len(first.relative)]}"
            entries = [obj.relative for obj in inputs]
        else:
            prefix = source["S3Uri"]
            prefix_key = split_uri(prefix)[1]
            entries = [obj.key[len(prefix_key) :] for obj in inputs]
        out_bucket, out_prefix = split_uri(self.spec["TransformOutput"]["S3OutputPath"])
        out_uri = f"s3://{out_bucket}/" + (
            f"{out_prefix.strip('/')}/" if out_prefix.strip("/") else ""
        )
        with self._lock:
            outputs = sorted(self._outputs)
        manifests = [("input", [{"prefix": prefix}, *entries])]
        if outputs:
            manifests.append(("output", [{"prefix": out_uri}, *outputs]))
        bucket, base = split_uri(self.config["DestinationS3Uri"])
        hour = self.started.strftime("%Y/%m/%d/%H")
        for kind, manifest in manifests:
            key = "/".join(p for p in (base.strip("/"), kind, hour, f"{uuid.uuid4()}.json") if p)
            body = json.dumps(manifest).encode("utf-8")
            try:
                self.s3.put_object(
                    bucket, key, body, {"content_type": "application/json", "metadata": {}}
                )
            except s3_errors.S3Error as exc:
                return (
                    f"ClientError: Could not write the data capture manifest to s3://{bucket}/{key} "
                    f"(DataCaptureConfig.DestinationS3Uri): {exc}"
                )
        return None
