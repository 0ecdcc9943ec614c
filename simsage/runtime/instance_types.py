"""What an ``ml.*`` instance type has: vCPUs and memory, for the resource limits a Docker
container gets when the user asks for them (``SIMSAGE_ENFORCE_INSTANCE_LIMITS=1``, see
:func:`simsage.runtime.docker_engine.instance_limits`).

Layer: runtime; no imports of simsage.

The figures are EC2's for the instance family behind each SageMaker type: a size's vCPUs
follow EC2's rule (``large`` 2, ``xlarge`` 4, ``<N>xlarge`` 4·N) and its memory is the
family's GiB per vCPU, with the sizes that break either rule listed in :data:`EXCEPTIONS`.
A type outside :data:`GIB_PER_VCPU` (or a ``metal`` size) is unknown: :func:`resources`
answers None and no limit is applied, rather than a guessed one.
"""

from __future__ import annotations

import re

GIB_PER_VCPU: dict[str, float] = {
    # general purpose
    "t2": 4.0, "t3": 4.0, "m4": 4.0, "m5": 4.0, "m5d": 4.0, "m6i": 4.0, "m7i": 4.0,
    # compute optimised
    "c4": 1.875, "c5": 2.0, "c5d": 2.0, "c6i": 2.0, "c7i": 2.0,
    # memory optimised
    "r5": 8.0, "r5d": 8.0, "r6i": 8.0,
    # accelerated (the accelerators themselves are not simulated)
    "g4dn": 4.0, "g5": 4.0, "p3": 7.625, "inf1": 2.0,
}  # fmt: skip
"""GiB of memory per vCPU of each instance family."""

EXCEPTIONS: dict[str, tuple[int, float]] = {
    "t2.medium": (2, 4.0),
    "t3.medium": (2, 4.0),
    "c4.8xlarge": (36, 60.0),
    "inf1.6xlarge": (24, 48.0),
}
"""``family.size`` → (vCPUs, GiB) where the family's rule does not give EC2's figures."""

_SIZE = re.compile(r"(?P<n>\d*)xlarge")


def resources(instance_type: str) -> tuple[int, int] | None:
    """``(vcpus, memory in MiB)`` of ``instance_type`` (``ml.m5.xlarge`` → ``(4, 16384)``),
    or None when simsage does not know the type."""
    parts = instance_type.split(".")
    if len(parts) != 3 or parts[0] != "ml" or parts[1] not in GIB_PER_VCPU:
        return None
    family, size = parts[1], parts[2]
    if f"{family}.{size}" in EXCEPTIONS:
        vcpus, gib = EXCEPTIONS[f"{family}.{size}"]
        return vcpus, int(gib * 1024)
    if size == "large":
        vcpus = 2
    elif match := _SIZE.fullmatch(size):
        vcpus = 4 * int(match["n"] or 1)
    else:
        return None
    return vcpus, int(vcpus * GIB_PER_VCPU[family] * 1024)
