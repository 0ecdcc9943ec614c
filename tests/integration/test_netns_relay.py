"""The relay that gives a container's own 127.0.0.1:PORT the host's service on the same
port (simsage.runtime.netns_relay), without Docker: a process in a network namespace of
its own (``unshare --net``, loopback up) plays the container. Needs root, as the relay
does; elsewhere the module skips and says why."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading

import pytest

from simsage.runtime.netns_relay import ContainerRelay, RelayUnavailable, listen_in_namespace

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"),
    reason="entering a network namespace needs root, unshare and ip",
)

# The "container": waits for "go" on stdin, then sends its payload to 127.0.0.1:PORT,
# half-closes, and prints how many bytes came back and their digest.
CLIENT = textwrap.dedent(
    """
    import hashlib, socket, sys
    port, size = int(sys.argv[1]), int(sys.argv[2])
    print("up", flush=True)
    sys.stdin.readline()
    payload = bytes(range(256)) * (size // 256)
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)
        got = bytearray()
        while chunk := conn.recv(65536):
            got += chunk
    print(len(got), hashlib.sha256(bytes(got)).hexdigest(), flush=True)
    """
)


def _echo_server():
    """A host service on 127.0.0.1: answers every connection with what it sent (after the
    client half-closed), then closes."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                data = bytearray()
                while chunk := conn.recv(65536):
                    data += chunk
                conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    return server


def _container(port: int, size: int) -> subprocess.Popen:
    script = f"ip link set lo up && exec {sys.executable} -c '{CLIENT}' {port} {size}"
    child = subprocess.Popen(
        ["unshare", "--net", "sh", "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "up"
    return child


def test_a_namespaces_loopback_reaches_the_hosts_service_both_ways():
    import hashlib

    server = _echo_server()
    port = server.getsockname()[1]
    relay = ContainerRelay(port)
    size = 8 * 1024 * 1024  # several buffers' worth, both ways
    child = _container(port, size)
    try:
        relay.attach(child.pid)
        child.stdin.write("go\n")
        child.stdin.flush()
        count, digest = child.stdout.readline().split()
        assert child.wait(timeout=60) == 0
    finally:
        relay.close()
        server.close()
        child.kill()
    expected = hashlib.sha256(bytes(range(256)) * (size // 256)).hexdigest()
    assert (int(count), digest) == (size, expected)


def test_after_close_the_namespaces_port_is_gone():
    server = _echo_server()
    port = server.getsockname()[1]
    relay = ContainerRelay(port)
    child = _container(port, 256)
    try:
        relay.attach(child.pid)
        relay.close()
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.wait(timeout=60) != 0  # connection refused inside the namespace
    finally:
        server.close()
        child.kill()


def test_a_port_taken_inside_or_a_missing_process_is_said():
    child = _container(1, 256)
    try:
        first = listen_in_namespace(child.pid, 45678)
        with pytest.raises(RelayUnavailable, match="already listens on 127.0.0.1:45678"):
            listen_in_namespace(child.pid, 45678)
        first.close()
    finally:
        child.kill()
        child.wait()
    with pytest.raises(RelayUnavailable, match="no process"):
        listen_in_namespace(2**22 + 12345, 45678)
