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
# # Will this flight be delayed? — built-in XGBoost on SageMaker, end to end
#
# This notebook walks the classic SageMaker workflow on a binary classification
# problem: *is a flight going to arrive 15 minutes late or more?*
#
# 1. **generate** a realistic synthetic data set (30,000 flights, about 20% delayed);
# 2. **explore** it: summary statistics, cross tables, histograms, correlations;
# 3. **upload** the raw data to S3 under a prefix per data version (`flight-delay/v1/…`);
# 4. **preprocess** it in a SageMaker **Processing job** (the scikit-learn container):
#    one-hot encoding, label in the first column, train / validation / test back in S3;
# 5. **train** SageMaker's built-in XGBoost algorithm on those outputs, with early
#    stopping on validation AUC;
# 6. **tune** it: a hyperparameter tuning job trains it several times over ranges of
#    `eta`, `max_depth` and `min_child_weight` and keeps the best by validation AUC;
# 7. **deploy** the best model to a real-time endpoint and send it a few flights;
# 8. **batch transform** the whole test set;
# 9. **evaluate**: confusion matrix, ROC curve and AUC, and a decision threshold
#    chosen for a business cost rather than the default 0.5;
# 10. **clean up** the endpoint, its configuration and the model.
#
# It runs on **simsage** by default: every SageMaker and S3 call is answered on your
# machine, offline, by a real processing job, a real training process, a real inference
# server and a real batch job. Set `SIMSAGE_BACKEND=aws` (and `SIMSAGE_ROLE_ARN`) and the
# *same* code runs on Amazon SageMaker.
#
# As a script: `python examples/flight_delay/flight_delay.py [--output-dir DIR]`
# (or set `SIMSAGE_EXAMPLE_OUTPUT`); plots and local files go to `DIR`, by default
# `examples/flight_delay/output/`.

# %%
import argparse
import json
import os
import sys
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from flight_data import generate_flights
from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix, roc_auc_score, roc_curve

import simsage
from simsage import sdk
from simsage.sdk.deserializers import NumpyDeserializer
from simsage.sdk.serializers import CSVSerializer

IN_NOTEBOOK = "ipykernel" in sys.modules
if not IN_NOTEBOOK:
    matplotlib.use("Agg")  # no display needed: every figure is written as a PNG

# %% [markdown]
# ## Settings
#
# The output folder comes from `--output-dir`, else `SIMSAGE_EXAMPLE_OUTPUT`, else
# `output/` next to this file. (`parse_known_args` ignores the arguments a notebook
# kernel is started with.)

# %%
parser = argparse.ArgumentParser(description="The flight-delay example (built-in XGBoost).")
parser.add_argument("--output-dir", type=Path, help="where plots and local files go")
parser.add_argument("--rows", type=int, default=30_000, help="how many flights to generate")
args, _ = parser.parse_known_args()

HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
OUTPUT = Path(args.output_dir or os.environ.get("SIMSAGE_EXAMPLE_OUTPUT") or HERE / "output")
DATA, PLOTS = OUTPUT / "data", OUTPUT / "plots"
DATA.mkdir(parents=True, exist_ok=True)
PLOTS.mkdir(parents=True, exist_ok=True)

DATA_VERSION = "v1"  # a new data set gets a new prefix: old models stay reproducible
PREFIX = f"flight-delay/{DATA_VERSION}"
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
# `sdk.Session()` holds the boto3 clients. With the default backend (`local`) simsage
# answers them; with `SIMSAGE_BACKEND=aws` they are plain AWS clients. The default
# bucket is `sagemaker-<region>-<account>`, created when first needed — as in the
# official SDK.
#
# SageMaker needs an IAM *execution role* for its jobs to read the data and write their
# results. On simsage any well-formed role ARN will do; on AWS, set `SIMSAGE_ROLE_ARN`.

# %%
config = simsage.load_config()
session = sdk.Session()
region = session.boto_region_name
role = os.environ.get("SIMSAGE_ROLE_ARN")
if not role:
    if not session.local:
        raise SystemExit(
            "SIMSAGE_ROLE_ARN is not set. On AWS, processing and training jobs and endpoints "
            "run with an IAM role SageMaker can assume: set SIMSAGE_ROLE_ARN=arn:aws:iam::"
            "<account>:role/<your SageMaker execution role> and run again."
        )
    role = f"arn:aws:iam::{session.account_id()}:role/SageMakerRole"
bucket = session.default_bucket()
print(f"backend: {config.backend}, region: {region}, bucket: s3://{bucket}, role: {role}")
if config.is_local:
    print(f"simsage store (SIMSAGE_HOME): {config.home}")

# %% [markdown]
# ## 1. Generate the data
#
# `flight_data.generate_flights` draws flights from a hidden model: delays grow with bad
# weather, the departure hour (delays pile up through the day), winter and summer, busy
# hub airports, some carriers — plus noise for everything the data does not show. The
# seed makes every run identical.

# %%
flights = generate_flights(rows=args.rows, seed=SEED)
(DATA / "raw").mkdir(exist_ok=True)
flights.to_csv(DATA / "raw" / "flights.csv", index=False)
print(f"{len(flights):,} flights, {flights['delayed'].mean():.1%} delayed")
flights.head()

# %% [markdown]
# ## 2. Explore
#
# Look before you model: the ranges of the numbers, the categories and how often
# each occurs, and how the delay rate changes with each feature.

# %%
CATEGORICAL = ["carrier", "origin", "dest", "weather"]
NUMERIC = [
    "month",
    "weekday",
    "dep_hour",
    "distance",
    "wind_kt",
    "visibility_mi",
    "origin_departures_hour",
]
print(flights.describe().T.round(2).to_string())
print()
print(flights[CATEGORICAL].describe().T.to_string())

# %% [markdown]
# Cross tables: the share of delayed flights by weather and by carrier. Storms and
# snow more than double the delay rate; carriers differ, but less.

# %%
print(pd.crosstab(flights["weather"], flights["delayed"], normalize="index").round(3))
print()
print(pd.crosstab(flights["carrier"], flights["delayed"], margins=True))

# %% [markdown]
# Histograms of the numeric features, for delayed and on-time flights.

# %%
fig, axes = plt.subplots(2, 4, figsize=(16, 7))
for ax, column in zip(axes.flat, NUMERIC, strict=False):
    low, high = flights[column].min(), flights[column].max()
    discrete = flights[column].nunique() <= 24  # one bar per value (month, hour …)
    bins = np.arange(low - 0.5, high + 1.5) if discrete else 24
    for label, name in ((0, "on time"), (1, "delayed")):
        values = flights.loc[flights["delayed"] == label, column]
        ax.hist(values, bins=bins, alpha=0.6, density=True, label=name)
    ax.set_title(column)
axes.flat[0].legend()
axes.flat[-1].axis("off")
fig.suptitle("Numeric features, on-time vs delayed (densities)")
save_plot(fig, "histograms")

# %% [markdown]
# The delay rate by departure hour, weather, carrier and month.

# %%
fig, axes = plt.subplots(1, 4, figsize=(18, 4), sharey=True)
for ax, column in zip(axes, ["dep_hour", "weather", "carrier", "month"], strict=True):
    rate = flights.groupby(column)["delayed"].mean()
    ax.bar(rate.index.astype(str), rate.to_numpy(), color="tab:orange")
    ax.axhline(flights["delayed"].mean(), color="gray", linestyle="--", linewidth=1)
    ax.set_title(f"delay rate by {column}")
    ax.tick_params(axis="x", labelrotation=45)
axes[0].set_ylabel("share delayed")
save_plot(fig, "delay_rate_by_feature")

# %% [markdown]
# The correlation matrix of the numeric features and the label. Correlation only sees
# straight-line relations one pair at a time: `month` barely correlates with `delayed`,
# although winter and summer are clearly worse (above) — the effect goes up, down and up
# again. Tree models such as XGBoost find such thresholds and interactions.

# %%
correlation = flights[NUMERIC + ["delayed"]].corr()
fig, ax = plt.subplots(figsize=(8, 7))
image = ax.imshow(correlation, cmap="coolwarm", vmin=-1, vmax=1)
ax.set_xticks(range(len(correlation)), correlation.columns, rotation=45, ha="right")
ax.set_yticks(range(len(correlation)), correlation.columns)
for (i, j), value in np.ndenumerate(correlation.to_numpy()):
    ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8)
fig.colorbar(image)
ax.set_title("Correlation matrix")
save_plot(fig, "correlation")

# %% [markdown]
# ## 3. Upload the raw data to S3
#
# SageMaker's jobs read from S3 and write to S3. Everything for this data set lives under
# one prefix per data version: a new data set gets a new prefix, so older models stay
# reproducible. The raw flights go to `flight-delay/v1/raw/flights.csv`.

# %%
raw_uri = session.upload_data(DATA / "raw" / "flights.csv", key_prefix=f"{PREFIX}/raw")
print(raw_uri)

# %% [markdown]
# ## 4. Preprocess in a SageMaker Processing job
#
# SageMaker's built-in XGBoost reads CSV with **the label in the first column and no
# header**; categories become one-hot columns. We keep three splits, stratified so each
# has the same delay rate:
#
# - **train** (70%) to fit the trees;
# - **validation** (15%) for early stopping and, later, to choose the decision threshold;
# - **test** (15%) touched only once, at the end, for an honest estimate.
#
# Rather than in this notebook, the preprocessing runs as a **processing job**: SageMaker
# starts a container (here its scikit-learn image), downloads each input from S3 to a
# folder under `/opt/ml/processing/` (the raw data to `/opt/ml/processing/input/`, the
# script itself to `/opt/ml/processing/input/code/`), runs the script with our arguments,
# and, once it has exited successfully, uploads each output folder
# (`/opt/ml/processing/train/`, …) to its S3 destination — `S3UploadMode` `EndOfJob`, the
# default. The same step then runs on bigger machines, on a schedule, or in a pipeline,
# and its code and outputs are recorded with the job. The script,
# [`code/preprocessing.py`](code/preprocessing.py), is plain pandas and scikit-learn, and
# runs locally too (`--input-dir`, `--output-dir`).
#
# Each output goes to its own prefix under the data version, since a training channel
# or a batch transform reads *every* object under its prefix: the test features
# (`test/`) apart from their labels (`labels/`).

# %%
processor = sdk.SKLearnProcessor(
    framework_version="1.2-1",
    role=role,
    instance_count=1,
    instance_type="ml.m5.large",
    base_job_name="flight-delay-prep",
    sagemaker_session=session,
)
processor.run(
    code=str(HERE / "code" / "preprocessing.py"),
    inputs=[sdk.ProcessingInput(source=raw_uri, destination="/opt/ml/processing/input")],
    outputs=[
        sdk.ProcessingOutput(
            output_name=name,
            source=f"/opt/ml/processing/{name}",
            destination=f"s3://{bucket}/{PREFIX}/{name}",
        )
        for name in ("train", "validation", "test", "labels")
    ],
    arguments=["--validation-fraction", "0.15", "--test-fraction", "0.15", "--seed", str(SEED)],
)

# %% [markdown]
# The job's description says where each output went — what a pipeline's next step reads.

# %%
preprocessing = processor.latest_job.describe()
outputs = {
    output["OutputName"]: output["S3Output"]["S3Uri"]
    for output in preprocessing["ProcessingOutputConfig"]["Outputs"]
}
print(
    f"processing job {preprocessing['ProcessingJobName']}: {preprocessing['ProcessingJobStatus']}"
)
for name, uri in outputs.items():
    print(f"  {name:<12} {uri}")
train_uri, validation_uri, test_uri = outputs["train"], outputs["validation"], outputs["test"]

# %% [markdown]
# The validation and test splits also come back to this notebook, for the evaluation at
# the end.

# %%
for name in ("validation", "test", "labels"):
    out_bucket, _, key = outputs[name].removeprefix("s3://").partition("/")
    session.download_data(DATA / name, out_bucket, key_prefix=key)
validation = pd.read_csv(DATA / "validation" / "validation.csv", header=None)
y_val, X_val = validation[0], validation.drop(columns=0)
X_test = pd.read_csv(DATA / "test" / "test.csv", header=None)
test_labels = pd.read_csv(DATA / "labels" / "test_labels.csv")
y_test = test_labels["delayed"]
print(f"{X_test.shape[1]} feature columns; rows: validation {len(X_val):,}, test {len(X_test):,}")

# %% [markdown]
# ## 5. Train the built-in XGBoost algorithm
#
# `image_uris.retrieve` gives the same container image URI as the official SDK. The
# hyperparameters are the algorithm's own: a logistic objective gives probabilities,
# `eval_metric=auc` is printed each round for train and validation, and training
# stops once validation AUC has not improved for `early_stopping_rounds` rounds.

# %%
image = sdk.image_uris.retrieve("xgboost", region, "1.7-1")
estimator = sdk.Estimator(
    image,
    role,
    instance_count=1,
    instance_type="ml.m5.large",
    output_path=f"s3://{bucket}/{PREFIX}/models",
    base_job_name="flight-delay",
    sagemaker_session=session,
)
estimator.set_hyperparameters(
    objective="binary:logistic",
    eval_metric="auc",
    num_round=300,
    early_stopping_rounds=15,
    max_depth=5,
    eta=0.2,
    min_child_weight=5,
    subsample=0.8,
    colsample_bytree=0.8,
)
estimator.fit(
    {
        "train": sdk.TrainingInput(train_uri, content_type="text/csv"),
        "validation": sdk.TrainingInput(validation_uri, content_type="text/csv"),
    }
)
job = estimator.latest_training_job.describe()
final_metrics = {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])}
print(f"training job {job['TrainingJobName']}: {job['TrainingJobStatus']}, {final_metrics}")
print(f"model artifact: {estimator.model_data}")

# %% [markdown]
# ## 6. Tune the hyperparameters
#
# The values above (`eta=0.2`, `max_depth=5`, `min_child_weight=5`) were a guess. A
# **hyperparameter tuning job** (SageMaker's *automatic model tuning*) replaces the
# guessing: give it ranges for the hyperparameters and an **objective metric** — here
# `validation:auc`, which the built-in XGBoost reports after every round, to
# *maximise* — and it runs the training job many times, each time with other values, and
# keeps the best. The other hyperparameters stay as set on the estimator (*static*).
#
# The **strategy** chooses the values: `Random` draws each configuration independently;
# `Bayesian` (the default) fits a model of "objective as a function of the
# hyperparameters" to the jobs that have finished and picks the next values where that
# model expects an improvement — it learns from earlier jobs, so it usually needs fewer
# of them; `Grid` tries every combination of categorical values; `Hyperband` stops weak
# configurations early. `max_jobs` is the budget, `max_parallel_jobs` how many run at
# once (more in parallel finishes sooner, but Bayesian then learns from fewer finished
# jobs). Each training job is a real training job of its own, named
# `<tuning job>-<NNN>-<8 hex>`, with its logs and metrics.
#
# The budget is tiny here so the notebook stays quick: 6 jobs, 2 at a time.

# %%
tuner = sdk.HyperparameterTuner(
    estimator,
    objective_metric_name="validation:auc",
    hyperparameter_ranges={
        "eta": sdk.ContinuousParameter(0.05, 0.5),
        "max_depth": sdk.IntegerParameter(3, 8),
        "min_child_weight": sdk.ContinuousParameter(1, 20),
    },
    objective_type="Maximize",
    strategy="Bayesian",
    max_jobs=6,
    max_parallel_jobs=2,
    random_seed=SEED,
    base_tuning_job_name="flight-delay-tune",
)
tuner.fit(
    {
        "train": sdk.TrainingInput(train_uri, content_type="text/csv"),
        "validation": sdk.TrainingInput(validation_uri, content_type="text/csv"),
    }
)
tuning = tuner.describe()
print(
    f"tuning job {tuning['HyperParameterTuningJobName']}: {tuning['HyperParameterTuningJobStatus']}"
)
print(f"training jobs: {tuning['TrainingJobStatusCounters']}")

# %% [markdown]
# `analytics().dataframe()` has one row per training job: the values it was given, its
# final objective and how long it trained. In launch order, with the best so far:

# %%
trials = tuner.analytics().dataframe().sort_values("TrainingStartTime").reset_index(drop=True)
trials["best_so_far"] = trials["FinalObjectiveValue"].cummax()
columns = ["TrainingJobName", "eta", "max_depth", "min_child_weight", "FinalObjectiveValue"]
print(trials[columns + ["best_so_far", "TrainingElapsedTimeSeconds"]].round(4).to_string())

fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
order = np.arange(1, len(trials) + 1)
ax = axes[0]
ax.scatter(order, trials["FinalObjectiveValue"], color="tab:blue", label="training job")
ax.step(order, trials["best_so_far"], where="post", color="tab:green", label="best so far")
ax.axhline(
    final_metrics["validation:auc"], color="gray", linestyle="--", label="first training (§5)"
)
ax.set_xticks(order)
ax.set_xlabel("training job, in launch order")
ax.set_ylabel("validation AUC")
ax.set_title("Objective per training job")
ax.legend(loc="lower right")
ax = axes[1]
points = ax.scatter(
    trials["eta"], trials["max_depth"], c=trials["FinalObjectiveValue"], cmap="viridis", s=80
)
for row in trials.itertuples():
    ax.annotate(
        f"{row.min_child_weight:.0f}",
        (row.eta, row.max_depth),
        xytext=(6, 4),
        textcoords="offset points",
        fontsize=8,
    )
fig.colorbar(points, ax=ax, label="validation AUC")
ax.set_xlabel("eta")
ax.set_ylabel("max_depth")
ax.set_title("Where the tuner looked (labels: min_child_weight)")
save_plot(fig, "tuning")

# %% [markdown]
# The best training job, by validation AUC, and the values it used:

# %%
best_job = tuner.best_training_job()
best = tuning["BestTrainingJob"]
best_auc = best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
print(
    f"best training job {best_job}: validation AUC {best_auc:.4f} "
    f"(first training: {final_metrics['validation:auc']:.4f})"
)
print(f"its values: {best['TunedHyperParameters']}")
best_estimator = tuner.best_estimator()
print(f"its model: {best_estimator.model_data}")

# %% [markdown]
# ## 7. Deploy the best model to a real-time endpoint and predict
#
# The tuning job's best training job is an ordinary training job: `best_estimator()`
# (above) is an estimator attached to it, whose model we deploy (`tuner.deploy(...)` does
# the same in one call). `create_model` registers the artifact with the image that
# serves it; `deploy` starts an endpoint (on simsage: a real HTTP server process on your
# machine). We send CSV rows *without* the label, and get back one probability per row.

# %%
model = best_estimator.create_model()
predictor = model.deploy(
    initial_instance_count=1,
    instance_type="ml.m5.large",
    serializer=CSVSerializer(),
    deserializer=NumpyDeserializer(accept="text/csv"),
)
print(f"endpoint {predictor.endpoint_name} is in service")
sample = X_test.head(5)
sample_scores = predictor.predict(sample.to_numpy())
columns = ["carrier", "origin", "dest", "dep_hour", "weather", "delayed"]
shown = flights.loc[test_labels["flight"].head(5), columns]  # the raw rows of those flights
shown.assign(p_delayed=sample_scores.round(3))

# %% [markdown]
# One request can carry many rows (up to 6 MB): score the validation set, which we
# use below to choose the decision threshold.

# %%
validation_scores = predictor.predict(X_val.to_numpy())
print(f"validation AUC from the endpoint: {roc_auc_score(y_val, validation_scores):.4f}")

# %% [markdown]
# ## 8. Batch transform the test set
#
# For a whole file there is no need for an endpoint: a transform job starts the model,
# streams the S3 objects through it and writes `<file>.out` next to the output prefix.
# `split_type="Line"` with `strategy="MultiRecord"` packs many lines per request;
# `assemble_with="Line"` writes one prediction per line, in input order.

# %%
transformer = model.transformer(
    instance_count=1,
    instance_type="ml.m5.large",
    strategy="MultiRecord",
    assemble_with="Line",
    accept="text/csv",
    output_path=f"s3://{bucket}/{PREFIX}/batch-output",
)
transformer.transform(test_uri, content_type="text/csv", split_type="Line")
batch_key = f"{PREFIX}/batch-output/test.csv.out"
session.s3_client.download_file(bucket, batch_key, str(DATA / "test.csv.out"))
test_scores = np.loadtxt(DATA / "test.csv.out", delimiter=",", ndmin=1)
print(f"s3://{bucket}/{batch_key}: {len(test_scores):,} predictions")
assert len(test_scores) == len(X_test)
assert np.allclose(test_scores[:5], sample_scores, atol=1e-6), "batch and endpoint disagree"

# %% [markdown]
# ## 9. Evaluate
#
# **ROC and AUC** on the test set: how well the scores rank delayed flights above
# on-time ones, whatever the threshold (0.5 is a coin toss, 1.0 perfect).

# %%
auc = roc_auc_score(y_test, test_scores)
fpr, tpr, _ = roc_curve(y_test, test_scores)
fig, ax = plt.subplots(figsize=(6, 6))
ax.plot(fpr, tpr, label=f"XGBoost (AUC = {auc:.3f})")
ax.plot([0, 1], [0, 1], linestyle="--", color="gray", label="random guess")
ax.set_xlabel("false positive rate (on-time flights flagged)")
ax.set_ylabel("true positive rate (delays caught)")
ax.set_title("ROC curve, test set")
ax.legend(loc="lower right")
save_plot(fig, "roc_curve")
print(f"test AUC: {auc:.4f}")

# %% [markdown]
# **Choosing a threshold for the business.** Suppose the operations team, for each
# flight predicted late, puts a standby crew on call and re-books tight connections in
# advance. A false alarm costs that preparation (say \$100); a delay nobody prepared
# for costs missed connections, overtime and compensation (say \$400). The best
# threshold minimises the total cost — chosen on the **validation** set, then checked
# once on the test set.

# %%
COST_MISSED_DELAY, COST_FALSE_ALARM = 400, 100


def total_cost(y_true, scores, threshold: float) -> float:
    predicted = scores >= threshold
    missed = np.sum((y_true == 1) & ~predicted)
    false_alarms = np.sum((y_true == 0) & predicted)
    return float(missed * COST_MISSED_DELAY + false_alarms * COST_FALSE_ALARM)


thresholds = np.round(np.arange(0.02, 0.99, 0.01), 2)
costs = np.array([total_cost(y_val.to_numpy(), validation_scores, t) for t in thresholds])
threshold = float(thresholds[costs.argmin()])
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(thresholds, costs / len(y_val), label="validation")
ax.axvline(threshold, color="tab:green", linestyle="--", label=f"best: {threshold:.2f}")
ax.axvline(0.5, color="gray", linestyle=":", label="default 0.5")
ax.set_xlabel("threshold")
ax.set_ylabel("cost per flight ($)")
# "\$": a bare pair of "$" would make matplotlib typeset the text between them as math.
ax.set_title(
    f"Cost by threshold (missed delay \\${COST_MISSED_DELAY}, false alarm \\${COST_FALSE_ALARM})"
)
ax.legend()
save_plot(fig, "cost_by_threshold")

y_true = y_test.to_numpy()
per_flight = {
    "no alerts at all": total_cost(y_true, test_scores, 1.01) / len(y_true),
    "threshold 0.5": total_cost(y_true, test_scores, 0.5) / len(y_true),
    f"threshold {threshold:.2f}": total_cost(y_true, test_scores, threshold) / len(y_true),
}
for policy, cost in per_flight.items():
    print(f"test cost per flight, {policy:<18} ${cost:6.2f}")

# %% [markdown]
# The confusion matrices at 0.5 and at the chosen threshold: the lower threshold
# catches many more delays at the price of more false alarms — which, at these costs,
# is the better deal.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
matrices = {}
for ax, cut in zip(axes, (0.5, threshold), strict=True):
    matrix = confusion_matrix(y_true, (test_scores >= cut).astype(int))
    matrices[f"{cut:.2f}"] = matrix.tolist()
    ConfusionMatrixDisplay(matrix, display_labels=["on time", "delayed"]).plot(
        ax=ax, colorbar=False, values_format=","
    )
    tn, fp, fn, tp = matrix.ravel()
    ax.set_title(
        f"threshold {cut:.2f}: recall {tp / (tp + fn):.0%}, precision {tp / (tp + fp):.0%}"
    )
fig.suptitle("Test set confusion matrices")
save_plot(fig, "confusion_matrices")

# %% [markdown]
# ## 10. Clean up
#
# An endpoint runs (and, on AWS, bills) until it is deleted. Delete it with its
# endpoint configuration, then the model. The data and the model artifact stay in S3.

# %%
predictor.delete_endpoint()  # and its endpoint configuration
model.delete_model()
print(f"deleted endpoint {predictor.endpoint_name}, its configuration and model {model.name}")

# %% [markdown]
# ## Where everything is

# %%
metrics = {
    "auc": auc,
    "validation_auc": final_metrics.get("validation:auc"),
    "threshold": threshold,
    "cost_per_flight": per_flight,
    "confusion_matrices": matrices,
    "processing_job": preprocessing["ProcessingJobName"],
    "training_job": job["TrainingJobName"],
    "tuning_job": tuning["HyperParameterTuningJobName"],
    "tuning_objectives": dict(
        zip(trials["TrainingJobName"], trials["FinalObjectiveValue"], strict=True)
    ),
    "best_training_job": best_job,
    "best_validation_auc": best_auc,
    "model_data": best_estimator.model_data,
    "transform_job": transformer.latest_transform_job,
    "batch_output": f"s3://{bucket}/{batch_key}",
}
(OUTPUT / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
print(f"plots:     {PLOTS}/")
for plot in sorted(PLOTS.glob("*.png")):
    print(f"           {plot.name}")
print(f"data:      {DATA}/ (raw/, validation/, test/, labels/, test.csv.out)")
print(f"metrics:   {OUTPUT / 'metrics.json'}")
print(f"S3 data:   s3://{bucket}/{PREFIX}/")
print(f"model:     {best_estimator.model_data} (the tuning job's best)")
print(f"batch out: s3://{bucket}/{batch_key}")
if config.is_local:
    print(f"store:     {config.home} (SIMSAGE_HOME)")
    print(f"try:       simsage processing logs {preprocessing['ProcessingJobName']}")
    print(f"           simsage training logs {job['TrainingJobName']}")
    print(f"           simsage training logs {best_job}")
    print(f"           simsage s3 ls s3://{bucket}/{PREFIX}/ --recursive --human-readable")
