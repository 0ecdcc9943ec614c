"""The processing job runner: one detached process per job (``python -m
simsage.processing.runner <home> <job>``), started by CreateProcessingJob.

Layer: processing (data plane), a :class:`~simsage.runtime.job.JobProcess`; the hosts
are a :class:`~simsage.runtime.hosts.HostGroup` (start, logs, stop and
MaxRuntimeInSeconds, a failed host ending the others), the same as training's. What is
processing's own, as SageMaker Processing does it:

- each host's ``/opt/ml``: ``config/processingjobconfig.json`` (the request, JSON
  ``null`` for what it left out, ``S3DownloadMode: StartOfJob`` on each S3Input) and
  ``config/resourceconfig.json``; every input downloaded to its LocalPath under
  ``/opt/ml/processing/`` (S3Prefix or ManifestFile, FullyReplicated or ShardedByS3Key
  over the hosts) and every output's LocalPath created, all before the container starts;
- the container: ``AppSpecification`` with Docker's semantics (ContainerEntrypoint
  replaces the image's entrypoint, ContainerArguments alone go to the image's
  entrypoint); the scikit-learn and XGBoost framework images run as processes with
  simsage's Python (``python3`` on their PATH), any other image under a Docker engine;
  a stop sends SIGINT, then SIGKILL after the grace period;
- outputs: ``Continuous`` outputs are uploaded as their files are closed, ``EndOfJob``
  outputs once every host has exited 0 (symlinks never); ``/opt/ml/output/message``
  (its first 1 KB) becomes ExitMessage in any terminal state;
- instance metrics: each host's CPUUtilization and MemoryUtilization in
  ``/aws/sagemaker/ProcessingJobs`` by ``Host`` = ``<job>/algo-<n>`` while it runs;
- the outcome: every host exiting 0 is Completed; any other exit is Failed with an
  ``AlgorithmError`` reason naming the host, its exit code and its last lines.

It imports only what it needs (no boto3, no ML libraries) to start fast.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import signal
import sys
from functools import partial
from pathlib import Path
from typing import Any

from simsage.processing.jobs import ProcessingJob, ProcessingJobStore
from simsage.runtime import containers, docker_engine, outputs, paths, staging
from simsage.runtime.hosts import Host, HostGroup
from simsage.runtime.images import parse_image
from simsage.runtime.job import ACTIVE, FAILURE_LIMIT, JobProcess
from simsage.runtime.network import PrivateNetwork
from simsage.runtime.python import child_environment
from simsage.runtime.usage import InstanceUsage
from simsage.s3.backend import S3Backend
from simsage.transport.endpoint_use import container_access, job_environment

LOG_GROUP = "/aws/sagemaker/ProcessingJobs"
METRICS_NAMESPACE = "/aws/sagemaker/ProcessingJobs"
DEFAULT_MAX_RUNTIME = 86400
FLUSH_EVERY = 1.0
MESSAGE_LIMIT = 1024  # ExitMessage: the first 1 KB of /opt/ml/output/message
SEE_LOGS = "AlgorithmError: See job logs for more information"


class Runner(JobProcess):
    kind = "processing job"
    log_group = LOG_GROUP

    def __init__(self, home, name: str) -> None:
        self.jobs = ProcessingJobStore(home)
        found = self.jobs.find(name)
        self.job: ProcessingJob | None = found
        self.spec: dict[str, Any] = found.spec if found else {}
        self.dir = Path(found.job_dir) if found else None
        super().__init__(home, name, self.dir)
        self.s3 = S3Backend(home)
        self.hosts = HostGroup([], self.log_lines)
        self.engine: docker_engine.DockerEngine | None = None  # other images only
        self.network: PrivateNetwork | None = None
        self.continuous: list[outputs.ContinuousUpload] = []
        self.usage = InstanceUsage(home, METRICS_NAMESPACE)

    # -- the job process's hooks -------------------------------------------------------

    def status(self) -> str | None:
        return self.jobs.status(self.name)

    def fail(self, reason: str) -> None:
        self._finish("Failed", failure=reason)

    def release_instances(self) -> None:
        self.hosts.signal_all(signal.SIGKILL)
        if self.network is not None:
            self.network.close()
        if self.engine is not None:
            self.engine.cleanup()

    def cleanup(self) -> None:
        self.release_instances()
        for upload in self.continuous:
            upload.stop()

    def work(self) -> None:
        app = self.spec["AppSpecification"]
        image = parse_image(app["ImageUri"])
        count = self.spec["ProcessingResources"]["ClusterConfig"]["InstanceCount"]
        self.hosts.hosts = [Host(f"algo-{i}", self.dir / f"algo-{i}") for i in range(1, count + 1)]
        self.jobs.update(self.name, started=self.home.clock.time())
        self.job = self.jobs.get(self.name)
        self.hosts.open_streams(self.logs, LOG_GROUP, self.name, int(self.job.started))
        try:
            for host in self.hosts:
                self._prepare_host(host)
        except staging.DataError as exc:
            return self._finish("Failed", failure=str(exc))
        if self.stopping():
            return self._finish("Stopped")
        if image.framework is None:  # another image: only a Docker engine can run it
            client, why_not = docker_engine.connect()
            if client is None:
                print(f"simsage: no Docker engine for {image.uri}: {why_not}", flush=True)
                return self._finish(
                    "Failed",
                    failure=(
                        f"AlgorithmError: The processing image {image.uri} is not one simsage "
                        "runs itself (the SageMaker scikit-learn and XGBoost images are), and "
                        f"no Docker engine is available to run it ({why_not})."
                    )[:FAILURE_LIMIT],
                )
            instance_type = self.spec["ProcessingResources"]["ClusterConfig"]["InstanceType"]
            limits, note = docker_engine.instance_limits(instance_type, dict(os.environ))
            if note:
                print(f"simsage: {note}", flush=True)
            self.engine = docker_engine.DockerEngine(
                client,
                self.name,
                kind="processing",
                what="processing image",
                default_command=None,
                record=self.dir / docker_engine.LEFTOVERS,
                limits=limits,
                s3=partial(container_access, self.home.path, self.job.region),
                on_note=self.hosts.log,
            )
        print(f"simsage: processing job {self.name}: downloading input data", flush=True)
        try:
            self._stage_inputs()
            if self.engine is not None:
                self.engine.ensure_image(image.uri)
        except (staging.DataError, docker_engine.EngineError) as exc:
            return self._finish("Failed", failure=str(exc))
        if self.stopping():
            return self._finish("Stopped")
        try:
            outcome = self._run(image)
        except docker_engine.EngineError as exc:
            return self._finish("Failed", failure=str(exc))
        except containers.LaunchError as exc:
            return self._finish("Failed", failure=f"AlgorithmError: {exc}"[:FAILURE_LIMIT])
        self._finish_outcome(outcome)

    # -- preparing ---------------------------------------------------------------------

    def _inputs(self) -> list[dict[str, Any]]:
        return [i for i in self.spec.get("ProcessingInputs") or [] if i.get("S3Input")]

    def _outputs(self) -> list[dict[str, Any]]:
        config = self.spec.get("ProcessingOutputConfig") or {}
        return [o for o in config.get("Outputs") or [] if o.get("S3Output")]

    def _folder(self, host: Host, local: str | None, where: str) -> Path | None:
        """The host folder of a LocalPath (checked at create time; refused here too if it
        would leave the host's folder). None for an AppManaged input without one."""
        if not local:
            return None
        try:
            return paths.host_path(host.root, local, where)
        except paths.PathError as exc:
            raise staging.DataError(f"ClientError: {exc}") from None

    def _prepare_host(self, host: Host) -> None:
        staging.ensure_folders(host.root, ["config", "output"])
        for item in self._inputs():
            folder = self._folder(host, item["S3Input"].get("LocalPath"), "S3Input.LocalPath")
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
        for item in self._outputs():
            folder = self._folder(host, item["S3Output"].get("LocalPath"), "S3Output.LocalPath")
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
        config = host.root / "config"
        (config / "processingjobconfig.json").write_text(json.dumps(self._job_config(), indent=1))
        (config / "resourceconfig.json").write_text(
            json.dumps({"current_host": host.name, "hosts": self.hosts.names})
        )

    def _job_config(self) -> dict[str, Any]:
        """``processingjobconfig.json``: the request as the container sees it."""
        spec = self.spec
        inputs = []
        for item in spec.get("ProcessingInputs") or []:
            entry = {"InputName": item["InputName"], "AppManaged": item.get("AppManaged", False)}
            source = item.get("S3Input")
            if source is not None:
                entry["S3Input"] = {
                    "S3Uri": source["S3Uri"],
                    "LocalPath": source.get("LocalPath"),
                    "S3DataType": source["S3DataType"],
                    "S3InputMode": source.get("S3InputMode", "File"),
                    "S3DataDistributionType": source.get(
                        "S3DataDistributionType", "FullyReplicated"
                    ),
                    "S3CompressionType": source.get("S3CompressionType", "None"),
                    "S3DownloadMode": "StartOfJob",
                }
            inputs.append(entry)
        output_config = spec.get("ProcessingOutputConfig")
        if output_config is not None:
            output_config = {
                "Outputs": [
                    {
                        "OutputName": item["OutputName"],
                        "AppManaged": item.get("AppManaged", False),
                        "S3Output": item.get("S3Output"),
                    }
                    for item in output_config.get("Outputs") or []
                ],
                "KmsKeyId": output_config.get("KmsKeyId"),
            }
        app = spec["AppSpecification"]
        return {
            "ProcessingJobArn": self.job.arn,
            "ProcessingJobName": self.name,
            "AppSpecification": {
                "ImageUri": app["ImageUri"],
                "ContainerEntrypoint": app.get("ContainerEntrypoint"),
                "ContainerArguments": app.get("ContainerArguments"),
            },
            "Environment": spec.get("Environment"),
            "NetworkConfig": spec.get("NetworkConfig"),
            "ProcessingInputs": inputs,
            "ProcessingOutputConfig": output_config,
            "ProcessingResources": spec["ProcessingResources"],
            "RoleArn": spec["RoleArn"],
            "StoppingCondition": spec.get("StoppingCondition"),
        }

    def _stage_inputs(self) -> None:
        role = self.spec.get("RoleArn", "")
        for item in self._inputs():
            source = item["S3Input"]
            folders = [
                self._folder(host, source.get("LocalPath"), "S3Input.LocalPath")
                for host in self.hosts
            ]
            if None in folders:
                continue  # AppManaged without a LocalPath: the container fetches it
            staging.stage_channel(self.s3, source, self.job.region, role, folders)

    # -- running -----------------------------------------------------------------------

    def _run(self, image) -> Any:
        """Start every host's container and supervise them to the end."""
        isolated = bool((self.spec.get("NetworkConfig") or {}).get("EnableNetworkIsolation"))
        app = self.spec["AppSpecification"]
        if self.engine is not None:
            launcher = containers.DockerLauncher(self.engine, image.uri, app, isolated=isolated)
            specs = [
                containers.Container(host.name, host.root, [], self._docker_environment())
                for host in self.hosts
            ]
        else:
            if isolated:
                self._open_private_network()
            launcher = containers.local(self.network)
            command = self._command(image)
            specs = [
                containers.Container(
                    host.name,
                    host.root,
                    self._in_container(launcher, host, command),
                    self._environment(),
                )
                for host in self.hosts
            ]
        for host in self.hosts:  # each host's log says how its /opt/ml is provided
            self.log_lines.add(host.stream, launcher.describe(host.root))
        self._start_continuous_uploads()
        pids = self.hosts.start(launcher, specs)
        self.hosts.read()
        self.jobs.update(self.name, host_pids=pids)
        print(
            f"simsage: processing job {self.name}: {image.uri} on {len(self.hosts)} host(s), "
            f"pids {pids}, {launcher.mode} mode",
            flush=True,
        )
        runtime = (self.spec.get("StoppingCondition") or {}).get(
            "MaxRuntimeInSeconds", DEFAULT_MAX_RUNTIME
        )

        def stop_check(now: float) -> str | None:
            return "Stopped" if self.stop_requested(now) else None

        def on_deadline() -> None:
            self.hosts.log(
                f"simsage: the processing job ran for MaxRuntimeInSeconds ({runtime} s): "
                "stopping it"
            )
            self.jobs.transition(self.name, "Stopping", ("InProgress",), stop="MaxRuntimeExceeded")

        def periodic() -> None:
            self.usage.sample(self.hosts.trees(self.name))
            self.log_lines.flush()

        return self.hosts.supervise(
            self.job.started + runtime,
            stop_check,
            on_deadline,
            periodic,
            FLUSH_EVERY,
            first_signal=signal.SIGINT,
        )

    def _command(self, image) -> list[str]:
        """The command of a framework image's container, with Docker's semantics: the
        entrypoint and the arguments; the arguments alone run as the command (these
        images have no entrypoint of their own); neither is an error."""
        app = self.spec["AppSpecification"]
        command = list(app.get("ContainerEntrypoint") or []) + list(
            app.get("ContainerArguments") or []
        )
        if not command:
            raise containers.LaunchError(
                f"The image {image.uri} has no default command for a processing job; give "
                'AppSpecification.ContainerEntrypoint, e.g. ["python3", '
                '"/opt/ml/processing/input/code/preprocessing.py"].'
            )
        return command

    @staticmethod
    def _in_container(launcher, host: Host, command: list[str]) -> list[str]:
        """``command`` as the host runs it. Without a mount namespace there is no
        ``/opt/ml``: arguments naming a path in it are given as the host folder's path
        (a script that opens ``/opt/ml/...`` itself still cannot find it)."""
        if launcher.mode == containers.NAMESPACE:
            return command
        mapped = []
        for argument in command:
            if argument == str(paths.OPT_ML) or argument.startswith(f"{paths.OPT_ML}/"):
                with contextlib.suppress(paths.PathError):
                    argument = str(paths.host_path(host.root, argument))
            mapped.append(argument)
        return mapped

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIMSAGE_")}
        if (self.spec.get("NetworkConfig") or {}).get("EnableNetworkIsolation"):
            env.pop("AWS_ENDPOINT_URL_S3", None)  # no S3, as on AWS
        else:
            env.update(job_environment(self.home.path, self.job.region))
        env.update(self.spec.get("Environment") or {})
        env["PYTHONUNBUFFERED"] = "1"  # lines reach the logs as they are printed
        return child_environment(env)

    def _docker_environment(self) -> dict[str, str]:
        return dict(self.spec.get("Environment") or {})

    def _open_private_network(self) -> None:
        self.network, why_not = PrivateNetwork.open()
        if self.network is None:
            self.hosts.log(
                f"simsage: could not give the hosts a private network ({why_not}); they run "
                "in this machine's network"
            )

    # -- outputs -----------------------------------------------------------------------

    def _start_continuous_uploads(self) -> None:
        for item in self._outputs():
            target = item["S3Output"]
            if target["S3UploadMode"] != "Continuous":
                continue
            for host in self.hosts:
                folder = self._folder(host, target.get("LocalPath"), "S3Output.LocalPath")
                if folder is None:
                    continue
                upload = outputs.ContinuousUpload(
                    self.s3, folder, target["S3Uri"], self.dir, on_error=self.hosts.log
                )
                upload.start()
                self.continuous.append(upload)

    def _upload_outputs(self) -> None:
        """What is left of the Continuous outputs, then the EndOfJob outputs.

        Raises:
            staging.DataError: an upload failed (the bucket is gone …).
        """
        for upload in self.continuous:
            upload.finish()
        self.continuous = []
        for item in self._outputs():
            target = item["S3Output"]
            if target["S3UploadMode"] != "EndOfJob":
                continue
            for host in self.hosts:
                folder = self._folder(host, target.get("LocalPath"), "S3Output.LocalPath")
                if folder is not None:
                    outputs.upload_folder(self.s3, folder, target["S3Uri"], self.dir)

    # -- finishing ---------------------------------------------------------------------

    def _finish_outcome(self, outcome) -> None:
        if outcome.stop is None and outcome.failed is not None:
            host = outcome.failed
            detail = host.exit_report(prefix=f". {host.name} ended with ")
            return self._finish("Failed", failure=(SEE_LOGS + detail)[:FAILURE_LIMIT])
        if outcome.stop is not None:
            for upload in self.continuous:  # what was closed before the stop stays uploaded
                upload.stop()
            self.continuous = []
            return self._finish("Stopped")
        try:
            self._upload_outputs()
        except staging.DataError as exc:
            return self._finish("Failed", failure=str(exc)[:FAILURE_LIMIT])
        self._finish("Completed")

    def _exit_message(self) -> tuple[str | None, str | None]:
        """``(ExitMessage, failure)`` from the first host that wrote
        ``/opt/ml/output/message``; content that is not UTF-8 is a ClientError."""
        for host in self.hosts:
            raw = paths.read_bytes(host.root / "output" / "message", self.dir, MESSAGE_LIMIT)
            if not raw:
                continue
            try:
                # Not final: the 1 KB cut may split the last character, which is dropped.
                return codecs.getincrementaldecoder("utf-8")().decode(raw, final=False), None
            except UnicodeDecodeError:
                return None, (
                    f"ClientError: /opt/ml/output/message of {host.name} is not UTF-8 "
                    "text; write the exit message as UTF-8."
                )
        return None, None

    def _finish(self, status: str, failure: str | None = None) -> None:
        self.release_instances()
        self.log_lines.flush()
        message, message_failure = self._exit_message() if self.hosts.hosts else (None, None)
        fields: dict[str, Any] = {"ended": self.home.clock.time()}
        if message is not None:
            fields["exit_message"] = message
        if message_failure is not None and status != "Stopped":
            status, failure = "Failed", message_failure
        if failure is not None:
            fields["failure"] = failure
        if self.job is None or self.job.started is None:
            fields["started"] = fields["ended"]
        self.jobs.transition(self.name, status, ACTIVE, **fields)


if __name__ == "__main__":
    sys.exit(Runner.main(sys.argv))
