"""The legacy built-in XGBoost image (``xgboost:1``, alias ``latest``: SageMaker's
XGBoost 0.72 algorithm) run on XGBoost 3, one process per host:

    SIMSAGE_OPT_ML=<host root> python -m simsage.algorithms.xgboost_legacy

Layer: algorithm (same level as :mod:`simsage.algorithms.xgboost_train`, which does the
training). Before the job's hyperparameters are validated, :func:`translate` maps what the
0.72 container accepted but XGBoost 3 refuses, renamed or changed to what XGBoost 3 does
closest, and every change is logged, as the job log is what users read:

- ``tree_method``: 0.72 chose the method itself — ``auto`` meant the exact greedy
  algorithm on one machine and the approximate one (``grow_histmaker``) on several, and
  ``exact`` on several hosts also ran the approximate algorithm (distributed training
  sets ``dsplit=row``, whose default updater is ``grow_histmaker,prune``: 0.72's
  ``LearnerImpl::ConfigureUpdaters``). XGBoost 3 refuses ``exact`` in distributed
  training and makes ``auto`` mean ``hist``. So ``exact`` or ``auto`` on several hosts
  becomes ``approx``, which is that same algorithm (the paper's approximate split
  finding, re-sketching each tree with hessian weights) and of XGBoost 3's methods the
  closest to exact; ``auto`` on one host becomes ``exact``.
- ``updater``: XGBoost 3 builds the updater sequence from ``tree_method`` and ignores a
  given one, and has removed ``distcol``, ``grow_local_histmaker``, ``grow_skmaker`` and
  renamed ``grow_fast_histmaker``. A grow updater becomes its tree method
  (``grow_colmaker``: exact; ``grow_histmaker`` and the removed approximate ones:
  approx; ``grow_fast_histmaker``: hist) — 0.72 let an explicit updater override every
  method but ``hist``. A sequence of only ``refresh``/``prune``/``sync`` (updating
  existing trees) is kept.
- ``silent`` (removed in 1.0): ``silent=1`` becomes ``verbosity=0``, as 0.90 mapped it;
  ``silent=0`` is XGBoost 3's default.
- ``objective=reg:linear`` becomes ``reg:squarederror`` (the same loss, renamed in 0.90).
- ``sketch_eps`` (removed in 1.6, replaced by ``max_bin``): with the approx method it
  becomes ``max_bin = 2 / sketch_eps``, the sketch size 0.72 derived from it
  (``sketch_ratio / sketch_eps``); the other methods never used it.

Parameters XGBoost 3 merely dropped (``lambda_bias``, ``dsplit``, ``predictor``) are left
to the algorithm, which ignores them with a warning.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging

from simsage.algorithms import xgboost_train
from simsage.algorithms.xgboost_data import JobConfig, UserError

logger = logging.getLogger("simsage.algorithms.xgboost")

# Grow updaters of 0.72 → the XGBoost 3 tree method that runs the same algorithm.
GROW_UPDATERS = {
    "grow_colmaker": "exact",
    "distcol": "approx",
    "grow_histmaker": "approx",
    "grow_local_histmaker": "approx",
    "grow_skmaker": "approx",
    "grow_fast_histmaker": "hist",
    "grow_quantile_histmaker": "hist",
}
GPU_UPDATERS = ("grow_gpu", "grow_gpu_hist")
TREE_UPDATERS = ("refresh", "prune", "sync")
SKETCH_RATIO = 2.0  # 0.72's sketch_ratio: sketch entries per 1/sketch_eps


def _decode(value: str) -> str:
    """A value as the algorithm reads it (framework estimators JSON-encode strings)."""
    text = str(value).strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        with contextlib.suppress(ValueError):
            text = str(json.loads(text)).strip()
    return text


def translate(raw: dict[str, str], hosts: int) -> tuple[dict[str, str], list[str]]:
    """The hyperparameters XGBoost 3 should get for a legacy-image job on ``hosts``
    hosts, and one log line per change.

    Raises:
        UserError: a legacy parameter's value is invalid (the message names it).
    """
    params = dict(raw)
    notes: list[str] = []
    _objective(params, notes)
    _silent(params, notes)
    if _decode(params.get("booster", "gbtree")) == "gblinear":
        return params, notes  # no trees: tree_method, updaters and sketches do not apply
    method = _updater_method(params, notes)
    method = _tree_method(params, method, hosts, notes)
    _sketch_eps(params, method, notes)
    return params, notes


def _objective(params: dict[str, str], notes: list[str]) -> None:
    if "objective" in params and _decode(params["objective"]) == "reg:linear":
        params["objective"] = "reg:squarederror"
        notes.append(
            "objective reg:linear is named reg:squarederror since XGBoost 0.90 (the same "
            "squared-error loss): training with objective reg:squarederror"
        )


def _silent(params: dict[str, str], notes: list[str]) -> None:
    if "silent" not in params:
        return
    value = _decode(params.pop("silent"))
    if value not in ("0", "1"):
        raise UserError(f"Hyperparameter silent: value '{value}' is not one of: 0, 1")
    if value == "1":
        params["verbosity"] = "0"
        notes.append("silent=1 is verbosity=0 in XGBoost 3 (silent was removed): training with it")
    else:
        notes.append("silent=0 is XGBoost 3's default verbosity (silent was removed)")


def _updater_method(params: dict[str, str], notes: list[str]) -> str | None:
    """The tree method a grow updater in ``updater`` stands for (None: no grow updater;
    ``updater`` is then left as it is)."""
    if "updater" not in params:
        return None
    given = _decode(params["updater"])
    items = [item.strip() for item in given.split(",") if item.strip()]
    for item in items:
        if item in GPU_UPDATERS:
            raise UserError(
                f"Hyperparameter updater: {item} needs a GPU; simsage trains on CPU only"
            )
    grows = [item for item in items if item in GROW_UPDATERS]
    if not grows:
        return None
    if len({GROW_UPDATERS[item] for item in grows}) > 1:
        raise UserError(
            f"Hyperparameter updater: '{given}' names more than one tree-growing updater "
            f"({', '.join(grows)}); give one"
        )
    others = [item for item in items if item not in GROW_UPDATERS]
    unknown = [item for item in others if item not in TREE_UPDATERS]
    if unknown:
        return None  # left for validation, which names the value it does not know
    del params["updater"]
    method = GROW_UPDATERS[grows[0]]
    notes.append(
        f"updater {given}: XGBoost 3 builds the updaters from tree_method; {grows[0]} is "
        f"tree_method '{method}'"
    )
    return method


def _tree_method(params: dict[str, str], method: str | None, hosts: int, notes: list[str]) -> str:
    given = _decode(params.get("tree_method", "auto")) or "auto"
    # 0.72: an explicit updater overrides every tree method but hist.
    chosen = method if method is not None and given != "hist" else given
    if method is not None and method != chosen:
        notes.append(f"tree_method '{given}' takes precedence over the updater, as in XGBoost 0.72")
    if chosen == "auto":
        chosen = "approx" if hosts > 1 else "exact"
        if hosts > 1:
            notes.append(
                "Tree method is automatically selected to be 'approx' for distributed training."
            )
        else:
            notes.append(
                "Tree method is automatically selected to be 'exact' (XGBoost 0.72's choice on "
                "one machine; XGBoost 3's auto would be 'hist')"
            )
    elif chosen == "exact" and hosts > 1:
        chosen = "approx"
        notes.append(
            "tree method is set to be 'exact', but currently we are only able to proceed with "
            f"approximate algorithm: training with tree_method 'approx' on {hosts} hosts "
            "(XGBoost 3 supports 'exact' on one host only)"
        )
    if chosen in ("exact", "approx", "hist"):
        params["tree_method"] = chosen
    return chosen


def _sketch_eps(params: dict[str, str], method: str, notes: list[str]) -> None:
    if "sketch_eps" not in params:
        return
    text = _decode(params.pop("sketch_eps"))
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"Hyperparameter sketch_eps: value '{text}' is not a number") from None
    if not 0 < value < 1:
        raise UserError(f"Hyperparameter sketch_eps: value {text} is not in (0, 1)")
    if method != "approx":
        notes.append(
            f"sketch_eps is used only by tree_method 'approx' (this job: '{method}'); ignored"
        )
        return
    max_bin = max(int(SKETCH_RATIO / value), 2)
    params["max_bin"] = str(max_bin)
    notes.append(
        f"sketch_eps={text}: XGBoost 3's approx method takes max_bin instead; training "
        f"with max_bin={max_bin} (the sketch size 0.72 derived from sketch_eps)"
    )


def adapt(job: JobConfig) -> JobConfig:
    """The job with its hyperparameters translated; logs each change."""
    translated, notes = translate(job.hyperparameters, len(job.hosts))
    for note in notes:
        logger.info("%s", note)
    return dataclasses.replace(job, hyperparameters=translated)


if __name__ == "__main__":
    xgboost_train.run(adapt)
