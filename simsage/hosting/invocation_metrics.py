"""Endpoint invocation metrics: what InvokeEndpoint publishes to CloudWatch.

Layer: hosting (data plane, in the caller's process), over the ``cloudwatch`` concept's
store (:class:`~simsage.store.metrics.MetricBuffer`), as the job runners write the
logs store.

As SageMaker documents them, in namespace ``AWS/SageMaker`` with dimensions
``EndpointName`` and ``VariantName``, per request that reached a model container:
``Invocations`` (1), ``Invocation4XXErrors`` and ``Invocation5XXErrors`` (1 when the
container answered 4xx / 5xx — a timeout counts as 5xx —, else 0),
``InvocationsPerInstance`` (1 / the variant's ready instances), ``ModelLatency`` (the
container's round trip) and ``OverheadLatency`` (the rest of the call inside simsage),
both in microseconds. Requests refused before a variant was chosen (unknown endpoint,
body too large) publish nothing, as on AWS.

Cost: the invoke path only queues the values in memory (one lock, one list extend); a
background thread writes them every :data:`FLUSH_EVERY` seconds as one-minute
aggregates (one datum per distinct value, values kept to 3 significant digits for
percentiles, exact count/sum/min/max), and whatever is left at interpreter exit. A
``cloudwatch`` read in the same process flushes first, so it sees every call made
before it.
"""

from __future__ import annotations

import time

from simsage.store.metrics import MetricBuffer, MetricStore, dims_key

NAMESPACE = "AWS/SageMaker"
FLUSH_EVERY = 2.0
PERIOD = 60  # SageMaker's invocation metrics are one-minute metrics


class InvocationMetrics:
    """Queues the invocation metrics of every call made through one runtime service."""

    def __init__(self, home) -> None:
        self.buffer = MetricBuffer(
            MetricStore(home), aggregate=PERIOD, significant=3, idle_flush=FLUSH_EVERY
        )
        self._dims: dict[tuple[str, str], str] = {}

    def record(
        self,
        endpoint: str,
        variant: str,
        instances: int,
        started: float,
        model_seconds: float | None,
        status: int,
    ) -> None:
        """One request that reached a container of ``variant``.

        Args:
            instances: the variant's ready instances when it was routed.
            started: ``time.perf_counter()`` when simsage received the call.
            model_seconds: the container's round trip (None: it never answered).
            status: the container's HTTP status (504 for a timeout).
        """
        total = time.perf_counter() - started
        key = self._dims.get((endpoint, variant))
        if key is None:
            key = self._dims[(endpoint, variant)] = dims_key(
                {"EndpointName": endpoint, "VariantName": variant}
            )
        values = [
            ("Invocations", 1.0, "None"),
            ("Invocation4XXErrors", 1.0 if 400 <= status < 500 else 0.0, "None"),
            ("Invocation5XXErrors", 1.0 if status >= 500 else 0.0, "None"),
            ("InvocationsPerInstance", 1.0 / max(instances, 1), "None"),
        ]
        if model_seconds is not None:
            values.append(("ModelLatency", model_seconds * 1e6, "Microseconds"))
            values.append(
                ("OverheadLatency", max(total - model_seconds, 0.0) * 1e6, "Microseconds")
            )
        self.buffer.add_values(NAMESPACE, key, values)
