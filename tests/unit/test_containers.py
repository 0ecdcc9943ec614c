"""The container launcher (simsage/runtime/containers.py, mountns.py): what a container
process sees in each mode, and the framework images' command semantics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from simsage.runtime import containers, mountns
from simsage.runtime.containers import MODE_ENV, Container, ProcessLauncher
from simsage.runtime.images import container_command, runs_entrypoint
from simsage.runtime.network import PrivateNetwork

needs_namespaces = pytest.mark.skipif(
    not mountns.probe()[0], reason=f"no private mount namespaces here: {mountns.probe()[1]}"
)

REPORT = """
import json, os, sys
home = sys.argv[1]
print(json.dumps({
    "cwd": os.getcwd(),
    "ml": sorted(os.listdir("/opt/ml")) if os.path.isdir("/opt/ml") else None,
    "opt": sorted(os.listdir("/opt")) if os.path.isdir("/opt") else None,
    "model": open("/opt/ml/model/weights").read() if os.path.exists("/opt/ml/model/weights") else None,
    "extra": sorted(os.listdir("/checkpoints")) if os.path.isdir("/checkpoints") else None,
    "home": sorted(os.listdir(home)) if os.path.isdir(home) else None,
    "net": os.stat("/proc/self/ns/net").st_ino,
    "python": os.popen("command -v python3").read().strip(),
    "path0": os.environ["PATH"].split(os.pathsep)[0],
}))
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A SIMSAGE_HOME-like folder (its store marker) holding two jobs' trees."""
    home = tmp_path / "home"
    (home / "jobs" / "mine" / "algo-1" / "model").mkdir(parents=True)
    (home / "jobs" / "other" / "algo-1" / "model").mkdir(parents=True)
    (home / "state.db").write_text("")
    (home / "jobs" / "mine" / "algo-1" / "model" / "weights").write_text("mine")
    (home / "jobs" / "other" / "algo-1" / "model" / "weights").write_text("other")
    (home / "jobs" / "mine" / "algo-1" / "external" / "checkpoints").mkdir(parents=True)
    (home / "jobs" / "mine" / "algo-1" / "external" / "checkpoints" / "c1").write_text("")
    return home


def _run(launcher: ProcessLauncher, home: Path, **fields) -> dict:
    root = home / "jobs" / "mine" / "algo-1"
    container = Container(
        "algo-1",
        root,
        [sys.executable, "-c", REPORT, str(home)],
        dict(os.environ),
        **fields,
    )
    process = launcher.start(container, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err.decode()
    return json.loads(out)


@needs_namespaces
def test_namespace_mode_shows_the_host_folder_at_opt_ml_and_hides_the_home(home):
    root = home / "jobs" / "mine" / "algo-1"
    seen = _run(
        ProcessLauncher(containers.NAMESPACE),
        home,
        workdir="/opt/ml/model",
        mounts={root / "external" / "checkpoints": "/checkpoints"},
    )
    assert seen["cwd"] == "/opt/ml/model"
    assert seen["model"] == "mine"
    assert "model" in seen["ml"]
    assert seen["home"] == []  # every job's tree (and the store) is out of sight
    assert seen["extra"] == ["c1"]  # a container path outside /opt/ml, bound in
    real_opt = sorted(os.listdir("/opt")) if os.path.isdir("/opt") else []
    assert set(real_opt) - {"ml"} <= set(seen["opt"])  # nothing of the real /opt hidden
    assert seen["python"] == containers.PYTHON_IN_CONTAINER + "/python3"
    assert not Path("/opt/ml/model/weights").exists()  # nothing changed outside


def test_process_mode_runs_in_the_host_folder(home):
    root = home / "jobs" / "mine" / "algo-1"
    seen = _run(ProcessLauncher(containers.PROCESS, "asked"), home, workdir="/opt/ml/model")
    assert seen["cwd"] == str(root / "model")
    assert seen["home"] is not None  # no namespace: the home is the machine's
    assert seen["path0"] == str(home / "jobs" / "mine" / containers.PYTHON_FOLDER)


def test_the_python_folder_runs_this_interpreter_and_its_pip(tmp_path):
    folder = containers.python_folder(tmp_path / "algo-1")
    for name in ("python", "python3"):
        out = subprocess.run(
            [folder / name, "-c", "import sys; print(sys.prefix)"], capture_output=True, check=True
        )
        assert out.stdout.decode().strip() == sys.prefix
    pip = subprocess.run([folder / "pip3", "--version"], capture_output=True, check=False)
    assert pip.returncode == 0 and b"pip" in pip.stdout


def test_mode_can_be_forced_to_the_fallback(monkeypatch):
    monkeypatch.setenv(MODE_ENV, "process")
    launcher = containers.local()
    assert launcher.mode == containers.PROCESS
    assert f"{MODE_ENV}=process" in launcher.describe(Path("/x/algo-1"))
    assert launcher.opt_ml(Path("/x/algo-1")) == Path("/x/algo-1")


def test_without_namespaces_the_launcher_falls_back_and_says_why(monkeypatch):
    monkeypatch.delenv(MODE_ENV, raising=False)
    monkeypatch.setattr(mountns, "probe", lambda: (False, "user namespaces are disabled"))
    launcher = containers.local()
    assert launcher.mode == containers.PROCESS
    line = launcher.describe(Path("/x/algo-1"))
    assert "no private mount namespace (user namespaces are disabled)" in line
    assert "/x/algo-1" in line


@needs_namespaces
def test_namespace_paths_are_sagemakers_own(monkeypatch):
    monkeypatch.delenv(MODE_ENV, raising=False)
    launcher = containers.local()
    root = Path("/somewhere/algo-1")
    assert str(launcher.opt_ml(root)) == "/opt/ml"
    assert launcher.container_path(root, root / "model") == "/opt/ml/model"
    assert launcher.container_path(root, root / "code") == "/opt/ml/code"


@needs_namespaces
@pytest.mark.parametrize("mode", [containers.NAMESPACE, containers.PROCESS])
def test_a_private_network_composes_with_each_mode(home, mode):
    network, why = PrivateNetwork.open()
    if network is None:
        pytest.skip(why)
    try:
        holder = os.stat(f"/proc/{network.holder.pid}/ns/net").st_ino
        seen = _run(ProcessLauncher(mode, "", network), home)
    finally:
        network.close()
    assert seen["net"] == holder
    assert seen["net"] != os.stat("/proc/self/ns/net").st_ino
    if mode == containers.NAMESPACE:
        assert seen["model"] == "mine"


def test_a_command_that_cannot_start_is_a_launch_error(home):
    root = home / "jobs" / "mine" / "algo-1"
    container = Container("algo-1", root, ["/no/such/program"], dict(os.environ))
    with pytest.raises(containers.LaunchError, match="/no/such/program"):
        ProcessLauncher(containers.PROCESS).start(container)


@pytest.mark.parametrize(
    ("algorithm", "command", "entrypoint"),
    [
        ({}, ["train"], False),
        ({"ContainerArguments": ["train"]}, ["train"], False),
        ({"ContainerArguments": ["python3", "x.py"]}, ["python3", "x.py"], True),
        ({"ContainerEntrypoint": ["/bin/bash"]}, ["/bin/bash"], True),
        (
            {"ContainerEntrypoint": ["/bin/bash"], "ContainerArguments": ["-c", "echo hi"]},
            ["/bin/bash", "-c", "echo hi"],
            True,
        ),
    ],
)
def test_framework_images_follow_dockers_entrypoint_and_cmd_rules(algorithm, command, entrypoint):
    assert container_command(algorithm, ["train"]) == command
    assert runs_entrypoint(algorithm) is entrypoint


def test_when_one_host_cannot_start_the_hosts_already_started_are_ended(home):
    root = home / "jobs" / "mine" / "algo-1"
    marker = root / "pid"
    first = Container(
        "algo-1", root, ["/bin/sh", "-c", f"echo $$ > {marker}; exec sleep 30"], dict(os.environ)
    )
    second = Container("algo-2", root, ["/no/such/program"], dict(os.environ))
    with pytest.raises(containers.LaunchError):
        ProcessLauncher(containers.PROCESS).start_all([first, second])
    if marker.exists() and marker.read_text().strip():
        with pytest.raises(ProcessLookupError):
            os.kill(int(marker.read_text()), 0)


def test_a_required_namespace_that_is_unavailable_is_a_launch_error(monkeypatch):
    monkeypatch.setenv(MODE_ENV, "namespace")
    monkeypatch.setattr(mountns, "probe", lambda: (False, "user namespaces are disabled"))
    with pytest.raises(containers.LaunchError, match="user namespaces are disabled"):
        containers.local()


def test_a_home_holding_simsages_own_interpreter_stays_visible(tmp_path):
    plan = mountns.MountPlan(str(tmp_path), hide=[sys.prefix, str(tmp_path / "home")]).prepare()
    assert plan.hide == [os.path.realpath(tmp_path / "home")]
    assert any("stays visible" in warning for warning in plan.warnings)
    assert all(name != "opt" for name, _, _ in plan.root_entries)  # /opt is rebuilt
