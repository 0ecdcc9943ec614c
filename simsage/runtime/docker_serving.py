"""Custom inference images under a Docker engine: one container per endpoint or batch
transform instance.

SageMaker starts a serving container as ``docker run <image> serve`` with the model's
``model.tar.gz`` extracted at ``/opt/ml/model``, the model's ``Environment``, and expects
an HTTP server on port 8080 answering ``GET /ping`` and ``POST /invocations``.
:class:`ContainerServer` does the same on the local engine:

- the model folder bind-mounted at ``/opt/ml/model`` (and an S3
  ``SAGEMAKER_SUBMIT_DIRECTORY``, extracted by :func:`simsage.runtime.model_setup.prepare_model`,
  at ``/opt/ml/code``, the variable pointing there);
- only the model's environment (plus batch transform's ``SAGEMAKER_BATCH`` … settings),
  nothing of simsage's own;
- port 8080 published on 127.0.0.1 only, on a free port the engine picks: the routing,
  health checks, invocations and batch transform reach the container as they reach a
  process instance;
- its own bridge network (one :class:`~simsage.runtime.docker_engine.DockerEngine`
  per instance), labelled ``simsage.job=<endpoint or transform job>``,
  ``simsage.job-kind=endpoint|transform`` and ``simsage.host=<instance id>``, named in
  ``engine-<instance id>.json`` in the endpoint's or job's folder while it exists, so a
  killed supervisor's or runner's containers are removed on next sight
  (:func:`simsage.runtime.docker_engine.remove_leftovers`);
- stopping is ``docker stop`` (SIGTERM, SIGKILL after the grace period); a container
  that exits by itself removes itself (after its last log lines are read), so the
  supervisor's replacement of dead instances leaves nothing behind.

The container's output (stdout and stderr) goes, line by line, to the same callback as a
process instance's: the instance's CloudWatch log stream.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from simsage.runtime import docker_engine
from simsage.runtime.netns_relay import ContainerAccess
from simsage.runtime.servers import SUBMIT_DIR_ENV, ContainerError, InferenceServer

SERVING_PORT = "8080/tcp"  # SageMaker's serving contract
SERVE_COMMAND = ["serve"]
MODEL_DIR = str(PurePosixPath(docker_engine.OPT_ML) / "model")
CODE_DIR = str(PurePosixPath(docker_engine.OPT_ML) / "code")


def record_name(instance_id: str) -> str:
    """The file (in the endpoint's or job's folder) naming an instance's container."""
    return f"engine-{instance_id}.json"


class ContainerServer(InferenceServer):
    """One instance's custom inference image, running on the Docker engine.

    Args:
        image: the model's ``Image`` (any name the engine knows or can pull; an ECR-style
            name may also be found under its short ``repository:tag`` name).
        model_dir: the extracted model (``/opt/ml/model``); a ``code`` folder beside it
            is mounted at ``/opt/ml/code``.
        environment: the container environment.
        on_line: called with every line the container writes.
        kind, name, instance_id: for labels and the container's name (``endpoint`` or
            ``transform``, the endpoint or job, the instance).
        record: where the container and network are named while they exist (default
            ``engine-<instance id>.json`` beside ``model_dir``'s folder).
        instance_type: with ``SIMSAGE_ENFORCE_INSTANCE_LIMITS=1``, the container gets
            this type's vCPUs and memory.
        s3: gives the container's access to S3 (the home's endpoint on its own
            127.0.0.1, :class:`~simsage.runtime.docker_engine.DockerEngine`); None: none.

    Raises:
        ContainerError: no engine answers, the image is neither present nor pullable, or
            the engine refused the container.
    """

    def __init__(
        self,
        image: str,
        model_dir: Path,
        environment: dict[str, str],
        on_line: Callable[[str], None] | None = None,
        kind: str = "endpoint",
        name: str = "model",
        instance_id: str = "i-0",
        record: Path | None = None,
        instance_type: str | None = None,
        s3: Callable[[], ContainerAccess] | None = None,
    ) -> None:
        super().__init__()
        self.image = image
        self._on_line = on_line
        self._last_lines: list[str] = []
        self._ended = threading.Event()
        client, why = docker_engine.shared_client()
        if client is None:
            raise ContainerError(
                f"The image {image} is not one simsage emulates; simsage runs such custom "
                f"images under a Docker engine, and none answers ({why}). Start one (e.g. "
                "`dockerd`, or Docker Desktop) or set DOCKER_HOST, then try again."
            )
        model_dir = Path(model_dir).resolve()
        limits, note = docker_engine.instance_limits(instance_type or "", dict(os.environ))
        self.engine = docker_engine.DockerEngine(
            client,
            name,
            kind=kind,
            what="inference image",
            default_command=SERVE_COMMAND,
            record=record or model_dir.parent / record_name(instance_id),
            limits=limits,
            s3=s3,
            on_note=self._say,
        )
        env = dict(environment)
        mounts = {model_dir: MODEL_DIR}
        code = model_dir.parent / "code"
        if code.is_dir():
            mounts[code] = CODE_DIR
        submit = env.get(SUBMIT_DIR_ENV, "")
        if submit and Path(submit).resolve() == code.resolve():
            env[SUBMIT_DIR_ENV] = CODE_DIR
        self._say(f"simsage: {image} runs under Docker, {model_dir} bind-mounted at {MODEL_DIR}")
        if note:
            self._say(f"simsage: {note}")
        try:
            self.engine.ensure_image(image)
            host = docker_engine.HostSpec(instance_id, None, env, mounts)
            (self.process,) = self.engine.start_hosts(
                image, {}, [host], isolated=False, ports={SERVING_PORT: ("127.0.0.1", None)}
            )
            self._container = self.engine.containers[0]
            self.port = self._published_port()
        except docker_engine.EngineError as exc:
            self.engine.cleanup()
            raise ContainerError(str(exc).removeprefix("ClientError: ")) from None
        self._listening.set()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _say(self, line: str) -> None:
        if self._on_line is not None:
            with contextlib.suppress(Exception):
                self._on_line(line)

    def _published_port(self) -> int:
        """The 127.0.0.1 port the engine gave the container's 8080."""
        from docker.errors import DockerException

        container = self._container
        try:
            container.reload()
            bindings = (container.ports or {}).get(SERVING_PORT) or []
            for binding in bindings:
                if binding.get("HostIp") in ("127.0.0.1", "") and binding.get("HostPort"):
                    return int(binding["HostPort"])
        except (DockerException, ValueError, TypeError) as exc:
            raise docker_engine.EngineError(
                f"The Docker engine did not publish port 8080 of {self.image}: {exc}"
            ) from None
        if container.status != "running":
            return 0  # it exited before the port could be read: alive() says so
        raise docker_engine.EngineError(
            f"The Docker engine did not publish port 8080 of {self.image} on 127.0.0.1"
        )

    def _read(self) -> None:
        """Ship the container's lines; once it has ended and said everything, remove it
        (and its network): an instance that dies leaves nothing on the engine."""
        with contextlib.suppress(Exception):
            for raw in self.process.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                self._last_lines = (self._last_lines + [line])[-20:]
                self._say(line)
        self.process.wait(10.0)
        self._ended.set()
        if self.process.returncode is not None:
            self.engine.cleanup()

    def alive(self) -> bool:
        return self.process.poll() is None

    def _join_output(self) -> None:
        self._ended.wait(5.0)

    def exit_reason(self) -> str:
        status = self.process.poll()
        if self.process.error:
            return f"The primary container could not be watched: {self.process.error}"
        tail = next((line for line in reversed(self._last_lines) if line.strip()), "")
        detail = f": {tail}" if tail else ""
        return f"The primary container exited with status {status}{detail}"

    def terminate(self, grace: float = 30.0) -> None:
        """``docker stop``: SIGTERM (the server drains), SIGKILL after ``grace`` seconds;
        then the container and its network are removed."""
        if self.alive():
            with contextlib.suppress(Exception):
                self._container.stop(timeout=max(int(grace), 0))
        self._ended.wait(5.0)
        self.engine.cleanup()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(5.0)
        self.engine.cleanup()
