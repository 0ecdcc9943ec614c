"""CloudWatch metrics: the metric store that jobs and endpoints publish to
(:mod:`simsage.store.metrics`), and the ``cloudwatch`` API that reads and writes it
(:mod:`simsage.cloudwatch.service`: PutMetricData, GetMetricStatistics, GetMetricData,
ListMetrics)."""

from simsage.store.metrics import MetricBuffer, MetricStore

__all__ = ["MetricBuffer", "MetricStore"]
