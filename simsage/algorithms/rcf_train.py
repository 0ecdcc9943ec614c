"""The built-in SageMaker random cut forest (image ``randomcutforest:1``), one process per
host:

    SIMSAGE_OPT_ML=<host root> python -m simsage.algorithms.rcf_train

Layer: programs (runs as the container's ``train``); imports the shared first-party
training pieces (:mod:`simsage.algorithms.first_party_train`) and the forest itself
(:mod:`simsage.algorithms.rcf_forest`).

What it does (the robust random cut forest of Guha et al. 2016, as SageMaker documents it):
1. each host draws, for each of ``num_trees`` trees, a reservoir sample of
   ``num_samples_per_tree`` of its ``train`` records (every record gets a uniform key per
   tree; a tree keeps the smallest keys), plus one more sample of up to
   :data:`CUTOFF_ROWS` records to set the score cutoff;
2. with several hosts (``ShardedByS3Key``: each has its shard) every host sends its keys and
   sampled records to the first host over 127.0.0.1:``$SIMSAGE_TRACKER_PORT``, which keeps
   the smallest keys of all: exactly the sample one host would draw from all the data;
3. the first host grows the trees (:func:`simsage.algorithms.rcf_forest.build`), scores
   the cutoff sample and sets ``score_cutoff`` = mean + 3 standard deviations of those
   scores (the rule the developer guide gives for flagging anomalies; that the container
   computes its cutoff the same way is unverified), scores the optional labelled ``test``
   channel against it (``test f1``, and ``accuracy`` / ``precision`` / ``recall`` as
   ``eval_metrics`` asks) and writes the model.

Channels: ``train`` (``ShardedByS3Key`` is what the docs ask for; ``FullyReplicated`` is
accepted — on several hosts every host then holds all the data and only the first host's
sample is used, so the forest stays a correct sample; whether AWS refuses it is
unverified) and the optional ``test`` (``FullyReplicated``; refused as ``ShardedByS3Key``
on several hosts, where no host would see all of it), ``text/csv;label_size=1`` or
labelled RecordIO, label 1 = anomaly. Plain ``text/csv`` on ``train`` is read as features
only (``label_size=0``).

Model format (simsage's own; the real container writes MXNet params no client reads):
``model/randomcutforest-model.json`` = ``{"format": "simsage-randomcutforest/1",
"feature_dim", "num_trees", "num_samples_per_tree", "score_cutoff", "forest": {...}}``,
the forest's flat arrays as base64 (:func:`simsage.algorithms.rcf_forest.encode`).
On bad input the failure reason is ``ClientError: …`` in ``output/failure``, exit status 1.
"""

from __future__ import annotations

import logging
import sys
import zlib
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
from simsage.algorithms.rcf_metrics import EVAL_METRICS, metric_line

logger = logging.getLogger("simsage.algorithms.rcf")

MODEL_FILE = "randomcutforest-model.json"
MODEL_FORMAT = "simsage-randomcutforest/1"
CHANNELS = ("train", "test")
CUTOFF_ROWS = 1000  # training records scored to set score_cutoff
CUTOFF_SIGMAS = 3.0
SEED = 1729


@dataclass(frozen=True)
class Params:
    """The validated hyperparameters (rcf_hyperparameters.md; the SDK fixes
    ``mini_batch_size`` at 1000, which a forest of samples does not use)."""

    feature_dim: int
    num_trees: int = 100
    num_samples_per_tree: int = 256
    eval_metrics: tuple[str, ...] = EVAL_METRICS
    mini_batch_size: int = 1000


def parse_params(values: dict[str, str]) -> Params:
    """Validate the job's hyperparameters (strings, as SageMaker passes them).

    Raises:
        UserError: a missing required or invalid hyperparameter (the failure reason).
    """
    hp = Hyperparameters(values, set(Params.__dataclass_fields__))
    return Params(
        feature_dim=hp.integer("feature_dim", 1, 10000),
        num_trees=hp.integer("num_trees", 50, 1000, default=100),
        num_samples_per_tree=hp.integer("num_samples_per_tree", 1, 2048, default=256),
        eval_metrics=tuple(hp.string_list("eval_metrics", EVAL_METRICS, list(EVAL_METRICS))),
        mini_batch_size=hp.integer("mini_batch_size", 1, default=1000),
    )


def _rng(host: str = "algo-1") -> Any:
    import numpy as np

    return np.random.default_rng([SEED, zlib.crc32(host.encode())])


def host_samples(x: Any, params: Params, host: str = "algo-1") -> dict[str, Any]:
    """One host's part: its trees' samples and the cutoff sample, with their keys."""
    import numpy as np

    x = np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=np.float32)
    if not np.isfinite(x).all():
        raise UserError("The training data holds NaN or infinite values: send finite numbers")
    rng = _rng(host)
    from simsage.algorithms.rcf_forest import sample_keys

    indices, keys = sample_keys(rng, x.shape[0], params.num_trees, params.num_samples_per_tree)
    cut_indices, cut_keys = sample_keys(rng, x.shape[0], 1, CUTOFF_ROWS)
    return {"tree_keys": keys, "tree_points": x[indices],
            "cut_keys": cut_keys, "cut_points": x[cut_indices]}  # fmt: skip


def empty_samples(params: Params) -> dict[str, Any]:
    """A host without data (or a replica of the first host's) adds nothing."""
    import numpy as np

    d = params.feature_dim
    return {"tree_keys": np.zeros((params.num_trees, 0)),
            "tree_points": np.zeros((params.num_trees, 0, d), np.float32),
            "cut_keys": np.zeros((1, 0)), "cut_points": np.zeros((1, 0, d), np.float32)}  # fmt: skip


def build_model(parts: list[dict[str, Any]], params: Params) -> dict[str, Any]:
    """Merge the hosts' samples, grow the forest, set the score cutoff: the model dict."""
    import numpy as np

    from simsage.algorithms import rcf_forest as rf

    def merged(name: str, size: int) -> Any:
        keys = np.concatenate([p[f"{name}_keys"] for p in parts], axis=1)
        points = np.concatenate([p[f"{name}_points"] for p in parts], axis=1)
        return rf.bottom_k(keys, points, size)

    samples = merged("tree", params.num_samples_per_tree)
    if samples.shape[1] == 0:
        raise UserError("The train channel holds no records")
    arrays = rf.build(samples, _rng("forest"))
    forest = rf.Forest.from_arrays(arrays)
    scores = forest.score(merged("cut", CUTOFF_ROWS)[0])
    cutoff = float(scores.mean() + CUTOFF_SIGMAS * scores.std())
    logger.info("Forest of %d trees x %d samples; score cutoff %.6g (mean %.6g + %g sigma)",
                params.num_trees, samples.shape[1], cutoff, scores.mean(), CUTOFF_SIGMAS)  # fmt: skip
    return {"format": MODEL_FORMAT, "feature_dim": params.feature_dim,
            "num_trees": params.num_trees, "num_samples_per_tree": int(samples.shape[1]),
            "score_cutoff": cutoff, "forest": rf.encode(arrays)}  # fmt: skip


def fit_arrays(x: Any, y: Any, hyperparameters: dict[str, str]) -> dict[str, Any]:
    """Train in process on one array (``y`` is ignored: the forest is unsupervised);
    exactly what one host's job does, without the files. Returns the model dict.

    Raises:
        UserError: bad hyperparameters, or x's width is not ``feature_dim``.
    """
    params = parse_params(hyperparameters)
    if x.ndim != 2 or x.shape[1] != params.feature_dim:
        raise UserError(
            f"The data has {x.shape[-1]} features per record but feature_dim is "
            f"{params.feature_dim}: set feature_dim to the number of feature columns"
        )
    return build_model([host_samples(x, params)], params)


def test_metrics(model: dict[str, Any], x: Any, y: Any) -> dict[str, float]:
    """f1, accuracy, precision and recall of the anomaly class (label 1) on labelled
    records, a record being predicted anomalous when its score exceeds ``score_cutoff``."""
    import numpy as np

    from simsage.algorithms import rcf_forest as rf

    forest = rf.Forest.from_arrays(rf.decode(model["forest"]))
    x = np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=np.float32)
    predicted = forest.score(x) > model["score_cutoff"]
    actual = np.asarray(y) == 1
    tp = float((predicted & actual).sum())
    fp = float((predicted & ~actual).sum())
    fn = float((~predicted & actual).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": f1, "accuracy": float((predicted == actual).mean()),
            "precision": precision, "recall": recall}  # fmt: skip


# -- the job ---------------------------------------------------------------------------


def _distribution(job: JobConfig, channel: str) -> str:
    return job.channels[channel].get("S3DistributionType") or "FullyReplicated"


def train(job: JobConfig) -> None:
    """Run one host's part of the job.

    Raises:
        UserError: anything the user must fix; the message is the failure reason.
    """
    check_channels(job, CHANNELS, "random cut forest")
    params = parse_params(job.hyperparameters)
    several = len(job.hosts) > 1
    if several and "test" in job.channels and _distribution(job, "test") != "FullyReplicated":
        raise UserError(
            "The test channel must be FullyReplicated (S3DataDistributionType): with "
            "ShardedByS3Key no host sees all of it"
        )
    replicated = _distribution(job, "train") == "FullyReplicated"
    if replicated and several:
        logger.warning("The train channel is FullyReplicated on %d hosts: every host holds all "
                       "the data and the first host's sample is used; ShardedByS3Key spreads "
                       "the reading", len(job.hosts))  # fmt: skip

    def compute() -> dict[str, Any]:
        if several and (replicated and not job.is_master):
            return empty_samples(params)
        if several and not has_data(job.channel_dir("train")):
            logger.warning("Host %s has no training data: it adds no samples", job.current_host)
            return empty_samples(params)
        x, _ = first_party_load(job, "train", label_size=0, feature_dim=params.feature_dim)
        logger.info("Host %s: %d records", job.current_host, x.shape[0])
        return host_samples(x, params, job.current_host)

    parts = gather_or_fail(job, compute)
    if parts is None:  # not the first host: it has handed over its part
        return
    model = build_model(parts, params)
    if "test" in job.channels:
        x, y = first_party_load(job, "test", label_size=1, feature_dim=params.feature_dim)
        if y is None:
            raise UserError(
                "The test channel needs labels (1 = anomaly): send text/csv;label_size=1 "
                "or labelled RecordIO"
            )
        values = test_metrics(model, x, y)
        names = ["f1"]
        if "accuracy" in params.eval_metrics:
            names.append("accuracy")
        if "precision_recall_fscore" in params.eval_metrics:
            names += ["precision", "recall"]
        for name in names:
            print(metric_line(job.current_host, "test", name, values[name], "score"), flush=True)
    write_model(job, MODEL_FILE, model)


def main() -> int:
    """Entry point: run the job described by ``$SIMSAGE_OPT_ML``; returns the exit code."""
    return run(train)


if __name__ == "__main__":
    sys.exit(main())
