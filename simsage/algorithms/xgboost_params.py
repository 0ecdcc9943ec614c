"""Hyperparameters of the built-in XGBoost algorithm: what the container accepts, how
each value is read and checked, and the :class:`Plan` (metrics, early stopping) a job's
hyperparameters ask for.

Layer: algorithm, below :mod:`simsage.algorithms.xgboost_training` and the process entry
point :mod:`simsage.algorithms.xgboost_train`. Pure: no xgboost import, no files; bad
values raise :class:`~simsage.algorithms.xgboost_data.UserError` with the container's
message.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from dataclasses import dataclass
from typing import Any

from simsage.algorithms import xgboost_metrics as metrics
from simsage.algorithms.xgboost_data import UserError

logger = logging.getLogger("simsage.algorithms.xgboost")


@dataclass(frozen=True)
class Param:
    """How one hyperparameter is read: its kind, and its range or choices.

    kind: ``int``, ``float``, ``choice``, ``bool``, ``text`` (passed to xgboost as
    written), or ``legacy`` (accepted as the container accepts it; XGBoost 3 no longer
    uses it, so it is dropped with a warning).
    """

    kind: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()

    def interval(self) -> str:
        low = "(-inf" if self.low is None else ("(" if self.low_open else "[") + _num(self.low)
        high = "+inf)" if self.high is None else _num(self.high) + (")" if self.high_open else "]")
        return f"{low}, {high}"

    def contains(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (
            self.high is not None and (value >= self.high if self.high_open else value > self.high)
        )


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


_POSITIVE_INT = Param("int", low=1)
_NON_NEGATIVE = Param("float", low=0)
_FRACTION = Param("float", low=0, high=1)
_OPEN_FRACTION = Param("float", low=0, low_open=True, high=1)
_FLAG = Param("int", low=0, high=1)

OBJECTIVES = tuple(
    "binary:hinge binary:logistic binary:logitraw count:poisson multi:softmax "  # noqa: SIM905
    "multi:softprob rank:map rank:ndcg rank:pairwise reg:absoluteerror reg:gamma "
    "reg:linear reg:logistic reg:pseudohubererror reg:quantileerror reg:squarederror "
    "reg:squaredlogerror reg:tweedie survival:aft survival:cox".split()
)
MULTICLASS_OBJECTIVES = ("multi:softmax", "multi:softprob")
UPDATERS = tuple(
    "grow_colmaker grow_histmaker grow_quantile_histmaker sync refresh prune shotgun "  # noqa: SIM905
    "coord_descent".split()
)

# Every hyperparameter the algorithm accepts (the container's table, brought up to the
# parameters XGBoost 3 knows). Anything else is an "Extraneous hyperparameter".
PARAMS: dict[str, Param] = {
    # The container's own.
    "num_round": _POSITIVE_INT,
    "csv_weights": _FLAG,
    "early_stopping_rounds": _POSITIVE_INT,
    "save_model_on_termination": Param("choice", choices=("true", "false")),
    "use_dask_gpu_training": Param("choice", choices=("true", "false")),
    "_tuning_objective_metric": Param("text"),
    # General.
    "booster": Param("choice", choices=("gbtree", "gblinear", "dart")),
    "device": Param("choice", choices=("cpu",)),
    "verbosity": Param("int", low=0, high=3),
    "nthread": _POSITIVE_INT,
    "disable_default_eval_metric": Param("bool"),
    "validate_parameters": Param("bool"),
    "seed": Param("int", low=-(2**31), high=2**31 - 1, low_open=True, high_open=True),
    "seed_per_iteration": Param("bool"),
    # Tree booster.
    "eta": _FRACTION,
    "gamma": _NON_NEGATIVE,
    "max_depth": Param("int", low=0),
    "min_child_weight": _NON_NEGATIVE,
    "max_delta_step": _NON_NEGATIVE,
    "subsample": _OPEN_FRACTION,
    "sampling_method": Param("choice", choices=("uniform", "gradient_based")),
    "colsample_bytree": _OPEN_FRACTION,
    "colsample_bylevel": _OPEN_FRACTION,
    "colsample_bynode": _OPEN_FRACTION,
    "lambda": _NON_NEGATIVE,
    "alpha": _NON_NEGATIVE,
    "tree_method": Param("choice", choices=("auto", "exact", "approx", "hist")),
    "scale_pos_weight": Param("float", low=0, low_open=True),
    "updater": Param("choice", choices=UPDATERS),  # a comma-separated list
    "refresh_leaf": _FLAG,
    "process_type": Param("choice", choices=("default", "update")),
    "grow_policy": Param("choice", choices=("depthwise", "lossguide")),
    "max_leaves": Param("int", low=0),
    "max_bin": Param("int", low=2),
    "num_parallel_tree": _POSITIVE_INT,
    "monotone_constraints": Param("text"),
    "interaction_constraints": Param("text"),
    "multi_strategy": Param("choice", choices=("one_output_per_tree", "multi_output_tree")),
    "max_cached_hist_node": _POSITIVE_INT,
    "max_cat_to_onehot": _POSITIVE_INT,
    "max_cat_threshold": _POSITIVE_INT,
    # Dart booster.
    "sample_type": Param("choice", choices=("uniform", "weighted")),
    "normalize_type": Param("choice", choices=("tree", "forest")),
    "rate_drop": _FRACTION,
    "one_drop": _FLAG,
    "skip_drop": _FRACTION,
    # Linear booster.
    "feature_selector": Param(
        "choice", choices=("cyclic", "shuffle", "random", "greedy", "thrifty")
    ),
    "top_k": Param("int", low=0),
    # Learning task.
    "objective": Param("choice", choices=OBJECTIVES),
    "num_class": Param("int", low=2),
    "base_score": Param("float"),
    "eval_metric": Param("text"),  # a comma-separated list, checked on its own
    "tweedie_variance_power": Param("float", low=1, high=2, low_open=True, high_open=True),
    "huber_slope": Param("float", low=0, low_open=True),
    "quantile_alpha": Param("text"),
    "aft_loss_distribution": Param("choice", choices=("normal", "logistic", "extreme")),
    "aft_loss_distribution_scale": Param("float", low=0, low_open=True),
    "lambdarank_pair_method": Param("choice", choices=("mean", "topk")),
    "lambdarank_num_pair_per_sample": _POSITIVE_INT,
    "lambdarank_unbiased": Param("bool"),
    "lambdarank_bias_norm": _NON_NEGATIVE,
    "lambdarank_normalization": Param("bool"),
    "lambdarank_score_normalization": Param("bool"),
    "ndcg_exp_gain": Param("bool"),
    # Accepted by the 1.x containers; XGBoost 3 has dropped them.
    "silent": Param("legacy"),
    "predictor": Param("legacy"),
    "dsplit": Param("legacy"),
    "lambda_bias": Param("legacy"),
    "sketch_eps": Param("legacy"),
}
ALIASES = {
    "learning_rate": "eta",
    "min_split_loss": "gamma",
    "reg_lambda": "lambda",
    "reg_alpha": "alpha",
}
# Consumed by the algorithm, never given to xgboost.
CONTAINER_PARAMS = tuple(
    "num_round csv_weights early_stopping_rounds save_model_on_termination "  # noqa: SIM905
    "use_dask_gpu_training _tuning_objective_metric eval_metric".split()
)
_TRUE = ("true", "1")
_FALSE = ("false", "0")


def _parse(name: str, raw: str, param: Param) -> Any:
    text = str(raw).strip()
    if param.kind == "int":
        try:
            value: Any = int(text)
        except ValueError:
            raise UserError(f"Hyperparameter {name}: value '{raw}' is not an integer") from None
    elif param.kind == "float":
        try:
            value = float(text)
        except ValueError:
            raise UserError(f"Hyperparameter {name}: value '{raw}' is not a number") from None
        if not math.isfinite(value):
            raise UserError(f"Hyperparameter {name}: value '{raw}' is not a finite number")
    elif param.kind == "bool":
        if text.lower() not in _TRUE + _FALSE:
            raise UserError(
                f"Hyperparameter {name}: value '{raw}' is not a boolean (true, false, 1 or 0)"
            )
        return text.lower() in _TRUE
    elif param.kind == "choice":
        values = [v.strip() for v in text.split(",")] if name == "updater" else [text]
        for item in values:
            if item not in param.choices:
                raise UserError(
                    f"Hyperparameter {name}: value '{item}' is not one of: "
                    + ", ".join(param.choices)
                )
        return ",".join(values)
    else:
        return text
    if not param.contains(value):
        raise UserError(f"Hyperparameter {name}: value {raw} is not in {param.interval()}")
    return value


def _check_eval_metric(names: list[str], objective: str) -> None:
    for name in names:
        base, at, threshold = name.partition("@")
        if at:
            if base not in ("error", "ndcg", "map", "pre"):
                raise UserError(
                    f"Hyperparameter eval_metric: metric '{name}' is not supported. A metric with "
                    "a threshold '@t' must be one of: error, ndcg, map, pre."
                )
            try:
                float(threshold.rstrip("-"))
            except ValueError:
                raise UserError(
                    f"Hyperparameter eval_metric: threshold '{threshold}' in '{name}' is not a number."
                ) from None
            continue
        if base.rstrip("-") not in metrics.METRICS + ("pre",):
            raise UserError(
                f"Hyperparameter eval_metric: value '{name}' is not one of: "
                + ", ".join(metrics.METRICS)
            )
        if base in ("auc", "aucpr") and not objective.startswith(("binary:", "multi:", "rank:")):
            raise UserError(
                f"Metric '{base}' can only be applied for classification and ranking problems "
                f"(objective is {objective})."
            )


def validate_hyperparameters(raw: dict[str, str]) -> dict[str, Any]:
    """Check and convert the job's hyperparameters as the container does.

    Args:
        raw: ``hyperparameters.json`` (every value a string).
    Returns:
        Name → converted value, with defaults filled in (``objective``), ``eval_metric``
        as a list and ``_tuning_objective_metric`` as ``(data set, metric)``; ``sagemaker_*``
        keys and dropped legacy parameters removed.
    Raises:
        UserError: a parameter is unknown, missing, malformed or out of range, or the
            parameters contradict each other; the message names the parameter.
    """
    given: dict[str, str] = {}
    for key, value in raw.items():
        if key.startswith("sagemaker_"):
            continue
        if len(value) >= 2 and value[0] == value[-1] == '"':
            # JSON-encoded, as framework estimators send values; the toolkit decodes them.
            with contextlib.suppress(ValueError):
                value = str(json.loads(value))
        name = ALIASES.get(key, key)
        if name in given:
            alias = next(k for k, v in ALIASES.items() if v == name)
            raise UserError(
                f"Hyperparameters {name} and {alias} are the same; set only one of them"
            )
        given[name] = value
    for name in given:
        if name not in PARAMS:
            raise UserError(
                f"Extraneous hyperparameter found: {name} (not a parameter of the built-in "
                "XGBoost algorithm)"
            )
    if "num_round" not in given:
        raise UserError("Missing required hyperparameter: num_round")
    for name in ("tree_method", "device"):
        text = str(given.get(name, "")).strip()
        if "gpu" in text or "cuda" in text:
            raise UserError(
                f"Hyperparameter {name}: {text} needs a GPU; simsage trains on CPU only"
            )
    values: dict[str, Any] = {}
    for name, value in given.items():
        param = PARAMS[name]
        if param.kind == "legacy":
            logger.warning("Hyperparameter %s is not used by XGBoost 3 and is ignored", name)
            continue
        values[name] = _parse(name, value, param)

    objective = values.setdefault("objective", "reg:squarederror")
    if objective in MULTICLASS_OBJECTIVES and "num_class" not in values:
        raise UserError(f"num_class is required for objective {objective}")
    if objective not in MULTICLASS_OBJECTIVES and "num_class" in values:
        raise UserError(
            f"num_class is only valid for multi:softmax and multi:softprob (objective is {objective})"
        )
    if values.get("use_dask_gpu_training") == "true":
        raise UserError("use_dask_gpu_training=true needs GPUs; simsage trains on CPU only")
    if "eval_metric" in values:
        names = [m.strip() for m in values["eval_metric"].split(",") if m.strip()]
        if not names:
            raise UserError("Hyperparameter eval_metric: value is empty")
        _check_eval_metric(names, objective)
        values["eval_metric"] = names
    if "_tuning_objective_metric" in values:
        values["_tuning_objective_metric"] = _tuning_metric(values["_tuning_objective_metric"])
    return values


def _tuning_metric(text: str) -> tuple[str, str]:
    data_set, _, name = text.partition(":")
    if data_set not in metrics.DATA_SETS or metrics.metric_direction(name) is None:
        raise UserError(
            f"Hyperparameter _tuning_objective_metric: value '{text}' is not one of the "
            "algorithm's metrics (validation:<metric> or train:<metric>, e.g. validation:auc)"
        )
    return data_set, name


@dataclass(frozen=True)
class Plan:
    """The training a job's hyperparameters ask for.

    values: the validated hyperparameters; native_metrics: xgboost's ``eval_metric``;
    container_metrics: the metrics the algorithm computes itself; stop_on: the
    early-stopping metric (None: xgboost's choice, the last metric evaluated).
    """

    values: dict[str, Any]
    native_metrics: list[str]
    container_metrics: list[str]
    stop_on: str | None

    @classmethod
    def from_hyperparameters(cls, raw: dict[str, str]) -> Plan:
        """Validate ``raw`` and choose the metrics as the container does: the tuning
        objective's metric joins ``eval_metric`` (the union sorted) and is the one early
        stopping watches; otherwise the last ``eval_metric`` is."""
        values = validate_hyperparameters(raw)
        requested: list[str] | None = values.get("eval_metric")
        tuning = values.get("_tuning_objective_metric")
        if tuning is not None:
            requested = sorted({tuning[1], *(requested or [])})
        if not requested:
            return cls(values, [], [], None)
        return cls(
            values,
            [m for m in requested if m not in metrics.CONTAINER_METRICS],
            [m for m in requested if m in metrics.CONTAINER_METRICS],
            tuning[1] if tuning is not None else requested[-1],
        )

    def booster_params(self) -> dict[str, Any]:
        """The parameters handed to ``xgboost.train``."""
        params = {k: v for k, v in self.values.items() if k not in CONTAINER_PARAMS}
        for key, value in params.items():
            if isinstance(value, bool):
                params[key] = int(value)
        if self.native_metrics:
            params["eval_metric"] = self.native_metrics
        return params
