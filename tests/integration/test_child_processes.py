"""simsage's child processes (runners, algorithm hosts, helpers) import the simsage that
started them, never a folder named ``simsage`` in the working folder of the caller."""

import subprocess

import pytest
from test_xgboost_jobs import _channel, _create, _setup, _wait

from simsage.runtime.python import child_environment, module_command


@pytest.fixture
def decoy_folder(tmp_path, monkeypatch):
    """The caller works in a folder holding another ``simsage`` package (an older
    checkout, say), which fails loudly if anything imports it."""
    decoy = tmp_path / "elsewhere"
    (decoy / "simsage").mkdir(parents=True)
    (decoy / "simsage" / "__init__.py").write_text(
        "raise ImportError('the simsage of the working folder was imported')\n"
    )
    monkeypatch.chdir(decoy)
    return decoy


def test_module_command_ignores_a_simsage_in_the_working_folder(decoy_folder):
    # The network helper without arguments imports simsage, prints its usage, exits 2.
    done = subprocess.run(
        module_command("simsage.runtime.network"),
        capture_output=True,
        text=True,
        env=child_environment(),
        timeout=60,
    )
    assert "working folder was imported" not in done.stderr
    assert done.returncode == 2 and "usage:" in done.stderr


def test_job_started_from_a_folder_holding_another_simsage_runs(simsage_local, decoy_folder):
    _, sm, _ = _setup(simsage_local)
    hps = {"num_round": "5", "objective": "binary:logistic", "eval_metric": "error"}
    _create(sm, "xgb-decoy", hps, [_channel("train", "train/")])
    described = _wait(sm, "xgb-decoy")
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert {m["MetricName"] for m in described["FinalMetricDataList"]} >= {"train:error"}
