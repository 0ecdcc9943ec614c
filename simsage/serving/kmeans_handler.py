"""Built-in k-means serving: the ``kmeans:1`` container's /invocations behaviour.

Layer: serving (runs in the inference server process); reads the model written by
:mod:`simsage.algorithms.kmeans_train` (``kmeans-model.json``); requests and answers as
every first-party algorithm (:mod:`simsage.serving.first_party_handler`).

Answers are ``{"predictions": [{"closest_cluster": 1.0, "distance_to_cluster": 3.0}]}``
(floats, as the container answers), JSON lines, RecordIO or CSV
``closest_cluster,distance_to_cluster``. The distance is Euclidean, computed as in
training (:func:`simsage.algorithms.kmeans_core.squared_distances`; no scikit-learn).
"""

from __future__ import annotations

from typing import Any

from simsage.serving.first_party_handler import FirstPartyHandler, ModelLoadError

__all__ = ["KMeansHandler", "ModelLoadError"]

MODEL_FILE = "kmeans-model.json"
MODEL_FORMAT = "simsage-kmeans/1"


class KMeansHandler(FirstPartyHandler):
    """Scores requests with the centers of a k-means model dir."""

    MODEL_FILE = MODEL_FILE
    MODEL_FORMAT = MODEL_FORMAT
    ALGORITHM = "kmeans"

    def setup(self, model: dict[str, Any]) -> None:
        import numpy as np

        self.centers_ = np.asarray(model["centers"], dtype=np.float64)
        self.model["feature_dim"] = self.centers_.shape[1]

    def predict(self, x: Any, accept_params: dict[str, str]) -> list[dict[str, float]]:
        """``closest_cluster`` and Euclidean ``distance_to_cluster`` of each row."""
        import numpy as np

        from simsage.algorithms.kmeans_core import squared_distances

        closest, squared = squared_distances(x, self.centers_)
        distance = np.sqrt(squared)
        return [
            {"closest_cluster": float(c), "distance_to_cluster": float(d)}
            for c, d in zip(closest, distance, strict=True)
        ]
