"""The built-in XGBoost algorithm's metrics: names, tuning directions, log regexes, and
the metrics the SageMaker container computes itself.

The control plane imports this module (metric definitions, tuning directions), so it
imports nothing heavy at module level; numpy is imported inside the functions that
compute metrics, which only the algorithm process calls.

Invariants:
- A metric ``<m>`` is logged by xgboost as ``[i]\\ttrain-<m>:<v>\\tvalidation-<m>:<v>``;
  CloudWatch shows the tab as ``#011``, which is what the regexes match.
- Metric names for tuning and ``FinalMetricDataList`` are ``validation:<m>`` and
  ``train:<m>``.
- The metrics xgboost does not know (accuracy, f1, r2, …) are computed here from
  sufficient statistics that are summed across hosts in distributed training, so every
  host sees the same value (and early stopping decides the same way everywhere).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

# The sagemaker-xgboost container's lists (constants/xgb_constants.py), kept verbatim so
# tuning directions match the real service (interval-regression-accuracy included).
MAXIMIZE_METRICS: tuple[str, ...] = (
    "accuracy",
    "auc",
    "aucpr",
    "balanced_accuracy",
    "f1",
    "f1_binary",
    "f1_macro",
    "map",
    "ndcg",
    "precision",
    "precision_macro",
    "precision_micro",
    "r2",
    "recall",
    "recall_macro",
    "recall_micro",
)
MINIMIZE_METRICS: tuple[str, ...] = (
    "aft-nloglik",
    "cox-nloglik",
    "error",
    "gamma-deviance",
    "gamma-nloglik",
    "interval-regression-accuracy",
    "logloss",
    "mae",
    "mape",
    "merror",
    "mlogloss",
    "mphe",
    "mse",
    "poisson-nloglik",
    "rmse",
    "rmsle",
    "tweedie-nloglik",
)
METRICS: tuple[str, ...] = MAXIMIZE_METRICS + MINIMIZE_METRICS

# Metric name (bare, as xgboost prints it) → tuning direction.
METRIC_DIRECTIONS: dict[str, str] = {
    **{name: "Maximize" for name in MAXIMIZE_METRICS},
    **{name: "Minimize" for name in MINIMIZE_METRICS},
}

_NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
DATA_SETS = ("train", "validation")


def metric_regex(data_set: str, metric: str) -> str:
    """The regex that finds ``<data_set>-<metric>``'s value in a CloudWatch log line
    (written as SageMaker shows it in DescribeTrainingJob; metric names hold no regex
    special characters)."""
    return rf".*\[[0-9]+\].*#011{data_set}-{metric}:{_NUMBER}.*"


# What the algorithm brings along as its MetricDefinitions: train:<m> and validation:<m>.
METRIC_DEFINITIONS: list[dict[str, str]] = [
    {"Name": f"{data_set}:{metric}", "Regex": metric_regex(data_set, metric)}
    for data_set in DATA_SETS
    for metric in METRICS
]

# Objective metric name (``validation:auc``, ``train:rmse`` …) → tuning direction.
OBJECTIVE_DIRECTION: dict[str, str] = {
    f"{data_set}:{metric}": direction
    for data_set in DATA_SETS
    for metric, direction in METRIC_DIRECTIONS.items()
}


def metric_direction(metric: str) -> str | None:
    """``Maximize``/``Minimize`` for a metric name, bare (``auc``, ``ndcg@5``) or with its
    data set (``validation:auc``); None for a name the algorithm does not know."""
    name = metric.split(":", 1)[1] if ":" in metric else metric
    return METRIC_DIRECTIONS.get(name.split("@", 1)[0])


# -- metrics the container computes itself (xgboost has no such metric) -------------------


class MetricError(ValueError):
    """A container metric cannot be computed for this data (e.g. binary on multiclass)."""


# Objectives whose prediction is a probability of class 1.
_PROBABILITY_OBJECTIVES = ("binary:logistic", "reg:logistic")


def _class_labels(predictions: Any, objective: str) -> Any:
    """Predicted class per row from xgboost's (transformed) predictions."""
    import numpy as np

    if predictions.ndim == 2:  # multi:softprob
        return np.argmax(predictions, axis=1)
    if objective in _PROBABILITY_OBJECTIVES:
        return (predictions > 0.5).astype(np.int64)
    if objective == "binary:logitraw":
        return (predictions > 0.0).astype(np.int64)
    return np.rint(predictions).astype(np.int64)


def _allreduce(values: Any, operation: str = "SUM") -> Any:
    """Reduce a float64 vector over every host of a distributed job (identity on one host)."""
    from xgboost import collective

    if collective.is_distributed():
        return collective.allreduce(values, getattr(collective.Op, operation))
    return values


MAX_CLASSES = 10_000


def _class_count(labels: Any, predicted: Any, num_class: int | None) -> int:
    """``num_class``, or (binary and regression objectives) 1 + the largest class seen
    on any host."""
    import numpy as np

    if num_class:
        return num_class
    local = max([float(a.max()) for a in (labels, predicted) if a.size] or [0.0])
    largest = _allreduce(np.array([local], dtype=np.float64), "MAX")[0]
    if largest >= MAX_CLASSES:
        raise MetricError(
            f"Classification metrics need class labels 0..{MAX_CLASSES - 1}; "
            f"the data has {largest:g}"
        )
    return max(2, int(largest) + 1)


def _confusion(labels: Any, predicted: Any, num_classes: int) -> Any:
    """The confusion matrix (true × predicted), summed over hosts."""
    import numpy as np

    truth = labels.astype(np.int64)
    valid = (truth >= 0) & (truth < num_classes) & (predicted >= 0) & (predicted < num_classes)
    counts = np.bincount(
        truth[valid] * num_classes + predicted[valid], minlength=num_classes * num_classes
    ).astype(np.float64)
    return _allreduce(counts).reshape(num_classes, num_classes)


def _safe_divide(numerator: Any, denominator: Any) -> Any:
    import numpy as np

    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator != 0)


def _per_class(cm: Any) -> tuple[Any, Any, Any, Any]:
    """Per-class precision, recall, f1 and the mask of labels present (in truth or in
    predictions, as scikit-learn's averages count them)."""
    import numpy as np

    tp = np.diag(cm)
    predicted = cm.sum(axis=0)
    actual = cm.sum(axis=1)
    precision = _safe_divide(tp, predicted)
    recall = _safe_divide(tp, actual)
    f1 = _safe_divide(2 * tp, predicted + actual)
    return precision, recall, f1, (predicted + actual) > 0


_MULTICLASS_ALTERNATIVES = {
    "precision": "precision_macro or precision_micro",
    "recall": "recall_macro or recall_micro",
    "f1_binary": "f1 or f1_macro",
}


def _binary_position(cm: Any, metric: str) -> int:
    """The positive class (1) of a binary metric; an error if the labels are multiclass."""
    present = (cm.sum(axis=0) + cm.sum(axis=1)) > 0
    if present[2:].any():
        raise MetricError(
            f"Metric {metric} is for binary classification but the labels are multiclass "
            f"(Target is multiclass but average='binary'); use "
            f"{_MULTICLASS_ALTERNATIVES[metric]} instead."
        )
    return 1


def classification_metric(metric: str, cm: Any) -> float:
    """A classification metric from a confusion matrix (scikit-learn's definitions,
    zero_division=0)."""
    import numpy as np

    total = cm.sum()
    if total == 0:
        return 0.0
    precision, recall, f1, present = _per_class(cm)
    if metric in ("accuracy", "precision_micro", "recall_micro"):
        return float(np.trace(cm) / total)
    if metric == "balanced_accuracy":
        supported = cm.sum(axis=1) > 0
        return float(recall[supported].mean())
    if metric in ("f1", "f1_macro"):
        return float(f1[present].mean())
    if metric == "precision_macro":
        return float(precision[present].mean())
    if metric == "recall_macro":
        return float(recall[present].mean())
    position = _binary_position(cm, metric)
    if metric == "precision":
        return float(precision[position])
    if metric == "recall":
        return float(recall[position])
    if metric == "f1_binary":
        return float(f1[position])
    raise MetricError(f"Unknown classification metric {metric}")


def regression_metric(metric: str, labels: Any, predictions: Any) -> float:
    """mse or r2, from sums taken over every host."""
    import numpy as np

    predictions = predictions.reshape(labels.shape[0], -1)[:, 0].astype(np.float64)
    truth = labels.astype(np.float64)
    error = truth - predictions
    sums = _allreduce(
        np.array(
            [truth.size, float(error @ error), float(truth.sum()), float(truth @ truth)],
            dtype=np.float64,
        )
    )
    count, squared_error, label_sum, label_squares = sums
    if count == 0:
        return 0.0
    if metric == "mse":
        return float(squared_error / count)
    total_variance = label_squares - label_sum * label_sum / count
    if total_variance <= 0:
        return 1.0 if squared_error == 0 else 0.0
    return float(1.0 - squared_error / total_variance)


CLASSIFICATION_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "f1",
    "f1_binary",
    "f1_macro",
    "precision",
    "precision_macro",
    "precision_micro",
    "recall",
    "recall_macro",
    "recall_micro",
)
REGRESSION_METRICS = ("mse", "r2")
# The container's own metrics: the ones xgboost cannot evaluate by name.
CONTAINER_METRICS = CLASSIFICATION_METRICS + REGRESSION_METRICS


def container_metric_function(
    metrics: Sequence[str], objective: str, num_class: int | None
) -> Callable[[Any, Any], list[tuple[str, float]]]:
    """An xgboost ``custom_metric`` that evaluates ``metrics`` (names from
    ``CONTAINER_METRICS``, in a fixed order so hosts make the same collective calls).

    Args:
        metrics: the container metrics to report, in report order.
        objective: the training objective (how predictions turn into classes).
        num_class: the number of classes for multi-class objectives, else None.
    Returns:
        ``f(predictions, dmatrix) -> [(name, value), …]`` for ``xgboost.train``.
    """
    import numpy as np

    def evaluate(predictions: Any, dmatrix: Any) -> list[tuple[str, float]]:
        labels = dmatrix.get_label()
        predictions = np.asarray(predictions)
        results = []
        cm = None
        for metric in metrics:
            if metric in CLASSIFICATION_METRICS:
                if cm is None:
                    predicted = _class_labels(predictions, objective)
                    classes = _class_count(labels, predicted, num_class)
                    cm = _confusion(labels, predicted, classes)
                results.append((metric, classification_metric(metric, cm)))
            else:
                results.append((metric, regression_metric(metric, labels, predictions)))
        return results

    return evaluate
