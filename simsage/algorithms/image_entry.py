"""The entry point of simsage's own images (``containers/``): ``train`` and ``serve``.

SageMaker starts a training container as ``docker run <image> train`` and a serving
container as ``docker run <image> serve``; simsage's Docker engine does the same. The
images' ENTRYPOINT is ``python -m simsage.algorithms.image_entry`` (and their ``train``
and ``serve`` scripts on PATH run it too, for a ``ContainerEntrypoint`` naming them),
so this module decides what the image is, from ``$SIMSAGE_IMAGE`` (set by the
Dockerfile): ``xgboost``, ``sklearn`` or a first-party algorithm (``kmeans`` …).

``train`` does what the SageMaker training toolkit does before the algorithm starts,
because real SageMaker gives a container only ``/opt/ml`` and ``TRAINING_JOB_NAME``
(simsage's engine also sets the ``SM_*`` variables; set ones are kept):

- ``SIMSAGE_OPT_ML=/opt/ml``, where simsage's training modules read the job;
- the ``SM_*`` variables, computed from ``/opt/ml/input/config/*.json``;
- in script mode (the scikit-learn image, or the XGBoost image with
  ``sagemaker_program``), the user's code: simsage's runner has already extracted
  ``sagemaker_submit_directory`` into ``/opt/ml/code`` (the job folder it mounts);
  on SageMaker that folder is empty, so the S3 archive is downloaded here with boto3
  and the instance's role, as the toolkit does;
- one instance only: the algorithms' multi-host exchange (first-party ``gather``,
  XGBoost's tracker) talks over 127.0.0.1, which is one container, so a job with
  several hosts fails at once with that reason rather than waiting for peers.

Then it runs the algorithm's module as ``__main__`` in this process, with SIGTERM
turned into an exit: the process is the container's PID 1, for which the kernel
ignores a signal without a handler, so ``StopTrainingJob`` would otherwise wait for
the engine's SIGKILL.

``serve`` runs :mod:`simsage.serving.server` with ``--container`` (0.0.0.0:8080: the
image sets ``SIMSAGE_IN_CONTAINER=1``) on ``/opt/ml/model``, in the image's mode; an
S3 ``SAGEMAKER_SUBMIT_DIRECTORY`` (the SDK's older model layout) is downloaded into
``/opt/ml/code`` first.
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
import signal
import sys
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from simsage.algorithms.first_party import ALGORITHMS
from simsage.runtime.environment import OPT_ML_ENV, decode_hyperparameters, training_env

IMAGE_ENV = "SIMSAGE_IMAGE"
OPT_ML = Path("/opt/ml")
SCRIPT_MODE = "simsage.algorithms.script_mode"
XGBOOST_ALGORITHM = "simsage.algorithms.xgboost_train"
PROGRAM_ENV = "SAGEMAKER_PROGRAM"
SUBMIT_DIR_ENV = "SAGEMAKER_SUBMIT_DIRECTORY"
USAGE = "usage: <image> train | serve (SageMaker runs `docker run <image> train` or `serve`)"


class EntryError(Exception):
    """The job cannot start; the message goes to ``output/failure`` and stderr."""


def image_kind(environ: dict[str, str] | None = None) -> str:
    """What this image is (``$SIMSAGE_IMAGE``), checked against what simsage has."""
    kind = (os.environ if environ is None else environ).get(IMAGE_ENV, "")
    if kind not in ("xgboost", "sklearn", *ALGORITHMS):
        known = ", ".join(["xgboost", "sklearn", *ALGORITHMS])
        raise EntryError(f"{IMAGE_ENV}={kind!r} names no simsage image (one of {known})")
    return kind


def train_module(kind: str, hyperparameters: dict[str, Any]) -> str:
    """The module that trains: the image's algorithm, or script mode (the scikit-learn
    image always; the XGBoost image when the job names ``sagemaker_program``, as the
    SageMaker XGBoost container does)."""
    if kind == "sklearn":
        return SCRIPT_MODE
    if kind == "xgboost":
        return SCRIPT_MODE if "sagemaker_program" in hyperparameters else XGBOOST_ALGORITHM
    return ALGORITHMS[kind].train_module


def serve_arguments(kind: str, environ: dict[str, str], model_dir: str) -> list[str]:
    """The server's command line for this image (mode and framework as simsage's own
    serving plan picks them for the matching ECR image)."""
    if kind in ALGORITHMS:
        mode, framework = "first-party", kind
    elif kind == "xgboost" and not environ.get(PROGRAM_ENV):
        mode, framework = "xgboost", "xgboost"
    else:
        mode, framework = "script", kind
    return ["--container", "--model-dir", model_dir, "--mode", mode, "--framework", framework]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise EntryError(f"{path} is missing: is /opt/ml the training job's folder?") from None
    except ValueError as exc:
        raise EntryError(f"{path} is not JSON: {exc}") from None


def toolkit_environment(root: Path, environ: dict[str, str]) -> dict[str, str]:
    """The ``SM_*`` variables the training toolkit would export, for those ``environ``
    does not already have (simsage's engine sets them; SageMaker does not)."""
    config = root / "input" / "config"
    resource = _read_json(config / "resourceconfig.json")
    hosts = resource.get("hosts") or []
    if len(hosts) > 1:
        raise EntryError(
            f"simsage's images train on one instance only; this job has {len(hosts)} "
            "(the algorithms' hosts meet on 127.0.0.1, which is one container). "
            "Use InstanceCount=1."
        )
    computed = training_env(
        PurePosixPath(str(root)),  # type: ignore[arg-type]  # only "/" and str() are used
        environ.get("TRAINING_JOB_NAME", ""),
        _read_json(config / "hyperparameters.json"),
        _read_json(config / "inputdataconfig.json")
        if (config / "inputdataconfig.json").exists()
        else {},
        resource,
    )
    return {k: v for k, v in computed.items() if k not in environ}


def _extract(archive: Path, folder: Path) -> None:
    """Extract a source archive, refusing members that would leave ``folder``.

    Python's ``data`` filter is not in every 3.11 (Debian bookworm's 3.11.2 lacks it),
    so the rule is checked here: regular files and folders only, relative names with
    no ``..``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        for member in members:
            name = PurePosixPath(member.name)
            if name.is_absolute() or ".." in name.parts or not (member.isreg() or member.isdir()):
                raise EntryError(
                    f"the source archive's member {member.name!r} is not a plain file or "
                    "folder inside it; simsage's images extract only those"
                )
        for member in members:
            target = folder / member.name
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None  # a regular file always has content
            with source, target.open("wb") as out:
                shutil.copyfileobj(source, out)
            target.chmod(0o755 if member.mode & 0o111 else 0o644)


def fetch_source(uri: str, folder: Path, region: str | None) -> None:
    """Download an ``s3://`` source archive (``sourcedir.tar.gz``) into ``folder`` with
    boto3 and the container's credentials (on SageMaker: the job's role)."""
    import boto3  # only on SageMaker's path: simsage's runner stages the code itself

    if not uri.startswith("s3://"):
        raise EntryError(f"the source directory must be an s3:// URI of a tar.gz; got {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    print(f"simsage: downloading the source {uri} into {folder}", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "sourcedir.tar.gz"
        try:
            boto3.client("s3", region_name=region).download_file(bucket, key, str(archive))
        except Exception as exc:  # boto3's errors are many; the job only needs the reason
            raise EntryError(f"could not download the source {uri}: {exc}") from None
        try:
            _extract(archive, folder)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise EntryError(f"could not extract the source {uri}: {exc}") from None


def prepare_script_source(root: Path, hyperparameters: dict[str, Any], environ: dict) -> None:
    """Make sure ``/opt/ml/code`` holds the user's entry point: already there when
    simsage's runner staged it, else downloaded from ``sagemaker_submit_directory``."""
    program = hyperparameters.get("sagemaker_program")
    code = root / "code"
    if not program or (code / str(program)).is_file():
        return  # script_mode reports a missing sagemaker_program itself
    submit = hyperparameters.get("sagemaker_submit_directory")
    if not submit:
        return  # script_mode says the entry point is not in /opt/ml/code
    region = hyperparameters.get("sagemaker_region") or environ.get("AWS_REGION")
    fetch_source(str(submit), code, region)


def _write_failure(root: Path, message: str) -> None:
    try:
        (root / "output").mkdir(parents=True, exist_ok=True)
        failure = root / "output" / "failure"
        if not failure.exists():
            failure.write_text(message)
    except OSError:
        pass  # the message is on stderr too


def _stop_on_sigterm() -> None:
    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def train(root: Path = OPT_ML) -> int:
    """Prepare the environment as the training toolkit would, then run the image's
    algorithm in this process; returns its exit status."""
    try:
        kind = image_kind()
        os.environ[OPT_ML_ENV] = str(root)
        os.environ.update(toolkit_environment(root, dict(os.environ)))
        raw = _read_json(root / "input" / "config" / "hyperparameters.json")
        hyperparameters = decode_hyperparameters(raw)
        module = train_module(kind, hyperparameters)
        if module == SCRIPT_MODE:
            prepare_script_source(root, hyperparameters, dict(os.environ))
    except EntryError as exc:
        print(f"simsage: {exc}", file=sys.stderr, flush=True)
        _write_failure(root, f"ClientError: {exc}")
        return 1
    _stop_on_sigterm()
    sys.argv = [module]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:  # the modules end with sys.exit(main())
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


def serve(root: Path = OPT_ML) -> int:
    """Run the inference server on 0.0.0.0 (SageMaker's port) for ``/opt/ml/model``."""
    from simsage.serving import server

    try:
        kind = image_kind()
        submit = os.environ.get(SUBMIT_DIR_ENV, "")
        if submit.startswith("s3://"):
            fetch_source(submit, root / "code", os.environ.get("AWS_REGION"))
            os.environ[SUBMIT_DIR_ENV] = str(root / "code")
    except EntryError as exc:
        print(f"{server.PREFIX} model load failed: {exc}", file=sys.stderr, flush=True)
        return 1
    return server.main(serve_arguments(kind, dict(os.environ), str(root / "model")))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in ("train", "serve"):
        print(USAGE, file=sys.stderr)
        return 2
    return train() if args[0] == "train" else serve()


if __name__ == "__main__":
    sys.exit(main())
