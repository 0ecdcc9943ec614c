"""``Estimator``: a training job's settings; ``fit`` runs it, ``deploy`` and
``transformer`` use what it made.

Layer: SDK, on boto3 clients only. Names and meanings are the official SDK v2's:
``Estimator(image_uri, role, instance_count, instance_type, output_path, …)``,
``set_hyperparameters``, ``fit(inputs, wait, logs, job_name)``, ``model_data``,
``latest_training_job``, ``training_job_analytics``, ``attach``, ``deploy``,
``transformer``. The constructor only stores its arguments; checks happen when ``fit``
starts the job.
"""

from __future__ import annotations

from typing import Any

from simsage.sdk.analytics import TrainingJobAnalytics
from simsage.sdk.deserializers import BaseDeserializer
from simsage.sdk.inputs import TrainingInput
from simsage.sdk.model import Model
from simsage.sdk.model_monitor import DataCaptureConfig
from simsage.sdk.predictor import Predictor
from simsage.sdk.progress import RoundsBar
from simsage.sdk.serializers import BaseSerializer
from simsage.sdk.session import Session
from simsage.sdk.utils import base_name_from_image, name_from_base
from simsage.sdk.workflow.entities import PipelineVariable
from simsage.sdk.workflow.pipeline_context import runnable_by_pipeline


class TrainingJob:
    """The job an estimator started (``estimator.latest_training_job``)."""

    def __init__(self, sagemaker_session: Session, name: str) -> None:
        self.sagemaker_session = sagemaker_session
        self.name = name

    @property
    def job_name(self) -> str:
        return self.name

    def describe(self) -> dict[str, Any]:
        return self.sagemaker_session.sagemaker_client.describe_training_job(
            TrainingJobName=self.name
        )

    def wait(self, logs: bool = True, progress: RoundsBar | None = None) -> dict[str, Any]:
        """Wait for the job to end, printing its logs; raises UnexpectedStatusException
        if it did not complete."""
        if logs:
            return self.sagemaker_session.logs_for_job(self.name, wait=True, progress=progress)
        return self.sagemaker_session.wait_for_job(self.name)

    def stop(self) -> None:
        self.sagemaker_session.sagemaker_client.stop_training_job(TrainingJobName=self.name)


class Estimator:
    """Train with a container image (the built-in XGBoost, or any image simsage runs).

    Parameters
    ----------
    image_uri:
        The training image, e.g. ``image_uris.retrieve("xgboost", region, "1.7-1")``.
    role:
        The execution role ARN.
    instance_count, instance_type:
        The training cluster (``instance_count`` > 1 trains distributed).
    output_path:
        Where ``<job>/output/model.tar.gz`` goes (default ``s3://<default bucket>/``).
    hyperparameters:
        Initial hyperparameters (see :meth:`set_hyperparameters`).
    max_run:
        MaxRuntimeInSeconds (default one day).
    environment, checkpoint_s3_uri, checkpoint_local_path, metric_definitions, tags,
    volume_size, input_mode, base_job_name:
        As in CreateTrainingJob.
    sagemaker_session:
        The :class:`Session` (a new one by default).
    """

    def __init__(
        self,
        image_uri: str,
        role: str,
        instance_count: int = 1,
        instance_type: str = "ml.m5.large",
        output_path: str | None = None,
        hyperparameters: dict[str, Any] | None = None,
        max_run: int = 24 * 60 * 60,
        environment: dict[str, str] | None = None,
        checkpoint_s3_uri: str | None = None,
        checkpoint_local_path: str | None = None,
        metric_definitions: list[dict[str, str]] | None = None,
        tags: list[dict[str, str]] | None = None,
        volume_size: int = 30,
        input_mode: str = "File",
        base_job_name: str | None = None,
        sagemaker_session: Session | None = None,
    ) -> None:
        self.image_uri = image_uri
        self.role = role
        self.instance_count = instance_count
        self.instance_type = instance_type
        self.output_path = output_path
        self._hyperparameters = dict(hyperparameters or {})
        self.max_run = max_run
        self.environment = environment
        self.checkpoint_s3_uri = checkpoint_s3_uri
        self.checkpoint_local_path = checkpoint_local_path
        self.metric_definitions = metric_definitions
        self.tags = tags
        self.volume_size = volume_size
        self.input_mode = input_mode
        self.base_job_name = base_job_name
        self.sagemaker_session = sagemaker_session or Session()
        self.latest_training_job: TrainingJob | None = None
        self._model_data: str | None = None

    # -- hyperparameters -------------------------------------------------------------------
    def set_hyperparameters(self, **kwargs: Any) -> None:
        self._hyperparameters.update(kwargs)

    def hyperparameters(self) -> dict[str, str]:
        """The hyperparameters as CreateTrainingJob sends them (strings)."""
        return {key: _text(value) for key, value in self._hyperparameters.items()}

    # -- training --------------------------------------------------------------------------
    def training_image_uri(self) -> str:
        """The image the training jobs run."""
        return self.image_uri

    def _job_name(self, job_name: str | None) -> str:
        return job_name or name_from_base(
            self.base_job_name or base_name_from_image(self.training_image_uri())
        )

    def _channels(self, inputs: Any) -> list[dict[str, Any]]:
        if inputs is None:
            return []
        if isinstance(inputs, str | TrainingInput):
            inputs = {"training": inputs}
        if not isinstance(inputs, dict):
            raise TypeError(
                "fit(inputs=…) takes an S3 URI, a TrainingInput or a dict of channel name to "
                f"either; got {type(inputs).__name__}"
            )
        channels = []
        for name, value in inputs.items():
            channel = (value if isinstance(value, TrainingInput) else TrainingInput(value)).config
            channels.append({"ChannelName": name, **channel})
        return channels

    def _training_request(self, job_name: str, inputs: Any) -> dict[str, Any]:
        session = self.sagemaker_session
        output_path = self.output_path or f"s3://{session.default_bucket()}/"
        algorithm: dict[str, Any] = {
            "TrainingImage": self.training_image_uri(),
            "TrainingInputMode": self.input_mode,
        }
        if self.metric_definitions:
            algorithm["MetricDefinitions"] = self.metric_definitions
        request: dict[str, Any] = {
            "TrainingJobName": job_name,
            "AlgorithmSpecification": algorithm,
            "RoleArn": self.role,
            "OutputDataConfig": {"S3OutputPath": output_path},
            "ResourceConfig": {
                "InstanceCount": self.instance_count,
                "InstanceType": self.instance_type,
                "VolumeSizeInGB": self.volume_size,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": self.max_run},
        }
        channels = self._channels(inputs)
        if channels:
            request["InputDataConfig"] = channels
        hyperparameters = self.hyperparameters()
        if hyperparameters:
            request["HyperParameters"] = hyperparameters
        if self.environment:
            request["Environment"] = self.environment
        if self.checkpoint_s3_uri:
            checkpoint = {"S3Uri": self.checkpoint_s3_uri}
            if self.checkpoint_local_path:
                checkpoint["LocalPath"] = self.checkpoint_local_path
            request["CheckpointConfig"] = checkpoint
        if self.tags:
            request["Tags"] = self.tags
        return request

    @runnable_by_pipeline
    def fit(
        self,
        inputs: Any = None,
        wait: bool = True,
        logs: bool = True,
        job_name: str | None = None,
    ) -> None:
        """Start a training job on ``inputs`` and (by default) wait for it, streaming
        its logs (and a rounds bar in a terminal).

        Parameters
        ----------
        inputs:
            An S3 URI (the ``training`` channel), a :class:`TrainingInput`, or a dict of
            channel name to either.

        Raises
        ------
        UnexpectedStatusException
            With ``wait``, the job Failed or was Stopped (the reason is in the message).
        botocore.exceptions.ClientError
            The request was refused (ValidationException says why).
        """
        self._start(self._job_name(job_name), inputs, wait, logs)

    def _start(self, name: str, inputs: Any, wait: bool, logs: bool) -> None:
        """Send CreateTrainingJob ``name`` on ``inputs`` (anything :meth:`_channels`
        takes) and, with ``wait``, wait for it: what every ``fit`` ends with."""
        request = self._training_request(name, inputs)
        self.sagemaker_session.sagemaker_client.create_training_job(**request)
        self.latest_training_job = TrainingJob(self.sagemaker_session, name)
        self._model_data = None
        if wait:
            rounds = self._hyperparameters.get("num_round")
            bar = RoundsBar(int(rounds) if logs and str(rounds).isdigit() else None)
            try:
                self.latest_training_job.wait(logs=logs, progress=bar if logs else None)
            finally:
                bar.close()

    @property
    def training_job_analytics(self) -> TrainingJobAnalytics:
        """The latest training job's metrics, from CloudWatch (``.dataframe()``)."""
        if self.latest_training_job is None:
            raise ValueError("Estimator is not associated with a TrainingJob")
        return TrainingJobAnalytics(
            self.latest_training_job.name, sagemaker_session=self.sagemaker_session
        )

    @property
    def model_data(self) -> str:
        """The S3 URI of the trained ``model.tar.gz``."""
        if self._model_data is None:
            if self.latest_training_job is None:
                raise ValueError("No training job yet: call fit() (or attach()) first.")
            described = self.latest_training_job.describe()
            artifacts = described.get("ModelArtifacts")
            if not artifacts:
                raise ValueError(
                    f"Training job {self.latest_training_job.name} has no model yet "
                    f"(status {described['TrainingJobStatus']})."
                )
            self._model_data = artifacts["S3ModelArtifacts"]
        return self._model_data

    @classmethod
    def attach(cls, training_job_name: str, sagemaker_session: Session | None = None) -> Estimator:
        """An estimator for an existing training job (e.g. one started elsewhere, or a
        tuning job's best training job)."""
        session = sagemaker_session or Session()
        described = session.sagemaker_client.describe_training_job(
            TrainingJobName=training_job_name
        )
        estimator = cls._from_description(described, session)
        estimator.latest_training_job = TrainingJob(session, training_job_name)
        return estimator

    @classmethod
    def _from_description(cls, described: dict[str, Any], session: Session) -> Estimator:
        """An estimator with the settings of a DescribeTrainingJob answer (or of a tuning
        job's training job definition in that shape)."""
        resources = described["ResourceConfig"]
        algorithm = described["AlgorithmSpecification"]
        return cls(
            image_uri=algorithm["TrainingImage"],
            role=described["RoleArn"],
            instance_count=resources["InstanceCount"],
            instance_type=resources["InstanceType"],
            output_path=described["OutputDataConfig"]["S3OutputPath"],
            hyperparameters=dict(described.get("HyperParameters") or {}),
            max_run=described["StoppingCondition"]["MaxRuntimeInSeconds"],
            environment=described.get("Environment"),
            metric_definitions=algorithm.get("MetricDefinitions"),
            volume_size=resources.get("VolumeSizeInGB", 30),
            input_mode=algorithm.get("TrainingInputMode", "File"),
            sagemaker_session=session,
        )

    # -- using the model ---------------------------------------------------------------------
    def create_model(self, name: str | None = None, env: dict[str, str] | None = None) -> Model:
        """A :class:`Model` of the trained artifact, served by the training image."""
        return Model(
            self.image_uri,
            model_data=self.model_data,
            role=self.role,
            env=env,
            name=name or (self.latest_training_job.name if self.latest_training_job else None),
            sagemaker_session=self.sagemaker_session,
        )

    def deploy(
        self,
        initial_instance_count: int = 1,
        instance_type: str = "ml.m5.large",
        serializer: BaseSerializer | None = None,
        deserializer: BaseDeserializer | None = None,
        endpoint_name: str | None = None,
        model_name: str | None = None,
        wait: bool = True,
        data_capture_config: DataCaptureConfig | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> Predictor:
        """Deploy the trained model to an endpoint; returns a :class:`Predictor`."""
        return self.create_model(name=model_name).deploy(
            initial_instance_count=initial_instance_count,
            instance_type=instance_type,
            serializer=serializer,
            deserializer=deserializer,
            endpoint_name=endpoint_name,
            wait=wait,
            data_capture_config=data_capture_config,
            tags=tags,
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
        model_name: str | None = None,
    ):
        """A :class:`~simsage.sdk.transformer.Transformer` using the trained model."""
        return self.create_model(name=model_name).transformer(
            instance_count=instance_count,
            instance_type=instance_type,
            strategy=strategy,
            assemble_with=assemble_with,
            output_path=output_path,
            accept=accept,
            max_concurrent_transforms=max_concurrent_transforms,
            max_payload=max_payload,
            env=env,
        )


def _text(value: Any) -> Any:
    if isinstance(value, PipelineVariable):
        return value.to_string()  # a string at run time, as the official SDK sends it
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
