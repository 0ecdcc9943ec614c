"""Inference-server containers: one ``python -m simsage.serving.server`` process per
endpoint or batch-transform instance, started through the container launcher.

Layer: runtime, shared by the endpoint supervisor and the batch-transform runner (the
model's layout and serving mode are theirs: :mod:`simsage.runtime.model_setup`). The
instance's folder (``model/``, ``code/``) is the container's ``/opt/ml`` — really so in a
private mount namespace (:mod:`simsage.runtime.containers`), where the server is told
``--model-dir /opt/ml/model`` and ``SAGEMAKER_SUBMIT_DIRECTORY`` names ``/opt/ml/code``.
:class:`ServerProcess` binds a free 127.0.0.1 port, follows the server's output (the
first line of the instance's log says how ``/opt/ml`` is provided) and waits for
``/ping``.
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
from pathlib import Path, PurePosixPath
from typing import Any

from simsage.runtime import containers
from simsage.runtime.paths import OPT_ML
from simsage.runtime.python import child_environment, module_command

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


class InferenceServer:
    """What the endpoint supervisor and the transform runner need of one instance's
    inference server, a process (:class:`ServerProcess`) or a container
    (:class:`simsage.runtime.docker_serving.ContainerServer`): its 127.0.0.1 ``port``
    once known, ``/ping``, waiting until ready, why it ended, stopping it. ``pid`` is the
    host process to sample for CPU and memory (None for a container)."""

    pid: int | None = None
    port: int | None = None
    process: Any  # has .returncode and .kill()

    def __init__(self) -> None:
        self._listening = threading.Event()  # set once the port is known (or it ended)

    def alive(self) -> bool:
        raise NotImplementedError

    def exit_reason(self) -> str:
        raise NotImplementedError

    def kill(self) -> None:
        raise NotImplementedError

    def terminate(self, grace: float = 30.0) -> None:
        raise NotImplementedError

    def _join_output(self) -> None:
        """Wait (briefly) for the output reader to take the last lines."""

    def ping(self, timeout: float = PING_TIMEOUT) -> bool:
        """Whether ``GET /ping`` answers 200."""
        if self.port is None:
            return False
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request("GET", "/ping")
            return connection.getresponse().status == 200
        except (OSError, http.client.HTTPException):
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
                self._join_output()
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


def start_server(
    plan: Any,
    model_dir: Path,
    environment: dict[str, str],
    on_line: Callable[[str], None] | None = None,
    exit_with_parent: bool = True,
    owner: tuple[str, str, str] | None = None,
    record: Path | None = None,
    instance_type: str | None = None,
    s3: Callable[[], Any] | None = None,
) -> InferenceServer:
    """One instance's inference server for ``plan``: a simsage server process for the
    images simsage emulates, a container under the Docker engine for a custom image
    (``plan.mode == "container"``; ``owner`` is ``(kind, name, instance id)`` for its
    labels, ``record`` where its leftovers are named, ``instance_type`` for
    ``SIMSAGE_ENFORCE_INSTANCE_LIMITS``, ``s3`` gives the container S3 access: see
    :class:`~simsage.runtime.docker_engine.DockerEngine`).

    Raises:
        ContainerError: the server could not be started (no engine, no image …).
    """
    if plan.mode == "container":
        from simsage.runtime.docker_serving import ContainerServer

        kind, name, instance_id = owner or ("endpoint", "model", "i-0")
        return ContainerServer(
            plan.framework,
            model_dir,
            environment,
            on_line=on_line,
            kind=kind,
            name=name,
            instance_id=instance_id,
            record=record,
            instance_type=instance_type,
            s3=s3,
        )
    return ServerProcess(plan, model_dir, environment, on_line, exit_with_parent)


class ServerProcess(InferenceServer):
    """One inference server process on a free 127.0.0.1 port.

    Parameters
    ----------
    plan:
        The serving mode: ``plan.mode`` (``xgboost`` or ``script``) and
        ``plan.framework`` (see :func:`simsage.runtime.model_setup.serving_plan`).
    model_dir:
        The extracted model folder (the container's ``/opt/ml/model``).
    environment:
        The container environment, added to simsage's own. S3 from inside is only what
        it names (``AWS_ENDPOINT_URL_S3``): an endpoint inherited from this process's
        environment is dropped, so a model with network isolation gets none.
    on_line:
        Called with every line the server writes (stdout and stderr), from a reader
        thread; the control plane ships them to the log store.
    exit_with_parent:
        The server stops by itself when this process goes away.
    """

    def __init__(
        self,
        plan: Any,
        model_dir: Path,
        environment: dict[str, str],
        on_line: Callable[[str], None] | None = None,
        exit_with_parent: bool = True,
    ) -> None:
        super().__init__()
        env = dict(os.environ)
        env.pop("SIMSAGE_CHECK_OUTPUT", None)
        env.pop("AWS_ENDPOINT_URL_S3", None)
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

    def _join_output(self) -> None:
        self._reader.join(2.0)

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
