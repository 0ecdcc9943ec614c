"""The built-in PCA algorithm's metrics: none.

Layer: programs; the control plane imports it (metric definitions), so it imports only
the standard library.

The docs list no tuning metrics for PCA and the container logs no ``#quality_metric``
lines that simsage could match, so a training job with the pca image brings no metric
definitions and tuning it needs the caller's own (e.g. on simsage's log line ``test: N
records, mean squared reconstruction error E``, which is simsage's, not the container's).
"""

from __future__ import annotations

__all__ = ["METRIC_DEFINITIONS", "OBJECTIVE_DIRECTION"]

OBJECTIVE_DIRECTION: dict[str, str] = {}
METRIC_DEFINITIONS: list[dict[str, str]] = []
