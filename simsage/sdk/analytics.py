"""Results as pandas dataframes: ``HyperparameterTuningJobAnalytics`` (one row per training
job of a tuning job) and ``TrainingJobAnalytics`` (a training job's metric time series,
read from CloudWatch), with the official SDK v2's names and columns
(``sagemaker.analytics``).

Layer: SDK, on the boto3 ``sagemaker`` and ``cloudwatch`` clients only.

Invariants:

- Nothing is fetched until asked for; ``dataframe()`` is computed once and cached
  (``dataframe(force_refresh=True)`` or ``clear_cache()`` reads again).
- A tuning job's training jobs are read with ListTrainingJobsForHyperParameterTuningJob,
  100 a page, following ``NextToken`` (at most 100 pages, as the official SDK).
- A training job's metrics are its ``MetricDefinitions`` (or ``metric_names``), read with
  GetMetricStatistics (``Average`` per ``period``, 60 s by default) in namespace
  ``/aws/sagemaker/TrainingJobs``, dimension ``Host=<job>/algo-1``, over the job's
  training time plus a minute.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from typing import Any

from simsage.sdk.session import Session

__all__ = ["HyperparameterTuningJobAnalytics", "TrainingJobAnalytics"]

log = logging.getLogger("simsage.sdk")

METRICS_PERIOD_DEFAULT = 60  # seconds
MAX_PAGES = 100


class AnalyticsMetricsBase:
    """A cached dataframe; subclasses say how to fetch it (``_fetch_dataframe``)."""

    def __init__(self) -> None:
        self._dataframe = None

    def dataframe(self, force_refresh: bool = False):
        """The results as a ``pandas.DataFrame`` (fetched on first use, then cached)."""
        if force_refresh:
            self.clear_cache()
        if self._dataframe is None:
            self._dataframe = self._fetch_dataframe()
        return self._dataframe

    def export_csv(self, filename: str) -> None:
        """Write :meth:`dataframe` to ``filename`` as CSV."""
        self.dataframe().to_csv(filename)

    def clear_cache(self) -> None:
        """Forget what was fetched: the next call reads the service again."""
        self._dataframe = None

    def _fetch_dataframe(self):  # pragma: no cover - every subclass defines it
        raise NotImplementedError


class HyperparameterTuningJobAnalytics(AnalyticsMetricsBase):
    """The training jobs of tuning job ``hyperparameter_tuning_job_name``.

    ``dataframe()`` has one row per training job: each tuned hyperparameter (as a float
    when it reads as one), ``TrainingJobName``, ``TrainingJobStatus``,
    ``FinalObjectiveValue`` (None until the job has one), ``TrainingStartTime``,
    ``TrainingEndTime``, ``TrainingElapsedTimeSeconds`` (when both times are known) and,
    for jobs of a named training job definition, ``TrainingJobDefinitionName``.
    """

    def __init__(
        self, hyperparameter_tuning_job_name: str, sagemaker_session: Session | None = None
    ) -> None:
        super().__init__()
        self._session = sagemaker_session or Session()
        self._tuning_job_name = hyperparameter_tuning_job_name
        self._description: dict[str, Any] | None = None
        self._summaries: list[dict[str, Any]] | None = None

    @property
    def name(self) -> str:
        return self._tuning_job_name

    def __repr__(self) -> str:
        return f"<simsage.sdk.HyperparameterTuningJobAnalytics for {self.name}>"

    def clear_cache(self) -> None:
        super().clear_cache()
        self._description = None
        self._summaries = None

    def description(self, force_refresh: bool = False) -> dict[str, Any]:
        """The tuning job's DescribeHyperParameterTuningJob answer (cached)."""
        if force_refresh:
            self.clear_cache()
        if self._description is None:
            self._description = self._session.sagemaker_client.describe_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=self.name
            )
        return self._description

    @property
    def tuning_ranges(self) -> dict[str, Any]:
        """The tuned hyperparameters' ranges by name (by definition name, then by
        hyperparameter name, for a job of several training job definitions)."""
        described = self.description()
        if "TrainingJobDefinition" in described:
            return _ranges_by_name(described["HyperParameterTuningJobConfig"]["ParameterRanges"])
        return {
            definition["DefinitionName"]: _ranges_by_name(definition["HyperParameterRanges"])
            for definition in described["TrainingJobDefinitions"]
        }

    def training_job_summaries(self, force_refresh: bool = False) -> list[dict[str, Any]]:
        """Every ``TrainingJobSummaries`` entry of the tuning job (all pages)."""
        if force_refresh:
            self.clear_cache()
        if self._summaries is not None:
            return self._summaries
        client = self._session.sagemaker_client
        summaries: list[dict[str, Any]] = []
        paging: dict[str, str] = {}
        for _ in range(MAX_PAGES):
            page = client.list_training_jobs_for_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=self.name, MaxResults=100, **paging
            )
            summaries += page["TrainingJobSummaries"]
            if not page.get("NextToken") or not page["TrainingJobSummaries"]:
                break
            paging = {"NextToken": page["NextToken"]}
        self._summaries = summaries
        return summaries

    def _fetch_dataframe(self):
        import pandas as pd

        return pd.DataFrame([_row(summary) for summary in self.training_job_summaries()])


def _ranges_by_name(parameter_ranges: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {r["Name"]: r for ranges in parameter_ranges.values() for r in ranges}


def _row(summary: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, value in summary["TunedHyperParameters"].items():
        try:
            row[name] = float(value)
        except (TypeError, ValueError):
            row[name] = value
    row["TrainingJobName"] = summary["TrainingJobName"]
    row["TrainingJobStatus"] = summary["TrainingJobStatus"]
    objective = summary.get("FinalHyperParameterTuningJobObjectiveMetric", {})
    row["FinalObjectiveValue"] = objective.get("Value")
    start, end = summary.get("TrainingStartTime"), summary.get("TrainingEndTime")
    row["TrainingStartTime"] = start
    row["TrainingEndTime"] = end
    if start and end:
        row["TrainingElapsedTimeSeconds"] = (end - start).total_seconds()
    if "TrainingJobDefinitionName" in summary:
        row["TrainingJobDefinitionName"] = summary["TrainingJobDefinitionName"]
    return row


class TrainingJobAnalytics(AnalyticsMetricsBase):
    """The metric time series of training job ``training_job_name``, from CloudWatch.

    ``dataframe()`` has one row per data point: ``timestamp`` (seconds since the metric's
    first point), ``metric_name`` and ``value`` (the period's average), metric after
    metric, each in time order. A metric without data points is left out (with a warning).

    Parameters
    ----------
    metric_names:
        The metrics to read; by default every one of the job's ``MetricDefinitions``.
    start_time, end_time:
        The window (datetimes); by default the job's training time, plus a minute.
    period:
        The aggregation period in seconds (default 60).
    """

    CLOUDWATCH_NAMESPACE = "/aws/sagemaker/TrainingJobs"

    def __init__(
        self,
        training_job_name: str,
        metric_names: list[str] | None = None,
        sagemaker_session: Session | None = None,
        start_time: datetime.datetime | None = None,
        end_time: datetime.datetime | None = None,
        period: int | None = None,
    ) -> None:
        super().__init__()
        self._session = sagemaker_session or Session()
        self._training_job_name = training_job_name
        self._start_time = start_time
        self._end_time = end_time
        self._period = period or METRICS_PERIOD_DEFAULT
        self._metric_names = list(metric_names) if metric_names else None
        self._interval: tuple[datetime.datetime, datetime.datetime] | None = None
        self._described: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self._training_job_name

    def __repr__(self) -> str:
        return f"<simsage.sdk.TrainingJobAnalytics for {self.name}>"

    def clear_cache(self) -> None:
        super().clear_cache()
        self._interval = None
        self._described = None

    def _describe(self) -> dict[str, Any]:
        if self._described is None:
            self._described = self._session.sagemaker_client.describe_training_job(
                TrainingJobName=self._training_job_name
            )
        return self._described

    def metric_names(self) -> list[str]:
        """The metrics read: those given, or the job's ``MetricDefinitions`` names."""
        if self._metric_names is None:
            definitions = self._describe()["AlgorithmSpecification"].get("MetricDefinitions", [])
            self._metric_names = [definition["Name"] for definition in definitions]
        return self._metric_names

    def _time_interval(self) -> tuple[datetime.datetime, datetime.datetime]:
        if self._interval is None:
            described = None
            if self._start_time is None or self._end_time is None:
                described = self._describe()
            start = self._start_time or described["TrainingStartTime"]
            end = self._end_time or (
                described.get("TrainingEndTime", datetime.datetime.now(datetime.UTC))
                + datetime.timedelta(minutes=1)
            )
            self._interval = (start, end)
        return self._interval

    def _fetch_dataframe(self):
        import pandas as pd

        data: dict[str, list[Any]] = defaultdict(list)
        for metric_name in self.metric_names():
            for elapsed, value in self._series(metric_name):
                data["timestamp"].append(elapsed)
                data["metric_name"].append(metric_name)
                data["value"].append(value)
        return pd.DataFrame(data)

    def _series(self, metric_name: str) -> list[tuple[float, float]]:
        start, end = self._time_interval()
        points = self._session.client("cloudwatch").get_metric_statistics(
            Namespace=self.CLOUDWATCH_NAMESPACE,
            MetricName=metric_name,
            Dimensions=[{"Name": "Host", "Value": f"{self.name}/algo-1"}],
            StartTime=start,
            EndTime=end,
            Period=self._period,
            Statistics=["Average"],
        )["Datapoints"]
        if not points:
            log.warning("Warning: No metrics called %s found", metric_name)
            return []
        first = min(point["Timestamp"] for point in points)
        return sorted(
            ((point["Timestamp"] - first).total_seconds(), point["Average"]) for point in points
        )
