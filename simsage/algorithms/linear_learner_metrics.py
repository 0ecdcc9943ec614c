"""The built-in linear learner's metrics: names, tuning directions and log regexes.

Layer: programs; the control plane imports it (metric definitions, tuning objectives), so
it imports only the standard library.

Invariants (the real container's log lines and MetricDefinitions, as a public tuning-job
description shows them):
- Each epoch: ``#quality_metric: host=algo-1, epoch=<n>, train <objective> <loss>=<v>``
  and the same for ``validation``; ``<objective>`` names the loss, e.g.
  ``binary_classification_cross_entropy_objective``, ``multiclass_cross_entropy_objective``,
  ``mse_objective`` (regexes match any ``\\S+_objective``). ``train:objective_loss`` and
  ``validation:objective_loss`` match only these per-epoch lines (their last value is the
  last epoch's); ``*:objective_loss:final`` match the final line without ``epoch=``.
- At the end, per channel (train, validation, test): ``<channel> <metric> <score|loss>=<v>``
  with binary ``binary_classification_accuracy``, ``binary_f_<beta:.3f>`` (e.g.
  ``binary_f_1.000``), ``precision``, ``recall``, ``roc_auc_score``; multiclass
  ``multiclass_accuracy``, ``multiclass_top_k_accuracy_<k>``, ``dcg``, ``macro_recall``,
  ``macro_precision``, ``macro_f_<beta:.3f>``; regression ``mse``, ``rmse``,
  ``absolute_loss``, ``r2`` (simsage adds ``rmse`` and ``r2``; their real names are
  unverified).
"""

from __future__ import annotations

from simsage.algorithms.first_party import metric_line

__all__ = ["METRIC_DEFINITIONS", "OBJECTIVE_DIRECTION", "epoch_line", "metric_line"]

_HOST = r"#quality_metric: host=\S+, "
_VALUE = r"=(\S+)"

# (metric, the name it is logged under as a regex, kind, direction)
_FINAL: list[tuple[str, str, str, str]] = [
    ("binary_classification_accuracy", "binary_classification_accuracy", "score", "Maximize"),
    ("binary_f_beta", r"binary_f_\S+", "score", "Maximize"),
    ("precision", "precision", "score", "Maximize"),
    ("recall", "recall", "score", "Maximize"),
    ("roc_auc_score", "roc_auc_score", "score", "Maximize"),
    ("multiclass_accuracy", "multiclass_accuracy", "score", "Maximize"),
    ("multiclass_top_k_accuracy", r"multiclass_top_k_accuracy_\S+", "score", "Maximize"),
    ("dcg", "dcg", "score", "Maximize"),
    ("macro_recall", "macro_recall", "score", "Maximize"),
    ("macro_precision", "macro_precision", "score", "Maximize"),
    ("macro_f_beta", r"macro_f_\S+", "score", "Maximize"),
    ("mse", "mse", "loss", "Minimize"),
    ("rmse", "rmse", "loss", "Minimize"),
    ("absolute_loss", "absolute_loss", "loss", "Minimize"),
    ("r2", "r2", "score", "Maximize"),
]
CHANNELS = ("train", "validation", "test")


def _definitions() -> tuple[list[dict[str, str]], dict[str, str]]:
    definitions, directions = [], {}
    for channel in CHANNELS:
        for metric, logged, kind, direction in _FINAL:
            name = f"{channel}:{metric}"
            definitions.append(
                {"Name": name, "Regex": f"{_HOST}{channel} {logged} <{kind}>{_VALUE}"}
            )
            directions[name] = direction
        objective = rf"{channel} \S+_objective <loss>{_VALUE}"
        if channel == "test":
            definitions.append({"Name": "test:objective_loss", "Regex": _HOST + objective})
            directions["test:objective_loss"] = "Minimize"
            continue
        definitions.append(
            {"Name": f"{channel}:objective_loss", "Regex": rf"{_HOST}epoch=\S+, {objective}"}
        )
        definitions.append({"Name": f"{channel}:objective_loss:final", "Regex": _HOST + objective})
        directions[f"{channel}:objective_loss"] = "Minimize"
        directions[f"{channel}:objective_loss:final"] = "Minimize"
    return definitions, directions


METRIC_DEFINITIONS, OBJECTIVE_DIRECTION = _definitions()


def epoch_line(host: str, epoch: int, channel: str, objective: str, value: float) -> str:
    """One epoch's objective loss as the container logs it."""
    return f"#quality_metric: host={host}, epoch={epoch}, {channel} {objective} <loss>={value}"
