"""Starting a container's process: one interface, three ways.

Layer: runtime, used by the training runner (every host), the endpoint supervisor and
the batch-transform runner (every inference-server instance). The caller says what the
container is — a :class:`Container`: its host folder (the container's ``/opt/ml``), the
command, the environment, the working folder, extra mounts — and a launcher starts it:

- :class:`ProcessLauncher` in ``namespace`` mode (Linux, the default where it works):
  the process runs in a private mount namespace in which its host folder *is*
  ``/opt/ml`` (:mod:`simsage.runtime.mountns`), with ``SIMSAGE_HOME`` hidden, so literal
  ``/opt/ml/...`` paths work and containers cannot see each other's trees;
- :class:`ProcessLauncher` in ``process`` mode (the fallback: macOS, kernels that forbid
  user namespaces, or ``SIMSAGE_CONTAINER_MODE=process``): a plain process in its host
  folder, the ``SM_*`` variables pointing into it;
- :class:`DockerLauncher`: the image under a Docker engine (custom images), its folder
  bind-mounted at ``/opt/ml`` (:mod:`simsage.runtime.docker_engine`).

The paths a container is told about (``SM_*``, ``SIMSAGE_OPT_ML``, a model folder) come
from :meth:`opt_ml`: ``/opt/ml`` under a namespace or Docker, the host folder otherwise.
:meth:`describe` is the line the job's log gets, saying which mode ran.

Every container's ``PATH`` starts with a folder whose ``python``/``python3``/``pip``/
``pip3`` run simsage's interpreter (:func:`python_folder`), so entrypoint commands and the
SDK's driver scripts find "the framework's Python" as the image would give it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from simsage.runtime import mountns
from simsage.runtime.network import PrivateNetwork
from simsage.runtime.paths import OPT_ML

MODE_ENV = "SIMSAGE_CONTAINER_MODE"  # auto (default) | namespace (required) | process
NAMESPACE, PROCESS, DOCKER = "namespace", "process", "docker"
PYTHON_FOLDER = ".simsage-bin"  # beside each host folder, outside its /opt/ml tree
PYTHON_IN_CONTAINER = "/opt/simsage/bin"  # where a namespace shows that folder
STORE_MARKER = "state.db"  # simsage.store.identity.INDEX_NAME: the file that marks a home


class LaunchError(Exception):
    """A container could not start; the message is the reason to report."""


@dataclass
class Container:
    """One container process.

    ``command`` is what the process modes run (Docker runs the image's own command, or
    the job's ContainerEntrypoint/ContainerArguments). ``workdir`` and the values of
    ``mounts`` (host folder → container path) are container paths.
    """

    name: str
    root: Path
    command: list[str]
    environment: dict[str, str]
    workdir: str = str(OPT_ML)
    mounts: dict[Path, str] = field(default_factory=dict)


def configured_mode() -> str:
    """``SIMSAGE_CONTAINER_MODE``: ``auto`` unless it names ``namespace`` or ``process``."""
    value = os.environ.get(MODE_ENV, "auto").strip().lower()
    return value if value in (NAMESPACE, PROCESS) else "auto"


def local(network: PrivateNetwork | None = None) -> ProcessLauncher:
    """The launcher for simsage's own images: a private mount namespace where that
    works (and is not switched off), else plain processes; the reason is kept for
    :meth:`ProcessLauncher.describe`.

    Raises:
        LaunchError: ``SIMSAGE_CONTAINER_MODE=namespace`` where namespaces do not work.
    """
    wanted = configured_mode()
    if wanted == PROCESS:
        return ProcessLauncher(PROCESS, f"{MODE_ENV}=process", network)
    works, why = mountns.probe()
    if works:
        return ProcessLauncher(NAMESPACE, "", network)
    if wanted == NAMESPACE:
        raise LaunchError(
            f"{MODE_ENV}=namespace, but this machine cannot give a container a private "
            f"mount namespace: {why}. Unset it to run with /opt/ml in the job folder."
        )
    return ProcessLauncher(PROCESS, why, network)


def home_of(folder: Path) -> Path | None:
    """The SIMSAGE_HOME a host folder lies in (the nearest folder holding the store)."""
    for candidate in Path(folder).resolve().parents:
        if (candidate / STORE_MARKER).is_file():
            return candidate
    return None


def python_folder(root: Path) -> Path:
    """A folder of ``python``, ``python3``, ``pip`` and ``pip3`` running this interpreter,
    made beside ``root`` (shell scripts, not symlinks: a venv's interpreter must be
    started by its own path to find its packages)."""
    folder = Path(root).parent / PYTHON_FOLDER
    executable = sys.executable
    scripts = {
        "python": f'exec "{executable}" "$@"\n',
        "python3": f'exec "{executable}" "$@"\n',
        "pip": f'exec "{executable}" -m pip "$@"\n',
        "pip3": f'exec "{executable}" -m pip "$@"\n',
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in scripts.items():
        path = folder / name
        text = "#!/bin/sh\n" + body
        if not path.is_file() or path.read_text() != text:
            temporary = path.with_suffix(".tmp")
            temporary.write_text(text)
            temporary.chmod(0o755)
            temporary.replace(path)
    return folder


class ProcessLauncher:
    """simsage's own images as processes, in a private mount namespace or not."""

    def __init__(self, mode: str, why: str = "", network: PrivateNetwork | None = None):
        self.mode = mode
        self.why = why
        self.network = network

    def opt_ml(self, root: Path) -> PurePosixPath | Path:
        """How the container names its ``/opt/ml``."""
        return PurePosixPath(str(OPT_ML)) if self.mode == NAMESPACE else Path(root)

    def container_path(self, root: Path, path: Path | str) -> str:
        """How the container names ``path``, a file or folder inside ``root``."""
        if self.mode != NAMESPACE:
            return str(path)
        relative = Path(path).relative_to(root)
        return str(PurePosixPath(str(OPT_ML)) / relative.as_posix()).rstrip("/.") or "/"

    def describe(self, root: Path) -> str:
        if self.mode == NAMESPACE:
            return (
                "simsage: /opt/ml is this container's own folder (a private mount "
                "namespace); other jobs' folders are not visible"
            )
        reason = f" ({self.why})" if self.why else ""
        return (
            f"simsage: no private mount namespace{reason}: /opt/ml is {root} and the SM_* "
            "variables point there; scripts that hard-code /opt/ml paths will not find them"
        )

    def start(self, container: Container, **popen: Any) -> subprocess.Popen:
        """Start ``container``; ``popen`` goes to :class:`subprocess.Popen` (stdout …).

        Raises:
            LaunchError: the command cannot be started (not found, not executable).
        """
        env = dict(container.environment)
        bin_folder = python_folder(container.root)
        inside_bin = PYTHON_IN_CONTAINER if self.mode == NAMESPACE else str(bin_folder)
        env["PATH"] = os.pathsep.join(p for p in (inside_bin, env.get("PATH")) if p)
        setup = None
        held: list[int] = []
        if self.mode == NAMESPACE:
            binds = [(str(bin_folder), PYTHON_IN_CONTAINER)]
            binds += [(str(local), inside) for local, inside in container.mounts.items()]
            home = home_of(container.root)
            plan = mountns.MountPlan(
                str(container.root),
                workdir=container.workdir,
                binds=binds,
                hide=[str(home)] if home else [],
            )
            if self.network is not None:
                held = self.network.namespace_fds()
                plan.namespaces = (held[0], held[1])
            setup = mountns.preexec(plan.prepare())
            cwd = None  # the namespace's own: chdir happens inside it
        else:
            cwd = _host_workdir(container)
            if self.network is not None:
                held = self.network.namespace_fds()
                setup = self.network.preexec(held)
        try:
            return subprocess.Popen(
                container.command,
                cwd=cwd,
                env=env,
                preexec_fn=setup,
                **popen,
            )
        except OSError as exc:
            raise LaunchError(f"could not start {container.command[0]!r}: {exc}") from None
        finally:
            for descriptor in held:
                os.close(descriptor)

    def start_all(self, chosen: Iterable[Container], **popen: Any) -> list[subprocess.Popen]:
        """Start every container (the hosts of a job), in order; if one cannot start,
        the ones already started are killed before :class:`LaunchError` goes up."""
        started: list[subprocess.Popen] = []
        try:
            for container in chosen:
                started.append(self.start(container, **popen))
        except LaunchError:
            for process in started:
                with contextlib.suppress(OSError):
                    process.kill()
                process.wait()
            raise
        return started


def _host_workdir(container: Container) -> Path:
    """The host folder of the container's working folder (process mode)."""
    inside = PurePosixPath(container.workdir)
    if inside == OPT_ML or OPT_ML in inside.parents:
        return container.root / inside.relative_to(OPT_ML)
    return container.root


class DockerLauncher:
    """Any image under a Docker engine, the same :class:`Container` contract."""

    mode = DOCKER

    def __init__(self, engine: Any, image: str, algorithm: dict[str, Any], isolated: bool):
        self.engine = engine
        self.image = image
        self.algorithm = algorithm  # ContainerEntrypoint/ContainerArguments, Docker's way
        self.isolated = isolated

    def opt_ml(self, root: Path) -> PurePosixPath:
        return PurePosixPath(str(OPT_ML))

    def describe(self, root: Path) -> str:
        return f"simsage: {self.image} runs under Docker, {root} bind-mounted at /opt/ml"

    def start_all(self, chosen: Iterable[Container], **popen: Any) -> list[Any]:
        """Start every host of a job together (each can resolve the others' names); the
        engine streams their output (``popen``'s pipes do not apply).

        Raises:
            simsage.runtime.docker_engine.EngineError: the engine refused one.
        """
        from simsage.runtime.docker_engine import HostSpec

        hosts = [HostSpec(c.name, c.root, c.environment, dict(c.mounts)) for c in chosen]
        return self.engine.start_hosts(self.image, self.algorithm, hosts, isolated=self.isolated)
