"""The examples run as a user runs them: each script in its own process, on a fresh
SIMSAGE_HOME, writing to a temporary output folder. They must finish, write their
plots, reach a sensible quality, and leave no endpoint, endpoint configuration or model
behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_example(script: Path, output_dir: Path) -> subprocess.CompletedProcess:
    """``python <script> --output-dir <output_dir>``; the environment (SIMSAGE_HOME …)
    is inherited."""
    pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {
        **os.environ,
        "PYTHONPATH": pythonpath,
        "MPLBACKEND": "Agg",
        # The data are small: one OpenMP thread per process trains as fast, and does not
        # spin-wait for a core when the machine is busy (a 2-core CI box, other tests).
        "OMP_NUM_THREADS": "1",
    }
    env.pop("SIMSAGE_EXAMPLE_OUTPUT", None)
    return subprocess.run(
        [sys.executable, str(script), "--output-dir", str(output_dir)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def check_run(done: subprocess.CompletedProcess, output_dir: Path, plots: list[str]) -> dict:
    """Assert the run succeeded and wrote its plots; returns its metrics.json."""
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert f"plots:     {output_dir / 'plots'}/" in lines
    for name in plots:
        path = output_dir / "plots" / f"{name}.png"
        assert path.read_bytes()[:8] == PNG_MAGIC, path
        assert f"           {name}.png" in lines
    return json.loads((output_dir / "metrics.json").read_text())


def assert_cleaned_up(simsage_local) -> None:
    """Nothing the example made is left. DeleteEndpoint answers at once and the endpoint
    drains in the background (as on AWS, where it is Deleting for a while): its listing
    is given up to a minute to empty."""
    sm = simsage_local.client("sagemaker")
    deadline = time.monotonic() + 60
    while sm.list_endpoints()["Endpoints"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sm.list_endpoints()["Endpoints"] == []
    assert sm.list_endpoint_configs()["EndpointConfigs"] == []
    assert sm.list_models()["Models"] == []


def test_flight_delay_example(simsage_local, tmp_path):
    out = tmp_path / "flight"
    done = run_example(EXAMPLES / "flight_delay" / "flight_delay.py", out)
    metrics = check_run(
        done,
        out,
        [
            "histograms",
            "delay_rate_by_feature",
            "correlation",
            "tuning",
            "roc_curve",
            "cost_by_threshold",
            "confusion_matrices",
        ],
    )
    assert metrics["auc"] > 0.7
    # The business threshold beats the default 0.5, which beats raising no alert at all.
    costs = list(metrics["cost_per_flight"].values())
    assert costs[2] < costs[1] < costs[0]

    # The preprocessing ran as a processing job in the scikit-learn image, and training
    # read its outputs.
    assert "read 30,000 flights, 19.7% delayed" in done.stdout  # code/preprocessing.py's log
    sm = simsage_local.client("sagemaker")
    prep = sm.describe_processing_job(ProcessingJobName=metrics["processing_job"])
    assert prep["ProcessingJobStatus"] == "Completed"
    assert prep["AppSpecification"]["ImageUri"].endswith("sagemaker-scikit-learn:1.2-1-cpu-py3")
    outputs = {
        o["OutputName"]: o["S3Output"]["S3Uri"] for o in prep["ProcessingOutputConfig"]["Outputs"]
    }
    assert sorted(outputs) == ["labels", "test", "train", "validation"]
    job = sm.describe_training_job(TrainingJobName=metrics["training_job"])
    assert job["TrainingJobStatus"] == "Completed"
    assert job["HyperParameters"]["early_stopping_rounds"] == "15"
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in job["InputDataConfig"]
    }
    assert channels == {"train": outputs["train"], "validation": outputs["validation"]}

    # The tuning job ran the same estimator over eta/max_depth/min_child_weight: 6 real
    # training jobs on the same channels, and the best of them by validation AUC is the
    # model that was deployed and batch-transformed.
    tuning = sm.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=metrics["tuning_job"]
    )
    assert tuning["HyperParameterTuningJobStatus"] == "Completed"
    config = tuning["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Bayesian"
    assert config["HyperParameterTuningJobObjective"] == {
        "Type": "Maximize",
        "MetricName": "validation:auc",
    }
    assert tuning["TrainingJobStatusCounters"]["Completed"] == 6
    children = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=metrics["tuning_job"], MaxResults=100
    )["TrainingJobSummaries"]
    objectives = {
        c["TrainingJobName"]: c["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        for c in children
    }
    assert objectives == pytest.approx(metrics["tuning_objectives"])
    assert metrics["best_training_job"] == max(objectives, key=objectives.get)
    assert tuning["BestTrainingJob"]["TrainingJobName"] == metrics["best_training_job"]
    assert metrics["best_validation_auc"] == pytest.approx(max(objectives.values()))
    for child in children:
        assert set(child["TunedHyperParameters"]) == {"eta", "max_depth", "min_child_weight"}
    best = sm.describe_training_job(TrainingJobName=metrics["best_training_job"])
    assert best["TuningJobArn"] == tuning["HyperParameterTuningJobArn"]
    assert best["HyperParameters"]["early_stopping_rounds"] == "15"  # static, from the estimator
    best_channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in best["InputDataConfig"]
    }
    assert best_channels == channels
    assert best["ModelArtifacts"]["S3ModelArtifacts"] == metrics["model_data"]
    assert metrics["model_data"] != job["ModelArtifacts"]["S3ModelArtifacts"]
    assert f"best training job {metrics['best_training_job']}: validation AUC" in done.stdout
    bucket, key = metrics["batch_output"].removeprefix("s3://").split("/", 1)
    batch = simsage_local.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    assert len(batch.decode().splitlines()) == 4500
    transform = sm.describe_transform_job(TransformJobName=metrics["transform_job"])
    assert transform["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == outputs["test"]
    assert (out / "data" / "test.csv.out").read_bytes() == batch
    assert_cleaned_up(simsage_local)


def test_flight_delay_pipeline_example(simsage_local, tmp_path):
    """The workflow as one pipeline, built with the official SDK v2: two executions that
    succeed, the second reusing the first's Preprocess, Tune and Evaluate jobs; the
    condition read the AUC from evaluation.json; each execution registered a version and
    batch-scored the test split with the evaluated model."""
    pytest.importorskip("sagemaker")
    out = tmp_path / "pipeline"
    done = run_example(EXAMPLES / "flight_delay_pipeline" / "flight_delay_pipeline.py", out)
    metrics = check_run(done, out, ["pipeline_dag", "step_timeline"])
    assert metrics["statuses"] == ["Succeeded", "Succeeded"]
    every_step = {
        "Preprocess",
        "Tune",
        "Evaluate",
        "CheckAuc",
        "Register-RegisterModel",
        "CreateModel-CreateModel",
        "Score",
    }
    for steps in metrics["steps"]:
        assert steps == dict.fromkeys(every_step, "Succeeded")  # AucTooLow did not run
    assert metrics["cache_hits"] == ["Preprocess", "Tune", "Evaluate"]
    assert metrics["evaluation"]["auc"] > 0.7
    assert metrics["batch_auc"] == pytest.approx(metrics["evaluation"]["auc"])

    sm = simsage_local.client("sagemaker")
    first, second = (
        {
            s["StepName"]: s
            for s in sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)[
                "PipelineExecutionSteps"
            ]
        }
        for arn in metrics["executions"]
    )
    for name in ("Preprocess", "Tune", "Evaluate"):
        assert "CacheHitResult" not in first[name]
        source = second[name]["CacheHitResult"]["SourcePipelineExecutionArn"]
        assert source == metrics["executions"][0]
        assert second[name]["Metadata"] == first[name]["Metadata"]
    assert first["CheckAuc"]["Metadata"]["Condition"]["Outcome"] == "True"
    assert metrics["transform_jobs"][0] != metrics["transform_jobs"][1]

    # Preprocess ran the hand-run example's script in the scikit-learn image; the tuning
    # job trained the built-in XGBoost on its outputs; Evaluate read the best job's model.
    prep = sm.describe_processing_job(ProcessingJobName=metrics["processing_job"])
    assert prep["AppSpecification"]["ImageUri"].endswith("sagemaker-scikit-learn:1.2-1-cpu-py3")
    code = {i["InputName"]: i["S3Input"]["S3Uri"] for i in prep["ProcessingInputs"]}["code"]
    assert code.endswith("/preprocessing.py")
    outputs = {
        o["OutputName"]: o["S3Output"]["S3Uri"] for o in prep["ProcessingOutputConfig"]["Outputs"]
    }
    tuning = sm.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=metrics["tuning_job"]
    )
    assert tuning["TrainingJobStatusCounters"]["Completed"] == 4
    definition = tuning["TrainingJobDefinition"]
    assert definition["AlgorithmSpecification"]["TrainingImage"].endswith(
        "/sagemaker-xgboost:1.7-1"
    )
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
        for c in definition["InputDataConfig"]
    }
    assert channels == {"train": outputs["train"], "validation": outputs["validation"]}
    best = sm.describe_training_job(TrainingJobName=tuning["BestTrainingJob"]["TrainingJobName"])[
        "ModelArtifacts"
    ]["S3ModelArtifacts"]
    evaluation = sm.describe_processing_job(ProcessingJobName=metrics["evaluation_job"])
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in evaluation["ProcessingInputs"]}
    assert best in inputs.values()
    events = simsage_local.client("logs").filter_log_events(
        logGroupName="/aws/sagemaker/ProcessingJobs",
        logStreamNamePrefix=f"{metrics['evaluation_job']}/",
    )["events"]
    evaluated = [e["message"] for e in events if e["message"].startswith("evaluated ")]
    assert evaluated == [
        f"evaluated 4,500 test flights: auc {metrics['evaluation']['auc']:.4f}, "
        f"accuracy {metrics['evaluation']['accuracy']:.4f}, "
        f"precision {metrics['evaluation']['precision']:.4f}, "
        f"recall {metrics['evaluation']['recall']:.4f}"
    ]  # code/evaluate.py's own line, in the job's log

    # Each execution registered an approved version with its evaluation attached; the
    # models it created were deleted at the end, and the batch output has one score a row.
    assert [p.rsplit("/", 1)[-1] for p in metrics["model_packages"]] == ["1", "2"]
    for arn in metrics["model_packages"]:
        package = sm.describe_model_package(ModelPackageName=arn)
        assert package["ModelApprovalStatus"] == "Approved"
        assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == best
        statistics = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
        assert statistics.endswith("/evaluation/evaluation.json")
    bucket, key = metrics["batch_output"].removeprefix("s3://").split("/", 1)
    batch = simsage_local.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    assert len(batch.decode().splitlines()) == 4500
    assert (out / "data" / "test.csv.out").read_bytes() == batch
    assert (out / "plots" / "pipeline_dag.png").stat().st_size > 10_000
    assert_cleaned_up(simsage_local)


def test_flight_delay_pipeline_stops_at_its_fail_step_when_no_model_is_good_enough(
    simsage_local, tmp_path
):
    """With a threshold no model reaches, the condition chooses its else branch: the
    execution ends Failed in AucTooLow, nothing is registered or scored, and the script
    says which step failed and why."""
    pytest.importorskip("sagemaker")
    out = tmp_path / "pipeline"
    script = EXAMPLES / "flight_delay_pipeline" / "flight_delay_pipeline.py"
    done = subprocess.run(
        [sys.executable, str(script), "--output-dir", str(out), "--auc-threshold", "1.01"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    assert "execution 1: Failed" in done.stdout
    assert (
        "execution 1 Failed: AucTooLow: The test AUC is below the threshold 1.01"
        in done.stderr.splitlines()
    )
    sm = simsage_local.client("sagemaker")
    [execution] = sm.list_pipeline_executions(PipelineName="FlightDelayPipeline")[
        "PipelineExecutionSummaries"
    ]
    steps = sm.list_pipeline_execution_steps(
        PipelineExecutionArn=execution["PipelineExecutionArn"]
    )["PipelineExecutionSteps"]
    assert {s["StepName"]: s["StepStatus"] for s in steps} == {
        "Preprocess": "Succeeded",
        "Tune": "Succeeded",
        "Evaluate": "Succeeded",
        "CheckAuc": "Succeeded",
        "AucTooLow": "Failed",
    }
    assert sm.list_model_package_groups()["ModelPackageGroupSummaryList"] == []
    assert_cleaned_up(simsage_local)


def test_fraud_detection_example(simsage_local, tmp_path):
    out = tmp_path / "fraud"
    done = run_example(EXAMPLES / "fraud_detection" / "fraud_detection.py", out)
    metrics = check_run(done, out, ["exploration", "precision_recall", "confusion_matrix"])
    assert metrics["test_recall"] > 0.5
    assert metrics["test_precision"] > 0.05  # five times the 1% base rate, at least
    assert metrics["test_average_precision"] > 0.2
    assert metrics["training_metrics"]["validation_auc"] > 0.9
    assert "validation_auc=" in done.stdout  # printed by code/train.py in the job

    sm = simsage_local.client("sagemaker")
    job = sm.describe_training_job(TrainingJobName=metrics["training_job"])
    assert job["AlgorithmSpecification"]["TrainingImage"].endswith(
        "sagemaker-scikit-learn:1.2-1-cpu-py3"
    )
    assert job["HyperParameters"]["sagemaker_program"] == '"train.py"'
    assert_cleaned_up(simsage_local)


def test_anomaly_detection_example(simsage_local, tmp_path):
    out = tmp_path / "anomaly"
    done = run_example(EXAMPLES / "anomaly_detection" / "anomaly_detection.py", out)
    metrics = check_run(
        done,
        out,
        [
            "exploration",
            "score_distribution",
            "clusters",
            "predicted_vs_actual",
            "precision_recall",
        ],
    )
    # Measured: recall 0.72, precision 0.62 at mean + 3 sigma; spikes 0.88, drifts 0.48.
    assert metrics["rcf_recall"] > 0.6
    assert metrics["rcf_precision"] > 0.4  # forty times the 1% base rate
    assert metrics["rcf_recall_by_kind"]["spike"] > 0.75
    assert metrics["rcf_training_metrics"]["test:f1"] > 0.5
    assert metrics["kmeans_purity"] > 0.95  # measured 1.000: the regimes are the clusters
    assert metrics["ll_test_r2"] > 0.95  # measured 0.994
    assert 0 < metrics["ll_validation_rmse"] < 1.0  # the meter noise is 0.6 kW

    sm = simsage_local.client("sagemaker")
    for image, name in metrics["training_jobs"].items():
        job = sm.describe_training_job(TrainingJobName=name)
        assert job["TrainingJobStatus"] == "Completed"
        assert job["AlgorithmSpecification"]["TrainingImage"].endswith(f"/{image}:1")
    for name in metrics["transform_jobs"]:
        assert sm.describe_transform_job(TransformJobName=name)["TransformJobStatus"] == "Completed"
    assert_cleaned_up(simsage_local)


@pytest.mark.parametrize("name", ["flight_delay", "flight_delay_pipeline"])
def test_on_aws_without_a_role_the_example_says_what_to_set(simsage_home, tmp_path, name):
    """With SIMSAGE_BACKEND=aws and no SIMSAGE_ROLE_ARN the script stops before its first
    AWS call, saying which variable to set; SIMSAGE_EXAMPLE_OUTPUT (the notebook's way to
    choose the folder) named the output folder."""
    if name == "flight_delay_pipeline":
        pytest.importorskip("sagemaker")
    out = tmp_path / "from-env"
    env = {
        **os.environ,
        "SIMSAGE_EXAMPLE_OUTPUT": str(out),
        "SIMSAGE_BACKEND": "aws",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    env.pop("SIMSAGE_ROLE_ARN", None)
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name / f"{name}.py")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "SIMSAGE_ROLE_ARN is not set" in done.stderr
    assert (out / "data").is_dir() and (out / "plots").is_dir()
