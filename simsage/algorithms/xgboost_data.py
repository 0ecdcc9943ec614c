"""The built-in XGBoost algorithm's inputs: the host root's configuration
(``input/config/*.json``), its channels, and each channel's data as an ``xgboost.DMatrix``.

Channels: ``train`` (required), ``validation`` and ``code``; anything else is an
``Extraneous channel``. Validation is read in train's ContentType, as the container does.

The formats and rules of the sagemaker-xgboost container (algorithm mode, File input):
- ``text/csv`` (``text/csv;label_size=1``, ``csv``): label in column 0, no header, with
  ``csv_weights=1`` the instance weight in column 1; the delimiter is sniffed from the
  first line of each file among ``, ; \\t |`` and space; an empty field is missing.
- ``text/libsvm``, ``text/x-libsvm``, ``libsvm`` and *no ContentType*: libsvm rows
  ``<label>[:<weight>] <index>:<value> …``.
- ``application/x-parquet`` (``parquet``): label in the first column (needs pyarrow).
- ``application/x-recordio-protobuf``: not supported by simsage (a clear error).

A channel is every file under its folder, nested folders included, except names that
start with ``.`` or ``_``; files are read in sorted path order and concatenated.

CSV and libsvm go through xgboost's own multi-threaded text loader (what the real
container uses; no pandas import, the fastest path measured); if that loader is not
available, pandas (CSV) or a small pure-Python reader (libsvm) takes over.
Heavy modules (xgboost, numpy, pandas, pyarrow) are imported inside the functions.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simsage.runtime.paths import PathError, host_path

logger = logging.getLogger("simsage.algorithms.xgboost")

CSV = "csv"
LIBSVM = "libsvm"
PARQUET = "parquet"
RECORDIO_PROTOBUF = "recordio-protobuf"

ACCEPTED_CONTENT_TYPES = (
    "text/csv",
    "text/libsvm",
    "text/x-libsvm",
    "application/x-parquet",
    "application/x-recordio-protobuf",
    CSV,
    LIBSVM,
    PARQUET,
    RECORDIO_PROTOBUF,
)
CSV_DELIMITERS = ",;\t| "
ALLOWED_CHANNELS = ("train", "validation", "code")
# Characters that would change the meaning of xgboost's "<path>?format=…" URI.
_URI_SPECIAL = set(";?#&")


class UserError(Exception):
    """A problem with the job's input or configuration, which the user must fix."""


# -- the job's configuration and channels -------------------------------------------------


@dataclass
class JobConfig:
    """What the host root says about this job."""

    root: Path
    hyperparameters: dict[str, str]
    channels: dict[str, dict]
    hosts: list[str]
    current_host: str
    checkpoint_dir: Path | None

    @property
    def is_master(self) -> bool:
        return self.current_host == self.hosts[0]

    def channel_dir(self, name: str) -> Path:
        return self.root / "input" / "data" / name


def _read_json(path: Path, default: Any = None) -> Any:
    if not path.exists():
        if default is not None:
            return default
        raise UserError(f"Missing container configuration file {path}")
    try:
        return json.loads(path.read_text())
    except ValueError as error:
        raise UserError(f"Container configuration file {path} is not JSON: {error}") from None


def read_config(root: Path) -> JobConfig:
    """Read ``input/config`` of a host root."""
    config = root / "input" / "config"
    resource = _read_json(config / "resourceconfig.json", {})
    hosts = sorted(resource.get("hosts") or ["algo-1"])
    checkpoint = _read_json(config / "checkpointconfig.json", {})
    return JobConfig(
        root=root,
        hyperparameters=_read_json(config / "hyperparameters.json", {}),
        channels=_read_json(config / "inputdataconfig.json"),
        hosts=hosts,
        current_host=resource.get("current_host") or hosts[0],
        checkpoint_dir=_local_path(root, checkpoint.get("LocalPath")) if checkpoint else None,
    )


def _local_path(root: Path, local: str | None) -> Path:
    """Where a container path (``/opt/ml/checkpoints``) lives under the host root (the
    runtime's mapping, so the algorithm and the runner agree)."""
    try:
        return host_path(root, local or "/opt/ml/checkpoints", "CheckpointConfig.LocalPath")
    except PathError as error:
        raise UserError(str(error)) from None


def validate_channels(channels: dict[str, dict]) -> str:
    """Check the channels as the container does; returns the data format of ``train``
    (the container reads validation in train's format)."""
    for name in channels:
        if name not in ALLOWED_CHANNELS:
            raise UserError(f"Extraneous channel found: {name}")
    if "train" not in channels:
        raise UserError("Missing required channel: train")
    for name in ("train", "validation"):
        mode = (channels.get(name) or {}).get("TrainingInputMode", "File")
        if mode == "Pipe":
            raise UserError(
                f"Channel {name}: TrainingInputMode Pipe is not supported by simsage's built-in "
                "XGBoost; use File or FastFile."
            )
    return content_type_format(channels["train"].get("ContentType"))


# -- data ----------------------------------------------------------------------------------


def content_type_format(content_type: str | None) -> str:
    """The data format a channel's ContentType names.

    Args:
        content_type: the channel's ContentType, or None when the request set none.
    Returns:
        One of ``csv``, ``libsvm``, ``parquet``, ``recordio-protobuf``.
    Raises:
        UserError: an unknown ContentType, or a CSV ``label_size`` other than 1.
    """
    if content_type is None:
        return LIBSVM
    lowered = content_type.strip().lower()
    base, _, parameters = lowered.partition(";")
    base = base.strip()
    if base in ("text/libsvm", "text/x-libsvm", LIBSVM) and not parameters:
        return LIBSVM
    if base in ("text/csv", CSV):
        for parameter in filter(None, (p.strip() for p in parameters.split(";"))):
            name, _, value = parameter.partition("=")
            if name.strip() == "label_size" and value.strip().strip('"') != "1":
                raise UserError(
                    f"{content_type} is not an accepted csv ContentType. "
                    "Optional parameter label_size must be equal to 1"
                )
        return CSV
    if base in ("application/x-parquet", PARQUET) and not parameters:
        return PARQUET
    if base in ("application/x-recordio-protobuf", RECORDIO_PROTOBUF) and not parameters:
        return RECORDIO_PROTOBUF
    raise UserError(
        f"{content_type} is not an accepted ContentType: {', '.join(ACCEPTED_CONTENT_TYPES)}."
    )


def data_files(channel_dir: Path) -> list[Path]:
    """The channel's data files: every non-empty file under ``channel_dir`` (nested
    folders included) whose name and folders do not start with ``.`` or ``_``, sorted."""
    found = []
    for folder, subfolders, names in os.walk(channel_dir):
        subfolders[:] = [d for d in subfolders if not d.startswith((".", "_"))]
        for name in names:
            path = Path(folder) / name
            if name.startswith((".", "_")) or not path.is_file():
                continue
            if path.stat().st_size > 0:
                found.append(path)
    return sorted(found, key=lambda p: p.relative_to(channel_dir).parts)


def _first_line(path: Path) -> str:
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        return handle.readline()


def _snippet(line: str) -> str:
    return line.strip()[:50]


def sniff_delimiter(line: str, path: Path) -> str:
    """The CSV delimiter of ``line`` (the container sniffs the first line)."""
    stripped = line.strip("\r\n")
    if not any(d in stripped for d in CSV_DELIMITERS):
        return ","  # one column: only a label; any delimiter reads it
    try:
        delimiter = csv.Sniffer().sniff(stripped, delimiters=CSV_DELIMITERS).delimiter
    except csv.Error as error:
        raise UserError(
            f"Could not determine delimiter on line {_snippet(line)} of file '{path.name}': {error}"
        ) from None
    return delimiter


def _is_number(field: str) -> bool:
    field = field.strip()
    if not field:
        return True  # a missing value
    try:
        float(field)
    except ValueError:
        return False
    return True


def _check_csv_line(line: str, delimiter: str, path: Path) -> None:
    """Reject a header row: xgboost's reader would silently read it as a row of zeros."""
    fields = line.strip("\r\n").split(delimiter)
    if delimiter == " ":
        fields = [f for f in fields if f]
    bad = next((f for f in fields if not _is_number(f)), None)
    if bad is not None:
        raise UserError(
            f"First line '{_snippet(line)}...' of file '{path.name}' is not 'CSV' format: "
            f"'{bad.strip()[:30]}' is not a number. The built-in XGBoost algorithm expects CSV "
            "with no header row and the label in the first column."
        )


def _native_uri(paths: list[Path], **arguments: Any) -> str | None:
    """xgboost's text-loader URI for ``paths``, or None if a path cannot be written in one."""
    if any(_URI_SPECIAL & set(str(p)) for p in paths):
        return None
    query = "&".join(f"{key}={value}" for key, value in arguments.items())
    return ";".join(str(p) for p in paths) + "?" + query


def _native_load(uri: str | None) -> Any:
    """A DMatrix from xgboost's text loader, or None if the loader cannot be used."""
    if uri is None:
        return None
    import xgboost

    try:
        with warnings.catch_warnings():
            # 3.1 deprecated text input; it is still the fastest reader and the container's.
            warnings.filterwarnings("ignore", message=".*Text file input has been deprecated.*")
            return xgboost.DMatrix(uri)
    except xgboost.core.XGBoostError as error:
        logger.debug("xgboost's text loader failed, reading in Python: %s", error)
        return None


def load_csv(paths: list[Path], csv_weights: bool, native: bool = True) -> Any:
    """A DMatrix of label-first CSV files.

    Args:
        paths: the files, read in order and concatenated.
        csv_weights: column 1 holds the instance weights.
        native: try xgboost's own text loader first (False forces the pandas reader).
    Raises:
        UserError: the files are not CSV as the algorithm expects.
    """
    delimiters = {}
    for path in paths:
        line = _first_line(path)
        delimiters[path] = sniff_delimiter(line, path)
        _check_csv_line(line, delimiters[path], path)
    distinct = sorted(set(delimiters.values()))
    for delimiter in distinct:
        logger.info("Determined delimiter of CSV input is '%s'", delimiter)
    if len(distinct) > 1:
        described = ", ".join(f"'{p.name}' uses '{d}'" for p, d in delimiters.items())
        raise UserError(f"The CSV files of a channel must share one delimiter: {described}")
    delimiter = distinct[0]
    if native:
        arguments: dict[str, Any] = {"format": "csv", "label_column": 0, "delimiter": delimiter}
        if csv_weights:
            arguments["weight_column"] = 1
        dmatrix = _native_load(_native_uri(paths, **arguments))
        if dmatrix is not None:
            return dmatrix
    return _pandas_csv(paths, delimiter, csv_weights)


def _pandas_csv(paths: list[Path], delimiter: str, csv_weights: bool) -> Any:
    import numpy as np
    import pandas as pd
    import xgboost

    frames = []
    for path in paths:
        try:
            frame = pd.read_csv(
                path,
                header=None,
                sep=delimiter,
                engine="c",
                skipinitialspace=delimiter == " ",
            )
            frames.append(frame.apply(pd.to_numeric, errors="coerce").to_numpy(np.float32))
        except (ValueError, pd.errors.ParserError) as error:
            raise UserError(f"Failed to load csv data with exception:\n{error}") from None
    width = max(f.shape[1] for f in frames)
    matrix = np.vstack(
        [np.pad(f, ((0, 0), (0, width - f.shape[1])), constant_values=np.nan) for f in frames]
    )
    first = 2 if csv_weights else 1
    if matrix.shape[1] < first:
        raise UserError("CSV data with csv_weights=1 needs a label and a weight column")
    _require_numeric_labels(matrix[:, 0])
    try:
        return xgboost.DMatrix(
            matrix[:, first:],
            label=matrix[:, 0],
            weight=matrix[:, 1] if csv_weights else None,
            nthread=-1,
        )
    except xgboost.core.XGBoostError as error:
        message = str(error).split("Stack trace:", 1)[0].strip()
        raise UserError(f"Failed to load csv data with exception:\n{message}") from None


def _check_libsvm(paths: list[Path]) -> None:
    """The container's check: the first line's label is ``<label>[:<weight>]`` and its
    features are ``<index>:<value>``."""
    for path in paths:
        line = _first_line(path).strip()
        if not line:
            continue
        label, *features = line.split()
        parts = label.split(":")
        valid = len(parts) <= 2 and all(_is_number(p) and p for p in parts)
        valid = valid and all(f.count(":") == 1 for f in features if not f.startswith("#"))
        if not valid:
            raise UserError(
                f"First line '{_snippet(line)}...' of file '{path.name}' is not 'LIBSVM' format. "
                "Please ensure the file is in 'LIBSVM' format."
            )


def load_libsvm(paths: list[Path], native: bool = True) -> Any:
    """A DMatrix of libsvm files (``<label>[:<weight>] <index>:<value> …``).

    Raises:
        UserError: the files are not libsvm.
    """
    _check_libsvm(paths)
    if native:
        dmatrix = _native_load(_native_uri(paths, format="libsvm"))
        if dmatrix is not None:
            return dmatrix
    return _python_libsvm(paths)


def _python_libsvm(paths: list[Path]) -> Any:
    import numpy as np
    import scipy.sparse
    import xgboost

    labels, weights, indptr, indices, values = [], [], [0], [], []
    for path in paths:
        with path.open("r", encoding="utf-8", errors="replace") as handle:
            for number, raw in enumerate(handle, start=1):
                line = raw.split("#", 1)[0].strip()
                if not line:
                    continue
                try:
                    label, *features = line.split()
                    label_value, _, weight = label.partition(":")
                    labels.append(float(label_value))
                    weights.append(float(weight) if weight else 1.0)
                    for feature in features:
                        index, _, value = feature.partition(":")
                        if index == "qid":
                            continue
                        indices.append(int(index))
                        values.append(float(value))
                except ValueError:
                    raise UserError(
                        f"Line {number} '{_snippet(raw)}' of file '{path.name}' is not 'LIBSVM' format."
                    ) from None
                indptr.append(len(indices))
    width = (max(indices) + 1) if indices else 0
    matrix = scipy.sparse.csr_matrix(
        (np.asarray(values, np.float32), np.asarray(indices, np.int64), np.asarray(indptr)),
        shape=(len(labels), width),
    )
    has_weights = any(w != 1.0 for w in weights)
    return xgboost.DMatrix(
        matrix, label=np.asarray(labels), weight=np.asarray(weights) if has_weights else None
    )


def load_parquet(paths: list[Path]) -> Any:
    """A DMatrix of parquet files, label in the first column.

    Raises:
        UserError: pyarrow is missing, or a file is not parquet.
    """
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise UserError(
            "ContentType application/x-parquet needs the pyarrow package, which is not "
            "installed where simsage runs (pip install pyarrow)."
        ) from None
    import numpy as np
    import xgboost

    blocks = []
    for path in paths:
        try:
            table = pq.read_table(path)
        except Exception as error:  # pyarrow raises several types for a bad file
            raise UserError(f"Failed to load parquet data from '{path.name}': {error}") from None
        block = np.empty((table.num_rows, table.num_columns), dtype=np.float32)
        for j, column in enumerate(table.columns):
            try:
                block[:, j] = column.to_numpy()
            except Exception as error:  # a non-numeric column
                name = table.column_names[j]
                raise UserError(
                    f"Failed to load parquet data from '{path.name}': column '{name}' "
                    f"is not numeric ({column.type}): {error}"
                ) from None
        blocks.append(block)
    widths = {b.shape[1] for b in blocks}
    if len(widths) > 1:
        raise UserError(
            f"The parquet files of a channel have different numbers of columns: {widths}"
        )
    matrix = np.vstack(blocks)
    _require_numeric_labels(matrix[:, 0])
    return xgboost.DMatrix(matrix[:, 1:], label=matrix[:, 0], nthread=-1)


def load_channel(channel_dir: Path, data_format: str, csv_weights: bool = False) -> Any:
    """The DMatrix of one channel, or None if the channel holds no data.

    Args:
        channel_dir: ``input/data/<channel>``.
        data_format: from ``content_type_format``.
        csv_weights: for CSV, column 1 holds instance weights.
    Raises:
        UserError: unreadable data, or a format simsage does not read.
    """
    if data_format == RECORDIO_PROTOBUF:
        raise UserError(
            "ContentType application/x-recordio-protobuf is not supported by simsage's "
            "built-in XGBoost; use text/csv, text/libsvm or application/x-parquet."
        )
    paths = data_files(channel_dir) if channel_dir.is_dir() else []
    if not paths:
        return None
    if data_format == CSV:
        dmatrix = load_csv(paths, csv_weights)
    elif data_format == LIBSVM:
        dmatrix = load_libsvm(paths)
    else:
        dmatrix = load_parquet(paths)
    return dmatrix if dmatrix.num_row() > 0 else None


# -- labels --------------------------------------------------------------------------------

# What the label column may hold, per objective: (what it needs, the bad-value test). The
# tests are xgboost's own checks (src/objective/*.cu, src/common/ranking_utils.h), made
# before training so the reason names the column and the values instead of xgboost's
# "base_score must be in (0,1)" (what a NaN label becomes in its text loader).
_UNIT = ("labels in [0, 1] (label must be in [0,1] for logistic regression)", "unit")
_LABEL_RULES: dict[str, tuple[str, str]] = {
    "binary:logistic": _UNIT,
    "binary:logitraw": _UNIT,
    "reg:logistic": _UNIT,
    "binary:hinge": ("labels in [0, 1]", "unit"),
    "count:poisson": ("labels >= 0 (label must be nonnegative for Poisson regression)", "nonneg"),
    "reg:tweedie": ("labels >= 0 (label must be nonnegative for Tweedie regression)", "nonneg"),
    "reg:gamma": ("labels > 0 (label must be positive for gamma regression)", "positive"),
    "reg:squaredlogerror": ("labels > -1 (so that log(label + 1) is defined)", "above-1"),
    "rank:map": ("relevance labels 0 or 1 (map can only be used with binary labels)", "binary"),
}
_MAX_NDCG_RELEVANCE = 31  # with ndcg_exp_gain (the default), 2**label must stay exact
_SHOWN = 5


def _describe_values(bad: Any, total: int) -> str:
    import numpy as np

    distinct = np.unique(bad)  # sorted, one NaN for all of them
    shown = ", ".join("NaN" if np.isnan(v) else f"{v:g}" for v in distinct[:_SHOWN].tolist())
    more = ", ..." if distinct.size > _SHOWN else ""
    return f"{bad.size} of {total} labels ({shown}{more})"


def _not_numeric_message(labels: Any, where: str) -> str | None:
    import numpy as np

    bad = labels[~np.isfinite(labels)]
    if not bad.size:
        return None
    return (
        f"Label column (the first column){where} has {_describe_values(bad, labels.size)} "
        "that are missing or not finite numbers: every row needs a numeric label; NaN and "
        "infinity are never accepted."
    )


def _require_numeric_labels(labels: Any) -> None:
    message = _not_numeric_message(labels, "")
    if message:
        raise UserError(message)


def check_labels(labels: Any, channel: str, values: dict[str, Any], strict: bool) -> None:
    """Check a channel's labels against the objective before training.

    Args:
        labels: the label column (``DMatrix.get_label()``).
        channel: ``train`` or ``validation``, for the message.
        values: the validated hyperparameters (``objective``, ``num_class``,
            ``ndcg_exp_gain``).
        strict: apply the objective's range (train); otherwise only what xgboost also
            refuses for an evaluation set (NaN, and multi:* classes out of range).
    Raises:
        UserError: which values, how many, and what the objective needs.
    """
    import numpy as np

    labels = np.asarray(labels, dtype=np.float64)
    where = f" of the {channel} channel"
    message = _not_numeric_message(labels, where)
    if message:
        raise UserError(message)
    objective = str(values.get("objective", "reg:squarederror"))
    needs, bad = None, None
    if objective.startswith("multi:"):
        classes = int(values.get("num_class") or 0)
        needs = f"integer class labels in [0, {classes}) (num_class={classes})"
        bad = labels[(labels < 0) | (labels >= classes) | (labels != np.floor(labels))]
    elif strict and objective in _LABEL_RULES:
        needs, test = _LABEL_RULES[objective]
        outside = {
            "unit": (labels < 0) | (labels > 1),
            "nonneg": labels < 0,
            "positive": labels <= 0,
            "above-1": labels <= -1,
            "binary": (labels != 0) & (labels != 1),
        }[test]
        bad = labels[outside]
    elif strict and objective == "rank:ndcg" and values.get("ndcg_exp_gain", True):
        needs = (
            f"relevance labels <= {_MAX_NDCG_RELEVANCE} with the exponential gain "
            "(or set ndcg_exp_gain=false)"
        )
        bad = labels[labels > _MAX_NDCG_RELEVANCE]
    if bad is not None and bad.size:
        raise UserError(
            f"Label column (the first column){where} has {_describe_values(bad, labels.size)} "
            f"that objective {objective} does not accept: it needs {needs}."
        )
