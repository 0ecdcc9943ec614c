"""Every socket simsage or its algorithms listen on is reachable from this machine only:
bound to 127.0.0.1, or inside a private network namespace whose only interface is
loopback. Checked on a running 2-host built-in XGBoost job (whose xgboost workers bind
every interface of their namespace) and on a running endpoint's processes."""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path

import psutil
import pytest
from endpoint_helpers import deploy, xgboost_artifact
from test_training_jobs import BUCKET, Training, _tar_gz, wait_until
from test_xgboost_jobs import _channel, _create, _setup

from simsage.home import Home
from simsage.hosting.endpoint_state import EndpointStore
from simsage.runtime.network import PrivateNetwork
from simsage.training.jobs import TrainingJobStore

LISTEN = "0A"  # the TCP state in /proc/net/tcp
WILDCARD = ("0.0.0.0", "::")


def _address(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw[::-1]))
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))  # 4 host-order words
    return str(ipaddress.IPv6Address(words))


def listening(pid: int) -> list[tuple[str, int]]:
    """The TCP sockets ``pid`` listens on, read from its own network namespace's tables
    (psutil reads this process's namespace, which would miss them)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == LISTEN and fields[9] in inodes:
                address, port = fields[1].split(":")
                found.append((_address(address), int(port, 16)))
    return found


def network_of(pid: int) -> tuple[str, list[str]]:
    """The process's network namespace and the interfaces in it."""
    lines = Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]
    return os.readlink(f"/proc/{pid}/ns/net"), sorted(line.split(":")[0].strip() for line in lines)


def assert_reachable_from_this_machine_only(pids: list[int]) -> dict[int, list]:
    ours = os.readlink("/proc/self/ns/net")
    seen = {}
    for pid in pids:
        namespace, interfaces = network_of(pid)
        seen[pid] = sockets = listening(pid)
        for address, port in sockets:
            if namespace == ours:
                assert ipaddress.ip_address(address).is_loopback, (pid, address, port)
            else:
                assert interfaces == ["lo"], (pid, address, port, interfaces)
    return seen


def _private_network_or_skip() -> None:
    network, why_not = PrivateNetwork.open()
    if network is None:
        pytest.skip(f"no private network on this machine: {why_not}")
    network.close()


def tree(pid: int) -> list[int]:
    parent = psutil.Process(pid)
    return [parent.pid, *(child.pid for child in parent.children(recursive=True))]


def test_a_running_two_host_xgboost_job_listens_only_on_loopback(simsage_local):
    _private_network_or_skip()
    _, sm, _ = _setup(simsage_local)
    hyperparameters = {"num_round": "1000000", "objective": "binary:logistic", "max_depth": "2"}
    _create(sm, "xgb-sockets", hyperparameters, [_channel("train", "train/", True)], count=2)
    store = TrainingJobStore(Home.open(simsage_local.config))

    def bootstrapped():
        """Every worker listens for error notices on every interface once it has joined
        (xgboost's BindHost), the first host's tracker on 127.0.0.1."""
        job = store.get("xgb-sockets")
        assert job.status == "InProgress", job.failure
        hosts = job.host_pids
        joined = all(any(a in WILDCARD for a, _ in listening(pid)) for pid in hosts)
        return len(hosts) == 2 and joined and job

    job = wait_until(bootstrapped, timeout=60, what="the two hosts to join the cluster")
    try:
        pids = tree(job.runner_pid) + [p for host in job.host_pids for p in tree(host)]
        seen = assert_reachable_from_this_machine_only(pids)
        hosts = [network_of(pid)[0] for pid in job.host_pids]
        assert hosts[0] == hosts[1] != os.readlink("/proc/self/ns/net")  # one private network
        assert any(address == "127.0.0.1" for address, _ in seen[job.host_pids[0]])  # tracker
    finally:
        sm.stop_training_job(TrainingJobName="xgb-sockets")
    assert sm.describe_training_job(TrainingJobName="xgb-sockets")["TrainingJobStatus"] in (
        "Stopping",
        "Stopped",
    )


def test_a_running_endpoint_listens_only_on_127_0_0_1(simsage_local):
    deploy(simsage_local, "sockets", {"sockets-model": xgboost_artifact()})
    endpoint = EndpointStore(Home.open(simsage_local.config)).find("sockets")
    pids = tree(endpoint.supervisor_pid)
    seen = assert_reachable_from_this_machine_only(pids)
    ours = os.readlink("/proc/self/ns/net")
    assert all(network_of(pid)[0] == ours for pid in pids)
    assert any(seen.values())  # the instance's HTTP server is among them
    for pid in pids:  # psutil agrees (same namespace as this process)
        for connection in psutil.Process(pid).net_connections(kind="inet"):
            if connection.status == psutil.CONN_LISTEN:
                assert connection.laddr.ip == "127.0.0.1", (pid, connection)


INTERFACES = r"""
import json, os, pathlib

lines = pathlib.Path("/proc/net/dev").read_text().splitlines()[2:]
names = sorted(line.split(":")[0].strip() for line in lines)
(pathlib.Path(os.environ["SM_MODEL_DIR"]) / "interfaces.json").write_text(json.dumps(names))
"""


def test_network_isolation_leaves_a_job_only_loopback(simsage_local):
    _private_network_or_skip()
    training = Training(simsage_local)
    training.put("code/interfaces.tar.gz", _tar_gz({"train.py": INTERFACES.encode()}))
    request = training.request("isolated", EnableNetworkIsolation=True)
    request["HyperParameters"]["sagemaker_submit_directory"] = json.dumps(
        f"s3://{BUCKET}/code/interfaces.tar.gz"
    )
    training.sm.create_training_job(**request)
    done = training.wait("isolated")
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    assert json.loads(training.model(done)["interfaces.json"]) == ["lo"]
