"""The built-in SageMaker XGBoost algorithm (algorithm mode of the sagemaker-xgboost
container, versions 1.x–3.x), run as one process per host:

    SIMSAGE_OPT_ML=<host root> python -m simsage.algorithms.xgboost_train

The host root is an ``/opt/ml``-shaped folder: ``input/config/*.json``,
``input/data/<channel>/``, ``model/``, ``output/``. The process validates the
hyperparameters and channels, reads ``train`` (and ``validation``), trains with
``xgboost.train`` printing xgboost's own evaluation lines
(``[i]\\ttrain-rmse:…\\tvalidation-rmse:…``), and saves ``model/xgboost-model``
(``Booster.save_model``). On failure it writes the reason to ``output/failure`` and
exits 1.

With several hosts, every host trains on its own data with XGBoost's collective
communication: the first host (sorted) runs ``xgboost.tracker.RabitTracker`` on
127.0.0.1:``$SIMSAGE_TRACKER_PORT``, every host joins as a worker whose task id is its
host name, and only the first host saves the model and prints the evaluation lines
(rank 0, as in the real container). The workers' own listening sockets bind every
interface (xgboost 3.x has no setting for their address), so the runner starts the hosts
in a loopback-only network namespace (:mod:`simsage.runtime.network`).

Start-up is kept lean: only the standard library is imported at module level, the slow
scikit-learn import xgboost would do is blocked, and pandas/pyarrow are imported only
for the formats that need them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simsage.algorithms import xgboost_data as data
from simsage.algorithms import xgboost_metrics as metrics
from simsage.algorithms.xgboost_data import JobConfig, UserError, read_config, validate_channels

logger = logging.getLogger("simsage.algorithms.xgboost")

OPT_ML_ENV = "SIMSAGE_OPT_ML"
TRACKER_PORT_ENV = "SIMSAGE_TRACKER_PORT"
TRACKER_TIMEOUT_ENV = "SIMSAGE_XGBOOST_TRACKER_TIMEOUT"
MODEL_NAME = "xgboost-model"
CHECKPOINT_NAME = "xgboost-checkpoint"
CHECKPOINTS_KEPT = 5
LOG_FORMAT = "[%(asctime)s:%(levelname)s] %(message)s"
LOG_DATE_FORMAT = "%Y-%m-%d:%H:%M:%S"


# -- hyperparameters -------------------------------------------------------------------


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


# -- training --------------------------------------------------------------------------


def _callbacks(
    xgboost: Any, job: JobConfig, plan: Plan, has_validation: bool, model_path: Path
) -> list[Any]:
    values = plan.values
    callbacks = [_monitor(xgboost)]
    rounds = values.get("early_stopping_rounds")
    if rounds:
        if has_validation:
            metric = plan.stop_on
            direction = metrics.metric_direction(metric) if metric else None
            callbacks.append(
                xgboost.callback.EarlyStopping(
                    rounds=rounds,
                    data_name="validation",
                    metric_name=metric,
                    maximize=None if direction is None else direction == "Maximize",
                    save_best=job.is_master,
                )
            )
        else:
            logger.warning(
                "early_stopping_rounds needs a validation channel; training all %s rounds",
                values["num_round"],
            )
    if job.is_master and job.checkpoint_dir is not None:
        callbacks.append(_checkpoint_callback(xgboost, job.checkpoint_dir))
    if job.is_master and values.get("save_model_on_termination") == "true":
        callbacks.append(_intermediate_model_callback(xgboost, model_path))
    return callbacks


def _monitor(xgboost: Any) -> Any:
    class Monitor(xgboost.callback.EvaluationMonitor):
        """xgboost's evaluation lines, numbered from the rounds a checkpoint already
        holds (xgboost numbers a continued training from 0)."""

        def before_training(self, model: Any) -> Any:
            self.starting_round = model.num_boosted_rounds()
            return super().before_training(model)

        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            return super().after_iteration(model, epoch + self.starting_round, evals_log)

    return Monitor(logger=_print_line)


def _checkpoint_callback(xgboost: Any, folder: Path) -> Any:
    class SaveCheckpoint(xgboost.callback.TrainingCallback):
        """``xgboost-checkpoint.<i>`` after every round, keeping the last few."""

        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            iteration = model.num_boosted_rounds() - 1
            folder.mkdir(parents=True, exist_ok=True)
            _atomic_save(model, folder / f"{CHECKPOINT_NAME}.{iteration}")
            stale = folder / f"{CHECKPOINT_NAME}.{iteration - CHECKPOINTS_KEPT}"
            stale.unlink(missing_ok=True)
            return False

    return SaveCheckpoint()


def _intermediate_model_callback(xgboost: Any, model_path: Path) -> Any:
    class SaveModel(xgboost.callback.TrainingCallback):
        """The model so far, so a stopped job still has one."""

        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            _atomic_save(model, model_path)
            return False

    return SaveModel()


def _atomic_save(booster: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp.ubj")
    booster.save_model(str(temporary))
    os.replace(temporary, path)


def latest_checkpoint(folder: Path | None) -> tuple[Path | None, int]:
    """The newest ``xgboost-checkpoint.<i>`` in ``folder`` and the rounds it holds."""
    if folder is None or not folder.is_dir():
        return None, 0
    found = []
    for path in folder.iterdir():
        prefix, _, number = path.name.partition(".")
        if prefix == CHECKPOINT_NAME and number.isdigit():
            found.append((int(number), path))
    if not found:
        return None, 0
    number, path = max(found)
    return path, number + 1


def _print_line(message: str) -> None:
    print(message.strip(), flush=True)


# How xgboost's collective reports a peer that went away.
_BROKEN_CONNECTION = ("ring allreduce", "ring allgather", "socket")


def _xgboost_message(error: Exception) -> str:
    return str(error).split("Stack trace:", 1)[0].strip()


def train(job: JobConfig) -> None:
    """Run the job of one host: validate, read data, train (with the other hosts), save.

    Raises:
        UserError: anything the user must fix; the message is the failure reason.
    """
    plan = Plan.from_hyperparameters(job.hyperparameters)
    data_format = validate_channels(job.channels)
    if plan.values.get("_tuning_objective_metric"):
        tuning = plan.values["_tuning_objective_metric"]
        logger.info("Setting up HPO optimized metric to be : %s", tuning[1])
    logger.info(
        "Determined %s GPU(s) available on the instance.", os.environ.get("SM_NUM_GPUS", "0")
    )
    if len(job.hosts) > 1:
        _train_cluster(job, plan, data_format)
        return
    import xgboost

    dtrain, dvalidation = _load_data(job, plan, data_format)
    if dtrain is None:
        raise UserError(f"No data in training channel path {job.channel_dir('train')}")
    if "validation" in job.channels and dvalidation is None:
        raise UserError(f"No data in validation channel path {job.channel_dir('validation')}")
    logger.info("Single node training.")
    _train_job(xgboost, job, plan, dtrain, dvalidation)


def _load_data(job: JobConfig, plan: Plan, data_format: str) -> tuple[Any, Any]:
    """The train and validation DMatrix of this host (None where it has no rows)."""
    csv_weights = bool(plan.values.get("csv_weights", 0))
    loaded = []
    for name in ("train", "validation"):
        if name not in job.channels:
            loaded.append(None)
            continue
        logger.info("File path %s of input files", job.channel_dir(name))
        matrix = data.load_channel(job.channel_dir(name), data_format, csv_weights)
        if matrix is not None:
            data.check_labels(matrix.get_label(), name, plan.values, strict=name == "train")
        loaded.append(matrix)
    return loaded[0], loaded[1]


def _train_cluster(job: JobConfig, plan: Plan, data_format: str) -> None:
    """One host of a distributed job: the first host also runs the tracker (started
    before reading data, so the others can connect as soon as they are ready)."""
    tracker = _start_tracker(job)
    try:
        import xgboost

        try:
            dtrain, dvalidation = _load_data(job, plan, data_format)
        except UserError as error:
            # The others would wait for this host forever: join, and tell them to stop.
            _write_failure(job.root, str(error))
            _signal_error(job)
            raise
        logger.info("Distributed node training with %s hosts: %s", len(job.hosts), job.hosts)
        if dtrain is None:
            logger.warning(
                "Host %s does not have training data; it joins the cluster with no rows. Divide "
                "the training data across instances (ShardedByS3Key) so every host has some.",
                job.current_host,
            )
        _train_distributed(xgboost, job, plan, dtrain, dvalidation)
        if tracker is not None:
            tracker.wait_for()
    finally:
        if tracker is not None:
            with contextlib.suppress(Exception):  # after a failure the tracker may complain
                tracker.free()


def _start_tracker(job: JobConfig) -> Any:
    port = _tracker_port()
    if not job.is_master:
        return None
    from xgboost.tracker import RabitTracker

    timeout = int(os.environ.get(TRACKER_TIMEOUT_ENV, "300"))
    tracker = RabitTracker(
        n_workers=len(job.hosts), host_ip="127.0.0.1", port=port, sortby="task", timeout=timeout
    )
    tracker.start()
    logger.info("Started the XGBoost tracker on 127.0.0.1:%s for %s hosts", port, len(job.hosts))
    return tracker


def _tracker_port() -> int:
    raw = os.environ.get(TRACKER_PORT_ENV)
    if not raw or not raw.isdigit():
        raise UserError(
            f"Distributed training needs the tracker port in ${TRACKER_PORT_ENV} (got {raw!r})"
        )
    return int(raw)


def _worker_args(job: JobConfig) -> dict[str, Any]:
    port = _tracker_port()
    _wait_for_listener(port, time.monotonic() + 60)
    return {
        "dmlc_tracker_uri": "127.0.0.1",
        "dmlc_tracker_port": port,
        "dmlc_task_id": job.current_host,
        "dmlc_retry": 30,
    }


def _signal_error(job: JobConfig) -> None:
    from xgboost import collective

    with contextlib.suppress(Exception), collective.CommunicatorContext(**_worker_args(job)):
        collective.signal_error()


def _wait_for_listener(port: int, deadline: float) -> None:
    """Wait (Linux: by reading /proc/net/tcp, without touching the socket) until the
    tracker listens, so the worker's first connection succeeds instead of backing off."""
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not tables[0].exists():
        return
    wanted = f":{port:04X}"
    while time.monotonic() < deadline:
        for table in tables:
            try:
                lines = table.read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                if len(fields) > 3 and fields[1].endswith(wanted) and fields[3] == "0A":
                    return
        time.sleep(0.05)


def _train_distributed(
    xgboost: Any, job: JobConfig, plan: Plan, dtrain: Any, dvalidation: Any
) -> None:
    from xgboost import collective

    if "nthread" not in plan.values:
        # The hosts share this machine: splitting its CPUs avoids OpenMP threads spinning
        # against each other at every allreduce (several times slower otherwise).
        cpus = int(os.environ.get("SM_NUM_CPUS") or os.cpu_count() or 1)
        nthread = max(1, cpus // len(job.hosts))
        plan = dataclasses.replace(plan, values={**plan.values, "nthread": nthread})
        logger.info("The %s hosts share %s CPUs: nthread=%s", len(job.hosts), cpus, nthread)
    try:
        with collective.CommunicatorContext(**_worker_args(job)):
            dtrain = _rebuild(xgboost, dtrain)
            if "validation" in job.channels:
                dvalidation = _rebuild(xgboost, dvalidation)
            rank, size = collective.get_rank(), collective.get_world_size()
            logger.info("Host %s is rank %s of %s", job.current_host, rank, size)
            _train_job(xgboost, job, plan, dtrain, dvalidation)
    except (xgboost.core.XGBoostError, UserError) as error:
        message = str(error) if isinstance(error, UserError) else _xgboost_message(error)
        if any(sign in message.lower() for sign in _BROKEN_CONNECTION):
            raise UserError(
                "Distributed training failed: the connection to another host broke, most "
                f"likely because that host failed first (see its log).\n {message}"
            ) from None
        raise UserError(message) from None


def _rebuild(xgboost: Any, dmatrix: Any) -> Any:
    """The same matrix, built inside the communicator and the same way on every host:
    building a DMatrix in a distributed job is itself a collective call (the hosts agree
    on the number of columns), so a host without rows gets an empty one, synced too."""
    import numpy as np
    import scipy.sparse

    if dmatrix is None:
        empty = scipy.sparse.csr_matrix((0, 0), dtype=np.float32)
        return xgboost.DMatrix(empty, label=np.empty(0, dtype=np.float32))
    weight = dmatrix.get_weight()
    rebuilt = xgboost.DMatrix(
        dmatrix.get_data(), label=dmatrix.get_label(), weight=weight if weight.size else None
    )
    group_pointers = dmatrix.get_uint_info("group_ptr")
    if group_pointers.size > 1:
        rebuilt.set_group(np.diff(group_pointers))
    return rebuilt


def _train_job(xgboost: Any, job: JobConfig, plan: Plan, dtrain: Any, dvalidation: Any) -> None:
    logger.info("Train matrix has %s rows and %s columns", dtrain.num_row(), dtrain.num_col())
    if dvalidation is not None:
        logger.info("Validation matrix has %s rows", dvalidation.num_row())
    model_path = job.root / "model" / MODEL_NAME
    evals = [(dtrain, "train")]
    if dvalidation is not None:
        evals.append((dvalidation, "validation"))
    custom_metric = None
    if plan.container_metrics:
        custom_metric = metrics.container_metric_function(
            plan.container_metrics, plan.values["objective"], plan.values.get("num_class")
        )
    checkpoint, done = latest_checkpoint(job.checkpoint_dir)
    if checkpoint is not None:
        logger.info("Checkpoint loaded from %s", checkpoint)
        logger.info("Resuming from iteration %s", done)
    rounds = max(plan.values["num_round"] - done, 0)
    callbacks = _callbacks(xgboost, job, plan, dvalidation is not None, model_path)
    try:
        booster = xgboost.train(
            plan.booster_params(),
            dtrain,
            num_boost_round=rounds,
            evals=evals,
            custom_metric=custom_metric,
            callbacks=callbacks,
            xgb_model=str(checkpoint) if checkpoint is not None else None,
            verbose_eval=False,
        )
    except xgboost.core.XGBoostError as error:
        raise UserError(
            f"XGB train call failed with exception:\n {_xgboost_message(error)}"
        ) from None
    except metrics.MetricError as error:
        raise UserError(str(error)) from None
    if job.is_master:
        _atomic_save(booster, model_path)
        logger.info("Stored trained model at %s", model_path)


# -- process ---------------------------------------------------------------------------


def _show_warning(
    message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None
) -> None:
    """xgboost's native warnings (``[12:00:00] WARNING: …``) go to stdout as the container
    prints them; other warnings keep Python's format on stderr."""
    text = str(message)
    if "WARNING:" in text and text.lstrip().startswith("["):
        _print_line(text)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _setup_process() -> None:
    # xgboost imports scikit-learn (≈1 s) when it is installed, and its plotting and
    # sklearn modules (scipy.special, ≈0.1 s), only for APIs this process never uses;
    # xgboost's __init__ skips those on ImportError.
    sys.modules.setdefault("sklearn", None)  # type: ignore[assignment]
    sys.modules.setdefault("xgboost.plotting", None)  # type: ignore[assignment]
    with contextlib.suppress(AttributeError):  # a replaced stdout may not have it
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(LOG_FORMAT, LOG_DATE_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    warnings.showwarning = _show_warning
    warnings.filterwarnings("ignore", message=".*Saving model in the UBJSON format as default.*")


def _write_failure(root: Path, message: str) -> None:
    failure = root / "output" / "failure"
    try:
        failure.parent.mkdir(parents=True, exist_ok=True)
        if not failure.exists():  # the first failure is the reason, as the toolkit does
            failure.write_text(message)
    except OSError:
        pass


def main(adapt: Callable[[JobConfig], JobConfig] | None = None) -> int:
    """Entry point: run the job described by ``$SIMSAGE_OPT_ML``; returns the exit code.

    ``adapt`` rewrites the job before it is validated (an image's own parameter
    handling, e.g. :mod:`simsage.algorithms.xgboost_legacy`); it may raise UserError.
    """
    _setup_process()
    raw_root = os.environ.get(OPT_ML_ENV)
    if not raw_root:
        print(
            f"{OPT_ML_ENV} is not set: it must name the host's /opt/ml-shaped folder",
            file=sys.stderr,
        )
        return 2
    root = Path(raw_root)
    logger.info("Running XGBoost Sagemaker in algorithm mode")
    try:
        job = read_config(root)
        train(adapt(job) if adapt is not None else job)
    except UserError as error:
        logger.error("Reporting training FAILURE")
        logger.error("%s", error)
        # SageMaker reports the container's user errors as ClientError.
        _write_failure(root, f"ClientError: {error}")
        return 1
    except Exception as error:  # an algorithm bug: keep the traceback in the log
        logger.error("Reporting training FAILURE")
        traceback.print_exc()
        message = _xgboost_message(error)
        _write_failure(root, f"framework error: {type(error).__name__}: {message}")
        return 1
    (root / "output").mkdir(parents=True, exist_ok=True)
    (root / "output" / "success").touch()
    return 0


def _exit_now(code: int) -> None:
    """Leave without the interpreter's teardown (about 0.2 s once xgboost and numpy are
    loaded): the model and the failure report are already on disk and the output is
    flushed here, so nothing is lost and the job finishes sooner."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run(adapt: Callable[[JobConfig], JobConfig] | None = None) -> None:
    """Run the job as this module's ``__main__`` does, then leave the process."""
    _exit_now(main(adapt))


if __name__ == "__main__":
    run()
