"""RecordIO-protobuf (``application/x-recordio-protobuf``), the first-party algorithms' data
format: the framing and the ``Record`` message, read and written with the protobuf library.

Layer: programs (code that runs inside the algorithm containers); imports nothing of simsage.

Invariants:
- Framing as SageMaker's (and MXNet's) RecordIO: each record is the magic ``0xCED7230A``
  (little-endian uint32), a uint32 payload length, the payload, then zero padding to a
  multiple of 4 bytes. Reading is strict: a bad magic, a truncated header, payload or padding
  raises ``ValueError`` naming the byte offset (never a silent stop, unlike the SDK's reader).
- The message classes are built at import from a descriptor defined below
  (``FileDescriptorProto`` + ``message_factory``) in a private descriptor pool, so they never
  clash with the official SDK's generated ``record_pb2`` in the default pool. Field names and
  numbers are SageMaker's ``record.proto`` (package ``aialgs.data``), so bytes are
  interchangeable with the SDK's ``write_numpy_to_dense_tensor`` / ``read_records``.
- Features live in ``record.features["values"]`` and the label in ``record.label["values"]``;
  a tensor with ``keys`` is a sparse row whose ``shape[0]`` is the row width.
- Dense float32/float64 data takes a vectorised path (one numpy template per record, filled
  column-wise) whose bytes are exactly what protobuf serialises; anything else (int32, sparse,
  other layouts) goes through the protobuf messages. The decoder falls back the same way.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from typing import Any, BinaryIO

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

MAGIC = 0xCED7230A
_HEADER = struct.Struct("<II")
_MAX_INT32 = 2**31 - 1

# Value's oneof field numbers in record.proto, and the numpy dtype each tensor holds.
_TENSOR_FIELDS = {"float32_tensor": 2, "float64_tensor": 3, "int32_tensor": 7}
_TENSOR_DTYPES = {"float32_tensor": np.float32, "float64_tensor": np.float64,
                  "int32_tensor": np.int32}  # fmt: skip


def _build_messages() -> dict[str, Any]:
    """The record.proto message classes, from a descriptor written here (no protoc)."""
    fdp = descriptor_pb2.FileDescriptorProto(
        name="simsage/aialgs_record.proto", package="aialgs.data", syntax="proto2"
    )
    f = descriptor_pb2.FieldDescriptorProto
    repeated, optional = f.LABEL_REPEATED, f.LABEL_OPTIONAL

    def add_field(msg, name, number, ftype, label=optional, type_name=None, packed=False):
        field = msg.field.add(name=name, number=number, type=ftype, label=label)
        if type_name:
            field.type_name = type_name
        if packed:
            field.options.packed = True
        return field

    for name, vtype in (
        ("Float32Tensor", f.TYPE_FLOAT),
        ("Float64Tensor", f.TYPE_DOUBLE),
        ("Int32Tensor", f.TYPE_INT32),
    ):
        msg = fdp.message_type.add(name=name)
        add_field(msg, "values", 1, vtype, repeated, packed=True)
        add_field(msg, "keys", 2, f.TYPE_UINT64, repeated, packed=True)
        add_field(msg, "shape", 3, f.TYPE_UINT64, repeated, packed=True)
    msg = fdp.message_type.add(name="Bytes")
    add_field(msg, "value", 1, f.TYPE_BYTES, repeated)
    add_field(msg, "content_type", 2, f.TYPE_STRING)
    msg = fdp.message_type.add(name="Value")
    msg.oneof_decl.add(name="value")
    for name, number, type_name in (
        ("float32_tensor", 2, ".aialgs.data.Float32Tensor"),
        ("float64_tensor", 3, ".aialgs.data.Float64Tensor"),
        ("int32_tensor", 7, ".aialgs.data.Int32Tensor"),
        ("bytes", 9, ".aialgs.data.Bytes"),
    ):
        add_field(msg, name, number, f.TYPE_MESSAGE, type_name=type_name).oneof_index = 0
    msg = fdp.message_type.add(name="Record")
    for entry_name, field_name, number in (
        ("FeaturesEntry", "features", 1),
        ("LabelEntry", "label", 2),
    ):
        entry = msg.nested_type.add(name=entry_name)
        entry.options.map_entry = True
        add_field(entry, "key", 1, f.TYPE_STRING)
        add_field(entry, "value", 2, f.TYPE_MESSAGE, type_name=".aialgs.data.Value")
        add_field(msg, field_name, number, f.TYPE_MESSAGE, repeated,
                  type_name=f".aialgs.data.Record.{entry_name}")  # fmt: skip
    for name, number in (("uid", 3), ("metadata", 4), ("configuration", 5)):
        add_field(msg, name, number, f.TYPE_STRING)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"aialgs.data.{name}"))
        for name in ("Float32Tensor", "Float64Tensor", "Int32Tensor", "Bytes", "Value", "Record")
    }


_MESSAGES = _build_messages()
Record = _MESSAGES["Record"]
Value = _MESSAGES["Value"]
Float32Tensor = _MESSAGES["Float32Tensor"]
Float64Tensor = _MESSAGES["Float64Tensor"]
Int32Tensor = _MESSAGES["Int32Tensor"]


# ---------------------------------------------------------------- framing


def _pad(length: int) -> int:
    return -length % 4


def frame(payload: bytes) -> bytes:
    """One RecordIO record: magic, length, ``payload``, zero padding to 4 bytes."""
    return _HEADER.pack(MAGIC, len(payload)) + payload + b"\0" * _pad(len(payload))


def iter_payloads(data: bytes | bytearray | memoryview) -> Iterator[memoryview]:
    """The payload of each RecordIO record in ``data``, in order.

    Raises:
        ValueError: a bad magic number, or a record cut short (header, payload or padding),
            with the byte offset where it happened.
    """
    view = memoryview(data)
    size, offset = len(view), 0
    while offset < size:
        if size - offset < 8:
            raise ValueError(
                f"RecordIO data is truncated: {size - offset} byte(s) at offset {offset} "
                "are too few for a record header (8 bytes)"
            )
        magic, length = _HEADER.unpack_from(view, offset)
        if magic != MAGIC:
            raise ValueError(
                f"not RecordIO-protobuf data: bad magic number 0x{magic:08X} at offset "
                f"{offset} (expected 0x{MAGIC:08X}); send application/x-recordio-protobuf "
                "records as the SDK's RecordSerializer writes them"
            )
        end = offset + 8 + length
        if end + _pad(length) > size:
            raise ValueError(
                f"RecordIO data is truncated: the record at offset {offset} declares "
                f"{length} bytes but only {size - offset - 8} follow"
            )
        yield view[offset + 8 : end]
        offset = end + _pad(length)


def _as_bytes(data: bytes | bytearray | memoryview | BinaryIO) -> bytes | memoryview:
    if hasattr(data, "read"):
        return data.read()
    return data


def _parse(record: Any, payload: memoryview, index: int) -> None:
    try:
        record.ParseFromString(payload)
    except Exception as exc:  # protobuf's DecodeError; its type differs by backend
        raise ValueError(f"RecordIO record {index} is not a valid Record message: {exc}") from exc


def read_records(data: bytes | bytearray | memoryview | BinaryIO) -> list[Any]:
    """Every ``Record`` in RecordIO ``data`` (bytes or a readable binary stream).

    Raises:
        ValueError: bad framing (see ``iter_payloads``) or a payload that is not a Record.
    """
    records = []
    for index, payload in enumerate(iter_payloads(_as_bytes(data))):
        record = Record()
        _parse(record, payload, index)
        records.append(record)
    return records


# ---------------------------------------------------------------- writing


def _tensor_name(dtype: np.dtype, what: str) -> str:
    """The Value tensor for an array dtype: as the SDK's ``_resolve_type`` (float32,
    float64, integers as int32), with other float widths widened to the nearest."""
    if dtype == np.float32 or dtype == np.float16:
        return "float32_tensor"
    if dtype == np.float64:
        return "float64_tensor"
    if np.issubdtype(dtype, np.integer) or dtype == np.bool_:
        return "int32_tensor"
    raise ValueError(f"{what} of dtype {dtype} cannot be written as RecordIO-protobuf: "
                     "use float32, float64 or an integer dtype")  # fmt: skip


def _check_int32(array: np.ndarray, what: str) -> None:
    if array.size and np.issubdtype(array.dtype, np.integer):
        if array.min() < -_MAX_INT32 - 1 or array.max() > _MAX_INT32:
            raise ValueError(f"{what} hold integers outside int32's range; cast them to float")


def _prepare(features, labels, n_rows: int, fdtype):
    fname = _tensor_name(fdtype, "features")
    lname = None
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels[:, 0]
        if labels.ndim != 1 or labels.shape[0] != n_rows:
            raise ValueError(
                f"labels must be a vector of {n_rows} values (one per row), got shape "
                f"{labels.shape}"
            )
        lname = _tensor_name(labels.dtype, "labels")
        _check_int32(labels, "labels")
    return fname, labels, lname


def _emit(stream: BinaryIO | None, chunks: bytes) -> bytes:
    if stream is not None:
        stream.write(chunks)
    return chunks


def write_dense(
    stream: BinaryIO | None, features: np.ndarray, labels: np.ndarray | None = None
) -> bytes:
    """Write each row of ``features`` (and its label) as one dense RecordIO Record.

    Args:
        stream: a writable binary stream, or None to only return the bytes.
        features: a 2-D array (a 1-D one is one row); float32, float64 or integers (int32).
        labels: None or one scalar per row.

    Returns:
        The bytes written.

    Raises:
        ValueError: a shape or dtype that cannot be written.
    """
    features = np.asarray(features)
    if features.ndim == 1:
        features = features.reshape(1, -1)
    if features.ndim != 2:
        raise ValueError(f"features must be a 2-D array (rows × columns), got {features.ndim}-D")
    fname, labels, lname = _prepare(features, labels, features.shape[0], features.dtype)
    _check_int32(features, "features")
    if features.dtype == np.float16:
        features = features.astype(np.float32)
    if labels is not None and labels.dtype == np.float16:
        labels = labels.astype(np.float32)
    n_rows, n_cols = features.shape
    if n_rows == 0:
        return _emit(stream, b"")
    if fname != "int32_tensor" and lname != "int32_tensor" and n_cols > 0:
        return _emit(stream, _write_dense_fast(features, labels))
    record, out = Record(), []
    for index in range(n_rows):
        record.Clear()
        tensor = getattr(record.features["values"], fname)
        tensor.SetInParent()  # an empty row still names its tensor type
        tensor.values.extend(features[index].tolist())
        if labels is not None:
            getattr(record.label["values"], lname).values.append(labels[index].item())
        out.append(frame(record.SerializeToString()))
    return _emit(stream, b"".join(out))


def write_sparse(stream: BinaryIO | None, matrix: Any, labels: np.ndarray | None = None) -> bytes:
    """Write each row of a scipy sparse matrix as one sparse Record: ``values`` the row's
    stored values, ``keys`` their column indices, ``shape`` ``[n_columns]``.

    Args:
        stream: a writable binary stream, or None to only return the bytes.
        matrix: any scipy.sparse matrix or array (converted to CSR).
        labels: None or one scalar per row.

    Returns:
        The bytes written.

    Raises:
        ValueError: not a sparse matrix, or a shape/dtype that cannot be written.
    """
    import scipy.sparse

    if not scipy.sparse.issparse(matrix):
        raise ValueError("write_sparse needs a scipy.sparse matrix; use write_dense for arrays")
    csr = scipy.sparse.csr_matrix(matrix)
    csr.sort_indices()
    n_rows, n_cols = csr.shape
    fname, labels, lname = _prepare(csr, labels, n_rows, csr.dtype)
    _check_int32(csr.data, "features")
    data = csr.data.astype(_TENSOR_DTYPES[fname], copy=False)
    indptr, indices = csr.indptr, csr.indices.astype(np.uint64)
    record, out = Record(), []
    for index in range(n_rows):
        record.Clear()
        tensor = getattr(record.features["values"], fname)
        start, end = indptr[index], indptr[index + 1]
        tensor.values.extend(data[start:end].tolist())
        tensor.keys.extend(indices[start:end].tolist())
        tensor.shape.append(n_cols)
        if labels is not None:
            getattr(record.label["values"], lname).values.append(labels[index].item())
        out.append(frame(record.SerializeToString()))
    return _emit(stream, b"".join(out))


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _tensor_entry(map_field: int, tensor: str, nbytes: int) -> tuple[bytes, int]:
    """The bytes of a map entry ``"values" → Value{tensor{values: <nbytes>}}`` up to the packed
    values, and the entry's total length: the wire layout protobuf writes for one dense row."""
    inner = b"\x0a" + _varint(nbytes)  # Tensor.values (field 1, packed)
    tensor_len = len(inner) + nbytes
    value = bytes([_TENSOR_FIELDS[tensor] << 3 | 2]) + _varint(tensor_len) + inner
    value_len = len(value) + nbytes
    entry = b"\x0a\x06values\x12" + _varint(value_len) + value
    entry_len = len(entry) + nbytes
    prefix = bytes([map_field << 3 | 2]) + _varint(entry_len) + entry
    return prefix, len(prefix) + nbytes


def _dense_template(n_cols: int, fdtype: np.dtype, ldtype: np.dtype | None):
    """(template bytes of one framed record with zeroed values, mask of the value bytes,
    (features offset, width), (label offset, width) or None)."""
    fname = _tensor_name(fdtype, "features")
    fbytes = n_cols * np.dtype(fdtype).itemsize
    fprefix, flen = _tensor_entry(1, fname, fbytes)
    payload = bytearray(fprefix) + bytes(fbytes)
    label_slot = None
    if ldtype is not None:
        lbytes = np.dtype(ldtype).itemsize
        lprefix, _ = _tensor_entry(2, _tensor_name(ldtype, "labels"), lbytes)
        label_slot = (8 + len(payload) + len(lprefix), lbytes)
        payload += lprefix + bytes(lbytes)
    framed = frame(bytes(payload))
    template = np.frombuffer(framed, dtype=np.uint8)
    mask = np.zeros(len(framed), dtype=bool)
    feature_slot = (8 + len(fprefix), fbytes)
    for offset, width in filter(None, (feature_slot, label_slot)):
        mask[offset : offset + width] = True
    return template, mask, feature_slot, label_slot


def _write_dense_fast(features: np.ndarray, labels: np.ndarray | None) -> bytes:
    n_rows, n_cols = features.shape
    ldtype = None if labels is None else labels.dtype
    template, _, (foff, fwidth), label_slot = _dense_template(n_cols, features.dtype, ldtype)
    rows = np.tile(template, (n_rows, 1))
    little = features.astype(features.dtype.newbyteorder("<"), copy=False)
    rows[:, foff : foff + fwidth] = np.ascontiguousarray(little).view(np.uint8).reshape(n_rows, -1)
    if label_slot is not None:
        loff, lwidth = label_slot
        lab = np.ascontiguousarray(labels.astype(labels.dtype.newbyteorder("<"), copy=False))
        rows[:, loff : loff + lwidth] = lab.view(np.uint8).reshape(n_rows, lwidth)
    return rows.tobytes()


# ---------------------------------------------------------------- reading into arrays


def _tensor_of(value: Any) -> tuple[str, Any] | tuple[None, None]:
    kind = value.WhichOneof("value")
    if kind is None or kind == "bytes":
        return None, None
    return kind, getattr(value, kind)


class _Rows:
    """Collects records' features and labels into flat lists (one ``extend`` per record:
    far cheaper than an array per row), then builds X and y once."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.keys: list[int] = []
        self.lengths: list[int] = []  # values per row
        self.keyed: list[bool] = []  # the row carries keys (sparse)
        self.widths: list[int | None] = []  # a row's declared width (shape[0]) or None
        self.labels: list[float | None] = []

    def add(self, index: int, record: Any) -> None:
        features = record.features
        if "values" not in features:
            raise ValueError(f"record {index} has no features['values'] tensor")
        kind, tensor = _tensor_of(features["values"])
        if kind is None:
            raise ValueError(f"record {index}'s features['values'] holds no numeric tensor")
        values, keys, shape = tensor.values, tensor.keys, tensor.shape
        if keys and len(keys) != len(values):
            raise ValueError(f"record {index} has {len(keys)} keys for {len(values)} values")
        self.values.extend(values)
        self.lengths.append(len(values))
        self.keyed.append(bool(keys))
        if keys:
            self.keys.extend(keys)
        self.widths.append(int(shape[0]) if shape else None)
        if "values" in record.label:
            _, label = _tensor_of(record.label["values"])
            self.labels.append(label.values[0] if label is not None and label.values else np.nan)
        else:
            self.labels.append(None)

    def arrays(self, feature_dim: int | None):
        if not self.lengths:
            raise ValueError("no RecordIO records to read")
        y = _labels(self.labels)
        values = np.asarray(self.values, dtype=np.float32)
        lengths = np.asarray(self.lengths, dtype=np.int64)
        declared = np.asarray([-1 if w is None else w for w in self.widths], dtype=np.int64)
        # A row without keys is dense unless its shape says it is wider (an all-zero sparse row).
        dense = ~np.asarray(self.keyed) & ((declared < 0) | (declared == lengths))
        if dense.all():
            widths = set(lengths.tolist())
            if len(widths) != 1:
                raise ValueError(f"dense records have different widths: {sorted(widths)}")
            (width,) = widths
            if feature_dim is not None and width != feature_dim:
                raise ValueError(f"records have {width} features but feature_dim is {feature_dim}")
            return values.reshape(len(lengths), width), y
        return self._sparse(values, lengths, declared, dense, feature_dim), y

    def _sparse(self, values, lengths, declared, dense, feature_dim):
        import scipy.sparse

        # Each row's width: a keyed row's shape[0], a dense row's length.
        widths = set(np.where(dense, lengths, declared)[declared >= 0].tolist())
        widths |= set(lengths[dense].tolist())
        if len(widths) > 1:
            raise ValueError(f"records have different shapes: {sorted(widths)}")
        if widths and feature_dim is not None and widths != {feature_dim}:
            raise ValueError(f"records have shape {widths.pop()} but feature_dim is {feature_dim}")
        width = feature_dim if feature_dim is not None else (widths.pop() if widths else None)
        keys = np.asarray(self.keys, dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(lengths)])
        # Keyed rows' values take their keys (in order); dense rows' values their position.
        row_of_value = np.repeat(np.arange(len(lengths)), lengths)
        indices = np.arange(len(values), dtype=np.int64) - starts[row_of_value]
        indices[np.asarray(self.keyed)[row_of_value]] = keys
        if width is None:
            width = int(indices.max()) + 1 if len(indices) else 0
        if len(indices) and (indices.max() >= width or indices.min() < 0):
            raise ValueError(f"a record has a key outside its shape ({width} features)")
        return scipy.sparse.csr_matrix((values, indices, starts), shape=(len(lengths), width))


def to_arrays(records: list[Any], feature_dim: int | None = None):
    """Features and labels of ``records`` as arrays.

    Args:
        records: Record messages (``read_records``).
        feature_dim: the expected row width, checked against dense rows and used as the
            width of sparse rows without a shape.

    Returns:
        ``(X, y)``: X a float32 ndarray (all rows dense) or a float32 ``scipy.sparse``
        CSR matrix (any row sparse); y a float64 vector of each record's first label
        value, or None when no record has a label.

    Raises:
        ValueError: a record without features, rows of different widths, a width other
            than ``feature_dim``, keys outside the shape, or labels on only some records.
    """
    rows = _Rows()
    for index, record in enumerate(records):
        rows.add(index, record)
    return rows.arrays(feature_dim)


def _labels(labels: list) -> np.ndarray | None:
    present = [label is not None for label in labels]
    if not any(present):
        return None
    if not all(present):
        missing = present.index(False)
        raise ValueError(
            f"record {missing} has no label but others do: give every record a label or none"
        )
    return np.asarray(labels, dtype=np.float64)


def read_arrays(data: bytes | bytearray | memoryview | BinaryIO, feature_dim: int | None = None):
    """``to_arrays(read_records(data))``, vectorised when every record is a dense float
    row of the same layout (what ``write_dense`` and the SDK's writer produce).

    Raises:
        ValueError: as ``read_records`` and ``to_arrays``.
    """
    data = _as_bytes(data)
    fast = _read_dense_fast(data)
    if fast is None:
        rows, record = _Rows(), Record()
        for index, payload in enumerate(iter_payloads(data)):
            _parse(record, payload, index)
            rows.add(index, record)
        return rows.arrays(feature_dim)
    x, y = fast
    if feature_dim is not None and x.shape[1] != feature_dim:
        raise ValueError(f"records have {x.shape[1]} features but feature_dim is {feature_dim}")
    return x, y


def _read_dense_fast(data):
    if len(data) < 8:
        return None
    magic, length = _HEADER.unpack_from(data, 0)
    if magic != MAGIC or len(data) < 8 + length:
        return None
    first = Record()
    try:
        first.ParseFromString(memoryview(data)[8 : 8 + length])
    except Exception:
        return None
    if list(first.features) != ["values"] or list(first.label) not in ([], ["values"]):
        return None
    fkind, ftensor = _tensor_of(first.features["values"])
    if (
        fkind not in ("float32_tensor", "float64_tensor")
        or len(ftensor.keys)
        or not len(ftensor.values)
    ):
        return None
    ldtype = None
    if first.label:
        lkind, ltensor = _tensor_of(first.label["values"])
        if lkind not in ("float32_tensor", "float64_tensor") or len(ltensor.values) != 1:
            return None
        ldtype = np.dtype(_TENSOR_DTYPES[lkind])
    fdtype = np.dtype(_TENSOR_DTYPES[fkind])
    template, mask, (foff, fwidth), label_slot = _dense_template(
        len(ftensor.values), fdtype, ldtype
    )
    size = len(template)
    if len(data) % size:
        return None
    rows = np.frombuffer(data, dtype=np.uint8).reshape(-1, size)
    if not np.array_equal(
        rows[:, ~mask], np.broadcast_to(template[~mask], (len(rows), (~mask).sum()))
    ):
        return None  # some record differs in layout: let protobuf read each one
    x = rows[:, foff : foff + fwidth].copy().view(fdtype.newbyteorder("<")).astype(np.float32)
    y = None
    if label_slot is not None:
        loff, lwidth = label_slot
        y = rows[:, loff : loff + lwidth].copy().view(ldtype.newbyteorder("<")).astype(np.float64)
        y = y.reshape(-1)
    return x, y


def encode_label_records(predictions: list[dict[str, Any]]) -> bytes:
    """Each prediction as one Record whose ``label`` map holds a float32 tensor per key (a
    scalar as one value, a list as its values): how first-party containers answer
    ``application/x-recordio-protobuf`` (the SDK's RecordDeserializer reads e.g.
    ``record.label["closest_cluster"].float32_tensor.values[0]``)."""
    record, out = Record(), io.BytesIO()
    for prediction in predictions:
        record.Clear()
        for key, value in prediction.items():
            flat = np.asarray(value, dtype=np.float32).reshape(-1)
            record.label[key].float32_tensor.values.extend(flat.tolist())
        out.write(frame(record.SerializeToString()))
    return out.getvalue()
