"""The built-in random cut forest's metrics: names, tuning directions and log regexes.

Layer: programs; the control plane imports it (metric definitions), so it imports only
the standard library.

Invariants:
- The algorithm logs each metric as ``#quality_metric: host=algo-1, test <metric>
  <score>=<value>`` (:func:`simsage.algorithms.first_party.metric_line`), only with a
  labelled ``test`` channel (``text/csv;label_size=1``, label 1 = anomaly).
- A record is predicted anomalous when its score exceeds the model's ``score_cutoff``
  (computed during training, see :mod:`simsage.algorithms.rcf_train`); precision, recall
  and f1 are those of the anomaly class (label 1).
- ``test:f1`` is the tuning metric (Maximize, as random-cut-forest-tuning.md lists it);
  ``accuracy`` is logged with ``eval_metrics`` ∋ ``accuracy``, ``precision``/``recall``
  with ∋ ``precision_recall_fscore``; ``f1`` always.
"""

from __future__ import annotations

from simsage.algorithms.first_party import metric_definitions, metric_line, metric_regex

__all__ = ["EVAL_METRICS", "METRIC_DEFINITIONS", "OBJECTIVE_DIRECTION", "metric_line",
           "metric_regex"]  # fmt: skip

EVAL_METRICS = ("accuracy", "precision_recall_fscore")
# random-cut-forest-tuning.md lists test:f1 alone as the tuning metric.
OBJECTIVE_DIRECTION: dict[str, str] = {"test:f1": "Maximize"}
METRIC_DEFINITIONS: list[dict[str, str]] = metric_definitions(
    [("test", "f1"), ("test", "accuracy"), ("test", "precision"), ("test", "recall")]
)
