"""The API's side of endpoint supervisors (:mod:`simsage.hosting.supervisor`): start one
and record its pid, restart one that should run but has none (saying in runner.log how
the last one ended), and kill an endpoint's supervisor, instances and containers, or
forget an endpoint whose supervisor is gone."""

from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path

from simsage.hosting import runtime_errors
from simsage.hosting.async_inference import AsyncQueue
from simsage.hosting.endpoint_state import SERVING, Endpoint, EndpointStore, Instance
from simsage.runtime import docker_engine, launcher, processes
from simsage.runtime.launcher import LOG_NAME


def log_group(endpoint: str) -> str:
    return runtime_errors.log_group(endpoint)


def supervisor_alive(endpoint: Endpoint) -> bool:
    return launcher.runner_alive(
        Path(endpoint.folder), endpoint.supervisor_pid, endpoint.supervisor_started or 0.0
    )


def launch_supervisor(home, store: EndpointStore, endpoint: Endpoint) -> None:
    """Start the endpoint's supervisor and record its pid."""
    # Through the module: a test that patches launcher.launch for a while must not
    # leave its stand-in bound here.
    pid = launcher.launch(
        "simsage.hosting.supervisor", home.path, endpoint.name, Path(endpoint.folder)
    )
    started = time.time()

    def record(ep: Endpoint) -> None:
        ep.supervisor_pid, ep.supervisor_started = pid, started

    store.change(endpoint.name, record)


def ensure_supervisor(home, store: EndpointStore, endpoint: Endpoint) -> None:
    """Restart the supervisor of an endpoint that should be running but has none (its
    process was killed, or the machine restarted); a Deleting endpoint without one is
    removed on the spot, its instances killed."""
    if endpoint.status == "Deleting":
        if not supervisor_alive(endpoint):
            remove_orphaned(store, endpoint)
        return
    if endpoint.status in ("Creating", *SERVING) and not supervisor_alive(endpoint):
        _note_ended_supervisor(endpoint)
        launch_supervisor(home, store, endpoint)


def _note_ended_supervisor(endpoint: Endpoint) -> None:
    """Say in the endpoint's runner.log how its previous supervisor ended (signal or exit
    code, from the launcher's exit record) before a new one starts."""
    if endpoint.supervisor_pid is None:
        return
    folder = Path(endpoint.folder)
    how = launcher.describe_exit(launcher.exit_code(folder, endpoint.supervisor_pid))
    with contextlib.suppress(OSError), open(folder / LOG_NAME, "a") as log:
        log.write(
            f"simsage: the endpoint supervisor (pid {endpoint.supervisor_pid}) {how}; "
            "starting a new one\n"
        )


def remove_orphaned(store: EndpointStore, endpoint: Endpoint) -> None:
    """Kill what is left of an endpoint whose supervisor is gone and forget it."""
    for instance in store.instances(endpoint.name):
        kill_instance(instance)
    end_containers(endpoint)
    AsyncQueue(store.db).drop(endpoint.name)
    shutil.rmtree(endpoint.folder, ignore_errors=True)  # before the name can be reused
    store.remove(endpoint.name)


def kill_instance(instance: Instance) -> None:
    """SIGKILL an instance recorded in the registry (and what its server started),
    unless its pid now belongs to a process started after it (a reused pid). Instances
    share their supervisor's process group: the group is not signalled. A container
    instance (pid 0) is removed through its record, see :func:`end_containers`."""
    if instance.pid:
        processes.kill_tree(instance.pid, started_by=instance.started, group=False)


def end_containers(endpoint: Endpoint) -> None:
    """Remove the Docker containers of an endpoint's container instances, named in the
    ``engine-<instance id>.json`` records in its folder while they exist; without
    records no engine is asked anything."""
    docker_engine.remove_leftovers(Path(endpoint.folder))


def kill_endpoint_processes(store: EndpointStore, endpoint: Endpoint) -> None:
    """SIGKILL an endpoint's supervisor (its process group included) and every instance
    it recorded."""
    launcher.kill_runner(Path(endpoint.folder), endpoint.supervisor_pid)
    for instance in store.instances(endpoint.name):
        kill_instance(instance)
    end_containers(endpoint)
