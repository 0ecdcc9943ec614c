"""The built-in SageMaker k-nearest-neighbours algorithm (image ``knn:1``), one process per
host:

    SIMSAGE_OPT_ML=<host root> python -m simsage.algorithms.knn_train

Layer: programs (runs as the container's ``train``); imports the shared first-party
training pieces (:mod:`simsage.algorithms.first_party_train`) and the k-NN arithmetic
(:mod:`simsage.algorithms.knn_index`).

What it does, in the three steps the real algorithm documents (kNN_how-it-works):
1. sample: each host draws its share of ``sample_size`` (``sample_size // hosts``, the
   remainder to the first hosts) from its ``train`` records with reservoir sampling
   (algorithm R, fed ``mini_batch_size`` records at a time, seeded per host), and sends it
   to the first host over 127.0.0.1:``$SIMSAGE_TRACKER_PORT`` (ShardedByS3Key: each host
   has its shard; a host with fewer records than its share sends them all);
2. reduce: with ``dimension_reduction_type`` (``sign`` or ``fjlt``), the first host draws
   the projection (seeded, stored in the model) and projects the sample;
3. index: the sample and its labels are the index. faiss is not used: the search is exact
   for every ``index_type`` (faiss.IVFFlat and faiss.IVFPQ are approximations of it);
   ``faiss_index_ivf_nlists`` and ``faiss_index_pq_m`` are validated and recorded, and
   ``faiss_index_pq_m`` raises ``dimension_reduction_target`` to a multiple of itself as
   the docs say (without a reduction the docs' zero padding changes no distance).
The optional ``test`` channel (labels required) is scored: ``test accuracy`` for the
classifier, ``test mse`` for the regressor, logged as the container does
(``#test_score (algo-1) : ('accuracy', 0.98)``) and as ``#quality_metric`` lines.

Labels are required: CSV's first column (``label_size=1``), RecordIO's ``label`` tensor.

Model format (simsage's own; the real container writes a faiss index ``model_algo-1``,
labels ``model_algo-1.labels`` and metadata ``model_algo-1.json``): ``knn-model.json`` =
``{"format": "simsage-knn/1", "k", "predictor_type", "feature_dim", "index_type",
"index_metric", "faiss_index_ivf_nlists", "faiss_index_pq_m", "dimension_reduction":
{"type", "seed", "target_dim", "input_dim"} | null, "normalize", "sample_count"}`` (as the
container's metadata, ``k`` and ``predictor_type`` may be edited) and ``knn-model.npz``
with the arrays ``points`` (reduced, normalised for COSINE), ``labels`` and the
reduction's arrays (:mod:`simsage.algorithms.knn_index`).
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
    bad_hyperparameter,
    check_channels,
    gather_or_fail,
    has_data,
    load,
    run,
    write_arrays,
    write_model,
)
from simsage.algorithms.knn_metrics import metric_line

logger = logging.getLogger("simsage.algorithms.knn")

MODEL_FILE = "knn-model.json"
ARRAYS_FILE = "knn-model.npz"
MODEL_FORMAT = "simsage-knn/1"
CHANNELS = ("train", "test")
INDEX_TYPES = ("faiss.Flat", "faiss.IVFFlat", "faiss.IVFPQ")
PQ_M_VALUES = (1, 2, 3, 4, 8, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64, 96)
SEED = 3  # the seed of the reductions and of host 1's sample (the docs' example uses 3)


@dataclass(frozen=True)
class Params:
    """The validated hyperparameters."""

    feature_dim: int
    k: int
    predictor_type: str
    sample_size: int
    dimension_reduction_type: str | None = None
    dimension_reduction_target: int | None = None
    index_type: str = "faiss.Flat"
    index_metric: str = "L2"
    faiss_index_ivf_nlists: int | None = None  # None: auto (sqrt(sample_size))
    faiss_index_pq_m: int | None = None
    mini_batch_size: int = 5000


def parse_params(values: dict[str, str]) -> Params:
    """Validate the job's hyperparameters (strings, as SageMaker passes them).

    Raises:
        UserError: a missing required or invalid hyperparameter (the failure reason).
    """
    hp = Hyperparameters(values, set(Params.__dataclass_fields__))
    feature_dim = hp.integer("feature_dim", 1)
    reduction = hp.values.get("dimension_reduction_type")
    target = None
    if reduction is not None:
        reduction = hp.choice("dimension_reduction_type", ("sign", "fjlt"))
        if "dimension_reduction_target" not in hp.values:
            raise bad_hyperparameter(
                "'dimension_reduction_target' is a required property when "
                "dimension_reduction_type is set"
            )
        target = hp.integer("dimension_reduction_target", 1, feature_dim - 1)
    elif "dimension_reduction_target" in hp.values:
        hp.integer("dimension_reduction_target", 1, feature_dim - 1)  # validated, unused
    index_type = hp.choice("index_type", INDEX_TYPES, "faiss.Flat")
    metric = hp.choice("index_metric", ("L2", "INNER_PRODUCT", "COSINE"), "L2")
    if index_type == "faiss.IVFPQ" and metric != "L2":
        raise bad_hyperparameter(
            f"index_metric {metric!r} is not supported with index_type 'faiss.IVFPQ': "
            "use 'L2', or index_type 'faiss.Flat' or 'faiss.IVFFlat'"
        )
    pq_m = None
    if "faiss_index_pq_m" in hp.values:
        pq_m = hp.integer("faiss_index_pq_m", 1)
        if pq_m not in PQ_M_VALUES:
            raise bad_hyperparameter(f"{pq_m} is not one of {list(PQ_M_VALUES)} (faiss_index_pq_m)")
    return Params(
        feature_dim=feature_dim,
        k=hp.integer("k", 1),
        predictor_type=hp.choice("predictor_type", ("classifier", "regressor")),
        sample_size=hp.integer("sample_size", 1),
        dimension_reduction_type=reduction,
        dimension_reduction_target=target,
        index_type=index_type,
        index_metric=metric,
        faiss_index_ivf_nlists=hp.auto_integer("faiss_index_ivf_nlists", 1),
        faiss_index_pq_m=pq_m,
        mini_batch_size=hp.integer("mini_batch_size", 1, default=5000),
    )


# -- step 1: sampling -----------------------------------------------------------------------


def host_share(sample_size: int, hosts: int, index: int) -> int:
    """How many of ``sample_size`` points host number ``index`` (0-based) samples."""
    return sample_size // hosts + (1 if index < sample_size % hosts else 0)


def reservoir(rows: int, size: int, batch: int, seed: int) -> Any:
    """Reservoir sampling (algorithm R) of ``size`` of ``rows`` stream positions, fed
    ``batch`` positions at a time: the sorted indices kept (all of them when rows ≤ size).
    Every subset of ``size`` positions is equally likely."""
    import numpy as np

    if rows <= size:
        return np.arange(rows)
    rng = np.random.default_rng(seed)
    kept = np.arange(size)
    for start in range(size, rows, batch):
        positions = np.arange(start, min(rows, start + batch))
        slots = (rng.random(len(positions)) * (positions + 1)).astype(np.int64)
        hit = slots < size
        slots, positions = slots[hit][::-1], positions[hit][::-1]
        _, last = np.unique(slots, return_index=True)  # a slot keeps its latest position
        kept[slots[last]] = positions[last]
    return np.sort(kept)


def sample(x: Any, y: Any, share: int, batch: int, seed: int) -> tuple[Any, Any]:
    """This host's sample of its records (dense float32 features, float64 labels)."""
    import numpy as np

    chosen = reservoir(x.shape[0], share, batch, seed)
    picked = x[chosen]
    if hasattr(picked, "toarray"):
        picked = picked.toarray()
    return np.asarray(picked, dtype=np.float32), np.asarray(y, dtype=np.float64)[chosen]


# -- steps 2 and 3: reduction and the index -------------------------------------------------


def build(points: Any, labels: Any, params: Params) -> dict[str, Any]:
    """The model from the gathered sample: ``{"meta": {...}, "arrays": {...}}``.

    Raises:
        UserError: fewer sampled points than ``k`` or than ``faiss_index_ivf_nlists``.
    """
    from simsage.algorithms import knn_index

    count = points.shape[0]
    if count < params.k:
        raise UserError(
            f"k={params.k} is greater than the number of sampled points ({count}): give "
            "more training records, a larger sample_size or a smaller k"
        )
    nlists = params.faiss_index_ivf_nlists or max(1, int(math.sqrt(params.sample_size)))
    if params.index_type != "faiss.Flat" and nlists > count:
        raise UserError(
            f"faiss_index_ivf_nlists={nlists} is greater than the number of sampled points "
            f"({count}): the {params.index_type} index needs at least one point per list"
        )
    arrays: dict[str, Any] = {}
    reduction = None
    if params.dimension_reduction_type is not None:
        target = int(params.dimension_reduction_target or 1)
        if params.faiss_index_pq_m and params.index_type == "faiss.IVFPQ":
            target = -(-target // params.faiss_index_pq_m) * params.faiss_index_pq_m
        draw = (
            knn_index.sign_projection
            if params.dimension_reduction_type == "sign"
            else knn_index.fjlt_projection
        )
        arrays.update(draw(params.feature_dim, target, SEED))
        target = int(knn_index.reduce(points[:1], arrays).shape[1])  # fjlt: ≤ next power of 2
        reduction = {"type": params.dimension_reduction_type, "seed": SEED,
                     "target_dim": target, "input_dim": params.feature_dim}  # fmt: skip
    reduced = knn_index.reduce(points, arrays)
    if params.index_metric == "COSINE":
        reduced = knn_index.normalise(reduced)
    arrays["points"] = reduced.astype("float32")
    arrays["labels"] = labels.astype("float32")
    meta = {
        "format": MODEL_FORMAT,
        "k": params.k,
        "predictor_type": params.predictor_type,
        "feature_dim": params.feature_dim,
        "index_type": params.index_type,
        "index_metric": params.index_metric,
        "faiss_index_ivf_nlists": nlists if params.index_type != "faiss.Flat" else None,
        "faiss_index_pq_m": params.faiss_index_pq_m,
        "dimension_reduction": reduction,
        "normalize": params.index_metric == "COSINE",
        "sample_count": count,
    }
    return {"meta": meta, "arrays": arrays}


def fit_arrays(x: Any, y: Any, hyperparameters: dict[str, str]) -> dict[str, Any]:
    """Train in-process on one host's worth of data (what a one-host job computes).

    Returns:
        ``{"meta": <knn-model.json>, "arrays": <knn-model.npz>}``.

    Raises:
        UserError: invalid hyperparameters, a width other than ``feature_dim``, no labels.
    """
    params = parse_params(hyperparameters)
    if y is None:
        raise UserError(_NO_LABELS)
    if x.shape[1] != params.feature_dim:
        raise UserError(f"the records have {x.shape[1]} features but feature_dim is "
                        f"{params.feature_dim}")  # fmt: skip
    points, labels = sample(x, y, params.sample_size, params.mini_batch_size, SEED)
    return build(points, labels, params)


def score(model: dict[str, Any], x: Any, y: Any) -> tuple[str, float]:
    """``("accuracy", …)`` for a classifier, ``("mse", …)`` for a regressor, on (x, y)."""
    import numpy as np

    from simsage.algorithms.knn_index import Index

    predictions, _, _ = Index(model["meta"], model["arrays"]).query(x)
    if model["meta"]["predictor_type"] == "classifier":
        return "accuracy", float(np.mean(predictions == y))
    return "mse", float(np.mean((predictions - y) ** 2))


# -- the job ----------------------------------------------------------------------------------

_NO_LABELS = (
    "k-NN needs a label for every training record: in CSV the first column "
    "(text/csv;label_size=1), in RecordIO the label tensor"
)


def _load_labelled(job: JobConfig, channel: str, params: Params) -> tuple[Any, Any]:
    x, y = load(job, channel, label_size=1, feature_dim=params.feature_dim)
    if y is None:
        raise UserError(f"channel {channel!r}: {_NO_LABELS}")
    return x, y


def train(job: JobConfig) -> None:
    """Run one host's part of the job.

    Raises:
        UserError: anything the user must fix; the message is the failure reason.
    """
    import numpy as np

    check_channels(job, CHANNELS, "k-NN")
    params = parse_params(job.hyperparameters)
    index = job.hosts.index(job.current_host)
    share = host_share(params.sample_size, len(job.hosts), index)

    def compute() -> dict[str, Any]:
        if len(job.hosts) > 1 and not has_data(job.channel_dir("train")):
            logger.warning("Host %s has no training data: it samples nothing", job.current_host)
            return {"x": np.zeros((0, params.feature_dim), np.float32), "y": np.zeros(0)}
        x, y = _load_labelled(job, "train", params)
        points, labels = sample(x, y, share, params.mini_batch_size, SEED + index)
        logger.info("Host %s: sampled %d of %d records (its share: %d)", job.current_host,
                    points.shape[0], x.shape[0], share)  # fmt: skip
        return {"x": points, "y": labels}

    parts = gather_or_fail(job, compute)
    if parts is None:  # not the first host: it has handed over its sample
        return
    points = np.vstack([p["x"] for p in parts])
    labels = np.concatenate([p["y"] for p in parts])
    model = build(points, labels, params)
    logger.info("Built a %s index (%s) of %d points", params.index_type, params.index_metric,
                points.shape[0])  # fmt: skip
    if "test" in job.channels:
        name, value = score(model, *_load_labelled(job, "test", params))
        print(f"#test_score ({job.current_host}) : ('{name}', {value})", flush=True)
        kind = "score" if name == "accuracy" else "loss"
        print(metric_line(job.current_host, "test", name, value, kind), flush=True)
    write_arrays(job, ARRAYS_FILE, model["arrays"])
    write_model(job, MODEL_FILE, model["meta"])


def main() -> int:
    """Entry point: run the job described by ``$SIMSAGE_OPT_ML``; returns the exit code."""
    return run(train)


if __name__ == "__main__":
    sys.exit(main())
