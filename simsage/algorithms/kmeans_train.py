"""The built-in SageMaker k-means algorithm (image ``kmeans:1``), one process per host:

    SIMSAGE_OPT_ML=<host root> python -m simsage.algorithms.kmeans_train

Layer: programs (runs as the container's ``train``); imports the shared first-party
training pieces (:mod:`simsage.algorithms.first_party_train`).

What it does, as the real algorithm describes itself (web-scale mini-batch k-means):
1. each host runs mini-batch k-means (scikit-learn ``MiniBatchKMeans``, ``epochs`` passes of
   ``mini_batch_size`` records) over its ``train`` records with ``k * extra_center_factor``
   centers, and weighs each center by the records closest to it;
2. with several hosts (``ShardedByS3Key``: each has its shard), every host sends its
   weighted centers to the first host over 127.0.0.1:``$SIMSAGE_TRACKER_PORT``;
3. the first host runs a local Lloyd pass (``KMeans`` on all weighted centers, weights =
   counts) down to ``k`` centers, logs ``train msd`` (and ``test msd``/``ssd`` on the
   optional ``test`` channel) and writes the model.

Model format (simsage's own; the real container writes an MXNet array, which no client
reads): ``model/kmeans-model.json`` = ``{"format": "simsage-kmeans/1", "k", "feature_dim",
"centers": [[...], ...]}``. Distances are Euclidean (whether the real container reports the
squared distance is unverified); msd/ssd are means/sums of squared distances.

A channel without ContentType is read as RecordIO-protobuf (what ``record_set()`` sends);
plain ``text/csv`` is read as features only (``label_size=0``, as the docs ask for
unsupervised data; whether the container's own default is 1 is unverified), and an
explicit ``label_size=1`` drops the first column.
On bad input (hyperparameters, data) the failure reason is ``ClientError: …`` in
``output/failure`` and the exit status 1. ``half_life_time_size`` is validated but has no
effect (scikit-learn's mini-batch k-means has no decay; 0, the default, means none).
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


def _sk_init(method: str) -> str:
    return "k-means++" if method == "kmeans++" else "random"


def local_centers(x: Any, params: Params) -> tuple[Any, Any]:
    """This host's mini-batch k-means: ``(centers, counts)`` with ``k*extra_center_factor``
    centers (fewer when the shard has fewer records)."""
    import numpy as np
    from sklearn.cluster import MiniBatchKMeans

    rows = x.shape[0]
    factor = params.extra_center_factor
    if factor is None:  # auto: a few extra centers, more for more data (simsage's choice)
        factor = max(1, min(10, math.ceil(math.log10(max(rows, 10)))))
    n_centers = min(params.k * factor, rows)
    model = MiniBatchKMeans(
        n_clusters=n_centers,
        init=_sk_init(params.init_method),
        batch_size=min(params.mini_batch_size, rows),
        max_iter=params.epochs,
        n_init=1,
        random_state=0,
        compute_labels=True,
    ).fit(x)
    counts = np.bincount(model.predict(x), minlength=n_centers).astype(np.float64)
    return np.asarray(model.cluster_centers_, dtype=np.float64), counts


def lloyd(centers: Any, counts: Any, params: Params) -> Any:
    """The local Lloyd pass: k centers from the weighted centers of every host."""
    import numpy as np
    from sklearn.cluster import KMeans

    keep = counts > 0
    centers, counts = centers[keep], counts[keep]
    if centers.shape[0] < params.k:
        raise UserError(
            f"The training data has fewer distinct points than k={params.k}: give more "
            "records or a smaller k"
        )
    model = KMeans(
        n_clusters=params.k,
        init=_sk_init(params.local_lloyd_init_method),
        max_iter=params.local_lloyd_max_iter,
        tol=params.local_lloyd_tol,
        n_init=params.local_lloyd_num_trials or 1,
        random_state=0,
    ).fit(centers, sample_weight=counts)
    return np.asarray(model.cluster_centers_, dtype=np.float64)


def squared_distances(x: Any, centers: Any) -> tuple[Any, Any]:
    """``(closest center index, squared Euclidean distance)`` of every record."""
    import numpy as np
    from sklearn.metrics.pairwise import euclidean_distances

    squared = euclidean_distances(x, centers, squared=True)
    closest = np.argmin(squared, axis=1)
    return closest, np.maximum(squared[np.arange(squared.shape[0]), closest], 0.0)


def report(host: str, channel: str, x: Any, centers: Any, metrics: tuple[str, ...]) -> None:
    """Log the channel's metrics as the container does."""
    _, squared = squared_distances(x, centers)
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
    write_model(job, MODEL_FILE, {"format": MODEL_FORMAT, "k": params.k,
                                  "feature_dim": params.feature_dim,
                                  "centers": final.tolist()})  # fmt: skip


def main() -> int:
    """Entry point: run the job described by ``$SIMSAGE_OPT_ML``; returns the exit code."""
    return run(train)


if __name__ == "__main__":
    sys.exit(main())
