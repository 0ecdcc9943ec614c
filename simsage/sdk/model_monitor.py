"""``DataCaptureConfig``: what an endpoint copies of its traffic to S3 (official names)."""

from __future__ import annotations

from typing import Any

_MODES = {"REQUEST": "Input", "RESPONSE": "Output"}


class DataCaptureConfig:
    """Capture a percentage of requests and/or responses to ``destination_s3_uri``.

    Parameters follow the official SDK: ``capture_options`` is a list of ``REQUEST``
    and/or ``RESPONSE`` (both by default); CSV and JSON content types are written as
    text, others base64.
    """

    def __init__(
        self,
        enable_capture: bool,
        sampling_percentage: int = 20,
        destination_s3_uri: str | None = None,
        kms_key_id: str | None = None,
        capture_options: list[str] | None = None,
        csv_content_types: list[str] | None = None,
        json_content_types: list[str] | None = None,
    ) -> None:
        self.enable_capture = enable_capture
        self.sampling_percentage = sampling_percentage
        self.destination_s3_uri = destination_s3_uri
        self.kms_key_id = kms_key_id
        self.capture_options = capture_options or ["REQUEST", "RESPONSE"]
        self.csv_content_types = csv_content_types or ["text/csv"]
        self.json_content_types = json_content_types or ["application/json"]

    def to_request(self, default_bucket: str) -> dict[str, Any]:
        """The DataCaptureConfig of CreateEndpointConfig."""
        destination = self.destination_s3_uri or (
            f"s3://{default_bucket}/model-monitor/data-capture"
        )
        out: dict[str, Any] = {
            "EnableCapture": self.enable_capture,
            "InitialSamplingPercentage": self.sampling_percentage,
            "DestinationS3Uri": destination,
            "CaptureOptions": [{"CaptureMode": _MODES[o.upper()]} for o in self.capture_options],
            "CaptureContentTypeHeader": {
                "CsvContentTypes": list(self.csv_content_types),
                "JsonContentTypes": list(self.json_content_types),
            },
        }
        if self.kms_key_id:
            out["KmsKeyId"] = self.kms_key_id
        return out
