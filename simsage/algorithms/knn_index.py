"""The k-NN algorithm's arithmetic, shared by training and serving: the dimension
reductions (random sign projection, fast Johnson–Lindenstrauss transform), the nearest
neighbour search and the prediction from the neighbours' labels.

Layer: programs (imported by :mod:`simsage.algorithms.knn_train` and
:mod:`simsage.serving.knn_handler`); numpy only, imported lazily by its callers.

Invariants:
- A reduction is fully described by arrays stored in the model (never re-drawn from a
  seed at serving time, so a numpy upgrade cannot change a served model): ``sign`` is a
  ``feature_dim × target`` matrix of ±1/√target; ``fjlt`` is the subsampled randomized
  Hadamard transform √(n/target)·S·H·D (D random signs, H the orthonormal Walsh–Hadamard
  matrix of the next power of two n ≥ feature_dim, S ``target`` distinct coordinates).
  Both keep L2 distances and inner products in expectation.
- The search is exact for every ``index_type``: the real container builds faiss indexes
  (faiss.IVFFlat and faiss.IVFPQ approximate the neighbours); simsage computes the true
  neighbours, which those indexes approximate.
- ``L2`` neighbours come nearest first with their squared Euclidean distances (what faiss
  reports; that the container passes them through unchanged is unverified).
  ``INNER_PRODUCT`` and ``COSINE`` neighbours come most similar first with their inner
  products (cosine: of the L2-normalised vectors), as faiss reports similarities.
- The classifier predicts the most frequent label of the k neighbours; a tie goes to the
  smallest tied label (the docs say nothing of ties: unverified). The regressor predicts
  the mean of the neighbours' labels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

METRICS = ("L2", "INNER_PRODUCT", "COSINE")
_BLOCK = 1 << 22  # query × point products computed at once (bounds memory)


# -- dimension reduction ------------------------------------------------------------------


def sign_projection(input_dim: int, target: int, seed: int) -> dict[str, Any]:
    """The arrays of a random sign projection ``input_dim → target``."""
    rng = np.random.default_rng(seed)
    signs = rng.integers(0, 2, size=(input_dim, target), dtype=np.int8) * 2 - 1
    return {"sign_matrix": (signs / np.sqrt(target)).astype(np.float32)}


def fjlt_projection(input_dim: int, target: int, seed: int) -> dict[str, Any]:
    """The arrays of a fast Johnson–Lindenstrauss transform ``input_dim → target``."""
    rng = np.random.default_rng(seed)
    size = 1 << max(0, (input_dim - 1).bit_length())
    target = min(target, size)
    return {
        "fjlt_signs": (rng.integers(0, 2, size=input_dim, dtype=np.int8) * 2 - 1).astype(
            np.float32
        ),
        "fjlt_rows": np.sort(rng.choice(size, size=target, replace=False)).astype(np.int64),
    }


def _hadamard(values: np.ndarray) -> np.ndarray:
    """The orthonormal fast Walsh–Hadamard transform of each row (width a power of two)."""
    rows, width = values.shape
    out = values.astype(np.float64, copy=True)
    half = 1
    while half < width:
        view = out.reshape(rows, width // (2 * half), 2, half)
        left, right = view[:, :, 0, :].copy(), view[:, :, 1, :]
        view[:, :, 0, :] += right
        view[:, :, 1, :] = left - right
        half *= 2
    return out / np.sqrt(width)


def reduce(x: np.ndarray, arrays: dict[str, Any]) -> np.ndarray:
    """``x`` in the reduced space described by ``arrays`` (unchanged without a reduction)."""
    if "sign_matrix" in arrays:
        return np.asarray(x, dtype=np.float64) @ arrays["sign_matrix"].astype(np.float64)
    if "fjlt_signs" in arrays:
        signs, rows = arrays["fjlt_signs"], arrays["fjlt_rows"]
        size = 1 << max(0, (len(signs) - 1).bit_length())
        padded = np.zeros((x.shape[0], size))
        padded[:, : len(signs)] = np.asarray(x, dtype=np.float64) * signs
        return _hadamard(padded)[:, rows] * np.sqrt(size / len(rows))
    return np.asarray(x, dtype=np.float64)


# -- the index ----------------------------------------------------------------------------


def normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def search(
    points: np.ndarray, queries: np.ndarray, k: int, metric: str
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest ``points`` of every query, exactly.

    Args:
        points: the index (already normalised for COSINE), ``n × d``.
        queries: ``m × d`` (normalised here for COSINE).
        k: neighbours per query (at most n).
        metric: ``L2``, ``INNER_PRODUCT`` or ``COSINE``.

    Returns:
        ``(indices, values)``, both ``m × k``: for L2 the squared distances, ascending;
        otherwise the similarities, descending.
    """
    points = np.asarray(points, dtype=np.float64)
    queries = np.asarray(queries, dtype=np.float64)
    if metric == "COSINE":
        queries = normalise(queries)
    k = min(k, points.shape[0])
    step = max(1, _BLOCK // max(1, points.shape[0]))
    point_norms = np.einsum("ij,ij->i", points, points) if metric == "L2" else None
    indices, values = [], []
    for start in range(0, queries.shape[0], step):
        block = queries[start : start + step]
        scores = block @ points.T
        if metric == "L2":
            scores = np.maximum(
                np.einsum("ij,ij->i", block, block)[:, None] - 2 * scores + point_norms, 0.0
            )
        else:
            scores = -scores  # most similar first
        if k < points.shape[0]:
            top = np.argpartition(scores, k - 1, axis=1)[:, :k]
        else:
            top = np.broadcast_to(np.arange(points.shape[0]), scores.shape).copy()
        chosen = np.take_along_axis(scores, top, axis=1)
        order = np.lexsort((top, chosen), axis=1)  # by score, then index: deterministic
        top = np.take_along_axis(top, order, axis=1)
        chosen = np.take_along_axis(chosen, order, axis=1)
        indices.append(top)
        values.append(chosen if metric == "L2" else -chosen)
    return np.vstack(indices), np.vstack(values)


def predict(neighbour_labels: np.ndarray, predictor_type: str) -> np.ndarray:
    """One prediction per row of the neighbours' labels (``m × k``)."""
    if predictor_type == "regressor":
        return neighbour_labels.mean(axis=1)
    classes, codes = np.unique(neighbour_labels, return_inverse=True)
    codes = codes.reshape(neighbour_labels.shape)
    counts = np.zeros((neighbour_labels.shape[0], len(classes)), dtype=np.int64)
    np.add.at(counts, (np.arange(codes.shape[0])[:, None], codes), 1)
    return classes[np.argmax(counts, axis=1)]  # argmax: the smallest label among ties


class Index:
    """A built index: the (reduced) points, their labels and how to query them."""

    def __init__(self, meta: dict[str, Any], arrays: dict[str, Any]) -> None:
        self.k = int(meta["k"])
        self.predictor_type = str(meta["predictor_type"])
        self.metric = str(meta["index_metric"])
        if self.predictor_type not in ("classifier", "regressor") or self.metric not in METRICS:
            raise ValueError(f"unknown predictor_type or index_metric in {meta}")
        self.reduction = {k: v for k, v in arrays.items() if k.startswith(("sign_", "fjlt_"))}
        self.points = np.asarray(arrays["points"], dtype=np.float64)
        self.labels = np.asarray(arrays["labels"], dtype=np.float64)
        if self.points.shape[0] != self.labels.shape[0] or self.points.shape[0] == 0:
            raise ValueError("the model's points and labels do not match")

    def query(self, x: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(predictions, neighbour labels, distances)`` for the rows of ``x``."""
        if hasattr(x, "toarray"):
            x = x.toarray()
        indices, values = search(self.points, reduce(x, self.reduction), self.k, self.metric)
        neighbour_labels = self.labels[indices]
        return predict(neighbour_labels, self.predictor_type), neighbour_labels, values
