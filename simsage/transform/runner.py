"""The transform job runner: one detached process per job (``python -m
simsage.transform.runner <home> <job>``), started by CreateTransformJob.

Layer: transform (data plane), a :class:`~simsage.runtime.job.JobProcess` (the lease,
stop requests, failure reasons and log shipping are the runtime's). It plays SageMaker's part around the model container: extracts the model, starts one
inference server per instance (``simsage.serving.server`` through
:class:`~simsage.runtime.servers.ServerProcess`, the same server endpoints use),
asks each for ``/execution-parameters``, then streams every input object through the
servers over HTTP on 127.0.0.1 and writes ``<S3OutputPath>/<relative key>.out``.

Objects are spread over instances by key (sorted keys, round robin). An instance reads
its objects in order and keeps up to MaxConcurrentTransforms mini-batches in flight on
keep-alive connections (one window spanning objects, so small objects overlap too); the
responses are written in input order to one spool file per object (at most
MaxConcurrentTransforms + 1 batches in memory). A spool becomes the output object only
if the whole object succeeded; a failed object is reported in the job's FailureReason
and its instance's ``data-log`` stream, and the other objects go on.

It ships container output to ``/aws/sagemaker/TransformJobs`` stream
``<job>/<instance-id>-<epoch>`` and per-object progress to ``…/data-log``, and honours
StopTransformJob (in-flight work is abandoned, finished outputs stay). A
DataCaptureConfig is served by :mod:`simsage.transform.capture`.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import json
import sys
import tempfile
import threading
import time
import traceback
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from simsage.runtime import staging
from simsage.runtime.docker_serving import record_name as docker_record
from simsage.runtime.instance_client import InstancePool
from simsage.runtime.job import FAILURE_LIMIT, STOP_CHECK_EVERY, JobProcess, clip
from simsage.runtime.model_setup import prepare_model, serving_plan
from simsage.runtime.servers import ContainerError, StartCancelled, start_server
from simsage.s3 import errors as s3_errors
from simsage.s3.backend import S3Backend
from simsage.store.models import ModelStore, model_arn
from simsage.transform import records
from simsage.transform.api import effective_settings
from simsage.transform.capture import BatchCapture
from simsage.transform.dataprocessing import RecordError, RecordProcessor
from simsage.transform.instances import (
    Instance,
    ObjectFailed,
    ObjectRun,
    Stopped,
    apply_execution_parameters,
    object_uri,
)
from simsage.transform.jobs import TransformJobStore
from simsage.transport.endpoint_use import container_access, job_environment

LOG_GROUP = "/aws/sagemaker/TransformJobs"
FLUSH_EVERY = 1.0
MESSAGE_LIMIT = 300
RETRY_DELAY = 0.2
TRANSFORM_VOLUME_GB = 30  # "the size of the storage volume is fixed at 30 GB" (DG)


class Runner(JobProcess):
    kind = "transform job"
    log_group = LOG_GROUP

    def __init__(self, home, name: str) -> None:
        self.jobs = TransformJobStore(home)
        self.job = self.jobs.get(name)
        self.spec: dict[str, Any] = self.job.spec
        self.settings = effective_settings(self.spec)
        self.dir = Path(self.job.job_dir)
        super().__init__(home, name, self.dir)
        self.s3 = S3Backend(home)
        self.instances: list[Instance] = []
        self.pool = InstancePool()
        self.stop = threading.Event()
        self._done = threading.Event()  # set whenever an instance's worker ends
        self._finished = 0  # instances whose worker ended
        self.isolated = False  # the model's EnableNetworkIsolation (read with the model)
        self.failures: dict[int, str] = {}  # object position -> reason
        self._failures_lock = threading.Lock()
        self.capture = BatchCapture(self.s3, self.spec)
        transform_input = self.spec["TransformInput"]
        self.content_type = transform_input.get("ContentType")
        self.accept = self.spec["TransformOutput"].get("Accept")
        processing = self.spec.get("DataProcessing")
        self.processor = (
            RecordProcessor(processing, self.content_type or "", self.accept)
            if processing
            else None
        )
        if self.processor and not (self.processor.input_filter or self.processor.changes_output):
            self.processor = None

    # -- the job process's hooks -----------------------------------------------------

    def status(self) -> str | None:
        return self.jobs.status(self.job.name)

    def fail(self, reason: str) -> None:
        self._finish("Failed", reason)

    def cleanup(self) -> None:
        self.stop.set()
        self.pool.close()
        for instance in self.instances:
            if instance.server is not None:
                instance.server.kill()

    def work(self) -> None:
        started = self.home.clock.time()
        self.jobs.update(self.job.name, started=started)
        self.capture.begin(started)
        try:
            objects = self._objects()
            model_dir, plan, env = self._prepare_model()
        except ObjectFailed as exc:
            return self._finish("Failed", str(exc))
        if self.stopping():
            return self._finish("Stopped")
        try:
            self._start_servers(plan, model_dir, env, int(started))
            for instance in self.instances:
                instance.server.wait_ready(
                    float(env.get("SAGEMAKER_STARTUP_TIMEOUT", "600")), cancelled=self.stopping
                )
                self._execution_parameters(instance)
        except StartCancelled:
            self._flush()
            return self._finish("Stopped")
        except ContainerError as exc:
            self._flush()
            return self._finish("Failed", f"ClientError: {exc}")
        # Objects are spread over the instances by key, as ShardedByS3Key spreads them.
        count = len(self.instances)
        assigned = [staging.shard(objects, i, count, "ShardedByS3Key") for i in range(count)]
        workers = [
            threading.Thread(target=self._work, args=(instance, mine), daemon=True)
            for instance, mine in zip(self.instances, assigned, strict=True)
        ]
        for worker in workers:
            worker.start()
        next_flush = 0.0
        while self._finished < len(workers):
            if not self.stop.is_set() and self.stopping():
                self.stop.set()
                for instance in self.instances:  # abandon the requests in flight
                    instance.server.kill()
            now = time.monotonic()
            if now >= next_flush:
                next_flush = now + FLUSH_EVERY
                self._flush()
            self._done.wait(STOP_CHECK_EVERY)
            self._done.clear()
        for worker in workers:
            worker.join()
        self._stop_servers()
        self._flush()
        if self.stop.is_set():
            return self._finish("Stopped")
        capture_failure = self.capture.write([obj for _, obj in objects])
        if self.failures:
            first = min(self.failures)
            reason = self.failures[first]
            if len(self.failures) > 1:
                reason += (
                    f" ({len(self.failures) - 1} more object(s) failed; see the data-log streams)"
                )
            return self._finish("Failed", reason)
        if capture_failure:
            return self._finish("Failed", capture_failure)
        self._finish("Completed")

    # -- preparing -----------------------------------------------------------------

    def _objects(self) -> list[tuple[int, staging.S3Object]]:
        source = self.spec["TransformInput"]["DataSource"]["S3DataSource"]
        try:
            model = ModelStore(self.home).find(self.spec["ModelName"])
            role = (model.execution_role_arn if model else None) or "the model's execution role"
            found = staging.channel_objects(self.s3, source, self.job.region, role)
        except staging.DataError as exc:
            raise ObjectFailed(str(exc)) from None
        out_bucket, _ = staging.split_uri(self.spec["TransformOutput"]["S3OutputPath"])
        try:
            self.s3.get_bucket(out_bucket)
        except s3_errors.S3Error:
            raise ObjectFailed(
                f"ClientError: The output bucket {out_bucket} "
                f"(TransformOutput.S3OutputPath) does not exist; create it first."
            ) from None
        return list(enumerate(found))

    def _prepare_model(self):
        model = ModelStore(self.home).find(self.spec["ModelName"])
        if model is None:
            arn = model_arn(self.job.region, self.job.arn.split(":")[4], self.spec["ModelName"])
            raise ObjectFailed(f'ClientError: Could not find model "{arn}".')
        self.isolated = bool((model.spec or {}).get("EnableNetworkIsolation"))
        try:
            plan = serving_plan(model.container.image, model.container.environment)
            folder = self.dir / "model"
            env = prepare_model(
                self.s3,
                model.container.model_data_url,
                plan,
                folder,
                TRANSFORM_VOLUME_GB,
                remedy=(
                    "host it on an endpoint with a larger VolumeSizeInGB (batch transform "
                    "instances have a fixed 30 GB storage volume)"
                ),
            )
        except ContainerError as exc:
            raise ObjectFailed(f"ClientError: {exc}") from None
        env.update(self.spec.get("Environment") or {})
        env["SAGEMAKER_BATCH"] = "true"
        if "MaxPayloadInMB" in self.spec:
            env["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = str(self.spec["MaxPayloadInMB"])
        if "BatchStrategy" in self.spec:
            env["SAGEMAKER_BATCH_STRATEGY"] = (
                "SINGLE_RECORD" if self.spec["BatchStrategy"] == "SingleRecord" else "MULTI_RECORD"
            )
        if self.spec.get("MaxConcurrentTransforms"):
            env["SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"] = str(self.spec["MaxConcurrentTransforms"])
        return folder / "model", plan, env

    def _start_servers(self, plan, model_dir: Path, env: dict[str, str], epoch: int) -> None:
        count = self.spec["TransformResources"]["InstanceCount"]
        for _ in range(count):
            instance_id = "i-" + self.home.ids.hex(9)[:17]
            instance = Instance(instance_id, f"{self.job.name}/{instance_id}-{epoch}")
            self.logs.ensure_stream(LOG_GROUP, instance.stream)
            self.logs.ensure_stream(LOG_GROUP, instance.data_log)
            self.instances.append(instance)
        resources = self.spec["TransformResources"]
        if plan.mode != "container" and not self.isolated:  # S3 from inside, as on AWS
            env = {**job_environment(self.home.path, self.job.region), **env}
        for instance in self.instances:
            instance.server = start_server(
                plan,
                model_dir,
                env,
                on_line=lambda line, stream=instance.stream: self._log(stream, line),
                exit_with_parent=True,
                owner=("transform", self.job.name, instance.id),
                record=self.dir / docker_record(instance.id),
                instance_type=resources.get("InstanceType"),
                s3=None
                if self.isolated
                else partial(container_access, self.home.path, self.job.region),
            )
        pids = [i.server.pid for i in self.instances]
        print(f"simsage: transform servers started, pids {pids}", flush=True)

    def _stop_servers(self) -> None:
        """End every server at once. Nothing is in flight any more (every object is
        stored or abandoned), so there is nothing to drain: SIGKILL spares the seconds
        an interpreter with xgboost and pandas loaded takes to shut down."""
        for instance in self.instances:
            if instance.server is not None and instance.server.alive():
                with contextlib.suppress(ProcessLookupError):
                    instance.server.process.kill()
        for instance in self.instances:
            if instance.server is not None:
                instance.server.kill()

    def _execution_parameters(self, instance: Instance) -> None:
        """Ask the container for its batch settings. Precedence: the request, then the
        container's answer, then SageMaker's defaults (the built-in XGBoost server
        answers; script-mode servers answer 404, as the framework containers do)."""
        try:
            status, body, _ = self._request(instance, "GET", "/execution-parameters", None, {})
        except (OSError, http.client.HTTPException) as exc:
            status, body = f"nothing ({exc})", b""
        if status == 200 and instance is self.instances[0]:
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                apply_execution_parameters(self.spec, self.settings, json.loads(body))
        s = self.settings
        strategy = (s["batch_strategy"] or "None").upper().replace("RECORD", "_RECORD")
        self._log(
            instance.data_log,
            f"[sagemaker logs]: GET /execution-parameters answered {status}; "
            f"MaxConcurrentTransforms={s['max_concurrent']}, MaxPayloadInMB={s['max_payload_mb']}, "
            f"BatchStrategy={strategy}",
        )

    # -- transforming --------------------------------------------------------------

    def _work(self, instance: Instance, objects: list[tuple[int, staging.S3Object]]) -> None:
        try:
            self._work_through(instance, objects)
        finally:
            with self._failures_lock:
                self._finished += 1
            self._done.set()

    def _work_through(
        self, instance: Instance, objects: list[tuple[int, staging.S3Object]]
    ) -> None:
        """Stream an instance's objects through its server.

        One window of at most MaxConcurrentTransforms + 1 mini-batches spans the
        objects, so small objects overlap as well as the batches of a large one;
        responses are written in input order as the oldest batch completes.
        """
        window: deque[tuple[ObjectRun, records.Batch, Future]] = deque()
        limit = self.settings["max_concurrent"]
        with ThreadPoolExecutor(limit, thread_name_prefix=instance.id) as pool:
            try:
                for position, obj in objects:
                    if self.stop.is_set():
                        raise Stopped()
                    run = self._begin(instance, position, obj)
                    batches = self._batches(run)
                    try:
                        for batch in batches:
                            if self.stop.is_set():
                                raise Stopped()
                            if run.failed:
                                break
                            future = pool.submit(self._invoke, instance, batch.body)
                            window.append((run, batch, future))
                            run.outstanding += 1
                            while len(window) > limit:
                                self._drain_one(instance, window)
                    except ObjectFailed as exc:
                        self._fail(instance, run, str(exc))
                    except Stopped:
                        raise
                    except Exception as exc:  # a simsage bug: fail this object, say so
                        traceback.print_exc()
                        self._fail(instance, run, f"InternalServerError: {exc}")
                    finally:
                        batches.close()  # closes the input stream at once
                    run.read_done = True
                    self._maybe_complete(instance, run)
                while window:
                    self._drain_one(instance, window)
            except Stopped:
                for _, _, future in window:
                    future.cancel()
                for run, _, future in window:
                    with contextlib.suppress(Exception):
                        future.result()
                    run.close()

    def _begin(self, instance: Instance, position: int, obj: staging.S3Object) -> ObjectRun:
        spool_dir = self.dir / "spool"
        spool_dir.mkdir(exist_ok=True)
        self._log(instance.data_log, f"[sagemaker logs]: {object_uri(obj)}: starting")
        return ObjectRun(position, obj, tempfile.TemporaryFile(dir=spool_dir))

    def _batches(self, run: ObjectRun):
        """The object's mini-batches (input filter applied); errors as ObjectFailed."""
        settings = self.settings
        limit = records.payload_limit(settings["max_payload_mb"])
        single = settings["batch_strategy"] == "SingleRecord"
        stream, raw = self._open_input(run.obj)
        try:
            for batch in records.batches(
                stream, settings["split_type"], limit, single, self.processor is not None
            ):
                if self.processor is not None and self.processor.input_filter is not None:
                    batch = self._filter_batch(batch)
                run.requests += 1
                run.bytes += len(batch.body)
                if batch.count is not None:
                    run.count += batch.count
                yield batch
        except records.PayloadTooLarge as exc:
            raise ObjectFailed(str(exc)) from None
        except records.MalformedInput as exc:
            raise ObjectFailed(str(exc)) from None
        except RecordError as exc:
            raise ObjectFailed(f"DataProcessing: {exc}") from None
        except (OSError, EOFError, zlib.error) as exc:
            if settings["compression"] == "Gzip":
                raise ObjectFailed(
                    f"could not decompress the object as Gzip (CompressionType Gzip): {exc}"
                ) from None
            raise
        finally:
            with contextlib.suppress(Exception):
                stream.close()
            with contextlib.suppress(Exception):
                raw.close()

    def _drain_one(self, instance: Instance, window: deque) -> None:
        """Wait for the oldest batch in flight and write its response."""
        run, batch, future = window.popleft()
        run.outstanding -= 1
        try:
            body, content_type = future.result()
            if not run.failed:
                self._write(run, batch, body, content_type)
        except ObjectFailed as exc:
            self._fail(instance, run, str(exc))
        except RecordError as exc:
            self._fail(instance, run, f"DataProcessing: {exc}")
        except records.MalformedInput as exc:
            self._fail(instance, run, str(exc))
        except Stopped:
            raise
        except Exception as exc:  # a simsage bug: fail this object, say so
            traceback.print_exc()
            self._fail(instance, run, f"InternalServerError: {exc}")
        self._maybe_complete(instance, run)

    def _fail(self, instance: Instance, run: ObjectRun, message: str) -> None:
        if run.failed:
            return
        run.failed = message
        uri = object_uri(run.obj)
        self._log(instance.data_log, f"[sagemaker logs]: {uri}: {message}")
        if message.startswith("InternalServerError: "):
            reason = f"InternalServerError: {uri}: {message.removeprefix('InternalServerError: ')}"
        else:
            reason = (
                f"ClientError: {uri}: {message}. See the data-log stream "
                f"{instance.data_log} in {LOG_GROUP}."
            )
        with self._failures_lock:
            self.failures[run.position] = reason[:FAILURE_LIMIT]

    def _maybe_complete(self, instance: Instance, run: ObjectRun) -> None:
        """Store the object's output once every batch is written (never a failed one's)."""
        if not run.read_done or run.outstanding or run.closed:
            return
        try:
            if not run.failed:
                self._upload(run.obj, run.spool, run.content_type)
                self._log(
                    instance.data_log,
                    f"[sagemaker logs]: {object_uri(run.obj)}: completed, {run.bytes} bytes in "
                    f"{run.requests} requests" + (f", {run.count} records" if run.count else ""),
                )
        except ObjectFailed as exc:
            self._fail(instance, run, str(exc))
        finally:
            run.close()

    def _open_input(self, obj: staging.S3Object):
        try:
            _, _, stream = self.s3.read_object(obj.bucket, obj.key)
        except (s3_errors.NoSuchKey, s3_errors.NoSuchBucket):
            raise ObjectFailed("the input object does not exist") from None
        if self.settings["compression"] == "Gzip":
            return gzip.GzipFile(fileobj=stream, mode="rb"), stream
        return stream, stream

    def _filter_batch(self, batch: records.Batch) -> records.Batch:
        filtered = [self.processor.filter_input(r) for r in batch.records]
        if len(filtered) == 1 and self.settings["batch_strategy"] != "MultiRecord":
            body = filtered[0]
        else:
            body = b"\n".join(filtered) + b"\n"
        return records.Batch(body, batch.count, batch.records)

    def _write(
        self, run: ObjectRun, batch: records.Batch, body: bytes, content_type: str | None
    ) -> None:
        run.content_type = content_type or run.content_type
        spool = run.spool
        line = self.settings["assemble_with"] == "Line"
        if self.processor is not None and self.processor.changes_output:
            outputs = records.response_records(body, len(batch.records))
            parts = [
                self.capture.tag(self.processor.assemble(r, o), run.content_type or self.accept)
                for r, o in zip(batch.records, outputs, strict=True)
            ]
            sep = b"\n" if line else b""
            spool.write(sep.join(parts) + sep)
            return
        body = self.capture.tag(body, run.content_type or self.accept)
        spool.write(body)
        if line and body and not body.endswith(b"\n"):
            spool.write(b"\n")

    def _upload(self, obj: staging.S3Object, spool, content_type: str | None) -> None:
        bucket, prefix = staging.split_uri(self.spec["TransformOutput"]["S3OutputPath"])
        key = f"{prefix.rstrip('/')}/{obj.relative}.out".lstrip("/")
        spool.seek(0)
        attrs = {
            "content_type": self.accept or content_type or "binary/octet-stream",
            "metadata": {},
        }
        try:
            self.s3.put_object(bucket, key, spool, attrs)
        except s3_errors.S3Error as exc:
            raise ObjectFailed(f"could not write s3://{bucket}/{key}: {exc}") from None
        self.capture.output_written(f"{obj.relative}.out")

    def _invoke(self, instance: Instance, body: bytes) -> tuple[bytes, str | None]:
        """POST one mini-batch, retrying connection failures and 5xx answers.

        Raises:
            ObjectFailed: a 4xx answer, or failures after InvocationsMaxRetries retries.
            Stopped: StopTransformJob arrived.
        """
        headers = {}
        if self.content_type:
            headers["Content-Type"] = self.content_type
        if self.accept:
            headers["Accept"] = self.accept
        attempts = self.settings["retries"] + 1
        reason = ""
        for attempt in range(attempts):
            if self.stop.is_set():
                raise Stopped()
            try:
                status, answer, content_type = self._request(
                    instance, "POST", "/invocations", body, headers
                )
            except (OSError, http.client.HTTPException) as exc:
                if not instance.server.alive():
                    raise ObjectFailed(
                        f"the model container stopped: {instance.server.exit_reason()}"
                    ) from None
                reason = f"the model container did not answer: {exc or type(exc).__name__}"
            else:
                if status < 300:
                    return answer, content_type
                message = answer.decode("utf-8", "replace").strip()[:MESSAGE_LIMIT]
                reason = f"Bad HTTP status received from algorithm: {status}" + (
                    f". Message: {message}" if message else ""
                )
                if status < 500:
                    raise ObjectFailed(reason)
            if attempt + 1 < attempts:
                time.sleep(RETRY_DELAY)
        raise ObjectFailed(reason)

    def _request(self, instance: Instance, method: str, path: str, body, headers):
        """One request on a kept-alive connection to the instance (a connection the
        server closed while idle is replaced without a retry being spent)."""
        answer = self.pool.request(
            instance.server.port, method, path, body, headers, self.settings["timeout"]
        )
        return answer.status, answer.body, answer.content_type

    # -- logs and state --------------------------------------------------------------

    def _log(self, stream: str, message: str) -> None:
        self.log_lines.add(stream, message)

    def _flush(self) -> None:
        self.log_lines.flush()

    def _finish(self, outcome: str, failure: str | None = None) -> None:
        self._flush()
        fields: dict[str, Any] = {"ended": self.home.clock.time()}
        if failure is not None:
            fields["failure"] = clip(failure)
        if outcome != "Stopped" and self.stopping():
            outcome, fields = "Stopped", {"ended": fields["ended"]}
        self.jobs.transition(
            self.job.name,
            outcome,
            ("Stopping",) if outcome == "Stopped" else ("InProgress",),
            **fields,
        )


if __name__ == "__main__":
    sys.exit(Runner.main(sys.argv))
