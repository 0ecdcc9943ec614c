"""XGBoost's old binary model format (0.72–1.2), read into the installed XGBoost.

Layer: serving, model loading (used by :mod:`simsage.serving.xgboost_pickle` and
:mod:`simsage.serving.xgboost_handler`); imports only xgboost and numpy.

XGBoost 3 loads only JSON and UBJSON models, but the SageMaker containers before 1.3-1
saved models in the binary format XGBoost 0.90–1.2 wrote (``Booster.save_model``, or
inside the pickled Booster). :func:`parse` reads that format, as written by
``LearnerImpl::Save``/``SaveModel``, ``GBTreeModel::Save``, ``RegTree::Save``,
``GBLinearModel::Save`` and ``Dart::Save`` of those versions (little-endian):

- an optional ``binf`` header (1.x), then the learner parameters (136 bytes: base_score,
  num_feature, num_class, contain_extra_attrs, contain_eval_metrics, major and minor
  version — zero before 1.0 — and reserved words);
- the objective and booster names (``uint64`` length + bytes);
- gbtree/dart: the model parameters (160 bytes), each tree (its 148-byte parameters,
  then ``num_nodes`` nodes of 20 bytes and as many statistics of 16 bytes), the trees'
  group ids, and for dart the drop weights; gblinear: 136 bytes of parameters and the
  weights (``num_feature + 1`` rows of one weight per output group, the bias last);
- the attributes when ``contain_extra_attrs`` (pairs of strings). What follows (0.90's
  Poisson ``max_delta_step`` and metric names) is not needed for prediction.

:func:`to_booster` turns a parsed model into an ``xgboost.Booster`` through the JSON
model format, on a skeleton the installed xgboost writes itself (so its current layout
is always right) filled with the old trees. Invariant: the converted model holds the old
model exactly — the same trees, splits, missing-value directions, leaf values and dart
weights — so it predicts what the old library predicted up to float32 rounding: XGBoost 3
adds the base margin before the trees, the old versions after them, which may change the
last bits of a sum. Before 1.0 the file stores the base score already through the
objective's link (the margin); XGBoost 3 stores it before the link, so the margin is
mapped back through the inverse of the link, choosing among the nearest float32 scores
the one the installed xgboost's own ``ProbToMargin`` maps closest to the stored margin
(exactly for the default 0.5 and the identity links; a logit or log of neighbouring
float32 scores can be further apart than one margin ulp). Nodes the old pruner deleted,
which the old format keeps in place, are dropped and the rest renumbered.
"""

from __future__ import annotations

import functools
import json
import math
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

LEARNER_PARAM_SIZE = 136
GBTREE_PARAM_SIZE = 160
TREE_PARAM_SIZE = 148
GBLINEAR_PARAM_SIZE = 136
NODE_DTYPE = np.dtype(
    [("parent", "<i4"), ("left", "<i4"), ("right", "<i4"), ("sindex", "<u4"), ("info", "<f4")]
)
STAT_DTYPE = np.dtype(
    [("loss_chg", "<f4"), ("sum_hess", "<f4"), ("base_weight", "<f4"), ("leaf_count", "<i4")]
)
_SPLIT_INDEX_MASK = (1 << 31) - 1
_ROOT_PARENT = (1 << 31) - 1  # how the JSON format writes "no parent"
# A name longer than this is not a model (the format allows 2**64).
_MAX_NAME = 256
# Attributes the old versions kept for themselves, not the user's.
_INTERNAL_ATTRIBUTES = ("count_poisson_max_delta_step", "objective", "metrics")
# XGBoost 3's ProbToMargin per objective: "logit", "log", or the identity.
_LINK = {
    "binary:logistic": "logit",
    "reg:logistic": "logit",
    "count:poisson": "log",
    "reg:gamma": "log",
    "reg:tweedie": "log",
    "survival:cox": "log",
    "survival:aft": "log",
}
_RENAMED_OBJECTIVES = {"reg:linear": "reg:squarederror"}
_BOOSTERS = ("gbtree", "gblinear", "dart")


class LegacyModelError(ValueError):
    """The bytes are not a model in XGBoost's old binary format, or hold something
    simsage cannot convert; the message says which."""


@dataclass
class Tree:
    """One regression tree as the old format stores it."""

    nodes: np.ndarray  # NODE_DTYPE
    stats: np.ndarray  # STAT_DTYPE


@dataclass
class LegacyModel:
    """A parsed old-format model. ``base_score`` is as stored: the margin before 1.0
    (``major_version`` 0), the untransformed score from 1.0 on."""

    base_score: float
    num_feature: int
    num_class: int
    major_version: int
    objective: str
    booster: str
    trees: list[Tree] = field(default_factory=list)
    tree_info: list[int] = field(default_factory=list)
    weight_drop: list[float] = field(default_factory=list)
    weights: np.ndarray | None = None  # gblinear
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def num_groups(self) -> int:
        return max(self.num_class, 1)


class _Reader:
    def __init__(self, raw: bytes) -> None:
        self.raw = memoryview(raw)
        self.pos = 0

    def take(self, size: int, what: str) -> memoryview:
        if size < 0 or self.pos + size > len(self.raw):
            raise LegacyModelError(f"the model ends inside its {what}")
        chunk = self.raw[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple[Any, ...]:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))

    def u64(self, what: str) -> int:
        return self.unpack("<Q", what)[0]

    def text(self, what: str) -> str:
        length = self.u64(what)
        if length > _MAX_NAME:
            raise LegacyModelError(f"its {what} is {length} bytes long")
        return self._decode(self.take(length, what), what)

    def long_text(self, what: str) -> str:
        length = self.u64(what)
        return self._decode(self.take(length, what), what)

    def array(self, dtype: np.dtype, count: int, what: str) -> np.ndarray:
        return np.frombuffer(self.take(dtype.itemsize * count, what), dtype=dtype).copy()

    @staticmethod
    def _decode(chunk: memoryview, what: str) -> str:
        try:
            return bytes(chunk).decode("utf-8")
        except UnicodeDecodeError:
            raise LegacyModelError(f"its {what} is not text") from None


def looks_legacy(raw: bytes) -> bool:
    """Whether ``raw`` may be an old binary model (cheap: the header and the names)."""
    try:
        _read_header(_Reader(raw))
    except LegacyModelError:
        return False
    return True


def _read_header(reader: _Reader) -> tuple[tuple[Any, ...], str, str]:
    if bytes(reader.raw[:4]) == b"binf":
        reader.pos = 4
    param = reader.unpack("<fIiiiII27i", "learner parameters")
    objective = _objective_name(reader)
    booster = reader.text("booster name")
    if booster not in _BOOSTERS:
        raise LegacyModelError(f"its booster {booster!r} is not one of {', '.join(_BOOSTERS)}")
    if not objective or not all(c.isalnum() or c in ":_-@" for c in objective):
        raise LegacyModelError(f"its objective {objective!r} is not an objective name")
    return param, objective, booster


def _objective_name(reader: _Reader) -> str:
    length = reader.u64("objective name")
    if length >= 0xFFFFFFFF:  # the oldest writers: a 32-bit length in the high word
        reader.take(4, "objective name")
        length >>= 32
    if length > _MAX_NAME:
        raise LegacyModelError(f"its objective name is {length} bytes long")
    return _Reader._decode(reader.take(length, "objective name"), "objective name")


def parse(raw: bytes) -> LegacyModel:
    """Read an old binary model (as ``Booster.save_raw()``/``save_model`` of 0.72–1.2).

    Raises:
        LegacyModelError: the bytes are not such a model, or are cut short.
    """
    reader = _Reader(raw)
    param, objective, booster = _read_header(reader)
    base_score, num_feature, num_class, extra_attrs, _, major, _minor = param[:7]
    if not math.isfinite(base_score):
        raise LegacyModelError(f"its base score is {base_score}")
    if num_class < 0 or num_feature > 1 << 31:
        raise LegacyModelError("its learner parameters are out of range")
    model = LegacyModel(base_score, num_feature, num_class, major, objective, booster)
    if booster == "gblinear":
        _read_linear(reader, model)
    else:
        _read_trees(reader, model)
    if extra_attrs:
        count = reader.u64("attributes")
        if count * 16 > len(reader.raw) - reader.pos:  # two lengths per pair at least
            raise LegacyModelError(f"the model ends inside its {count} attributes")
        for _ in range(count):
            key = reader.long_text("attribute name")
            model.attributes[key] = reader.long_text("attribute value")
    return model


def _read_trees(reader: _Reader, model: LegacyModel) -> None:
    num_trees, num_roots, _, _, _, num_output_group, size_leaf_vector = reader.unpack(
        "<iiiiqii", "gbtree parameters"
    )
    reader.take(GBTREE_PARAM_SIZE - 32, "gbtree parameters")
    if num_trees < 0 or num_trees > len(reader.raw) // TREE_PARAM_SIZE:
        raise LegacyModelError(f"it claims {num_trees} trees")
    if size_leaf_vector != 0:
        raise LegacyModelError("it has vector leaves, which XGBoost never wrote")
    if model.major_version == 0 and num_output_group > 1:
        model.num_class = max(model.num_class, num_output_group)
    for index in range(num_trees):
        model.trees.append(_read_tree(reader, index))
    if num_trees:
        model.tree_info = reader.array(np.dtype("<i4"), num_trees, "tree groups").tolist()
        if min(model.tree_info) < 0 or max(model.tree_info) >= model.num_groups:
            raise LegacyModelError("a tree belongs to an output group the model does not have")
    if model.booster == "dart" and num_trees:
        count = reader.u64("dart weights")
        if count != num_trees:
            raise LegacyModelError(f"it has {count} dart weights for {num_trees} trees")
        model.weight_drop = reader.array(np.dtype("<f4"), count, "dart weights").tolist()


def _read_tree(reader: _Reader, index: int) -> Tree:
    what = f"tree {index}"
    num_roots, num_nodes, _num_deleted, _, _, size_leaf_vector = reader.unpack("<6i", what)
    reader.take(TREE_PARAM_SIZE - 24, what)
    if num_roots != 1:
        raise LegacyModelError(f"{what} has {num_roots} roots (only one root is supported)")
    if num_nodes < 1 or size_leaf_vector != 0:
        raise LegacyModelError(f"{what} has invalid parameters")
    nodes = reader.array(NODE_DTYPE, num_nodes, what)
    stats = reader.array(STAT_DTYPE, num_nodes, what)
    return Tree(nodes, stats)


def _read_linear(reader: _Reader, model: LegacyModel) -> None:
    num_feature, num_output_group = reader.unpack("<Ii", "gblinear parameters")
    reader.take(GBLINEAR_PARAM_SIZE - 8, "gblinear parameters")
    if model.major_version == 0:
        model.num_feature = num_feature or model.num_feature
        if num_output_group > 1:
            model.num_class = max(model.num_class, num_output_group)
    count = reader.u64("linear weights")
    if count != (model.num_feature + 1) * model.num_groups:
        raise LegacyModelError(
            f"it has {count} linear weights for {model.num_feature} features and "
            f"{model.num_groups} outputs"
        )
    model.weights = reader.array(np.dtype("<f4"), count, "linear weights")


# -- conversion ---------------------------------------------------------------------------


def objective_name(model: LegacyModel) -> str:
    """The objective's name in XGBoost 3 (``gpu:`` variants and ``reg:linear`` renamed)."""
    name = model.objective.removeprefix("gpu:")
    return _RENAMED_OBJECTIVES.get(name, name)


def base_score(model: LegacyModel) -> float:
    """The base score XGBoost 3 must store for this model (before the link)."""
    if model.major_version >= 1:
        return float(np.float32(model.base_score))
    link = _LINK.get(objective_name(model))
    margin = np.float32(model.base_score)
    if link is None:
        return float(margin)
    value = float(margin)
    with np.errstate(over="ignore"):  # an absurd margin: the score saturates
        wide = np.exp(-np.float64(value)) if link == "logit" else np.exp(np.float64(value))
        guess = np.float32(1.0 / (1.0 + wide) if link == "logit" else wide)
    # float32 rounding of the score may move its margin by an ulp; ask the installed
    # xgboost (its compiled logf/log are what count) for the neighbours too.
    candidates = [guess]
    for steps in range(1, 4):
        for direction in (np.inf, -np.inf):
            nearby = guess
            for _ in range(steps):
                nearby = np.nextafter(nearby, np.float32(direction), dtype=np.float32)
            candidates.append(nearby)
    best, best_gap = guess, math.inf
    for candidate in candidates:
        if not 0 < candidate < (1 if link == "logit" else math.inf):
            continue
        gap = abs(float(_installed_margin(model, float(candidate))) - value)
        if gap < best_gap:
            best, best_gap = candidate, gap
        if gap == 0:
            break
    return float(best)


def _installed_margin(model: LegacyModel, score: float) -> np.float32:
    """The margin the installed xgboost gives ``score`` for this objective: the
    prediction of a model without trees."""
    import xgboost as xgb

    probe = LegacyModel(1.0, 1, model.num_class, 1, model.objective, "gbtree")
    document = skeleton_for(probe)
    outputs = _outputs(document["learner"])
    param = document["learner"]["learner_model_param"]
    param["base_score"] = "[" + ",".join([repr(score)] * outputs) + "]"
    param["boost_from_average"] = "0"  # else an empty model's score skips the link
    booster = xgb.Booster()
    booster.load_model(bytearray(json.dumps(document).encode("utf-8")))
    margin = booster.inplace_predict(np.zeros((1, 1), dtype=np.float32), predict_type="margin")
    return np.float32(np.ravel(margin)[0])


def to_json(
    model: LegacyModel,
    skeleton: dict[str, Any],
    tree_limit: int = 0,
    num_parallel_tree: int = 1,
    boosted_rounds: int | None = None,
) -> dict[str, Any]:
    """Fill ``skeleton`` (the JSON model an empty Booster of the installed xgboost
    writes for this objective, booster and shape) with the model's contents.

    Args:
        tree_limit: keep only the first ``tree_limit`` trees of every output group, as
            ``predict(ntree_limit=…)`` of the old versions used them (0: all).
        num_parallel_tree: trees per group and round (the old format does not store it).
        boosted_rounds: rounds of a gblinear model (not stored either).
    """
    learner = skeleton["learner"]
    score = base_score(model)
    scores = ",".join([repr(score)] * _outputs(learner))
    learner["learner_model_param"]["base_score"] = f"[{scores}]"
    learner["learner_model_param"]["boost_from_average"] = "0"
    learner["attributes"] = {
        k: v
        for k, v in model.attributes.items()
        if k not in _INTERNAL_ATTRIBUTES and not k.startswith("SAVED_PARAM_")
    }
    booster = learner["gradient_booster"]
    if model.booster == "gblinear":
        assert model.weights is not None
        _check_finite(model.weights, "linear weights")
        booster["model"]["weights"] = model.weights.astype(np.float64).tolist()
        booster["model"]["boosted_rounds"] = boosted_rounds or 1
        return skeleton
    trees, tree_info, weight_drop = _kept_trees(model, tree_limit)
    per_round = model.num_groups * num_parallel_tree
    if len(trees) % per_round:
        num_parallel_tree, per_round = 1, model.num_groups
    if len(trees) % per_round:
        raise LegacyModelError(
            f"its {len(trees)} trees are not a whole number of rounds of {per_round}"
        )
    gbtree = booster["gbtree"]["model"] if model.booster == "dart" else booster["model"]
    gbtree["gbtree_model_param"] = {
        "num_parallel_tree": str(num_parallel_tree),
        "num_trees": str(len(trees)),
    }
    gbtree["iteration_indptr"] = list(range(0, len(trees) + 1, per_round))
    gbtree["tree_info"] = tree_info
    gbtree["trees"] = [
        _tree_json(tree, number, model.num_feature) for number, tree in enumerate(trees)
    ]
    if model.booster == "dart":
        booster["weight_drop"] = weight_drop
    return skeleton


def _outputs(learner: dict[str, Any]) -> int:
    param = learner["learner_model_param"]
    return max(int(param.get("num_class", "0")), int(param.get("num_target", "1")), 1)


def _kept_trees(model: LegacyModel, tree_limit: int) -> tuple[list[Tree], list[int], list[float]]:
    count = len(model.trees)
    if tree_limit > 0:
        count = min(count, tree_limit * model.num_groups)
    weights = model.weight_drop[:count] if model.weight_drop else []
    return model.trees[:count], model.tree_info[:count], weights


def _check_finite(values: np.ndarray, what: str) -> None:
    if values.size and not np.isfinite(values).all():
        raise LegacyModelError(f"its {what} hold values that are not finite")


def _tree_json(tree: Tree, number: int, num_feature: int) -> dict[str, Any]:
    """One tree in XGBoost 3's JSON layout: reachable nodes only, renumbered in their
    stored order (the root stays 0)."""
    nodes, stats = tree.nodes, tree.stats
    count = len(nodes)
    order = _reachable(nodes, number)
    new_index = np.full(count, -1, dtype=np.int64)
    new_index[order] = np.arange(len(order))
    kept, kept_stats = nodes[order], stats[order]
    leaf = kept["left"] == -1
    left = np.where(leaf, -1, new_index[np.where(leaf, 0, kept["left"])])
    right = np.where(leaf, -1, new_index[np.where(leaf, 0, kept["right"])])
    # Parents from the structure itself (the stored ones are not needed to predict).
    parents = np.full(len(order), _ROOT_PARENT, dtype=np.int64)
    inner = np.flatnonzero(~leaf)
    parents[left[inner]] = inner
    parents[right[inner]] = inner
    split_index = np.where(leaf, 0, kept["sindex"] & _SPLIT_INDEX_MASK)
    default_left = np.where(leaf, 0, kept["sindex"] >> 31)
    if int(split_index.max(initial=0)) >= max(num_feature, 1):
        raise LegacyModelError(f"tree {number} splits on a feature the model does not have")
    for values, what in ((kept["info"], "split values"), (kept_stats["base_weight"], "weights")):
        _check_finite(values, f"tree {number}'s {what}")
    n = len(order)
    return {
        "base_weights": _floats(kept_stats["base_weight"]),
        "categories": [],
        "categories_nodes": [],
        "categories_segments": [],
        "categories_sizes": [],
        "default_left": default_left.astype(int).tolist(),
        "id": number,
        "left_children": left.astype(int).tolist(),
        "loss_changes": _floats(np.nan_to_num(kept_stats["loss_chg"])),
        "parents": parents.astype(int).tolist(),
        "right_children": right.astype(int).tolist(),
        "split_conditions": _floats(kept["info"]),
        "split_indices": split_index.astype(int).tolist(),
        "split_type": [0] * n,
        "sum_hessian": _floats(np.nan_to_num(kept_stats["sum_hess"])),
        "tree_param": {
            "num_deleted": "0",
            "num_feature": str(num_feature),
            "num_nodes": str(n),
            "size_leaf_vector": "1",
        },
    }


def _floats(values: np.ndarray) -> list[float]:
    # float32 → float64 is exact, and JSON's shortest repr of that double reads back
    # as the same float32.
    return values.astype(np.float64).tolist()


def _reachable(nodes: np.ndarray, number: int) -> np.ndarray:
    """The indices of the nodes reachable from the root, sorted (deleted nodes are not
    reachable); refuses children out of range, a node reached twice and half splits."""
    count = len(nodes)
    seen = np.zeros(count, dtype=bool)
    stack = [0]
    while stack:
        index = stack.pop()
        if seen[index]:
            raise LegacyModelError(f"tree {number} is not a tree (node {index} is shared)")
        seen[index] = True
        left, right = int(nodes["left"][index]), int(nodes["right"][index])
        if left == -1:
            continue
        if not (0 < left < count and 0 < right < count):
            raise LegacyModelError(f"tree {number}: node {index} has children out of range")
        stack.extend((right, left))
    return np.flatnonzero(seen)


def skeleton_for(model: LegacyModel) -> dict[str, Any]:
    """The JSON of an untrained Booster of the installed xgboost with this model's
    objective, booster and shape (the layout to fill; a fresh copy every call)."""
    text = _skeleton(
        objective_name(model), model.booster, max(model.num_feature, 1), model.num_class
    )
    return json.loads(text)


@functools.lru_cache(maxsize=64)
def _skeleton(objective: str, booster: str, num_feature: int, num_class: int) -> str:
    import xgboost as xgb

    params: dict[str, Any] = {
        "objective": objective,
        "booster": booster,
        "num_feature": num_feature,
    }
    if num_class > 1:
        params["num_class"] = num_class
    try:
        return bytes(xgb.Booster(params).save_raw("json")).decode("utf-8")
    except xgb.core.XGBoostError as error:
        reason = str(error).split("Stack trace:", 1)[0].strip()
        raise LegacyModelError(
            f"its objective {objective!r} is not one XGBoost {xgb.__version__} knows: {reason}"
        ) from None


def to_booster(
    model: LegacyModel,
    tree_limit: int = 0,
    num_parallel_tree: int = 1,
    boosted_rounds: int | None = None,
) -> Any:
    """An ``xgboost.Booster`` of the installed version holding ``model`` (see
    :func:`to_json` for the arguments)."""
    import xgboost as xgb

    document = to_json(model, skeleton_for(model), tree_limit, num_parallel_tree, boosted_rounds)
    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(json.dumps(document).encode("utf-8")))
    except xgb.core.XGBoostError as error:
        reason = str(error).split("Stack trace:", 1)[0].strip()
        raise LegacyModelError(
            f"XGBoost {xgb.__version__} refused the converted model: {reason}"
        ) from None
    return booster


def load(raw: bytes, tree_limit: int = 0, num_parallel_tree: int = 1) -> Any:
    """Parse an old binary model and return it as an ``xgboost.Booster``."""
    return to_booster(parse(raw), tree_limit, num_parallel_tree)
