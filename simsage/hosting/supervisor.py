"""The endpoint supervisor: one detached process per endpoint that keeps its instances.

Run as ``python -m simsage.hosting.supervisor <home> <endpoint>`` (the API starts,
restarts and kills it through :mod:`simsage.hosting.supervisor_control`). It is a :class:`~simsage.runtime.job.JobProcess`: it
outlives the process that created the endpoint, as endpoints do on AWS, and holds the
lease (``runner.lock`` in the endpoint folder) for its whole life, so anyone can tell
whether it still runs (see :func:`simsage.runtime.launcher.runner_alive`); a second
supervisor of the same endpoint leaves at once. Unlike a job runner, a supervisor that
meets a bug crashes (the next call that finds the endpoint without one starts another)
rather than failing the endpoint.

What it does, polling the registry every 0.1 s:

- **Creating** (or a serving endpoint whose instances are gone, e.g. after a reboot):
  start every variant's instances, wait for each to answer ``/ping``, then InService;
  a model that fails to load (or any instance failing) makes the endpoint Failed with
  the reason, and no process is left.
- **Updating with a new configuration**: start the new generation next to the old one;
  once every new instance answers ``/ping``, switch the routing in one transaction,
  then drain the old instances (SIGTERM: requests in flight finish). If the new
  configuration fails, the old one keeps serving and FailureReason says why.
- **Updating weights and capacities**: start or stop instances to the desired counts,
  then take the desired weights.
- **Deleting**: drain every instance, then remove the endpoint from the registry.
- An instance that dies, or fails its ``/ping`` health check three times in a row, is
  logged, taken out of the routing and replaced.
- **Serverless variants** (:mod:`simsage.hosting.serverless`): creation proves the
  container starts, then the :class:`~simsage.hosting.serverless.ServerlessKeeper`
  starts an instance when a caller asks (a cold start) and stops it when idle; a dead
  on-demand instance is not replaced (the next invocation starts one).
- **Asynchronous endpoints** (:mod:`simsage.hosting.async_inference`): the
  :class:`~simsage.hosting.async_worker.AsyncWorker` works through the queue; requests
  an earlier supervisor was working on go back to the queue when this one starts.

Every few seconds the supervisor publishes each ready instance's CPUUtilization and
MemoryUtilization in ``/aws/sagemaker/Endpoints`` by EndpointName and VariantName
(:mod:`simsage.runtime.usage`), as SageMaker's instance metrics.

Instances are ``python -m simsage.serving.server`` processes in the supervisor's process
group started with ``--exit-with-parent``: killing the supervisor (or its group) never
leaves an instance behind. A custom image's instances are containers on the Docker
engine (:mod:`simsage.runtime.docker_serving`), which outlive a killed supervisor: the
next one removes them (:func:`~simsage.hosting.supervisor_control.end_containers`) before
it starts its own. Their output goes to the log group
``/aws/sagemaker/Endpoints/<endpoint>``, stream ``<variant>/<instance id>``.
"""

from __future__ import annotations

import copy
import os
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from simsage.hosting.async_inference import AsyncQueue
from simsage.hosting.async_worker import AsyncWorker
from simsage.hosting.endpoint_state import (
    SERVING,
    Endpoint,
    EndpointStore,
    Instance,
    Variant,
)
from simsage.hosting.serverless import ServerlessKeeper, is_provisioned
from simsage.hosting.supervisor_control import (
    end_containers,
    kill_instance,
    log_group,
)
from simsage.runtime.docker_serving import record_name as docker_record
from simsage.runtime.job import JobProcess
from simsage.runtime.model_setup import prepare_model, serving_plan
from simsage.runtime.servers import (
    DEFAULT_STARTUP_TIMEOUT,
    ContainerError,
    InferenceServer,
    StartCancelled,
    start_server,
)
from simsage.runtime.usage import InstanceUsage
from simsage.s3.backend import S3Backend
from simsage.transport.endpoint_use import container_access, job_environment

POLL_SECONDS = 0.1
INSTANCE_METRICS_NAMESPACE = "/aws/sagemaker/Endpoints"
DRAIN_GRACE = 30.0  # SIGTERM, then SIGKILL 30 s later, as SageMaker does
LOG_FLUSH_SECONDS = 0.2
HEALTH_CHECK_SECONDS = 1.0
HEALTH_CHECK_FAILURES = 3  # pings failed in a row before an instance is replaced


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


@dataclass
class Running:
    """An instance this supervisor started."""

    instance: Instance
    server: InferenceServer
    folder: Path


class _HealthChecker:
    """Pings every ready instance each second from its own thread. An instance whose
    ``/ping`` fails (no 200 within the 2 s ping timeout) three times in a row is
    killed, and the supervisor's loop replaces it — as SageMaker replaces instances
    that fail their health checks. Requests stuck on it fail over to another instance
    when its connections drop."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        self._failures: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(HEALTH_CHECK_SECONDS):
            for running in list(self.supervisor.running.values()):
                instance, server = running.instance, running.server
                if instance.state != "ready" or not server.alive():
                    continue
                if server.ping():
                    self._failures.pop(instance.instance_id, None)
                    continue
                failed = self._failures.get(instance.instance_id, 0) + 1
                self._failures[instance.instance_id] = failed
                if failed >= HEALTH_CHECK_FAILURES and not self._stop.is_set():
                    self.supervisor.log_lines.add(
                        f"{instance.variant}/{instance.instance_id}",
                        f"simsage: instance {instance.instance_id} failed {failed} health "
                        "checks in a row (GET /ping); replacing it",
                    )
                    server.kill()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5.0)


class Cancelled(Exception):
    """The endpoint was deleted while instances were starting."""


class Supervisor(JobProcess):
    kind = "endpoint supervisor"
    exclusive = True  # the first supervisor keeps the endpoint; another leaves at once
    records_signals = False

    def __init__(self, home, name: str) -> None:
        self.store = EndpointStore(home)
        endpoint = self.store.find(name)
        super().__init__(home, name, Path(endpoint.folder) if endpoint else None, log_group(name))
        self.region = endpoint.region if endpoint else home.config.region
        self.s3 = S3Backend(home)
        self.running: dict[str, Running] = {}
        self.handled_revision = -1
        self.log_lines.start(LOG_FLUSH_SECONDS)
        self.serverless = ServerlessKeeper(self)
        self.async_worker = AsyncWorker(self)
        self._health: _HealthChecker | None = None
        self.usage = InstanceUsage(home, INSTANCE_METRICS_NAMESPACE)

    # -- the job process's hooks ---------------------------------------------------------
    def status(self) -> str | None:
        endpoint = self.store.find(self.name)
        return endpoint.status if endpoint else None

    def fail(self, reason: str) -> None:
        self._fail(reason)

    def failed_unexpectedly(self, exc: Exception) -> None:
        raise exc  # crash: ensure_supervisor starts a new supervisor when one is needed

    def cleanup(self) -> None:
        if self._health is not None:
            self._health.close()
        self.async_worker.close()
        self._stop_all(list(self.running), grace=2.0)
        self.log_lines.close()

    # -- main loop ---------------------------------------------------------------------
    def work(self) -> None:
        self._forget_stale_instances()
        AsyncQueue(self.home.db).requeue_running(self.name)
        registry = self.home.path / "state.db"
        registry_id = _inode(registry)
        checked = time.monotonic()
        self._health = _HealthChecker(self)
        try:
            while True:
                if time.monotonic() - checked > 1.0:  # the home was deleted: stop serving
                    checked = time.monotonic()
                    if _inode(registry) != registry_id:
                        self._log_supervisor(f"{self.home.path} is gone; stopping the endpoint")
                        return
                endpoint = self.store.find(self.name)
                if endpoint is None or endpoint.status == "Deleting":
                    self._delete(endpoint)
                    return
                if endpoint.status == "Failed":
                    self._stop_all(list(self.running))
                    return
                self._reconcile(endpoint)
                self._sample_usage()
                time.sleep(POLL_SECONDS)
        except Cancelled:
            self._delete(self.store.find(self.name))

    def _sample_usage(self) -> None:
        trees = [
            (r.server.pid, {"EndpointName": self.name, "VariantName": r.instance.variant})
            for r in list(self.running.values())
            if r.instance.state == "ready" and r.server.pid and r.server.alive()
        ]
        self.usage.sample(trees)

    def _forget_stale_instances(self) -> None:
        """Instances recorded by an earlier supervisor of this endpoint: kill and forget."""
        stale = self.store.instances(self.name)
        for instance in stale:
            kill_instance(instance)
        endpoint = self.store.find(self.name)
        if endpoint is not None:  # the containers of an earlier supervisor's instances
            end_containers(endpoint)
        if stale:
            self.store.drop_instances(self.name, [i.instance_id for i in stale])

    def _reconcile(self, endpoint: Endpoint) -> None:
        live = [r for r in self.running.values() if r.instance.generation == endpoint.generation]
        # Serverless variants run no instance while idle: only instance-based ones revive.
        instance_based = any(v.serverless is None for v in endpoint.variants)
        if endpoint.status == "Creating" or (
            endpoint.status in SERVING and not live and instance_based
        ):
            self._deploy_initial(endpoint)
            if endpoint.status == "Updating":
                return  # revived mid-update: the update itself comes on the next turn
        elif endpoint.revision != self.handled_revision and endpoint.status == "Updating":
            if endpoint.pending is not None:
                self._deploy_update(endpoint)
            else:
                self._rescale(endpoint)
        else:
            self._replace_dead(endpoint)
            self.serverless.tick(endpoint)
            self.async_worker.tick(endpoint)
        self.handled_revision = endpoint.revision

    # -- deployments ---------------------------------------------------------------------
    @staticmethod
    def _count(variant: Variant, count: int) -> int:
        """Instances to start for a deployment: a serverless variant starts one, which
        proves its container starts (the keeper stops it again unless provisioned)."""
        return 1 if variant.serverless is not None else count

    def _deploy_initial(self, endpoint: Endpoint) -> None:
        wanted = [
            (v, self._count(v, v.current_count or v.desired_count)) for v in endpoint.variants
        ]
        try:
            self._start(endpoint, wanted, endpoint.generation)
        except ContainerError as exc:
            self._stop_all(list(self.running))
            self._fail(str(exc))
            return
        now = time.time()

        def serve(ep: Endpoint) -> None:
            for variant in ep.variants:
                variant.current_weight = variant.desired_weight
                variant.current_count = variant.current_count or variant.desired_count
                variant.current_serverless = copy.deepcopy(variant.serverless)
                variant.status, variant.status_since = None, None
                variant.resolved = variant.resolved or now
            if ep.status == "Updating":  # revived mid-update: the update is still to do
                return
            ep.status, ep.failure_reason = "InService", None

        self.store.change(self.name, serve, routing=True)
        self.serverless.settle(endpoint)

    def _deploy_update(self, endpoint: Endpoint) -> None:
        assert endpoint.pending is not None
        pending = endpoint.pending
        generation = endpoint.generation + 1
        old = [key for key, r in self.running.items() if r.instance.generation != generation]
        wanted = [(v, self._count(v, v.desired_count)) for v in pending.variants]
        try:
            self._start(endpoint, wanted, generation)
        except ContainerError as exc:
            self._stop_all(
                [k for k, r in self.running.items() if r.instance.generation == generation]
            )
            reason = f"Failed to update endpoint: {exc}"

            def roll_back(ep: Endpoint) -> None:
                ep.pending, ep.status, ep.failure_reason = None, "InService", reason

            self.store.change(self.name, roll_back, routing=True)
            return
        now = time.time()

        def switch(ep: Endpoint) -> None:
            for variant in pending.variants:
                variant.current_weight = variant.desired_weight
                variant.current_count = variant.desired_count
                variant.current_serverless = copy.deepcopy(variant.serverless)
                variant.status, variant.status_since, variant.resolved = None, None, now
            ep.variants, ep.config_name, ep.capture, ep.async_config = (
                pending.variants,
                pending.config_name,
                pending.capture,
                pending.async_config,
            )
            ep.generation, ep.pending = generation, None
            ep.status, ep.failure_reason = "InService", None

        switched = self.store.change(self.name, switch, routing=True)
        self._stop_all(old)
        if switched is not None:
            self.serverless.settle(switched)

    def _rescale(self, endpoint: Endpoint) -> None:
        for variant in endpoint.variants:
            if variant.serverless is not None:
                continue  # the keeper follows its (new) ServerlessConfig
            mine = sorted(
                (r for r in self.running.values() if r.instance.variant == variant.name),
                key=lambda r: r.instance.started,
            )
            if len(mine) < variant.desired_count:
                try:
                    self._start(
                        endpoint,
                        [(variant, variant.desired_count - len(mine))],
                        endpoint.generation,
                    )
                except ContainerError as exc:
                    self._log_supervisor(f"could not add an instance to {variant.name}: {exc}")
            elif len(mine) > variant.desired_count:
                extra = mine[variant.desired_count :]
                self._stop_all([r.instance.instance_id for r in extra])

        def settle(ep: Endpoint) -> None:
            for variant in ep.variants:
                if variant.serverless is not None:
                    variant.current_weight = variant.desired_weight
                    variant.current_serverless = copy.deepcopy(variant.serverless)
                    variant.status, variant.status_since = None, None
                    continue
                count = sum(1 for r in self.running.values() if r.instance.variant == variant.name)
                variant.current_weight = variant.desired_weight
                variant.current_count = count
                variant.status, variant.status_since = None, None
            ep.status = "InService"

        self.store.change(self.name, settle, routing=True)

    def _replace_dead(self, endpoint: Endpoint) -> None:
        dead = [r for r in self.running.values() if not r.server.alive()]
        for running in dead:
            instance = running.instance
            code = running.server.process.returncode
            self.log_lines.add(
                f"{instance.variant}/{instance.instance_id}",
                f"simsage: instance {instance.instance_id} exited with status {code}; replacing it",
            )
            del self.running[instance.instance_id]
            self.store.drop_instances(self.name, [instance.instance_id])
            shutil.rmtree(running.folder, ignore_errors=True)
        for running in dead:
            variant = endpoint.variant(running.instance.variant)
            if variant is None or running.instance.generation != endpoint.generation:
                continue
            if variant.serverless is not None and not is_provisioned(variant):
                continue  # on demand: the next invocation starts one
            try:
                self._start(endpoint, [(variant, 1)], endpoint.generation)
            except ContainerError as exc:
                self._log_supervisor(f"could not replace {running.instance.instance_id}: {exc}")

    # -- instances -----------------------------------------------------------------------
    def _start(
        self, endpoint: Endpoint, wanted: list[tuple[Variant, int]], generation: int
    ) -> None:
        """Start ``count`` instances of each variant and wait until all answer /ping.

        Raises:
            ContainerError: an instance failed to start (the others of this call are
                stopped); Cancelled: the endpoint is being deleted.
        """
        started: list[Running] = []
        wanted = [(variant, count) for variant, count in wanted if count > 0]
        if not wanted:
            return
        try:
            for variant, count in wanted:
                plan = serving_plan(variant.image, variant.environment)
                for _ in range(count):
                    started.append(self._start_one(variant, plan, generation))
            self._wait_ready(
                started, max(v.startup_timeout or DEFAULT_STARTUP_TIMEOUT for v, _ in wanted)
            )
        except BaseException:
            self._stop_all([r.instance.instance_id for r in started], grace=2.0)
            raise

    def _start_one(self, variant: Variant, plan, generation: int) -> Running:
        instance_id = "i-" + os.urandom(9).hex()[:17]
        folder = self.folder / instance_id
        try:
            env = prepare_model(
                self.s3, variant.model_data_url, plan, folder, variant.volume_size_in_gb
            )
        except ContainerError:
            shutil.rmtree(folder, ignore_errors=True)  # no half-laid-out instance stays
            raise
        stream = f"{variant.name}/{instance_id}"
        if plan.mode != "container" and not variant.isolated:  # S3 from inside, as on AWS
            env = {**job_environment(self.home.path, self.region), **env}
        try:
            server = start_server(
                plan,
                folder / "model",
                env,
                on_line=lambda text: self.log_lines.add(stream, text),
                owner=("endpoint", self.name, instance_id),
                record=self.folder / docker_record(instance_id),
                instance_type=variant.instance_type,
                s3=None
                if variant.isolated
                else partial(container_access, self.home.path, self.region),
            )
        except ContainerError:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        instance = Instance(
            self.name,
            instance_id,
            variant.name,
            generation,
            server.pid or 0,  # 0: a container, no host process
            None,
            "starting",
            time.time(),
        )
        running = Running(instance, server, folder)
        self.running[instance_id] = running
        self.store.put_instance(instance)
        return running

    def _wait_ready(self, started: list[Running], timeout: float) -> None:
        """Wait for each instance's /ping (they start together, so waiting in turn
        costs no more than the slowest) and route to each as soon as it answers."""
        deadline = time.monotonic() + timeout
        for running in started:
            try:
                running.server.wait_ready(
                    max(deadline - time.monotonic(), 0.0), cancelled=self._deleting
                )
            except StartCancelled:
                raise Cancelled() from None
            running.instance.port = running.server.port
            running.instance.state = "ready"
            self.store.put_instance(running.instance, routing=True)

    def _deleting(self) -> bool:
        endpoint = self.store.find(self.name)
        return endpoint is None or endpoint.status == "Deleting"

    def _stop_all(self, instance_ids: list[str], grace: float = DRAIN_GRACE) -> None:
        """Drain and stop instances (in parallel) and forget them."""
        chosen = [self.running.pop(i) for i in instance_ids if i in self.running]
        if not chosen:
            return
        self.store.set_instance_state(
            self.name, [r.instance.instance_id for r in chosen], "draining"
        )
        with ThreadPoolExecutor(max_workers=min(16, len(chosen))) as pool:
            list(pool.map(lambda r: r.server.terminate(grace), chosen))
        self.store.drop_instances(self.name, [r.instance.instance_id for r in chosen])
        for running in chosen:
            shutil.rmtree(running.folder, ignore_errors=True)

    # -- outcomes --------------------------------------------------------------------------
    def _fail(self, reason: str) -> None:
        def fail(ep: Endpoint) -> None:
            ep.status, ep.failure_reason = "Failed", reason
            for variant in ep.variants:
                variant.status, variant.status_since = None, None

        self.store.change(self.name, fail, routing=True)

    def _delete(self, endpoint: Endpoint | None) -> None:
        """Drain every instance, remove the endpoint's folder, then its row. The folder
        goes first: once the row is gone the name may be taken again, and the new
        endpoint's supervisor works in a folder of the same path. (The lock we hold
        stays ours after its file is unlinked.)"""
        self._stop_all(list(self.running))
        AsyncQueue(self.home.db).drop(self.name)
        self.log_lines.flush()
        if endpoint is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.store.remove(self.name)

    def _log_supervisor(self, text: str) -> None:
        print(f"simsage-supervisor: {text}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(Supervisor.main(sys.argv))
