"""``Hyperparameter``: a typed, validated hyperparameter of a first-party estimator, as in
the official SDK v2 (``sagemaker.amazon.hyperparameter``).

Layer: SDK, pure Python.

Invariants:

- A descriptor on the estimator class (``k = Hyperparameter("k", gt(1), "…", int)``): the
  attribute may differ from the hyperparameter's name (``KMeans.max_iterations`` is
  ``local_lloyd_max_iter``); the value lives in the instance's ``_hyperparameters`` dict
  under the hyperparameter's name, the dict the estimator sends.
- Assignment converts with ``data_type`` then validates: a value that cannot be converted
  or fails a check raises ``ValueError`` at once (``kmeans.k = 1``), naming the
  hyperparameter and what it expects — before any request is sent. ``None`` unsets it
  (it is stored, and never sent).
- Reading an unset hyperparameter raises ``AttributeError`` (so ``hasattr`` says False).
- Text is read as a DescribeTrainingJob answer holds it: ``"false"`` is False for a
  boolean, ``'["msd"]'`` a list for a list.
- Sent values are strings: lists as JSON, everything else ``str()`` (``True`` → ``"True"``,
  as the official SDK sends them).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

Check = Callable[[Any], bool]


def gt(minimum: float) -> Check:
    """The value is greater than ``minimum``."""
    return lambda value: value > minimum


def ge(minimum: float) -> Check:
    """The value is at least ``minimum``."""
    return lambda value: value >= minimum


def lt(maximum: float) -> Check:
    """The value is less than ``maximum``."""
    return lambda value: value < maximum


def le(maximum: float) -> Check:
    """The value is at most ``maximum``."""
    return lambda value: value <= maximum


def isin(*expected: Any) -> Check:
    """The value is one of ``expected``."""
    return lambda value: value in expected


def istype(expected: type | tuple[type, ...]) -> Check:
    """The value is an instance of ``expected``."""
    return lambda value: isinstance(value, expected)


class Hyperparameter:
    """One hyperparameter: its name, checks, a message saying what it expects, and the type
    assigned values are converted to.

    Parameters
    ----------
    name:
        The hyperparameter's name in the training job (``HyperParameters`` key).
    validate:
        A check or several (each returns False for a bad value); none by default.
    validation_message:
        What a good value is ("An integer greater-than 1"), added to the error.
    data_type:
        The type a value is converted to on assignment (``int``, ``float``, ``str``,
        ``bool``, ``list``).
    """

    def __init__(
        self,
        name: str,
        validate: Check | Iterable[Check] = (),
        validation_message: str = "",
        data_type: type = str,
    ) -> None:
        self.name = name
        self.validation: list[Check] = [validate] if callable(validate) else list(validate)
        self.validation_message = validation_message
        self.data_type = data_type

    def _error(self, value: Any) -> ValueError:
        message = f"Invalid hyperparameter value {value!r} for {self.name}"
        if self.validation_message:
            message += f". Expecting: {self.validation_message}"
        return ValueError(message)

    def validate(self, value: Any) -> None:
        """Raise ValueError if ``value`` (already converted) fails a check; None passes."""
        if value is None:
            return
        for check in self.validation:
            if not check(value):
                raise self._error(value)

    def convert(self, value: Any) -> Any:
        """``value`` as ``data_type`` (None stays None).

        Raises:
            ValueError: the value cannot be converted (``int("many")``).
        """
        if value is None:
            return None
        try:
            # What a DescribeTrainingJob answer holds (attach): "False" is False, a JSON list
            # a list (bool("False") and list('["msd"]') would not be).
            if self.data_type is bool and isinstance(value, str):
                lowered = value.strip().lower()
                if lowered not in ("true", "false"):
                    raise ValueError(value)
                return lowered == "true"
            if self.data_type is list and isinstance(value, str):
                decoded = json.loads(value)
                if not isinstance(decoded, list):
                    raise ValueError(value)
                return decoded
            return self.data_type(value)
        except (TypeError, ValueError) as exc:
            raise self._error(value) from exc

    def __set_name__(self, owner: type, attribute: str) -> None:
        self.attribute = attribute

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        values = obj.__dict__.get("_hyperparameters") or {}
        if self.name not in values:
            raise AttributeError(f"hyperparameter {self.name} is not set")
        return values[self.name]

    def __set__(self, obj: Any, value: Any) -> None:
        value = self.convert(value)
        self.validate(value)
        obj.__dict__.setdefault("_hyperparameters", {})[self.name] = value

    def __delete__(self, obj: Any) -> None:
        del obj.__dict__["_hyperparameters"][self.name]

    @staticmethod
    def serialize_all(obj: Any) -> dict[str, str]:
        """Every hyperparameter of ``obj`` that is not None, as the strings CreateTrainingJob
        sends (lists JSON-encoded)."""
        out = {}
        for name, value in (obj.__dict__.get("_hyperparameters") or {}).items():
            if value is None:
                continue
            out[name] = json.dumps(value) if isinstance(value, list) else str(value)
        return out

    @staticmethod
    def of(cls: type) -> dict[str, Hyperparameter]:
        """The hyperparameters declared on ``cls`` and its bases, by hyperparameter name
        (a subclass's declaration wins: RandomCutForest narrows ``feature_dim``)."""
        found: dict[str, Hyperparameter] = {}
        for klass in reversed(cls.__mro__):
            for value in vars(klass).values():
                if isinstance(value, Hyperparameter):
                    found[value.name] = value
        return found
