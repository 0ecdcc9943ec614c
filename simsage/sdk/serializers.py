"""Serializers: turning Python data into an InvokeEndpoint request body.

The official SDK v2's classes, names and content types: ``CSVSerializer``
(``text/csv``), ``JSONSerializer`` (``application/json``), ``NumpySerializer``
(``application/x-npy``) and ``IdentitySerializer`` (bytes as given) and ``RecordSerializer``
(``application/x-recordio-protobuf``, the first-party algorithms' format; the codec is
simsage.algorithms.recordio, which imports nothing of simsage, so the SDK stays on boto3).
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np


class BaseSerializer:
    """``serialize(data)`` returns the body; ``CONTENT_TYPE`` is sent with it."""

    CONTENT_TYPE = "application/octet-stream"

    def __init__(self, content_type: str | None = None) -> None:
        self.content_type = content_type or self.CONTENT_TYPE

    def serialize(self, data: Any) -> bytes | str:
        raise NotImplementedError


def _is_file(data: Any) -> bool:
    return hasattr(data, "read")


class CSVSerializer(BaseSerializer):
    """Rows as CSV lines: a 1-D sequence is one row, a 2-D one (list of lists, numpy
    array, pandas DataFrame) one line per row; strings and files pass through."""

    CONTENT_TYPE = "text/csv"

    def serialize(self, data: Any) -> str:
        if _is_file(data):
            data = data.read()
        if isinstance(data, bytes):
            return data.decode("utf-8")
        if isinstance(data, str):
            return data
        if hasattr(data, "to_csv"):  # pandas DataFrame or Series
            frame = data.to_frame().T if data.ndim == 1 else data
            return frame.to_csv(header=False, index=False).rstrip("\n")
        array = np.asarray(data, dtype=object)
        if array.ndim == 0:
            return str(array.item())
        if array.ndim == 1:
            return ",".join(_cell(v) for v in array)
        if array.ndim == 2:
            return "\n".join(",".join(_cell(v) for v in row) for row in array)
        raise ValueError(f"CSVSerializer: cannot write {array.ndim}-D data as CSV rows.")


def _cell(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return repr(float(value))
    return str(value)


class JSONSerializer(BaseSerializer):
    """``json.dumps`` (numpy arrays and pandas objects become lists)."""

    CONTENT_TYPE = "application/json"

    def serialize(self, data: Any) -> str:
        if _is_file(data):
            return data.read()
        if isinstance(data, dict):
            return json.dumps({k: _plain(v) for k, v in data.items()})
        return json.dumps(_plain(data))


def _plain(value: Any) -> Any:
    if hasattr(value, "to_numpy"):
        value = value.to_numpy()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


class NumpySerializer(BaseSerializer):
    """``numpy.save`` of the data as one array (``application/x-npy``)."""

    CONTENT_TYPE = "application/x-npy"

    def __init__(self, dtype: Any = None, content_type: str | None = None) -> None:
        super().__init__(content_type)
        self.dtype = dtype

    def serialize(self, data: Any) -> bytes:
        if _is_file(data):
            return data.read()
        array = np.asarray(data, dtype=self.dtype)
        if array.size == 0:
            raise ValueError("NumpySerializer: cannot serialize an empty array.")
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        return buffer.getvalue()


class IdentitySerializer(BaseSerializer):
    """The data as given (bytes or text), with the content type you name."""

    def serialize(self, data: Any) -> bytes | str:
        return data.read() if _is_file(data) else data


class RecordSerializer(BaseSerializer):
    """A numpy array as RecordIO-protobuf records, one dense ``Record`` per row (a 1-D
    array is one row), the features in ``features["values"]`` — what the first-party
    algorithms' endpoints read (``application/x-recordio-protobuf``)."""

    CONTENT_TYPE = "application/x-recordio-protobuf"

    def serialize(self, data: Any) -> bytes:
        from simsage.algorithms import recordio

        if _is_file(data):
            return data.read()
        array = np.asarray(data)
        if array.ndim == 1:
            array = array.reshape(1, -1)
        if array.ndim != 2:
            raise ValueError(f"Expected a 1D or 2D array, but got a {array.ndim}D array instead.")
        return recordio.write_dense(None, array)
