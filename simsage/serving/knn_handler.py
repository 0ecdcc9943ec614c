"""Built-in k-NN serving: the ``knn:1`` container's /invocations behaviour.

Layer: serving (runs in the inference server process); reads the model written by
:mod:`simsage.algorithms.knn_train` (``knn-model.json`` metadata, ``knn-model.npz``
arrays) and queries it with :mod:`simsage.algorithms.knn_index`; requests and answers as
every first-party algorithm (:mod:`simsage.serving.first_party_handler`).

Answers are ``{"predictions": [{"predicted_label": 0.0}]}`` (floats), JSON lines, RecordIO
(``predicted_label``) or CSV. With ``verbose=true`` in the Accept header
(``application/json; verbose=true``, also for JSON lines and RecordIO) each prediction also
carries ``distances`` (nearest first; squared L2, or similarities for INNER_PRODUCT and
COSINE) and the matching neighbours' ``labels``, in the docs' key order.
Loading reads the arrays once (an uncompressed npz, no pickles), so start-up stays fast
for large samples.
"""

from __future__ import annotations

from typing import Any

from simsage.serving.first_party_handler import FirstPartyHandler, ModelLoadError

__all__ = ["KNNHandler", "ModelLoadError"]

MODEL_FILE = "knn-model.json"
ARRAYS_FILE = "knn-model.npz"
MODEL_FORMAT = "simsage-knn/1"


class KNNHandler(FirstPartyHandler):
    """Predicts labels from the k nearest sampled training points of a k-NN model dir."""

    MODEL_FILE = MODEL_FILE
    MODEL_FORMAT = MODEL_FORMAT
    ALGORITHM = "knn"

    def setup(self, model: dict[str, Any]) -> None:
        import zipfile

        import numpy as np

        from simsage.algorithms.knn_index import Index

        try:
            with np.load(self.model_dir / ARRAYS_FILE, allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
        except FileNotFoundError:
            raise ModelLoadError(
                f"no {ARRAYS_FILE} next to {MODEL_FILE}: serve a model trained by the knn image"
            ) from None
        except (OSError, zipfile.BadZipFile) as exc:
            raise ModelLoadError(f"{ARRAYS_FILE} is not a valid array file: {exc}") from None
        self.index_ = Index(model, arrays)

    def predict(self, x: Any, accept_params: dict[str, str]) -> list[dict[str, Any]]:
        """``predicted_label`` of each row (with ``distances`` and ``labels`` if verbose)."""
        predictions, labels, distances = self.index_.query(x)
        if accept_params.get("verbose", "").lower() != "true":
            return [{"predicted_label": float(p)} for p in predictions]
        return [
            {"predicted_label": float(p), "distances": d.tolist(), "labels": n.tolist()}
            for p, d, n in zip(predictions, distances, labels, strict=True)
        ]
