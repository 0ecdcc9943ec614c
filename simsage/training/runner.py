"""The training job runner: one detached process per job (``python -m
simsage.training.runner <home> <job>``), started by CreateTrainingJob.

Layer: training (data plane), a :class:`~simsage.runtime.job.JobProcess` (the lease,
stop requests, the SIGTERM-grace-SIGKILL shutdown, failure reasons and log shipping are
the runtime's). What is training's own: it builds each host's ``/opt/ml``-shaped folder
(config files, channel data, checkpoints), starts the algorithm process of every host
with the training environment, reads metrics from their output (the latest values for
FinalMetricDataList; every value as a CloudWatch series in ``/aws/sagemaker/TrainingJobs``,
by ``TrainingJobName`` as the console and the SDK's TrainingJobAnalytics read them, and
by ``Host`` = ``<job>/algo-<n>``, written with each flush while the job runs; and each
host's CPUUtilization and MemoryUtilization by Host), enforces
StopTrainingJob and MaxRuntimeInSeconds, then packs ``model/`` into model.tar.gz and
``output/data`` into output.tar.gz in S3 and records the outcome with its
SecondaryStatus.

It imports only what it needs (no boto3, no ML libraries) to start fast.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

from simsage.runtime import containers, docker_engine, paths, staging
from simsage.runtime.environment import training_env
from simsage.runtime.hosts import Host, HostGroup
from simsage.runtime.images import (
    algorithm_module,
    builtin_metric_definitions,
    container_command,
    parse_image,
)
from simsage.runtime.job import ACTIVE, JobProcess, failure_reason
from simsage.runtime.metrics import MetricReader
from simsage.runtime.network import PrivateNetwork
from simsage.runtime.python import child_environment, module_command
from simsage.runtime.usage import InstanceUsage
from simsage.s3.backend import S3Backend
from simsage.store.metrics import MetricBuffer, MetricStore, dims_key
from simsage.training.jobs import TrainingJob, TrainingJobStore
from simsage.transport.endpoint_use import container_access, job_environment

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
METRICS_NAMESPACE = "/aws/sagemaker/TrainingJobs"
CHECKPOINT_SYNC_EVERY = 5.0
# A tuning job's child: its tuning job reads the objective's values while it runs (early
# stopping, Hyperband), so they are written to the metric store this often.
TUNING_CHILD_FLUSH_EVERY = 0.5
DEFAULT_CHECKPOINTS = "/opt/ml/checkpoints"
XGBOOST_MODULE = "simsage.algorithms.xgboost_train"
# A private CreateTrainingJob member (simsage.transport.handler.call): the CPU threads
# the job may use, set by the tuning job that launched it.
CPU_THREADS = "SimsageCpuThreads"


class Runner(JobProcess):
    kind = "training job"
    log_group = LOG_GROUP

    def __init__(self, home, name: str) -> None:
        self.jobs = TrainingJobStore(home)
        self.job: TrainingJob = self.jobs.get(name)
        self.spec: dict[str, Any] = self.job.spec
        self.dir = Path(self.job.job_dir)
        super().__init__(home, name, self.dir)
        self.s3 = S3Backend(home)
        self.hosts = HostGroup([], self.log_lines, on_line=self._metric_line)
        self.engine: docker_engine.DockerEngine | None = None  # custom images only
        self.metrics: MetricReader | None = None  # started with the hosts
        self.metric_points = MetricBuffer(MetricStore(home))  # every value, for CloudWatch
        self._by_job = dims_key({"TrainingJobName": self.job.name})
        self.usage = InstanceUsage(home, METRICS_NAMESPACE)  # CPU/MemoryUtilization by Host
        self.network: PrivateNetwork | None = None  # the hosts' private network, if any

    # -- the job process's hooks -----------------------------------------------------

    def status(self) -> str | None:
        return self.jobs.get(self.job.name).status

    def fail(self, reason: str) -> None:
        self._finish("Failed", "Failed", failure=reason)

    def release_instances(self) -> None:
        self.hosts.signal_all(signal.SIGKILL)
        if self.network is not None:
            self.network.close()
        if self.engine is not None:
            self.engine.cleanup()

    def cleanup(self) -> None:
        self.release_instances()
        if self.metrics is not None:
            self.metrics.close()

    def work(self) -> None:
        spec = self.spec
        algorithm = spec["AlgorithmSpecification"]
        hyperparameters = spec.get("HyperParameters") or {}
        image = parse_image(algorithm["TrainingImage"])
        module = algorithm_module(image, hyperparameters)
        count = spec["ResourceConfig"]["InstanceCount"]
        self.hosts.hosts = [Host(f"algo-{i}", self.dir / f"algo-{i}") for i in range(1, count + 1)]
        try:
            for host in self.hosts:
                self._prepare_host(host)
        except staging.DataError as exc:
            return self._finish("Failed", "Failed", failure=str(exc))
        self.jobs.transition(
            self.job.name,
            "InProgress",
            "Downloading",
            "Downloading input data",
            only_from=("InProgress",),
            started=self.home.clock.time(),
        )
        self.job = self.jobs.get(self.job.name)
        if self.stopping():
            return self._finish_stopped()
        if module is None:  # a custom image: only a Docker engine can run it
            client, why_not = docker_engine.connect()
            if client is None:
                print(f"simsage: no Docker engine for {image.uri}: {why_not}", flush=True)
                return self._finish(
                    "Failed",
                    "Failed",
                    failure=(
                        f"AlgorithmError: The training image {image.uri} is not a simsage "
                        "built-in image (the SageMaker XGBoost and scikit-learn images are), "
                        "and no Docker engine is available to run it."
                    ),
                )
            instance_type = self.spec["ResourceConfig"].get("InstanceType", "")
            limits, note = docker_engine.instance_limits(instance_type, dict(os.environ))
            if note:
                print(f"simsage: {note}", flush=True)
            self.engine = docker_engine.DockerEngine(
                client,
                self.job.name,
                record=self.dir / docker_engine.LEFTOVERS,
                limits=limits,
                s3=partial(container_access, self.home.path, self.job.region),
                on_note=self.hosts.log,
            )
        print(f"simsage: training job {self.job.name}: downloading input data", flush=True)
        try:
            self._stage_inputs()
            self._stage_source()
            self._restore_checkpoints()
            if self.engine is not None:
                self.engine.ensure_image(image.uri)
        except (staging.DataError, docker_engine.EngineError) as exc:
            return self._finish("Failed", "Failed", failure=str(exc))
        if not self.jobs.transition(
            self.job.name,
            "InProgress",
            "Training",
            "Training image download completed. Training in progress.",
            only_from=("InProgress",),
        ):
            return self._finish_stopped()
        try:
            outcome = self._train(module, image.uri)
        except docker_engine.EngineError as exc:
            return self._finish("Failed", "Failed", failure=str(exc))
        except containers.LaunchError as exc:
            return self._finish("Failed", "Failed", failure=f"AlgorithmError: {exc}")
        self._finish_outcome(outcome)

    # -- preparing -----------------------------------------------------------------

    def _prepare_host(self, host: Host) -> None:
        root = host.root
        staging.ensure_folders(
            root,
            ["input/config", "input/data", "model", "output/data", "output/intermediate", "code"],
        )
        channels = {}
        default_mode = self.spec["AlgorithmSpecification"]["TrainingInputMode"]
        for channel in self.spec.get("InputDataConfig") or []:
            source = channel["DataSource"]["S3DataSource"]
            entry: dict[str, Any] = {}
            if channel.get("ContentType"):
                entry["ContentType"] = channel["ContentType"]
            entry["TrainingInputMode"] = channel.get("InputMode", default_mode)
            entry["S3DistributionType"] = source.get("S3DataDistributionType", "FullyReplicated")
            entry["RecordWrapperType"] = channel.get("RecordWrapperType", "None")
            channels[channel["ChannelName"]] = entry
            (root / "input" / "data" / channel["ChannelName"]).mkdir(parents=True, exist_ok=True)
        resource = {
            "current_host": host.name,
            "current_instance_type": self.spec["ResourceConfig"]["InstanceType"],
            "current_group_name": "homogeneousCluster",
            "hosts": [h.name for h in self.hosts],
            "instance_groups": [
                {
                    "instance_group_name": "homogeneousCluster",
                    "instance_type": self.spec["ResourceConfig"]["InstanceType"],
                    "hosts": [h.name for h in self.hosts],
                }
            ],
            "network_interface_name": "eth0",
        }
        config = root / "input" / "config"
        (config / "hyperparameters.json").write_text(
            json.dumps(self.spec.get("HyperParameters") or {})
        )
        (config / "inputdataconfig.json").write_text(json.dumps(channels))
        (config / "resourceconfig.json").write_text(json.dumps(resource))
        checkpoint = self.spec.get("CheckpointConfig")
        if checkpoint:
            self._checkpoint_dir(host).mkdir(parents=True, exist_ok=True)
            (config / "checkpointconfig.json").write_text(
                json.dumps(
                    {
                        "LocalPath": checkpoint.get("LocalPath") or DEFAULT_CHECKPOINTS,
                        "S3Uri": checkpoint["S3Uri"],
                    }
                )
            )

    def _stage_inputs(self) -> None:
        role = self.spec.get("RoleArn", "")
        for channel in self.spec.get("InputDataConfig") or []:
            folders = [h.root / "input" / "data" / channel["ChannelName"] for h in self.hosts]
            staging.stage_channel(
                self.s3, channel["DataSource"]["S3DataSource"], self.job.region, role, folders
            )

    def _stage_source(self) -> None:
        """Extract the script-mode source (``sagemaker_submit_directory``) into each
        host's ``code`` folder, as the training toolkit does inside the container."""
        raw = (self.spec.get("HyperParameters") or {}).get("sagemaker_submit_directory")
        if not raw:
            return
        try:
            uri = json.loads(raw)
        except ValueError:
            uri = raw
        if not isinstance(uri, str) or not uri.startswith("s3://"):
            raise staging.DataError(
                f"ClientError: sagemaker_submit_directory must be an s3:// URI of a tar.gz; got {raw}"
            )
        bucket, key = staging.split_uri(uri)
        archive = self.dir / "sourcedir.tar.gz"
        staging.download(self.s3, staging.S3Object(bucket, key, "sourcedir.tar.gz"), archive)
        volume = self.spec["ResourceConfig"].get("VolumeSizeInGB") or staging.DEFAULT_VOLUME_GB
        for host in self.hosts:
            staging.extract_archive(
                archive,
                host.root / "code",
                volume * staging.GB,
                f"the {volume} GB ML storage volume (ResourceConfig.VolumeSizeInGB)",
                source=f"the sagemaker_submit_directory archive {uri}",
            )

    def _checkpoint_dir(self, host: Host) -> Path:
        """The host folder of CheckpointConfig.LocalPath (checked at create time; a path
        that would leave the host folder is refused here too)."""
        local = (self.spec.get("CheckpointConfig") or {}).get("LocalPath") or DEFAULT_CHECKPOINTS
        try:
            return paths.host_path(host.root, local, "CheckpointConfig.LocalPath")
        except paths.PathError as exc:
            raise staging.DataError(f"ClientError: {exc}") from None

    def _restore_checkpoints(self) -> None:
        checkpoint = self.spec.get("CheckpointConfig")
        if not checkpoint:
            return
        bucket, prefix = staging.split_uri(checkpoint["S3Uri"])
        for host in self.hosts:
            staging.sync_down(self.s3, bucket, prefix, self._checkpoint_dir(host))
        self._checkpoint_seen = [
            staging.file_stamps(self._checkpoint_dir(host), self.dir) for host in self.hosts
        ]

    def _sync_checkpoints(self) -> None:
        checkpoint = self.spec.get("CheckpointConfig")
        if not checkpoint:
            return
        bucket, prefix = staging.split_uri(checkpoint["S3Uri"])
        for host, seen in zip(self.hosts, self._checkpoint_seen, strict=True):
            staging.sync_up(self.s3, self._checkpoint_dir(host), bucket, prefix, seen, self.dir)

    # -- training ------------------------------------------------------------------

    def _environment(self, host: Host, extra: dict[str, str], opt_ml) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIMSAGE_")}
        if self.spec.get("EnableNetworkIsolation"):  # no S3, as on AWS
            env.pop("AWS_ENDPOINT_URL_S3", None)
        else:
            env.update(job_environment(self.home.path, self.job.region))
        env.update(self.spec.get("Environment") or {})
        config = host.root / "input" / "config"
        env.update(
            training_env(
                opt_ml,  # /opt/ml itself in a private mount namespace, else the folder
                self.job.name,
                self.spec.get("HyperParameters") or {},
                json.loads((config / "inputdataconfig.json").read_text()),
                json.loads((config / "resourceconfig.json").read_text()),
            )
        )
        env["TRAINING_JOB_NAME"] = self.job.name
        env["TRAINING_JOB_ARN"] = self.job.arn
        env["PYTHONUNBUFFERED"] = "1"
        env.update(extra)
        env.update(self._thread_share())
        return child_environment(env)

    def _thread_share(self) -> dict[str, str]:
        """The CPU threads a tuning job gives this job (its private ``SimsageCpuThreads``
        member, so parallel training jobs share the cores instead of each taking all of
        them) as the variables OpenMP, XGBoost and the BLAS libraries read. Never part of
        the request's Environment, so DescribeTrainingJob does not show it; a variable the
        request's Environment sets itself keeps the request's value."""
        threads = self.spec.get(CPU_THREADS)
        if not isinstance(threads, int) or threads < 1:
            return {}
        given = self.spec.get("Environment") or {}
        names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
        return {name: str(threads) for name in names if name not in given}

    def _container(self, launcher, host: Host, module: str | None, extra) -> containers.Container:
        """A host as its container: the command (the image's ``train``, or the request's
        ContainerEntrypoint/ContainerArguments), SM_* for its /opt/ml, and a bind mount
        for a CheckpointConfig.LocalPath outside /opt/ml."""
        mounts: dict[Path, str] = {}
        local = (self.spec.get("CheckpointConfig") or {}).get("LocalPath")
        folder = self._checkpoint_dir(host)
        if local and host.root / paths.EXTERNAL in folder.parents:
            mounts[folder] = paths.container_path(local, "CheckpointConfig.LocalPath")
        if module is None:  # Docker runs the image's own command (or the request's)
            config = host.root / "input" / "config"
            environment = docker_engine.container_environment(
                self.spec.get("Environment"),
                self.job.name,
                self.job.arn,
                self.spec.get("HyperParameters") or {},
                json.loads((config / "inputdataconfig.json").read_text()),
                json.loads((config / "resourceconfig.json").read_text()),
            )
            environment.update(self._thread_share())
            return containers.Container(host.name, host.root, [], environment, mounts=mounts)
        command = container_command(self.spec["AlgorithmSpecification"], module_command(module))
        environment = self._environment(host, extra, launcher.opt_ml(host.root))
        return containers.Container(host.name, host.root, command, environment, mounts=mounts)

    def _train(self, module: str | None, image_uri: str) -> dict[str, Any]:
        """Start every host (a process running ``module``, or the image's container when
        ``module`` is None) and supervise them to the end."""
        extra: dict[str, str] = {}
        if len(self.hosts) > 1 and module is not None:
            extra["SIMSAGE_TRACKER_PORT"] = str(_free_port())
        epoch = int(self.job.started or time.time())
        self.hosts.open_streams(self.logs, LOG_GROUP, self.job.name, epoch)
        if module is not None:
            self._open_private_network(module)
            launcher = containers.local(self.network)
        else:
            launcher = containers.DockerLauncher(
                self.engine,
                image_uri,
                self.spec["AlgorithmSpecification"],
                isolated=bool(self.spec.get("EnableNetworkIsolation")),
            )
        for host in self.hosts:  # each host's log says how its /opt/ml is provided
            self.log_lines.add(host.stream, launcher.describe(host.root))
        specs = [self._container(launcher, host, module, extra) for host in self.hosts]
        pids = self.hosts.start(launcher, specs)
        # After the start: compiling the definitions and starting the matcher (~60 ms)
        # overlap the hosts' own start-up. Nothing is lost: their output waits in the
        # pipes until the readers start.
        self.metrics = MetricReader(
            self._metric_definitions(), log=self.hosts.log, on_value=self._publish
        )
        self.hosts.read()
        self.jobs.update(self.job.name, host_pids=pids)
        # The runner's log says what it was doing (a dead runner's FailureReason quotes it).
        print(
            f"simsage: training {module or image_uri} on {len(pids)} host(s), pids {pids}, "
            f"{launcher.mode} mode"
        )
        return self._supervise()

    def _open_private_network(self, module: str) -> None:
        """Built-in distributed XGBoost (its workers listen on every interface) and jobs
        with EnableNetworkIsolation run their hosts in one loopback-only network."""
        distributed = module == XGBOOST_MODULE and len(self.hosts) > 1
        if not (distributed or self.spec.get("EnableNetworkIsolation")):
            return
        self.network, why_not = PrivateNetwork.open()
        if self.network is not None:
            print(f"simsage: the {len(self.hosts)} host(s) share a loopback-only network")
            return
        self.hosts.log(
            f"simsage: could not give the hosts a private network ({why_not}); they run "
            "in this machine's network, and XGBoost's workers listen on all its interfaces "
            "while they train."
        )

    def _supervise(self) -> dict[str, Any]:
        deadline = (self.job.started or time.time()) + self.spec["StoppingCondition"][
            "MaxRuntimeInSeconds"
        ]

        def stop_check(now: float) -> str | None:
            if not self.stop_requested(now):
                return None
            return self.jobs.get(self.job.name).stop or "Stopped"

        def on_deadline() -> None:
            self.jobs.transition(
                self.job.name,
                "Stopping",
                "Stopping",
                "Stopping the training job: MaxRuntimeInSeconds exceeded",
                only_from=("InProgress",),
                stop="MaxRuntimeExceeded",
            )

        def periodic() -> None:
            self.usage.sample(self.hosts.trees(self.job.name))
            self._sync_checkpoints()
            self._flush()

        every = TUNING_CHILD_FLUSH_EVERY if self.spec.get("TuningJobArn") else CHECKPOINT_SYNC_EVERY
        outcome = self.hosts.supervise(deadline, stop_check, on_deadline, periodic, every)
        self.metrics.finish()
        self._flush()
        return {"stop": outcome.stop, "failed": outcome.failed}

    def _metric_line(self, line: str, now: float, host: str) -> None:
        self.metrics.feed(line, now, host)

    def _publish(self, name: str, host: str, timestamp: float, value: float) -> None:
        """Queue one metric value for CloudWatch, by job and by host."""
        self.metric_points.add(METRICS_NAMESPACE, name, self._by_job, value, timestamp)
        host_dims = {"Host": f"{self.job.name}/{host}"}
        self.metric_points.add(METRICS_NAMESPACE, name, host_dims, value, timestamp)

    def _flush(self) -> None:
        self.log_lines.flush()
        self.metric_points.flush_quietly()
        if self.metrics is not None and self.metrics.dirty:
            self.jobs.update(self.job.name, metrics=self.metrics.latest())

    def _metric_definitions(self) -> list[dict[str, str]]:
        algorithm = self.spec["AlgorithmSpecification"]
        given = algorithm.get("MetricDefinitions") or []
        return given or builtin_metric_definitions(algorithm["TrainingImage"], self.spec)

    # -- finishing -----------------------------------------------------------------

    def _finish_outcome(self, outcome: dict[str, Any]) -> None:
        stop = outcome["stop"]
        failed = outcome["failed"]
        if stop is None and failed is not None:
            self._upload_artifacts(required=False)
            return self._finish("Failed", "Failed", failure=self._failure_reason(failed))
        if stop is not None:
            return self._finish_stopped()
        self.jobs.transition(
            self.job.name, "InProgress", "Uploading", "Uploading generated training model"
        )
        try:
            artifacts = self._upload_artifacts(required=True)
        except staging.DataError as exc:
            return self._finish("Failed", "Failed", failure=str(exc))
        self._finish("Completed", "Completed", artifacts=artifacts)

    def _finish_stopped(self) -> None:
        reason = self.jobs.get(self.job.name).stop or "Stopped"
        artifacts = None
        if any(staging.folder_has_files(h.root / "model", self.dir) for h in self.hosts):
            try:
                artifacts = self._upload_artifacts(required=False)
            except staging.DataError:
                artifacts = None
        message = (
            "Training job stopped: MaxRuntimeInSeconds exceeded"
            if reason == "MaxRuntimeExceeded"
            else "Training job stopped"
        )
        self._finish("Stopped", reason, message=message, artifacts=artifacts)

    def _upload_artifacts(self, required: bool) -> str | None:
        return staging.upload_artifacts(
            self.s3,
            self.spec["OutputDataConfig"],
            self.job.name,
            [h.root for h in self.hosts],
            self.dir,
            required,
        )

    def _failure_reason(self, host: Host) -> str:
        for candidate in [host, *self.hosts]:
            # Never through a symlink: the reason is shown to whoever describes the job.
            failure = candidate.root / "output" / "failure"
            text = (paths.read_text(failure, self.dir, 64 * 1024) or "").strip()
            if text:
                return failure_reason(text)
        return host.exit_report()

    def _finish(
        self,
        status: str,
        secondary: str,
        failure: str | None = None,
        artifacts: str | None = None,
        message: str | None = None,
    ) -> None:
        self.release_instances()
        self._flush()
        messages = {
            "Completed": "Training job completed",
            "Failed": "Training job failed",
        }
        fields: dict[str, Any] = {"ended": self.home.clock.time()}
        if failure is not None:
            fields["failure"] = failure
        if artifacts is not None:
            fields["artifacts"] = artifacts
        if self.job.started is None:
            fields["started"] = fields["ended"]
        self.jobs.transition(
            self.job.name,
            status,
            secondary,
            message or messages.get(status, status),
            only_from=ACTIVE,
            **fields,
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


if __name__ == "__main__":
    sys.exit(Runner.main(sys.argv))
