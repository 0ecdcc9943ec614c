"""The built-in k-NN algorithm's metrics: names, tuning directions and log regexes.

Layer: programs; the control plane imports it (metric definitions), so it imports only
the standard library.

Invariants:
- With a ``test`` channel the algorithm scores the final index once: ``test:accuracy``
  (classifier: the share of test records whose predicted label equals theirs, Maximize)
  or ``test:mse`` (regressor: the mean squared error, Minimize), the metrics kNN-tuning
  documents. It logs ``#test_score (algo-1) : ('accuracy', 0.98)`` (the docs' sample
  output) and ``#quality_metric: host=algo-1, test accuracy <score>=0.98``, which the
  regexes read.
"""

from __future__ import annotations

from simsage.algorithms.first_party import metric_definitions, metric_line, metric_regex

__all__ = ["METRIC_DEFINITIONS", "OBJECTIVE_DIRECTION", "metric_line", "metric_regex"]

OBJECTIVE_DIRECTION: dict[str, str] = {"test:accuracy": "Maximize", "test:mse": "Minimize"}
METRIC_DEFINITIONS: list[dict[str, str]] = metric_definitions(
    [("test", "accuracy"), ("test", "mse")]
)
