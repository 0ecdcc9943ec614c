"""A robust random cut forest (Guha, Mishra, Roy & Schrijvers, ICML 2016), as SageMaker's
``randomcutforest`` algorithm builds and scores it — in numpy, vectorised.

Layer: programs (imported by :mod:`simsage.algorithms.rcf_train` and the serving handler
:mod:`simsage.serving.rcf_handler`); imports numpy only.

Building (:func:`build`). Each tree is grown from its own sample of the training points
(:func:`sample_keys` / :func:`bottom_k`: every point gets a uniform random key per tree and a
tree keeps the points with the smallest keys — a reservoir sample that several hosts can
merge exactly by keeping the smallest keys of all of them). A node holding two or more
distinct points is cut: the dimension is drawn with probability proportional to its range
in the node's bounding box, the cut value uniformly in that range; points with
``x[dim] <= cut`` go left. Identical points end in one leaf whose mass counts them. Every
tree of the forest grows level by level at once (segments of a permutation of the sample
points, ``np.minimum.reduceat`` for the boxes), so building costs a few dozen numpy passes,
not one Python call per node.

The forest is flat arrays over all trees' nodes (node ``t`` is tree ``t``'s root; children
have larger ids than their parents): ``dim`` (-1 for a leaf), ``cut``, ``left``, ``right``,
``mass``, ``depth``, ``point`` (a leaf's sample point, an index into ``points``) and the
bounding boxes ``lo``/``hi``, which :class:`Forest` derives from the leaves when it loads.

Scoring (:meth:`Forest.score`) follows AWS's open implementation
(aws/random-cut-forest-by-aws, ``AbstractScalarScoreVisitor`` with the defaults of
``CommonUtils``): the point walks down to a leaf at depth ``D``; the leaf gives
``1/(D+1)``, or ``(1 - mass/(2·N)) / (D + log2(mass+1))`` when the point equals the leaf's
point (N: the tree's sample size); walking back up, each ancestor at depth ``d`` whose box
does not contain the point mixes in its own term: ``score = p/(d+1) + (1-p)·score`` with
``p`` the probability that a random cut of the box extended to the point separates the
point (the extension's range over the extended box's range sum). Once the point is inside a
box it is inside every ancestor's (``p = 0``), so the walk stops. The tree's score is
``score · log2(N+1)``, the forest's the mean over trees: the expected displacement (CoDisp)
of inserting the point, about 1 for typical points and clearly higher for anomalies.
All points and all trees go down together (one gather per level), chunked to bound memory.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np

FORMAT = "simsage-randomcutforest/1"
_CHUNK_ELEMENTS = 200_000  # points × trees scored per pass (bounds temporary memory)


# -- sampling ------------------------------------------------------------------------


def sample_keys(rng: np.random.Generator, rows: int, num_trees: int, size: int) -> tuple:
    """Each tree's ``size`` smallest uniform keys over ``rows`` points.

    Returns:
        ``(indices, keys)``, both ``(num_trees, min(size, rows))``: the sampled rows of
        every tree and their keys (ascending), for :func:`bottom_k` to merge across hosts.
    """
    keep = min(size, rows)
    indices = np.empty((num_trees, keep), dtype=np.int64)
    keys = np.empty((num_trees, keep), dtype=np.float64)
    for tree in range(num_trees):
        drawn = rng.random(rows)
        chosen = np.argpartition(drawn, keep - 1)[:keep] if keep < rows else np.arange(rows)
        chosen = chosen[np.argsort(drawn[chosen], kind="stable")]
        indices[tree], keys[tree] = chosen, drawn[chosen]
    return indices, keys


def bottom_k(keys: np.ndarray, points: np.ndarray, size: int) -> np.ndarray:
    """Merge hosts' samples: per tree, the ``size`` points with the smallest keys.

    Args:
        keys: ``(num_trees, k)`` keys of all hosts' samples side by side.
        points: ``(num_trees, k, d)`` the matching points.
        size: the sample size per tree.

    Returns:
        ``(num_trees, min(size, k), d)`` float32: a uniform sample of the union, exactly
        what one host would have drawn from all the data.
    """
    keep = min(size, keys.shape[1])
    order = np.argsort(keys, axis=1, kind="stable")[:, :keep]
    return np.take_along_axis(points, order[:, :, None], axis=1).astype(np.float32)


# -- building ------------------------------------------------------------------------


def build(samples: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Grow one random cut tree per sample.

    Args:
        samples: ``(num_trees, m, d)`` float32, each tree's sample points.
        rng: the random generator (cut dimensions and values).

    Returns:
        The forest's arrays (``points``, ``dim``, ``cut``, ``left``, ``right``, ``mass``,
        ``depth``, ``point``), as :class:`Forest` takes them.
    """
    trees, m, d = samples.shape
    points = np.ascontiguousarray(samples.reshape(trees * m, d), dtype=np.float32)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("dim", "cut", "left", "right",
                                                          "mass", "depth", "point")}  # fmt: skip
    order = np.arange(trees * m)  # point ids, grouped by segment (= node of this level)
    counts = np.full(trees, m, dtype=np.int64)
    first_id, depth = 0, 0
    while counts.size:
        nodes = counts.size
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        values = points[order]
        lo = np.minimum.reduceat(values, starts, axis=0)
        hi = np.maximum.reduceat(values, starts, axis=0)
        ranges = hi.astype(np.float64) - lo.astype(np.float64)
        total = ranges.sum(axis=1)
        internal = (counts > 1) & (total > 0)
        k = int(internal.sum())
        dim = np.full(nodes, -1, dtype=np.int32)
        cut = np.zeros(nodes, dtype=np.float32)
        left = np.full(nodes, -1, dtype=np.int32)
        right = np.full(nodes, -1, dtype=np.int32)
        next_id = first_id + nodes
        if k:
            r = ranges[internal]
            cumulative = np.cumsum(r, axis=1)
            target = rng.random(k) * cumulative[:, -1]
            chosen = np.minimum((cumulative <= target[:, None]).sum(axis=1), d - 1)
            low = lo[internal][np.arange(k), chosen]
            high = hi[internal][np.arange(k), chosen]
            value = (low + rng.random(k) * r[np.arange(k), chosen]).astype(np.float32)
            # Rounded to float32 the cut may reach the top: keep both sides non-empty.
            top = value >= high
            value[top] = np.nextafter(high[top], np.float32(-np.inf))
            dim[internal], cut[internal] = chosen, value
            left[internal] = next_id + 2 * np.arange(k)
            right[internal] = next_id + 2 * np.arange(k) + 1
        parts["dim"].append(dim)
        parts["cut"].append(cut)
        parts["left"].append(left)
        parts["right"].append(right)
        parts["mass"].append(counts.astype(np.int32))
        parts["depth"].append(np.full(nodes, depth, dtype=np.int32))
        parts["point"].append(np.where(internal, -1, order[starts]).astype(np.int32))
        if not k:
            break
        # Partition the internal segments' points by side: key = 2·(segment rank) + side.
        segment = np.repeat(np.arange(nodes), counts)
        rank = np.cumsum(internal) - 1
        moving = internal[segment]
        ids, seg = order[moving], segment[moving]
        side = points[ids, dim[seg]] > cut[seg]
        key = 2 * rank[seg] + side
        order = ids[np.argsort(key, kind="stable")]
        counts = np.bincount(key, minlength=2 * k).astype(np.int64)
        first_id, depth = next_id, depth + 1
    forest = {name: np.concatenate(chunks) for name, chunks in parts.items()}
    forest["points"] = points
    return forest


# -- the model file ------------------------------------------------------------------

_ARRAYS = {"points": np.float32, "dim": np.int32, "cut": np.float32, "left": np.int32,
           "right": np.int32, "mass": np.int32, "depth": np.int32, "point": np.int32}  # fmt: skip


def encode(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The forest's arrays as JSON values (little-endian base64 with dtype and shape)."""
    out = {}
    for name, dtype in _ARRAYS.items():
        array = np.ascontiguousarray(arrays[name], dtype=np.dtype(dtype).newbyteorder("<"))
        out[name] = {"dtype": array.dtype.str, "shape": list(array.shape),
                     "data": base64.b64encode(array.tobytes()).decode("ascii")}  # fmt: skip
    return out


def decode(encoded: dict[str, Any]) -> dict[str, np.ndarray]:
    """The inverse of :func:`encode`; raises ValueError on a malformed entry."""
    arrays = {}
    for name, dtype in _ARRAYS.items():
        entry = encoded[name]
        raw = base64.b64decode(entry["data"], validate=True)
        array = np.frombuffer(raw, dtype=np.dtype(entry["dtype"])).reshape(entry["shape"])
        arrays[name] = array.astype(dtype)
    return arrays


# -- scoring -------------------------------------------------------------------------


@dataclass
class Forest:
    """A built forest, ready to score (boxes derived from the leaves at construction)."""

    points: np.ndarray
    dim: np.ndarray
    cut: np.ndarray
    left: np.ndarray
    right: np.ndarray
    mass: np.ndarray
    depth: np.ndarray
    point: np.ndarray

    def __post_init__(self) -> None:
        self.num_trees = int((self.depth == 0).sum())
        self.feature_dim = int(self.points.shape[1])
        self.roots = np.arange(self.num_trees, dtype=np.int64)
        self.max_depth = int(self.depth.max(initial=0))
        self._check()
        self._boxes()
        self._tables()

    def _check(self) -> None:
        """Refuse arrays that do not form a forest (ValueError, so a bad model file is a
        load error and never an IndexError while scoring)."""
        nodes = self.dim.shape[0]
        if self.points.ndim != 2 or any(
            a.shape != (nodes,)
            for a in (self.cut, self.left, self.right, self.mass, self.depth, self.point)
        ):
            raise ValueError("the forest's node arrays differ in length")
        if not nodes or not (self.depth[: self.num_trees] == 0).all():
            raise ValueError("the forest's first nodes must be its trees' roots")
        leaf, ids = self.dim < 0, np.arange(nodes)
        if (self.point[leaf] < 0).any() or (self.point[leaf] >= self.points.shape[0]).any():
            raise ValueError("a leaf names no sample point")
        if (self.dim[~leaf] >= self.feature_dim).any():
            raise ValueError("a cut names a dimension beyond feature_dim")
        for child in (self.left, self.right):
            below = child[~leaf]
            if (below <= ids[~leaf]).any() or (below >= nodes).any():
                raise ValueError("a node's children must follow it")
            if (self.depth[below] != self.depth[~leaf] + 1).any():
                raise ValueError("a child must be one level below its parent")

    def _boxes(self) -> None:
        """Every node's bounding box, from its leaves up (children before parents)."""
        leaf, internal = self.dim < 0, self.dim >= 0
        self.lo = np.empty((self.dim.shape[0], self.feature_dim), dtype=np.float32)
        self.hi = np.empty_like(self.lo)
        self.lo[leaf] = self.hi[leaf] = self.points[self.point[leaf]]
        for level in range(self.max_depth, -1, -1):
            at = np.flatnonzero(internal & (self.depth == level))
            if at.size:
                a, b = self.left[at], self.right[at]
                self.lo[at] = np.minimum(self.lo[a], self.lo[b])
                self.hi[at] = np.maximum(self.hi[a], self.hi[b])
        self.range_sum = (self.hi.astype(np.float64) - self.lo).sum(axis=1)

    def _tables(self) -> None:
        """What scoring reads: each node's tree, parent, walking tables, leaf terms."""
        nodes = self.dim.shape[0]
        leaf, internal, ids = self.dim < 0, self.dim >= 0, np.arange(nodes)
        self.tree_of = np.zeros(nodes, dtype=np.int64)
        self.tree_of[: self.num_trees] = self.roots
        for level in range(self.max_depth + 1):  # top down: children inherit the tree
            at = np.flatnonzero(internal & (self.depth == level))
            self.tree_of[self.left[at]] = self.tree_of[self.right[at]] = self.tree_of[at]
        self.parent = np.full(nodes, -1, dtype=np.int64)
        self.parent[self.left[internal]] = ids[internal]
        self.parent[self.right[internal]] = ids[internal]
        # Walking down, leaves loop onto themselves (dimension 0, cut +inf: "left").
        self.walk_dim = np.where(leaf, 0, self.dim).astype(np.int64)
        self.cut_inf = np.where(leaf, np.float32(np.inf), self.cut).astype(np.float32)
        self.children = np.empty(2 * nodes, dtype=np.int64)
        self.children[0::2] = np.where(leaf, ids, self.left)
        self.children[1::2] = np.where(leaf, ids, self.right)
        self.tree_mass = self.mass[: self.num_trees].astype(np.float64)
        self.scale = np.log2(self.tree_mass + 1.0)  # the normaliser log2(N + 1)
        # A point equal to its leaf's: damp(mass, N) / (depth + log2(mass + 1)).
        mass = self.mass.astype(np.float64)
        self.seen_term = (1.0 - mass / (2.0 * self.tree_mass[self.tree_of])) / (
            self.depth + np.log2(mass + 1.0)
        )

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Forest:
        return cls(**{name: np.asarray(arrays[name]) for name in _ARRAYS})

    def score(self, x: np.ndarray) -> np.ndarray:
        """The anomaly score (mean over trees of the CoDisp estimate) of every row of x."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.feature_dim:
            raise ValueError(f"expected rows of {self.feature_dim} features, got {x.shape}")
        out = np.empty(x.shape[0], dtype=np.float64)
        step = max(1, _CHUNK_ELEMENTS // self.num_trees)
        for start in range(0, x.shape[0], step):
            out[start : start + step] = self._score_chunk(x[start : start + step])
        return out

    def _score_chunk(self, x: np.ndarray) -> np.ndarray:
        rows, trees, d = x.shape[0], self.num_trees, self.feature_dim
        row = np.repeat(np.arange(rows), trees)  # element e = (row, tree)
        node = np.tile(self.roots, rows)
        # Down: leaves point to themselves (cut +inf, "left"), so elements that reached
        # their leaf may take more steps harmlessly; every few levels the moving ones are
        # compacted, so the deep levels only touch the elements still moving.
        flat = x.reshape(-1)
        active = np.arange(row.size)
        base = row * d
        current = node
        for level in range(self.max_depth):
            if level >= 6 and level % 2 == 0:
                node[active] = current
                moving = self.dim[current] >= 0
                active, current, base = active[moving], current[moving], base[moving]
                if not active.size:
                    break
            side = flat[base + self.walk_dim[current]] > self.cut_inf[current]
            current = self.children[2 * current + side]
        node[active] = current
        leaf = node
        # A point equal to its leaf's point (checked on one coordinate first).
        candidates = np.flatnonzero(x[row, 0] == self.points[self.point[leaf], 0])
        seen = np.zeros(row.size, dtype=bool)
        if candidates.size:
            same = (self.points[self.point[leaf[candidates]]] == x[row[candidates]]).all(axis=1)
            seen[candidates[same]] = True
        depth = self.depth[leaf].astype(np.float64)
        score = np.where(seen, self.seen_term[leaf], 1.0 / (depth + 1.0))
        # Up: from each leaf's parent while the point lies outside the box.
        active = np.flatnonzero(~seen & (depth > 0))
        current = self.parent[leaf[active]]
        while active.size:
            outside = self._outside(current, x, row[active])
            p = outside / (self.range_sum[current] + outside)
            level = self.depth[current]
            score[active] = p / (level + 1.0) + (1.0 - p) * score[active]
            going = (outside > 0) & (level > 0)
            active, current = active[going], self.parent[current[going]]
        per_tree = score.reshape(rows, trees) * self.scale[None, :]
        return per_tree.mean(axis=1)

    def _outside(self, nodes: np.ndarray, x: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """L1 distance from each point to its node's box, in cache-sized blocks (fresh large
        temporaries cost more in page faults than the arithmetic)."""
        count, d = nodes.size, self.feature_dim
        out = np.empty(count, dtype=np.float32)
        block = max(16, 80_000 // d)  # three (block, d) float32 buffers stay in cache
        low = np.empty((min(block, count), d), dtype=np.float32)
        high, values = np.empty_like(low), np.empty_like(low)
        ones = np.ones(d, dtype=np.float32)
        for start in range(0, count, block):
            end = min(count, start + block)
            a, b, v = low[: end - start], high[: end - start], values[: end - start]
            np.take(self.lo, nodes[start:end], axis=0, out=a)
            np.take(self.hi, nodes[start:end], axis=0, out=b)
            np.take(x, rows[start:end], axis=0, out=v)
            np.subtract(a, v, out=a)  # > 0 below the box
            np.subtract(v, b, out=b)  # > 0 above it (lo <= hi: at most one is)
            np.maximum(a, b, out=a)
            np.maximum(a, 0, out=a)
            np.matmul(a, ones, out=out[start:end])
        return out.astype(np.float64)
