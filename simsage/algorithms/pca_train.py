"""The built-in SageMaker PCA algorithm (image ``pca:1``), one process per host:

    SIMSAGE_OPT_ML=<host root> python -m simsage.algorithms.pca_train

Layer: programs (runs as the container's ``train``); imports the shared first-party
training pieces (:mod:`simsage.algorithms.first_party_train`).

What it does, as the real algorithm documents itself (how-pca-works): each host sums a
summary of its ``train`` records, the first host merges the summaries (sums, sent over
127.0.0.1:``$SIMSAGE_TRACKER_PORT``; ShardedByS3Key gives each host its shard) and
decomposes the merged one:
- ``regular``: the summary is ``n``, ``Σx`` and ``Σxᵀx``; the covariance
  ``Σxᵀx − (1/n)(Σx)ᵀΣx`` (without the mean term when ``subtract_mean=false``) is
  decomposed exactly (``numpy.linalg.eigh``), so any number of hosts gives the one-host
  answer up to rounding;
- ``randomized``: the summary is ``n``, ``Σx`` and a rank-ℓ sketch of the host's centred
  records (ℓ = ``num_components + extra_components``; ``extra_components=-1`` means
  ``max(10, num_components)``): the rows ``S·Vᵀ`` of scikit-learn's ``randomized_svd`` of
  rank ℓ, whose Gram matrix approximates the host's scatter matrix. The first host stacks
  every host's rows and one row ``√n_h·(mean_h − mean)`` per host (the between-host part
  of the scatter) and takes the SVD of the stack. Where ℓ reaches a host's rank the merge
  is exact, otherwise it loses only what each host's rank-ℓ sketch drops. When
  ``2ℓ ≥ feature_dim`` the range finder would span nearly all of R^d anyway, so the host's
  thin SVD is computed exactly (cheaper for narrow data). ``mini_batch_size`` is validated
  but changes nothing (each host summarises its whole shard).
  The container documents another sketch: one random sign matrix per mini-batch, summed
  over one pass. simsage does not copy it because it needs ℓ ≫ num_components to be
  accurate (measured: cosines of 0.95 to 0.99 to the true components with the default ℓ).
Components are sign-normalised deterministically (each one's entry of largest magnitude is
positive, as scikit-learn's ``svd_flip`` does).

Order: as in the real model, components are stored and projected in ascending order of
their singular values, so the most significant component is the LAST entry of every
projection (public notebooks that read the container's ``s`` and ``v`` arrays find the
top components at the end).

Model format (simsage's own; the real container writes MXNet arrays ``s``, ``v`` and
``mean`` in ``model_algo-1``, which no client reads but the notebooks do):
``pca-model.json`` = ``{"format": "simsage-pca/1", "feature_dim", "num_components",
"algorithm_mode", "subtract_mean", "mean": [d], "v": d × num_components (column j the j-th
component), "s": [num_components]}``. At inference a record is projected as
``(x − mean) · v`` (``x · v`` without ``subtract_mean``).

The docs list no metrics for PCA: the optional ``test`` channel is projected and its mean
squared reconstruction error is logged as an ordinary log line (no ``#quality_metric``).
"""

from __future__ import annotations

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
    gather_or_fail,
    has_data,
    load,
    run,
    write_model,
)

logger = logging.getLogger("simsage.algorithms.pca")

MODEL_FILE = "pca-model.json"
MODEL_FORMAT = "simsage-pca/1"
CHANNELS = ("train", "test")
SEED = 0


@dataclass(frozen=True)
class Params:
    """The validated hyperparameters."""

    feature_dim: int
    mini_batch_size: int
    num_components: int
    algorithm_mode: str = "regular"
    subtract_mean: bool = True
    extra_components: int = -1

    @property
    def sketch_size(self) -> int:
        """ℓ, the rows of the randomized mode's sketch."""
        extra = self.extra_components
        return self.num_components + (max(10, self.num_components) if extra == -1 else extra)


def parse_params(values: dict[str, str]) -> Params:
    """Validate the job's hyperparameters (strings, as SageMaker passes them).

    Raises:
        UserError: a missing required or invalid hyperparameter (the failure reason).
    """
    hp = Hyperparameters(values, set(Params.__dataclass_fields__))
    feature_dim = hp.integer("feature_dim", 1)
    params = Params(
        feature_dim=feature_dim,
        mini_batch_size=hp.integer("mini_batch_size", 1),
        num_components=hp.integer("num_components", 1),
        algorithm_mode=hp.choice("algorithm_mode", ("regular", "randomized"), "regular"),
        subtract_mean=hp.boolean("subtract_mean", True),
        extra_components=hp.integer("extra_components", -1, default=-1),
    )
    if params.num_components > feature_dim:
        raise bad_hyperparameter(
            f"num_components={params.num_components} is greater than feature_dim="
            f"{feature_dim}: there are at most feature_dim principal components"
        )
    return params


# -- one host's summary ------------------------------------------------------------------------


def _dense(block: Any) -> Any:
    import numpy as np

    return np.asarray(block.toarray() if hasattr(block, "toarray") else block, np.float64)


def summarise(x: Any, params: Params, seed: int) -> dict[str, Any]:
    """This host's summary of its records (see the module docstring for each mode)."""
    import numpy as np

    n, d = x.shape[0], params.feature_dim
    column_sum = np.asarray(x.sum(axis=0), dtype=np.float64).reshape(d)
    if params.algorithm_mode == "regular":
        if hasattr(x, "toarray"):
            gram = np.asarray((x.T @ x).toarray(), dtype=np.float64)
        else:
            dense = np.asarray(x, dtype=np.float64)
            gram = dense.T @ dense
        return {"n": np.array(n), "sum": column_sum, "gram": gram}
    dense = _dense(x)
    if params.subtract_mean:
        dense = dense - column_sum / n
    rank = min(params.sketch_size, n, d)
    if 2 * rank >= d:
        # The range finder would span (nearly) all of R^d: the exact thin SVD is cheaper.
        _, singular, vt = np.linalg.svd(dense, full_matrices=False)
        singular, vt = singular[:rank], vt[:rank]
    else:
        from sklearn.utils.extmath import randomized_svd

        _, singular, vt = randomized_svd(dense, rank, n_iter="auto", random_state=seed)
    return {"n": np.array(n), "sum": column_sum, "sketch": singular[:, None] * vt}


def empty_summary(params: Params) -> dict[str, Any]:
    """What a host without records adds (nothing)."""
    import numpy as np

    d = params.feature_dim
    if params.algorithm_mode == "regular":
        return {"n": np.array(0), "sum": np.zeros(d), "gram": np.zeros((d, d))}
    return {"n": np.array(0), "sum": np.zeros(d), "sketch": np.zeros((0, d))}


# -- the first host: merge and decompose --------------------------------------------------------


def _flip(v: Any) -> Any:
    """Each column's entry of largest magnitude made positive (deterministic signs)."""
    import numpy as np

    biggest = np.argmax(np.abs(v), axis=0)
    signs = np.sign(v[biggest, np.arange(v.shape[1])])
    return v * np.where(signs == 0, 1.0, signs)


def solve(parts: list[dict[str, Any]], params: Params) -> dict[str, Any]:
    """The model from every host's summary.

    Raises:
        UserError: no records at all.
    """
    import numpy as np

    n = int(sum(int(p["n"]) for p in parts))
    if n == 0:
        raise UserError("the train channel has no records")
    total = np.sum([p["sum"] for p in parts], axis=0)
    mean = total / n if params.subtract_mean else np.zeros(params.feature_dim)
    k = params.num_components
    if params.algorithm_mode == "regular":
        scatter = np.sum([p["gram"] for p in parts], axis=0)
        if params.subtract_mean:
            scatter = scatter - np.outer(total, total) / n
        values, vectors = np.linalg.eigh((scatter + scatter.T) / 2)  # ascending
        singular = np.sqrt(np.maximum(values[-k:], 0.0))
        components = vectors[:, -k:]
    else:
        rows = [p["sketch"] for p in parts]
        if params.subtract_mean:  # the scatter of the hosts' means around the overall mean
            rows += [np.sqrt(int(p["n"])) * (p["sum"] / int(p["n"]) - mean)[None, :]
                     for p in parts if int(p["n"])]  # fmt: skip
        sketch = np.vstack(rows)
        _, singular_all, vt = np.linalg.svd(sketch, full_matrices=False)  # descending
        if vt.shape[0] < k:
            raise UserError(
                f"the training data has rank {vt.shape[0]} (too few records), fewer than "
                f"num_components={k}"
            )
        singular = singular_all[:k][::-1]
        components = vt[:k][::-1].T
    return {
        "format": MODEL_FORMAT,
        "feature_dim": params.feature_dim,
        "num_components": k,
        "algorithm_mode": params.algorithm_mode,
        "subtract_mean": params.subtract_mean,
        "mean": mean.tolist(),
        "v": _flip(components).tolist(),
        "s": singular.tolist(),
    }


def project(model: dict[str, Any], x: Any) -> Any:
    """The records' projections (``num_components`` columns, the top component last)."""
    import numpy as np

    v = np.asarray(model["v"], dtype=np.float64)
    if hasattr(x, "toarray"):
        x = x.toarray()
    centred = np.asarray(x, dtype=np.float64)
    if model.get("subtract_mean", True):
        centred = centred - np.asarray(model["mean"], dtype=np.float64)
    return centred @ v


def fit_arrays(x: Any, y: Any, hyperparameters: dict[str, str]) -> dict[str, Any]:
    """Train in-process on one host's worth of data (labels ``y`` are ignored).

    Returns:
        The model (the contents of ``pca-model.json``).

    Raises:
        UserError: invalid hyperparameters or a width other than ``feature_dim``.
    """
    params = parse_params(hyperparameters)
    if x.shape[1] != params.feature_dim:
        raise UserError(f"the records have {x.shape[1]} features but feature_dim is "
                        f"{params.feature_dim}")  # fmt: skip
    return solve([summarise(x, params, SEED)], params)


# -- the job -----------------------------------------------------------------------------------


def train(job: JobConfig) -> None:
    """Run one host's part of the job.

    Raises:
        UserError: anything the user must fix; the message is the failure reason.
    """
    import numpy as np

    check_channels(job, CHANNELS, "PCA")
    params = parse_params(job.hyperparameters)
    if params.algorithm_mode == "regular" and params.extra_components != -1:
        logger.info("extra_components applies to the randomized mode only: ignored")
    index = job.hosts.index(job.current_host)

    def compute() -> dict[str, Any]:
        if len(job.hosts) > 1 and not has_data(job.channel_dir("train")):
            logger.warning("Host %s has no training data: it adds nothing", job.current_host)
            return empty_summary(params)
        x = load(job, "train", label_size=0, feature_dim=params.feature_dim)[0]
        logger.info("Host %s: %d records", job.current_host, x.shape[0])
        return summarise(x, params, SEED + index)

    parts = gather_or_fail(job, compute)
    if parts is None:  # not the first host: it has handed over its summary
        return
    model = solve(parts, params)
    logger.info("Singular values (ascending): %s", model["s"])
    if "test" in job.channels:
        x = load(job, "test", label_size=0, feature_dim=params.feature_dim)[0]
        x = np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=np.float64)
        v = np.asarray(model["v"])
        mean = np.asarray(model["mean"])
        rebuilt = project(model, x) @ v.T + mean
        error = float(np.mean(np.sum((x - rebuilt) ** 2, axis=1)))
        logger.info("test: %d records, mean squared reconstruction error %s", x.shape[0], error)
    write_model(job, MODEL_FILE, model)


def main() -> int:
    """Entry point: run the job described by ``$SIMSAGE_OPT_ML``; returns the exit code."""
    return run(train)


if __name__ == "__main__":
    sys.exit(main())
