"""The training container's environment, as the SageMaker training toolkit builds it.

Given how the container names its ``/opt/ml`` (``/opt/ml`` itself under a private mount
namespace or Docker, the host's folder in the job folder otherwise), this computes the ``SM_*`` variables the toolkit's ``mapping.to_env_vars``
exports: paths, channels, hyperparameters, cluster and hardware facts, the user entry
point, and ``SM_TRAINING_ENV`` holding all of it. Values follow the toolkit's rule:
strings raw, everything else ``json.dumps(sort_keys=True, separators=(",", ":"))``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

SAGEMAKER_PREFIX = "sagemaker_"
# Hyperparameters the platform or SDK adds; the toolkit keeps them out of SM_HPS.
RESERVED_HYPERPARAMETERS = (
    "sagemaker_program",
    "sagemaker_submit_directory",
    "sagemaker_container_log_level",
    "sagemaker_job_name",
    "sagemaker_region",
    "sagemaker_enable_cloudwatch_metrics",
    "sagemaker_s3_output",
)
OPT_ML_ENV = "SIMSAGE_OPT_ML"


def decode_hyperparameters(raw: dict[str, str]) -> dict[str, Any]:
    """The toolkit's reading: ``json.loads`` each value, falling back to the raw string."""
    decoded = {}
    for key, value in raw.items():
        try:
            decoded[key] = json.loads(value)
        except (TypeError, ValueError):
            decoded[key] = value
    return decoded


def _env_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def training_env(
    root: Path,
    job_name: str,
    hyperparameters: dict[str, str],
    input_data_config: dict[str, dict],
    resource_config: dict[str, Any],
    num_cpus: int | None = None,
) -> dict[str, str]:
    """The ``SM_*`` variables for one host of a training job.

    Args:
        root: the host's ``/opt/ml``-shaped folder.
        job_name: the training job's name.
        hyperparameters: the request's hyperparameters (all strings).
        input_data_config: what ``inputdataconfig.json`` holds.
        resource_config: what ``resourceconfig.json`` holds.
    Returns:
        Variable name → value, ready to merge into a process environment.
    """
    hps = decode_hyperparameters(hyperparameters)
    user_hps = {k: v for k, v in hps.items() if not k.startswith(SAGEMAKER_PREFIX)}
    framework_params = {k: v for k, v in hps.items() if k.startswith(SAGEMAKER_PREFIX)}
    framework_params = {
        k: v for k, v in framework_params.items() if k not in RESERVED_HYPERPARAMETERS
    }
    program = hps.get("sagemaker_program") or ""
    module_name = program[:-3] if program.endswith(".py") else program
    channels = sorted(input_data_config)
    hosts = sorted(resource_config["hosts"])
    current_host = resource_config["current_host"]
    instance_type = resource_config.get("current_instance_type", "local")
    user_args = []
    for key in sorted(user_hps):
        user_args += [f"--{key}", _env_value(user_hps[key])]
    facts: dict[str, Any] = {
        "model_dir": str(root / "model"),
        "input_dir": str(root / "input"),
        "input_config_dir": str(root / "input" / "config"),
        "input_data_dir": str(root / "input" / "data"),
        "output_dir": str(root / "output"),
        "output_data_dir": str(root / "output" / "data"),
        "output_intermediate_dir": str(root / "output" / "intermediate"),
        "channels": channels,
        "hps": user_hps,
        "framework_params": framework_params,
        "hosts": hosts,
        "current_host": current_host,
        "current_instance_type": instance_type,
        "current_instance_group": "homogeneousCluster",
        "current_instance_group_hosts": hosts,
        "instance_groups": ["homogeneousCluster"],
        "instance_groups_dict": {
            "homogeneousCluster": {
                "instance_group_name": "homogeneousCluster",
                "instance_type": instance_type,
                "hosts": hosts,
            }
        },
        "distribution_instance_groups": [],
        "is_hetero": False,
        "num_cpus": num_cpus or os.cpu_count() or 1,
        "num_gpus": 0,
        "num_neurons": 0,
        "log_level": 20,
        "network_interface_name": resource_config.get("network_interface_name", "eth0"),
        "user_args": user_args,
        "user_entry_point": program,
        "module_name": module_name,
        "module_dir": str(hps.get("sagemaker_submit_directory") or ""),
        "framework_module": "",
        "resource_config": resource_config,
        "input_data_config": input_data_config,
        "job_name": job_name,
        "is_master": current_host == hosts[0],
        "master_hostname": hosts[0],
    }
    env = {f"SM_{key.upper()}": _env_value(value) for key, value in facts.items()}
    for name in channels:
        env[f"SM_CHANNEL_{name.upper()}"] = str(root / "input" / "data" / name)
    for key, value in user_hps.items():
        env[f"SM_HP_{key.upper()}"] = _env_value(value)
    # SM_TRAINING_ENV is the toolkit's whole environment object, whose keys differ a little
    # from the SM_* names: hyperparameters, additional_framework_parameters.
    whole = {k: v for k, v in facts.items() if k not in ("hps", "framework_params")}
    whole["hyperparameters"] = user_hps
    whole["additional_framework_parameters"] = framework_params
    whole["channel_input_dirs"] = {c: env[f"SM_CHANNEL_{c.upper()}"] for c in channels}
    env["SM_TRAINING_ENV"] = json.dumps(whole, sort_keys=True, separators=(",", ":"))
    env[OPT_ML_ENV] = str(root)
    return env
