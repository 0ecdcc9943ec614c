"""What the tests marked ``docker`` share (tests/integration, tests/functional and
tests/sdk_v3, which all have ``tests/`` on their path): an engine or a skip that says
why, and the tiny standard-library test image (``integration/docker_image/``) built from
a local base image. tests/conftest.py loads this module as a plugin, so the session
fixtures ``docker_client`` and ``custom_image`` (built once per run, removed at its end)
reach every test that names them.

Where no engine answers or no base image is present the tests skip with the reason;
with ``SIMSAGE_REQUIRE_DOCKER=1`` (CI, once ``.ci/docker-engine start`` prepared an
engine) they fail instead, so CI cannot pass them by skipping."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import pytest

IMAGE_DIR = Path(__file__).parent / "integration" / "docker_image"
BASES = (os.environ.get("SIMSAGE_TEST_BASE_IMAGE", "simsage-base:bookworm"), "python:3.11-slim")


def unavailable(reason: str):
    """Skip (or, with SIMSAGE_REQUIRE_DOCKER=1, fail) for ``reason``."""
    if os.environ.get("SIMSAGE_REQUIRE_DOCKER") == "1":
        pytest.fail(f"SIMSAGE_REQUIRE_DOCKER=1 but {reason}")
    pytest.skip(reason)


def engine_or_skip():
    """A docker client of the engine simsage would use (``DOCKER_HOST`` or the default
    socket), or a skip saying why there is none."""
    try:
        from simsage.runtime import docker_engine
    except ImportError as exc:  # pragma: no cover - simsage is installed in every test venv
        unavailable(f"simsage cannot be imported: {exc}")
    client, why = docker_engine.connect()
    if client is None:
        unavailable(
            f"no Docker engine answers ({why}); on Linux as root `.ci/docker-engine start` "
            "installs and starts one"
        )
    return client


def build_test_image(client) -> str:
    """Build the test image from the first base the engine has; returns its tag
    (``simsage-it-algo:<random>``; the caller removes it)."""
    from docker.errors import ImageNotFound

    for base in BASES:
        try:
            client.images.get(base)
            break
        except ImageNotFound:
            continue
    else:
        unavailable(
            f"none of the base images {', '.join(BASES)} is on the engine (no registry is "
            "needed: `.ci/docker-engine start` builds simsage-base:bookworm with debootstrap)"
        )
    tag = f"simsage-it-algo:{secrets.token_hex(4)}"
    client.images.build(path=str(IMAGE_DIR), tag=tag, buildargs={"BASE_IMAGE": base}, rm=True)
    return tag


def ecr_name(tag: str) -> str:
    """The image under an ECR-style name, as code written for SageMaker names it."""
    return f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{tag}"


def leftovers(client, name: str) -> list[str]:
    """The containers and networks labelled with job or endpoint ``name``. The listing is
    sparse (no inspection of each container): one removed between the list and an
    inspection would answer 404 while simsage is cleaning up."""
    label = {"label": f"simsage.job={name}"}
    containers = client.containers.list(all=True, filters=label, sparse=True)
    return [c.attrs["Names"][0].lstrip("/") for c in containers] + [
        n.name for n in client.networks.list(filters=label)
    ]


def leftovers_after(client, name: str, timeout: float = 60.0) -> list[str]:
    """:func:`leftovers` once they are gone, or what is left after ``timeout`` seconds
    (a deleted endpoint drains its containers in the background, as on AWS)."""
    deadline = time.monotonic() + timeout
    while (found := leftovers(client, name)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


@pytest.fixture(scope="session")
def docker_client():
    """The engine's client (or a skip saying why there is none), for the whole run."""
    client = engine_or_skip()
    yield client
    client.close()


@pytest.fixture(scope="session")
def custom_image(docker_client) -> str:
    """The test image's local tag, built once per run and removed at its end."""
    tag = build_test_image(docker_client)
    yield tag
    docker_client.images.remove(tag, force=True)
