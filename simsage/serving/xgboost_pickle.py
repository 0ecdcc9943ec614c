"""Pickled XGBoost models, read without running the pickle.

Layer: serving, model loading (used by :mod:`simsage.serving.xgboost_handler`); below
it only :mod:`simsage.serving.xgboost_legacy_model`, xgboost and numpy.

The SageMaker XGBoost containers before 1.3-1 saved ``pickle.dump(booster)``, and public
example notebooks ship such files: they are untrusted input. A pickle names classes and
functions that ``pickle.load`` imports and calls; this module's unpickler never imports
or calls anything. Every name a pickle refers to becomes an inert stand-in class that
records its name and whatever the pickle passes to it, so loading builds only plain data
(dicts, lists, strings, bytes, numbers) and such records. The model is then read from
that data: a ``xgboost.core.Booster`` record (or the ``_Booster`` of a pickled
scikit-learn wrapper) holds its state dict, whose ``handle`` is the model's bytes:

- 0.72/0.90: the old binary model (``XGBoosterGetModelRaw``);
- 1.0–1.2: ``CONFIG-offset:`` + int64 length + the 1.x binary model + its JSON config
  (``XGBoosterSerializeToBuffer``);
- 1.3 on: the JSON or UBJSON snapshot, which the installed xgboost reads itself.

As those containers served (``predict(ntree_limit=booster.best_ntree_limit)``), a pickled
old-format booster keeps only its first ``best_ntree_limit`` trees per output group: the
best iteration of early stopping.
"""

from __future__ import annotations

import io
import json
import pickle
import struct
from typing import Any

from simsage.serving import xgboost_legacy_model as legacy
from simsage.serving.xgboost_legacy_model import LegacyModelError

_SERIALISED_HEADER = b"CONFIG-offset:"
BOOSTER_CLASS = "xgboost.core.Booster"
_WRAPPER_MODULES = ("xgboost.sklearn",)
_RECONSTRUCTORS = ("copyreg._reconstructor", "copy_reg._reconstructor")
_BYTEARRAYS = ("builtins.bytearray", "__builtin__.bytearray")
_BYTES = ("builtins.bytes", "__builtin__.bytes")
_LATIN_1 = ("latin1", "latin-1")


class PickleError(ValueError):
    """The pickle holds no xgboost model simsage can read; the message says why."""


class _Inert:
    """A stand-in for a class or function a pickle names: calling or instantiating it
    only records the arguments, and restoring state only records the state."""

    qualified_name = ""

    def __new__(cls, *args: Any, **kwargs: Any) -> _Inert:
        record = super().__new__(cls)
        record.args = args
        record.state = None
        return record

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<pickled {self.qualified_name}>"


class _InertUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes) -> None:
        # latin-1 reads Python 2 byte strings back as they were (the oldest pickles).
        super().__init__(io.BytesIO(data), encoding="latin1")
        self._classes: dict[str, type[_Inert]] = {}

    def find_class(self, module: str, name: str) -> type[_Inert]:
        qualified = f"{module}.{name}"
        found = self._classes.get(qualified)
        if found is None:
            found = type(name, (_Inert,), {"qualified_name": qualified, "__module__": __name__})
            self._classes[qualified] = found
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("the pickle refers to external objects")


def looks_like_pickle(raw: bytes) -> bool:
    """Protocol 2+ pickles start with PROTO; 0 and 1 with an opcode building a class
    reference, a tuple mark or an empty container."""
    return raw[:1] == b"\x80" or raw[:2] in (b"cx", b"cc", b"c_", b"(c", b"(d", b"(i", b"}q", b"]q")


def load(raw: bytes) -> Any:
    """The ``xgboost.Booster`` a pickle holds.

    Raises:
        PickleError: the bytes are not a pickle, or hold no xgboost model; or the model
            in it cannot be read.
    """
    try:
        root = _InertUnpickler(raw).load()
    except Exception as error:  # any malformed pickle: the loader reports what it saw
        raise PickleError(f"not a readable pickle ({type(error).__name__}: {error})") from None
    state = _booster_state(root)
    if state is None:
        raise PickleError(f"the pickle holds {_describe(root)}, not an xgboost Booster")
    handle = _handle_bytes(state.get("handle"))
    if handle is None:
        raise PickleError("the pickled Booster holds no model (its handle is empty)")
    try:
        return _booster_from_handle(handle, state)
    except LegacyModelError as error:
        raise PickleError(f"the pickled Booster's model cannot be read: {error}") from None


def _describe(value: Any) -> str:
    if isinstance(value, _Inert):
        return _class_of(value) or value.qualified_name
    return f"a {type(value).__name__}"


def _class_of(record: _Inert) -> str:
    """The class a record stands for (a ``copyreg._reconstructor`` call names it)."""
    if record.qualified_name in _RECONSTRUCTORS and record.args:
        target = record.args[0]
        if isinstance(target, type) and issubclass(target, _Inert):
            return target.qualified_name
    return record.qualified_name


def _booster_state(value: Any, depth: int = 0) -> dict | None:
    """The state dict of the Booster ``value`` is, or wraps (scikit-learn wrappers keep
    it as ``_Booster``)."""
    if not isinstance(value, _Inert) or depth > 3:
        return None
    name = _class_of(value)
    state = value.state
    if name == BOOSTER_CLASS:
        return state if isinstance(state, dict) else None
    if name.startswith(_WRAPPER_MODULES) and isinstance(state, dict):
        inner = state.get("_Booster")
        if _handle_bytes(inner) is not None:  # 0.90's wrappers pickled the raw model
            return {"handle": inner}
        return _booster_state(inner, depth + 1)
    return None


def _handle_bytes(handle: Any) -> bytes | None:
    """The model bytes of a pickled ``handle``: bytes/bytearray, a Python 2 string, or
    the call older protocols pickle a bytearray or bytes as (``bytearray(text,
    'latin-1')``, ``bytearray(_codecs.encode(text, 'latin1'))``)."""
    if isinstance(handle, (bytes, bytearray)):
        return bytes(handle)
    if isinstance(handle, str):
        return handle.encode("latin-1")
    if not isinstance(handle, _Inert):
        return None
    args = handle.args
    if handle.qualified_name in _BYTEARRAYS + _BYTES:
        if not args:
            return b""
        if len(args) == 1 or (len(args) == 2 and args[1] in _LATIN_1):
            return _handle_bytes(args[0])
    if handle.qualified_name == "_codecs.encode" and len(args) == 2 and args[1] in _LATIN_1:
        return args[0].encode("latin-1") if isinstance(args[0], str) else None
    return None


def _booster_from_handle(handle: bytes, state: dict) -> Any:
    import xgboost as xgb

    if not handle:
        raise PickleError("the pickled Booster holds no model (its handle is empty)")
    if handle[:1] == b"{":  # XGBoost 1.3+: a JSON or UBJSON snapshot
        booster = xgb.Booster()
        try:
            booster.__setstate__({"handle": bytearray(handle)})
        except xgb.core.XGBoostError as error:
            reason = str(error).split("Stack trace:", 1)[0].strip()
            raise PickleError(f"the pickled Booster's model cannot be read: {reason}") from None
        return booster
    config: dict[str, Any] = {}
    if handle.startswith(_SERIALISED_HEADER):
        handle, config = _split_serialised(handle)
    model = legacy.parse(handle)
    rounds = _int(state.get("best_iteration"))
    limit = _int(state.get("best_ntree_limit")) or 0
    parallel = _parallel_trees(config, limit, rounds)
    return legacy.to_booster(
        model,
        tree_limit=0 if model.booster == "gblinear" else limit,
        num_parallel_tree=parallel,
        boosted_rounds=(rounds + 1) if rounds is not None else None,
    )


def _split_serialised(handle: bytes) -> tuple[bytes, dict[str, Any]]:
    """XGBoost 1.0–1.2's serialisation: the binary model and its JSON configuration."""
    start = len(_SERIALISED_HEADER) + 8
    if len(handle) < start:
        raise LegacyModelError("the serialised model is cut short")
    (length,) = struct.unpack("<q", handle[len(_SERIALISED_HEADER) : start])
    if not 0 < length <= len(handle) - start:
        raise LegacyModelError(f"the serialised model claims {length} bytes")
    binary, rest = handle[start : start + length], handle[start + length :]
    try:
        config = json.loads(rest.decode("utf-8")) if rest.strip() else {}
    except (UnicodeDecodeError, ValueError):
        config = {}  # only a hint (num_parallel_tree); the model itself is complete
    return binary, config if isinstance(config, dict) else {}


def _parallel_trees(config: dict[str, Any], limit: int, rounds: int | None) -> int:
    """Trees per group and round: the 1.x configuration says; before, it follows from
    the booster's ``best_ntree_limit = (best_iteration + 1) * num_parallel_tree``."""
    try:
        booster = config["learner"]["gradient_booster"]
        booster = booster.get("gbtree", booster)
        value = int(booster["gbtree_train_param"]["num_parallel_tree"])
        if value >= 1:
            return value
    except (KeyError, TypeError, ValueError, AttributeError):
        pass
    if rounds is not None and rounds >= 0 and limit > 0 and limit % (rounds + 1) == 0:
        return max(limit // (rounds + 1), 1)
    return 1


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
