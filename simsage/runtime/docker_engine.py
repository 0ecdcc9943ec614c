"""Custom images under a Docker engine: the hosts of training and processing jobs
here, the instances of endpoints and batch transform in
:mod:`simsage.runtime.docker_serving` (one :class:`DockerEngine` each).

An image simsage does not emulate can only run where a Docker engine is reachable. The
runner asks :func:`connect` for one (``docker.from_env()`` and ``ping()`` with a short
timeout, so a machine without an engine fails the job at once), makes sure the engine
has the image (:meth:`DockerEngine.ensure_image`: the name as given, then an ECR-style
name's short ``repo:tag``, then a pull) and runs every host of the job as SageMaker runs
a training container:

- ``docker run <image> train``, or AlgorithmSpecification's ``ContainerEntrypoint``
  (replaces the image's ENTRYPOINT, and with it the ``train`` argument) and
  ``ContainerArguments`` (replace ``train``);
- the host's ``/opt/ml``-shaped job folder bind-mounted at ``/opt/ml``;
- the request's ``Environment``, the training toolkit's ``SM_*`` variables computed for
  ``/opt/ml``, and ``TRAINING_JOB_NAME``/``TRAINING_JOB_ARN`` — nothing of the runner's
  own environment;
- a user-defined bridge network per job (internal when ``EnableNetworkIsolation``) on
  which the hosts reach each other as ``algo-1`` … ``algo-N`` (hostname and alias);
- S3, as on AWS (unless ``EnableNetworkIsolation``): the home's S3 endpoint on the
  container's own ``127.0.0.1:PORT`` (relayed to the host's, see
  :mod:`simsage.runtime.netns_relay`), named by ``AWS_ENDPOINT_URL_S3`` with simsage's
  local keys and the job's region in the environment, so boto3, the AWS CLI or any S3
  client in the image reaches the same buckets as the notebook.

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
import re
import secrets
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from simsage.runtime import instance_types
from simsage.runtime.environment import training_env
from simsage.runtime.netns_relay import ContainerAccess, ContainerRelay

OPT_ML = "/opt/ml"
PING_TIMEOUT = 3.0  # seconds: how long an engine may take to answer before "no engine"
API_TIMEOUT = 120.0  # seconds for ordinary API calls once an engine answered
JOB_LABEL = "simsage.job"  # the job's name
LEFTOVERS = "engine.json"  # in the job folder: the network and containers a runner made
# Serving containers (one engine per endpoint or transform instance) keep their records
# beside it as engine-<instance id>.json; remove_leftovers reads every engine*.json.
LEFTOVERS_GLOB = "engine*.json"
KIND_LABEL = "simsage.job-kind"  # training, processing …: names are unique per kind only
HOST_LABEL = "simsage.host"
ENGINE_NETWORKS = ("bridge", "none")  # the engine's own: no aliases, never removed


TRAIN_COMMAND = ["train"]  # what a training container runs without ContainerArguments


_ECR_NAME = re.compile(
    r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/(?P<short>[^@]+)(?:@.*)?$"
)


def local_name(uri: str) -> str | None:
    """The short ``repo:tag`` of an ECR-style image name (``:latest`` when it has no
    tag), or None for any other name."""
    match = _ECR_NAME.match(uri.strip())
    if match is None:
        return None
    short = match["short"]
    return short if ":" in short.rsplit("/", 1)[-1] else f"{short}:latest"


def _first_line(exc: BaseException) -> str:
    """What the engine said (an APIError's explanation), on one line."""
    text = str(getattr(exc, "explanation", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


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


_shared: Any = None
_shared_lock = threading.Lock()


def shared_client() -> tuple[Any | None, str]:
    """:func:`connect`, once per process while the engine answers: an endpoint supervisor
    or a transform runner starts many serving containers and should not ping the engine
    for each. A failed look is not kept (an engine started later is found)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            client, why = connect()
            if client is None:
                return None, why
            _shared = client
        return _shared, ""


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
    ``/opt/ml``; None mounts none, e.g. a serving container that gets only ``model/``), its
    environment, and extra bind mounts (local folder → container path, e.g. a
    CheckpointConfig.LocalPath outside ``/opt/ml``)."""

    name: str
    root: Path | None
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
    ports: dict[str, Any] | None = None,
    prefix: str | None = None,
) -> dict[str, Any]:
    """The keyword arguments of ``client.containers.create`` for one host
    (``network``: the job's own network, or the engine's ``bridge`` / ``none``;
    ``default_command``: what runs without ContainerArguments, see
    :func:`container_command`; ``limits``: :func:`instance_limits`; ``ports``: docker's
    port publishing, e.g. ``{"8080/tcp": ("127.0.0.1", None)}``; ``prefix``: of the
    container's name, the network's name by default)."""
    entrypoint, command = container_command(algorithm, default_command)
    volumes = {}
    if host.root is not None:
        volumes[str(Path(host.root).resolve())] = {"bind": OPT_ML, "mode": "rw"}
    for local, inside in host.mounts.items():
        volumes[str(Path(local).resolve())] = {"bind": inside, "mode": "rw"}
    return {
        "image": image,
        "command": command,
        "entrypoint": entrypoint,
        "name": f"{prefix or network}-{host.name}",
        "hostname": host.name,
        "environment": dict(host.environment),
        "volumes": volumes,
        "network": network,
        # The alias is what other hosts resolve: the engine's DNS on a user-defined
        # network answers container names and aliases, not hostnames. (The engine's own
        # networks take no aliases; a lone host resolves its hostname through /etc/hosts.)
        **(
            {}
            if network in ENGINE_NETWORKS
            else {"networking_config": {network: {"Aliases": [host.name]}}}
        ),
        "labels": {**labels, HOST_LABEL: host.name},
        **({"ports": ports} if ports else {}),
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

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


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
        s3: Callable[[], ContainerAccess] | None = None,
        on_note: Callable[[str], None] | None = None,
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
        self._resolved: dict[str, str] = {}  # image URI → the name the engine has it under
        self._cleaning = threading.Lock()
        # S3 from inside the containers (not isolated ones): ``s3`` gives the access on
        # first need; each started container's own 127.0.0.1 is relayed to it.
        self._s3 = s3
        self._note = on_note or (lambda line: print(line, flush=True))
        self.s3_access: ContainerAccess | None = None
        self.relay: ContainerRelay | None = None
        self._relay_refused = False

    @property
    def labels(self) -> dict[str, str]:
        return {JOB_LABEL: self.job_name, KIND_LABEL: self.kind}

    def ensure_image(self, uri: str) -> str:
        """Make sure the engine has the image, pulling it when missing; returns the name
        the containers will use.

        An ECR-style name (``<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>``,
        what code written for SageMaker names) that the engine does not have is also
        looked for under its short ``<repo>:<tag>`` name, so an image built locally as
        ``docker build -t my-algo:1 .`` runs unchanged code that names its ECR URI.
        Only then is the full name pulled.

        Raises:
            EngineError: the image is neither present nor pullable.
        """
        from docker.errors import DockerException, ImageNotFound

        candidates = [uri, *([short] if (short := local_name(uri)) else [])]
        for name in candidates:
            try:
                self.client.images.get(name)
            except ImageNotFound:
                continue
            except DockerException as exc:
                raise EngineError(
                    f"ClientError: Could not inspect the {self.what} {uri}: {exc}"
                ) from None
            self._resolved[uri] = name
            return name
        try:
            self.client.images.pull(uri)
        except DockerException as exc:
            looked = " or ".join(candidates)
            raise EngineError(
                f"ClientError: The {self.what} {uri} is not on the Docker engine (looked for "
                f"{looked}) and could not be pulled (build it with `docker build -t "
                f"{candidates[-1]} .`, or log in to its registry with `docker login` if it "
                f"is private): {_first_line(exc)}"
            ) from None
        self._resolved[uri] = uri
        return uri

    def start_hosts(
        self,
        image: str,
        algorithm: dict[str, Any],
        hosts: list[HostSpec],
        isolated: bool,
        ports: dict[str, Any] | None = None,
    ) -> list[ContainerProcess]:
        """Create the job's network and every host's container, then start them all
        (every alias exists before any host starts looking for its peers). ``ports``:
        what each container publishes (see :func:`container_options`).

        A lone host (a one-instance job, every serving instance) needs no peers: it runs
        on the engine's default ``bridge`` network, or on ``none`` when isolated, which
        spares creating and removing a network (~0.25 s together, measured).

        Raises:
            EngineError: the engine refused a container (bad entrypoint, mount …).
        """
        from docker.errors import DockerException

        names = [f"{self.network_name}-{host.name}" for host in hosts]
        shared = ("none" if isolated else "bridge") if len(hosts) == 1 else None
        access = None if isolated else self._s3_access()
        if access is not None:  # the request's own Environment wins
            hosts = [
                HostSpec(h.name, h.root, {**access.environment, **h.environment}, h.mounts)
                for h in hosts
            ]
        self._save_record(names, with_network=shared is None)
        local = self._resolved.get(image, image)
        try:
            if shared is None:
                self.network = self.client.networks.create(
                    self.network_name, driver="bridge", internal=isolated, labels=self.labels
                )
            for host in hosts:
                options = container_options(
                    local,
                    host,
                    shared or self.network_name,
                    algorithm,
                    self.labels,
                    self.default_command,
                    self.limits,
                    ports,
                    prefix=self.network_name,
                )
                self.containers.append(self.client.containers.create(**options))
            started = []
            for container in self.containers:
                started.append(ContainerProcess(container))
                if access is not None:
                    self._relay_to(container)
            return started
        except DockerException as exc:
            raise EngineError(
                f"AlgorithmError: The Docker engine could not start {image}: {exc}"
            ) from None

    def _s3_access(self) -> ContainerAccess | None:
        """The containers' access to S3 (asked for once), or None: none was offered, or
        it could not be had (said in the log)."""
        if self.s3_access is None and self._s3 is not None:
            factory, self._s3 = self._s3, None
            try:
                self.s3_access = factory()
            except Exception as exc:  # S3 from inside is a convenience: the job still runs
                self._note(f"simsage: the containers cannot reach S3: {_first_line(exc)}")
                return None
            self.relay = ContainerRelay(self.s3_access.port)
        return self.s3_access

    def _relay_to(self, container: Any) -> None:
        """Relay a started container's 127.0.0.1:PORT to the host's S3 endpoint."""
        assert self.relay is not None and self.s3_access is not None
        try:
            container.reload()
            pid = (container.attrs.get("State") or {}).get("Pid") or 0
            if not pid:
                return  # it has already ended
            self.relay.attach(pid)
        except Exception as exc:  # RelayUnavailable, or the engine could not be asked
            if not self._relay_refused:
                self._relay_refused = True
                url = self.s3_access.environment.get("AWS_ENDPOINT_URL_S3", "")
                self._note(
                    f"simsage: calls to S3 from inside the containers ({url}) will fail: "
                    f"{_first_line(exc)}"
                )

    def cleanup(self) -> None:
        """Remove the job's containers (killing any still running) and its network, end
        the S3 relay and release the S3 access. Safe to call from several threads (a
        serving container's output reader and whoever stops it) and more than once."""
        with self._cleaning:
            for container in self.containers:
                with contextlib.suppress(Exception):  # already gone is fine
                    container.remove(force=True)
            self.containers = []
            if self.relay is not None:
                self.relay.close()
                self.relay = None
            if self.s3_access is not None:
                with contextlib.suppress(Exception):
                    self.s3_access.release()
                self.s3_access = None
            if self.network is not None:
                with contextlib.suppress(Exception):
                    self.network.remove()
                self.network = None
            if self.record is not None:
                self.record.unlink(missing_ok=True)

    def _save_record(self, containers: list[str], with_network: bool = True) -> None:
        """Write :data:`LEFTOVERS` (atomically) before the network and ``containers``
        exist: a runner killed at any later moment leaves their names behind."""
        if self.record is None:
            return
        partial = self.record.with_name(self.record.name + ".tmp")
        network = self.network_name if with_network else None
        partial.write_text(json.dumps({"network": network, "containers": containers}))
        os.replace(partial, self.record)


def _read_record(path: Path) -> tuple[list[str], str | None] | None:
    """The containers and network a record names; None (and the file removed) when it
    is torn or foreign, since nothing can be acted on."""
    try:
        record = json.loads(path.read_text())
        containers = [str(name) for name in record["containers"]]
        network = record.get("network")
        return containers, (str(network) if network else None)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        path.unlink(missing_ok=True)
        return None


def remove_leftovers(folder: Path) -> bool:
    """Remove the containers and networks a dead runner (or endpoint supervisor) left on
    the engine, named in ``folder``'s records (``engine.json``, ``engine-<id>.json``:
    :data:`LEFTOVERS_GLOB`), then the records; True if there was something and it is
    gone. Without a record nothing is asked of any engine (no connection, no delay);
    with one but no engine answering, or the engine refusing, the records stay for the
    next try."""
    paths = sorted(Path(folder).glob(LEFTOVERS_GLOB))
    records = [(path, _read_record(path)) for path in paths]
    records = [(path, record) for path, record in records if record is not None]
    if not records:
        return False
    client, _why = connect()
    if client is None:
        return False
    from docker.errors import DockerException, NotFound

    try:
        for path, (containers, network) in records:
            for name in containers:
                with contextlib.suppress(NotFound):  # never created, or already removed
                    client.containers.get(name).remove(force=True)
            if network is not None:
                with contextlib.suppress(NotFound):
                    client.networks.get(network).remove()
            path.unlink(missing_ok=True)
    except DockerException:
        return False
    finally:
        with contextlib.suppress(Exception):
            client.close()
    return True
