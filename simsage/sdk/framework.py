"""Script mode: estimators and models that run your own ``entry_point`` in a framework
image (scikit-learn, XGBoost), packaged the way the official SDK packages it.

``fit`` uploads ``source_dir`` (or the lone entry point) as
``s3://<bucket>/<job>/source/sourcedir.tar.gz`` and passes it with the
``sagemaker_program`` / ``sagemaker_submit_directory`` hyperparameters; every
hyperparameter is JSON-encoded, as the SDK does for frameworks, and the container
decodes them back. Deployed models get ``SAGEMAKER_PROGRAM`` and
``SAGEMAKER_SUBMIT_DIRECTORY``, so the same script's ``model_fn``/``input_fn``/…
serve the model.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from simsage.sdk import image_uris
from simsage.sdk.estimator import Estimator
from simsage.sdk.model import Model
from simsage.sdk.session import Session
from simsage.sdk.utils import code_digest, sourcedir_archive
from simsage.sdk.workflow.pipeline_context import pipeline_context

# The hyperparameters fit() and the tuner set, not the user.
_SET_BY_FIT = (
    "sagemaker_container_log_level",
    "sagemaker_job_name",
    "sagemaker_region",
    "sagemaker_estimator_class_name",
    "sagemaker_estimator_module",
)


class Framework(Estimator):
    """Base of the framework estimators; ``FRAMEWORK`` names the image family."""

    FRAMEWORK = ""

    def __init__(
        self,
        entry_point: str,
        framework_version: str,
        role: str,
        instance_count: int = 1,
        instance_type: str = "ml.m5.large",
        source_dir: str | None = None,
        py_version: str = "py3",
        image_uri: str | None = None,
        hyperparameters: dict[str, Any] | None = None,
        code_location: str | None = None,
        sagemaker_session: Session | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            image_uri=image_uri or "",
            role=role,
            instance_count=instance_count,
            instance_type=instance_type,
            hyperparameters=hyperparameters,
            sagemaker_session=sagemaker_session,
            **kwargs,
        )
        self.entry_point = entry_point
        self.framework_version = framework_version
        self.source_dir = source_dir
        self.py_version = py_version
        self.code_location = code_location
        self.uploaded_code: str | None = None

    def _resolve_image(self) -> None:
        if not self.image_uri:
            self.image_uri = image_uris.retrieve(
                self.FRAMEWORK,
                self.sagemaker_session.boto_region_name,
                self.framework_version,
                py_version=self.py_version,
            )

    def training_image_uri(self) -> str:
        self._resolve_image()
        return self.image_uri

    @classmethod
    def _from_description(cls, described: dict[str, Any], session: Session) -> Framework:
        """The estimator of a script-mode training job: the entry point and the uploaded
        ``sourcedir.tar.gz`` come back from the ``sagemaker_program`` /
        ``sagemaker_submit_directory`` hyperparameters (fitting again reuses that code),
        the framework version from the image tag, the other hyperparameters JSON-decoded
        (``_tuning_objective_metric``, which the service adds unencoded, as it is)."""
        resources = described["ResourceConfig"]
        algorithm = described["AlgorithmSpecification"]
        hyperparameters: dict[str, Any] = {}
        for key, value in (described.get("HyperParameters") or {}).items():
            if key == "_tuning_objective_metric":
                hyperparameters[key] = value.strip('"')
                continue
            try:
                hyperparameters[key] = json.loads(value)
            except ValueError:
                hyperparameters[key] = value
        program = hyperparameters.pop("sagemaker_program", None)
        submit = hyperparameters.pop("sagemaker_submit_directory", None)
        for key in _SET_BY_FIT:
            hyperparameters.pop(key, None)
        image = algorithm["TrainingImage"]
        version = re.search(r":(\d+(?:\.\d+)*(?:-\d+)?)", image)
        estimator = cls(
            entry_point=program or "",
            framework_version=version.group(1) if version else "",
            role=described["RoleArn"],
            instance_count=resources["InstanceCount"],
            instance_type=resources["InstanceType"],
            source_dir=submit,
            image_uri=image,
            hyperparameters=hyperparameters,
            output_path=described["OutputDataConfig"]["S3OutputPath"],
            max_run=described["StoppingCondition"]["MaxRuntimeInSeconds"],
            environment=described.get("Environment"),
            metric_definitions=algorithm.get("MetricDefinitions"),
            volume_size=resources.get("VolumeSizeInGB", 30),
            input_mode=algorithm.get("TrainingInputMode", "File"),
            sagemaker_session=session,
        )
        estimator.uploaded_code = submit
        return estimator

    def hyperparameters(self) -> dict[str, str]:
        """Every value JSON-encoded, as the SDK sends framework hyperparameters."""
        return {key: json.dumps(value) for key, value in self._hyperparameters.items()}

    def upload_source(self, job_name: str) -> str:
        """Pack ``source_dir`` (or the lone entry point) as ``sourcedir.tar.gz`` and upload
        it to ``<code_location or s3://<default bucket>>/<job_name>/source/``; returns
        (and keeps in ``uploaded_code``) its S3 URI. Training and the
        :class:`~simsage.sdk.processing.FrameworkProcessor` both ship code this way. An
        ``s3://`` ``source_dir`` is an uploaded archive already: it is used as it is.

        Raises:
            FileNotFoundError: the entry point is not where it should be.
        """
        session = self.sagemaker_session
        if self.source_dir and self.source_dir.startswith("s3://"):
            # An uploaded sourcedir.tar.gz (an attached estimator's) is used as it is.
            self.uploaded_code = self.source_dir
            return self.uploaded_code
        archive = sourcedir_archive(self.entry_point, self.source_dir)
        folder = f"{job_name}/source"
        context = pipeline_context(session)
        if context is not None:
            # As the official SDK in a pipeline: keyed by the code, not the (timestamped)
            # job name, so unchanged code keeps the step's arguments and cache entry.
            digest = code_digest(self.entry_point, self.source_dir)
            folder = f"{context.pipeline_name}/code/{digest}"
        if self.code_location:
            bucket, _, prefix = self.code_location.removeprefix("s3://").partition("/")
            key = "/".join(p for p in (prefix.strip("/"), folder, "sourcedir.tar.gz") if p)
        else:
            bucket, key = session.default_bucket(), f"{folder}/sourcedir.tar.gz"
        session.s3_client.put_object(Bucket=bucket, Key=key, Body=archive)
        self.uploaded_code = f"s3://{bucket}/{key}"
        return self.uploaded_code

    def _training_request(self, job_name: str, inputs: Any) -> dict[str, Any]:
        session = self.sagemaker_session
        self._resolve_image()
        self.upload_source(job_name)
        self._hyperparameters.update(
            {
                "sagemaker_program": Path(self.entry_point).name,
                "sagemaker_submit_directory": self.uploaded_code,
                "sagemaker_container_log_level": 20,
                "sagemaker_job_name": job_name,
                "sagemaker_region": session.boto_region_name,
            }
        )
        if pipeline_context(session) is not None:
            # The service names a pipeline's jobs (the official SDK leaves it out too).
            self._hyperparameters.pop("sagemaker_job_name")
        return super()._training_request(job_name, inputs)

    def _job_name(self, job_name: str | None) -> str:
        self._resolve_image()
        return super()._job_name(job_name)

    def create_model(
        self,
        name: str | None = None,
        env: dict[str, str] | None = None,
        entry_point: str | None = None,
        source_dir: str | None = None,
    ) -> Model:
        """A model of the trained artifact served by the same image with the training
        script (or another ``entry_point``) as the inference handler."""
        self._resolve_image()
        name = name or (self.latest_training_job.name if self.latest_training_job else None)
        if entry_point is not None:
            return Model(
                self.image_uri,
                model_data=self.model_data,
                role=self.role,
                env=env,
                name=name,
                entry_point=entry_point,
                source_dir=source_dir,
                sagemaker_session=self.sagemaker_session,
            )
        if self.uploaded_code is None:
            raise ValueError("No uploaded code: call fit() first (or give entry_point).")
        serving_env = {
            "SAGEMAKER_PROGRAM": Path(self.entry_point).name,
            "SAGEMAKER_SUBMIT_DIRECTORY": self.uploaded_code,
            "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
            "SAGEMAKER_REGION": self.sagemaker_session.boto_region_name,
            **(env or {}),
        }
        return Model(
            self.image_uri,
            model_data=self.model_data,
            role=self.role,
            env=serving_env,
            name=name,
            sagemaker_session=self.sagemaker_session,
        )


class FrameworkModel(Model):
    """A model served by a framework image with an inference ``entry_point``."""

    FRAMEWORK = ""

    def __init__(
        self,
        model_data: str,
        role: str,
        entry_point: str,
        framework_version: str,
        source_dir: str | None = None,
        py_version: str = "py3",
        image_uri: str | None = None,
        env: dict[str, str] | None = None,
        name: str | None = None,
        sagemaker_session: Session | None = None,
    ) -> None:
        session = sagemaker_session or Session()
        super().__init__(
            image_uri
            or image_uris.retrieve(
                self.FRAMEWORK,
                session.boto_region_name,
                framework_version,
                py_version=py_version,
                image_scope="inference",
            ),
            model_data=model_data,
            role=role,
            env=env,
            name=name,
            entry_point=entry_point,
            source_dir=source_dir,
            sagemaker_session=session,
        )
        self.framework_version = framework_version
