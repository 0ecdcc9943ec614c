"""Endpoint configurations: CreateEndpointConfig, DescribeEndpointConfig,
ListEndpointConfigs, DeleteEndpointConfig.

An endpoint configuration lists the production variants an endpoint will run (each an
existing model on InitialInstanceCount instances of InstanceType, or serverless with a
ServerlessConfig, taking a share of the traffic in proportion to InitialVariantWeight)
and, optionally, how to capture its requests and responses and whether it serves
asynchronous requests (AsyncInferenceConfig). It is immutable once created. The rules
of serverless variants are in :mod:`simsage.hosting.serverless`, those of asynchronous
endpoints in :mod:`simsage.hosting.async_inference`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from simsage.errors import ValidationException
from simsage.hosting import async_inference, serverless
from simsage.ids import from_epoch
from simsage.store.db import register_schema
from simsage.store.models import ModelStore, model_not_found
from simsage.store.registry import (
    NAME_LISTING,
    BodyTable,
    Kind,
    already_exists,
    could_not_find,
    declare,
    known_fields,
    list_answer,
)
from simsage.transport import Request
from simsage.transport.echo import described

register_schema(
    """
    CREATE TABLE IF NOT EXISTS hosting_endpoint_configs (
        name TEXT PRIMARY KEY COLLATE NOCASE, arn TEXT NOT NULL, region TEXT NOT NULL,
        body TEXT NOT NULL, created REAL NOT NULL)
    """
)
ENDPOINT_CONFIG = declare(
    Kind(
        "endpoint-config",
        "hosting_endpoint_configs",
        already_exists("endpoint configuration"),
        could_not_find("endpoint configuration"),
    )
)

DEFAULT_VARIANT_WEIGHT = 1.0

# Request fields simsage does not emulate, with what to do instead.
_UNSUPPORTED_CONFIG_FIELDS = {
    "ExplainerConfig": "simsage does not run SageMaker Clarify explainers",
    "ShadowProductionVariants": "simsage does not run shadow variants",
}
_UNSUPPORTED_VARIANT_FIELDS = {
    "InstancePools": "give one InstanceType instead",
}


@dataclass
class ProductionVariant:
    """One variant: a model, its instances and its share of the traffic: the members
    an endpoint acts on. Describe echoes the variant's other members from the stored
    request (:func:`simsage.transport.echo.echoed`)."""

    variant_name: str
    model_name: str
    instance_type: str | None  # None for a serverless variant
    initial_instance_count: int | None
    initial_variant_weight: float = DEFAULT_VARIANT_WEIGHT
    serverless_config: dict[str, Any] | None = None
    volume_size_in_gb: int | None = None
    container_startup_health_check_timeout_in_seconds: int | None = None

    @classmethod
    def from_request(cls, spec: dict[str, Any]) -> ProductionVariant:
        variant = cls(
            variant_name=spec["VariantName"],
            model_name=spec["ModelName"],
            instance_type=spec.get("InstanceType"),
            initial_instance_count=spec.get("InitialInstanceCount"),
            initial_variant_weight=float(spec.get("InitialVariantWeight", DEFAULT_VARIANT_WEIGHT)),
            serverless_config=copy.deepcopy(spec.get("ServerlessConfig")),
            volume_size_in_gb=spec.get("VolumeSizeInGB"),
            container_startup_health_check_timeout_in_seconds=spec.get(
                "ContainerStartupHealthCheckTimeoutInSeconds"
            ),
        )
        return variant

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"VariantName": self.variant_name, "ModelName": self.model_name}
        if self.serverless_config is None:
            out["InitialInstanceCount"] = self.initial_instance_count
            out["InstanceType"] = self.instance_type
        out["InitialVariantWeight"] = self.initial_variant_weight
        if self.serverless_config is not None:
            out["ServerlessConfig"] = copy.deepcopy(self.serverless_config)
        return out


@dataclass
class DataCapture:
    """DataCaptureConfig: which requests and responses to copy to S3, and how."""

    destination_s3_uri: str
    initial_sampling_percentage: int
    capture_modes: list[str]
    enable_capture: bool = True
    kms_key_id: str | None = None
    csv_content_types: list[str] | None = None
    json_content_types: list[str] | None = None

    @classmethod
    def from_request(cls, spec: dict[str, Any]) -> DataCapture:
        header = spec.get("CaptureContentTypeHeader") or {}
        return cls(
            destination_s3_uri=spec["DestinationS3Uri"],
            initial_sampling_percentage=spec["InitialSamplingPercentage"],
            capture_modes=[option["CaptureMode"] for option in spec["CaptureOptions"]],
            enable_capture=spec.get("EnableCapture", True),
            kms_key_id=spec.get("KmsKeyId"),
            csv_content_types=copy.deepcopy(header.get("CsvContentTypes")),
            json_content_types=copy.deepcopy(header.get("JsonContentTypes")),
        )

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "EnableCapture": self.enable_capture,
            "InitialSamplingPercentage": self.initial_sampling_percentage,
            "DestinationS3Uri": self.destination_s3_uri,
        }
        if self.kms_key_id is not None:
            out["KmsKeyId"] = self.kms_key_id
        out["CaptureOptions"] = [{"CaptureMode": mode} for mode in self.capture_modes]
        header: dict[str, Any] = {}
        if self.csv_content_types is not None:
            header["CsvContentTypes"] = list(self.csv_content_types)
        if self.json_content_types is not None:
            header["JsonContentTypes"] = list(self.json_content_types)
        if header:
            out["CaptureContentTypeHeader"] = header
        return out

    def summary(self) -> dict[str, Any]:
        """DescribeEndpoint's DataCaptureConfigSummary."""
        return {
            "EnableCapture": self.enable_capture,
            "CaptureStatus": "Started" if self.enable_capture else "Stopped",
            "CurrentSamplingPercentage": self.initial_sampling_percentage,
            "DestinationS3Uri": self.destination_s3_uri,
            "KmsKeyId": self.kms_key_id or "",
        }


@dataclass
class EndpointConfig:
    """An endpoint configuration's registry row."""

    name: str
    arn: str
    region: str
    variants: list[ProductionVariant]
    created: float
    data_capture: DataCapture | None = None
    async_inference: dict[str, Any] | None = None  # AsyncInferenceConfig, as given
    # The CreateEndpointConfig request (without Tags), for what Describe echoes of it
    # (KmsKeyId, VpcConfig, a variant's RoutingConfig … : the model's to say).
    spec: dict[str, Any] | None = None

    def describe(self) -> dict[str, Any]:
        """What simsage knows of the configuration, in DescribeEndpointConfig's shape
        (the API adds what the answer echoes of the request)."""
        out: dict[str, Any] = {
            "EndpointConfigName": self.name,
            "EndpointConfigArn": self.arn,
            "ProductionVariants": [variant.describe() for variant in self.variants],
        }
        if self.data_capture is not None:
            out["DataCaptureConfig"] = self.data_capture.describe()
        if self.async_inference is not None:
            out["AsyncInferenceConfig"] = copy.deepcopy(self.async_inference)
        out["CreationTime"] = from_epoch(self.created)
        return out

    def summary(self) -> dict[str, Any]:
        """ListEndpointConfigs' entry."""
        return {
            "EndpointConfigName": self.name,
            "EndpointConfigArn": self.arn,
            "CreationTime": from_epoch(self.created),
        }


def endpoint_config_arn(region: str, account_id: str, name: str) -> str:
    """The ARN of endpoint configuration ``name`` (SageMaker lowercases the name)."""
    return ENDPOINT_CONFIG.arn(region, account_id, name)


def config_not_found(region: str, account_id: str, name: str) -> ValidationException:
    return ENDPOINT_CONFIG.not_found(name, region, account_id)


class EndpointConfigStore(BodyTable[EndpointConfig]):
    """Endpoint configuration rows of one home. Rows written before Describe echoed the
    request kept echoed members as fields of their own: they are read past (such a
    row's Describe repeats only the members simsage acts on)."""

    kind = ENDPOINT_CONFIG
    item = EndpointConfig

    def from_body(self, body: dict[str, Any]) -> dict[str, Any]:
        body.setdefault("async_inference", None)  # rows written before it existed
        body["variants"] = [
            ProductionVariant(**known_fields(ProductionVariant, variant))
            for variant in body["variants"]
        ]
        if body["data_capture"] is not None:
            body["data_capture"] = DataCapture(**body["data_capture"])
        return body


class EndpointConfigsAPI:
    OPERATIONS = (
        "create_endpoint_config",
        "describe_endpoint_config",
        "list_endpoint_configs",
        "delete_endpoint_config",
    )

    def __init__(self, home, tags) -> None:
        self.home = home
        self.configs = EndpointConfigStore(home)
        self.models = ModelStore(home)
        self.tags = tags

    def create_endpoint_config(self, request: Request) -> dict[str, Any]:
        """Record an endpoint configuration.

        Raises:
            ValidationException: an unsupported feature (shadow variants, explainers,
                instance pools), a repeated VariantName, a variant without ModelName,
                without InstanceType and InitialInstanceCount or ServerlessConfig (or
                with both), a serverless or asynchronous configuration SageMaker
                refuses, a model that does not exist, a DestinationS3Uri that is not
                s3://, or a name already taken.
        """
        params = request.params
        name = params["EndpointConfigName"]
        for key, advice in _UNSUPPORTED_CONFIG_FIELDS.items():
            if key in params:
                raise ValidationException(f"simsage does not emulate {key}: {advice}.")
        variants = [self._variant(spec, request) for spec in params["ProductionVariants"]]
        seen: set[str] = set()
        for variant in variants:
            if variant.variant_name.lower() in seen:
                raise ValidationException(
                    f"VariantName {variant.variant_name!r} appears more than once in "
                    "ProductionVariants; each variant needs its own name."
                )
            seen.add(variant.variant_name.lower())
        if any(variant.serverless_config is not None for variant in variants):
            serverless.validate_config(params)
        async_config = None
        if "AsyncInferenceConfig" in params:
            async_config = async_inference.validate_config(params["AsyncInferenceConfig"])
        capture = None
        if "DataCaptureConfig" in params:
            capture = DataCapture.from_request(params["DataCaptureConfig"])
            if not capture.destination_s3_uri.startswith("s3://"):
                raise ValidationException(
                    "DataCaptureConfig.DestinationS3Uri must be an s3:// URI; "
                    f"got {capture.destination_s3_uri!r}."
                )
        new_arn = endpoint_config_arn(request.region, request.account_id, name)
        config = EndpointConfig(
            name=name,
            arn=new_arn,
            region=request.region,
            variants=variants,
            created=self.home.clock.time(),
            data_capture=capture,
            spec=copy.deepcopy({k: v for k, v in params.items() if k != "Tags"}),
            async_inference=async_config,
        )
        self.configs.create(config)
        self.tags.set(new_arn, params.get("Tags", []))
        return {"EndpointConfigArn": new_arn}

    def _variant(self, spec: dict[str, Any], request: Request) -> ProductionVariant:
        label = spec["VariantName"]
        for key, advice in _UNSUPPORTED_VARIANT_FIELDS.items():
            if key in spec:
                raise ValidationException(
                    f"Variant {label}: simsage does not emulate {key}; {advice}."
                )
        if not spec.get("ModelName"):
            raise ValidationException(f"Variant {label}: ModelName is required.")
        if self.models.find(spec["ModelName"]) is None:
            raise model_not_found(request.region, request.account_id, spec["ModelName"])
        if "ServerlessConfig" in spec:
            serverless.validate_variant(spec)
            return ProductionVariant.from_request(spec)
        if not spec.get("InstanceType"):
            raise ValidationException(
                f"Variant {label}: InstanceType is required for an instance-based variant "
                "(or give ServerlessConfig for a serverless one)."
            )
        if "InitialInstanceCount" not in spec:
            raise ValidationException(
                f"Variant {label}: InitialInstanceCount (at least 1) is required for an "
                "instance-based variant (or give ServerlessConfig for a serverless one)."
            )
        return ProductionVariant.from_request(spec)

    def describe_endpoint_config(self, request: Request) -> dict[str, Any]:
        """Raises ValidationException ("Could not find endpoint configuration …")."""
        name = request.params["EndpointConfigName"]
        config = self.configs.get(name, request.region, request.account_id)
        return described(config.describe(), request.model, config.spec)

    def list_endpoint_configs(self, request: Request) -> dict[str, Any]:
        page, token = self.configs.page(request.params, NAME_LISTING)
        return list_answer("EndpointConfigs", [config.summary() for config in page], token)

    def delete_endpoint_config(self, request: Request) -> dict[str, Any]:
        """Raises ValidationException for an unknown name. A configuration an endpoint
        uses may be deleted, as on AWS: the endpoint keeps its own snapshot."""
        name = request.params["EndpointConfigName"]
        config = self.configs.get(name, request.region, request.account_id)
        if not self.configs.delete(name):
            raise config_not_found(request.region, request.account_id, name)
        self.tags.forget(config.arn)
        return {}
