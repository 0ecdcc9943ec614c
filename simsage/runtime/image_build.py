"""``simsage images build``: simsage's own SageMaker images (``containers/``), built
through a Docker engine.

Layer: runtime (the command line calls it; it imports the first-party catalogue and the
Docker connection only). Each image is one of the Dockerfiles in ``containers/``:

- ``xgboost`` (``containers/xgboost``): the built-in XGBoost algorithm, and XGBoost
  script mode when a job names ``sagemaker_program``;
- ``sklearn`` (``containers/sklearn``): the scikit-learn framework image, script mode;
- ``kmeans``, ``linear-learner``, ``randomcutforest``, ``knn``, ``pca``
  (``containers/first-party`` with ``--build-arg ALGORITHM=<name>``).

Every image is tagged ``simsage-<name>:<tag>``, the tag being simsage's version by
default (``0.1.0``), so an image says which simsage it runs and a newer checkout does
not silently replace what an older one built; ``--tag latest`` is a plain choice too.
``--prefix`` replaces ``simsage-`` (e.g. with an ECR repository path, or a test's own).

The build context is made in a temporary folder, not the repository: ``pyproject.toml``,
``README.md`` and ``simsage/`` (without ``__pycache__``) from the source tree this
simsage is imported from, the image's ``containers/<folder>/``, and, with
``--ca-bundle``, that file as ``containers/build-ca.pem`` (the Dockerfiles add it to
pip's trust for the install when present, and build without it). A few MB go to the
engine instead of a checkout with its virtual environments and data. A simsage
installed from a wheel has no ``containers/`` or ``pyproject.toml``: building needs a
checkout (an editable install is one).

The docker SDK (``simsage[docker]``) is imported only by :func:`build` and
:func:`list_images`, through :func:`simsage.runtime.docker_engine.connect`. Its
low-level ``api.build`` streams the engine's output, which is passed on line by line;
it drives the engine's classic builder (the SDK has no BuildKit), which is why the
optional CA file is found by a ``COPY`` glob rather than a secret mount.
"""

from __future__ import annotations

import re
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import simsage
from simsage.algorithms.first_party import ALGORITHMS
from simsage.runtime import docker_engine

DEFAULT_BASE_IMAGE = "python:3.11-slim"
DEFAULT_TAG = simsage.__version__
DEFAULT_PREFIX = "simsage-"
IMAGE_LABEL = "simsage.image"  # each Dockerfile's LABEL: the image's name
VERSION_LABEL = "simsage.version"  # added at build time: the simsage it was built from
CA_FILE = "containers/build-ca.pem"  # where --ca-bundle lands in the context
TAIL_LINES = 15  # output lines shown with a failed build
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")  # Docker's rule for a tag
# A repository name's start: an optional registry host (with a port), then lower-case
# path characters, as Docker and ECR allow (the engine checks the finer rules).
_PREFIX = re.compile(r"(?:[a-z0-9][a-z0-9.-]*(?::[0-9]+)?/)?(?:[a-z0-9][a-z0-9._/-]*)?")
_RUN_FAILED = re.compile(r"The command '.*' returned a non-zero code: (\d+)", re.DOTALL)
# The builder's own lines, left out of a failure's last lines (they say nothing of why).
_BOOKKEEPING = ("Removing intermediate container", " ---> ")
# The builder colours a step's stderr red (ANSI SGR codes around it): dropped from lines.
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")


class BuildError(Exception):
    """An image cannot be built; the message is one line (``details`` may follow it)."""

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.details = details or []


@dataclass(frozen=True)
class Recipe:
    """One image: its name, its ``containers/`` folder and its build arguments."""

    name: str
    folder: str
    args: dict[str, str] = field(default_factory=dict)

    def tag(self, tag: str = DEFAULT_TAG, prefix: str = DEFAULT_PREFIX) -> str:
        return f"{prefix}{self.name}:{tag}"


RECIPES: dict[str, Recipe] = {
    "xgboost": Recipe("xgboost", "xgboost"),
    "sklearn": Recipe("sklearn", "sklearn"),
    **{
        name: Recipe(name, "first-party", {"ALGORITHM": name})
        for name, algorithm in ALGORITHMS.items()
        if algorithm.emulated
    },
}


@dataclass(frozen=True)
class BuildPlan:
    """What one ``docker build`` is given."""

    recipe: Recipe
    context: Path
    dockerfile: str  # relative to the context, as the engine wants it
    tag: str
    buildargs: dict[str, str]
    labels: dict[str, str]
    platform: str | None = None  # os/arch, e.g. linux/amd64; None: the engine's own


def source_root(package: Path | None = None) -> Path:
    """The source tree simsage is imported from: the folder holding the ``simsage``
    package, ``pyproject.toml``, ``README.md`` and ``containers/``.

    Raises:
        BuildError: simsage is installed without its sources (a wheel).
    """
    package = package or Path(simsage.__file__).resolve().parent
    root = package.parent
    missing = [n for n in ("pyproject.toml", "README.md", "containers") if not (root / n).exists()]
    if missing:
        raise BuildError(
            f"simsage images build needs simsage's source tree, and {root} has no "
            f"{', '.join(missing)}: this simsage is installed without it. Build from a "
            "checkout (git clone, then pip install -e .)."
        )
    return root


def recipes(names: Iterable[str]) -> list[Recipe]:
    """The recipes for ``names`` (all of them, in :data:`RECIPES` order, when empty)."""
    wanted = list(dict.fromkeys(names)) or list(RECIPES)
    unknown = [n for n in wanted if n not in RECIPES]
    if unknown:
        raise BuildError(
            f"no simsage image named {', '.join(unknown)}; the images are {', '.join(RECIPES)}"
        )
    return [RECIPES[n] for n in wanted]


def check_tag(tag: str) -> str:
    if not _TAG.fullmatch(tag):
        raise BuildError(
            f"{tag!r} is not a Docker tag (letters, digits, _ . -, up to 128, not starting "
            "with . or -)"
        )
    return tag


def check_prefix(prefix: str) -> str:
    if not _PREFIX.fullmatch(prefix):
        raise BuildError(
            f"{prefix!r} cannot begin a Docker image name (lower-case letters, digits, "
            "separators . _ - and /, optionally a registry host first)"
        )
    return prefix


def check_ca_bundle(path: Path) -> bytes:
    """The CA bundle's bytes, if it is a PEM file with at least one certificate."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BuildError(f"cannot read the CA bundle {path}: {exc.strerror or exc}") from None
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise BuildError(f"the CA bundle {path} holds no PEM certificate (BEGIN CERTIFICATE)")
    return data


def assemble_context(
    recipe: Recipe,
    folder: Path,
    base_image: str = DEFAULT_BASE_IMAGE,
    tag: str = DEFAULT_TAG,
    ca_bundle: bytes | None = None,
    root: Path | None = None,
    prefix: str = DEFAULT_PREFIX,
    platform: str | None = None,
) -> BuildPlan:
    """Write the build context of ``recipe`` into the empty ``folder``.

    The layout mirrors the repository's (``containers/<folder>/Dockerfile`` …), so the
    Dockerfiles build the same from here and from a checkout's root.
    """
    root = root or source_root()
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(root / name, folder / name)
    shutil.copytree(root / "simsage", folder / "simsage", ignore=_IGNORED)
    image_folder = Path("containers") / recipe.folder
    shutil.copytree(root / image_folder, folder / image_folder, ignore=_IGNORED)
    if ca_bundle:
        (folder / CA_FILE).write_bytes(ca_bundle)
    return BuildPlan(
        recipe=recipe,
        context=folder,
        dockerfile=f"{image_folder.as_posix()}/Dockerfile",
        tag=recipe.tag(tag, prefix),
        buildargs={"BASE_IMAGE": base_image, **recipe.args},
        labels={VERSION_LABEL: simsage.__version__},
        platform=platform,
    )


def context_files(folder: Path) -> list[str]:
    """Every file of a context, relative and sorted (what the engine receives)."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


# -- the engine ---------------------------------------------------------------------------


def connect() -> Any:
    """A docker client, or BuildError saying how to get an engine."""
    client, why = docker_engine.connect()
    if client is None:
        raise BuildError(
            f"no Docker engine answers ({why}). Start one (Docker Desktop, or "
            "`sudo systemctl start docker` on Linux) or point DOCKER_HOST at one, then retry."
        )
    return client


def ensure_base_image(
    client: Any, base_image: str, say: Callable[[str], None], platform: str | None = None
) -> None:
    """Make sure the engine has ``base_image``, pulling it if it can; BuildError if not
    (asked before building, since the builder's own failure to pull is an opaque line)."""
    import docker.errors

    try:
        client.images.get(base_image)
        return
    except docker.errors.ImageNotFound:
        pass
    except docker.errors.APIError as exc:
        raise BuildError(f"the Docker engine failed to look up {base_image}: {exc}") from None
    say(f"pulling the base image {base_image}")
    try:
        client.images.pull(base_image, **({"platform": platform} if platform else {}))
    except docker.errors.APIError as exc:
        reason = " ".join(str(getattr(exc, "explanation", None) or exc).split())
        raise BuildError(
            f"the base image {base_image} is not on the Docker engine and could not be pulled "
            f"({reason}); pass --base-image with one the engine has (docker images)."
        ) from None


def _lines(chunks: Iterable[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """``("line", text)`` for each output line of the engine's build stream (its
    ``stream`` pieces are not whole lines, and a step's stderr comes wrapped in colour
    codes), ``("error", message)`` for its error."""
    pending = ""
    for chunk in chunks:
        if "error" in chunk:
            if pending:
                yield "line", pending
                pending = ""
            detail = chunk.get("errorDetail") or {}
            yield "error", str(detail.get("message") or chunk["error"])
            continue
        text = chunk.get("stream")
        if text is None:
            status = chunk.get("status")  # a pull the builder does itself
            if status:
                yield "line", " ".join(str(v) for v in (status, chunk.get("progress")) if v)
            continue
        pending += _COLOUR.sub("", text)
        *whole, pending = pending.split("\n")
        for line in whole:
            yield "line", line.rstrip("\r")
    if pending:
        yield "line", pending


def _failure(plan: BuildPlan, error: str, step: str) -> str:
    failed = _RUN_FAILED.search(error)
    what = f"a RUN step exited with {failed.group(1)}" if failed else " ".join(error.split())
    where = f" at {step}" if step else ""
    return f"building {plan.tag} failed{where}: {what}"


def build_image(client: Any, plan: BuildPlan, say: Callable[[str], None]) -> str:
    """Run one ``docker build``, passing each output line to ``say``; the image's id.

    Raises:
        BuildError: the build failed (one line; ``details`` holds the output's last
            lines, where pip says what went wrong).
    """
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    step = ""
    try:
        stream = client.api.build(
            path=str(plan.context),
            dockerfile=plan.dockerfile,
            tag=plan.tag,
            buildargs=plan.buildargs,
            labels=plan.labels,
            rm=True,
            forcerm=True,  # no stopped container left behind by a failed step
            pull=False,  # the base image was checked (and pulled if need be) already
            decode=True,
            **({"platform": plan.platform} if plan.platform else {}),
        )
        for kind, text in _lines(stream):
            if kind == "error":
                raise BuildError(_failure(plan, text, step), list(tail))
            say(text)
            if text.strip() and not text.startswith(_BOOKKEEPING):
                tail.append(text)
            if text.startswith("Step "):
                step = text.split(" :", 1)[0].removeprefix("Step ").strip()
                step = f"step {step}"
    except BuildError:
        raise
    except Exception as exc:  # the engine went away, a timeout …: one line, not a traceback
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        raise BuildError(f"building {plan.tag} failed: {reason}", list(tail)) from None
    try:
        return client.images.get(plan.tag).id
    except Exception as exc:
        raise BuildError(f"building {plan.tag} left no image: {exc}", list(tail)) from None


@dataclass(frozen=True)
class Built:
    tag: str
    image_id: str
    seconds: float


def build(
    names: Iterable[str] = (),
    base_image: str = DEFAULT_BASE_IMAGE,
    ca_bundle: Path | None = None,
    tag: str = DEFAULT_TAG,
    say: Callable[[str], None] = print,
    client: Any = None,
    root: Path | None = None,
    prefix: str = DEFAULT_PREFIX,
    platform: str | None = None,
) -> list[Built]:
    """Build the images named (all by default) in order; each from its own temporary
    context. The engine's layer cache makes the second and later images cheap: the
    Dockerfiles share their first steps (the pip install) byte for byte."""
    import tempfile

    chosen = recipes(names)
    check_tag(tag)
    check_prefix(prefix)
    ca = check_ca_bundle(ca_bundle) if ca_bundle is not None else None
    root = root or source_root()
    own_client = client is None
    client = client or connect()
    built = []
    try:
        ensure_base_image(client, base_image, say, platform)
        for recipe in chosen:
            started = time.monotonic()
            with tempfile.TemporaryDirectory(prefix="simsage-image-") as scratch:
                plan = assemble_context(
                    recipe, Path(scratch), base_image, tag, ca, root, prefix, platform
                )
                say(f"building {plan.tag} from {base_image} ({plan.dockerfile})")
                image_id = build_image(client, plan, say)
            built.append(Built(plan.tag, image_id, time.monotonic() - started))
    finally:
        if own_client:
            client.close()
    return built


@dataclass(frozen=True)
class ImageRow:
    tags: list[str]
    image_id: str
    name: str
    version: str
    created: str
    size: int


def list_images(client: Any = None) -> list[ImageRow]:
    """simsage's images on the engine (those with the ``simsage.image`` label)."""
    own_client = client is None
    client = client or connect()
    try:
        rows = []
        for image in client.images.list(filters={"label": IMAGE_LABEL}):
            labels = image.labels or {}
            attrs = image.attrs or {}
            rows.append(
                ImageRow(
                    tags=sorted(image.tags),
                    image_id=image.short_id.removeprefix("sha256:"),
                    name=labels.get(IMAGE_LABEL, ""),
                    version=labels.get(VERSION_LABEL, ""),
                    created=str(attrs.get("Created", ""))[:19].replace("T", " "),
                    size=int(attrs.get("Size") or 0),
                )
            )
        return sorted(rows, key=lambda r: (r.name, r.tags))
    finally:
        if own_client:
            client.close()
