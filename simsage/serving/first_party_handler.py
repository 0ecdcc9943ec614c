"""What every first-party algorithm's serving shares: loading simsage's JSON model file,
content negotiation, decoding requests and encoding answers as the 1P containers do.

Layer: serving (runs in the inference server process); uses the first-party request and
response formats of :mod:`simsage.algorithms.first_party_data`.

A subclass names its model file and format and implements :meth:`predict`; requests are
``text/csv`` (features only), ``application/json``, ``application/jsonlines`` or
``application/x-recordio-protobuf`` (415 otherwise); answers are JSON (the default, for no
Accept or ``*/*``) with the algorithm's envelope (``predictions``, ``scores``,
``projections``), JSON lines, RecordIO (each key a ``label`` entry) or CSV (406 otherwise).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from simsage.algorithms import first_party_data as data
from simsage.serving.scoring import Response, ScoringError


class ModelLoadError(Exception):
    """The model directory holds no model of this algorithm that simsage wrote."""


class FirstPartyHandler:
    """Scores requests with a first-party model dir (subclass per algorithm).

    Subclasses set ``MODEL_FILE``, ``MODEL_FORMAT``, ``ALGORITHM`` (the image's repository,
    for messages) and ``ENVELOPE``, and implement :meth:`setup` and :meth:`predict`.
    """

    MODEL_FILE = ""
    MODEL_FORMAT = ""
    ALGORITHM = ""
    ENVELOPE = "predictions"

    def __init__(self, model_dir: str | os.PathLike[str]) -> None:
        self.model_dir = Path(model_dir)
        self.model: dict[str, Any] = {}

    def load(self) -> FirstPartyHandler:
        """Read the model file now and call :meth:`setup`; raises ModelLoadError."""
        path = self.model_dir / self.MODEL_FILE
        try:
            model = json.loads(path.read_text())
        except FileNotFoundError:
            raise ModelLoadError(
                f"no {self.MODEL_FILE} in the model archive: serve a model trained by the "
                f"{self.ALGORITHM} image"
            ) from None
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"{self.MODEL_FILE} is not JSON: {exc}") from None
        if not isinstance(model, dict) or model.get("format") != self.MODEL_FORMAT:
            raise ModelLoadError(f"{self.MODEL_FILE} is not a {self.MODEL_FORMAT} model")
        self.model = model
        try:
            self.setup(model)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(f"{self.MODEL_FILE} is not a valid model: {exc}") from None
        return self

    def setup(self, model: dict[str, Any]) -> None:
        """Prepare scoring from the model file's contents (arrays and so on)."""

    def feature_dim(self) -> int | None:
        """The number of features a record must have (None: not checked here)."""
        value = self.model.get("feature_dim")
        return int(value) if value is not None else None

    def predict(self, x: Any, accept_params: dict[str, str]) -> list[dict[str, Any]]:
        """One dict per record of ``x`` (float32 ndarray or CSR matrix);
        ``accept_params`` are the Accept header's parameters (``verbose=true`` …)."""
        raise NotImplementedError

    def invoke(
        self,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """Answer one /invocations request (raises ScoringError for 4xx)."""
        mime, _ = data.parse_content_type(content_type or data.CSV)
        if mime not in data.REQUEST_TYPES:
            raise ScoringError(
                415,
                f"Content type {content_type} is not supported. Accepted: "
                f"{', '.join(data.REQUEST_TYPES)}.",
            )
        accepted = negotiate(accept)
        if accepted is None:
            raise ScoringError(
                406,
                f"Accept type {accept} is not supported. Accepted: "
                f"{', '.join(data.RESPONSE_TYPES)}.",
            )
        if not body:
            raise ScoringError(400, "Invalid input: the request body is empty")
        try:
            x = data.decode_request(body, content_type)
        except ValueError as exc:
            raise ScoringError(400, f"Invalid input: {exc}") from None
        width = self.feature_dim()
        if width is not None and x.shape[1] != width:
            raise ScoringError(
                400,
                f"Invalid input: each record has {x.shape[1]} features but the model was "
                f"trained with feature_dim={width}",
            )
        answer, answer_type = data.encode_response(
            self.predict(x, accepted[1]), accepted[0], self.ENVELOPE
        )
        return Response(answer, answer_type)


def negotiate(accept: str | None) -> tuple[str, dict[str, str]] | None:
    """The first supported type of an Accept header with its parameters (JSON for none or
    ``*/*``), or None when none is supported."""
    if not accept:
        return data.JSON, {}
    for item in accept.split(","):
        mime, params = data.parse_content_type(item)
        if mime in ("*/*", ""):
            return data.JSON, params
        if mime in data.RESPONSE_TYPES:
            return mime, params
    return None
