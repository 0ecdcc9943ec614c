"""Endpoints under stress: instances killed under load, floods of malformed payloads,
and deletes with requests in flight. Every call must end in an answer or a clear AWS
error; nothing hangs and nothing fails silently."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import time

import pytest
from botocore.exceptions import ClientError
from endpoint_helpers import deploy, instances, score, xgboost_artifact

from simsage.runtime import processes


@pytest.fixture(scope="module")
def artifact() -> bytes:
    return xgboost_artifact()


class Load:
    """``threads`` clients invoking an endpoint until stopped; records every outcome."""

    def __init__(self, simsage_local, endpoint: str, threads: int = 3) -> None:
        self.outcomes: list = []
        self._stop = threading.Event()
        self._workers = [
            threading.Thread(target=self._run, args=(simsage_local, endpoint))
            for _ in range(threads)
        ]

    def _run(self, simsage_local, endpoint: str) -> None:
        client = simsage_local.client("sagemaker-runtime")
        while not self._stop.is_set():
            try:
                self.outcomes.append(score(client, endpoint)[0])
            except Exception as exc:  # recorded for the assertions
                self.outcomes.append(exc)

    def __enter__(self) -> Load:
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(90)
            assert not worker.is_alive(), "an invocation hung"

    def failures(self) -> list:
        return [o for o in self.outcomes if isinstance(o, Exception)]

    def answered(self, count: int = 4, timeout: float = 60.0) -> None:
        """Wait until ``count`` invocations have been answered (a busy machine can take
        longer than any fixed sleep to build the clients and send the first calls)."""
        wait_for(lambda: sum(not isinstance(o, Exception) for o in self.outcomes) >= count, timeout)


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


@pytest.mark.parametrize("count", [1, 2])
def test_instance_killed_under_load_is_replaced(simsage_local, artifact, count):
    sm = deploy(
        simsage_local,
        "sturdy",
        {"sturdy-model": artifact},
        variants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "sturdy-model",
                "InitialInstanceCount": count,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    before = instances(simsage_local, "sturdy")
    victim = before[0]
    with Load(simsage_local, "sturdy") as load:
        load.answered()
        os.kill(victim.pid, signal.SIGKILL)
        wait_for(
            lambda: (
                {i.instance_id for i in instances(simsage_local, "sturdy") if i.state == "ready"}
                - {i.instance_id for i in before}
            )
        )
        answered = len(load.outcomes)
        time.sleep(0.3)
    assert load.failures() == []
    assert len(load.outcomes) > answered  # it kept answering after the replacement
    after = instances(simsage_local, "sturdy")
    assert len(after) == count and victim.instance_id not in {i.instance_id for i in after}
    described = sm.describe_endpoint(EndpointName="sturdy")
    assert described["EndpointStatus"] == "InService"
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == count
    logs = simsage_local.client("logs")

    def replacement_logged() -> bool:
        events = logs.get_log_events(
            logGroupName="/aws/sagemaker/Endpoints/sturdy",
            logStreamName=f"AllTraffic/{victim.instance_id}",
        )["events"]
        return any("exited with status -9; replacing it" in e["message"] for e in events)

    wait_for(replacement_logged)


def test_flood_of_malformed_payloads_gets_4xx_and_the_endpoint_stays_healthy(
    simsage_local, artifact
):
    deploy(simsage_local, "flooded", {"flooded-model": artifact})
    pids = [i.pid for i in instances(simsage_local, "flooded")]
    content_types = [
        "text/csv",
        "text/libsvm",
        "application/json",
        "application/x-recordio-protobuf",
        "image/png",
        None,
    ]
    unexpected: list = []

    def flood(seed: int) -> None:
        rng = random.Random(seed)
        client = simsage_local.client("sagemaker-runtime")
        for _ in range(60):
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
            kwargs = {}
            content_type = rng.choice(content_types)
            if content_type:
                kwargs["ContentType"] = content_type
            try:
                client.invoke_endpoint(EndpointName="flooded", Body=body, **kwargs)
            except ClientError as exc:
                status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
                original = exc.response.get("OriginalStatusCode", 0)
                model_error = exc.response["Error"]["Code"] == "ModelError" and status == 424
                if not model_error or not 400 <= original < 500:
                    unexpected.append(exc)
            except Exception as exc:  # recorded for the assertion
                unexpected.append(exc)

    workers = [threading.Thread(target=flood, args=(seed,)) for seed in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert unexpected == []
    runtime = simsage_local.client("sagemaker-runtime")
    assert score(runtime, "flooded")[0] > 0.5
    assert [i.pid for i in instances(simsage_local, "flooded")] == pids  # nothing crashed


def test_delete_with_requests_in_flight_loses_nothing_silently(simsage_local, artifact):
    sm = deploy(simsage_local, "leaving", {"leaving-model": artifact})
    with Load(simsage_local, "leaving", threads=4) as load:
        load.answered()
        sm.delete_endpoint(EndpointName="leaving")
        sm.get_waiter("endpoint_deleted").wait(
            EndpointName="leaving", WaiterConfig={"Delay": 0.1, "MaxAttempts": 600}
        )
        time.sleep(0.2)
    answers = [o for o in load.outcomes if not isinstance(o, Exception)]
    assert answers and all(a > 0.5 for a in answers)
    for failure in load.failures():
        assert isinstance(failure, ClientError), repr(failure)
        assert failure.response["Error"] == {
            "Code": "ValidationError",
            "Message": "Endpoint leaving of account 123456789012 not found.",
        }
    assert isinstance(load.outcomes[-1], ClientError)  # the last calls saw it gone


def test_deleting_the_home_stops_its_endpoints(simsage_local, artifact):
    import shutil

    from simsage.config import load_config
    from simsage.home import Home
    from simsage.hosting.endpoint_state import EndpointStore

    deploy(simsage_local, "homeless", {"homeless-model": artifact})
    supervisor = EndpointStore(Home.open(load_config())).find("homeless").supervisor_pid
    pids = [supervisor] + [i.pid for i in instances(simsage_local, "homeless")]
    shutil.rmtree(simsage_local.home)

    wait_for(lambda: not any(processes.running(pid) for pid in pids), timeout=30)


def test_hung_instance_fails_its_health_checks_and_is_replaced(simsage_local, artifact):
    deploy(simsage_local, "frozen", {"frozen-model": artifact})
    (victim,) = instances(simsage_local, "frozen")
    os.kill(victim.pid, signal.SIGSTOP)  # alive, but answers nothing
    try:
        runtime = simsage_local.client("sagemaker-runtime")
        started = time.monotonic()
        # The call hangs on the frozen instance until the supervisor kills it, then
        # goes to the replacement.
        assert score(runtime, "frozen")[0] > 0.5
        assert time.monotonic() - started < 30
        (replacement,) = instances(simsage_local, "frozen")
        assert replacement.instance_id != victim.instance_id
    finally:
        with contextlib.suppress(ProcessLookupError):  # killed by the health checks
            os.kill(victim.pid, signal.SIGCONT)
