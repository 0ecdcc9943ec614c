"""RecordIO-protobuf helpers under the official SDK v2's names
(``sagemaker.amazon.common``): the ``RecordSerializer`` / ``RecordDeserializer`` that the
first-party predictors use by default, and ``write_numpy_to_dense_tensor`` /
``read_records`` for files.

Layer: SDK. The codec is simsage.algorithms.recordio (the one the algorithms read and
write, which imports nothing of simsage), so bytes written here are the bytes the official
SDK writes and the containers read.
"""

from __future__ import annotations

from typing import Any, BinaryIO

import numpy as np

from simsage.sdk.deserializers import RecordDeserializer
from simsage.sdk.serializers import RecordSerializer

__all__ = [
    "RecordDeserializer",
    "RecordSerializer",
    "read_records",
    "write_numpy_to_dense_tensor",
]


def write_numpy_to_dense_tensor(
    file: BinaryIO, array: np.ndarray, labels: np.ndarray | None = None
) -> None:
    """Write each row of the 2-D ``array`` (and its label) to ``file`` as one dense Record.

    Raises:
        ValueError: ``array`` is not 2-D, or ``labels`` is not one value per row.
    """
    from simsage.algorithms import recordio

    array = np.asarray(array)
    if array.ndim != 2:
        raise ValueError("Array must be a Matrix")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim != 1:
            raise ValueError("Labels must be a Vector")
        if labels.shape[0] != array.shape[0]:
            raise ValueError(
                f"Label shape {labels.shape} not compatible with array shape {array.shape}"
            )
    recordio.write_dense(file, array, labels)


def read_records(file: BinaryIO | bytes) -> list[Any]:
    """Every ``Record`` in a RecordIO-protobuf file (or bytes).

    Raises:
        ValueError: the data is not RecordIO-protobuf (the byte offset is named).
    """
    from simsage.algorithms import recordio

    return recordio.read_records(file)
