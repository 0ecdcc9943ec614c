"""Scoring layer of the inference server: pure functions shared by endpoints and batch
transform.

Nothing here knows about HTTP. A handler turns ``(body, content_type, accept)`` into a
:class:`Response` or raises :class:`ScoringError` carrying the status the SageMaker
container would answer (415 unsupported media type, 406 not acceptable, 400 bad
payload, 500 user-code failure). The web layer (``server.py``) only copies these onto
the wire, and batch transform calls the same handlers without a socket.

Invariants: codecs never mutate their input; CSV/JSON bodies are UTF-8; an empty CSV
field is NaN.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
NPY = "application/x-npy"
NPZ = "application/x-npz"
LIBSVM = "text/libsvm"
X_LIBSVM = "text/x-libsvm"
RECORDIO = "application/x-recordio-protobuf"
ANY = "*/*"

CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"

# Above this size pandas' C parser beats splitting lines in Python.
_PANDAS_CSV_THRESHOLD = 64 * 1024


class ScoringError(Exception):
    """A request the model server answers with a non-2xx status.

    Parameters
    ----------
    status:
        The HTTP status the container answers (e.g. 415, 406, 400, 500).
    message:
        The response body, as the container writes it.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def __repr__(self) -> str:
        return f"ScoringError({self.status}, {self.message!r})"


@dataclass
class Response:
    """What a handler answers: status, body bytes, content type and extra headers."""

    body: bytes
    content_type: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class Handler(Protocol):
    """A loaded model that can score one request (see xgboost_handler, script_handler)."""

    def invoke(
        self,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        headers: dict[str, str] | None = None,
    ) -> Response: ...


def parse_content_type(value: str | None) -> tuple[str, dict[str, str]]:
    """Split a media type into its lower-cased base and its parameters.

    Parameters
    ----------
    value:
        A Content-Type or Accept item such as ``"text/csv; charset=utf-8"``; None or
        blank gives ``("", {})``.

    Returns
    -------
    ``(base, params)``: ``("text/csv", {"charset": "utf-8"})``. Parameter names are
    lower-cased, values keep their case with surrounding quotes removed.
    """
    if not value:
        return "", {}
    base, _, rest = value.partition(";")
    params: dict[str, str] = {}
    if rest:
        for item in rest.split(";"):
            name, sep, val = item.partition("=")
            if sep and name.strip():
                params[name.strip().lower()] = val.strip().strip('"')
    return base.strip().lower(), params


def negotiate_accept(
    accept: str | None, supported: tuple[str, ...] | list[str], default: str
) -> str | None:
    """Pick the response type the way the SageMaker containers do.

    A missing Accept or ``*/*`` means ``default``; otherwise the comma-separated list
    is scanned in order and the first supported base type wins (``*/*`` in the list
    also picks ``default``).

    Returns
    -------
    The chosen media type, or None when nothing in ``accept`` is supported (the
    caller decides the status: 406 for the XGBoost container, 415 for the toolkit).
    """
    if not accept or accept.strip() == ANY:
        return default
    for item in accept.split(","):
        base, _ = parse_content_type(item)
        if base == ANY:
            return default
        if base in supported:
            return base
    return None


def charset_of(params: dict[str, str]) -> str:
    """The charset a text body is decoded with (UTF-8 unless the type says otherwise)."""
    return params.get("charset", "utf-8") or "utf-8"


def decode_text(body: bytes, params: dict[str, str] | None = None) -> str:
    """Decode a text body; an undecodable one is a 415 as in the containers."""
    charset = charset_of(params or {})
    try:
        return body.decode(charset)
    except (UnicodeDecodeError, LookupError) as exc:
        raise ScoringError(415, f"Could not decode payload as {charset}: {exc}") from exc


def _sniff_delimiter(first_line: str) -> str:
    if "," in first_line:
        return ","
    for candidate in ("\t", ";", "|", " "):
        if candidate in first_line.strip():
            return candidate
    return ","


def csv_to_array(text: str | bytes, dtype: Any = np.float32) -> np.ndarray:
    """Parse headerless numeric CSV rows into a 2-D array; an empty field is NaN.

    Parameters
    ----------
    text:
        One or more rows, ``\\n`` or ``\\r\\n`` separated; blank lines are skipped. The
        delimiter is a comma unless the first row has none (tab, ``;``, ``|``, space).
        UTF-8 bytes are accepted too: large bodies are then parsed without decoding
        them first (half the time for a 6 MB batch).
    dtype:
        The element type of the result.

    Returns
    -------
    A ``(rows, columns)`` array.

    Raises
    ------
    ScoringError
        415 when a field is not a number or the rows have different lengths.
    """
    if isinstance(text, bytes):
        if len(text) > _PANDAS_CSV_THRESHOLD:
            return _csv_bytes_to_array(text, dtype)
        text = decode_text(text)
    stripped = text.strip("\r\n")
    if not stripped.strip():
        raise ScoringError(415, "Empty CSV payload")
    newline = stripped.find("\n")
    delimiter = _sniff_delimiter(stripped if newline < 0 else stripped[:newline])
    if len(stripped) > _PANDAS_CSV_THRESHOLD:
        return _csv_to_array_pandas(stripped, delimiter, dtype)
    rows = []
    width = -1
    for line in stripped.splitlines():
        if not line.strip():
            continue
        fields = line.split(delimiter)
        if width < 0:
            width = len(fields)
        elif len(fields) != width:
            raise ScoringError(
                415,
                f"Loading csv data failed: rows have different numbers of columns "
                f"({width} and {len(fields)})",
            )
        try:
            rows.append([float(f) if f.strip() else np.nan for f in fields])
        except ValueError as exc:
            raise ScoringError(415, f"Loading csv data failed: {exc}") from exc
    return np.asarray(rows, dtype=dtype)


def _csv_bytes_to_array(body: bytes, dtype: Any) -> np.ndarray:
    start = len(body) - len(body.lstrip(b"\r\n"))
    end = body.find(b"\n", start)
    first_line = body[start : end if end >= 0 else len(body)]
    try:
        delimiter = _sniff_delimiter(first_line.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ScoringError(415, f"Could not decode payload as utf-8: {exc}") from exc
    if not first_line.strip():
        raise ScoringError(415, "Empty CSV payload")
    return _csv_to_array_pandas(body, delimiter, dtype)


def _csv_to_array_pandas(text: str | bytes, delimiter: str, dtype: Any) -> np.ndarray:
    import pandas as pd

    try:
        frame = pd.read_csv(
            io.BytesIO(text) if isinstance(text, bytes) else io.StringIO(text),
            header=None,
            sep=delimiter,
            skip_blank_lines=True,
            dtype=np.float64,
            engine="c",
        )
    except UnicodeDecodeError as exc:
        raise ScoringError(415, f"Could not decode payload as utf-8: {exc}") from exc
    except (ValueError, pd.errors.ParserError) as exc:
        raise ScoringError(415, f"Loading csv data failed: {exc}") from exc
    return frame.to_numpy(dtype=dtype)


def _scalar_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def array_to_csv(array: Any) -> str:
    """Encode an array like sagemaker-containers' ``array_to_csv`` (np.savetxt, ``%s``).

    A 1-D array gives one value per line, a 2-D array comma-joined rows; every line
    ends in ``\\n``. Values print as ``str()`` of their numpy element (so float32
    predictions read ``0.43205976``, not the float64 expansion).
    """
    arr = np.asarray(array)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim == 1:
        return "".join(_scalar_text(v) + "\n" for v in arr)
    if arr.ndim == 2:
        return "".join(",".join(_scalar_text(v) for v in row) + "\n" for row in arr)
    raise ScoringError(500, f"Cannot encode a {arr.ndim}-D array as CSV")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def to_json(value: Any) -> str:
    """JSON-encode ``value``, numpy arrays and scalars included."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    return json.dumps(value, default=_json_default)


def json_to_array(text: str) -> np.ndarray:
    """Decode a JSON body into an array (the toolkit's default json decoder)."""
    try:
        return np.array(json.loads(text))
    except ValueError as exc:
        raise ScoringError(415, f"Could not parse JSON payload: {exc}") from exc


def npy_to_array(body: bytes) -> np.ndarray:
    """Decode an ``application/x-npy`` body (pickles refused: payloads are untrusted)."""
    try:
        return np.load(io.BytesIO(body), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ScoringError(415, f"Could not parse NPY payload: {exc}") from exc


def npz_to_array(body: bytes) -> np.ndarray:
    """Decode an ``application/x-npz`` body: its first array."""
    try:
        with np.load(io.BytesIO(body), allow_pickle=False) as archive:
            names = archive.files
            if not names:
                raise ScoringError(415, "Empty NPZ payload")
            return archive[names[0]]
    except (ValueError, OSError, EOFError) as exc:
        raise ScoringError(415, f"Could not parse NPZ payload: {exc}") from exc


def array_to_npy(array: Any) -> bytes:
    """Encode an array as an ``application/x-npy`` body."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def decode(body: bytes, content_type: str) -> np.ndarray:
    """The toolkit's default decoders: json, csv, npy, npz (base type lower-case).

    Raises
    ------
    ScoringError
        415 for another content type or an unparseable body.
    """
    base, params = parse_content_type(content_type)
    if base == JSON:
        return json_to_array(decode_text(body, params))
    if base == CSV:
        return csv_to_array(decode_text(body, params), dtype=np.float64)
    if base == NPY:
        return npy_to_array(body)
    if base == NPZ:
        return npz_to_array(body)
    raise ScoringError(415, unsupported_format_message(content_type, DECODABLE))


def encode(prediction: Any, accept: str) -> bytes:
    """The toolkit's default encoders: json, csv, npy.

    Raises
    ------
    ScoringError
        415 (the toolkit's UnsupportedFormatError) for another accept type.
    """
    base, _ = parse_content_type(accept)
    if base == JSON:
        return to_json(prediction).encode("utf-8")
    if base == CSV:
        return array_to_csv(prediction).encode("utf-8")
    if base == NPY:
        return array_to_npy(prediction)
    raise ScoringError(415, unsupported_format_message(accept, ENCODABLE))


DECODABLE = (JSON, CSV, NPY, NPZ)
ENCODABLE = (JSON, CSV, NPY)


def unsupported_format_message(content_type: str | None, accepted: tuple[str, ...]) -> str:
    """The message of a 415/406: what came and what is accepted."""
    return (
        f"Content type {content_type or '(none)'} is not supported by this framework. "
        f"Accepted: {', '.join(accepted)}."
    )
