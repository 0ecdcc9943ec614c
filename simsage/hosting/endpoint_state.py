"""Endpoints in the registry: what was asked (desired) and what runs (current).

Layer: store. One row per endpoint in ``hosting_endpoints`` and one per running
instance in ``hosting_instances``. Three kinds of process touch them:

- the API (CreateEndpoint, UpdateEndpoint …) writes the desired state and the status
  and bumps ``revision``;
- the endpoint's supervisor (:mod:`simsage.hosting.supervisor`) starts and stops
  instances, records them, and moves the status on (InService, Failed …);
- the router (:mod:`simsage.hosting.runtime`) reads the routing: the live variants'
  weights and the instances that are ready. ``routing_version`` changes whenever
  either does, so the router re-reads only then.

Every read-modify-write happens in one ``BEGIN IMMEDIATE`` transaction.

An endpoint keeps a snapshot of its configuration's variants and models, so deleting
the endpoint configuration or the model later does not disturb it (as on AWS).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from simsage.errors import ValidationException
from simsage.hosting.endpoint_configs import DataCapture
from simsage.ids import from_epoch
from simsage.store.db import register_schema
from simsage.store.registry import Kind, ResourceTable, already_exists, could_not_find, declare

register_schema(
    """
    CREATE TABLE IF NOT EXISTS hosting_endpoints (
        name TEXT PRIMARY KEY COLLATE NOCASE, arn TEXT NOT NULL, region TEXT NOT NULL,
        status TEXT NOT NULL, body TEXT NOT NULL, created REAL NOT NULL,
        modified REAL NOT NULL, revision INTEGER NOT NULL, routing_version INTEGER NOT NULL,
        supervisor_pid INTEGER, supervisor_started REAL, folder TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS hosting_instances (
        endpoint TEXT NOT NULL COLLATE NOCASE, instance_id TEXT NOT NULL,
        variant TEXT NOT NULL, generation INTEGER NOT NULL, pid INTEGER NOT NULL,
        port INTEGER, state TEXT NOT NULL, started REAL NOT NULL,
        PRIMARY KEY (endpoint, instance_id))
    """
)
ENDPOINT = declare(
    Kind("endpoint", "hosting_endpoints", already_exists("endpoint"), could_not_find("endpoint"))
)

# Statuses in which an endpoint serves traffic.
SERVING = ("InService", "Updating", "SystemUpdating", "RollingBack")
# Statuses in which the supervisor has work to do (or is keeping instances alive).
ACTIVE = ("Creating", "Updating", "SystemUpdating", "RollingBack", "InService", "Deleting")


@dataclass
class Variant:
    """One production variant as the endpoint runs it (or is about to)."""

    name: str
    model_name: str
    instance_type: str | None  # None for a serverless variant
    image: str
    model_data_url: str | None
    environment: dict[str, str]
    desired_weight: float
    desired_count: int
    current_weight: float | None = None
    current_count: int | None = None
    status: str | None = None  # VariantStatus while Creating/Updating, else None
    status_since: float | None = None
    resolved: float | None = None  # when the image was "resolved" (deployed)
    startup_timeout: float | None = None  # ContainerStartupHealthCheckTimeoutInSeconds
    volume_size_in_gb: int | None = None  # VolumeSizeInGB (None: SageMaker's default)
    serverless: dict[str, Any] | None = None  # desired ServerlessConfig (None: instances)
    current_serverless: dict[str, Any] | None = None
    isolated: bool = False  # the model's EnableNetworkIsolation: its containers get no S3

    def describe(self, pending: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"VariantName": self.name}
        if self.resolved is not None:
            out["DeployedImages"] = [
                {
                    "SpecifiedImage": self.image,
                    "ResolvedImage": self.image,
                    "ResolutionTime": from_epoch(self.resolved),
                }
            ]
        if self.current_weight is not None:
            out["CurrentWeight"] = self.current_weight
        out["DesiredWeight"] = self.desired_weight
        if self.serverless is not None:  # serverless variants have no instance counts
            if self.current_serverless is not None:
                out["CurrentServerlessConfig"] = copy.deepcopy(self.current_serverless)
            out["DesiredServerlessConfig"] = copy.deepcopy(self.serverless)
        else:
            if self.current_count is not None:
                out["CurrentInstanceCount"] = self.current_count
            out["DesiredInstanceCount"] = self.desired_count
        if pending and self.instance_type is not None:
            out["InstanceType"] = self.instance_type
        if self.status is not None:
            entry: dict[str, Any] = {"Status": self.status}
            if self.status_since is not None:
                entry["StartTime"] = from_epoch(self.status_since)
            out["VariantStatus"] = [entry]
        return out


@dataclass
class Deployment:
    """A configuration being rolled out by UpdateEndpoint."""

    config_name: str
    variants: list[Variant]
    capture: DataCapture | None
    started: float
    async_config: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Deployment:
        return cls(
            config_name=data["config_name"],
            variants=[Variant(**v) for v in data["variants"]],
            capture=None if data["capture"] is None else DataCapture(**data["capture"]),
            started=data["started"],
            async_config=data.get("async_config"),
        )


@dataclass
class Endpoint:
    """An endpoint's row. ``generation`` numbers the deployments: instances started
    for a deployment carry its generation, and the router uses only the current one."""

    name: str
    arn: str
    region: str
    status: str
    created: float
    modified: float
    config_name: str
    variants: list[Variant]
    capture: DataCapture | None = None
    failure_reason: str | None = None
    pending: Deployment | None = None
    generation: int = 1
    deployment_config: dict[str, Any] | None = None
    revision: int = 0
    routing_version: int = 0
    supervisor_pid: int | None = None
    supervisor_started: float | None = None
    folder: str = ""
    async_config: dict[str, Any] | None = None  # AsyncInferenceConfig (None: real-time)

    def variant(self, name: str) -> Variant | None:
        return next((v for v in self.variants if v.name == name), None)

    def describe(self) -> dict[str, Any]:
        """DescribeEndpoint's answer."""
        out: dict[str, Any] = {
            "EndpointName": self.name,
            "EndpointArn": self.arn,
            "EndpointConfigName": self.config_name,
            "ProductionVariants": [v.describe() for v in self.variants],
        }
        if self.capture is not None:
            out["DataCaptureConfig"] = self.capture.summary()
        out["EndpointStatus"] = self.status
        if self.failure_reason:
            out["FailureReason"] = self.failure_reason
        out["CreationTime"] = from_epoch(self.created)
        out["LastModifiedTime"] = from_epoch(self.modified)
        if self.deployment_config is not None:
            out["LastDeploymentConfig"] = copy.deepcopy(self.deployment_config)
        if self.async_config is not None:
            out["AsyncInferenceConfig"] = copy.deepcopy(self.async_config)
        if self.pending is not None:
            out["PendingDeploymentSummary"] = {
                "EndpointConfigName": self.pending.config_name,
                "ProductionVariants": [v.describe(pending=True) for v in self.pending.variants],
                "StartTime": from_epoch(self.pending.started),
            }
        return out

    def summary(self) -> dict[str, Any]:
        """ListEndpoints' entry."""
        return {
            "EndpointName": self.name,
            "EndpointArn": self.arn,
            "CreationTime": from_epoch(self.created),
            "LastModifiedTime": from_epoch(self.modified),
            "EndpointStatus": self.status,
        }


@dataclass
class Instance:
    """One running inference server of an endpoint variant."""

    endpoint: str
    instance_id: str
    variant: str
    generation: int
    pid: int
    port: int | None
    state: str  # starting | ready | draining
    started: float = field(default=0.0)


def endpoint_arn(region: str, account_id: str, name: str) -> str:
    """The ARN of endpoint ``name`` (SageMaker lowercases the name in it)."""
    return ENDPOINT.arn(region, account_id, name)


def endpoint_not_found(region: str, account_id: str, name: str) -> ValidationException:
    return ENDPOINT.not_found(name, region, account_id)


_INSTANCE_COLUMNS = "endpoint, instance_id, variant, generation, pid, port, state, started"


class EndpointStore(ResourceTable[Endpoint]):
    """Endpoint and instance rows of one home."""

    kind = ENDPOINT
    columns = (
        "name", "arn", "region", "status", "body", "created", "modified", "revision",
        "routing_version", "supervisor_pid", "supervisor_started", "folder",
    )  # fmt: skip
    json_columns = frozenset({"body"})

    # -- endpoints -------------------------------------------------------------------
    def to_row(self, endpoint: Endpoint) -> tuple:
        return (
            endpoint.name,
            endpoint.arn,
            endpoint.region,
            endpoint.status,
            _body(endpoint),
            endpoint.created,
            endpoint.modified,
            endpoint.revision,
            endpoint.routing_version,
            endpoint.supervisor_pid,
            endpoint.supervisor_started,
            endpoint.folder,
        )

    def from_row(self, row) -> Endpoint:
        (name, endpoint_arn, region, status, data, created, modified, revision, routing,
         pid, pid_started, folder) = row  # fmt: skip
        return Endpoint(
            name=name,
            arn=endpoint_arn,
            region=region,
            status=status,
            created=created,
            modified=modified,
            config_name=data["config_name"],
            variants=[Variant(**v) for v in data["variants"]],
            capture=None if data["capture"] is None else DataCapture(**data["capture"]),
            failure_reason=data["failure_reason"],
            pending=None if data["pending"] is None else Deployment.from_dict(data["pending"]),
            generation=data["generation"],
            deployment_config=data["deployment_config"],
            async_config=data.get("async_config"),
            revision=revision,
            routing_version=routing,
            supervisor_pid=pid,
            supervisor_started=pid_started,
            folder=folder,
        )

    def head(self, name: str) -> tuple[str, str, int] | None:
        """(exact name, status, routing_version) — the router's per-call check."""
        return self.db.query_one(
            "SELECT name, status, routing_version FROM hosting_endpoints WHERE name = ?", (name,)
        )

    def change(
        self,
        name: str,
        mutate: Callable[[Endpoint], Any],
        *,
        revision: bool = False,
        routing: bool = False,
    ) -> Endpoint | None:
        """Apply ``mutate`` to the endpoint in one transaction and store it.

        ``mutate`` may raise to abort (nothing is written). ``revision`` marks a change
        the supervisor must act on; ``routing`` one the router must see. Returns the
        stored endpoint, or None if there is none.
        """
        with self.db.write() as conn:
            row = conn.execute(f"{self.select} WHERE name = ?", (name,)).fetchone()
            if row is None:
                return None
            endpoint = self.decode(row)
            mutate(endpoint)
            endpoint.modified = self.clock.time()
            endpoint.revision += int(revision)
            endpoint.routing_version += int(routing)
            self.set(
                conn,
                endpoint.name,
                {
                    "status": endpoint.status,
                    "body": _body(endpoint),
                    "modified": endpoint.modified,
                    "revision": endpoint.revision,
                    "routing_version": endpoint.routing_version,
                    "supervisor_pid": endpoint.supervisor_pid,
                    "supervisor_started": endpoint.supervisor_started,
                },
            )
        return endpoint

    def remove(self, name: str) -> None:
        """Delete the endpoint and its instance rows."""
        with self.db.write() as conn:
            conn.execute("DELETE FROM hosting_instances WHERE endpoint = ?", (name,))
            conn.execute("DELETE FROM hosting_endpoints WHERE name = ?", (name,))

    # -- instances -------------------------------------------------------------------
    def instances(self, name: str) -> list[Instance]:
        rows = self.db.query(
            f"SELECT {_INSTANCE_COLUMNS} FROM hosting_instances WHERE endpoint = ? "
            "ORDER BY started, instance_id",
            (name,),
        )
        return [Instance(*row) for row in rows]

    def put_instance(self, instance: Instance, routing: bool = False) -> None:
        """Insert or replace an instance row (bumping routing_version if asked)."""
        with self.db.write() as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO hosting_instances ({_INSTANCE_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    instance.endpoint,
                    instance.instance_id,
                    instance.variant,
                    instance.generation,
                    instance.pid,
                    instance.port,
                    instance.state,
                    instance.started,
                ),
            )
            if routing:
                _bump_routing(conn, instance.endpoint)

    def drop_instances(self, name: str, instance_ids: list[str], routing: bool = True) -> None:
        with self.db.write() as conn:
            conn.executemany(
                "DELETE FROM hosting_instances WHERE endpoint = ? AND instance_id = ?",
                [(name, i) for i in instance_ids],
            )
            if routing:
                _bump_routing(conn, name)

    def set_instance_state(self, name: str, instance_ids: list[str], state: str) -> None:
        with self.db.write() as conn:
            conn.executemany(
                "UPDATE hosting_instances SET state = ? WHERE endpoint = ? AND instance_id = ?",
                [(state, name, i) for i in instance_ids],
            )
            _bump_routing(conn, name)


def _body(endpoint: Endpoint) -> dict[str, Any]:
    """The row's ``body``: the endpoint's configuration snapshot and deployment state."""
    return {
        "config_name": endpoint.config_name,
        "variants": [asdict(v) for v in endpoint.variants],
        "capture": None if endpoint.capture is None else asdict(endpoint.capture),
        "failure_reason": endpoint.failure_reason,
        "pending": None if endpoint.pending is None else asdict(endpoint.pending),
        "generation": endpoint.generation,
        "deployment_config": endpoint.deployment_config,
        "async_config": endpoint.async_config,
    }


def _bump_routing(conn, name: str) -> None:
    conn.execute(
        "UPDATE hosting_endpoints SET routing_version = routing_version + 1 WHERE name = ?",
        (name,),
    )
