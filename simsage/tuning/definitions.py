"""The training job definitions of a tuning request, and the CreateTrainingJob request
of each child built from them.

Layer: tuning (pure functions of the stored request; no store, no processes).

A request has one ``TrainingJobDefinition`` (its objective and ranges in
``HyperParameterTuningJobConfig``) or up to ten ``TrainingJobDefinitions`` (each with
its own ``TuningObjective`` and ``HyperParameterRanges``, and a ``DefinitionName``).
:func:`definitions` gives both the same shape, :class:`Definition`. A child's request is
the definition's training members, its HyperParameters being the
StaticHyperParameters, the tuned values (strings) and ``_tuning_objective_metric`` (the
objective MetricName, a plain string, as SageMaker adds it).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from typing import Any

OBJECTIVE_KEY = "_tuning_objective_metric"
# Members of a HyperParameterTrainingJobDefinition a child's CreateTrainingJob takes as is.
_TRAINING_MEMBERS = (
    "RoleArn",
    "InputDataConfig",
    "VpcConfig",
    "OutputDataConfig",
    "StoppingCondition",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "RetryStrategy",
    "Environment",
)
# simsage's own CreateTrainingJob members (not in botocore's model), added through
# simsage.transport.handler.call: the tuning job's ARN (DescribeTrainingJob answers it
# as TuningJobArn) and the CPU threads the child may use (OMP_NUM_THREADS).
TUNING_JOB_ARN = "TuningJobArn"
CPU_THREADS = "SimsageCpuThreads"


@dataclass(frozen=True)
class Definition:
    """One training job definition of a tuning request.

    Attributes:
        name: its DefinitionName (None for a lone TrainingJobDefinition).
        where: how messages name it (``TrainingJobDefinition``,
            ``TrainingJobDefinitions[1] (xgb)``).
        objective: ``{"Type", "MetricName"}``, or None when the request has none.
        ranges: its ParameterRanges (PascalCase, as given; empty when none).
        body: the HyperParameterTrainingJobDefinition as given.
    """

    name: str | None
    where: str
    objective: dict[str, str] | None
    ranges: dict[str, Any]
    body: dict[str, Any]

    @property
    def static(self) -> dict[str, str]:
        return dict(self.body.get("StaticHyperParameters") or {})


def definitions(spec: dict[str, Any]) -> list[Definition]:
    """The definitions of a CreateHyperParameterTuningJob request, in request order."""
    config = spec.get("HyperParameterTuningJobConfig") or {}
    single = spec.get("TrainingJobDefinition")
    if single is not None:
        return [
            Definition(
                name=single.get("DefinitionName"),
                where="TrainingJobDefinition",
                objective=single.get("TuningObjective")
                or config.get("HyperParameterTuningJobObjective"),
                ranges=single.get("HyperParameterRanges") or config.get("ParameterRanges") or {},
                body=single,
            )
        ]
    out = []
    for position, body in enumerate(spec.get("TrainingJobDefinitions") or []):
        name = body.get("DefinitionName")
        out.append(
            Definition(
                name=name,
                where=f"TrainingJobDefinitions[{position}]" + (f" ({name})" if name else ""),
                objective=body.get("TuningObjective")
                or config.get("HyperParameterTuningJobObjective"),
                ranges=body.get("HyperParameterRanges") or config.get("ParameterRanges") or {},
                body=body,
            )
        )
    return out


def resource_config(body: dict[str, Any]) -> dict[str, Any] | None:
    """The child's ResourceConfig: the definition's own, or the first instance
    configuration of HyperParameterTuningResourceConfig (simsage runs one instance type
    per definition: the first of a Prioritized list)."""
    if body.get("ResourceConfig"):
        return copy.deepcopy(body["ResourceConfig"])
    tuning = body.get("HyperParameterTuningResourceConfig")
    if not tuning:
        return None
    chosen = (tuning.get("InstanceConfigs") or [tuning])[0]
    out: dict[str, Any] = {
        "InstanceType": chosen.get("InstanceType"),
        "InstanceCount": chosen.get("InstanceCount", 1),
        "VolumeSizeInGB": chosen.get("VolumeSizeInGB", tuning.get("VolumeSizeInGB", 30)),
    }
    if tuning.get("VolumeKmsKeyId"):
        out["VolumeKmsKeyId"] = tuning["VolumeKmsKeyId"]
    return {k: v for k, v in out.items() if v is not None}


def child_request(
    definition: Definition,
    name: str,
    tuned: dict[str, str],
    tags: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """The CreateTrainingJob request (botocore's members only) of child ``name``."""
    body = definition.body
    algorithm = body["AlgorithmSpecification"]
    spec: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            k: copy.deepcopy(v)
            for k, v in algorithm.items()
            if k in ("TrainingImage", "AlgorithmName", "TrainingInputMode", "MetricDefinitions")
            and v is not None
        },
    }
    hyperparameters = definition.static
    hyperparameters.update(tuned)
    if definition.objective is not None:
        hyperparameters[OBJECTIVE_KEY] = definition.objective["MetricName"]
    spec["HyperParameters"] = hyperparameters
    for member in _TRAINING_MEMBERS:
        if body.get(member) is not None:
            spec[member] = copy.deepcopy(body[member])
    resources = resource_config(body)
    if resources is not None:
        spec["ResourceConfig"] = resources
    if tags:
        spec["Tags"] = copy.deepcopy(tags)
    return spec


def thread_share(parallel: int, cores: int | None = None) -> int:
    """The CPU threads each of ``parallel`` children running at once may use: the
    machine's cores divided among them (at least one), so parallel children do not
    oversubscribe the cores."""
    cores = cores or os.cpu_count() or 1
    return max(1, cores // max(1, parallel))
