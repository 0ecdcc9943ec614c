"""``FrameworkProcessor``: a script with its folder run in a framework's image, as the
framework estimators train (``run(code, source_dir=...)``), through the ``runproc.sh``
entrypoint it uploads (:func:`runproc_script`). Built on :mod:`simsage.sdk.processing`'s
``ScriptProcessor``; importable from there too, as from the official
``sagemaker.processing``."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from simsage.sdk.framework import Framework
from simsage.sdk.inputs import ProcessingInput, ProcessingOutput
from simsage.sdk.processing import CODE_BASE, ScriptProcessor
from simsage.sdk.session import Session
from simsage.sdk.workflow.pipeline_context import runnable_by_pipeline

__all__ = ["FrameworkProcessor", "runproc_script"]


class FrameworkProcessor(ScriptProcessor):
    """Runs a script with its folder (``run(code, source_dir)``) in a framework's image,
    as the framework estimators train: the folder is packed as ``sourcedir.tar.gz`` (input
    ``code``, in ``/opt/ml/processing/input/code/``) and a small ``runproc.sh`` (input
    ``entrypoint``) unpacks it, installs its ``requirements.txt`` if there is one and runs
    ``command + [script] + arguments``.

    Parameters
    ----------
    estimator_cls:
        The framework estimator whose image and packaging are used
        (:class:`~simsage.sdk.sklearn.SKLearn`, :class:`~simsage.sdk.xgboost.XGBoost`).
    framework_version, py_version:
        The image's version (ignored when ``image_uri`` is given).
    command:
        The interpreter running the script (default ``["python"]``).
    code_location:
        The S3 prefix for ``<job>/source/sourcedir.tar.gz`` (default the default bucket).

    The other parameters are :class:`Processor`'s. Job names default to
    ``<framework>-<timestamp>`` (``sklearn-…``), as in the official SDK.
    """

    CODE_INPUT = "entrypoint"
    RUNNER = "runproc.sh"

    def __init__(
        self,
        estimator_cls: type[Framework],
        framework_version: str,
        role: str,
        instance_count: int,
        instance_type: str,
        py_version: str = "py3",
        image_uri: str | None = None,
        command: list[str] | None = None,
        volume_size_in_gb: int = 30,
        code_location: str | None = None,
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
            command or ["python"],
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
        self.estimator_cls = estimator_cls
        self.framework_version = framework_version
        self.py_version = py_version
        self.code_location = code_location.rstrip("/") if code_location else code_location

    @runnable_by_pipeline
    def run(
        self,
        code: str,
        source_dir: str | None = None,
        *,
        inputs: list[ProcessingInput] | None = None,
        outputs: list[ProcessingOutput] | None = None,
        arguments: list[str] | None = None,
        wait: bool = True,
        logs: bool = True,
        job_name: str | None = None,
    ) -> None:
        """Run script ``code`` (relative to ``source_dir`` when given, whose files it may
        import) as a processing job; otherwise as :meth:`Processor.run`. An ``s3://``
        ``code`` is taken as a ready entrypoint script, run with bash as is.

        Raises
        ------
        FileNotFoundError
            ``code`` is not a file (in ``source_dir``).
        ValueError, TypeError
            A setting, input or output is wrong (nothing was started).
        UnexpectedStatusException
            With ``wait``, the job Failed or was Stopped.
        """
        self._start(
            inputs, outputs, arguments, wait, logs, job_name, code=code, source_dir=source_dir
        )

    def _estimator(self, entry_point: str, source_dir: str | None) -> Framework:
        return self.estimator_cls(
            entry_point=entry_point,
            framework_version=self.framework_version,
            role=self.role,
            instance_count=1,
            instance_type=self.instance_type,
            source_dir=source_dir,
            py_version=self.py_version,
            image_uri=self.image_uri,
            code_location=self.code_location,
            sagemaker_session=self.sagemaker_session,
        )

    def _check(self) -> None:
        if not (isinstance(self.estimator_cls, type) and issubclass(self.estimator_cls, Framework)):
            raise TypeError(
                "estimator_cls must be a framework estimator class such as sdk.SKLearn or "
                f"sdk.XGBoost; got {self.estimator_cls!r}."
            )
        if not self.image_uri:
            estimator = self._estimator("", None)
            estimator._resolve_image()
            self.image_uri = estimator.image_uri
        super()._check()

    def _base_name(self) -> str:
        return self.base_job_name or self.estimator_cls.FRAMEWORK or "framework-processor"

    def _code_command(self) -> list[str]:
        return ["/bin/bash"]

    def _code_inputs(
        self, job_name: str, code: str | None, source_dir: str | None
    ) -> tuple[list[ProcessingInput], list[str] | None]:
        if code and urlparse(code).scheme == "s3":
            return super()._code_inputs(job_name, code, None)
        if not code:
            raise ValueError("code is required: the script to run, e.g. 'process.py'.")
        sourcedir = self._estimator(code, source_dir).upload_source(job_name)
        bucket, _, key = sourcedir.removeprefix("s3://").partition("/")
        runner_key = f"{key.rsplit('/', 1)[0]}/{self.RUNNER}"
        runner = self.sagemaker_session.upload_string_as_file_body(
            runproc_script(self.command, Path(code).name), bucket, runner_key
        )
        sourcedir_input = ProcessingInput(
            source=sourcedir, destination=f"{CODE_BASE}/code/", input_name="code"
        )
        entry_inputs, entrypoint = super()._code_inputs(job_name, runner, None)
        return [sourcedir_input, *entry_inputs], entrypoint


def runproc_script(command: list[str], script: str) -> str:
    """The FrameworkProcessor's entrypoint (``runproc.sh``): unpack ``sourcedir.tar.gz``
    in the code folder, install its ``requirements.txt`` if it has one, then run
    ``command script "$@"`` there (``exec``, so a stop's signal reaches the script)."""
    run = shlex.join([*command, script])
    return (
        "#!/bin/bash\n"
        "# The FrameworkProcessor's entrypoint (written by simsage.sdk): unpack the code,\n"
        "# install its requirements, run the script with the job's arguments.\n"
        "set -e\n"
        f"cd {CODE_BASE}/code/\n"
        "tar -xzf sourcedir.tar.gz\n"
        "if [[ -f requirements.txt ]]; then\n"
        "    python -m pip install -r requirements.txt\n"
        "fi\n"
        f'exec {run} "$@"\n'
    )
