"""``Model``: a model artifact plus the image that serves it; deploys endpoints and
makes transformers.

Layer: SDK, on the boto3 ``sagemaker`` and ``s3`` clients.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from simsage.sdk.deserializers import BaseDeserializer
from simsage.sdk.model_monitor import DataCaptureConfig
from simsage.sdk.predictor import Predictor
from simsage.sdk.serializers import BaseSerializer
from simsage.sdk.session import Session
from simsage.sdk.utils import base_name_from_image, name_from_base, sourcedir_archive
from simsage.sdk.workflow.pipeline_context import pipeline_context, runnable_by_pipeline

log = logging.getLogger("simsage.sdk")


class Model:
    """A deployable model.

    Parameters
    ----------
    image_uri:
        The serving image (e.g. from :func:`simsage.sdk.image_uris.retrieve`).
    model_data:
        The ``model.tar.gz`` S3 URI.
    role:
        The execution role ARN.
    env:
        Container environment variables.
    name:
        The model name; by default derived from the image and a timestamp.
    entry_point, source_dir:
        An inference script (and its folder) for the framework images: packed as
        ``sourcedir.tar.gz``, uploaded next to the model, and named by
        ``SAGEMAKER_PROGRAM`` / ``SAGEMAKER_SUBMIT_DIRECTORY``.
    sagemaker_session:
        The :class:`Session` (a new one by default).
    predictor_cls:
        What ``deploy`` returns (default :class:`Predictor`).
    """

    def __init__(
        self,
        image_uri: str,
        model_data: str | None = None,
        role: str | None = None,
        env: dict[str, str] | None = None,
        name: str | None = None,
        entry_point: str | None = None,
        source_dir: str | None = None,
        sagemaker_session: Session | None = None,
        predictor_cls: type[Predictor] = Predictor,
    ) -> None:
        self.image_uri = image_uri
        self.model_data = model_data
        self.role = role
        self.env = dict(env or {})
        self.name = name
        self.entry_point = entry_point
        self.source_dir = source_dir
        self.sagemaker_session = sagemaker_session or Session()
        self.predictor_cls = predictor_cls
        self.endpoint_name: str | None = None
        self._created = False

    def _container(self) -> dict[str, Any]:
        env = dict(self.env)
        if self.entry_point:
            env.update(self._upload_code())
        container: dict[str, Any] = {"Image": self.image_uri}
        if self.model_data:
            container["ModelDataUrl"] = self.model_data
        if env:
            container["Environment"] = env
        return container

    def _upload_code(self) -> dict[str, str]:
        """Upload sourcedir.tar.gz (unless it is already an S3 URI) and name it."""
        assert self.entry_point is not None
        session = self.sagemaker_session
        if self.source_dir and self.source_dir.startswith("s3://"):
            submit = self.source_dir
        else:
            archive = sourcedir_archive(self.entry_point, self.source_dir)
            bucket = session.default_bucket()
            key = f"{self.name}/sourcedir.tar.gz"
            session.s3_client.put_object(Bucket=bucket, Key=key, Body=archive)
            submit = f"s3://{bucket}/{key}"
        return {
            "SAGEMAKER_PROGRAM": Path(self.entry_point).name,
            "SAGEMAKER_SUBMIT_DIRECTORY": submit,
            "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
            "SAGEMAKER_REGION": session.boto_region_name,
        }

    @runnable_by_pipeline
    def create(self, instance_type: str | None = None) -> str:
        """Register the model (CreateModel) once; returns its name.

        ``instance_type`` is accepted as the official SDK accepts it (CreateModel has no
        instance type). Under a ``PipelineSession`` this returns the arguments of a
        ``ModelStep``.
        """
        if self.name is None:
            self.name = name_from_base(base_name_from_image(self.image_uri))
        in_pipeline = pipeline_context(self.sagemaker_session) is not None
        if not self._created or in_pipeline:
            container = self._container()
            if in_pipeline:
                container.setdefault("Environment", {})  # as the official SDK's ModelStep
            request: dict[str, Any] = {"ModelName": self.name, "PrimaryContainer": container}
            if self.role:
                request["ExecutionRoleArn"] = self.role
            client = self.sagemaker_session.sagemaker_client
            try:
                client.create_model(**request)
            except client.exceptions.ClientError as exc:
                # As the official SDK: a model of that name (e.g. made by deploy() before
                # transformer()) is used as it is.
                if "Cannot create already existing model" not in str(exc):
                    raise
                log.warning("Using already existing model: %s", self.name)
            self._created = not in_pipeline
        return self.name

    @runnable_by_pipeline
    def register(
        self,
        content_types: list[str] | None = None,
        response_types: list[str] | None = None,
        inference_instances: list[str] | None = None,
        transform_instances: list[str] | None = None,
        model_package_group_name: str | None = None,
        model_package_name: str | None = None,
        image_uri: str | None = None,
        model_metrics: dict[str, Any] | None = None,
        approval_status: str | None = None,
        description: str | None = None,
        customer_metadata_properties: dict[str, str] | None = None,
        domain: str | None = None,
        task: str | None = None,
        skip_model_validation: str = "None",
    ) -> str:
        """Register this model in the model registry (CreateModelPackage): a new version
        in ``model_package_group_name``, or an unversioned package ``model_package_name``.

        ``model_metrics`` is CreateModelPackage's ``ModelMetrics`` dict;
        ``approval_status`` ``Approved``, ``Rejected`` or ``PendingManualApproval``.

        Returns:
            The model package's ARN (under a ``PipelineSession``: a ``ModelStep``'s
            arguments).

        Raises:
            ValueError: neither or both of the group and the package name.
        """
        if (model_package_group_name is None) == (model_package_name is None):
            raise ValueError(
                "Give one of model_package_group_name (a new version in that group) and "
                "model_package_name (an unversioned package)."
            )
        container = self._container()
        container.setdefault("Environment", {})
        if image_uri is not None:
            container["Image"] = image_uri
        specification: dict[str, Any] = {"Containers": [container]}
        for key, value in (
            ("SupportedContentTypes", content_types),
            ("SupportedResponseMIMETypes", response_types),
            ("SupportedRealtimeInferenceInstanceTypes", inference_instances),
            ("SupportedTransformInstanceTypes", transform_instances),
        ):
            if value is not None:
                specification[key] = list(value)
        request: dict[str, Any] = {"InferenceSpecification": specification}
        for key, value in (
            ("ModelPackageGroupName", model_package_group_name),
            ("ModelPackageName", model_package_name),
            ("ModelMetrics", model_metrics),
            ("ModelApprovalStatus", approval_status),
            ("ModelPackageDescription", description),
            ("CustomerMetadataProperties", customer_metadata_properties),
            ("Domain", domain),
            ("Task", task),
            ("SkipModelValidation", skip_model_validation),
        ):
            if value is not None:
                request[key] = value
        answer = self.sagemaker_session.sagemaker_client.create_model_package(**request)
        return answer.get("ModelPackageArn", "")

    def deploy(
        self,
        initial_instance_count: int = 1,
        instance_type: str = "ml.m5.large",
        serializer: BaseSerializer | None = None,
        deserializer: BaseDeserializer | None = None,
        endpoint_name: str | None = None,
        wait: bool = True,
        data_capture_config: DataCaptureConfig | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> Predictor:
        """Create an endpoint serving this model; returns a predictor for it.

        Raises:
            UnexpectedStatusException: with ``wait``, the endpoint Failed (the reason is
                in the message).
        """
        session = self.sagemaker_session
        model_name = self.create()
        endpoint = endpoint_name or model_name
        config: dict[str, Any] = {
            "EndpointConfigName": endpoint,
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "ModelName": model_name,
                    "InitialInstanceCount": initial_instance_count,
                    "InstanceType": instance_type,
                    "InitialVariantWeight": 1.0,
                }
            ],
        }
        if data_capture_config is not None:
            config["DataCaptureConfig"] = data_capture_config.to_request(session.default_bucket())
        session.sagemaker_client.create_endpoint_config(**config)
        request: dict[str, Any] = {"EndpointName": endpoint, "EndpointConfigName": endpoint}
        if tags:
            request["Tags"] = tags
        session.sagemaker_client.create_endpoint(**request)
        self.endpoint_name = endpoint
        if wait:
            session.wait_for_endpoint(endpoint)
        return self.predictor_cls(
            endpoint, sagemaker_session=session, serializer=serializer, deserializer=deserializer
        )

    def transformer(
        self,
        instance_count: int = 1,
        instance_type: str = "ml.m5.large",
        strategy: str | None = None,
        assemble_with: str | None = None,
        output_path: str | None = None,
        accept: str | None = None,
        max_concurrent_transforms: int | None = None,
        max_payload: int | None = None,
        env: dict[str, str] | None = None,
    ):
        """A :class:`~simsage.sdk.transformer.Transformer` for batch transform with
        this model."""
        from simsage.sdk.transformer import Transformer

        return Transformer(
            self.create(),
            instance_count=instance_count,
            instance_type=instance_type,
            strategy=strategy,
            assemble_with=assemble_with,
            output_path=output_path,
            accept=accept,
            max_concurrent_transforms=max_concurrent_transforms,
            max_payload=max_payload,
            env=env,
            sagemaker_session=self.sagemaker_session,
        )

    def delete_model(self) -> None:
        if self.name is not None and self._created:
            self.sagemaker_session.delete_model(self.name)
            self._created = False
