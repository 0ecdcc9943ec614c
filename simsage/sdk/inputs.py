"""``TrainingInput`` and ``TransformInput``: one input channel or transform source, with
the official SDK's argument names."""

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
