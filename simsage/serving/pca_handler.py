"""Built-in PCA serving: the ``pca:1`` container's /invocations behaviour.

Layer: serving (runs in the inference server process); reads the model written by
:mod:`simsage.algorithms.pca_train` (``pca-model.json``); requests and answers as every
first-party algorithm (:mod:`simsage.serving.first_party_handler`).

Answers are ``{"projections": [{"projection": [...]}]}`` (note the envelope), JSON lines
``{"projection": [...]}``, RecordIO (``projection``, a float32 tensor) or CSV (one row of
``num_components`` values per record). A record is projected as ``(x − mean) · v`` when
the model was trained with ``subtract_mean=true`` (the default), ``x · v`` otherwise; as in
the real model the most significant component is the last value.
"""

from __future__ import annotations

from typing import Any

from simsage.serving.first_party_handler import FirstPartyHandler, ModelLoadError

__all__ = ["ModelLoadError", "PCAHandler"]

MODEL_FILE = "pca-model.json"
MODEL_FORMAT = "simsage-pca/1"


class PCAHandler(FirstPartyHandler):
    """Projects records on the principal components of a PCA model dir."""

    MODEL_FILE = MODEL_FILE
    MODEL_FORMAT = MODEL_FORMAT
    ALGORITHM = "pca"
    ENVELOPE = "projections"

    def setup(self, model: dict[str, Any]) -> None:
        import numpy as np

        self.v_ = np.asarray(model["v"], dtype=np.float64)
        self.mean_ = np.asarray(model["mean"], dtype=np.float64)
        if self.v_.ndim != 2 or self.mean_.shape != (self.v_.shape[0],):
            raise ValueError("v must be feature_dim × num_components and mean feature_dim long")
        if not model.get("subtract_mean", True):
            self.mean_ = np.zeros_like(self.mean_)
        self.model["feature_dim"] = self.v_.shape[0]

    def predict(self, x: Any, accept_params: dict[str, str]) -> list[dict[str, Any]]:
        """``projection`` of each row."""
        import numpy as np

        dense = x.toarray() if hasattr(x, "toarray") else x
        projections = (np.asarray(dense, dtype=np.float64) - self.mean_) @ self.v_
        return [{"projection": row.tolist()} for row in projections]
