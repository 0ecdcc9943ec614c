"""Built-in XGBoost serving: the algorithm-mode container's /invocations behaviour.

Invariants (CONTRACTS B): the model is every non-dot file in the model dir; inference
CSV has no label column and an empty field is NaN; a missing Content-Type means
libsvm; the order of checks is the container's — empty body (204), parse (415),
predict (400 ``Unable to evaluate payload provided: …``), Accept (406).

Model files: JSON/UBJSON (1.3-1 on); a pickled Booster, as the containers before 1.3-1
saved it, read by :mod:`simsage.serving.xgboost_pickle` without running the pickle; or
XGBoost's binary format of 0.72–1.2, converted by
:mod:`simsage.serving.xgboost_legacy_model`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from simsage.serving import scoring, xgboost_pickle
from simsage.serving import xgboost_legacy_model as legacy_model
from simsage.serving.scoring import (
    CSV,
    JSON,
    JSONLINES,
    LIBSVM,
    RECORDIO,
    X_LIBSVM,
    Response,
    ScoringError,
)

CONTENT_TYPES = (CSV, LIBSVM, X_LIBSVM)
ACCEPT_TYPES = (CSV, JSON, JSONLINES)
DEFAULT_ACCEPT_ENV = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"
BATCH_ENV = "SAGEMAKER_BATCH"


class ModelLoadError(Exception):
    """The model directory holds nothing xgboost can load."""


def _load_booster(path: Path) -> Any:
    """One model file: JSON/UBJSON (1.3-1 on), else a pickled Booster (the containers
    before 1.3-1, read without running the pickle), else the old binary format
    (``save_model`` of XGBoost 0.72–1.2), converted for the installed xgboost."""
    import xgboost as xgb

    raw = path.read_bytes()
    booster = xgb.Booster()
    try:
        # From a buffer xgboost sniffs JSON/UBJ itself, without the "Unknown file
        # format" warning it prints for an extension-less file name.
        booster.load_model(bytearray(raw))
        return booster
    except xgb.core.XGBoostError as exc:
        reason = str(exc).split("Stack trace:", 1)[0].strip()
    if xgboost_pickle.looks_like_pickle(raw):
        try:
            return xgboost_pickle.load(raw)
        except xgboost_pickle.PickleError as exc:
            if not legacy_model.looks_legacy(raw):
                raise ModelLoadError(f"{path.name} is not an xgboost model: {exc}") from None
    try:
        return legacy_model.load(raw)
    except legacy_model.LegacyModelError as exc:
        if legacy_model.looks_legacy(raw):
            raise ModelLoadError(
                f"{path.name} is an XGBoost binary model (before 1.3) that cannot be read: {exc}"
            ) from None
    raise ModelLoadError(f"{path.name} is not an xgboost model: {reason}")


def load_models(model_dir: str | os.PathLike[str]) -> list[Any]:
    """Load every non-dot file of ``model_dir`` as an xgboost Booster.

    Raises
    ------
    ModelLoadError
        When the folder is missing, holds no model file or a file is not a model.
    """
    folder = Path(model_dir)
    if not folder.is_dir():
        raise ModelLoadError(f"model directory {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise ModelLoadError(f"no model file found in {folder} (expected xgboost-model)")
    return [_load_booster(p) for p in files]


def parse_libsvm(text: str, num_features: int) -> Any:
    """Parse libsvm rows (``[label] idx:val …``; the label, if any, is ignored) into a
    DMatrix. Indices are column numbers as written (xgboost's loader is 0-based).

    Raises
    ------
    ScoringError
        415 for a malformed row.
    """
    import scipy.sparse
    import xgboost as xgb

    data: list[float] = []
    indices: list[int] = []
    indptr = [0]
    for number, line in enumerate(text.splitlines(), 1):
        tokens = line.split()
        if not tokens:
            continue
        if ":" not in tokens[0]:
            tokens = tokens[1:]
        for token in tokens:
            idx, sep, val = token.partition(":")
            try:
                if not sep:
                    raise ValueError(f"expected idx:value, got {token!r}")
                column = int(idx)
                if column < 0:
                    raise ValueError(f"negative feature index {column}")
                indices.append(column)
                data.append(float(val))
            except ValueError as exc:
                raise ScoringError(
                    415, f"Loading libsvm data failed on row {number}: {exc}"
                ) from exc
        indptr.append(len(indices))
    if len(indptr) == 1:
        raise ScoringError(415, "Empty libsvm payload")
    width = max(num_features, (max(indices) + 1) if indices else 0)
    matrix = scipy.sparse.csr_matrix(
        (np.asarray(data, dtype=np.float32), np.asarray(indices), np.asarray(indptr)),
        shape=(len(indptr) - 1, width),
    )
    return xgb.DMatrix(matrix)


def parse_payload(body: bytes, content_type: str | None, num_features: int) -> tuple[str, Any]:
    """Decode an /invocations body for the built-in XGBoost model.

    Returns
    -------
    ``(kind, data)``: ``("csv", 2-D float32 array)`` or ``("libsvm", DMatrix)``.

    Raises
    ------
    ScoringError
        415 for an unsupported content type or an unparseable body.
    """
    base, params = scoring.parse_content_type(content_type)
    if base == CSV:
        if scoring.charset_of(params).lower().replace("-", "") in ("utf8", "usascii", "ascii"):
            return "csv", scoring.csv_to_array(body)  # UTF-8 bytes parse without decoding
        return "csv", scoring.csv_to_array(scoring.decode_text(body, params))
    if base in ("", LIBSVM, X_LIBSVM):
        return "libsvm", parse_libsvm(scoring.decode_text(body, params), num_features)
    if base == RECORDIO:
        raise ScoringError(
            415,
            f"Content type {RECORDIO} is not supported by simsage. Accepted: {', '.join(CONTENT_TYPES)}.",
        )
    raise ScoringError(415, scoring.unsupported_format_message(content_type, CONTENT_TYPES))


def encode_predictions(preds: np.ndarray, accept: str, batch: bool) -> bytes:
    """Encode predictions as the container does for ``accept`` (already negotiated)."""
    if accept == CSV:
        if batch and preds.ndim == 1:
            return ("\n".join(str(v) for v in preds) + "\n").encode("utf-8")
        return scoring.array_to_csv(preds).encode("utf-8")
    records = [{"score": row.tolist() if preds.ndim > 1 else row.item()} for row in preds]
    if accept == JSON:
        return json.dumps({"predictions": records}).encode("utf-8")
    return "".join(json.dumps(r) + "\n" for r in records).encode("utf-8")


def _in_place(model: Any) -> bool:
    """Whether ``model`` predicts from an array in place (gblinear cannot)."""
    config = json.loads(model.save_config())
    return config["learner"]["gradient_booster"]["name"] != "gblinear"


def _predict(model: Any, in_place: bool, kind: str, data: Any) -> Any:
    if kind == "csv" and in_place:
        return model.inplace_predict(data, validate_features=False)
    if kind == "csv":
        import xgboost as xgb

        data = xgb.DMatrix(data)
    return model.predict(data, validate_features=False)


class XGBoostHandler:
    """Scores requests with the Booster(s) of a model dir, as the built-in container.

    Parameters
    ----------
    model_dir:
        The extracted ``model.tar.gz`` (``/opt/ml/model``).
    environ:
        The container environment (``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``,
        ``SAGEMAKER_BATCH``); defaults to ``os.environ``.
    """

    def __init__(
        self, model_dir: str | os.PathLike[str], environ: dict[str, str] | None = None
    ) -> None:
        self.model_dir = Path(model_dir)
        self.environ = dict(os.environ if environ is None else environ)
        self.models_: list[Any] | None = None

    def load(self) -> XGBoostHandler:
        """Load the model(s) now; raises ModelLoadError."""
        self.models_ = load_models(self.model_dir)
        self.in_place_ = [_in_place(m) for m in self.models_]
        self.num_features_ = max(m.num_features() for m in self.models_)
        self.default_accept_ = self.environ.get(DEFAULT_ACCEPT_ENV) or CSV
        self.batch_ = bool(self.environ.get(BATCH_ENV))
        return self

    def predict(self, kind: str, data: Any) -> np.ndarray:
        """Run the model(s) on decoded data; raises ScoringError 400 on failure."""
        assert self.models_ is not None, "load() first"
        try:
            outputs = [
                _predict(m, in_place, kind, data)
                for m, in_place in zip(self.models_, self.in_place_, strict=True)
            ]
        except Exception as exc:  # xgboost raises XGBoostError, ValueError, TypeError…
            # xgboost appends a native stack trace; the first part is the message.
            reason = str(exc).split("\nStack trace:", 1)[0].strip()
            raise ScoringError(400, f"Unable to evaluate payload provided: {reason}") from exc
        preds = outputs[0] if len(outputs) == 1 else np.mean(outputs, axis=0)
        return np.asarray(preds)

    def invoke(
        self,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """Answer one /invocations request (raises ScoringError for 4xx)."""
        if not body:
            return Response(b"", "text/plain", status=204)
        kind, data = parse_payload(body, content_type, self.num_features_)
        preds = self.predict(kind, data)
        chosen = scoring.negotiate_accept(accept, ACCEPT_TYPES, self.default_accept_)
        if chosen is None:
            raise ScoringError(
                406, f"Accept type {accept} is not supported. Accepted: {', '.join(ACCEPT_TYPES)}."
            )
        return Response(encode_predictions(preds, chosen, self.batch_), chosen)
