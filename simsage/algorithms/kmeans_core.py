"""The k-means arithmetic of the built-in ``kmeans:1`` algorithm, in numpy alone.

Layer: programs (imported by :mod:`simsage.algorithms.kmeans_train` in the job process and
by :mod:`simsage.serving.kmeans_handler` in the inference server); imports numpy only, so
neither process pays for scikit-learn's import (~1 s).

What the SageMaker container does, as its documentation describes it:

1. :func:`minibatch_kmeans` — web-scale mini-batch k-means (Sculley 2010) over the
   records in their order, in batches of ``mini_batch_size``, ``epochs`` passes, with ``K = k *
   extra_center_factor`` centers seeded ``random`` (K distinct records) or ``kmeans++``
   (on a sample of the records). Each center keeps a weight, the (decayed) number of
   records assigned to it; a batch moves each center to the weighted mean of its old
   position (at its weight) and its new records. With ``half_life_time_size = h > 0`` a
   record's weight halves every ``h`` records observed after it (the factor ``0.5 ** (1/h)``
   per record, applied exactly within a batch too), so later records count more; ``h = 0``
   means no decay and the weights are plain counts.
2. :func:`lloyd` — the local Lloyd pass: weighted Lloyd (EM) over the K weighted centers
   (of every host) down to ``k`` centers, seeded ``kmeans++`` or ``random``, at most
   ``max_iter`` iterations, stopping once the weighted loss improves by less than
   ``tol`` (relative), ``num_trials`` restarts keeping the lowest loss.
3. :func:`squared_distances` — each record's closest center and squared Euclidean
   distance, by ``||x||^2 - 2 x.c + ||c||^2`` clipped at 0, over chunks of rows so the
   distance matrix stays small (``CHUNK_ROWS`` rows at a time).

Invariants: every function is deterministic for a given ``seed`` (one
``numpy.random.Generator``); inputs are never modified; centers are float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

CHUNK_ROWS = 8192
"""Rows per distance block: a (CHUNK_ROWS x centers) float64 matrix at a time."""

KMEANS_PP_SAMPLE_FACTOR = 10
"""``kmeans++`` seeding of the mini-batch pass looks at ``max(mini_batch_size,
KMEANS_PP_SAMPLE_FACTOR * K)`` random records (all of them when there are fewer)."""


def _dense(rows: Any) -> Any:
    """Rows of an ndarray or of a scipy CSR matrix (sparse RecordIO, libsvm) as float64."""
    if hasattr(rows, "toarray"):
        rows = rows.toarray()
    return np.asarray(rows, dtype=np.float64)


def squared_distances(x: Any, centers: Any, chunk_rows: int = CHUNK_ROWS) -> tuple[Any, Any]:
    """The closest center of every row of ``x`` and its squared Euclidean distance.

    Args:
        x: ``(n, d)`` array (any float dtype) or CSR matrix.
        centers: ``(m, d)`` array, ``m >= 1``.
        chunk_rows: rows per block (bounds memory at ``chunk_rows * m`` floats).

    Returns:
        ``(closest, squared)``: int64 indexes into ``centers`` and float64 distances >= 0
        (ties go to the lowest index).
    """
    centers = np.asarray(centers, dtype=np.float64)
    c_norms = np.einsum("ij,ij->i", centers, centers)
    n = x.shape[0]
    closest = np.empty(n, dtype=np.int64)
    squared = np.empty(n, dtype=np.float64)
    for start in range(0, n, chunk_rows):
        block = _dense(x[start : start + chunk_rows])
        d2 = block @ centers.T
        d2 *= -2.0
        d2 += c_norms
        d2 += np.einsum("ij,ij->i", block, block)[:, None]
        best = np.argmin(d2, axis=1)
        closest[start : start + len(block)] = best
        squared[start : start + len(block)] = d2[np.arange(len(block)), best]
    np.maximum(squared, 0.0, out=squared)
    return closest, squared


def kmeans_plus_plus(points: Any, n_centers: int, rng: Any, weights: Any = None) -> Any:
    """``n_centers`` rows of ``points`` chosen by k-means++ (Arthur & Vassilvitskii 2007),
    in its greedy form: the first at random (in proportion to ``weights``); for each next
    one, ``2 + ln(n_centers)`` candidates drawn with probability proportional to ``weight *
    squared distance to the nearest chosen center``, keeping the candidate that lowers the
    total weighted squared distance most (plain k-means++ too often puts two seeds in one
    large cluster and none in a small far one).

    Returns:
        ``(n_centers, d)`` float64 copies of the chosen rows. When fewer than
        ``n_centers`` rows are distinct from the ones already chosen, the rest are drawn
        at random among the rows not chosen yet (duplicates of chosen ones).
    """
    points = _dense(points)
    n = points.shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    norms = np.einsum("ij,ij->i", points, points)
    tries = 2 + int(np.log(n_centers))

    def to(rows: Any) -> Any:  # squared distances from points[rows] to every point
        d2 = norms[rows][:, None] - 2.0 * (points[rows] @ points.T) + norms[None, :]
        return np.maximum(d2, 0.0)

    chosen = [int(rng.choice(n, p=w / w.sum()))]
    nearest = to(np.array(chosen))[0]
    for _ in range(1, n_centers):
        mass = w * nearest
        total = mass.sum()
        if total <= 0.0:  # every row coincides with a chosen one
            rest = np.setdiff1d(np.arange(n), chosen)
            chosen.extend(rng.choice(rest, size=n_centers - len(chosen), replace=False))
            break
        candidates = rng.choice(n, size=tries, p=mass / total)
        options = np.minimum(nearest[None, :], to(candidates))
        best = int(np.argmin(options @ w))
        chosen.append(int(candidates[best]))
        nearest = options[best]
    return points[np.asarray(chosen, dtype=np.int64)].copy()


def _weighted_sums(groups: Any, values: Any, weights: Any, n_groups: int) -> Any:
    """``(n_groups, d)``: the sum of ``weights[i] * values[i]`` over the rows of each group
    (one ``bincount`` over row-major cell indexes; ``np.add.at`` is several times slower)."""
    d = values.shape[1]
    cells = (groups[:, None] * d + np.arange(d)).ravel()
    summed = np.bincount(cells, weights=(values * weights[:, None]).ravel(),
                         minlength=n_groups * d)  # fmt: skip
    return summed.reshape(n_groups, d)


def _decay_factor(half_life_time_size: int) -> float:
    """The weight kept per record observed: ``0.5 ** (1 / h)``, 1 for ``h = 0``."""
    return 1.0 if half_life_time_size == 0 else 0.5 ** (1.0 / half_life_time_size)


def minibatch_kmeans(
    x: Any,
    n_centers: int,
    *,
    batch_size: int,
    epochs: int = 1,
    init_method: str = "random",
    half_life_time_size: int = 0,
    seed: int = 0,
) -> tuple[Any, Any]:
    """Web-scale mini-batch k-means over ``x`` (step 1 of the module docstring).

    Each epoch streams the records in their order (as the container reads its channel,
    File or Pipe mode; shuffle them with the channel's ShuffleConfig), ``batch_size`` at a
    time; a batch assigns its records to their closest centers, then each center becomes
    the weighted mean of itself (weight ``w * g**b`` for a batch of ``b`` records, ``g``
    the per-record decay) and its records (weight ``g**(records after it in the batch)``).

    Args:
        x: ``(n, d)`` records (ndarray or CSR matrix), ``n >= n_centers >= 1``.
        n_centers: K, the number of centers to learn.
        batch_size: records per mini-batch (``mini_batch_size``).
        epochs: passes over the records.
        init_method: ``random`` (K distinct random records) or ``kmeans++``.
        half_life_time_size: records after which a record's weight has halved; 0: none.
        seed: the random generator's seed.

    Returns:
        ``(centers, weights)``: ``(K, d)`` float64 centers and their ``(K,)`` weights
        (0 for a center no record was ever assigned to).
    """
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    if init_method == "kmeans++":
        size = min(n, max(batch_size, KMEANS_PP_SAMPLE_FACTOR * n_centers))
        centers = kmeans_plus_plus(x[np.sort(rng.choice(n, size=size, replace=False))],
                                   n_centers, rng)  # fmt: skip
    else:
        centers = _dense(x[np.sort(rng.choice(n, size=n_centers, replace=False))]).copy()
    weights = np.zeros(n_centers)
    gamma = _decay_factor(half_life_time_size)
    batch_size = min(batch_size, n)
    for _ in range(epochs):
        for start in range(0, n, batch_size):
            batch = _dense(x[start : start + batch_size])
            closest, _ = squared_distances(batch, centers)
            b = len(batch)
            # the record at position i has seen b-1-i records after it within the batch
            record_w = gamma ** np.arange(b - 1, -1, -1, dtype=np.float64)
            added = np.bincount(closest, weights=record_w, minlength=n_centers)
            sums = _weighted_sums(closest, batch, record_w, n_centers)
            kept = weights * gamma**b
            total = kept + added
            moved = added > 0
            centers[moved] = (centers[moved] * kept[moved, None] + sums[moved]) / total[moved, None]
            weights = total
    return centers, weights


def lloyd(
    points: Any,
    weights: Any,
    k: int,
    *,
    max_iter: int = 300,
    tol: float = 1e-4,
    init_method: str = "kmeans++",
    num_trials: int = 1,
    seed: int = 0,
) -> Any:
    """Weighted Lloyd (EM) from ``points`` down to ``k`` centers (step 2).

    Each trial seeds ``k`` centers (``kmeans++`` weighted by ``weights``, or ``random``:
    ``k`` distinct points), then alternates assignment and weighted means until
    ``max_iter`` iterations or until the weighted loss improves by less than ``tol``
    times its previous value. A cluster left empty restarts at the point that costs
    the most (weight times squared distance). The trial with the lowest loss wins.

    Args:
        points: ``(m, d)`` points, ``m >= k``; weights: ``(m,)`` positive weights.

    Returns:
        ``(k, d)`` float64 centers.
    """
    points = np.asarray(points, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    rng = np.random.default_rng(seed)
    best, best_loss = None, np.inf
    for _ in range(num_trials):
        if init_method == "kmeans++":
            centers = kmeans_plus_plus(points, k, rng, weights)
        else:
            centers = points[rng.choice(points.shape[0], size=k, replace=False)].copy()
        centers, loss = _lloyd_trial(points, weights, centers, max_iter, tol)
        if loss < best_loss:
            best, best_loss = centers, loss
    return best


def _lloyd_trial(points: Any, weights: Any, centers: Any, max_iter: int,
                 tol: float) -> tuple[Any, float]:  # fmt: skip
    k = centers.shape[0]
    previous = np.inf
    for _ in range(max_iter):
        closest, squared = squared_distances(points, centers)
        loss = float(np.dot(weights, squared))
        mass = np.bincount(closest, weights=weights, minlength=k)
        sums = _weighted_sums(closest, points, weights, k)
        empty = np.flatnonzero(mass == 0)
        if len(empty):
            costly = np.argsort(-(weights * squared), kind="stable")[: len(empty)]
            centers[empty] = points[costly]
        full = mass > 0
        centers[full] = sums[full] / mass[full, None]
        if not len(empty) and (previous - loss <= tol * previous or loss == 0.0):
            break
        previous = loss
    _, squared = squared_distances(points, centers)
    return centers, float(np.dot(weights, squared))
