"""The built-in k-means algorithm's metrics: names, tuning directions and log regexes.

Layer: programs; the control plane imports it (metric definitions), so it imports only
the standard library.

Invariants:
- The algorithm logs each metric as ``#quality_metric: host=algo-1, <channel> <metric>
  <loss>=<value>`` (the first-party containers' format, as public notebook logs show it).
- ``msd`` is the mean and ``ssd`` the sum of squared Euclidean distances from each record
  to its closest center; both are minimised.
- Metric names are ``<channel>:<metric>``: ``test:msd``, ``test:ssd`` (the tuning metrics)
  and ``train:msd`` (logged on the training data).
"""

from __future__ import annotations

_NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
EVAL_METRICS = ("msd", "ssd")
OBJECTIVE_DIRECTION: dict[str, str] = {"test:msd": "Minimize", "test:ssd": "Minimize"}


def metric_line(host: str, channel: str, metric: str, value: float) -> str:
    """One metric as the container logs it."""
    return f"#quality_metric: host={host}, {channel} {metric} <loss>={value}"


def metric_regex(channel: str, metric: str) -> str:
    """The regex that finds ``<channel> <metric>``'s value in a log line."""
    return rf".*#quality_metric: host=\S+, {channel} {metric} <loss>={_NUMBER}"


METRIC_DEFINITIONS: list[dict[str, str]] = [
    {"Name": f"{channel}:{metric}", "Regex": metric_regex(channel, metric)}
    for channel, metric in (("test", "msd"), ("test", "ssd"), ("train", "msd"))
]
