# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: -all
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The flight-delay workflow as one SageMaker Pipeline
#
# [`../flight_delay/`](../flight_delay/flight_delay.ipynb) runs each step of the workflow
# by hand: a processing job, a tuning job, a batch transform, an evaluation in the
# notebook. In production the same steps are one **SageMaker Pipeline**: a definition
# (a DAG of steps) that SageMaker runs as a whole, again and again, recording every run.
# This notebook builds it with the official SageMaker Python SDK's `sagemaker.workflow`:
#
# 1. **Preprocess**: a processing job runs `../flight_delay/code/preprocessing.py` (the
#    same script as the hand-run example) on the raw flights;
# 2. **Tune**: a hyperparameter tuning job trains the built-in XGBoost a few times and
#    keeps the best model by validation AUC;
# 3. **Evaluate**: a processing job scores the test split with that model and writes
#    `evaluation.json` ([`code/evaluate.py`](code/evaluate.py));
# 4. **CheckAuc**: a condition step reads the AUC from `evaluation.json` and compares it
#    with a pipeline parameter; if it is high enough
# 5. **Register** the model as a new version in the model registry, **CreateModel** and
#    **Score** the test split in a batch transform job; else **AucTooLow** fails the run.
#
# It then runs the pipeline **twice**: the second execution reuses the preprocessing,
# tuning and evaluation of the first (step caching), so it finishes in seconds. It
# prints each step's outcome, draws the DAG, and checks the batch scores against the
# evaluation.
#
# It runs on **simsage** by default (`simsage.activate()` answers the SDK's calls on your
# machine, with real jobs); with `SIMSAGE_BACKEND=aws` and `SIMSAGE_ROLE_ARN` the *same*
# pipeline runs on Amazon SageMaker. It needs the official SDK v2:
# `pip install 'simsage[official-sdk]'`.
#
# As a script: `python examples/flight_delay_pipeline/flight_delay_pipeline.py
# [--output-dir DIR]` (or set `SIMSAGE_EXAMPLE_OUTPUT`); plots and local files go to `DIR`,
# by default `examples/flight_delay_pipeline/output/`.

# %%
import argparse
import contextlib
import json
import logging
import os
import sys
import time
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from botocore.exceptions import WaiterError
from sklearn.metrics import roc_auc_score

import simsage
from simsage.pipelines.definition import parse_definition

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")  # we know: v2 is what we use
from sagemaker import image_uris  # noqa: E402
from sagemaker.estimator import Estimator  # noqa: E402
from sagemaker.inputs import TrainingInput  # noqa: E402
from sagemaker.model import Model  # noqa: E402
from sagemaker.model_metrics import MetricsSource, ModelMetrics  # noqa: E402
from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor  # noqa: E402
from sagemaker.sklearn.processing import SKLearnProcessor  # noqa: E402
from sagemaker.transformer import Transformer  # noqa: E402
from sagemaker.tuner import ContinuousParameter, HyperparameterTuner, IntegerParameter  # noqa: E402
from sagemaker.workflow.condition_step import ConditionStep  # noqa: E402
from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo  # noqa: E402
from sagemaker.workflow.fail_step import FailStep  # noqa: E402
from sagemaker.workflow.functions import Join, JsonGet  # noqa: E402
from sagemaker.workflow.model_step import ModelStep  # noqa: E402
from sagemaker.workflow.parameters import ParameterFloat, ParameterString  # noqa: E402
from sagemaker.workflow.pipeline import Pipeline  # noqa: E402
from sagemaker.workflow.pipeline_context import PipelineSession  # noqa: E402
from sagemaker.workflow.properties import PropertyFile  # noqa: E402
from sagemaker.workflow.steps import CacheConfig, ProcessingStep, TransformStep, TuningStep  # noqa: E402

IN_NOTEBOOK = "ipykernel" in sys.modules
if not IN_NOTEBOOK:
    matplotlib.use("Agg")  # no display needed: every figure is written as a PNG
# The SDK reports usage over plain HTTP (outside boto3): offline, each report fails and
# logs a traceback. And each step's request logs that its job name is left for SageMaker
# to choose. Neither changes what runs: keep them quiet.
logging.getLogger("sagemaker.telemetry.telemetry_logging").setLevel(logging.CRITICAL)
logging.getLogger("sagemaker.workflow.utilities").setLevel(logging.ERROR)

# %% [markdown]
# ## Settings
#
# The output folder comes from `--output-dir`, else `SIMSAGE_EXAMPLE_OUTPUT`, else
# `output/` next to this file. The data generator and the preprocessing script are the
# hand-run example's, read from `../flight_delay/` (one copy of each).

# %%
parser = argparse.ArgumentParser(description="The flight-delay workflow as one pipeline.")
parser.add_argument("--output-dir", type=Path, help="where plots and local files go")
parser.add_argument("--rows", type=int, default=30_000, help="how many flights to generate")
parser.add_argument(
    "--auc-threshold", type=float, default=0.7, help="the test AUC a model must reach"
)
args, _ = parser.parse_known_args()

HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
FLIGHT_DELAY = HERE.parent / "flight_delay"  # the hand-run example: data and preprocessing
sys.path.insert(0, str(FLIGHT_DELAY))
from flight_data import generate_flights  # noqa: E402

OUTPUT = Path(args.output_dir or os.environ.get("SIMSAGE_EXAMPLE_OUTPUT") or HERE / "output")
DATA, PLOTS = OUTPUT / "data", OUTPUT / "plots"
DATA.mkdir(parents=True, exist_ok=True)
PLOTS.mkdir(parents=True, exist_ok=True)

PIPELINE_NAME = "FlightDelayPipeline"
PREFIX = "flight-delay-pipeline/v1"  # one prefix per data version, as in ../flight_delay
MODEL_GROUP = "flight-delay"  # the model registry's group: one version per good run
INSTANCE = "ml.m5.large"
SEED = 7


def save_plot(fig, name: str) -> None:
    """Write ``fig`` as ``plots/<name>.png``; show it inline in a notebook."""
    path = PLOTS / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    if IN_NOTEBOOK:
        plt.show()
    else:
        plt.close(fig)
    print(f"saved {path}")


# %% [markdown]
# ## The SageMaker session and role
#
# `simsage.activate()` makes every boto3 client created afterwards — the SDK's included —
# talk to simsage; with `SIMSAGE_BACKEND=aws` it does nothing, and the SDK talks to AWS.
#
# A **`PipelineSession`** is the SDK's session for building pipelines: with it,
# `processor.run(...)`, `tuner.fit(...)`, `model.register(...)` and the like start
# nothing; they return the request a step will send (`step_args`). The code they name is
# uploaded to S3 when the pipeline is defined.
#
# The pipeline's jobs run with an IAM *execution role*. On simsage any well-formed role
# ARN will do; on AWS, set `SIMSAGE_ROLE_ARN`.

# %%
config = simsage.load_config()
role = os.environ.get("SIMSAGE_ROLE_ARN")
if not role and not config.is_local:
    raise SystemExit(
        "SIMSAGE_ROLE_ARN is not set. On AWS, a pipeline's jobs run with an IAM role "
        "SageMaker can assume: set SIMSAGE_ROLE_ARN=arn:aws:iam::<account>:role/<your "
        "SageMaker execution role> and run again."
    )
simsage.activate()
session = PipelineSession()
region = session.boto_region_name
role = role or f"arn:aws:iam::{session.account_id()}:role/SageMakerRole"
bucket = session.default_bucket()
print(f"backend: {config.backend}, region: {region}, bucket: s3://{bucket}, role: {role}")
if config.is_local:
    print(f"simsage store (SIMSAGE_HOME): {config.home}")

# %% [markdown]
# ## 1. The data
#
# The same 30,000 synthetic flights as in `../flight_delay`, uploaded to S3 as the
# pipeline's input.

# %%
flights = generate_flights(rows=args.rows, seed=SEED)
(DATA / "raw").mkdir(exist_ok=True)
flights.to_csv(DATA / "raw" / "flights.csv", index=False)
raw_uri = session.upload_data(str(DATA / "raw" / "flights.csv"), bucket, f"{PREFIX}/raw")
print(f"{len(flights):,} flights, {flights['delayed'].mean():.1%} delayed: {raw_uri}")

# %% [markdown]
# ## 2. Parameters
#
# A pipeline's **parameters** are the values an execution can change without editing
# the definition: here the input data and the AUC a model must reach to be registered.
# `pipeline.start(parameters={"AucThreshold": 0.8})` overrides a default. (As a script,
# `--auc-threshold 0.99` sets the default: no model reaches it, so the executions end in
# the AucTooLow step, and the script stops there saying so.)
#
# **`CacheConfig`** lets a step reuse the job of an earlier successful execution of the
# same pipeline, when the step's arguments (its inputs, code, image, hyperparameters …)
# are the same, for up to `expire_after` (an ISO 8601 duration: 30 days here).

# %%
input_data = ParameterString("InputData", default_value=raw_uri)
auc_threshold = ParameterFloat("AucThreshold", default_value=args.auc_threshold)
cache = CacheConfig(enable_caching=True, expire_after="P30D")

# %% [markdown]
# ## 3. Preprocess: a processing step
#
# The scikit-learn image runs the hand-run example's
# [`preprocessing.py`](../flight_delay/code/preprocessing.py): one-hot columns, the label
# first, train / validation / test (features only) and the test labels, each written to
# its own S3 prefix. `step_args` is what `processor.run(...)` would have sent.

# %%
processor = SKLearnProcessor(
    framework_version="1.2-1",
    role=role,
    instance_type=INSTANCE,
    instance_count=1,
    base_job_name="flight-delay-prep",
    sagemaker_session=session,
)
preprocess = ProcessingStep(
    "Preprocess",
    step_args=processor.run(
        code=str(FLIGHT_DELAY / "code" / "preprocessing.py"),
        inputs=[ProcessingInput(source=input_data, destination="/opt/ml/processing/input")],
        outputs=[
            ProcessingOutput(
                output_name=name,
                source=f"/opt/ml/processing/{name}",
                destination=f"s3://{bucket}/{PREFIX}/{name}",
            )
            for name in ("train", "validation", "test", "labels")
        ],
        arguments=["--validation-fraction", "0.15", "--test-fraction", "0.15", "--seed", str(SEED)],
    ),
    cache_config=cache,
)

# %% [markdown]
# A later step reads an earlier step's results through its **properties**: the fields
# of the job's Describe answer (here `DescribeProcessingJob`'s outputs). Using one makes
# the reading step depend on the step that writes it: that is how the DAG is drawn.

# %%
splits = {
    name: preprocess.properties.ProcessingOutputConfig.Outputs[name].S3Output.S3Uri
    for name in ("train", "validation", "test", "labels")
}
print(splits["train"].expr)

# %% [markdown]
# ## 4. Tune: a tuning step
#
# The built-in XGBoost, tuned over `eta`, `max_depth` and `min_child_weight` by
# validation AUC: 4 training jobs, 2 at a time (a tiny budget, to stay quick).
# `get_top_model_s3_uri(top_k=0, ...)` is where the best job wrote its model: the
# estimator's `output_path`, the job's name, `output/model.tar.gz`.

# %%
image = image_uris.retrieve("xgboost", region, "1.7-1")
estimator = Estimator(
    image_uri=image,
    role=role,
    instance_type=INSTANCE,
    instance_count=1,
    output_path=f"s3://{bucket}/{PREFIX}/models",
    sagemaker_session=session,
    hyperparameters={
        "objective": "binary:logistic",
        "eval_metric": "auc",
        "num_round": 200,
        "early_stopping_rounds": 10,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
    },
)
tuner = HyperparameterTuner(
    estimator,
    objective_metric_name="validation:auc",
    hyperparameter_ranges={
        "eta": ContinuousParameter(0.05, 0.5),
        "max_depth": IntegerParameter(3, 7),
        "min_child_weight": ContinuousParameter(1, 20),
    },
    objective_type="Maximize",
    strategy="Bayesian",
    max_jobs=4,
    max_parallel_jobs=2,
    random_seed=SEED,
)
tune = TuningStep(
    "Tune",
    step_args=tuner.fit(
        {
            "train": TrainingInput(splits["train"], content_type="text/csv"),
            "validation": TrainingInput(splits["validation"], content_type="text/csv"),
        }
    ),
    cache_config=cache,
)
best_model = tune.get_top_model_s3_uri(top_k=0, s3_bucket=bucket, prefix=f"{PREFIX}/models")

# %% [markdown]
# ## 5. Evaluate: a processing step that writes `evaluation.json`
#
# [`code/evaluate.py`](code/evaluate.py) runs in the XGBoost image (which has xgboost,
# pandas and scikit-learn): it scores the test split with the best model and writes the
# AUC, accuracy, precision and recall in the registry's model-quality format. Declaring
# the file as a **`PropertyFile`** lets later steps read values from it.

# %%
evaluator = ScriptProcessor(
    command=["python3"],
    image_uri=image,
    role=role,
    instance_type=INSTANCE,
    instance_count=1,
    base_job_name="flight-delay-eval",
    sagemaker_session=session,
)
evaluation = PropertyFile(name="Evaluation", output_name="evaluation", path="evaluation.json")
evaluate = ProcessingStep(
    "Evaluate",
    step_args=evaluator.run(
        code=str(HERE / "code" / "evaluate.py"),
        inputs=[
            ProcessingInput(source=best_model, destination="/opt/ml/processing/model"),
            ProcessingInput(source=splits["test"], destination="/opt/ml/processing/test"),
            ProcessingInput(source=splits["labels"], destination="/opt/ml/processing/labels"),
        ],
        outputs=[
            ProcessingOutput(
                output_name="evaluation",
                source="/opt/ml/processing/evaluation",
                destination=f"s3://{bucket}/{PREFIX}/evaluation",
            )
        ],
    ),
    property_files=[evaluation],
    cache_config=cache,
)
evaluation_uri = Join(
    on="/",
    values=[
        evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri,
        "evaluation.json",
    ],
)

# %% [markdown]
# ## 6. Register, create the model, batch-score — or fail
#
# If the model is good enough:
#
# - **Register** it: `model.register(...)` adds a version to the model package group
#   `flight-delay` in the **model registry**, with its image, artifact, the content
#   types it serves and its evaluation (`ModelMetrics`). Here it is approved at once; a
#   team would often register it `PendingManualApproval` and approve after review.
# - **CreateModel** and **Score**: a SageMaker model from the same artifact, and a batch
#   transform job that scores the test split with it (`…/batch-output/test.csv.out`).
#
# A `ModelStep` turns each `model.register(...)` / `model.create(...)` request into its
# step (named `Register-RegisterModel` and `CreateModel-CreateModel` in the definition).

# %%
model = Model(
    image_uri=image,
    model_data=best_model,
    role=role,
    sagemaker_session=session,
)
register = ModelStep(
    "Register",
    step_args=model.register(
        content_types=["text/csv"],
        response_types=["text/csv"],
        inference_instances=[INSTANCE],
        transform_instances=[INSTANCE],
        model_package_group_name=MODEL_GROUP,
        approval_status="Approved",
        model_metrics=ModelMetrics(
            model_statistics=MetricsSource(s3_uri=evaluation_uri, content_type="application/json")
        ),
    ),
)
create_model = ModelStep("CreateModel", step_args=model.create(instance_type=INSTANCE))
transformer = Transformer(
    model_name=create_model.properties.ModelName,
    instance_type=INSTANCE,
    instance_count=1,
    strategy="MultiRecord",
    assemble_with="Line",
    accept="text/csv",
    output_path=f"s3://{bucket}/{PREFIX}/batch-output",
    sagemaker_session=session,
)
score = TransformStep(
    "Score",
    step_args=transformer.transform(splits["test"], content_type="text/csv", split_type="Line"),
)

# %% [markdown]
# The **condition step** reads the AUC with `JsonGet` (a path into `evaluation.json`) and
# runs its `if_steps` when the condition holds, its `else_steps` otherwise. A
# **`FailStep`** ends the execution as `Failed` with a message.

# %%
auc_too_low = FailStep(
    "AucTooLow",
    error_message=Join(on=" ", values=["The test AUC is below the threshold", auc_threshold]),
)
check_auc = ConditionStep(
    "CheckAuc",
    conditions=[
        ConditionGreaterThanOrEqualTo(
            left=JsonGet(
                step_name=evaluate.name,
                property_file=evaluation,
                json_path="binary_classification_metrics.auc.value",
            ),
            right=auc_threshold,
        )
    ],
    if_steps=[register, create_model, score],
    else_steps=[auc_too_low],
)

# %% [markdown]
# ## 7. The pipeline
#
# The pipeline lists the parameters and the top-level steps; the SDK finds the rest
# (the condition's branches) and writes the definition: the JSON SageMaker runs.
# `upsert` creates the pipeline, or updates it if it exists.

# %%
pipeline = Pipeline(
    PIPELINE_NAME,
    parameters=[input_data, auc_threshold],
    steps=[preprocess, tune, evaluate, check_auc],
    sagemaker_session=session,
)
definition_json = pipeline.definition()
definition = json.loads(definition_json)
(OUTPUT / "definition.json").write_text(json.dumps(definition, indent=2) + "\n")
for step in definition["Steps"]:
    print(f"{step['Name']:<12} {step['Type']}")
pipeline_arn = pipeline.upsert(role_arn=role)["PipelineArn"]
print(f"pipeline {pipeline_arn}")

# %% [markdown]
# ## 8. Run it twice
#
# `pipeline.start()` starts an execution and returns at once; `execution.wait()` polls
# until it ends. The second execution finds the first one's Preprocess, Tune and
# Evaluate in the cache and reuses their jobs; Register, CreateModel and Score have no
# cache (Register adds a new version each time; Score scores with the new model).
# (Run this notebook again on the same store and even the first execution finds its
# steps in the cache: the earlier run's executions are executions of the same pipeline.)

# %%
POLL = 1 if config.is_local else 30  # seconds between the SDK's DescribePipelineExecution


def run_pipeline() -> tuple[object, float]:
    """Start an execution, wait for it; returns (execution, wall time in seconds)."""
    started = time.monotonic()
    execution = pipeline.start()
    # A failed (or stopped) execution ends the wait with a WaiterError: report_on says so.
    with contextlib.suppress(WaiterError):
        execution.wait(delay=POLL, max_attempts=7200 // POLL)
    return execution, time.monotonic() - started


def report_on(execution, steps: pd.DataFrame, seconds: float, number: int) -> None:
    """Print how ``execution`` ended and its steps; stop here unless it succeeded."""
    status = execution.describe()["PipelineExecutionStatus"]
    print(f"execution {number}: {status} in {seconds:.1f} s")
    print(steps.round(1).to_string(index=False))
    if status != "Succeeded":
        failed = steps[steps["status"] == "Failed"]
        reasons = "; ".join(f"{row.step}: {row.detail}" for row in failed.itertuples())
        raise SystemExit(f"execution {number} {status}: {reasons or 'see its steps above'}")


DESCRIBE = {  # a step's Metadata kind -> the Describe call and the name it answers
    "ProcessingJob": ("describe_processing_job", "ProcessingJobName"),
    "TrainingJob": ("describe_training_job", "TrainingJobName"),
    "TuningJob": ("describe_hyper_parameter_tuning_job", "HyperParameterTuningJobName"),
    "TransformJob": ("describe_transform_job", "TransformJobName"),
    "Model": ("describe_model", "ModelName"),
}


def resource_name(kind: str, arn: str) -> str:
    """The name of the job or model behind ``arn``. An ARN's name is lower case; the name
    itself keeps its case (``…-Evaluate-…``), and its logs are filed under it."""
    operation, field = DESCRIBE[kind]
    answer = getattr(session.sagemaker_client, operation)(**{field: arn.rsplit("/", 1)[-1]})
    return answer[field]


def step_outcomes(execution) -> pd.DataFrame:
    """One row per step of ``execution``, in the order they started."""
    rows = []
    for step in reversed(execution.list_steps()):  # the newest first, as AWS lists them
        metadata = step.get("Metadata", {})
        if "Condition" in metadata:
            detail = f"outcome {metadata['Condition']['Outcome']}"
        elif "Fail" in metadata:
            detail = metadata["Fail"].get("ErrorMessage", "")
        elif step["StepStatus"] == "Failed":
            detail = step.get("FailureReason", "")
        elif "RegisterModel" in metadata:
            detail = metadata["RegisterModel"]["Arn"].split(":", 5)[-1]
        elif metadata:
            kind, value = next(iter(metadata.items()))
            detail = f"{kind} {resource_name(kind, value['Arn'])}"
        else:
            detail = step.get("FailureReason", "")
        cached = step.get("CacheHitResult", {}).get("SourcePipelineExecutionArn", "")
        rows.append(
            {
                "step": step["StepName"],
                "status": step["StepStatus"],
                "cached from": cached.rsplit("/", 1)[-1],
                "seconds": (step["EndTime"] - step["StartTime"]).total_seconds()
                if "EndTime" in step
                else float("nan"),
                "detail": detail,
            }
        )
    return pd.DataFrame(rows)


def job_of(steps: pd.DataFrame, name: str) -> str:
    """The job name in a step's detail column (``<Kind>Job <name>``)."""
    return steps.loc[steps["step"] == name, "detail"].item().split(" ", 1)[1]


first, first_seconds = run_pipeline()
first_steps = step_outcomes(first)
report_on(first, first_steps, first_seconds, 1)

# %%
second, second_seconds = run_pipeline()
second_steps = step_outcomes(second)
report_on(second, second_steps, second_seconds, 2)
cache_hits = second_steps.loc[second_steps["cached from"] != "", "step"].tolist()
print(f"cache hits: {', '.join(cache_hits)}")

# %% [markdown]
# ## 9. The DAG
#
# The steps and their dependencies, read from the definition with simsage's parser
# (`parse_definition(...).graph()`: plain JSON reading, so it works for a pipeline on AWS
# too). An arrow means "starts only after": the step reads the other's properties, or
# sits in the condition's branch (arrows that a longer path implies are left out: Score
# also reads Preprocess's test split). The colours are the second execution's outcomes.

# %%
parsed = parse_definition(definition_json)
dag = parsed.graph()
outcome = {
    row["step"]: "Cached" if row["cached from"] else row["status"]
    for row in second_steps.to_dict("records")
}
COLOURS = {"Succeeded": "#8fd19e", "Cached": "#9ecae1", "Failed": "#f4a3a3", "not run": "#e0e0e0"}
position = {
    name: (depth, (len(layer) - 1) / 2 - index)
    for depth, layer in enumerate(dag.layers)
    for index, name in enumerate(layer)
}
fig, ax = plt.subplots(figsize=(2.4 * len(dag.layers), 4.5))
boxes = {}
for name, (x, y) in position.items():
    status = outcome.get(name, "not run")
    gate = dag.nodes[name].gate
    branch = f"\n(if {gate.outcome})" if gate else ""
    boxes[name] = ax.text(
        x,
        y,
        f"{name}\n{parsed.steps[name].type} step{branch}\n{status}",
        ha="center",
        va="center",
        fontsize=8,
        bbox={"boxstyle": "round,pad=0.5", "facecolor": COLOURS.get(status, "white")},
    )
ancestors: dict[str, set[str]] = {}  # dag.nodes is in topological order
for name, node in dag.nodes.items():
    ancestors[name] = set(node.prerequisites).union(*(ancestors[p] for p in node.prerequisites))
for name, node in dag.nodes.items():
    for prerequisite in node.prerequisites:
        if any(prerequisite in ancestors[other] for other in node.prerequisites):
            continue  # implied by a longer path: Score reads Preprocess's test split too
        ax.annotate(
            "",
            xy=(0, 0.5),
            xycoords=boxes[name],
            xytext=(1, 0.5),
            textcoords=boxes[prerequisite],
            arrowprops={"arrowstyle": "->", "color": "dimgray"},
        )
ax.set_xlim(-0.6, len(dag.layers) - 0.4)
ax.set_ylim(-1.5, 1.5)
ax.axis("off")
ax.set_title(f"{PIPELINE_NAME}, execution 2 (blue: reused from the cache)")
save_plot(fig, "pipeline_dag")

# %% [markdown]
# Where the time went: each step's run in both executions. The first execution spends
# it in the tuning job; the second reuses it.

# %%
fig, axes = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True)
for ax, execution, seconds, title in (
    (axes[0], first, first_seconds, "execution 1"),
    (axes[1], second, second_seconds, "execution 2"),
):
    steps = execution.list_steps()
    start = min(step["StartTime"] for step in steps)
    for row, step in enumerate(sorted(steps, key=lambda s: s["StartTime"])):
        begin = (step["StartTime"] - start).total_seconds()
        length = (step.get("EndTime", step["StartTime"]) - step["StartTime"]).total_seconds()
        status = "Cached" if "CacheHitResult" in step else step["StepStatus"]
        ax.barh(row, max(length, 0.1), left=begin, color=COLOURS.get(status, "white"))
        ax.text(begin + max(length, 0.1) + 0.1, row, step["StepName"], va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_yticks([])
    ax.set_title(f"{title}: {seconds:.1f} s")
axes[1].set_xlabel("seconds since the first step started")
save_plot(fig, "step_timeline")

# %% [markdown]
# ## 10. The results
#
# The evaluation the condition step read, and the batch scores of the second
# execution's model: scored again here against the test labels, they give the same AUC.

# %%
s3 = session.boto_session.client("s3")
report = json.loads(
    s3.get_object(Bucket=bucket, Key=f"{PREFIX}/evaluation/evaluation.json")["Body"].read()
)
(DATA / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n")
evaluation_metrics = {
    name: entry["value"] for name, entry in report["binary_classification_metrics"].items()
}
print("evaluation.json:", {name: round(value, 4) for name, value in evaluation_metrics.items()})

batch_key = f"{PREFIX}/batch-output/test.csv.out"
s3.download_file(bucket, batch_key, str(DATA / "test.csv.out"))
s3.download_file(bucket, f"{PREFIX}/labels/test_labels.csv", str(DATA / "test_labels.csv"))
test_scores = np.loadtxt(DATA / "test.csv.out", delimiter=",", ndmin=1)
test_labels = pd.read_csv(DATA / "test_labels.csv")["delayed"]
batch_auc = roc_auc_score(test_labels, test_scores)
print(f"s3://{bucket}/{batch_key}: {len(test_scores):,} scores, AUC {batch_auc:.4f}")
assert abs(batch_auc - evaluation_metrics["auc"]) < 1e-6, "the batch model is not the evaluated one"

# %% [markdown]
# The model registry now holds one approved version per successful execution, each
# with its evaluation attached.

# %%
sm = session.sagemaker_client
packages = sm.list_model_packages(ModelPackageGroupName=MODEL_GROUP, SortOrder="Ascending")[
    "ModelPackageSummaryList"
]
for package in packages:
    described = sm.describe_model_package(ModelPackageName=package["ModelPackageArn"])
    statistics = described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    print(
        f"{MODEL_GROUP} v{package['ModelPackageVersion']}: {package['ModelApprovalStatus']}, "
        f"metrics {statistics}"
    )

# %% [markdown]
# ## 11. Clean up
#
# The executions created one SageMaker model each (CreateModel). Delete them; the
# pipeline, its executions, the registered versions and the data stay (none of them
# costs anything while nothing runs).

# %%
models = [
    resource_name("Model", step["Metadata"]["Model"]["Arn"])
    for execution in (first, second)
    for step in execution.list_steps()
    if "Model" in step.get("Metadata", {})
]
for name in models:
    sm.delete_model(ModelName=name)
print(f"deleted models {', '.join(models)}")

# %% [markdown]
# ## Where everything is

# %%
metrics = {
    "pipeline": pipeline_arn,
    "executions": [first.arn, second.arn],
    "wall_seconds": [first_seconds, second_seconds],
    "statuses": [
        first.describe()["PipelineExecutionStatus"],
        second.describe()["PipelineExecutionStatus"],
    ],
    "steps": [
        dict(zip(frame["step"], frame["status"], strict=True))
        for frame in (first_steps, second_steps)
    ],
    "cache_hits": cache_hits,
    "evaluation": evaluation_metrics,
    "batch_auc": batch_auc,
    "processing_job": job_of(first_steps, "Preprocess"),
    "tuning_job": job_of(first_steps, "Tune"),
    "evaluation_job": job_of(first_steps, "Evaluate"),
    "transform_jobs": [job_of(frame, "Score") for frame in (first_steps, second_steps)],
    "model_packages": [package["ModelPackageArn"] for package in packages],
    "batch_output": f"s3://{bucket}/{batch_key}",
}
(OUTPUT / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
print(f"plots:     {PLOTS}/")
for plot in sorted(PLOTS.glob("*.png")):
    print(f"           {plot.name}")
print(f"data:      {DATA}/ (raw/, evaluation.json, test.csv.out, test_labels.csv)")
print(f"pipeline:  {OUTPUT / 'definition.json'} (its definition)")
print(f"metrics:   {OUTPUT / 'metrics.json'}")
print(f"S3 data:   s3://{bucket}/{PREFIX}/")
print(f"batch out: s3://{bucket}/{batch_key}")
print(f"registry:  {', '.join(metrics['model_packages'])}")
if config.is_local:
    print(f"store:     {config.home} (SIMSAGE_HOME)")
    print(f"try:       simsage pipelines executions {PIPELINE_NAME}")
    print(f"           simsage pipelines steps {second.arn}")
    print(f"           simsage processing logs {metrics['evaluation_job']}")
