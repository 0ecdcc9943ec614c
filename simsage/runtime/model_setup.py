"""A model's files for its inference servers: how a Model is served, and its ``/opt/ml``.

Layer: runtime, shared by endpoints and batch transform. A model's image decides how
it is served (:func:`serving_plan`): the XGBoost image serves its built-in algorithm, or
the user's script when ``SAGEMAKER_PROGRAM`` is set; the scikit-learn image always runs
the user's script. :func:`prepare_model` lays out an instance folder the way the
container sees ``/opt/ml``: ``model.tar.gz`` extracted into ``model/`` through
tarfile's ``data`` filter (nothing may leave the folder or link out of it) and an S3
``SAGEMAKER_SUBMIT_DIRECTORY`` extracted into ``code/``; together they must fit on the
instance's ML storage volume (``VolumeSizeInGB``, 30 GB by default), checked from the
archives' headers before anything is written. The server processes themselves are
:class:`simsage.runtime.servers.ServerProcess`.

Any other image is a custom one: its plan is ``container`` and its instances are
containers on a Docker engine (:mod:`simsage.runtime.docker_serving`), which see the same
``model/`` and ``code/`` folders mounted under ``/opt/ml``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from simsage.runtime.images import not_emulated_reason, parse_image
from simsage.runtime.servers import SUBMIT_DIR_ENV, ContainerError
from simsage.runtime.staging import (
    DEFAULT_VOLUME_GB,
    GB,
    ArchiveTooLarge,
    DataError,
    S3Object,
    download,
    extract_archive,
    format_size,
    split_uri,
)
from simsage.s3.backend import S3Backend

PROGRAM_ENV = "SAGEMAKER_PROGRAM"


@dataclass(frozen=True)
class ServingPlan:
    """How a model's container serves: built-in ``xgboost``, a ``first-party`` algorithm
    (``framework`` is its repository, e.g. ``kmeans``), user ``script`` mode, or a custom
    image run as a ``container`` (``framework`` is the image)."""

    mode: str
    framework: str
    environment: dict[str, str] = field(default_factory=dict)


def serving_plan(image_uri: str, environment: dict[str, str] | None) -> ServingPlan:
    """The serving mode of a model with this image and container environment.

    Raises:
        ContainerError: a first-party image simsage does not emulate.
    """
    image = parse_image(image_uri)
    env = dict(environment or {})
    if image.first_party is not None:
        reason = not_emulated_reason(image)
        if reason is not None:
            raise ContainerError(reason)
        return ServingPlan("first-party", image.first_party, env)
    if image.framework is None:  # a custom image: a container on the Docker engine
        return ServingPlan("container", image_uri, env)
    if image.framework == "xgboost" and not env.get(PROGRAM_ENV):
        return ServingPlan("xgboost", "xgboost", env)
    return ServingPlan("script", image.framework, env)


def prepare_model(
    s3: S3Backend,
    model_data_url: str | None,
    plan: ServingPlan,
    folder: Path,
    volume_gb: int | None = None,
    remedy: str = "give the production variant a larger VolumeSizeInGB",
) -> dict[str, str]:
    """Lay out ``folder/model`` (and ``folder/code`` for an S3 submit directory).

    Both archives share the instance's ML storage volume: together they may expand to
    at most ``volume_gb`` GB, checked from the archives' headers before anything is
    written (see :func:`simsage.runtime.staging.extract_archive`).

    Args:
        volume_gb: the instance's volume (default 30 GB, SageMaker's default).
        remedy: what the user can do when the model does not fit, for the message.

    Returns:
        The container environment, with ``SAGEMAKER_SUBMIT_DIRECTORY`` pointing at the
        local ``code`` folder when it named an S3 archive.

    Raises:
        ContainerError: the artifact is missing, is not a readable tar archive, or
            does not fit on the volume.
    """
    model_dir = folder / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    env = dict(plan.environment)
    budget = (volume_gb or DEFAULT_VOLUME_GB) * GB
    volume = f"the instance's {volume_gb or DEFAULT_VOLUME_GB} GB ML storage volume"
    used = 0
    if model_data_url:
        used = _fetch_and_extract(
            s3,
            model_data_url,
            folder / "model.tar.gz",
            model_dir,
            budget,
            volume,
            "model data archive",
            remedy,
        )
    submit = env.get(SUBMIT_DIR_ENV, "")
    if submit.startswith("s3://"):
        code_dir = folder / "code"
        _fetch_and_extract(
            s3,
            submit,
            folder / "sourcedir.tar.gz",
            code_dir,
            budget - used,
            f"what the model leaves of {volume}",
            f"{SUBMIT_DIR_ENV} archive",
            remedy,
        )
        env[SUBMIT_DIR_ENV] = str(code_dir)
    return env


def _fetch_and_extract(
    s3: S3Backend,
    uri: str,
    archive: Path,
    target: Path,
    budget: int,
    volume: str,
    what: str,
    remedy: str,
) -> int:
    """Download ``uri`` and extract it into ``target``; returns the expanded bytes."""
    bucket, key = split_uri(uri)
    try:
        download(s3, S3Object(bucket, key, archive.name), archive)
        return extract_archive(archive, target, budget, volume, source=f'"{uri}"')
    except ArchiveTooLarge as exc:
        if exc.limit is None:
            detail = f"it has more than {exc.limit_name} (files, folders and links)"
        else:
            detail = (
                f"it expands to at least {format_size(exc.expanded)}, more than "
                f"{exc.limit_name} holds ({format_size(exc.limit)})"
            )
        raise ContainerError(
            f'Failed to extract {what} from URL "{uri}". The {what} is too large: {detail}. '
            f"Please reduce the size of the {what} or {remedy}."
        ) from None
    except DataError as exc:
        reason = str(exc).removeprefix("ClientError: ")
        raise ContainerError(f"Failed to extract {what}: {reason}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            archive.unlink()
