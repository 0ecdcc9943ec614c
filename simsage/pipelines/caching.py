"""Step caching: which part of a step's request decides whether an earlier run is reused.

SageMaker Pipelines' rules (the developer guide's "Caching pipeline steps" and "Default
cache key attributes by pipeline step type"), which the scheduler applies with
:func:`cache_key`:

- Caching is opt-in per step (``CacheConfig.Enabled``) and exists for Processing,
  Training, Tuning and Transform steps (:data:`CACHE_KEY_ATTRIBUTES`; also ClarifyCheck,
  QualityCheck and EMR, which simsage does not run). ``ExpireAfter`` bounds how old a
  reused run may be and is ignored when caching is off.
- A run is reused when the step's key attributes, resolved, are the same as those of an
  earlier run of the *same step of the same pipeline* that succeeded in an execution that
  succeeded, within ``ExpireAfter``; of several, the most recent. Other members (job
  names, output paths, instance types, tags …) do not count: changing them does not
  rerun the step.
- The Processing script's content counts through ``ProcessingInputs`` (the SDK uploads
  ``code=`` under a hash of its content); a Transform step after a ModelStep never hits,
  since ``ModelName`` is new in every execution (as sagemaker-python-sdk#3392 reports of
  AWS).

Pure: the key is a hash of canonical JSON; finding the earlier run is the scheduler's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from simsage.pipelines import shapes

# Step type → the request members that make up its cache key; a (member, children)
# pair keeps only those children of a structure.
CACHE_KEY_ATTRIBUTES: dict[str, tuple[Any, ...]] = {
    "Processing": ("AppSpecification", "Environment", "ProcessingInputs"),
    "Training": (
        "AlgorithmSpecification",
        "CheckpointConfig",
        "DebugHookConfig",
        "DebugRuleConfigurations",
        "Environment",
        "HyperParameters",
        "InputDataConfig",
    ),
    "Tuning": (
        "HyperParameterTuningJobConfig",
        (
            "TrainingJobDefinition",
            (
                "AlgorithmSpecification",
                "HyperParameterRanges",
                "InputDataConfig",
                "StaticHyperParameters",
                "TuningObjective",
            ),
        ),
        "TrainingJobDefinitions",
    ),
    "Transform": ("DataProcessing", "Environment", "ModelName", "TransformInput"),
}


def cache_key(step_type: str, arguments: Mapping[str, Any]) -> str | None:
    """The cache key of a step's resolved Arguments (every expression already replaced:
    :func:`simsage.pipelines.expressions.resolve`), or None for a step type that is
    never cached. Values are first fitted to the Create request
    (:func:`simsage.pipelines.shapes.coerce_request`), so ``10`` and ``"10"`` in a
    string member give the same key; member order does not matter.
    """
    attributes = CACHE_KEY_ATTRIBUTES.get(step_type)
    if attributes is None:
        return None
    fitted = shapes.coerce_request(step_type, dict(arguments))
    selected = {"StepType": step_type, **_select(fitted, attributes)}
    text = json.dumps(selected, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _select(value: Mapping[str, Any], attributes: tuple[Any, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attribute in attributes:
        if isinstance(attribute, tuple):
            name, children = attribute
            if isinstance(value.get(name), Mapping):
                out[name] = _select(value[name], children)
        elif attribute in value:
            out[attribute] = value[attribute]
    return out
