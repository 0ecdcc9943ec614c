"""The built-in SageMaker linear learner (image ``linear-learner:1``), one process per host:

    SIMSAGE_OPT_ML=<host root> python -m simsage.algorithms.linear_learner_train

Layer: programs (runs as the container's ``train``); the numerics are in
:mod:`simsage.algorithms.linear_learner_model`, the shared 1P pieces in
:mod:`simsage.algorithms.first_party_train`.

What a job does:
1. validates every documented hyperparameter (names, ranges and combinations as the
   developer guide and the SDK's ``LinearLearner`` give them; the containers' wording);
2. reads ``train`` (CSV with the label in the first column, or RecordIO-protobuf with
   labels; other content types, libsvm included, are refused as the container refuses
   them: "No iterator has been registered for ContentType ('csv', '1.0')"), the optional
   ``validation`` (which must be FullyReplicated: a ShardedByS3Key validation channel fails
   the job with a ClientError when it starts, the container's schema check, not a
   CreateTrainingJob refusal) and ``test``; labels must be 0/1 (binary) or
   0..num_classes-1 (multiclass);
3. trains ``num_models`` models at once (see the model module) with early stopping on the
   validation objective loss (train's when there is no validation; a binary classifier's
   selection criterion when there is); a ``mini_batch_size`` above a host's record count
   fails the job, as the SDK's LinearLearner warns it does on AWS;
4. with several hosts (ShardedByS3Key), every host trains on its shard and sends its models
   (raw space) to the first host, which averages each model over the hosts weighted by
   their record counts;
5. the first host picks the best model on validation (or train) — for binary classifiers
   with the decision threshold that maximises ``binary_classifier_model_selection_criteria``
   — logs the final metrics of train, validation and test, and writes the model.

Every hyperparameter has its documented effect; what ``auto`` means here (simsage's
choices, the real values are unpublished): ``num_models`` 32 (fewer for many classes; 1
under automatic model tuning, as the docs say), the models spread around the given (or
auto: Adam 0.02, SGD 0.05, RMSProp 0.01) learning rate, ``wd`` and ``l1``; ``beta_1`` 0.9,
``beta_2`` 0.999 (RMSProp's decay too), ``momentum`` 0.9, ``bias_lr_mult`` 1,
``bias_wd_mult`` 0, ``lr_scheduler_*`` factor 0.99 every epoch's worth of steps down to
1e-5, ``num_calibration_samples`` all the records, ``positive_example_weight_mult=auto``
models spread from 1 to balanced. ``normalize_label``/``unbias_label`` are ignored for
classifiers, as documented. ``f1`` and ``cross_entropy_loss`` (the SDK's extra criteria)
mean ``f_beta`` with beta 1 and ``loss_function``.

Model format (simsage's own; the real container writes MXNet parameters nobody reads):
``model/linear-learner-model.json`` = ``{"format": "simsage-linear-learner/1",
"predictor_type", "loss", "feature_dim", "num_classes", "weights": [[... K per feature]],
"bias": [K], "threshold", "hyperparameters"}`` with ``score = x @ weights + bias`` in raw
feature space (normalisation folded in), then the sigmoid/softmax of the loss.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from typing import Any

from simsage.algorithms.first_party_train import (
    Hyperparameters,
    JobConfig,
    UserError,
    bad_hyperparameter,
    check_channels,
    check_distribution,
    gather_or_fail,
    has_data,
    run,
    write_model,
)
from simsage.algorithms.first_party_train import load as first_party_load
from simsage.algorithms.linear_learner_metrics import epoch_line, metric_line

logger = logging.getLogger("simsage.algorithms.linear_learner")

MODEL_FILE = "linear-learner-model.json"
MODEL_FORMAT = "simsage-linear-learner/1"
CHANNELS = ("train", "validation", "test")
PREDICTOR_TYPES = ("binary_classifier", "multiclass_classifier", "regressor")
LOSSES = {
    "binary_classifier": ("logistic", "hinge_loss"),
    "multiclass_classifier": ("softmax_loss",),
    "regressor": ("squared_loss", "absolute_loss", "eps_insensitive_squared_loss",
                  "eps_insensitive_absolute_loss", "quantile_loss", "huber_loss"),
}  # fmt: skip
ALL_LOSSES = ("auto", "logistic", "squared_loss", "absolute_loss", "hinge_loss",
              "eps_insensitive_squared_loss", "eps_insensitive_absolute_loss", "quantile_loss",
              "huber_loss", "softmax_loss")  # fmt: skip
CRITERIA = ("accuracy", "f1", "f_beta", "precision_at_target_recall",
            "recall_at_target_precision", "cross_entropy_loss", "loss_function")  # fmt: skip
KNOWN = frozenset(
    [
        "predictor_type",
        "num_classes",
        "feature_dim",
        "loss",
        "epochs",
        "mini_batch_size",
        "learning_rate",
        "optimizer",
        "beta_1",
        "beta_2",
        "wd",
        "l1",
        "momentum",
        "use_bias",
        "normalize_data",
        "normalize_label",
        "unbias_data",
        "unbias_label",
        "num_point_for_scaler",
        "num_models",
        "num_calibration_samples",
        "early_stopping_patience",
        "early_stopping_tolerance",
        "binary_classifier_model_selection_criteria",
        "target_precision",
        "target_recall",
        "f_beta",
        "positive_example_weight_mult",
        "balance_multiclass_weights",
        "accuracy_top_k",
        "margin",
        "quantile",
        "huber_delta",
        "loss_insensitivity",
        "init_method",
        "init_scale",
        "init_sigma",
        "init_bias",
        "use_lr_scheduler",
        "lr_scheduler_step",
        "lr_scheduler_factor",
        "lr_scheduler_minimum_lr",
        "bias_lr_mult",
        "bias_wd_mult",
    ]
)
AUTO_LEARNING_RATE = {"adam": 0.02, "sgd": 0.05, "rmsprop": 0.01}


@dataclass(frozen=True)
class Params:
    """The validated hyperparameters (None: ``auto``)."""

    predictor_type: str
    num_classes: int
    feature_dim: int | None
    loss: str
    epochs: int
    mini_batch_size: int
    learning_rate: float | None
    optimizer: str
    beta_1: float | None
    beta_2: float | None
    wd: float | None
    l1: float | None
    momentum: float | None
    use_bias: bool
    normalize_data: bool
    normalize_label: bool
    unbias_data: bool
    unbias_label: bool
    num_point_for_scaler: int
    num_models: int | None
    num_calibration_samples: int | None
    early_stopping_patience: int
    early_stopping_tolerance: float
    criterion: str
    target_precision: float
    target_recall: float
    f_beta: float
    positive_example_weight_mult: str  # a number, "auto" or "balanced"
    balance_multiclass_weights: bool
    accuracy_top_k: int
    margin: float
    quantile: float
    huber_delta: float
    loss_insensitivity: float
    init_method: str
    init_scale: float
    init_sigma: float
    init_bias: float
    use_lr_scheduler: bool
    lr_scheduler_step: int | None
    lr_scheduler_factor: float | None
    lr_scheduler_minimum_lr: float | None
    bias_lr_mult: float | None
    bias_wd_mult: float | None
    tuning: bool  # run by automatic model tuning: num_models is 1


def _open(hp: Hyperparameters, name: str, value: float | None, low: float | None = None,
          high: float | None = None) -> float | None:  # fmt: skip
    """Refuse ``value`` on an exclusive bound (jsonschema's exclusiveMinimum words)."""
    if value is not None and low is not None and value <= low:
        raise bad_hyperparameter(f"{value} is less than or equal to the minimum of {low} ({name})")
    if value is not None and high is not None and value >= high:
        raise bad_hyperparameter(
            f"{value} is greater than or equal to the maximum of {high} ({name})"
        )
    return value


def _tristate(hp: Hyperparameters, name: str, auto: bool, default: str = "auto") -> bool:
    raw = hp.values.get(name, default).lower()
    if raw == "auto":
        return auto
    return hp.boolean(name, auto) if name in hp.values else raw == "true"


def parse_params(values: dict[str, str]) -> Params:
    """Validate the job's hyperparameters (strings, as SageMaker passes them).

    Raises:
        UserError: a missing required, unknown or invalid hyperparameter, or a combination
            the algorithm refuses (the failure reason).
    """
    hp = Hyperparameters(values, KNOWN)
    kind = hp.choice("predictor_type", PREDICTOR_TYPES)
    num_classes = 1
    if kind == "multiclass_classifier":
        if "num_classes" not in hp.values:
            raise bad_hyperparameter(
                "'num_classes' is a required property when predictor_type is multiclass_classifier"
            )
        num_classes = hp.integer("num_classes", 3, 1000000)
    elif "num_classes" in hp.values:
        hp.integer("num_classes", 1, 1000000)  # ignored, but it must still be an integer
    loss = hp.choice("loss", ALL_LOSSES, "auto")
    if loss == "auto":
        loss = LOSSES[kind][0]
    elif loss not in LOSSES[kind]:
        raise bad_hyperparameter(
            f"loss {loss!r} is not valid for predictor_type {kind!r}: use auto or one of "
            f"{', '.join(LOSSES[kind])}"
        )
    weight_mult = hp.values.get("positive_example_weight_mult", "1.0")
    if weight_mult not in ("auto", "balanced"):
        _open(
            hp,
            "positive_example_weight_mult",
            hp.number("positive_example_weight_mult", default=1.0),
            0,
        )
    use_bias = hp.boolean("use_bias", True)
    optimizer = hp.choice("optimizer", ("auto", "sgd", "adam", "rmsprop"), "auto")
    scheduler_factor = hp.auto_number("lr_scheduler_factor")
    return Params(
        predictor_type=kind,
        num_classes=num_classes,
        feature_dim=hp.auto_integer("feature_dim", 1),
        loss=loss,
        epochs=hp.integer("epochs", 1, default=15),
        mini_batch_size=hp.integer("mini_batch_size", 1, default=1000),
        learning_rate=_open(hp, "learning_rate", hp.auto_number("learning_rate"), 0),
        optimizer="adam" if optimizer == "auto" else optimizer,
        beta_1=_open(hp, "beta_1", hp.auto_number("beta_1", 0), None, 1),
        beta_2=_open(hp, "beta_2", hp.auto_number("beta_2", 0), None, 1),
        wd=hp.auto_number("wd", 0),
        l1=hp.auto_number("l1", 0),
        momentum=_open(hp, "momentum", hp.auto_number("momentum", 0), None, 1),
        use_bias=use_bias,
        normalize_data=_tristate(hp, "normalize_data", True, "true"),
        normalize_label=_tristate(hp, "normalize_label", kind == "regressor")
        and kind == "regressor",
        unbias_data=_tristate(hp, "unbias_data", use_bias),
        unbias_label=_tristate(hp, "unbias_label", use_bias) and kind == "regressor",
        num_point_for_scaler=hp.integer("num_point_for_scaler", 1, default=10000),
        num_models=hp.auto_integer("num_models", 1),
        num_calibration_samples=hp.auto_integer("num_calibration_samples", 1),
        early_stopping_patience=hp.integer("early_stopping_patience", 1, default=3),
        early_stopping_tolerance=_open(
            hp, "early_stopping_tolerance", hp.number("early_stopping_tolerance", default=0.001), 0
        ),
        criterion=hp.choice("binary_classifier_model_selection_criteria", CRITERIA, "accuracy"),
        target_precision=_open(
            hp, "target_precision", hp.number("target_precision", default=0.8), 0, 1
        ),  # fmt: skip
        target_recall=_open(hp, "target_recall", hp.number("target_recall", default=0.8), 0, 1),
        f_beta=_open(hp, "f_beta", hp.number("f_beta", default=1.0), 0),
        positive_example_weight_mult=weight_mult,
        balance_multiclass_weights=hp.boolean("balance_multiclass_weights", False),
        accuracy_top_k=hp.integer("accuracy_top_k", 1, 1000000, default=3),
        margin=hp.number("margin", 0, default=1.0),
        quantile=_open(hp, "quantile", hp.number("quantile", default=0.5), 0, 1),
        huber_delta=hp.number("huber_delta", 0, default=1.0),
        loss_insensitivity=_open(
            hp, "loss_insensitivity", hp.number("loss_insensitivity", default=0.01), 0
        ),  # fmt: skip
        init_method=hp.choice("init_method", ("uniform", "normal"), "uniform"),
        init_scale=_open(hp, "init_scale", hp.number("init_scale", default=0.07), 0),
        init_sigma=_open(hp, "init_sigma", hp.number("init_sigma", default=0.01), 0),
        init_bias=hp.number("init_bias", default=0.0),
        use_lr_scheduler=hp.boolean("use_lr_scheduler", True),
        lr_scheduler_step=hp.auto_integer("lr_scheduler_step", 1),
        lr_scheduler_factor=_open(hp, "lr_scheduler_factor", scheduler_factor, 0, 1),
        lr_scheduler_minimum_lr=_open(
            hp, "lr_scheduler_minimum_lr", hp.auto_number("lr_scheduler_minimum_lr"), 0
        ),  # fmt: skip
        bias_lr_mult=_open(hp, "bias_lr_mult", hp.auto_number("bias_lr_mult"), 0),
        bias_wd_mult=hp.auto_number("bias_wd_mult", 0),
        tuning="_tuning_objective_metric" in hp.values,
    )


def check_labels(y: Any, params: Params, channel: str) -> Any:
    """The labels as float64, refused unless 0/1 (binary) or 0..num_classes-1 (multiclass).

    Raises:
        UserError: no labels, non-finite labels or labels outside the classes.
    """
    import numpy as np

    if y is None:
        raise UserError(
            f"The {channel} channel has no labels: linear learner needs a label per record "
            "(CSV: the first column; RecordIO-protobuf: the record's label)"
        )
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if not np.isfinite(y).all():
        raise UserError(f"The {channel} channel has a label that is not a finite number")
    if params.predictor_type == "binary_classifier":
        bad = y[(y != 0) & (y != 1)]
        if bad.size:
            raise UserError(
                f"The {channel} channel has label {bad[0]:g}: labels must be 0 or 1 for "
                "predictor_type binary_classifier"
            )
    elif params.predictor_type == "multiclass_classifier":
        bad = y[(y != np.round(y)) | (y < 0) | (y >= params.num_classes)]
        if bad.size:
            raise UserError(
                f"The {channel} channel has label {bad[0]:g}: labels must be integers from 0 "
                f"to num_classes - 1 = {params.num_classes - 1}"
            )
    return y


def loss_spec(params: Params):
    from simsage.algorithms.linear_learner_model import LossSpec

    return LossSpec(params.loss, params.margin, params.quantile, params.huber_delta,
                    params.loss_insensitivity)  # fmt: skip


def _spread(rng: Any, count: int, value: float | None, auto_low: float, auto_high: float,
            auto_first: float, zero_share: float = 0.0) -> Any:  # fmt: skip
    """Per-model values: model 0 takes the given (or auto) value; the others are close to a
    given value (×2^U(-1,1)) or, for auto, log-uniform in ``auto_low..auto_high`` (a share of
    them 0: no regularisation)."""
    import numpy as np

    if value is not None:
        out = value * 2.0 ** rng.uniform(-1, 1, count)
    else:
        out = 10.0 ** rng.uniform(np.log10(auto_low), np.log10(auto_high), count)
        out[rng.uniform(size=count) < zero_share] = 0.0
        value = auto_first
    out[0] = value
    return out


def make_config(params: Params, y: Any):
    """The training configuration: the models' hyperparameters (deterministic, so every
    host builds the same ones) and the loss."""
    import numpy as np

    from simsage.algorithms.linear_learner_model import Config

    if params.mini_batch_size > len(y):
        # The SDK's LinearLearner caps mini_batch_size at the records per instance because
        # "mini_batch_size can't be greater than number of records or training job fails".
        raise UserError(
            f"mini_batch_size ({params.mini_batch_size}) is greater than the number of "
            f"training records ({len(y)}): set mini_batch_size to at most {len(y)}"
        )
    k = params.num_classes if params.predictor_type == "multiclass_classifier" else 1
    models = 1 if params.tuning else params.num_models or max(1, min(32, 256 // k))
    rng = np.random.default_rng(12345)
    base_lr = AUTO_LEARNING_RATE[params.optimizer]
    lr = _spread(rng, models, params.learning_rate, base_lr / 5, base_lr * 5, base_lr)
    wd = _spread(rng, models, params.wd, 1e-7, 1e-2, 0.0, zero_share=0.3)
    l1 = _spread(rng, models, params.l1, 1e-7, 1e-3, 0.0, zero_share=0.6)
    positive = np.ones(models)
    class_weight = None
    if params.predictor_type == "binary_classifier":
        count = max(float(y.sum()), 1.0)
        balanced = max(float(len(y) - y.sum()), 1.0) / count
        mult = params.positive_example_weight_mult
        if mult == "balanced":
            positive[:] = balanced
        elif mult == "auto":  # from 1 (model 0) to balanced: selection picks the best
            positive = balanced ** (np.arange(models) % 4 / 3.0)
        else:
            positive[:] = float(mult)
    elif params.predictor_type == "multiclass_classifier" and params.balance_multiclass_weights:
        counts = np.bincount(y.astype(np.int64), minlength=k).astype(np.float64)
        class_weight = np.where(counts > 0, len(y) / (k * np.maximum(counts, 1.0)), 0.0)
    return Config(
        kind=params.predictor_type,
        loss=params.loss,
        classes=k,
        lr=lr,
        wd=wd,
        l1=l1,
        positive_weight=positive,
        class_weight=class_weight,
        spec=loss_spec(params),
        optimizer=params.optimizer,
        beta_1=params.beta_1 if params.beta_1 is not None else 0.9,
        beta_2=params.beta_2 if params.beta_2 is not None else 0.999,
        momentum=params.momentum if params.momentum is not None else 0.9,
        epochs=params.epochs,
        batch=params.mini_batch_size,
        use_bias=params.use_bias,
        bias_lr_mult=params.bias_lr_mult or 1.0,
        bias_wd_mult=params.bias_wd_mult or 0.0,
        init_method=params.init_method,
        init_scale=params.init_scale,
        init_sigma=params.init_sigma,
        init_bias=params.init_bias,
        normalize_data=params.normalize_data,
        unbias_data=params.unbias_data,
        normalize_label=params.normalize_label,
        unbias_label=params.unbias_label,
        scaler_points=params.num_point_for_scaler,
        patience=params.early_stopping_patience,
        tolerance=params.early_stopping_tolerance,
        lr_scheduler=params.use_lr_scheduler,
        lr_step=params.lr_scheduler_step,
        lr_factor=params.lr_scheduler_factor or 0.99,
        lr_minimum=params.lr_scheduler_minimum_lr or 1e-5,
        selection=selection_of(params),
    )


def selection_of(params: Params) -> dict:
    """The model selection criterion and its parameters."""
    return {"criterion": params.criterion, "beta": params.f_beta,
            "target_precision": params.target_precision,
            "target_recall": params.target_recall}  # fmt: skip


def finish(params: Params, config: Any, trained: Any, calibration: tuple[Any, Any]) -> dict:
    """Pick the best model on ``calibration`` and return the model dict."""
    import numpy as np

    from simsage.algorithms.linear_learner_model import select

    x, y = calibration
    if params.num_calibration_samples and x.shape[0] > params.num_calibration_samples:
        keep = np.sort(np.random.default_rng(7).choice(
            x.shape[0], params.num_calibration_samples, replace=False))  # fmt: skip
        x, y = x[keep], y[keep]
    best, threshold = select(
        trained, x, y, params.predictor_type, loss_spec(params), selection_of(params)
    )
    return {
        "format": MODEL_FORMAT,
        "predictor_type": params.predictor_type,
        "loss": params.loss,
        "feature_dim": int(trained.weights.shape[0]),
        "num_classes": int(config.classes) if params.predictor_type.startswith("multi") else 2
        if params.predictor_type == "binary_classifier" else None,
        "weights": trained.weights[:, best, :].tolist(),
        "bias": trained.bias[best, :].tolist(),
        "threshold": threshold,
        "hyperparameters": {"optimizer": params.optimizer,
                            "learning_rate": float(config.lr[best]),
                            "wd": float(config.wd[best]), "l1": float(config.l1[best]),
                            "positive_example_weight_mult": float(config.positive_weight[best])},
        "epochs": int(trained.epochs_run),
    }  # fmt: skip


def fit_arrays(x: Any, y: Any, hyperparameters: dict[str, str],
               validation: tuple[Any, Any] | None = None, log=None) -> dict:  # fmt: skip
    """Train in-process on arrays, as a one-host job does: the model dict it would write.

    Raises:
        UserError: invalid hyperparameters or labels.
    """
    from simsage.algorithms.linear_learner_model import train as train_models

    params = parse_params(hyperparameters)
    y = check_labels(y, params, "train")
    if validation is not None:
        validation = (validation[0], check_labels(validation[1], params, "validation"))
    config = make_config(params, y)
    trained = train_models(x, y, config, validation, log)
    return finish(params, config, trained, validation or (x, y))


# -- the job ---------------------------------------------------------------------------


TRAINING_TYPES = ("text/csv", "application/x-recordio-protobuf")


def _load(job: JobConfig, channel: str, params: Params) -> tuple[Any, Any]:
    """A channel's ``(X, labels)``: CSV (label first) or RecordIO-protobuf only, as the
    developer guide says; any other ContentType (``csv``, ``text/libsvm`` …) is refused with
    the container's words."""
    given = job.channels[channel].get("ContentType")
    mime = (given or TRAINING_TYPES[1]).split(";")[0].strip().lower()
    if mime not in TRAINING_TYPES:
        raise UserError(
            f"No iterator has been registered for ContentType ({mime!r}, '1.0'): the "
            f"{channel} channel must be text/csv or application/x-recordio-protobuf"
        )
    x, y = first_party_load(job, channel, label_size=1, feature_dim=params.feature_dim)
    return x, check_labels(y, params, channel)


def report(host: str, channel: str, model: dict, x: Any, y: Any, params: Params) -> None:
    """Log a channel's final metrics as the container does."""
    import numpy as np

    from simsage.algorithms.linear_learner_model import metrics

    weights, bias = np.asarray(model["weights"]), np.asarray(model["bias"])
    for name, value, kind in metrics(model, x, y, weights, bias, loss_spec(params),
                                     params.f_beta, params.accuracy_top_k):  # fmt: skip
        print(metric_line(host, channel, name, value, kind), flush=True)


def train(job: JobConfig) -> None:
    """Run one host's part of the job.

    Raises:
        UserError: anything the user must fix; the message is the failure reason.
    """
    import numpy as np

    from simsage.algorithms.linear_learner_model import Trained, average, objective_name
    from simsage.algorithms.linear_learner_model import train as train_models

    check_channels(job, CHANNELS, "linear learner")
    if "validation" in job.channels:
        check_distribution(job, "validation", ("FullyReplicated",))
    params = parse_params(job.hyperparameters)
    host = job.current_host
    objective = objective_name(params.loss)
    validation = _load(job, "validation", params) if "validation" in job.channels else None
    data: dict[str, Any] = {}

    def log(epoch: int, channel: str, value: float) -> None:
        print(epoch_line(host, epoch, channel, objective, value), flush=True)

    def compute() -> dict[str, Any]:
        if len(job.hosts) > 1 and not has_data(job.channel_dir("train")):
            logger.warning("Host %s has no training data: it adds no models", host)
            return {"records": np.array(0)}
        x, y = _load(job, "train", params)
        if validation is not None and validation[0].shape[1] != x.shape[1]:
            raise UserError(
                f"The validation channel has {validation[0].shape[1]} features per record but "
                f"train has {x.shape[1]}"
            )
        data.update(x=x, y=y, config=make_config(params, y))
        trained = train_models(x, y, data["config"], validation, log)
        logger.info("Host %s: %d records, %d models, %d epochs", host, x.shape[0],
                    trained.weights.shape[1], trained.epochs_run)  # fmt: skip
        return {"weights": trained.weights, "bias": trained.bias,
                "records": np.array(trained.records), "epochs": np.array(trained.epochs_run)}  # fmt: skip

    parts = gather_or_fail(job, compute)
    if parts is None:  # not the first host: it has handed over its models
        return
    trained = average([
        Trained(p["weights"], p["bias"], int(p["records"]), int(p["epochs"]))
        for p in parts if int(p["records"]) > 0
    ])  # fmt: skip
    if "x" not in data:
        raise UserError("The first host (algo-1) has no training data: give more S3 objects")
    model = finish(params, data["config"], trained, validation or (data["x"], data["y"]))
    print(f"Best model found for hyperparameters: {json.dumps(model['hyperparameters'])}",
          flush=True)  # fmt: skip
    report(host, "train", model, data["x"], data["y"], params)
    if validation is not None:
        report(host, "validation", model, validation[0], validation[1], params)
    if "test" in job.channels:
        report(host, "test", model, *_load(job, "test", params), params)
    else:
        logger.info("Test data is not provided.")
    write_model(job, MODEL_FILE, model)


def main() -> int:
    """Entry point: run the job described by ``$SIMSAGE_OPT_ML``; returns the exit code."""
    return run(train)


if __name__ == "__main__":
    sys.exit(main())
