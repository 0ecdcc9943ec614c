"""The inference server as a real process on a loopback port: /ping, /invocations with
every status the containers answer, SIGTERM with requests in flight, model-load
failure."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
PREFIX = "simsage-serving: model load failed: "


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, model_dir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = _free_port()
        environ = {k: v for k, v in os.environ.items() if not k.startswith("SAGEMAKER_")}
        environ["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(REPO), environ.get("PYTHONPATH")])
        )
        environ.update(env or {})
        cmd = [sys.executable, "-m", "simsage.serving.server", "--model-dir", str(model_dir)]
        self.proc = subprocess.Popen(
            [*cmd, "--port", str(self.port), *args],
            cwd=REPO,
            env=environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_ready(self, timeout: float = 25.0) -> Server:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.proc.stderr.read()}")
            try:
                status, _, _ = self.request("GET", "/ping")
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("server never answered /ping")

    def request(self, method, path, body=None, headers=None, conn=None):
        own = conn is None
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read(), response
        finally:
            if own:
                conn.close()

    def invoke(self, body, content_type=None, accept=None, **extra):
        headers = dict(extra)
        if content_type:
            headers["Content-Type"] = content_type
        if accept:
            headers["Accept"] = accept
        return self.request("POST", "/invocations", body, headers)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=15)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.stderr.close()


def _xgboost_model(model_dir: Path) -> Path:
    import xgboost as xgb

    rng = np.random.default_rng(1)
    x = rng.random((100, 3))
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(x, label=(x[:, 0] > 0.5)), 3)
    model_dir.mkdir(parents=True)
    booster.save_model(str(model_dir / "m.json"))
    (model_dir / "m.json").rename(model_dir / "xgboost-model")
    return model_dir


@pytest.fixture(scope="module")
def xgb_server(tmp_path_factory):
    server = Server(_xgboost_model(tmp_path_factory.mktemp("xgb") / "model")).wait_ready()
    yield server
    assert server.stop() == 0


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "status", "out_type"),
    [
        (b"0.9,0.1,0.2\n0.1,,0.2", "text/csv", None, 200, "text/csv"),
        (b"0.9,0.1,0.2", "text/csv; charset=utf-8", "*/*", 200, "text/csv"),
        (b"0.9,0.1,0.2", "text/csv", "application/json", 200, "application/json"),
        (b"0.9,0.1,0.2", "text/csv", "application/jsonlines", 200, "application/jsonlines"),
        (b"0 0:0.9 1:0.1", "text/libsvm", "text/csv", 200, "text/csv"),
        (b"0:0.9 1:0.1", None, None, 200, "text/csv"),
        (b"", "text/csv", None, 204, None),
        (b"1,2,3", "application/x-recordio-protobuf", None, 415, "text/plain"),
        (b"1,2,3", "application/json", None, 415, "text/plain"),
        (b"a,b,c", "text/csv", None, 415, "text/plain"),
        (b"1,2,3,4,5", "text/csv", None, 400, "text/plain"),
        (b"1,2,3", "text/csv", "image/png", 406, "text/plain"),
    ],
)
def test_invocations_statuses(xgb_server, body, content_type, accept, status, out_type):
    got, payload, response = xgb_server.invoke(body, content_type, accept)
    assert got == status, payload
    assert response.getheader("Content-Type") == out_type
    if status == 200 and out_type == "text/csv":
        assert payload.endswith(b"\n") and all(0 <= float(v) <= 1 for v in payload.split())
    if status == 400:
        assert payload.startswith(b"Unable to evaluate payload provided: ")


def test_ping_is_empty_200_and_unknown_routes_are_refused(xgb_server):
    status, body, _ = xgb_server.request("GET", "/ping")
    assert (status, body) == (200, b"")
    assert xgb_server.request("GET", "/nope")[0] == 404
    assert xgb_server.request("GET", "/invocations")[0] == 405


def test_custom_attributes_pass_through(xgb_server):
    _, _, response = xgb_server.invoke(
        b"0.9,0.1,0.2", "text/csv", None, **{"X-Amzn-SageMaker-Custom-Attributes": "c000b4f9-df62"}
    )
    assert response.getheader("X-Amzn-SageMaker-Custom-Attributes") == "c000b4f9-df62"


def test_keep_alive_and_chunked_bodies(xgb_server):
    conn = http.client.HTTPConnection("127.0.0.1", xgb_server.port, timeout=10)
    try:
        results = [
            xgb_server.request(
                "POST", "/invocations", b"0.9,0.1,0.2", {"Content-Type": "text/csv"}, conn
            )
            for _ in range(20)
        ]
        assert {r[0] for r in results} == {200}
        chunks = iter([b"0.9,0.1,", b"0.2\n0.1,0.1,0.2"])  # no length: http.client sends it chunked
        status, body, _ = xgb_server.request(
            "POST", "/invocations", chunks, {"Content-Type": "text/csv"}, conn
        )
        assert status == 200 and len(body.split()) == 2
    finally:
        conn.close()


def test_malformed_http_does_not_hurt_the_server(xgb_server):
    with socket.create_connection(("127.0.0.1", xgb_server.port), timeout=5) as sock:
        sock.sendall(b"GARBAGE\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 400")
    assert xgb_server.request("GET", "/ping")[0] == 200


SLOW_SCRIPT = """
import json, time
def model_fn(model_dir):
    return "model"
def input_fn(body, content_type):
    return json.loads(body)
def predict_fn(data, model):
    if data == "boom":
        raise ValueError("the model refused")
    time.sleep(float(data))
    return {"slept": data}
"""


@pytest.fixture
def script_server(tmp_path):
    model_dir = tmp_path / "model"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "code" / "inference.py").write_text(textwrap.dedent(SLOW_SCRIPT))
    server = Server(model_dir, "--mode", "script").wait_ready()
    yield server
    server.stop()


def test_script_mode_errors_are_500_with_traceback(script_server):
    status, body, _ = script_server.invoke(b'"boom"', "application/json")
    assert status == 500
    assert body.decode().startswith("the model refused\nTraceback")
    status, body, response = script_server.invoke(b"0", "application/json")
    assert status == 200 and json.loads(body) == {"slept": 0}
    assert response.getheader("Content-Type") == "application/json"


def test_sigterm_finishes_requests_in_flight_then_exits_zero(script_server):
    idle = http.client.HTTPConnection("127.0.0.1", script_server.port, timeout=10)
    assert script_server.request("GET", "/ping", conn=idle)[0] == 200  # an idle keep-alive
    results = []
    slow = threading.Thread(
        target=lambda: results.append(script_server.invoke(b"1.5", "application/json"))
    )
    slow.start()
    time.sleep(0.5)
    script_server.proc.send_signal(signal.SIGTERM)
    slow.join(timeout=10)
    assert results and results[0][0] == 200
    assert script_server.proc.wait(timeout=10) == 0
    with pytest.raises(OSError):
        script_server.request("GET", "/ping")
    idle.close()


def test_model_load_failure_exits_non_zero_with_reason(tmp_path):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "xgboost-model").write_text("not a model")
    server = Server(model_dir)
    assert server.proc.wait(timeout=25) != 0
    last = server.proc.stderr.read().strip().splitlines()[-1]
    server.stop()
    assert last.startswith(PREFIX) and "not an xgboost model" in last


def test_script_without_model_fn_fails_to_load(tmp_path):
    model_dir = tmp_path / "model"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "code" / "inference.py").write_text(
        "def predict_fn(data, model):\n    return data\n"
    )
    server = Server(model_dir, "--mode", "script", "--framework", "sklearn")
    assert server.proc.wait(timeout=25) != 0
    last = server.proc.stderr.read().strip().splitlines()[-1]
    server.stop()
    assert last.startswith(PREFIX) and "model_fn" in last


# -- strict HTTP: every body byte counted, malformed framing refused, idle closed ------


class _Echo:
    """A handler answering the body back; counts the requests that reached it."""

    def __init__(self) -> None:
        self.calls = 0

    def invoke(self, body, content_type, accept, headers=None):
        from simsage.serving.scoring import Response

        self.calls += 1
        return Response(body, content_type or "application/octet-stream")


@pytest.fixture
def small_server():
    """An in-process server with a 1 KiB body limit and a 0.3 s keep-alive."""
    from simsage.serving.server import InferenceServer

    server = InferenceServer(0, keepalive=0.3, max_body=1024)
    server.handler = _Echo()
    loop = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    loop.start()
    yield server
    server.shutdown()
    server.server_close()
    server.drain(timeout=2)
    loop.join(5)


def _exchange(port: int, data: bytes) -> bytes:
    """Send raw bytes and read until the server closes (a 10 s socket timeout fails
    the test instead of hanging it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


CHUNKED = b"POST /invocations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_a_negative_chunk_size_is_refused_and_the_connection_closed(xgb_server):
    # It used to be read as -1 and let a body grow past the 100 MiB limit (315 MB seen).
    answer = _exchange(xgb_server.port, CHUNKED + b"-1\r\n" + b"x" * 65536)
    assert answer.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in answer
    assert answer.endswith(b"malformed chunk size")
    assert xgb_server.request("GET", "/ping")[0] == 200


@pytest.mark.parametrize(
    "size_line",
    [b"-0\r\n", b"+10\r\n", b"0x10\r\n", b"1_0\r\n", b"\r\n", b"1 0\r\n", b"1" * 17 + b"\r\n"],
)
def test_chunk_sizes_are_plain_bounded_hex(small_server, size_line):
    answer = _exchange(small_server.server_address[1], CHUNKED + size_line + b"0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert small_server.handler.calls == 0


def test_chunks_adding_up_past_the_limit_are_413_and_never_reach_the_handler(small_server):
    chunks = b"".join(b"c8\r\n" + b"y" * 200 + b"\r\n" for _ in range(10))  # 2000 bytes
    answer = _exchange(small_server.server_address[1], CHUNKED + chunks + b"0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413 ") and b"Connection: close" in answer
    assert small_server.handler.calls == 0


def test_a_chunk_declared_past_the_limit_is_413_before_its_data(small_server):
    answer = _exchange(small_server.server_address[1], CHUNKED + b"ffffffffffffffff\r\n")
    assert answer.startswith(b"HTTP/1.1 413 ")


def test_trailers_count_against_the_limit(small_server):
    trailers = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"z" * 40) for i in range(50))
    answer = _exchange(small_server.server_address[1], CHUNKED + b"0\r\n" + trailers + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert small_server.handler.calls == 0


def test_chunked_bodies_within_the_limit_still_work(small_server):
    body = b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n"
    request = CHUNKED.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
    answer = _exchange(small_server.server_address[1], request + body)
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"\r\n\r\nabcde")


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (b"Content-Length: +5\r\n", 400),
        (b"Content-Length: 1_0\r\n", 400),
        (b"Content-Length: -1\r\n", 400),
        (b"Content-Length: 5\r\nContent-Length: 5\r\n", 400),
        (b"Content-Length: 0x5\r\n", 400),
        (b"Content-Length: 1025\r\n", 413),
        (b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", 400),
        (b"Transfer-Encoding: gzip, chunked\r\n", 501),
    ],
)
def test_body_framing_is_strict(small_server, headers, status):
    request = b"POST /invocations HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\nhello"
    answer = _exchange(small_server.server_address[1], request)
    assert answer.startswith(b"HTTP/1.1 %d " % status)
    assert small_server.handler.calls == 0


def test_idle_and_stalled_connections_are_closed(small_server):
    port = small_server.server_address[1]
    # Idle: after one answer the server closes the kept-alive connection by itself.
    answer = _exchange(port, b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.count(b"HTTP/1.1") == 1
    # Stalled mid-request: no answer, but the connection does not hold a thread forever.
    assert _exchange(port, b"POST /invocations HTTP/1.1\r\nContent-Le") == b""
    assert _exchange(port, b"POST /invocations HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc") == b""
    assert small_server.handler.calls == 0


def test_execution_parameters_are_the_xgboost_containers(xgb_server, script_server):
    status, body, response = xgb_server.request("GET", "/execution-parameters")
    assert status == 200 and response.getheader("Content-Type") == "application/json"
    assert json.loads(body) == {
        "MaxConcurrentTransforms": os.cpu_count(),
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": 6,
    }
    assert script_server.request("GET", "/execution-parameters")[0] == 404


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET /ping HTTP/1.1\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n", 431),
        (b"GET /ping HTTP/1.1\r\n" + b"X-Pad: 1\r\n" * 101 + b"\r\n", 431),
        (b"GET /ping HTTP/1.1\r\nno colon here\r\n\r\n", 400),
        (b"GET /ping HTTP/2.0\r\n\r\n", 505),
        (b"GET /ping FTP/1.1\r\n\r\n", 400),
        (b"BREW /invocations HTTP/1.1\r\n\r\n", 501),
    ],
)
def test_protocol_errors_are_plain_text_answers_then_close(small_server, request_bytes, status):
    answer = _exchange(small_server.server_address[1], request_bytes)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % status)
    assert b"\r\nConnection: close" in head and b"\r\nContent-Type: text/plain" in head
    assert body and b"<html" not in body.lower()
    assert small_server.handler.calls == 0


def test_expect_continue_head_and_blank_lines_between_requests(small_server):
    port = small_server.server_address[1]
    answer = _exchange(
        port,
        b"POST /invocations HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi"
        b"\r\n"  # a stray empty line before the next request is skipped (RFC 9112 2.2)
        b"HEAD /ping HTTP/1.1\r\nConnection: close\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 ")
    first, _, rest = answer.partition(b"\r\n\r\nhi")
    assert rest.startswith(b"HTTP/1.1 200 ") and rest.endswith(b"\r\n\r\n")  # HEAD: no body
    assert small_server.handler.calls == 1


def test_http_1_0_closes_unless_asked_to_keep_alive(small_server):
    port = small_server.server_address[1]
    answer = _exchange(port, b"GET /ping HTTP/1.0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 ") and b"Connection: close" in answer
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for _ in range(2):  # the connection stays open for the second request
            sock.sendall(b"GET /ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
