"""``Predictor``: calls a live endpoint with a serializer and a deserializer.

Layer: SDK, on the boto3 ``sagemaker-runtime`` and ``sagemaker`` clients.
"""

from __future__ import annotations

from typing import Any

from simsage.sdk.deserializers import BaseDeserializer, BytesDeserializer
from simsage.sdk.serializers import BaseSerializer, IdentitySerializer
from simsage.sdk.session import Session


class Predictor:
    """Make predictions with endpoint ``endpoint_name``.

    Parameters
    ----------
    endpoint_name:
        The endpoint to call.
    sagemaker_session:
        The :class:`Session` to use (a new one by default).
    serializer, deserializer:
        How ``predict`` encodes its input (default: bytes as given) and decodes the
        answer (default: bytes).
    """

    def __init__(
        self,
        endpoint_name: str,
        sagemaker_session: Session | None = None,
        serializer: BaseSerializer | None = None,
        deserializer: BaseDeserializer | None = None,
    ) -> None:
        self.endpoint_name = endpoint_name
        self.sagemaker_session = sagemaker_session or Session()
        self.serializer = serializer or IdentitySerializer()
        self.deserializer = deserializer or BytesDeserializer()
        self._models_: list[str] | None = None  # remembered when the endpoint goes

    @property
    def content_type(self) -> str:
        return self.serializer.content_type

    @property
    def accept(self) -> tuple[str, ...]:
        return self.deserializer.accept

    def predict(
        self,
        data: Any,
        initial_args: dict[str, Any] | None = None,
        target_model: str | None = None,
        target_variant: str | None = None,
        inference_id: str | None = None,
        custom_attributes: str | None = None,
    ) -> Any:
        """Serialize ``data``, invoke the endpoint and deserialize the answer.

        Raises:
            botocore.exceptions.ClientError: ValidationError (endpoint unknown or not in
                service) or ModelError (the model answered an error), as InvokeEndpoint.
        """
        request: dict[str, Any] = dict(initial_args or {})
        request["EndpointName"] = self.endpoint_name
        request["Body"] = self.serializer.serialize(data)
        request.setdefault("ContentType", self.content_type)
        request.setdefault("Accept", ", ".join(self.accept))
        optional = (
            ("TargetModel", target_model),
            ("TargetVariant", target_variant),
            ("InferenceId", inference_id),
            ("CustomAttributes", custom_attributes),
        )
        for key, value in optional:
            if value is not None:
                request[key] = value
        response = self.sagemaker_session.sagemaker_runtime_client.invoke_endpoint(**request)
        body = response["Body"].read()
        return self.deserializer.deserialize(body, response.get("ContentType"))

    def _endpoint_config_name(self) -> str:
        described = self.sagemaker_session.sagemaker_client.describe_endpoint(
            EndpointName=self.endpoint_name
        )
        return described["EndpointConfigName"]

    def _model_names(self) -> list[str]:
        if self._models_ is None:
            config = self.sagemaker_session.sagemaker_client.describe_endpoint_config(
                EndpointConfigName=self._endpoint_config_name()
            )
            self._models_ = [v["ModelName"] for v in config["ProductionVariants"]]
        return self._models_

    def delete_endpoint(self, delete_endpoint_config: bool = True) -> None:
        """Delete the endpoint (and, by default, its endpoint configuration)."""
        config = self._endpoint_config_name()
        self._model_names()  # so delete_model still works afterwards
        self.sagemaker_session.delete_endpoint(self.endpoint_name)
        if delete_endpoint_config:
            self.sagemaker_session.delete_endpoint_config(config)

    def delete_model(self) -> None:
        """Delete the models behind the endpoint's variants (call before deleting the
        endpoint configuration)."""
        for name in self._model_names():
            self.sagemaker_session.delete_model(name)
