"""``Transformer``: batch transform with a model (CreateTransformJob and its wait).

Layer: SDK, on the boto3 ``sagemaker`` and ``logs`` clients.
"""

from __future__ import annotations

import sys
from typing import Any

from simsage.sdk.inputs import TransformInput
from simsage.sdk.progress import FilesBar
from simsage.sdk.session import Session
from simsage.sdk.utils import base_name_from_image, name_from_base
from simsage.sdk.workflow.pipeline_context import pipeline_context, runnable_by_pipeline


class Transformer:
    """Runs transform jobs for ``model_name``.

    Parameters follow the official SDK: ``strategy`` is ``SingleRecord`` or
    ``MultiRecord``, ``assemble_with`` ``None`` or ``Line``, ``max_payload`` in MB,
    ``output_path`` an S3 URI (default ``s3://<default bucket>/<job name>``), ``accept``
    the output content type and ``env`` the container environment.
    """

    def __init__(
        self,
        model_name: str,
        instance_count: int = 1,
        instance_type: str = "ml.m5.large",
        strategy: str | None = None,
        assemble_with: str | None = None,
        output_path: str | None = None,
        accept: str | None = None,
        max_concurrent_transforms: int | None = None,
        max_payload: int | None = None,
        env: dict[str, str] | None = None,
        base_transform_job_name: str | None = None,
        sagemaker_session: Session | None = None,
    ) -> None:
        self.model_name = model_name
        self.instance_count = instance_count
        self.instance_type = instance_type
        self.strategy = strategy
        self.assemble_with = assemble_with
        self.output_path = output_path
        self.accept = accept
        self.max_concurrent_transforms = max_concurrent_transforms
        self.max_payload = max_payload
        self.env = env
        self.base_transform_job_name = base_transform_job_name
        self.sagemaker_session = sagemaker_session or Session()
        self.latest_transform_job: str | None = None
        self._inputs: tuple[str, str] | None = None

    @runnable_by_pipeline
    def transform(
        self,
        data: str,
        data_type: str = "S3Prefix",
        content_type: str | None = None,
        compression_type: str | None = None,
        split_type: str | None = None,
        job_name: str | None = None,
        input_filter: str | None = None,
        output_filter: str | None = None,
        join_source: str | None = None,
        wait: bool = True,
        logs: bool = True,
        model_client_config: dict[str, int] | None = None,
    ) -> None:
        """Start a transform job over ``data`` (an S3 prefix or manifest URI).

        Raises:
            UnexpectedStatusException: with ``wait``, the job did not complete.
        """
        session = self.sagemaker_session
        context = pipeline_context(session)
        if context is not None:
            # A step's job is named by the service; its default output is the execution's.
            from simsage.sdk.workflow.execution_variables import ExecutionVariables
            from simsage.sdk.workflow.functions import Join

            name = job_name or "pipeline-transform"
            parts = [context.pipeline_name, ExecutionVariables.PIPELINE_EXECUTION_ID]
            output_path = self.output_path or Join(
                on="/", values=["s3:/", session.default_bucket(), *parts, context.step_name]
            )
        else:
            name = job_name or name_from_base(self.base_transform_job_name or self._base_name())
            output_path = self.output_path or f"s3://{session.default_bucket()}/{name}"
            self.output_path = output_path
        source = TransformInput(data, data_type, content_type, compression_type, split_type)
        output: dict[str, Any] = {"S3OutputPath": output_path}
        if self.accept:
            output["Accept"] = self.accept
        if self.assemble_with:
            output["AssembleWith"] = self.assemble_with
        request: dict[str, Any] = {
            "TransformJobName": name,
            "ModelName": self.model_name,
            "TransformInput": source.config,
            "TransformOutput": output,
            "TransformResources": {
                "InstanceType": self.instance_type,
                "InstanceCount": self.instance_count,
            },
        }
        optional = (
            ("BatchStrategy", self.strategy),
            ("MaxConcurrentTransforms", self.max_concurrent_transforms),
            ("MaxPayloadInMB", self.max_payload),
            ("Environment", self.env),
            ("ModelClientConfig", model_client_config),
        )
        for key, value in optional:
            if value is not None:
                request[key] = value
        processing = {
            key: value
            for key, value in (
                ("InputFilter", input_filter),
                ("OutputFilter", output_filter),
                ("JoinSource", join_source),
            )
            if value is not None
        }
        if processing:
            request["DataProcessing"] = processing
        session.sagemaker_client.create_transform_job(**request)
        self.latest_transform_job = name
        self._inputs = (data, data_type)
        if wait:
            self.wait(logs=logs)

    def _base_name(self) -> str:
        """The job name's base, from the model's image, as the official SDK names it."""
        described = self.sagemaker_session.sagemaker_client.describe_model(
            ModelName=self.model_name
        )
        container = described.get("PrimaryContainer") or described["Containers"][0]
        return base_name_from_image(container["Image"])

    def _count_inputs(self) -> int | None:
        if self._inputs is None or self._inputs[1] != "S3Prefix":
            return None
        data = self._inputs[0]
        bucket, _, prefix = data.removeprefix("s3://").partition("/")
        pages = self.sagemaker_session.s3_client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix
        )
        return sum(
            1 for page in pages for o in page.get("Contents", []) if not o["Key"].endswith("/")
        )

    def wait(self, logs: bool = True) -> dict[str, Any]:
        """Wait for the latest job to end (printing its logs); returns its description.

        Raises:
            UnexpectedStatusException: the job Failed or was Stopped.
        """
        if self.latest_transform_job is None:
            raise ValueError("No transform job yet: call transform() first.")
        session = self.sagemaker_session
        if not logs:
            return session.wait_for_transform_job(self.latest_transform_job)
        bar = FilesBar(self._count_inputs() if sys.stdout.isatty() else None)
        try:
            return session.logs_for_transform_job(
                self.latest_transform_job, wait=True, progress=bar
            )
        finally:
            bar.close()

    def stop_transform_job(self) -> None:
        if self.latest_transform_job is not None:
            self.sagemaker_session.sagemaker_client.stop_transform_job(
                TransformJobName=self.latest_transform_job
            )
