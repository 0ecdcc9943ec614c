"""Built-in linear learner serving: the ``linear-learner:1`` container's /invocations.

Layer: serving (runs in the inference server process); reads the model written by
:mod:`simsage.algorithms.linear_learner_train` (``linear-learner-model.json``) and scores
with :func:`simsage.algorithms.linear_learner_model.predict`; requests and answers as every
first-party algorithm (:mod:`simsage.serving.first_party_handler`).

Answers, as the developer guide's LL-in-formats page shows them:
- binary: ``{"predictions": [{"score": 0.4, "predicted_label": 0}]}`` (the score is the
  probability of label 1 with the logistic loss, the raw margin with hinge_loss; the label
  uses the decision threshold chosen in training);
- multiclass: ``{"score": [p0, …], "predicted_label": 2}`` (softmax probabilities);
- regressor: ``{"score": 0.4}``.
JSON lines give one object per line; RecordIO gives a Record per prediction with float32
``score`` and ``predicted_label`` label entries (what the SDK's LinearLearnerPredictor
reads). simsage also answers ``text/csv`` (``score[,predicted_label]``, multiclass scores
first): the LL-in-formats page lists no CSV answer and whether the container gives one is
unverified.
"""

from __future__ import annotations

from typing import Any

from simsage.serving.first_party_handler import FirstPartyHandler, ModelLoadError

__all__ = ["LinearLearnerHandler", "ModelLoadError"]

MODEL_FILE = "linear-learner-model.json"
MODEL_FORMAT = "simsage-linear-learner/1"


class LinearLearnerHandler(FirstPartyHandler):
    """Scores requests with the selected linear model of a linear learner model dir."""

    MODEL_FILE = MODEL_FILE
    MODEL_FORMAT = MODEL_FORMAT
    ALGORITHM = "linear-learner"

    def setup(self, model: dict[str, Any]) -> None:
        import numpy as np

        self.weights_ = np.asarray(model["weights"], dtype=np.float64)
        self.bias_ = np.asarray(model["bias"], dtype=np.float64)
        if self.weights_.ndim != 2 or self.bias_.shape != (self.weights_.shape[1],):
            raise ValueError("weights must be (feature_dim, K) and bias (K,)")
        if model["predictor_type"] not in ("binary_classifier", "multiclass_classifier",
                                           "regressor"):  # fmt: skip
            raise ValueError(f"unknown predictor_type {model['predictor_type']!r}")
        self.model["feature_dim"] = self.weights_.shape[0]

    def predict(self, x: Any, accept_params: dict[str, str]) -> list[dict[str, Any]]:
        """One ``{"score", "predicted_label"}`` (``{"score"}`` for regression) per row."""
        from simsage.algorithms.linear_learner_model import predict

        result = predict(x, self.model, self.weights_, self.bias_)
        scores = result["score"].tolist()
        if "predicted_label" not in result:
            return [{"score": s} for s in scores]
        labels = result["predicted_label"].tolist()
        return [
            {"score": s, "predicted_label": int(p)} for s, p in zip(scores, labels, strict=True)
        ]
