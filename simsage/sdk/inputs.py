"""``TrainingInput``, ``TransformInput``, ``ProcessingInput`` and ``ProcessingOutput``: one
input channel, transform source, or processing input or output, with the official SDK's
argument names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class TrainingInput:
    """One training channel (``{"train": TrainingInput(...)}`` in ``fit``).

    ``config`` is the channel's part of CreateTrainingJob's InputDataConfig (without
    ChannelName).
    """

    s3_data: str
    distribution: str | None = None
    compression: str | None = None
    content_type: str | None = None
    record_wrapping: str | None = None
    s3_data_type: str = "S3Prefix"
    input_mode: str | None = None

    @property
    def config(self) -> dict[str, Any]:
        source: dict[str, Any] = {"S3DataType": self.s3_data_type, "S3Uri": self.s3_data}
        source["S3DataDistributionType"] = self.distribution or "FullyReplicated"
        channel: dict[str, Any] = {"DataSource": {"S3DataSource": source}}
        for key, value in (
            ("CompressionType", self.compression),
            ("ContentType", self.content_type),
            ("RecordWrapperType", self.record_wrapping),
            ("InputMode", self.input_mode),
        ):
            if value is not None:
                channel[key] = value
        return channel


@dataclass
class TransformInput:
    """A transform job's input (what ``Transformer.transform`` takes as arguments)."""

    data: str
    data_type: str = "S3Prefix"
    content_type: str | None = None
    compression_type: str | None = None
    split_type: str | None = None

    @property
    def config(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "DataSource": {"S3DataSource": {"S3DataType": self.data_type, "S3Uri": self.data}}
        }
        for key, value in (
            ("ContentType", self.content_type),
            ("CompressionType", self.compression_type),
            ("SplitType", self.split_type),
        ):
            if value is not None:
                out[key] = value
        return out


@dataclass
class ProcessingInput:
    """One input of a processing job: ``source`` (an S3 URI, or a local file or folder the
    SDK uploads) is downloaded to ``destination`` (under ``/opt/ml/processing/``) before
    the job's program starts.

    ``s3_data_type`` is ``S3Prefix`` or ``ManifestFile``, ``s3_input_mode`` ``File`` or
    ``Pipe``, ``s3_data_distribution_type`` ``FullyReplicated`` or ``ShardedByS3Key``,
    ``s3_compression_type`` ``None`` or ``Gzip`` (Pipe mode only).
    """

    source: str
    destination: str
    input_name: str | None = None
    s3_data_type: str = "S3Prefix"
    s3_input_mode: str = "File"
    s3_data_distribution_type: str = "FullyReplicated"
    s3_compression_type: str = "None"
    app_managed: bool = False

    @property
    def config(self) -> dict[str, Any]:
        """This input's entry of CreateProcessingJob's ``ProcessingInputs``."""
        return {
            "InputName": self.input_name,
            "AppManaged": self.app_managed,
            "S3Input": {
                "S3Uri": self.source,
                "LocalPath": self.destination,
                "S3DataType": self.s3_data_type,
                "S3InputMode": self.s3_input_mode,
                "S3DataDistributionType": self.s3_data_distribution_type,
                "S3CompressionType": self.s3_compression_type,
            },
        }


@dataclass
class ProcessingOutput:
    """One output of a processing job: what the program writes under ``source`` (a folder
    under ``/opt/ml/processing/``) is uploaded to ``destination`` — an S3 URI, by default
    ``s3://<default bucket>/<job>/output/<output name>``.

    ``s3_upload_mode``: ``EndOfJob`` (after the program exits successfully) or
    ``Continuous`` (each file as it is closed).
    """

    source: str
    destination: str | None = None
    output_name: str | None = None
    s3_upload_mode: str = "EndOfJob"
    app_managed: bool = False

    @property
    def config(self) -> dict[str, Any]:
        """This output's entry of CreateProcessingJob's ``ProcessingOutputConfig.Outputs``."""
        return {
            "OutputName": self.output_name,
            "AppManaged": self.app_managed,
            "S3Output": {
                "S3Uri": self.destination,
                "LocalPath": self.source,
                "S3UploadMode": self.s3_upload_mode,
            },
        }
