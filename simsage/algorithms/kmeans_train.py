"""The built-in SageMaker k-means algorithm (image ``kmeans:1``), one process per host:

    SIMSAGE_OPT_ML=<host root> python -m simsage.algorithms.kmeans_train

Layer: programs (runs as the container's ``train``); imports the shared first-party
training pieces (:mod:`simsage.algorithms.first_party_train`) and the numpy arithmetic of
:mod:`simsage.algorithms.kmeans_core` (no scikit-learn: its import alone costs ~1 s).

What it does, as the real algorithm describes itself (web-scale mini-batch k-means):
1. each host runs mini-batch k-means (``epochs`` passes of ``mini_batch_size`` records)
   over its ``train`` records with ``k * extra_center_factor`` centers, each center
   weighted by the records assigned to it (decayed by ``half_life_time_size``);
2. with several hosts (``ShardedByS3Key``: each has its shard), every host sends its
   weighted centers to the first host over 127.0.0.1:``$SIMSAGE_TRACKER_PORT``;
3. the first host runs a local Lloyd pass (weighted Lloyd over all hosts' centers, the
   ``local_lloyd_*`` hyperparameters) down to ``k`` centers, logs ``train msd`` (and
   ``test msd``/``ssd`` on the optional ``test`` channel) and writes the model.

Model format (simsage's own; the real container writes an MXNet array, which no client
reads): ``model/kmeans-model.json`` = ``{"format": "simsage-kmeans/1", "k", "feature_dim",
"centers": [[...], ...]}``. Distances are Euclidean (whether the real container reports the
squared distance is unverified); msd/ssd are means/sums of squared distances.

A channel without ContentType is read as RecordIO-protobuf (what ``record_set()`` sends);
plain ``text/csv`` is read as features only (``label_size=0``, as the docs ask for
unsupervised data; whether the container's own default is 1 is unverified), and an
explicit ``label_size=1`` drops the first column.
On bad input (hyperparameters, data) the failure reason is ``ClientError: …`` in
``output/failure`` and the exit status 1. The same job learns the same centers every run
(a fixed seed).
"""

from __future__ import annotations

import logging
import math
import sys
from dataclasses import dataclass
from typing import Any

from simsage.algorithms.first_party_train import (
    Hyperparameters,
    JobConfig,
    UserError,
    check_channels,
    gather_or_fail,
    has_data,
    run,
    write_model,
)
from simsage.algorithms.first_party_train import (
    load as first_party_load,
)
from simsage.algorithms.kmeans_metrics import EVAL_METRICS, metric_line

logger = logging.getLogger("simsage.algorithms.kmeans")

MODEL_FILE = "kmeans-model.json"
MODEL_FORMAT = "simsage-kmeans/1"
CHANNELS = ("train", "test")
SEED = 0  # every run of the same job learns the same centers


@dataclass(frozen=True)
class Params:
    """The validated hyperparameters."""

    k: int
    feature_dim: int
    init_method: str = "random"
    extra_center_factor: int | None = None  # None: auto
    mini_batch_size: int = 5000
    epochs: int = 1
    local_lloyd_max_iter: int = 300
    local_lloyd_tol: float = 0.0001
    local_lloyd_init_method: str = "kmeans++"
    local_lloyd_num_trials: int | None = None  # None: auto (one trial)
    half_life_time_size: int = 0
    eval_metrics: tuple[str, ...] = ("msd",)


def parse_params(values: dict[str, str]) -> Params:
    """Validate the job's hyperparameters (strings, as SageMaker passes them).

    Raises:
        UserError: a missing required or invalid hyperparameter (the failure reason).
    """
    hp = Hyperparameters(values, set(Params.__dataclass_fields__))
    return Params(
        k=hp.integer("k", 2),
        feature_dim=hp.integer("feature_dim", 1),
        init_method=hp.choice("init_method", ("random", "kmeans++"), "random"),
        extra_center_factor=hp.auto_integer("extra_center_factor", 1),
        mini_batch_size=hp.integer("mini_batch_size", 1, default=5000),
        epochs=hp.integer("epochs", 1, default=1),
        local_lloyd_max_iter=hp.integer("local_lloyd_max_iter", 1, default=300),
        local_lloyd_tol=hp.number("local_lloyd_tol", 0, 1, 0.0001),
        local_lloyd_init_method=hp.choice(
            "local_lloyd_init_method", ("random", "kmeans++"), "kmeans++"
        ),
        local_lloyd_num_trials=hp.auto_integer("local_lloyd_num_trials", 1),
        half_life_time_size=hp.integer("half_life_time_size", 0, default=0),
        eval_metrics=tuple(hp.string_list("eval_metrics", EVAL_METRICS, ["msd"])),
    )


def n_local_centers(rows: int, params: Params) -> int:
    """K for a host with ``rows`` records: ``k * extra_center_factor``, at most ``rows``."""
    factor = params.extra_center_factor
    if factor is None:  # auto: a few extra centers, more for more data (simsage's choice)
        factor = max(1, min(10, math.ceil(math.log10(max(rows, 10)))))
    return min(params.k * factor, rows)


def local_centers(x: Any, params: Params) -> tuple[Any, Any]:
    """This host's mini-batch k-means: ``(centers, weights)`` with ``k*extra_center_factor``
    centers (fewer when the shard has fewer records); a weight is the (decayed, with
    ``half_life_time_size``) number of records assigned to the center over the epochs."""
    from simsage.algorithms import kmeans_core as core

    return core.minibatch_kmeans(
        x,
        n_local_centers(x.shape[0], params),
        batch_size=params.mini_batch_size,
        epochs=params.epochs,
        init_method=params.init_method,
        half_life_time_size=params.half_life_time_size,
        seed=SEED,
    )


def lloyd(centers: Any, counts: Any, params: Params) -> Any:
    """The local Lloyd pass: k centers from the weighted centers of every host (centers
    of weight 0 are left out).

    Raises:
        UserError: fewer weighted centers than ``k``.
    """
    keep = counts > 0
    centers, counts = centers[keep], counts[keep]
    if centers.shape[0] < params.k:
        raise UserError(
            f"The training data has fewer distinct points than k={params.k}: give more "
            "records or a smaller k"
        )
    from simsage.algorithms import kmeans_core as core

    return core.lloyd(
        centers,
        counts,
        params.k,
        max_iter=params.local_lloyd_max_iter,
        tol=params.local_lloyd_tol,
        init_method=params.local_lloyd_init_method,
        num_trials=params.local_lloyd_num_trials or 1,
        seed=SEED,
    )


def fit_arrays(x: Any, y: Any, hyperparameters: dict[str, str]) -> dict[str, Any]:
    """Train in process on one array (``y`` is ignored), as a one-host job does without
    the files: the model dict it would write (``kmeans-model.json``).

    Raises:
        UserError: bad hyperparameters, a width other than ``feature_dim``, or fewer
            records than ``k``.
    """
    params = parse_params(hyperparameters)
    if x.ndim != 2 or x.shape[1] != params.feature_dim:
        raise UserError(f"the records have {x.shape[-1]} features but feature_dim is "
                        f"{params.feature_dim}")  # fmt: skip
    centers, weights = local_centers(x, params)
    return model_dict(params, lloyd(centers, weights, params))


def model_dict(params: Params, centers: Any) -> dict[str, Any]:
    """The contents of ``kmeans-model.json``."""
    return {"format": MODEL_FORMAT, "k": params.k, "feature_dim": params.feature_dim,
            "centers": centers.tolist()}  # fmt: skip


def report(host: str, channel: str, x: Any, centers: Any, metrics: tuple[str, ...]) -> None:
    """Log the channel's metrics as the container does."""
    from simsage.algorithms import kmeans_core as core

    _, squared = core.squared_distances(x, centers)
    values = {"msd": float(squared.mean()), "ssd": float(squared.sum())}
    for metric in metrics:
        print(metric_line(host, channel, metric, values[metric]), flush=True)


# -- the job ---------------------------------------------------------------------------


def load(job: JobConfig, channel: str, params: Params) -> Any:
    """A channel's records as X (labels, if any, are ignored)."""
    return first_party_load(job, channel, label_size=0, feature_dim=params.feature_dim)[0]


def train(job: JobConfig) -> None:
    """Run one host's part of the job.

    Raises:
        UserError: anything the user must fix; the message is the failure reason.
    """
    import numpy as np

    check_channels(job, CHANNELS, "k-means")
    params = parse_params(job.hyperparameters)
    x = None

    def compute() -> dict[str, Any]:
        nonlocal x
        if len(job.hosts) > 1 and not has_data(job.channel_dir("train")):
            # More hosts than ShardedByS3Key files: this host has no shard and adds nothing.
            logger.warning("Host %s has no training data: it adds no centers", job.current_host)
            return {"centers": np.zeros((0, params.feature_dim)), "counts": np.zeros(0)}
        x = load(job, "train", params)
        centers, counts = local_centers(x, params)
        logger.info("Host %s: %d records, %d local centers", job.current_host, x.shape[0],
                    centers.shape[0])  # fmt: skip
        return {"centers": centers, "counts": counts}

    parts = gather_or_fail(job, compute)
    if parts is None:  # not the first host: it has handed over its part
        return
    centers = np.vstack([p["centers"] for p in parts])
    counts = np.concatenate([p["counts"] for p in parts])
    final = lloyd(centers, counts, params)
    if x is not None:
        report(job.current_host, "train", x, final, ("msd",))
    if "test" in job.channels:
        report(job.current_host, "test", load(job, "test", params), final, params.eval_metrics)
    write_model(job, MODEL_FILE, model_dict(params, final))


def main() -> int:
    """Entry point: run the job described by ``$SIMSAGE_OPT_ML``; returns the exit code."""
    return run(train)


if __name__ == "__main__":
    sys.exit(main())
