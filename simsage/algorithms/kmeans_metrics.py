"""The built-in k-means algorithm's metrics: names, tuning directions and log regexes.

Layer: programs; the control plane imports it (metric definitions), so it imports only
the standard library.

Invariants:
- The algorithm logs each metric as ``#quality_metric: host=algo-1, <channel> <metric>
  <loss>=<value>`` (:func:`simsage.algorithms.first_party.metric_line`).
- ``msd`` is the mean and ``ssd`` the sum of squared Euclidean distances from each record
  to its closest center; both are minimised.
- Metric names are ``<channel>:<metric>``: ``test:msd``, ``test:ssd`` (the tuning metrics)
  and ``train:msd`` (logged on the training data).
"""

from __future__ import annotations

from simsage.algorithms.first_party import metric_definitions, metric_line, metric_regex

__all__ = ["EVAL_METRICS", "METRIC_DEFINITIONS", "OBJECTIVE_DIRECTION", "metric_line",
           "metric_regex"]  # fmt: skip

EVAL_METRICS = ("msd", "ssd")
OBJECTIVE_DIRECTION: dict[str, str] = {"test:msd": "Minimize", "test:ssd": "Minimize"}
METRIC_DEFINITIONS: list[dict[str, str]] = metric_definitions(
    [("test", "msd"), ("test", "ssd"), ("train", "msd")]
)
