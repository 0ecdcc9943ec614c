"""The linear learner's numerics: the losses, mini-batch training of many linear models at
once, model selection with the binary decision threshold, and the metrics it reports.

Layer: programs (imported by :mod:`simsage.algorithms.linear_learner_train` and by the
serving handler for :func:`predict`); numpy only.

How it trains (what the real algorithm describes: ``num_models`` models in parallel with
different learning rates and regularisation, normalisation from a sample, the best model
picked on validation):
- The ``M`` models are one weight matrix ``W`` of shape ``(d, M*K)`` (``K`` = 1, or
  ``num_classes``) trained together by mini-batch Adam / SGD (momentum) / RMSProp; each
  column group has its own learning rate, ``wd`` (L2), ``l1`` and positive-example weight.
- Features are standardised with a mean and standard deviation from a sample of
  ``num_point_for_scaler`` records, but X is never rewritten: the scaling is folded into
  the weights at every step (``x_n @ W = x @ (W / std) - (mean / std) @ W``), so dense and
  sparse (CSR) data are treated alike and nothing is copied. Regression labels are
  standardised the same way (``normalize_label``/``unbias_label``).
- Each epoch logs the objective loss (of the best model) on train and on validation;
  early stopping watches validation's (train's when there is none; for a binary
  classifier with validation, the best ``binary_classifier_model_selection_criteria``
  value over thresholds, as the docs say) and stops after
  ``early_stopping_patience`` epochs whose relative improvement is below
  ``early_stopping_tolerance``. Each model keeps its weights from its best epoch.
- :func:`raw_models` turns the result into the raw feature/label space (what several hosts
  average and what the model file holds); :func:`select` picks the model — lowest
  objective loss, or for binary classifiers the best
  ``binary_classifier_model_selection_criteria`` with its own decision threshold.

Losses are means over records; ``squared_loss`` is ``r**2`` (its objective is the MSE),
regression losses are reported in label units (``loss_insensitivity`` and ``huber_delta``
are in label units too).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

OBJECTIVE_NAMES = {
    "logistic": "binary_classification_cross_entropy_objective",
    "hinge_loss": "binary_classification_hinge_loss_objective",
    "softmax_loss": "multiclass_cross_entropy_objective",
    "squared_loss": "mse_objective",
}


LOSS_CRITERIA = ("loss_function", "cross_entropy_loss")


def objective_name(loss: str) -> str:
    """The name the loss is logged under (``<name> <loss>=…``)."""
    return OBJECTIVE_NAMES.get(loss, f"{loss}_objective")


@dataclass
class LossSpec:
    """A loss and its parameters (in the units of the labels it is applied to)."""

    name: str
    margin: float = 1.0
    quantile: float = 0.5
    huber_delta: float = 1.0
    eps: float = 0.01


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def loss_and_grad(
    spec: LossSpec, z: np.ndarray, y: np.ndarray, weight: np.ndarray | None, grad: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-record losses and their gradient with respect to the scores.

    Args:
        z: scores, ``(B, M)`` (``(B, M, K)`` for softmax_loss).
        y: labels, ``(B,)`` (0/1, class indices, or values).
        weight: per-record weights broadcastable to ``(B, M)``, or None.

    Returns:
        ``(loss (B, M), gradient like z or None)``.
    """
    name, g = spec.name, None
    if name == "softmax_loss":
        lse = np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1)) + z.max(-1)
        rows = np.arange(z.shape[0])
        loss = lse - z[rows, :, y.astype(np.int64)]
        if grad:
            g = softmax(z)
            g[rows, :, y.astype(np.int64)] -= 1.0
    else:
        yy = y[:, None]
        if name == "logistic":
            # log(1 + e^z) - y z, stably; np.logaddexp is ~8x slower.
            loss = np.log1p(np.exp(-np.abs(z))) + np.maximum(z, 0.0) - yy * z
            g = sigmoid(z) - yy if grad else None
        elif name == "hinge_loss":
            s = 2.0 * yy - 1.0
            slack = spec.margin - s * z
            loss = np.maximum(slack, 0.0)
            g = np.where(slack > 0, -s, 0.0) if grad else None
        else:
            r = z - yy
            if name == "squared_loss":
                loss, g = r * r, (2.0 * r if grad else None)
            elif name == "absolute_loss":
                loss, g = np.abs(r), (np.sign(r) if grad else None)
            elif name == "eps_insensitive_squared_loss":
                over = np.maximum(np.abs(r) - spec.eps, 0.0)
                loss, g = over * over, (2.0 * over * np.sign(r) if grad else None)
            elif name == "eps_insensitive_absolute_loss":
                over = np.abs(r) - spec.eps
                loss = np.maximum(over, 0.0)
                g = np.where(over > 0, np.sign(r), 0.0) if grad else None
            elif name == "quantile_loss":
                e = -r
                q = spec.quantile
                loss = np.maximum(q * e, (q - 1.0) * e)
                g = np.where(e > 0, -q, 1.0 - q) if grad else None
            elif name == "huber_loss":
                d, a = spec.huber_delta, np.abs(r)
                loss = np.where(a <= d, 0.5 * r * r, d * (a - 0.5 * d))
                g = np.clip(r, -d, d) if grad else None
            else:  # pragma: no cover - parse_params admits only the names above
                raise ValueError(f"unknown loss {name}")
    if weight is not None:
        loss = loss * weight
        if g is not None:
            g = g * (weight[..., None] if g.ndim == 3 else weight)
    return loss, g


@dataclass
class Config:
    """What training needs, resolved from the hyperparameters (one entry per model)."""

    kind: str  # binary_classifier | multiclass_classifier | regressor
    loss: str
    classes: int  # K: score columns (1 unless multiclass)
    lr: np.ndarray
    wd: np.ndarray
    l1: np.ndarray
    positive_weight: np.ndarray  # per model (binary), else ones
    class_weight: np.ndarray | None  # per class (multiclass balance), else None
    spec: LossSpec
    optimizer: str = "adam"
    beta_1: float = 0.9
    beta_2: float = 0.999
    momentum: float = 0.9
    epochs: int = 15
    batch: int = 1000
    use_bias: bool = True
    bias_lr_mult: float = 1.0
    bias_wd_mult: float = 0.0
    init_method: str = "uniform"
    init_scale: float = 0.07
    init_sigma: float = 0.01
    init_bias: float = 0.0
    normalize_data: bool = True
    unbias_data: bool = True
    normalize_label: bool = False
    unbias_label: bool = False
    scaler_points: int = 10000
    patience: int = 3
    tolerance: float = 0.001
    lr_scheduler: bool = True
    lr_step: int | None = None
    lr_factor: float = 0.99
    lr_minimum: float = 1e-5
    seed: int = 0
    # binary_classifier_model_selection_criteria and its parameters (criterion, beta,
    # target_precision, target_recall); early stopping watches it on validation.
    selection: dict | None = None

    @property
    def models(self) -> int:
        return len(self.lr)


@dataclass
class Trained:
    """Models in the raw feature and label space: ``z = x @ weights[:, m] + bias[m]``."""

    weights: np.ndarray  # (d, M, K)
    bias: np.ndarray  # (M, K)
    records: int
    epochs_run: int


def _moments(x: Any, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation of the rows ``index`` (a CSR sample stays
    sparse: a wide sparse matrix would not fit in memory densified)."""
    part = x[index]
    if hasattr(part, "toarray"):
        mean = np.asarray(part.mean(axis=0), dtype=np.float64).ravel()
        square = np.asarray(part.multiply(part).mean(axis=0), dtype=np.float64).ravel()
        return mean, np.sqrt(np.maximum(square - mean * mean, 0.0))
    part = np.asarray(part, dtype=np.float64)
    return part.mean(axis=0), part.std(axis=0)


@np.errstate(over="ignore", invalid="ignore")  # a diverging model is only left behind
def train(
    x: Any,
    y: np.ndarray,
    config: Config,
    validation: tuple[Any, np.ndarray] | None = None,
    log=None,
) -> Trained:
    """Train ``config.models`` linear models on ``(x, y)`` (y already checked).

    Args:
        x: float32 ``(n, d)`` ndarray or CSR matrix.
        y: labels (0/1, class indices or values), ``(n,)``.
        validation: ``(x, y)`` watched for early stopping and each epoch's log line.
        log: called with ``(epoch, channel, loss)`` after every epoch.
    """
    rng = np.random.default_rng(config.seed)
    n, d = x.shape
    m_count, k = config.models, config.classes
    sample_mean, sample_std = _moments(x, np.sort(rng.choice(n, min(n, config.scaler_points),
                                                             replace=False)))  # fmt: skip
    mean = sample_mean if config.unbias_data else np.zeros(d)
    std = sample_std if config.normalize_data else np.ones(d)
    std[~(std > 1e-8)] = 1.0
    inv = 1.0 / std
    shift = mean * inv  # x_n = x * inv - shift
    y_mean, y_std = 0.0, 1.0
    if config.kind == "regressor":
        ys = y[np.sort(rng.choice(n, min(n, config.scaler_points), replace=False))]
        y_mean = float(ys.mean()) if config.unbias_label else 0.0
        y_std = float(ys.std()) if config.normalize_label and ys.std() > 1e-12 else 1.0
    target = (y - y_mean) / y_std if config.kind == "regressor" else y
    spec = config.spec
    if config.kind == "regressor":
        spec = LossSpec(spec.name, spec.margin, spec.quantile, spec.huber_delta / y_std,
                        spec.eps / y_std)  # fmt: skip

    cols = m_count * k
    if config.init_method == "normal":
        w = rng.normal(0.0, config.init_sigma, size=(d, cols))
    else:
        w = rng.uniform(-config.init_scale, config.init_scale, size=(d, cols))
    b = np.full(cols, config.init_bias if config.use_bias else 0.0)
    lr_w = np.repeat(config.lr, k)
    wd_w, l1_w = np.repeat(config.wd, k), np.repeat(config.l1, k)
    state = {name: np.zeros_like(a) for name, a in (("mw", w), ("vw", w), ("mb", b), ("vb", b))}
    steps_per_epoch = max(1, math.ceil(n / config.batch))
    lr_step = config.lr_step or steps_per_epoch
    best_w, best_b = w.copy(), b.copy()
    best_model_loss = np.full(m_count, np.inf)
    best_tracked, bad_epochs, step, epochs_run = np.inf, 0, 0, 0

    def weight_of(labels: np.ndarray) -> np.ndarray | None:
        if config.kind == "binary_classifier":
            return np.where(labels[:, None] == 1, config.positive_weight[None, :], 1.0)
        if config.class_weight is not None:
            return config.class_weight[labels.astype(np.int64)][:, None]
        return None

    def scores(xb: Any, wm: np.ndarray, bm: np.ndarray) -> np.ndarray:
        # float32 like X (no per-batch upcast of X; the parameters stay float64).
        effective = (inv[:, None] * wm).astype(np.float32)
        z = np.asarray(xb @ effective) + (bm - shift @ wm).astype(np.float32)
        return z.reshape(z.shape[0], m_count, k) if k > 1 else z

    def raw_loss(z: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Losses in label units (regression: de-normalised scores, the raw loss spec)."""
        if config.kind != "regressor":
            return loss_and_grad(spec, z, labels, None, grad=False)[0]
        return loss_and_grad(config.spec, z * y_std + y_mean, labels, None, grad=False)[0]

    def mean_loss(xv: Any, yv: np.ndarray, wm: np.ndarray, bm: np.ndarray) -> np.ndarray:
        total = np.zeros(m_count)
        for start in range(0, xv.shape[0], 20000):
            part = slice(start, start + 20000)
            total += raw_loss(scores(xv[part], wm, bm), yv[part]).sum(axis=0)
        return total / xv.shape[0]

    for epoch in range(config.epochs):
        order = rng.permutation(n)
        xe, ye = x[order], target[order]
        epoch_loss = np.zeros(m_count)
        for start in range(0, n, config.batch):
            xb, yb = xe[start : start + config.batch], ye[start : start + config.batch]
            size = xb.shape[0]
            z = scores(xb, w, b)
            loss, g = loss_and_grad(spec, z, yb, weight_of(yb))
            if config.kind == "regressor":  # reported in label units
                loss = raw_loss(z, yb * y_std + y_mean)
            epoch_loss += loss.sum(axis=0)
            g = g.reshape(size, cols) / size
            g_sum = g.sum(axis=0)
            grad_w = inv[:, None] * (
                np.asarray(xb.T @ g.astype(np.float32), dtype=np.float64)
                - mean[:, None] * g_sum[None, :]
            )
            grad_w += wd_w * w + l1_w * np.sign(w)
            grad_b = g_sum + config.bias_wd_mult * wd_w * b
            scale = 1.0
            if config.lr_scheduler:
                scale = config.lr_factor ** (step // lr_step)
            lr_now = np.maximum(lr_w * scale, np.minimum(config.lr_minimum, lr_w))
            step += 1
            w -= _update(config, state, "w", grad_w, lr_now, step)
            if config.use_bias:
                b -= _update(config, state, "b", grad_b, lr_now * config.bias_lr_mult, step)
        epochs_run = epoch + 1
        train_loss = epoch_loss / n
        if log:
            log(epoch, "train", _best(train_loss))
        watched = train_loss
        if validation is not None:
            watched = mean_loss(validation[0], validation[1], w, b)
            if log:
                log(epoch, "validation", _best(watched))
            if _watches_criterion(config):  # the criterion, maximised: its negative
                watched = -criterion_values(config, scores(validation[0], w, b), validation[1])
        better = watched < best_model_loss
        best_model_loss = np.where(better, watched, best_model_loss)
        columns = np.repeat(better, k)
        best_w[:, columns], best_b[columns] = w[:, columns], b[columns]
        tracked = _best(watched)
        if not np.isfinite(tracked):  # every model diverged: each keeps its best epoch
            break
        if best_tracked == np.inf or (best_tracked - tracked) > config.tolerance * abs(
            best_tracked
        ):
            best_tracked, bad_epochs = min(tracked, best_tracked), 0
        else:
            bad_epochs += 1
            if bad_epochs >= config.patience:
                break
    # Raw space: z = x @ (inv * W) - shift @ W + b, times the label scale for regression.
    raw_w = (inv[:, None] * best_w) * y_std
    raw_b = (best_b - shift @ best_w) * y_std + y_mean
    return Trained(raw_w.reshape(d, m_count, k), raw_b.reshape(m_count, k), n, epochs_run)


def _best(values: np.ndarray) -> float:
    """The lowest finite value (a diverged model's NaN or inf does not count)."""
    finite = values[np.isfinite(values)]
    return float(finite.min()) if finite.size else float("inf")


def _watches_criterion(config: Config) -> bool:
    criterion = (config.selection or {}).get("criterion", "loss_function")
    return config.kind == "binary_classifier" and criterion not in LOSS_CRITERIA


def criterion_values(config: Config, z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each model's best ``binary_classifier_model_selection_criteria`` value on ``(z, y)``
    (scores ``(n, M)``), over every decision threshold."""
    selection = config.selection or {}
    criterion = selection["criterion"]
    target = selection["target_recall"] if criterion == "precision_at_target_recall" else \
        selection["target_precision"]  # fmt: skip
    values = np.empty(z.shape[1])
    for m in range(z.shape[1]):
        score = sigmoid(z[:, m]) if config.loss == "logistic" else z[:, m]
        values[m] = best_threshold(score, y, criterion, selection["beta"], target)[0]
    return values


def _update(config: Config, state: dict, part: str, grad: np.ndarray, lr: np.ndarray,
            step: int) -> np.ndarray:  # fmt: skip
    m, v = state[f"m{part}"], state[f"v{part}"]
    if config.optimizer == "sgd":
        m *= config.momentum
        m += grad
        return lr * m
    if config.optimizer == "rmsprop":
        v *= config.beta_2
        v += (1.0 - config.beta_2) * grad * grad
        return lr * grad / (np.sqrt(v) + 1e-8)
    m *= config.beta_1
    m += (1.0 - config.beta_1) * grad
    v *= config.beta_2
    v += (1.0 - config.beta_2) * grad * grad
    m_hat = m / (1.0 - config.beta_1**step)
    v_hat = v / (1.0 - config.beta_2**step)
    return lr * m_hat / (np.sqrt(v_hat) + 1e-8)


def average(parts: list[Trained]) -> Trained:
    """Several hosts' models as one set: each model the record-weighted mean of the same
    model (same hyperparameters) from every host that had data."""
    parts = [p for p in parts if p.records > 0]
    total = sum(p.records for p in parts)
    weights = sum(p.weights * (p.records / total) for p in parts)
    bias = sum(p.bias * (p.records / total) for p in parts)
    return Trained(weights, bias, total, max(p.epochs_run for p in parts))


# -- scoring, selection and metrics -------------------------------------------------------


def raw_scores(x: Any, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """``z`` of every record for every model: ``(n, M, K)``."""
    d, m_count, k = weights.shape
    z = np.asarray(x @ weights.reshape(d, m_count * k)) + bias.reshape(-1)
    return z.reshape(x.shape[0], m_count, k)


def predict(x: Any, model: dict[str, Any], weights: np.ndarray, bias: np.ndarray) -> dict:
    """Scores and labels of one model (``weights`` ``(d, K)``, ``bias`` ``(K,)``)."""
    z = np.asarray(x @ weights) + bias
    kind, loss = model["predictor_type"], model["loss"]
    if kind == "regressor":
        return {"score": z[:, 0]}
    if kind == "multiclass_classifier":
        score = softmax(z) if loss == "softmax_loss" else z
        return {"score": score, "predicted_label": np.argmax(z, axis=1)}
    score = sigmoid(z[:, 0]) if loss == "logistic" else z[:, 0]
    return {"score": score, "predicted_label": (score >= model["threshold"]).astype(np.int64)}


def threshold_table(score: np.ndarray, y: np.ndarray, beta: float) -> dict[str, np.ndarray]:
    """Every distinct decision threshold (label 1 when ``score >= t``) with the accuracy,
    precision, recall and F-beta it gives."""
    order = np.argsort(-score, kind="stable")
    s, yy = score[order], y[order]
    n, positives = len(s), float(yy.sum())
    tp = np.concatenate([[0.0], np.cumsum(yy)])
    predicted = np.arange(n + 1, dtype=np.float64)
    keep = np.concatenate([[True], s[1:] != s[:-1], [True]])  # cut between distinct scores
    tp, predicted = tp[keep], predicted[keep]
    cut = np.flatnonzero(keep)
    upper = np.concatenate([[np.inf], s])[cut]
    # Label 1 for the records above the cut: the threshold is the lowest score kept; "none
    # positive" is just above the highest score.
    threshold = upper.copy()
    threshold[0] = s[0] + 1e-6 * (1.0 + abs(s[0]))
    fp = predicted - tp
    accuracy = (tp + (n - positives - fp)) / n
    precision = np.divide(tp, predicted, out=np.ones_like(tp), where=predicted > 0)
    recall = tp / positives if positives else np.ones_like(tp)
    b2 = beta * beta
    denom = b2 * precision + recall
    fbeta = np.divide((1 + b2) * precision * recall, denom, out=np.zeros_like(tp),
                      where=denom > 0)  # fmt: skip
    return {"threshold": threshold, "accuracy": accuracy, "precision": precision,
            "recall": recall, "f_beta": fbeta}  # fmt: skip


def best_threshold(
    score: np.ndarray, y: np.ndarray, criterion: str, beta: float, target: float
) -> tuple[float, float]:
    """``(criterion value, threshold)`` of the best threshold for ``criterion``."""
    table = threshold_table(score, y, beta)
    if criterion in ("f1", "f_beta"):
        value = (
            table["f_beta"] if criterion == "f_beta" else threshold_table(score, y, 1.0)["f_beta"]
        )
    elif criterion == "precision_at_target_recall":
        value = np.where(table["recall"] >= target, table["precision"], -1.0)
    elif criterion == "recall_at_target_precision":
        value = np.where(table["precision"] >= target, table["recall"], -1.0)
    else:
        value = table["accuracy"]
    best = int(np.argmax(value))
    return float(value[best]), float(table["threshold"][best])


def select(
    trained: Trained, x: Any, y: np.ndarray, kind: str, spec: LossSpec, selection: dict
) -> tuple[int, float]:
    """The best model's index and, for binary classifiers, its decision threshold.

    ``selection`` holds ``criterion``, ``beta``, ``target_precision``, ``target_recall``.
    """
    z = raw_scores(x, trained.weights, trained.bias)
    if kind == "multiclass_classifier":
        loss, _ = loss_and_grad(spec, z, y, None, grad=False)
        return int(np.nanargmin(loss.mean(axis=0))), 0.0
    loss, _ = loss_and_grad(spec, z[:, :, 0], y, None, grad=False)
    mean_loss = loss.mean(axis=0)
    if kind == "regressor":
        return int(np.nanargmin(mean_loss)), 0.0
    default = 0.5 if spec.name == "logistic" else 0.0
    criterion = selection["criterion"]
    if criterion in LOSS_CRITERIA:
        return int(np.nanargmin(mean_loss)), default
    target = selection["target_recall"] if criterion == "precision_at_target_recall" else \
        selection["target_precision"]  # fmt: skip
    best, best_value, best_threshold_ = 0, -np.inf, default
    for m in range(z.shape[1]):
        score = sigmoid(z[:, m, 0]) if spec.name == "logistic" else z[:, m, 0]
        value, threshold = best_threshold(score, y, criterion, selection["beta"], target)
        # Ties go to the lower loss.
        if value > best_value or (value == best_value and mean_loss[m] < mean_loss[best]):
            best, best_value, best_threshold_ = m, value, threshold
    return best, best_threshold_


def _auc(score: np.ndarray, y: np.ndarray) -> float | None:
    positives = int(y.sum())
    negatives = len(y) - positives
    if not positives or not negatives:
        return None
    # Average ranks of ties (scipy.stats.rankdata's, without its 0.5 s import).
    _, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def metrics(model: dict, x: Any, y: np.ndarray, weights: np.ndarray, bias: np.ndarray,
            spec: LossSpec, beta: float, top_k: int) -> list[tuple[str, float, str]]:  # fmt: skip
    """``[(logged name, value, "loss"|"score")]`` of one model on one channel, in the
    container's order; the objective loss comes first."""
    z = np.asarray(x @ weights) + bias
    kind = model["predictor_type"]
    out = []
    if kind == "multiclass_classifier":
        loss, _ = loss_and_grad(spec, z[:, None, :], y, None, grad=False)
    else:
        loss, _ = loss_and_grad(spec, z[:, :1], y, None, grad=False)
    out.append((objective_name(spec.name), float(loss.mean()), "loss"))
    predicted = predict(x, model, weights, bias)
    if kind == "regressor":
        r = predicted["score"] - y
        mse = float(np.mean(r * r))
        variance = float(np.var(y))
        out += [("mse", mse, "loss"), ("rmse", math.sqrt(mse), "loss"),
                ("absolute_loss", float(np.mean(np.abs(r))), "loss")]  # fmt: skip
        out.append(("r2", 1.0 - mse / variance if variance > 0 else 0.0, "score"))
        return out
    label = predicted["predicted_label"]
    if kind == "binary_classifier":
        tp = float(np.sum((label == 1) & (y == 1)))
        precision = tp / max(float(label.sum()), 1.0) if label.sum() else 0.0
        recall = tp / float(y.sum()) if y.sum() else 0.0
        b2 = beta * beta
        denom = b2 * precision + recall
        out += [("binary_classification_accuracy", float(np.mean(label == y)), "score"),
                (f"binary_f_{beta:.3f}", (1 + b2) * precision * recall / denom if denom else 0.0,
                 "score"),
                ("precision", precision, "score"), ("recall", recall, "score")]  # fmt: skip
        auc = _auc(predicted["score"], y)
        if auc is not None:
            out.append(("roc_auc_score", auc, "score"))
        return out
    classes = weights.shape[1]
    yi = y.astype(np.int64)
    k = min(top_k, classes)
    top = np.argpartition(-z, k - 1, axis=1)[:, :k] if k < classes else None
    top_hit = np.ones(len(yi), bool) if top is None else (top == yi[:, None]).any(axis=1)
    rank = (z > z[np.arange(len(yi)), yi][:, None]).sum(axis=1) + 1
    confusion = np.zeros((classes, classes))
    np.add.at(confusion, (yi, label), 1.0)
    tp = np.diag(confusion)
    per_precision = np.divide(
        tp, confusion.sum(0), out=np.zeros(classes), where=confusion.sum(0) > 0
    )
    per_recall = np.divide(tp, confusion.sum(1), out=np.zeros(classes), where=confusion.sum(1) > 0)
    present = confusion.sum(1) > 0
    b2 = beta * beta
    denom = b2 * per_precision + per_recall
    per_f = np.divide((1 + b2) * per_precision * per_recall, denom, out=np.zeros(classes),
                      where=denom > 0)  # fmt: skip
    out += [("multiclass_accuracy", float(np.mean(label == yi)), "score"),
            (f"multiclass_top_k_accuracy_{top_k}", float(np.mean(top_hit)), "score"),
            ("dcg", float(np.mean(1.0 / np.log2(1.0 + rank))), "score"),
            ("macro_recall", float(per_recall[present].mean()), "score"),
            ("macro_precision", float(per_precision[present].mean()), "score"),
            (f"macro_f_{beta:.3f}", float(per_f[present].mean()), "score")]  # fmt: skip
    return out
