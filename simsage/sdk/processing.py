"""Processing jobs: ``Processor``, ``ScriptProcessor``, ``SKLearnProcessor`` and
``FrameworkProcessor`` run a container — or your script in a framework image — over S3
inputs, and upload what it writes; ``ProcessingInput``/``ProcessingOutput`` say what goes
where. Names and meanings are the official SDK v2's (``sagemaker.processing``):

    processor = SKLearnProcessor("1.2-1", role, instance_count=1, instance_type="ml.m5.large")
    processor.run(
        code="preprocessing.py",
        inputs=[ProcessingInput("s3://bucket/raw/", "/opt/ml/processing/input")],
        outputs=[ProcessingOutput("/opt/ml/processing/train", output_name="train")],
        arguments=["--train-fraction", "0.7"],
    )
    processor.latest_job.outputs[0].destination  # s3://<default bucket>/<job>/output/train

Layer: SDK, on the boto3 ``sagemaker``, ``s3`` and ``logs`` clients only, so the same code
runs on simsage and on AWS.

Invariants:

- Constructors store their arguments; ``run`` checks them (and every input and output)
  before anything is uploaded or started, then sends exactly one CreateProcessingJob.
- The caller's ``ProcessingInput``/``ProcessingOutput`` objects are never changed: the job's
  are named, uploaded copies (``job.inputs``, ``job.outputs``).
- S3 layout as the official SDK lays it out, ``<bucket>`` being the session's default
  bucket: a local ``code`` file goes to ``s3://<bucket>/<job>/input/code/<file name>``, a
  local input to ``s3://<bucket>/<job>/input/<input name>``, an output without an S3
  destination to ``s3://<bucket>/<job>/output/<output name>``; unnamed inputs and outputs
  are ``input-<i>``/``output-<i>`` (1-based, by position).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

from simsage.sdk import image_uris
from simsage.sdk.inputs import ProcessingInput, ProcessingOutput
from simsage.sdk.processing_checks import (
    check_strings,
    local_code,
    local_source,
    name_inputs,
    name_outputs,
)
from simsage.sdk.session import Session
from simsage.sdk.utils import base_name_from_image, name_from_base
from simsage.sdk.workflow.entities import PipelineVariable, is_pipeline_variable
from simsage.sdk.workflow.pipeline_context import pipeline_context, runnable_by_pipeline

__all__ = [
    "ProcessingInput",  # defined with the other inputs, importable from here as in the SDK
    "ProcessingJob",
    "ProcessingOutput",
    "Processor",
    "SKLearnProcessor",
    "ScriptProcessor",
]


def __getattr__(name: str):
    # FrameworkProcessor (and its runproc.sh) live in simsage.sdk.framework_processor, which
    # builds on this module; they are importable from here too, as from sagemaker.processing.
    if name in ("FrameworkProcessor", "runproc_script"):
        from simsage.sdk import framework_processor

        return getattr(framework_processor, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


CODE_BASE = "/opt/ml/processing/input"  # where the SDK puts a job's code inputs


class ProcessingJob:
    """A processing job a processor started (``processor.latest_job``).

    ``inputs`` and ``outputs`` are the job's own (named, with their S3 URIs): an output's
    ``destination`` is where its files are once the job has completed.
    """

    def __init__(
        self,
        sagemaker_session: Session,
        job_name: str,
        inputs: list[ProcessingInput],
        outputs: list[ProcessingOutput],
    ) -> None:
        self.sagemaker_session = sagemaker_session
        self.job_name = job_name
        self.inputs = inputs
        self.outputs = outputs

    @property
    def name(self) -> str:
        return self.job_name

    @classmethod
    def from_processing_name(
        cls, sagemaker_session: Session, processing_job_name: str
    ) -> ProcessingJob:
        """The job of that name (started here, elsewhere, or earlier), its inputs and
        outputs read back from DescribeProcessingJob."""
        described = sagemaker_session.sagemaker_client.describe_processing_job(
            ProcessingJobName=processing_job_name
        )
        inputs = [
            ProcessingInput(
                source=item["S3Input"]["S3Uri"],
                destination=item["S3Input"].get("LocalPath"),
                input_name=item["InputName"],
                s3_data_type=item["S3Input"]["S3DataType"],
                s3_input_mode=item["S3Input"].get("S3InputMode", "File"),
                s3_data_distribution_type=item["S3Input"].get(
                    "S3DataDistributionType", "FullyReplicated"
                ),
                s3_compression_type=item["S3Input"].get("S3CompressionType", "None"),
                app_managed=item.get("AppManaged", False),
            )
            for item in described.get("ProcessingInputs", [])
            if "S3Input" in item
        ]
        outputs = [
            ProcessingOutput(
                source=item["S3Output"].get("LocalPath"),
                destination=item["S3Output"]["S3Uri"],
                output_name=item["OutputName"],
                s3_upload_mode=item["S3Output"]["S3UploadMode"],
                app_managed=item.get("AppManaged", False),
            )
            for item in described.get("ProcessingOutputConfig", {}).get("Outputs", [])
            if "S3Output" in item
        ]
        return cls(sagemaker_session, processing_job_name, inputs, outputs)

    def describe(self) -> dict[str, Any]:
        """DescribeProcessingJob's answer (status, ``ProcessingOutputConfig``, reasons…)."""
        return self.sagemaker_session.sagemaker_client.describe_processing_job(
            ProcessingJobName=self.job_name
        )

    def wait(self, logs: bool = True) -> dict[str, Any]:
        """Wait for the job to end (printing its log lines with ``logs``); returns its
        description.

        Raises:
            UnexpectedStatusException: the job Failed (its FailureReason is in the
                message) or was Stopped.
        """
        session = self.sagemaker_session
        if logs:
            return session.logs_for_processing_job(self.job_name, wait=True)
        return session.wait_for_processing_job(self.job_name)

    def stop(self) -> None:
        """Ask SageMaker to stop the job (it goes Stopping, then Stopped)."""
        self.sagemaker_session.sagemaker_client.stop_processing_job(ProcessingJobName=self.job_name)


class Processor:
    """Runs processing jobs with any image, its program given by ``entrypoint``.

    Parameters
    ----------
    role:
        The execution role ARN.
    image_uri:
        The container image.
    instance_count, instance_type:
        The processing cluster (each instance runs the program; inputs with
        ``ShardedByS3Key`` are split between them).
    entrypoint:
        ``ContainerEntrypoint``: the command the container runs (the image's own when
        None); ``run(arguments=…)`` are appended to it.
    volume_size_in_gb, max_runtime_in_seconds:
        ``VolumeSizeInGB`` and ``StoppingCondition.MaxRuntimeInSeconds`` (SageMaker's
        default, one day, when None).
    base_job_name:
        Job names are ``<base>-<timestamp>``; by default the image's repository name.
    sagemaker_session:
        The :class:`~simsage.sdk.session.Session` (a new one by default).
    env, tags, network_config:
        ``Environment`` (a dict), ``Tags`` (a list of ``{"Key", "Value"}``) and
        ``NetworkConfig`` (the API's dict) of CreateProcessingJob.
    """

    JOB_CLASS_NAME = "processing-job"

    def __init__(
        self,
        role: str,
        image_uri: str,
        instance_count: int,
        instance_type: str,
        entrypoint: list[str] | None = None,
        volume_size_in_gb: int = 30,
        max_runtime_in_seconds: int | None = None,
        base_job_name: str | None = None,
        sagemaker_session: Session | None = None,
        env: dict[str, str] | None = None,
        tags: list[dict[str, str]] | None = None,
        network_config: dict[str, Any] | None = None,
    ) -> None:
        self.role = role
        self.image_uri = image_uri
        self.instance_count = instance_count
        self.instance_type = instance_type
        self.entrypoint = entrypoint
        self.volume_size_in_gb = volume_size_in_gb
        self.max_runtime_in_seconds = max_runtime_in_seconds
        self.base_job_name = base_job_name
        self.sagemaker_session = sagemaker_session or Session()
        self.env = env
        self.tags = tags
        self.network_config = network_config
        self.jobs: list[ProcessingJob] = []
        self.latest_job: ProcessingJob | None = None
        self.arguments: list[str] | None = None

    @runnable_by_pipeline
    def run(
        self,
        inputs: list[ProcessingInput] | None = None,
        outputs: list[ProcessingOutput] | None = None,
        arguments: list[str] | None = None,
        wait: bool = True,
        logs: bool = True,
        job_name: str | None = None,
    ) -> None:
        """Start a processing job and (by default) wait for it, printing its logs.

        Parameters
        ----------
        inputs, outputs:
            What is downloaded before the program starts, and uploaded after.
        arguments:
            ``ContainerArguments``, appended to the entrypoint.
        wait, logs:
            Wait for the job to end; print its log lines meanwhile (only with ``wait``).
        job_name:
            The job's name (default ``<base job name>-<timestamp>``).

        Raises
        ------
        ValueError, TypeError
            A setting, input or output is missing or wrong (nothing was started).
        UnexpectedStatusException
            With ``wait``, the job Failed (the reason is in the message) or was Stopped.
        botocore.exceptions.ClientError
            SageMaker refused the request (ValidationException says why).
        """
        if logs and not wait:
            raise ValueError(
                "Logs can only be shown if wait is set to True. "
                "Please either set wait to True or set logs to False."
            )
        self._start(inputs, outputs, arguments, wait, logs, job_name)

    # -- the steps of run(), which the subclasses extend ---------------------------------
    def _check(self) -> None:
        """Raise ValueError if a setting the job needs is missing or malformed."""
        if not self.role:
            raise ValueError("An AWS IAM role is required to create a Processing job.")
        if not self.image_uri:
            raise ValueError("image_uri is required: the container image the processing job runs.")
        if not self.instance_type or not isinstance(self.instance_count, int | PipelineVariable):
            raise ValueError(
                "instance_count (an int, e.g. 1) and instance_type (e.g. 'ml.m5.large') are "
                f"required; got {self.instance_count!r} and {self.instance_type!r}."
            )
        check_strings("entrypoint", self.entrypoint)

    def _base_name(self) -> str:
        return self.base_job_name or base_name_from_image(self.image_uri) or self.JOB_CLASS_NAME

    def _code_inputs(
        self, job_name: str, code: str | None, source_dir: str | None
    ) -> tuple[list[ProcessingInput], list[str] | None]:
        """The inputs that ship the job's code, and its entrypoint (the base class runs the
        image as given)."""
        return [], self.entrypoint

    def _start(
        self,
        inputs: list[ProcessingInput] | None,
        outputs: list[ProcessingOutput] | None,
        arguments: list[str] | None,
        wait: bool,
        logs: bool,
        job_name: str | None,
        code: str | None = None,
        source_dir: str | None = None,
    ) -> None:
        """Check, name, upload, create the job, and wait for it if asked."""
        self._check()
        check_strings("arguments", arguments)
        named_inputs = name_inputs(inputs)
        named_outputs = name_outputs(outputs)
        for item in named_inputs:
            if not is_pipeline_variable(item.source):
                local_source(item.source)  # a missing local file fails before any upload
        name = job_name or name_from_base(self._base_name())
        code_inputs, entrypoint = self._code_inputs(name, code, source_dir)
        job_inputs = [self._uploaded(name, item) for item in named_inputs] + code_inputs
        job_outputs = [self._destined(name, item) for item in named_outputs]
        request = self._request(name, job_inputs, job_outputs, arguments, entrypoint)
        self.sagemaker_session.sagemaker_client.create_processing_job(**request)
        self.arguments = arguments
        self.latest_job = ProcessingJob(self.sagemaker_session, name, job_inputs, job_outputs)
        self.jobs.append(self.latest_job)
        if wait:
            self.latest_job.wait(logs=logs)

    def _uploaded(self, job_name: str, item: ProcessingInput) -> ProcessingInput:
        """The input with a local source uploaded to ``<job>/input/<input name>`` (in a
        pipeline, ``<pipeline>/<step>/input/<input name>``: the same for each execution)."""
        if is_pipeline_variable(item.source):
            return item
        local = local_source(item.source)
        if local is None:
            return item
        context = pipeline_context(self.sagemaker_session)
        if context is not None:
            job_name = f"{context.pipeline_name}/{context.step_name}"
        uri = self.sagemaker_session.upload_data(
            local, key_prefix=f"{job_name}/input/{item.input_name}"
        )
        return replace(item, source=uri)

    def _destined(self, job_name: str, item: ProcessingOutput) -> ProcessingOutput:
        """The output with an S3 destination (``<job>/output/<output name>`` by default;
        in a pipeline, ``<pipeline>/<execution id>/<step>/output/<output name>``, as the
        official SDK writes it)."""
        if is_pipeline_variable(item.destination):
            return item
        if item.destination and urlparse(item.destination).scheme == "s3":
            return item
        bucket = self.sagemaker_session.default_bucket()
        context = pipeline_context(self.sagemaker_session)
        if context is not None:
            from simsage.sdk.workflow.execution_variables import ExecutionVariables
            from simsage.sdk.workflow.functions import Join

            parts = [context.pipeline_name, ExecutionVariables.PIPELINE_EXECUTION_ID]
            parts += [context.step_name, "output", item.output_name]
            return replace(item, destination=Join(on="/", values=["s3:/", bucket, *parts]))
        return replace(item, destination=f"s3://{bucket}/{job_name}/output/{item.output_name}")

    def _request(
        self,
        job_name: str,
        inputs: list[ProcessingInput],
        outputs: list[ProcessingOutput],
        arguments: list[str] | None,
        entrypoint: list[str] | None,
    ) -> dict[str, Any]:
        """CreateProcessingJob's parameters, with the keys the official SDK sends."""
        app: dict[str, Any] = {"ImageUri": self.image_uri}
        if arguments is not None:
            app["ContainerArguments"] = arguments
        if entrypoint is not None:
            app["ContainerEntrypoint"] = entrypoint
        request: dict[str, Any] = {
            "ProcessingJobName": job_name,
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceCount": self.instance_count,
                    "InstanceType": self.instance_type,
                    "VolumeSizeInGB": self.volume_size_in_gb,
                }
            },
            "AppSpecification": app,
            "RoleArn": self.role,
        }
        if inputs:
            request["ProcessingInputs"] = [item.config for item in inputs]
        if outputs:
            request["ProcessingOutputConfig"] = {"Outputs": [item.config for item in outputs]}
        optional = (
            ("Environment", self.env),
            ("NetworkConfig", self.network_config),
            ("Tags", self.tags),
        )
        for key, value in optional:
            if value is not None:
                request[key] = value
        if self.max_runtime_in_seconds is not None:
            request["StoppingCondition"] = {"MaxRuntimeInSeconds": self.max_runtime_in_seconds}
        return request


class ScriptProcessor(Processor):
    """Runs a script (``run(code=…)``) with ``command`` in an image: the script is
    uploaded, downloaded to ``/opt/ml/processing/input/code/`` as input ``code``, and the
    container runs ``command + [that path] + arguments``.

    Parameters are :class:`Processor`'s, plus ``command`` (e.g. ``["python3"]``).
    """

    CODE_INPUT = "code"  # the name (and folder under CODE_BASE) of the input holding the code

    def __init__(
        self,
        role: str,
        image_uri: str,
        command: list[str],
        instance_count: int,
        instance_type: str,
        volume_size_in_gb: int = 30,
        max_runtime_in_seconds: int | None = None,
        base_job_name: str | None = None,
        sagemaker_session: Session | None = None,
        env: dict[str, str] | None = None,
        tags: list[dict[str, str]] | None = None,
        network_config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            role,
            image_uri,
            instance_count,
            instance_type,
            volume_size_in_gb=volume_size_in_gb,
            max_runtime_in_seconds=max_runtime_in_seconds,
            base_job_name=base_job_name,
            sagemaker_session=sagemaker_session,
            env=env,
            tags=tags,
            network_config=network_config,
        )
        self.command = command

    @runnable_by_pipeline
    def run(
        self,
        code: str,
        inputs: list[ProcessingInput] | None = None,
        outputs: list[ProcessingOutput] | None = None,
        arguments: list[str] | None = None,
        wait: bool = True,
        logs: bool = True,
        job_name: str | None = None,
    ) -> None:
        """Run ``code`` (a local file, uploaded to ``<job>/input/code/``, or an S3 URI)
        as a processing job; otherwise as :meth:`Processor.run`.

        Raises
        ------
        ValueError
            ``code`` is missing, a folder, or neither a local path nor an S3 URI; or a
            setting, input or output is wrong (nothing was started).
        UnexpectedStatusException
            With ``wait``, the job Failed or was Stopped.
        """
        self._start(inputs, outputs, arguments, wait, logs, job_name, code=code)

    def _check(self) -> None:
        super()._check()
        check_strings("command", self.command)
        if not self.command:
            raise ValueError("command is required, e.g. ['python3'].")

    def _code_command(self) -> list[str]:
        return list(self.command)

    def _code_inputs(
        self, job_name: str, code: str | None, source_dir: str | None
    ) -> tuple[list[ProcessingInput], list[str] | None]:
        if not code:
            raise ValueError("code is required: the script to run (a local path or an S3 URI).")
        local = local_code(code)
        context = pipeline_context(self.sagemaker_session)
        if local is None:
            uri = code
        elif context is not None:
            # As the official SDK: keyed by the script's content, so an unchanged script
            # keeps the step's arguments (and its cache entry) from one upsert to the next.
            digest = hashlib.sha256(Path(local).read_bytes()).hexdigest()
            uri = self.sagemaker_session.upload_data(
                local, key_prefix=f"{context.pipeline_name}/code/{digest}"
            )
        else:
            uri = self.sagemaker_session.upload_data(
                local, key_prefix=f"{job_name}/input/{self.CODE_INPUT}"
            )
        folder = PurePosixPath(CODE_BASE, self.CODE_INPUT)
        script = PurePosixPath(urlparse(code).path).name
        code_input = ProcessingInput(
            source=uri, destination=str(folder), input_name=self.CODE_INPUT
        )
        return [code_input], [*self._code_command(), str(folder / script)]


class SKLearnProcessor(ScriptProcessor):
    """A :class:`ScriptProcessor` in the scikit-learn image of ``framework_version``
    (e.g. ``1.2-1``, see :func:`simsage.sdk.image_uris.retrieve`), running the script with
    ``command`` (default ``["python3"]``). The image URI is resolved for the session's
    region when the first job starts."""

    def __init__(
        self,
        framework_version: str,
        role: str,
        instance_count: int,
        instance_type: str,
        command: list[str] | None = None,
        volume_size_in_gb: int = 30,
        max_runtime_in_seconds: int | None = None,
        base_job_name: str | None = None,
        sagemaker_session: Session | None = None,
        env: dict[str, str] | None = None,
        tags: list[dict[str, str]] | None = None,
        network_config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            role,
            None,
            command or ["python3"],
            instance_count,
            instance_type,
            volume_size_in_gb=volume_size_in_gb,
            max_runtime_in_seconds=max_runtime_in_seconds,
            base_job_name=base_job_name,
            sagemaker_session=sagemaker_session,
            env=env,
            tags=tags,
            network_config=network_config,
        )
        self.framework_version = framework_version

    def _check(self) -> None:
        if not self.image_uri:
            self.image_uri = image_uris.retrieve(
                "sklearn",
                self.sagemaker_session.boto_region_name,
                self.framework_version,
                instance_type=self.instance_type,
            )
        super()._check()
