"""The first-party (1P) algorithms simsage emulates: one row per ECR repository.

Layer: programs; the control plane imports it (image recognition, channel checks, metric
definitions, the serving handler's name), so it imports only the standard library.

An algorithm named ``<name>`` in :data:`ALGORITHMS` is made of three modules:

- ``simsage.algorithms.<name>_train``: the container's ``train``, one process per host
  (see :mod:`simsage.algorithms.first_party_train` for the shared pieces);
- ``simsage.algorithms.<name>_metrics``: ``METRIC_DEFINITIONS`` (the metrics it logs,
  usable as tuning objectives) and ``OBJECTIVE_DIRECTION``, standard library only;
- ``simsage.serving.<name>_handler``: the class named by ``handler``, which answers
  ``/invocations`` (see :mod:`simsage.serving.first_party_handler`).

Every 1P algorithm logs its metrics as ``#quality_metric: host=algo-1, <channel> <metric>
<loss|score>=<value>`` (the containers' format as public notebook logs show it).
"""

from __future__ import annotations

from dataclasses import dataclass

_NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


@dataclass(frozen=True)
class Algorithm:
    """One first-party algorithm image (the same image trains and serves)."""

    repo: str  # the ECR repository, e.g. ``linear-learner``
    name: str  # the module stem, e.g. ``linear_learner``
    channels: tuple[str, ...]  # the channels it accepts; ``train`` is required
    handler: str  # the serving class in simsage.serving.<name>_handler
    emulated: bool = True

    @property
    def train_module(self) -> str:
        return f"simsage.algorithms.{self.name}_train"

    @property
    def metrics_module(self) -> str:
        return f"simsage.algorithms.{self.name}_metrics"

    @property
    def handler_module(self) -> str:
        return f"simsage.serving.{self.name}_handler"


ALGORITHMS: dict[str, Algorithm] = {
    "kmeans": Algorithm(
        "kmeans",
        "kmeans",
        ("train", "test"),
        "KMeansHandler",
    ),
    "linear-learner": Algorithm(
        "linear-learner",
        "linear_learner",
        ("train", "validation", "test"),
        "LinearLearnerHandler",
    ),
    "randomcutforest": Algorithm(
        "randomcutforest",
        "rcf",
        ("train", "test"),
        "RandomCutForestHandler",
    ),
    "knn": Algorithm(
        "knn",
        "knn",
        ("train", "test"),
        "KNNHandler",
    ),
    "pca": Algorithm(
        "pca",
        "pca",
        ("train", "test"),
        "PCAHandler",
    ),
}


def metric_line(host: str, channel: str, metric: str, value: float, kind: str = "loss") -> str:
    """One metric as the containers log it (``kind`` is ``loss`` or ``score``)."""
    return f"#quality_metric: host={host}, {channel} {metric} <{kind}>={value}"


def metric_regex(channel: str, metric: str) -> str:
    """The regex that finds ``<channel> <metric>``'s value in a log line (either kind)."""
    return rf".*#quality_metric: host=\S+, {channel} {metric} <(?:loss|score)>={_NUMBER}"


def metric_definitions(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    """``[("test", "msd"), ...]`` → metric definitions named ``test:msd`` …"""
    return [
        {"Name": f"{channel}:{metric}", "Regex": metric_regex(channel, metric)}
        for channel, metric in pairs
    ]
