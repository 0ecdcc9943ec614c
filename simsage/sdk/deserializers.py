"""Deserializers: turning an InvokeEndpoint response body into Python data.

The official SDK v2's classes and meanings: ``CSVDeserializer`` (rows of strings),
``JSONDeserializer``, ``NumpyDeserializer`` (CSV, JSON or npy into an array),
``BytesDeserializer``, ``StringDeserializer`` and ``RecordDeserializer`` (RecordIO-protobuf
into ``Record`` messages). ``ACCEPT`` is what the predictor asks for.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import numpy as np


class BaseDeserializer:
    ACCEPT: tuple[str, ...] = ("*/*",)

    def __init__(self, accept: str | tuple[str, ...] | None = None) -> None:
        if isinstance(accept, str):
            accept = (accept,)
        self.accept = accept or self.ACCEPT

    def deserialize(self, body: bytes, content_type: str | None) -> Any:
        raise NotImplementedError


class BytesDeserializer(BaseDeserializer):
    def deserialize(self, body: bytes, content_type: str | None) -> bytes:
        return body


class StringDeserializer(BaseDeserializer):
    ACCEPT = ("application/json",)

    def __init__(self, encoding: str = "UTF-8", accept: str | tuple[str, ...] | None = None):
        super().__init__(accept)
        self.encoding = encoding

    def deserialize(self, body: bytes, content_type: str | None) -> str:
        return body.decode(self.encoding)


class CSVDeserializer(BaseDeserializer):
    """A list of rows, each a list of strings (``[["0.43"], ["0.12"]]``)."""

    ACCEPT = ("text/csv",)

    def __init__(self, encoding: str = "utf-8", accept: str | tuple[str, ...] | None = None):
        super().__init__(accept)
        self.encoding = encoding

    def deserialize(self, body: bytes, content_type: str | None) -> list[list[str]]:
        return list(csv.reader(io.StringIO(body.decode(self.encoding))))


class JSONDeserializer(BaseDeserializer):
    ACCEPT = ("application/json",)

    def deserialize(self, body: bytes, content_type: str | None) -> Any:
        return json.loads(body)


class NumpyDeserializer(BaseDeserializer):
    """An array from ``text/csv`` (one row per line), ``application/json`` or
    ``application/x-npy`` bodies, by the response's content type."""

    ACCEPT = ("application/x-npy",)

    def __init__(
        self,
        dtype: Any = None,
        accept: str | tuple[str, ...] | None = None,
        allow_pickle: bool = False,
    ) -> None:
        super().__init__(accept)
        self.dtype = dtype
        self.allow_pickle = allow_pickle

    def deserialize(self, body: bytes, content_type: str | None) -> np.ndarray:
        media = (content_type or self.accept[0]).split(";", 1)[0].strip().lower()
        if media == "text/csv":
            rows = list(csv.reader(io.StringIO(body.decode("utf-8"))))
            array = np.array(rows, dtype=self.dtype or np.float64)
            return array.ravel() if array.ndim == 2 and array.shape[1] == 1 else array
        if media == "application/json":
            return np.array(json.loads(body), dtype=self.dtype)
        if media == "application/x-npy":
            return np.load(io.BytesIO(body), allow_pickle=self.allow_pickle)
        raise ValueError(
            f"NumpyDeserializer cannot read {content_type!r}; it reads text/csv, "
            "application/json and application/x-npy."
        )


class RecordDeserializer(BaseDeserializer):
    """A list of ``Record`` messages from an ``application/x-recordio-protobuf`` answer, as
    the official SDK's: a first-party endpoint's prediction is in each record's ``label``
    map, e.g. ``record.label["closest_cluster"].float32_tensor.values[0]``.

    Raises:
        ValueError: the body is not RecordIO-protobuf (the byte offset is named).
    """

    ACCEPT = ("application/x-recordio-protobuf",)

    def deserialize(self, body: bytes, content_type: str | None) -> list[Any]:
        from simsage.algorithms import recordio

        return recordio.read_records(body)
