"""Distributed built-in XGBoost: two host processes, each with its own /opt/ml root and
its own half of the data, train one model together through XGBoost's tracker and
collective communication on 127.0.0.1."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np

from simsage.runtime.environment import training_env

REPO = Path(__file__).resolve().parents[2]
HYPERPARAMETERS = {
    "num_round": "20",
    "objective": "binary:logistic",
    "eval_metric": "error,auc",
    "max_depth": "3",
    "eta": "0.5",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def shard(rng: np.random.Generator, n: int, side: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose label rule depends on the side of x0 (the shard): a model that saw only
    one shard gets the other one wrong."""
    features = rng.normal(size=(n, 3)).round(4)
    features[:, 0] = side * np.abs(features[:, 0])
    labels = ((features[:, 1] > 0) == (side > 0)).astype(np.float64)
    return features, labels


def to_csv(labels: np.ndarray, features: np.ndarray) -> str:
    buffer = io.StringIO()
    np.savetxt(buffer, np.column_stack([labels, features]), delimiter=",", fmt="%.6g")
    return buffer.getvalue()


def host_root(
    base: Path, host: str, hosts: tuple[str, ...], train_csv: str, validation_csv: str
) -> tuple[Path, dict]:
    root = base / host
    data_config = {
        name: {
            "ContentType": "text/csv",
            "TrainingInputMode": "File",
            "S3DistributionType": "ShardedByS3Key",
            "RecordWrapperType": "None",
        }
        for name in ("train", "validation")
    }
    resource = {"current_host": host, "hosts": list(hosts), "network_interface_name": "eth0"}
    (root / "input" / "config").mkdir(parents=True)
    for name, content in (("train", train_csv), ("validation", validation_csv)):
        (root / "input" / "data" / name).mkdir(parents=True)
        if content:  # a host the sharding left without objects has an empty folder
            (root / "input" / "data" / name / f"{host}.csv").write_text(content)
    for file_name, value in (
        ("hyperparameters.json", HYPERPARAMETERS),
        ("inputdataconfig.json", data_config),
        ("resourceconfig.json", resource),
    ):
        (root / "input" / "config" / file_name).write_text(json.dumps(value))
    (root / "model").mkdir()
    (root / "output").mkdir()
    return root, training_env(root, "xgb-distributed", HYPERPARAMETERS, data_config, resource)


def run_hosts(base: Path, data: dict[str, tuple[str, str]]) -> dict[str, tuple[Path, int, str]]:
    """Start one algorithm process per host (all at once, as the runner does) and wait:
    host → (root, exit code, stdout)."""
    hosts = tuple(sorted(data))
    port = str(free_port())
    processes = {}
    for host, (train_csv, validation_csv) in data.items():
        root, env = host_root(base, host, hosts, train_csv, validation_csv)
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("SIMSAGE_")}
        full_env.update(env)
        full_env["SIMSAGE_TRACKER_PORT"] = port
        full_env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(REPO), os.environ.get("PYTHONPATH")])
        )
        processes[host] = (
            root,
            subprocess.Popen(
                [sys.executable, "-m", "simsage.algorithms.xgboost_train"],
                cwd=root,
                env=full_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            ),
        )
    results = {}
    try:
        for host, (root, process) in processes.items():
            output = process.communicate(timeout=120)[0]
            results[host] = (root, process.returncode, output)
    finally:
        for _, process in processes.values():
            if process.poll() is None:
                process.kill()
    return results


def test_hosts_train_one_model_on_all_shards(tmp_path):
    rng = np.random.default_rng(7)
    shards = [shard(rng, 400, side) for side in (-1.0, 1.0)]
    validation = [shard(rng, 100, side) for side in (-1.0, 1.0)]
    data = {
        host: (to_csv(labels, features), to_csv(v_labels, v_features))
        for host, (features, labels), (v_features, v_labels) in zip(
            ("algo-1", "algo-2"), shards, validation, strict=True
        )
    }
    data["algo-3"] = ("", "")  # ShardedByS3Key with fewer objects than hosts
    results = run_hosts(tmp_path, data)
    for host, (root, code, output) in results.items():
        assert code == 0, (host, output)
        assert (root / "output" / "success").exists()
        rows = 0 if host == "algo-3" else 400
        assert f"Train matrix has {rows} rows and 3 columns" in output  # its own shard only
    assert "Host algo-3 does not have training data" in results["algo-3"][2]

    # Only the first host saves the model and prints the evaluation lines, whose metrics
    # cover every host's data.
    master_root, _, master_log = results["algo-1"]
    for host in ("algo-2", "algo-3"):
        assert not (results[host][0] / "model" / "xgboost-model").exists()
        assert not re.search(r"^\[\d+\]\t", results[host][2], re.MULTILINE)
    rounds = re.findall(
        r"^\[(\d+)\]\ttrain-error:([\d.]+)\ttrain-auc:([\d.]+)"
        r"\tvalidation-error:([\d.]+)\tvalidation-auc:([\d.]+)$",
        master_log,
        re.MULTILINE,
    )
    assert [int(r[0]) for r in rounds] == list(range(20))
    assert float(rounds[-1][3]) < 0.1  # validation-error over both shards

    import xgboost

    everything = np.vstack([s[0] for s in shards])
    truth = np.concatenate([s[1] for s in shards])
    with warnings.catch_warnings():  # a file name without extension: xgboost guesses UBJSON
        warnings.simplefilter("ignore")
        distributed = xgboost.Booster(model_file=str(master_root / "model" / "xgboost-model"))
    predicted = distributed.predict(xgboost.DMatrix(everything))
    assert float(((predicted > 0.5) == truth).mean()) > 0.9  # right on both shards

    # One host trained on all the data in-process gives (nearly) the same model; one
    # trained on a single shard does not.
    params = {k: v for k, v in HYPERPARAMETERS.items() if k != "num_round"}
    params["eval_metric"] = params["eval_metric"].split(",")
    single = xgboost.train(params, xgboost.DMatrix(everything, label=truth), 20)
    assert np.abs(single.predict(xgboost.DMatrix(everything)) - predicted).mean() < 0.05
    one_shard = xgboost.train(params, xgboost.DMatrix(*shards[0]), 20)
    assert float(((one_shard.predict(xgboost.DMatrix(everything)) > 0.5) == truth).mean()) < 0.8


def test_a_host_with_bad_data_stops_the_whole_cluster(tmp_path):
    rng = np.random.default_rng(8)
    features, labels = shard(rng, 100, 1.0)
    good = to_csv(labels, features)
    results = run_hosts(
        tmp_path, {"algo-1": (good, good), "algo-2": ("label,x0,x1,x2\n" + good, good)}
    )
    for host, (_, code, output) in results.items():
        assert code != 0, (host, output)  # nobody waits for the failed host
    bad_root = results["algo-2"][0]
    assert "is not 'CSV' format" in (bad_root / "output" / "failure").read_text()
    assert "another host" in (results["algo-1"][0] / "output" / "failure").read_text()
