"""Built-in random cut forest serving: the ``randomcutforest:1`` container's /invocations.

Layer: serving (runs in the inference server process); reads the model written by
:mod:`simsage.algorithms.rcf_train` (``randomcutforest-model.json``) and scores with
:mod:`simsage.algorithms.rcf_forest`; requests and answers as every first-party algorithm
(:mod:`simsage.serving.first_party_handler`).

Answers are ``{"scores": [{"score": 0.93}, ...]}`` (envelope ``scores``, as the container
answers), JSON lines ``{"score": ...}``, RecordIO (a float32 ``score`` label per record, as
the SDK's RandomCutForestPredictor reads it) or CSV (one score per line). Higher scores are
more anomalous; typical records score about 1 and users flag those above mean + 3σ.
"""

from __future__ import annotations

from typing import Any

from simsage.serving.first_party_handler import FirstPartyHandler, ModelLoadError
from simsage.serving.scoring import ScoringError

__all__ = ["ModelLoadError", "RandomCutForestHandler"]

MODEL_FILE = "randomcutforest-model.json"
MODEL_FORMAT = "simsage-randomcutforest/1"


class RandomCutForestHandler(FirstPartyHandler):
    """Scores requests with the forest of a random cut forest model dir."""

    MODEL_FILE = MODEL_FILE
    MODEL_FORMAT = MODEL_FORMAT
    ALGORITHM = "randomcutforest"
    ENVELOPE = "scores"

    def setup(self, model: dict[str, Any]) -> None:
        from simsage.algorithms import rcf_forest

        self.forest_ = rcf_forest.Forest.from_arrays(rcf_forest.decode(model["forest"]))
        self.model["feature_dim"] = self.forest_.feature_dim

    def predict(self, x: Any, accept_params: dict[str, str]) -> list[dict[str, float]]:
        """The anomaly score of each row (400 for NaN or infinite values, which have no
        place in a box)."""
        import numpy as np

        if hasattr(x, "toarray"):
            x = x.toarray()
        if not np.isfinite(x).all():
            raise ScoringError(400, "Invalid input: records must hold finite numbers only")
        return [{"score": score} for score in self.forest_.score(x).tolist()]
