"""Model containers: turning a Model into running inference servers.

Layer: data plane, shared by endpoints and batch transform. A model's image decides how
it is served (:func:`serving_plan`): the XGBoost image serves its built-in algorithm, or
the user's script when ``SAGEMAKER_PROGRAM`` is set; the scikit-learn image always runs
the user's script. :func:`prepare_model` lays out an instance folder the way the
container sees ``/opt/ml``: ``model.tar.gz`` extracted into ``model/`` through
tarfile's ``data`` filter (nothing may leave the folder or link out of it) and an S3
``SAGEMAKER_SUBMIT_DIRECTORY`` extracted into ``code/``; together they must fit on the
instance's ML storage volume (``VolumeSizeInGB``, 30 GB by default), checked from the
archives' headers before anything is written. :class:`ServerProcess` starts
``python -m simsage.serving.server`` on a free 127.0.0.1 port through the runtime's
container launcher (the instance folder is the container's ``/opt/ml``: really so in a
private mount namespace, see :mod:`simsage.runtime.containers`) and follows its output.

Custom images would need a Docker engine; simsage refuses them with a reason instead
of pretending to serve them.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from simsage.runtime import containers
from simsage.runtime.images import parse_image
from simsage.runtime.paths import OPT_ML
from simsage.runtime.python import child_environment, module_command
from simsage.s3.backend import S3Backend
from simsage.training.data import (
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

PROGRAM_ENV = "SAGEMAKER_PROGRAM"
SUBMIT_DIR_ENV = "SAGEMAKER_SUBMIT_DIRECTORY"
SERVER_PREFIX = "simsage-serving:"
_LISTENING = f"{SERVER_PREFIX} listening on 127.0.0.1:"
_LOAD_FAILED = f"{SERVER_PREFIX} model load failed:"
DEFAULT_STARTUP_TIMEOUT = 600.0  # SAGEMAKER_STARTUP_TIMEOUT's default
PING_TIMEOUT = 2.0  # the ping timeout SageMaker gives a container


class ContainerError(Exception):
    """A model that cannot be served; the message is the FailureReason."""


class StartCancelled(Exception):
    """Waiting for a server was given up because its job or endpoint is going away."""


@dataclass(frozen=True)
class ServingPlan:
    """How a model's container serves: built-in ``xgboost`` or user ``script`` mode."""

    mode: str
    framework: str
    environment: dict[str, str] = field(default_factory=dict)


def serving_plan(image_uri: str, environment: dict[str, str] | None) -> ServingPlan:
    """The serving mode of a model with this image and container environment.

    Raises:
        ContainerError: a custom image (it needs a Docker engine simsage does not use
            for serving).
    """
    image = parse_image(image_uri)
    env = dict(environment or {})
    if image.framework is None:
        raise ContainerError(
            f"The image {image_uri} is not one simsage serves: simsage runs the built-in "
            "XGBoost and the scikit-learn/XGBoost framework images (their ECR URIs, any "
            "region and tag). Serve a model trained with one of those."
        )
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
    written (see :func:`simsage.training.data.extract_archive`).

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


class ServerProcess:
    """One inference server process on a free 127.0.0.1 port.

    Parameters
    ----------
    plan:
        The serving mode (see :func:`serving_plan`).
    model_dir:
        The extracted model folder (the container's ``/opt/ml/model``).
    environment:
        The container environment, added to simsage's own.
    on_line:
        Called with every line the server writes (stdout and stderr), from a reader
        thread; the control plane ships them to the log store.
    exit_with_parent:
        The server stops by itself when this process goes away.
    """

    def __init__(
        self,
        plan: ServingPlan,
        model_dir: Path,
        environment: dict[str, str],
        on_line: Callable[[str], None] | None = None,
        exit_with_parent: bool = True,
    ) -> None:
        env = dict(os.environ)
        env.pop("SIMSAGE_CHECK_OUTPUT", None)
        env.update(environment)
        env = child_environment(env)
        env["PYTHONUNBUFFERED"] = "1"
        # The instance's folder (model/, code/) is the container's /opt/ml.
        root = Path(model_dir).parent
        try:
            self.launcher = containers.local()
        except containers.LaunchError as exc:
            raise ContainerError(f"The primary container could not start: {exc}") from None
        submit = env.get(SUBMIT_DIR_ENV, "")
        if submit.startswith(str(root) + os.sep):
            env[SUBMIT_DIR_ENV] = self.launcher.container_path(root, submit)
        argv = [
            *module_command("simsage.serving.server"),
            "--model-dir",
            self.launcher.container_path(root, model_dir),
            "--port",
            "0",
            "--mode",
            plan.mode,
            "--framework",
            plan.framework,
        ]
        if exit_with_parent:
            argv.append("--exit-with-parent")
        self.port: int | None = None
        self.failure: str | None = None
        self._last_lines: list[str] = []
        self._on_line = on_line
        self._listening = threading.Event()
        if on_line is not None:  # the instance's log says how its /opt/ml is provided
            with contextlib.suppress(Exception):
                on_line(self.launcher.describe(root))
        container = containers.Container(
            "model", root, argv, env, workdir=str(PurePosixPath(str(OPT_ML)) / "model")
        )
        try:
            self.process = self.launcher.start(
                container,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                close_fds=True,
            )
        except containers.LaunchError as exc:
            raise ContainerError(f"The primary container could not start: {exc}") from None
        self.pid = self.process.pid
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line.startswith(_LISTENING) and self.port is None:
                with contextlib.suppress(ValueError):
                    self.port = int(line[len(_LISTENING) :].split()[0])
                self._listening.set()
            elif line.startswith(_LOAD_FAILED):
                self.failure = line[len(_LOAD_FAILED) :].strip()
            self._last_lines = (self._last_lines + [line])[-20:]
            if self._on_line is not None:
                with contextlib.suppress(Exception):
                    self._on_line(line)
        self._listening.set()

    def alive(self) -> bool:
        return self.process.poll() is None

    def ping(self, timeout: float = PING_TIMEOUT) -> bool:
        """Whether ``GET /ping`` answers 200."""
        if self.port is None:
            return False
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request("GET", "/ping")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    def wait_ready(
        self,
        timeout: float = DEFAULT_STARTUP_TIMEOUT,
        cancelled: Callable[[], bool] | None = None,
    ) -> None:
        """Wait until ``/ping`` answers 200.

        Args:
            timeout: seconds the server has to pass its ping.
            cancelled: asked while waiting; True gives up (the caller is stopping).

        Raises:
            ContainerError: the server exited (the model failed to load) or did not
                pass its ping within ``timeout`` seconds.
            StartCancelled: ``cancelled`` said so.
        """
        deadline = time.monotonic() + timeout
        delay = 0.01
        while time.monotonic() < deadline:
            if cancelled is not None and cancelled():
                raise StartCancelled()
            if not self._listening.wait(min(0.2, max(deadline - time.monotonic(), 0))):
                continue
            if not self.alive():
                self._reader.join(2.0)
                raise ContainerError(self.exit_reason())
            if self.ping():
                return
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        self.kill()
        raise ContainerError(
            f"The primary container did not pass the ping health check within {timeout:.0f} "
            "seconds. Please check its CloudWatch logs."
        )

    def exit_reason(self) -> str:
        """Why the server is gone, from its last words."""
        if self.failure:
            return f"Failed to load the model: {self.failure}"
        status = self.process.poll()
        tail = next((line for line in reversed(self._last_lines) if line.strip()), "")
        detail = f": {tail}" if tail else ""
        return f"The primary container exited with status {status}{detail}"

    def terminate(self, grace: float = 30.0) -> None:
        """SIGTERM (the server drains requests in flight), then SIGKILL after ``grace``."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.kill()
        self._reader.join(2.0)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5.0)
