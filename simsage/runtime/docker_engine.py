"""Custom training images under a Docker engine.

A training image simsage does not emulate can only run where a Docker engine is
reachable. The runner asks :func:`connect` for one (``docker.from_env()`` and
``ping()`` with a short timeout, so a machine without an engine fails the job at once)
and, with an engine, runs every host of the job as SageMaker runs a training container:

- ``docker run <image> train``, or AlgorithmSpecification's ``ContainerEntrypoint``
  (replaces the image's ENTRYPOINT, and with it the ``train`` argument) and
  ``ContainerArguments`` (replace ``train``);
- the host's ``/opt/ml``-shaped job folder bind-mounted at ``/opt/ml``;
- the request's ``Environment``, the training toolkit's ``SM_*`` variables computed for
  ``/opt/ml``, and ``TRAINING_JOB_NAME``/``TRAINING_JOB_ARN`` — nothing of the runner's
  own environment;
- a user-defined bridge network per job (internal when ``EnableNetworkIsolation``) on
  which the hosts reach each other as ``algo-1`` … ``algo-N`` (hostname and alias).

The runner sees each container as a :class:`ContainerProcess`, the slice of
``subprocess.Popen`` it uses (``poll``, ``returncode``, ``stdout`` lines, signals), so
supervision, logs, metrics, stop and timeout work as for process hosts. Containers and
the network are removed by :meth:`DockerEngine.cleanup`; if the runner itself is killed
they outlive it, labelled ``simsage.job=<job>`` and ``simsage.job-kind=<training |
processing>`` (and ``simsage.host=algo-N``), and named in the job folder's
``engine.json`` (:data:`LEFTOVERS`, written before anything is created, deleted once
cleaned up), so the next look at the orphaned job removes them
(:func:`remove_leftovers`, called by :func:`simsage.runtime.launcher.end_leftovers`).

The docker SDK is imported only when an engine is looked for, keeping the runner's
start-up lean for built-in images.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from simsage.runtime import instance_types
from simsage.runtime.environment import training_env

OPT_ML = "/opt/ml"
PING_TIMEOUT = 3.0  # seconds: how long an engine may take to answer before "no engine"
API_TIMEOUT = 120.0  # seconds for ordinary API calls once an engine answered
JOB_LABEL = "simsage.job"  # the job's name
LEFTOVERS = "engine.json"  # in the job folder: the network and containers a runner made
KIND_LABEL = "simsage.job-kind"  # training, processing …: names are unique per kind only
HOST_LABEL = "simsage.host"


TRAIN_COMMAND = ["train"]  # what a training container runs without ContainerArguments


class EngineError(Exception):
    """The engine could not do what the job needs; the message is the FailureReason."""


def connect(timeout: float = PING_TIMEOUT) -> tuple[Any | None, str]:
    """A docker client if a Docker engine answers within ``timeout`` seconds.

    Returns:
        ``(client, "")`` with an engine, else ``(None, why)``: the docker package is
        missing, or the engine (``DOCKER_HOST`` or the default socket) did not answer.
    """
    try:
        import docker
    except ImportError:
        return None, "the docker Python package is not installed (pip install 'simsage[docker]')"
    try:
        probe = docker.from_env(timeout=timeout)
        try:
            probe.ping()
        finally:
            probe.close()
        return docker.from_env(timeout=API_TIMEOUT), ""
    except Exception as exc:  # whatever keeps us from the engine means "no engine"
        return None, f"{type(exc).__name__}: {exc}"


def container_environment(
    environment: dict[str, str] | None,
    job_name: str,
    job_arn: str,
    hyperparameters: dict[str, str],
    input_data_config: dict[str, dict],
    resource_config: dict[str, Any],
) -> dict[str, str]:
    """The environment of one host's container: the request's ``Environment``, then the
    ``SM_*`` variables for ``/opt/ml`` (simsage's own ``SIMSAGE_*`` left out), then
    ``TRAINING_JOB_NAME`` and ``TRAINING_JOB_ARN``."""
    env = dict(environment or {})
    # PurePosixPath: the paths are inside the (Linux) container, whatever the host's OS.
    toolkit = training_env(
        PurePosixPath(OPT_ML),  # type: ignore[arg-type]  # only "/" and str() are used
        job_name,
        hyperparameters,
        input_data_config,
        resource_config,
    )
    env.update({k: v for k, v in toolkit.items() if not k.startswith("SIMSAGE_")})
    env["TRAINING_JOB_NAME"] = job_name
    env["TRAINING_JOB_ARN"] = job_arn
    return env


def container_command(
    algorithm: dict[str, Any], default: list[str] | None = TRAIN_COMMAND
) -> tuple[list[str] | None, list[str] | None]:
    """``(entrypoint, command)`` for an AlgorithmSpecification (or a processing job's
    AppSpecification): ``(None, default)`` by default — ``["train"]`` for training, None
    (the image's own CMD) for processing; ``ContainerEntrypoint`` replaces the image's
    ENTRYPOINT (Docker then ignores the image's CMD, so ``default`` is not added) and
    ``ContainerArguments`` replace the command. ``None`` keeps the image's own value."""
    entrypoint = algorithm.get("ContainerEntrypoint")
    arguments = algorithm.get("ContainerArguments")
    if entrypoint:
        return list(entrypoint), list(arguments) if arguments else None
    return None, list(arguments) if arguments else (list(default) if default else None)


@dataclass
class HostSpec:
    """What one host's container needs: its name (``algo-N``), its job folder (mounted at
    ``/opt/ml``), its environment, and extra bind mounts (local folder → container path,
    e.g. a CheckpointConfig.LocalPath outside ``/opt/ml``)."""

    name: str
    root: Path
    environment: dict[str, str]
    mounts: dict[Path, str] = field(default_factory=dict)


ENFORCE_LIMITS = "SIMSAGE_ENFORCE_INSTANCE_LIMITS"


def instance_limits(instance_type: str, environ: dict[str, str]) -> tuple[dict[str, Any], str]:
    """The container limits of an ``instance_type`` host and a line for the job log.

    Only with ``SIMSAGE_ENFORCE_INSTANCE_LIMITS=1`` in ``environ``: the type's vCPUs as
    ``nano_cpus`` (``--cpus``) and its memory as ``mem_limit`` (``--memory``), from
    :mod:`simsage.runtime.instance_types`; an unknown type gets no limit and the line
    says so. Without the setting, ``({}, "")``: containers share the machine, as
    processes do.
    """
    if environ.get(ENFORCE_LIMITS, "") not in ("1", "true", "True", "yes"):
        return {}, ""
    found = instance_types.resources(instance_type)
    if found is None:
        return {}, (
            f"{ENFORCE_LIMITS}: simsage does not know the vCPUs and memory of "
            f"{instance_type}; its containers run without limits"
        )
    vcpus, mib = found
    limits = {"nano_cpus": vcpus * 1_000_000_000, "mem_limit": f"{mib}m"}
    return limits, f"{ENFORCE_LIMITS}: each container limited to {vcpus} vCPUs and {mib} MiB"


def container_options(
    image: str,
    host: HostSpec,
    network: str,
    algorithm: dict[str, Any],
    labels: dict[str, str],
    default_command: list[str] | None = TRAIN_COMMAND,
    limits: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The keyword arguments of ``client.containers.create`` for one host
    (``default_command``: what runs without ContainerArguments, see
    :func:`container_command`; ``limits``: :func:`instance_limits`)."""
    entrypoint, command = container_command(algorithm, default_command)
    volumes = {str(Path(host.root).resolve()): {"bind": OPT_ML, "mode": "rw"}}
    for local, inside in host.mounts.items():
        volumes[str(Path(local).resolve())] = {"bind": inside, "mode": "rw"}
    return {
        "image": image,
        "command": command,
        "entrypoint": entrypoint,
        "name": f"{network}-{host.name}",
        "hostname": host.name,
        "environment": dict(host.environment),
        "volumes": volumes,
        "network": network,
        # The alias is what other hosts resolve: the engine's DNS on a user-defined
        # network answers container names and aliases, not hostnames.
        "networking_config": {network: {"Aliases": [host.name]}},
        "labels": {**labels, HOST_LABEL: host.name},
        **(limits or {}),
    }


class _Lines:
    """Whole lines (bytes, newline kept) out of a stream of log chunks, which the
    engine cuts wherever the container's writes ended."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        pending = b""
        for chunk in self._chunks:
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line + b"\n"
        if pending:
            yield pending

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


class ContainerProcess:
    """A started container, seen as the runner sees a host process.

    ``returncode`` is set (by a thread waiting on the engine) once the container exits;
    ``stdout`` yields its output, stdout and stderr merged, line by line.
    """

    pid: int | None = None  # no host process to signal: the engine signals the container

    def __init__(self, container: Any) -> None:
        self.container = container
        self.returncode: int | None = None
        self.error: str | None = None
        container.start()
        self.stdout = _Lines(container.logs(stream=True, follow=True, stdout=True, stderr=True))
        self._waiter = threading.Thread(target=self._wait, daemon=True)
        self._waiter.start()

    def _wait(self) -> None:
        try:
            result = self.container.wait()
            code = int(result.get("StatusCode", 1))
        except Exception as exc:  # the engine went away: the host counts as failed
            self.error = f"{type(exc).__name__}: {exc}"
            code = 1
        self.returncode = code

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        self._waiter.join(timeout)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        """Signal the container's main process (SIGKILL ends the whole container)."""
        if self.returncode is not None:
            return
        # The container may exit between the check and the call (the engine answers 409).
        with contextlib.suppress(Exception):
            self.container.kill(signal=int(sig))


class DockerEngine:
    """One training job's containers and network on a Docker engine."""

    def __init__(
        self,
        client: Any,
        job_name: str,
        kind: str = "training",
        what: str = "training image",
        default_command: list[str] | None = TRAIN_COMMAND,
        record: Path | None = None,
        limits: dict[str, Any] | None = None,
    ) -> None:
        self.client = client
        self.job_name = job_name
        self.kind = kind  # the job kind, labelled: a training and a processing job may share a name
        self.what = what  # how messages name the image
        self.default_command = default_command  # what runs without ContainerArguments
        # Unique per run: several SIMSAGE_HOMEs may share one engine and reuse job names.
        self.network_name = f"simsage-{job_name.lower()}-{secrets.token_hex(4)}"
        self.network: Any = None
        self.containers: list[Any] = []
        # Where the names of what this engine creates are kept while it exists (the job
        # folder's engine.json), so a dead runner's containers can be found and removed.
        self.record = record
        self.limits = dict(limits or {})  # instance_limits: --cpus/--memory of each container

    @property
    def labels(self) -> dict[str, str]:
        return {JOB_LABEL: self.job_name, KIND_LABEL: self.kind}

    def ensure_image(self, uri: str) -> None:
        """Pull the image unless the engine already has it.

        Raises:
            EngineError: the engine cannot find or pull it.
        """
        from docker.errors import DockerException, ImageNotFound

        try:
            self.client.images.get(uri)
            return
        except ImageNotFound:
            pass
        except DockerException as exc:
            raise EngineError(
                f"ClientError: Could not inspect the {self.what} {uri}: {exc}"
            ) from None
        try:
            self.client.images.pull(uri)
        except DockerException as exc:
            raise EngineError(
                f"ClientError: Could not pull the {self.what} {uri} with the Docker engine "
                f"(log in to its registry with `docker login` first if it is private): {exc}"
            ) from None

    def start_hosts(
        self, image: str, algorithm: dict[str, Any], hosts: list[HostSpec], isolated: bool
    ) -> list[ContainerProcess]:
        """Create the job's network and every host's container, then start them all
        (every alias exists before any host starts looking for its peers).

        Raises:
            EngineError: the engine refused a container (bad entrypoint, mount …).
        """
        from docker.errors import DockerException

        names = [f"{self.network_name}-{host.name}" for host in hosts]
        self._save_record(names)
        try:
            self.network = self.client.networks.create(
                self.network_name, driver="bridge", internal=isolated, labels=self.labels
            )
            for host in hosts:
                options = container_options(
                    image,
                    host,
                    self.network_name,
                    algorithm,
                    self.labels,
                    self.default_command,
                    self.limits,
                )
                self.containers.append(self.client.containers.create(**options))
            return [ContainerProcess(container) for container in self.containers]
        except DockerException as exc:
            raise EngineError(
                f"AlgorithmError: The Docker engine could not start {image}: {exc}"
            ) from None

    def cleanup(self) -> None:
        """Remove the job's containers (killing any still running) and its network."""
        for container in self.containers:
            with contextlib.suppress(Exception):  # already gone is fine
                container.remove(force=True)
        self.containers = []
        if self.network is not None:
            with contextlib.suppress(Exception):
                self.network.remove()
            self.network = None
        if self.record is not None:
            self.record.unlink(missing_ok=True)

    def _save_record(self, containers: list[str]) -> None:
        """Write :data:`LEFTOVERS` (atomically) before the network and ``containers``
        exist: a runner killed at any later moment leaves their names behind."""
        if self.record is None:
            return
        partial = self.record.with_name(self.record.name + ".tmp")
        partial.write_text(json.dumps({"network": self.network_name, "containers": containers}))
        os.replace(partial, self.record)


def remove_leftovers(folder: Path) -> bool:
    """Remove the containers and network a job's runner left on the engine (named in
    ``folder/engine.json``), then that file; True if there was something to remove and it
    is gone. Without the file nothing is asked of any engine (no connection, no delay);
    with it but no engine answering, or the engine refusing, the file stays for the next
    try."""
    path = Path(folder) / LEFTOVERS
    try:
        record = json.loads(path.read_text())
        containers = [str(name) for name in record["containers"]]
        network = str(record["network"])
    except FileNotFoundError:
        return False
    except (OSError, ValueError, KeyError, TypeError):  # torn or foreign: nothing to act on
        path.unlink(missing_ok=True)
        return False
    client, _why = connect()
    if client is None:
        return False
    from docker.errors import DockerException, NotFound

    try:
        for name in containers:
            with contextlib.suppress(NotFound):  # never created, or already removed
                client.containers.get(name).remove(force=True)
        with contextlib.suppress(NotFound):
            client.networks.get(network).remove()
    except DockerException:
        return False
    finally:
        with contextlib.suppress(Exception):
            client.close()
    path.unlink(missing_ok=True)
    return True
