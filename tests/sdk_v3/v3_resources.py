"""The SDK v3 flows' shared deployment: a model, its endpoint configuration and an
endpoint through sagemaker-core's resources, and their deletion (imported by the tests,
which skip without the SDK v3 before they get here)."""

from __future__ import annotations

INSTANCE = "ml.m5.large"


def deploy_endpoint(name: str, image: str, model_data: str, role: str):
    """``Model.create`` → ``EndpointConfig.create`` (one ml.m5.large, variant AllTraffic) →
    ``Endpoint.create``, all named ``name``, waited to InService; ``(model, config,
    endpoint)``."""
    from sagemaker.core.resources import Endpoint, EndpointConfig, Model
    from sagemaker.core.shapes import ContainerDefinition, ProductionVariant

    model = Model.create(
        model_name=name,
        primary_container=ContainerDefinition(image=image, model_data_url=model_data),
        execution_role_arn=role,
    )
    config = EndpointConfig.create(
        endpoint_config_name=name,
        production_variants=[
            ProductionVariant(
                variant_name="AllTraffic",
                model_name=model.model_name,
                initial_instance_count=1,
                instance_type=INSTANCE,
            )
        ],
    )
    endpoint = Endpoint.create(endpoint_name=name, endpoint_config_name=config.endpoint_config_name)
    endpoint.wait_for_status("InService")
    return model, config, endpoint


def delete_endpoint(model, config, endpoint) -> None:
    """Delete what :func:`deploy_endpoint` made, the endpoint first (waited for)."""
    endpoint.delete()
    endpoint.wait_for_delete()
    config.delete()
    model.delete()
