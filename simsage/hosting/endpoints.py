"""Endpoints: CreateEndpoint, DescribeEndpoint, ListEndpoints, UpdateEndpoint,
UpdateEndpointWeightsAndCapacities, DeleteEndpoint.

Layer: control plane. The API records what is asked and returns at once, as SageMaker
does; the endpoint's supervisor process (:mod:`simsage.hosting.supervisor`) does the
work and moves the status on: Creating → InService | Failed, Updating → InService,
Deleting → gone (DescribeEndpoint then answers "Could not find endpoint", which is
what boto3's ``endpoint_deleted`` waiter waits for).

Deleting an endpoint configuration or a model an endpoint uses is allowed, as on AWS:
the endpoint keeps the snapshot it was deployed from.

A serverless variant (:mod:`simsage.hosting.serverless`) has no instance counts: its
capacity is its ServerlessConfig, which UpdateEndpointWeightsAndCapacities changes with
ServerlessUpdateConfig. An endpoint cannot switch between serverless and instance-based
variants by UpdateEndpoint, as on AWS. An asynchronous endpoint keeps its
AsyncInferenceConfig (:mod:`simsage.hosting.async_inference`).
"""

from __future__ import annotations

import copy
from typing import Any

from simsage.errors import ValidationException
from simsage.hosting import serverless
from simsage.hosting.endpoint_configs import EndpointConfig, EndpointConfigStore
from simsage.hosting.endpoint_state import (
    Deployment,
    Endpoint,
    EndpointStore,
    Variant,
    endpoint_arn,
)
from simsage.hosting.supervisor_control import (
    ensure_supervisor,
    kill_endpoint_processes,
    launch_supervisor,
    remove_orphaned,
    supervisor_alive,
)
from simsage.store.models import ModelStore, model_not_found
from simsage.store.registry import STATUS_LISTING, list_answer
from simsage.transport import Request

_RETAINABLE = ("DesiredInstanceCount", "DesiredWeight", "DataCaptureConfig")


class EndpointsAPI:
    OPERATIONS = (
        "create_endpoint",
        "describe_endpoint",
        "list_endpoints",
        "update_endpoint",
        "update_endpoint_weights_and_capacities",
        "delete_endpoint",
    )

    def __init__(self, home, tags) -> None:
        self.home = home
        self.store = EndpointStore(home)
        self.configs = EndpointConfigStore(home)
        self.models = ModelStore(home)
        self.tags = tags

    # -- create --------------------------------------------------------------------------
    def create_endpoint(self, request: Request) -> dict[str, Any]:
        """Record the endpoint as Creating and start its supervisor.

        Raises:
            ValidationException: an unknown configuration or model, or a name taken
                (any case).
        """
        params = request.params
        name = params["EndpointName"]
        config = self._config(params["EndpointConfigName"], request)
        now = self.home.clock.time()
        new_arn = endpoint_arn(request.region, request.account_id, name)
        endpoint = Endpoint(
            name=name,
            arn=new_arn,
            region=request.region,
            status="Creating",
            created=now,
            modified=now,
            config_name=config.name,
            variants=self._variants(config, request, now),
            capture=copy.deepcopy(config.data_capture),
            deployment_config=params.get("DeploymentConfig"),
            folder=str(self.home.path / "endpoints" / name.lower()),
            async_config=copy.deepcopy(config.async_inference),
        )
        self.store.create(endpoint)
        self.tags.set(new_arn, params.get("Tags", []))
        launch_supervisor(self.home, self.store, endpoint)
        return {"EndpointArn": new_arn}

    def _config(self, name: str, request: Request) -> EndpointConfig:
        return self.configs.get(name, request.region, request.account_id)

    def _variants(self, config: EndpointConfig, request: Request, now: float) -> list[Variant]:
        """Snapshot the configuration's variants with their models' containers."""
        variants = []
        for spec in config.variants:
            model = self.models.find(spec.model_name)
            if model is None:
                raise model_not_found(request.region, request.account_id, spec.model_name)
            variants.append(
                Variant(
                    name=spec.variant_name,
                    model_name=model.name,
                    instance_type=spec.instance_type,
                    image=model.container.image,
                    model_data_url=model.container.model_data_url,
                    environment=dict(model.container.environment or {}),
                    desired_weight=spec.initial_variant_weight,
                    desired_count=spec.initial_instance_count or 0,
                    status="Creating",
                    status_since=now,
                    startup_timeout=spec.container_startup_health_check_timeout_in_seconds
                    or (serverless.STARTUP_TIMEOUT if spec.serverless_config else None),
                    volume_size_in_gb=spec.volume_size_in_gb,
                    serverless=copy.deepcopy(spec.serverless_config),
                    isolated=bool((model.spec or {}).get("EnableNetworkIsolation")),
                )
            )
        return variants

    # -- read ----------------------------------------------------------------------------
    def _find(self, name: str, request: Request) -> Endpoint:
        return self.store.get(name, request.region, request.account_id)

    def describe_endpoint(self, request: Request) -> dict[str, Any]:
        name = request.params["EndpointName"]
        endpoint = self._find(name, request)
        ensure_supervisor(self.home, self.store, endpoint)  # revive after a crash/reboot
        return self._find(name, request).describe()

    def list_endpoints(self, request: Request) -> dict[str, Any]:
        page, token = self.store.page(request.params, STATUS_LISTING)
        return list_answer("Endpoints", [e.summary() for e in page], token)

    # -- update --------------------------------------------------------------------------
    def _require_in_service(self, endpoint: Endpoint) -> None:
        if endpoint.status == "Failed":
            raise ValidationException(
                f'Cannot update failed endpoint "{endpoint.arn}". A failed endpoint can only '
                "be deleted; delete it and create it again."
            )
        if endpoint.status != "InService":
            raise ValidationException(
                f'Cannot update in-progress endpoint "{endpoint.arn}". Wait until its status '
                f"is InService (it is {endpoint.status})."
            )

    def update_endpoint(self, request: Request) -> dict[str, Any]:
        """Deploy another configuration: new instances come up before old ones stop."""
        params = request.params
        endpoint = self._find(params["EndpointName"], request)
        self._require_in_service(endpoint)
        config = self._config(params["EndpointConfigName"], request)
        now = self.home.clock.time()
        variants = self._variants(config, request, now)
        was_serverless = any(v.serverless is not None for v in endpoint.variants)
        if was_serverless != any(v.serverless is not None for v in variants):
            kinds = ("serverless", "instance-based")
            old, new = kinds if was_serverless else kinds[::-1]
            raise ValidationException(
                f'Cannot update endpoint "{endpoint.arn}" from {old} to {new} variants. '
                f"Create a new endpoint with configuration {config.name} instead."
            )
        capture = copy.deepcopy(config.data_capture)
        if params.get("RetainAllVariantProperties"):
            excluded = {
                p["VariantPropertyType"] for p in params.get("ExcludeRetainedVariantProperties", [])
            }
            for variant in variants:
                current = endpoint.variant(variant.name)
                if current is None:
                    continue
                if "DesiredWeight" not in excluded:
                    variant.desired_weight = current.desired_weight
                if "DesiredInstanceCount" not in excluded and variant.serverless is None:
                    variant.desired_count = current.desired_count
            if "DataCaptureConfig" not in excluded:
                capture = endpoint.capture
        for variant in variants:
            variant.status = "Creating"
        pending = Deployment(
            config.name, variants, capture, now, copy.deepcopy(config.async_inference)
        )

        def start_update(ep: Endpoint) -> None:
            self._require_in_service(ep)
            ep.status, ep.pending = "Updating", pending
            if "DeploymentConfig" in params:
                ep.deployment_config = params["DeploymentConfig"]

        self.store.change(endpoint.name, start_update, revision=True)
        ensure_supervisor(self.home, self.store, endpoint)
        return {"EndpointArn": endpoint.arn}

    def update_endpoint_weights_and_capacities(self, request: Request) -> dict[str, Any]:
        """Change variant weights (routing) and instance counts."""
        params = request.params
        endpoint = self._find(params["EndpointName"], request)
        self._require_in_service(endpoint)
        desired = params["DesiredWeightsAndCapacities"]
        seen: set[str] = set()
        for item in desired:
            if item["VariantName"] in seen:
                raise ValidationException(
                    f'The variant name "{item["VariantName"]}" was non-unique within the '
                    "request. Give each variant once in DesiredWeightsAndCapacities."
                )
            seen.add(item["VariantName"])
        unknown = [d["VariantName"] for d in desired if endpoint.variant(d["VariantName"]) is None]
        if unknown:
            raise ValidationException(
                f"The variant name(s) [{', '.join(unknown)}] is/are not present in endpoint "
                f'"{endpoint.arn}". Its variants are '
                f"[{', '.join(v.name for v in endpoint.variants)}]."
            )
        for item in desired:
            if not {"DesiredWeight", "DesiredInstanceCount", "ServerlessUpdateConfig"} & set(item):
                raise ValidationException(
                    f"Variant {item['VariantName']}: give DesiredWeight, DesiredInstanceCount "
                    "(ServerlessUpdateConfig for a serverless variant) or several of them."
                )
            _check_serverless_update(endpoint.variant(item["VariantName"]), item)
            if item.get("DesiredInstanceCount", 1) < 1:
                raise ValidationException(
                    f"Variant {item['VariantName']}: DesiredInstanceCount must be at least 1."
                )
        now = self.home.clock.time()

        def start_update(ep: Endpoint) -> None:
            self._require_in_service(ep)
            for item in desired:
                variant = ep.variant(item["VariantName"])
                assert variant is not None
                variant.desired_weight = float(item.get("DesiredWeight", variant.desired_weight))
                variant.desired_count = item.get("DesiredInstanceCount", variant.desired_count)
                if variant.serverless is not None and "ServerlessUpdateConfig" in item:
                    variant.serverless = {**variant.serverless, **item["ServerlessUpdateConfig"]}
                variant.status, variant.status_since = "Updating", now
            ep.status = "Updating"

        self.store.change(endpoint.name, start_update, revision=True)
        ensure_supervisor(self.home, self.store, endpoint)
        return {"EndpointArn": endpoint.arn}

    # -- delete --------------------------------------------------------------------------
    def delete_endpoint(self, request: Request) -> dict[str, Any]:
        """Mark the endpoint Deleting; its supervisor drains the instances and removes
        it. Without a supervisor (Failed, or killed) it goes at once."""
        endpoint = self._find(request.params["EndpointName"], request)

        def mark(ep: Endpoint) -> None:
            ep.status = "Deleting"

        self.store.change(endpoint.name, mark, revision=True)
        self.tags.forget(endpoint.arn)
        if not supervisor_alive(endpoint):
            remove_orphaned(self.store, endpoint)
        return {}


def _check_serverless_update(variant: Variant | None, item: dict[str, Any]) -> None:
    """ServerlessUpdateConfig only for a serverless variant, DesiredInstanceCount only
    for an instance-based one; ProvisionedConcurrency stays within MaxConcurrency."""
    if variant is None:
        return
    if variant.serverless is None:
        if "ServerlessUpdateConfig" in item:
            raise ValidationException(
                f"Variant {variant.name} is instance-based: ServerlessUpdateConfig applies to "
                "serverless variants only; give DesiredInstanceCount instead."
            )
        return
    if "DesiredInstanceCount" in item:
        raise ValidationException(
            f"Variant {variant.name} is serverless: it has no instances to count. Change its "
            "capacity with ServerlessUpdateConfig (MaxConcurrency, ProvisionedConcurrency)."
        )
    merged = {**variant.serverless, **item.get("ServerlessUpdateConfig", {})}
    provisioned = merged.get("ProvisionedConcurrency")
    if provisioned is not None and provisioned > merged["MaxConcurrency"]:
        raise ValidationException(
            f"Variant {variant.name}: ProvisionedConcurrency ({provisioned}) must be less than "
            f"or equal to MaxConcurrency ({merged['MaxConcurrency']})."
        )


def stop_endpoint_processes(home) -> None:
    """Kill every endpoint supervisor of ``home`` and its instances (the pytest fixture
    calls this through Home.stop_everything)."""
    store = EndpointStore(home)
    for endpoint in store.all():
        kill_endpoint_processes(store, endpoint)
