"""Which algorithm an image URI names, and what command a framework image runs.

simsage recognises the real ECR URIs of the images it emulates, in any region and
account and with any tag: ``<account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repo>:<tag>``.
Anything else is a custom image, which only a Docker engine can run.

The first-party algorithm repositories (``kmeans``, ``linear-learner``, ``randomcutforest``,
``knn``, ``pca``: one image, tag ``1``, for training and inference) are recognised as
``Image.first_party``; :data:`EMULATED_FIRST_PARTY` says which of them simsage runs, and
the others are refused with a clear reason rather than sent to a Docker engine.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass

from simsage.algorithms.first_party import ALGORITHMS

_ECR = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repo>[a-z0-9._/-]+)(?::(?P<tag>[A-Za-z0-9._-]+))?(?:@sha256:[0-9a-f]{64})?$"
)

XGBOOST_REPOS = ("sagemaker-xgboost", "xgboost")
# The legacy repository: XGBoost version "1" (alias "latest"), the 0.72-based algorithm.
LEGACY_XGBOOST_REPO = "xgboost"
SKLEARN_REPOS = ("sagemaker-scikit-learn",)
XGBOOST_ALGORITHM = "simsage.algorithms.xgboost_train"
LEGACY_XGBOOST_ALGORITHM = "simsage.algorithms.xgboost_legacy"
BUILTIN_XGBOOST_ALGORITHMS = (XGBOOST_ALGORITHM, LEGACY_XGBOOST_ALGORITHM)
# The first-party (1P) algorithm repositories (CONTRACTS part 2 §3) → simsage's module;
# None: recognised, not yet emulated. The catalog is simsage.algorithms.first_party.
FIRST_PARTY_ALGORITHMS: dict[str, str | None] = {
    repo: (algorithm.train_module if algorithm.emulated else None)
    for repo, algorithm in ALGORITHMS.items()
}
EMULATED_FIRST_PARTY = tuple(r for r, m in FIRST_PARTY_ALGORITHMS.items() if m is not None)


@dataclass(frozen=True)
class Image:
    """A parsed image URI. ``framework`` is ``xgboost``, ``sklearn`` or None (custom or
    first-party); ``first_party`` is the 1P algorithm's repository (``kmeans`` …) or None."""

    uri: str
    repo: str | None
    tag: str | None
    framework: str | None
    first_party: str | None = None


def parse_image(uri: str) -> Image:
    match = _ECR.match(uri.strip())
    if match is None:
        return Image(uri, None, None, None)
    repo, tag = match["repo"], match["tag"] or "latest"
    framework = None
    if repo in XGBOOST_REPOS:
        framework = "xgboost"
    elif repo in SKLEARN_REPOS:
        framework = "sklearn"
    elif repo in FIRST_PARTY_ALGORITHMS:
        return Image(uri, repo, tag, None, repo)
    return Image(uri, repo, tag, framework)


def not_emulated_reason(image: Image) -> str | None:
    """Why simsage cannot run this first-party image (None when it can, or it is not 1P)."""
    if image.first_party is None or FIRST_PARTY_ALGORITHMS[image.first_party] is not None:
        return None
    return (
        f"The built-in algorithm image {image.uri} ({image.first_party}) is not yet emulated "
        f"by simsage; the first-party algorithms it runs are: {', '.join(EMULATED_FIRST_PARTY)}."
    )


def algorithm_module(image: Image, hyperparameters: dict[str, str]) -> str | None:
    """The module that plays the image's ``train`` entry point, or None for a custom image.

    The XGBoost image runs its built-in algorithm unless the job names a user script
    (``sagemaker_program``), in which case it runs in script mode as the scikit-learn
    image always does. The legacy ``xgboost`` repository (0.72, which had no script
    mode) runs the built-in algorithm with its own parameter handling.
    """
    if image.first_party is not None:
        return FIRST_PARTY_ALGORITHMS[image.first_party]
    if image.framework is None:
        return None
    if image.repo == LEGACY_XGBOOST_REPO:
        return LEGACY_XGBOOST_ALGORITHM
    if "sagemaker_program" in hyperparameters:
        return "simsage.algorithms.script_mode"
    if image.framework == "xgboost":
        return XGBOOST_ALGORITHM
    return "simsage.algorithms.script_mode"


def runs_entrypoint(algorithm: dict) -> bool:
    """Whether AlgorithmSpecification replaces the image's ``train`` command:
    ``ContainerEntrypoint`` replaces the image's ENTRYPOINT (and with it ``train``), and
    ``ContainerArguments`` other than ``["train", ...]`` replace its CMD."""
    if algorithm.get("ContainerEntrypoint"):
        return True
    arguments = algorithm.get("ContainerArguments") or []
    return bool(arguments) and arguments[0] != "train"


def container_command(algorithm: dict, train: list[str]) -> list[str]:
    """The command a framework image runs for AlgorithmSpecification, with Docker's
    semantics: ``ContainerEntrypoint`` + ``ContainerArguments``; else the arguments,
    which the framework images' entrypoint script runs as a command (``train`` being
    ``train``, the image's own program); else ``train``.

    Args:
        algorithm: the request's AlgorithmSpecification.
        train: the command that plays the image's ``train`` (simsage's module).
    """
    entrypoint = list(algorithm.get("ContainerEntrypoint") or [])
    arguments = list(algorithm.get("ContainerArguments") or [])
    if entrypoint:
        return entrypoint + arguments
    if arguments and arguments[0] != "train":
        return arguments
    return list(train)


def builtin_metric_definitions(image_uri: str, spec: dict) -> list[dict[str, str]]:
    """The metric definitions a built-in algorithm brings along (empty for script mode,
    entrypoint commands and custom images, whose jobs give their own)."""
    if runs_entrypoint(spec.get("AlgorithmSpecification") or {}):
        return []
    module = algorithm_module(parse_image(image_uri), spec.get("HyperParameters") or {})
    if module in BUILTIN_XGBOOST_ALGORITHMS:
        from simsage.algorithms.xgboost_metrics import METRIC_DEFINITIONS

        return [dict(d) for d in METRIC_DEFINITIONS]
    image = parse_image(image_uri)
    if image.first_party is not None and module is not None:
        metrics = importlib.import_module(ALGORITHMS[image.first_party].metrics_module)
        return [dict(d) for d in metrics.METRIC_DEFINITIONS]
    return []
