"""The first-party algorithms' data: a training channel's files as ``(X, y)``, inference
request bodies as ``X``, and predictions as response bodies.

Layer: programs (code that runs inside the algorithm containers); imports only
``simsage.algorithms.recordio``.

Invariants:
- Content types are matched on their MIME type, case-insensitively; parameters
  (``text/csv;label_size=0``, ``application/json; verbose=true``) are read where they mean
  something and otherwise ignored, as the containers do.
- CSV has no header and the label in its first ``label_size`` columns (``label_size=1`` by
  default, ``0`` for unsupervised data; the content type's parameter wins over the argument).
- Every refusal is a ``ValueError`` whose message names the file/row and what to send instead:
  the algorithms turn it into a ClientError failure reason, the servers into a 400/415.
- A channel is every file under its folder, nested folders included, except names starting
  with ``.`` or ``_``, read in sorted path order and concatenated.
- X is float32 (a dense ndarray, or a CSR matrix for libsvm and sparse RecordIO); y float64.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

import numpy as np

from simsage.algorithms import recordio

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
RECORDIO = "application/x-recordio-protobuf"
LIBSVM = "text/libsvm"

_ALIASES = {
    "csv": CSV,
    "text/x-csv": CSV,
    "application/x-jsonlines": JSONLINES,
    "application/jsonl": JSONLINES,
    "text/x-libsvm": LIBSVM,
    "libsvm": LIBSVM,
    "recordio-protobuf": RECORDIO,
    "application/x-protobuf": RECORDIO,
}
TRAINING_TYPES = (CSV, RECORDIO, LIBSVM)
REQUEST_TYPES = (CSV, JSON, JSONLINES, RECORDIO)
RESPONSE_TYPES = (JSON, JSONLINES, RECORDIO, CSV)


def parse_content_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    """``"text/csv; label_size=0"`` → ``("text/csv", {"label_size": "0"})``."""
    parts = (content_type or "").split(";")
    mime = parts[0].strip().lower()
    params = {}
    for part in parts[1:]:
        key, _, value = part.partition("=")
        if key.strip():
            params[key.strip().lower()] = value.strip().strip('"')
    return _ALIASES.get(mime, mime), params


def _channel_files(folder: str) -> list[str]:
    files = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        files.extend(os.path.join(root, n) for n in names if not n.startswith((".", "_")))
    return sorted(files)


def load_channel(
    folder: str, content_type: str | None, label_size: int = 1, feature_dim: int | None = None
):
    """Every record of a File-mode channel folder as ``(X, y)``.

    Args:
        folder: the channel's folder (``/opt/ml/input/data/<channel>``).
        content_type: the channel's ContentType: ``text/csv`` (``;label_size=N``),
            ``application/x-recordio-protobuf`` or ``text/libsvm``; None means CSV.
        label_size: CSV label columns (0 or 1) when the content type does not say.
        feature_dim: the expected number of features, checked when given.

    Returns:
        ``(X, y)``; y is None for CSV with ``label_size=0`` and for unlabelled RecordIO.

    Raises:
        ValueError: an unsupported content type, an empty channel, non-numeric values,
            rows of different widths, or a width other than ``feature_dim``.
    """
    mime, params = parse_content_type(content_type or CSV)
    if mime not in TRAINING_TYPES:
        raise ValueError(
            f"content type {content_type!r} is not supported for training: use one of "
            f"{', '.join(TRAINING_TYPES)}"
        )
    files = _channel_files(folder) if os.path.isdir(folder) else []
    name = os.path.basename(folder.rstrip("/")) or folder
    if not any(os.path.getsize(f) for f in files):
        raise ValueError(f"channel {name!r} has no data: its folder holds no non-empty file")
    if mime == CSV:
        if "label_size" in params:
            try:
                label_size = int(params["label_size"])
            except ValueError:
                raise ValueError(
                    f"label_size must be an integer, got {params['label_size']!r}"
                ) from None
        if label_size not in (0, 1):
            raise ValueError(f"label_size must be 0 or 1, got {label_size}")
        x, y = _load_csv(files, label_size)
    elif mime == LIBSVM:
        x, y = _load_libsvm(files, feature_dim)
    else:
        x, y = _load_recordio(files, feature_dim)
    if x.shape[0] == 0:
        raise ValueError(f"channel {name!r} has no records")
    if feature_dim is not None and x.shape[1] != feature_dim:
        raise ValueError(
            f"channel {name!r} has {x.shape[1]} features per record but feature_dim is "
            f"{feature_dim}: set feature_dim to the number of feature columns"
        )
    return x, y


def _parse_csv(text: bytes, where: str) -> np.ndarray:
    """A headerless numeric CSV as a float64 matrix; every row must have the same width."""
    import pandas as pd

    try:
        frame = pd.read_csv(
            io.BytesIO(text), header=None, dtype=np.float64, skip_blank_lines=True,
            skipinitialspace=True,
        )  # fmt: skip
    except pd.errors.EmptyDataError:
        return np.zeros((0, 0))
    except pd.errors.ParserError as exc:
        raise ValueError(f"{where}: rows have different numbers of columns ({exc})") from exc
    except ValueError as exc:
        raise ValueError(
            f"{where}: non-numeric value ({exc}); CSV must hold numbers only, no header"
        ) from exc
    values = frame.to_numpy(dtype=np.float64)
    if np.isnan(values).any():
        row = int(np.flatnonzero(np.isnan(values).any(axis=1))[0])
        raise ValueError(
            f"{where}: row {row + 1} has an empty value or fewer than {values.shape[1]} "
            "columns; every row needs the same number of numeric columns"
        )
    return values


def _load_csv(files: list[str], label_size: int):
    parts, width = [], None
    for path in files:
        with open(path, "rb") as handle:
            values = _parse_csv(handle.read(), os.path.basename(path))
        if values.size == 0:
            continue
        if width is not None and values.shape[1] != width:
            raise ValueError(
                f"{os.path.basename(path)} has {values.shape[1]} columns but earlier files "
                f"have {width}"
            )
        width = values.shape[1]
        parts.append(values)
    if not parts:
        return np.zeros((0, 0), np.float32), None
    values = np.vstack(parts)
    if label_size and values.shape[1] <= label_size:
        raise ValueError(
            f"CSV rows have {values.shape[1]} column(s): with label_size={label_size} the "
            "first column is the label and at least one feature column must follow "
            "(use text/csv;label_size=0 for unlabelled data)"
        )
    y = values[:, 0].copy() if label_size else None
    return values[:, label_size:].astype(np.float32), y


def _load_libsvm(files: list[str], feature_dim: int | None):
    import scipy.sparse
    from sklearn.datasets import load_svmlight_files

    try:
        loaded = load_svmlight_files(
            files, n_features=feature_dim, dtype=np.float32, zero_based="auto"
        )
    except ValueError as exc:
        raise ValueError(
            f"invalid libsvm data ({exc}); rows are '<label> <index>:<value> …'"
        ) from exc
    xs, ys = loaded[0::2], loaded[1::2]
    return scipy.sparse.vstack(xs, format="csr"), np.concatenate(ys).astype(np.float64)


def _load_recordio(files: list[str], feature_dim: int | None):
    import scipy.sparse

    xs, ys = [], []
    for path in files:
        with open(path, "rb") as handle:
            data = handle.read()
        if not data:
            continue
        try:
            x, y = recordio.read_arrays(data, feature_dim)
        except ValueError as exc:
            raise ValueError(f"{os.path.basename(path)}: {exc}") from exc
        xs.append(x)
        ys.append(y)
    if len({x.shape[1] for x in xs}) > 1:
        raise ValueError("RecordIO files have records of different widths: set feature_dim")
    if len({y is None for y in ys}) > 1:
        raise ValueError("some RecordIO files have labels and others do not")
    y = None if ys[0] is None else np.concatenate(ys)
    if any(scipy.sparse.issparse(x) for x in xs):
        return scipy.sparse.vstack([scipy.sparse.csr_matrix(x) for x in xs], format="csr"), y
    return np.vstack(xs), y


# ---------------------------------------------------------------- serving


def _instance_features(instance: Any, index: int) -> list | dict:
    """One JSON instance: ``{"features": [...]}`` or ``{"data": {"features": {"values":
    [...]}}}`` (a bare list is accepted too); the latter with ``keys`` and ``shape`` is a
    sparse row, returned as that dict."""
    if isinstance(instance, list):
        return instance
    if isinstance(instance, dict):
        if "features" in instance:
            return instance["features"]
        data = instance.get("data")
        if isinstance(data, dict) and isinstance(data.get("features"), dict):
            features = data["features"]
            if "keys" in features:
                return features
            if "values" in features:
                return features["values"]
    raise ValueError(
        f'instance {index} has no features: send {{"features": [...]}} or '
        '{"data": {"features": {"values": [...]}}}'
    )


def _sparse_matrix(rows: list, what: str) -> Any:
    """Sparse JSON rows (``{"keys", "values", "shape"}``; dense lists mixed in) as CSR."""
    import scipy.sparse

    indices, values, indptr, widths = [], [], [0], set()
    for number, row in enumerate(rows):
        if isinstance(row, dict):
            keys, vals, shape = row.get("keys"), row.get("values"), row.get("shape")
            if not isinstance(keys, list) or not isinstance(vals, list) or len(keys) != len(vals):
                raise ValueError(
                    f"{what} instance {number}: a sparse row needs lists 'keys' and 'values' "
                    "of the same length"
                )
            if isinstance(shape, list) and shape:
                widths.add(shape[0])
        elif isinstance(row, list):
            keys, vals = list(range(len(row))), row
            widths.add(len(row))
        else:
            raise ValueError(f"each {what} instance's features must be a list of numbers")
        indices.extend(keys)
        values.extend(vals)
        indptr.append(len(indices))
    if len(widths) > 1:
        raise ValueError(f"{what} instances have different shapes: {sorted(widths)}")
    try:
        index_array = np.asarray(indices, dtype=np.int64)
        value_array = np.asarray(values, dtype=np.float32)
        width = int(widths.pop()) if widths else int(index_array.max(initial=-1)) + 1
    except (TypeError, ValueError):
        raise ValueError(f"{what} instances' keys, values and shape must be numbers") from None
    if len(index_array) and (index_array.min() < 0 or index_array.max() >= width):
        raise ValueError(f"{what} instance keys must lie in 0..shape-1 ({width} features)")
    return scipy.sparse.csr_matrix((value_array, index_array, indptr), shape=(len(rows), width))


def _matrix(rows: list, what: str) -> Any:
    if not rows:
        raise ValueError(f"the {what} request holds no instances")
    if any(isinstance(r, dict) for r in rows):
        return _sparse_matrix(rows, what)
    widths = {len(r) if isinstance(r, list) else -1 for r in rows}
    if -1 in widths:
        raise ValueError(f"each {what} instance's features must be a list of numbers")
    if len(widths) > 1:
        raise ValueError(f"{what} instances have different numbers of features: {sorted(widths)}")
    try:
        return np.asarray(rows, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"{what} instances' features must be numbers") from None


def decode_request(body: bytes, content_type: str | None) -> Any:
    """An inference request body as the feature matrix X (float32; a CSR matrix for sparse
    RecordIO or JSON rows with ``keys``/``shape``).

    Accepts ``text/csv`` (rows of features, no label), ``application/json``
    (``{"instances": [{"features": [...]}, ...]}`` or the ``{"data": {"features": {"values":
    [...]}}}`` form), ``application/jsonlines`` (one instance per line) and
    ``application/x-recordio-protobuf``.

    Raises:
        ValueError: an unsupported content type (the message lists the accepted ones) or a
            body that does not parse.
    """
    mime, _ = parse_content_type(content_type or CSV)
    if mime == CSV:
        values = _parse_csv(body, "text/csv request")
        if values.size == 0:
            raise ValueError("the text/csv request holds no rows")
        return values.astype(np.float32)
    if mime == RECORDIO:
        x, _ = recordio.read_arrays(body)
        return x
    if mime == JSON:
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"the application/json request is not valid JSON: {exc}") from exc
        if not isinstance(payload, dict) or not isinstance(payload.get("instances"), list):
            raise ValueError('an application/json request must be {"instances": [...]}')
        rows = [_instance_features(inst, i) for i, inst in enumerate(payload["instances"])]
        return _matrix(rows, "application/json")
    if mime == JSONLINES:
        rows = []
        for number, line in enumerate(body.splitlines()):
            if not line.strip():
                continue
            try:
                rows.append(_instance_features(json.loads(line), number))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ValueError(
                    f"line {number + 1} of the jsonlines request is not JSON: {exc}"
                ) from exc
        return _matrix(rows, "application/jsonlines")
    raise ValueError(
        f"content type {content_type!r} is not supported: send one of {', '.join(REQUEST_TYPES)}"
    )


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def encode_response(
    predictions: list[dict[str, Any]], accept: str | None, envelope: str = "predictions"
) -> tuple[bytes, str]:
    """Predictions as a response body, as first-party containers answer.

    Args:
        predictions: one dict per instance (e.g. ``{"score": 0.4, "predicted_label": 0}``).
        accept: ``application/json`` (``{envelope: [...]}``; the default when None or
            ``*/*``), ``application/jsonlines`` (one object per line),
            ``application/x-recordio-protobuf`` (one Record per prediction, each key a
            float32 ``label`` entry) or ``text/csv`` (each prediction's values in order).
        envelope: the JSON key holding the list: ``predictions``, or ``scores`` (RCF),
            ``projections`` (PCA).

    Returns:
        ``(body, content_type)``.

    Raises:
        ValueError: an unsupported accept type (the message lists the accepted ones).
    """
    mime, _ = parse_content_type(accept or JSON)
    plain = [{key: _plain(value) for key, value in p.items()} for p in predictions]
    if mime in (JSON, "*/*", ""):
        return json.dumps({envelope: plain}).encode(), JSON
    if mime == JSONLINES:
        return "".join(json.dumps(p) + "\n" for p in plain).encode(), JSONLINES
    if mime == RECORDIO:
        return recordio.encode_label_records(plain), RECORDIO
    if mime == CSV:
        lines = []
        for prediction in plain:
            cells = []
            for value in prediction.values():
                cells.extend(value if isinstance(value, list) else [value])
            lines.append(",".join(str(c) for c in cells))
        return ("\n".join(lines) + "\n").encode(), CSV
    raise ValueError(
        f"accept type {accept!r} is not supported: ask for one of {', '.join(RESPONSE_TYPES)}"
    )
