"""The inference server's one exception to "every socket binds 127.0.0.1": ``--container``
listens on 0.0.0.0 (SageMaker's serving contract), and only inside simsage's images,
which set ``SIMSAGE_IN_CONTAINER=1`` (simsage/serving/server.py).

No test here opens a socket beyond loopback: the acceptance case replaces the bind
itself and checks the address the server would have bound."""

from __future__ import annotations

import pytest

from simsage.serving import server
from simsage.serving.server import InferenceServer, _parse_args


@pytest.fixture
def on_host(monkeypatch):
    monkeypatch.delenv("SIMSAGE_IN_CONTAINER", raising=False)
    monkeypatch.delenv("SAGEMAKER_BIND_TO_PORT", raising=False)


@pytest.fixture
def in_image(monkeypatch):
    monkeypatch.setenv("SIMSAGE_IN_CONTAINER", "1")
    monkeypatch.delenv("SAGEMAKER_BIND_TO_PORT", raising=False)


def test_on_the_host_container_mode_is_refused_before_any_socket(on_host, capsys):
    with pytest.raises(ValueError, match=r"binds 0\.0\.0\.0 only inside simsage's images"):
        InferenceServer(0, container=True)
    with pytest.raises(SystemExit) as exited:
        _parse_args(["--container", "--model-dir", "/opt/ml/model"])
    assert exited.value.code == 2
    assert "--container listens on 0.0.0.0: only inside simsage's images" in capsys.readouterr().err


def test_only_the_value_1_counts_as_inside_an_image(monkeypatch):
    for value in ("", "0", "true", "yes"):
        assert not server.in_container({"SIMSAGE_IN_CONTAINER": value})
    assert server.in_container({"SIMSAGE_IN_CONTAINER": "1"})
    assert not server.in_container({})


def test_main_on_the_host_refuses_container_mode_with_status_2(on_host):
    with pytest.raises(SystemExit) as exited:
        server.main(["--container", "--model-dir", "/opt/ml/model", "--mode", "xgboost"])
    assert exited.value.code == 2


def test_other_hosts_stay_refused_and_the_port_stays_required(on_host, capsys):
    with pytest.raises(ValueError, match="binds 127.0.0.1 only, not '0.0.0.0'"):
        InferenceServer(0, host="0.0.0.0")
    with pytest.raises(SystemExit):
        _parse_args(["--model-dir", "m"])
    assert "--port is required" in capsys.readouterr().err
    args = _parse_args(["--model-dir", "m", "--port", "0"])
    assert (args.container, args.port, args.host) == (False, 0, "127.0.0.1")


def test_inside_an_image_it_binds_every_interface_on_8080(in_image, monkeypatch):
    bound = []
    monkeypatch.setattr(
        InferenceServer, "server_bind", lambda self: bound.append(self.server_address)
    )
    monkeypatch.setattr(InferenceServer, "server_activate", lambda self: None)
    args = _parse_args(["--container", "--model-dir", "/opt/ml/model"])
    assert (args.container, args.port) == (True, 8080)
    instance = InferenceServer(args.port, args.host, container=args.container)
    try:
        assert bound == [("0.0.0.0", 8080)]
    finally:
        instance.server_close()
    loopback = InferenceServer(0)  # without --container the image's server is loopback too
    try:
        assert loopback.server_address[0] == "127.0.0.1"
    finally:
        loopback.server_close()


def test_sagemaker_bind_to_port_moves_the_container_port(in_image, monkeypatch):
    monkeypatch.setenv("SAGEMAKER_BIND_TO_PORT", "9081")
    assert _parse_args(["--container", "--model-dir", "m"]).port == 9081
    assert _parse_args(["--container", "--model-dir", "m", "--port", "7000"]).port == 7000
    monkeypatch.setenv("SAGEMAKER_BIND_TO_PORT", "not-a-port")
    assert _parse_args(["--container", "--model-dir", "m"]).port == 8080
