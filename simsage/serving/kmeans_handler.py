"""Built-in k-means serving: the ``kmeans:1`` container's /invocations behaviour.

Layer: serving (runs in the inference server process); reads the model written by
:mod:`simsage.algorithms.kmeans_train` (``kmeans-model.json``) and uses the first-party
request/response formats of :mod:`simsage.algorithms.first_party_data`.

Invariants: requests are ``text/csv`` (features only), ``application/json``,
``application/jsonlines`` or ``application/x-recordio-protobuf`` (415 otherwise); answers
are ``{"predictions": [{"closest_cluster": 1.0, "distance_to_cluster": 3.0}]}`` (floats, as
the container answers), JSON lines, RecordIO (each key a ``label`` entry) or CSV
``closest_cluster,distance_to_cluster`` (406 for anything else); the default answer is
JSON. The distance is Euclidean.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from simsage.algorithms import first_party_data as data
from simsage.serving.scoring import Response, ScoringError

MODEL_FILE = "kmeans-model.json"
MODEL_FORMAT = "simsage-kmeans/1"


class ModelLoadError(Exception):
    """The model directory holds no k-means model simsage wrote."""


class KMeansHandler:
    """Scores requests with the centers of a k-means model dir."""

    def __init__(self, model_dir: str | os.PathLike[str]) -> None:
        self.model_dir = Path(model_dir)
        self.centers_: Any = None

    def load(self) -> KMeansHandler:
        """Load the centers now; raises ModelLoadError."""
        import numpy as np

        path = self.model_dir / MODEL_FILE
        try:
            model = json.loads(path.read_text())
        except FileNotFoundError:
            raise ModelLoadError(
                f"no {MODEL_FILE} in the model archive: serve a model trained by the kmeans image"
            ) from None
        except ValueError as exc:
            raise ModelLoadError(f"{MODEL_FILE} is not JSON: {exc}") from None
        if not isinstance(model, dict) or model.get("format") != MODEL_FORMAT:
            raise ModelLoadError(f"{MODEL_FILE} is not a {MODEL_FORMAT} model")
        self.centers_ = np.asarray(model["centers"], dtype=np.float64)
        return self

    def predict(self, x: Any) -> list[dict[str, float]]:
        """``closest_cluster`` and Euclidean ``distance_to_cluster`` of each row."""
        import numpy as np
        from sklearn.metrics.pairwise import euclidean_distances

        width = self.centers_.shape[1]
        if x.shape[1] != width:
            raise ScoringError(
                400,
                f"Invalid input: each record has {x.shape[1]} features but the model was "
                f"trained with feature_dim={width}",
            )
        squared = euclidean_distances(x, self.centers_, squared=True)
        closest = np.argmin(squared, axis=1)
        distance = np.sqrt(np.maximum(squared[np.arange(len(closest)), closest], 0.0))
        return [
            {"closest_cluster": float(c), "distance_to_cluster": float(d)}
            for c, d in zip(closest, distance, strict=True)
        ]

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
        accepted = _accept(accept)
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
        answer, answer_type = data.encode_response(self.predict(x), accepted)
        return Response(answer, answer_type)


def _accept(accept: str | None) -> str | None:
    """The first supported type of an Accept header (JSON for none or ``*/*``)."""
    if not accept:
        return data.JSON
    for item in accept.split(","):
        mime, _ = data.parse_content_type(item)
        if mime in ("*/*", ""):
            return data.JSON
        if mime in data.RESPONSE_TYPES:
            return mime
    return None
