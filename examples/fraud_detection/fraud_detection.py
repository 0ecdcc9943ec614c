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
# # Card fraud: scikit-learn script mode on a 1% minority class
#
# Fraud is rare: here about **1 payment in 100**. A model that answers "legitimate"
# every time is 99% accurate and worthless. This notebook shows how to train, deploy and
# judge a model for such a problem with SageMaker's **scikit-learn script mode**:
#
# 1. **generate** 40,000 synthetic card payments (amount, merchant category, hour,
#    distance from home, card present, velocity features …), about 1% fraud;
# 2. **explore** the imbalance and what separates fraud from normal spending;
# 3. **preprocess**: one-hot encoding, label first, stratified train / validation / test;
# 4. **upload** to S3 under `fraud-detection/v1/…`;
# 5. **train** our own script, `code/train.py`, in the scikit-learn container: a gradient
#    boosting classifier with **class weights**, so the rare class counts;
# 6. **deploy** it — the same script's `model_fn` / `predict_fn` serve fraud probabilities;
# 7. **evaluate** with precision, recall and the precision–recall curve (not accuracy),
#    choosing the alert threshold on validation data for a recall target;
# 8. **clean up** the endpoint, its configuration and the model.
#
# It runs on **simsage** by default (offline: a real training process and a real
# inference server on your machine) and, with `SIMSAGE_BACKEND=aws` and
# `SIMSAGE_ROLE_ARN`, unchanged on Amazon SageMaker.
#
# As a script: `python examples/fraud_detection/fraud_detection.py [--output-dir DIR]`
# (or set `SIMSAGE_EXAMPLE_OUTPUT`); plots and local files go to `DIR`, by default
# `examples/fraud_detection/output/`.

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
from fraud_data import generate_transactions
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    average_precision_score,
    confusion_matrix,
    precision_recall_curve,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split

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
parser = argparse.ArgumentParser(description="The fraud-detection example (scikit-learn).")
parser.add_argument("--output-dir", type=Path, help="where plots and local files go")
parser.add_argument("--rows", type=int, default=40_000, help="how many payments to generate")
args, _ = parser.parse_known_args()

HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
OUTPUT = Path(args.output_dir or os.environ.get("SIMSAGE_EXAMPLE_OUTPUT") or HERE / "output")
DATA, PLOTS = OUTPUT / "data", OUTPUT / "plots"
DATA.mkdir(parents=True, exist_ok=True)
PLOTS.mkdir(parents=True, exist_ok=True)

DATA_VERSION = "v1"
PREFIX = f"fraud-detection/{DATA_VERSION}"
SEED = 11


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
# On simsage any well-formed role ARN will do; on AWS, set `SIMSAGE_ROLE_ARN` to an IAM
# role SageMaker can assume.

# %%
config = simsage.load_config()
session = sdk.Session()
region = session.boto_region_name
role = os.environ.get("SIMSAGE_ROLE_ARN")
if not role:
    if not session.local:
        raise SystemExit(
            "SIMSAGE_ROLE_ARN is not set. On AWS, training jobs and endpoints run with an "
            "IAM role SageMaker can assume: set SIMSAGE_ROLE_ARN=arn:aws:iam::<account>:role/"
            "<your SageMaker execution role> and run again."
        )
    role = f"arn:aws:iam::{session.account_id()}:role/SageMakerRole"
bucket = session.default_bucket()
print(f"backend: {config.backend}, region: {region}, bucket: s3://{bucket}, role: {role}")
if config.is_local:
    print(f"simsage store (SIMSAGE_HOME): {config.home}")

# %% [markdown]
# ## 1. Generate the data
#
# `fraud_data.generate_transactions` draws everyday spending (groceries and fuel near
# home, in the daytime, card present) and makes fraud more likely for card-not-present
# payments far from home, at night, in bursts, for unusually large amounts, at some
# merchant categories and abroad. The seed makes every run identical.

# %%
payments = generate_transactions(rows=args.rows, seed=SEED)
payments.to_csv(DATA / "raw.csv", index=False)
frauds = int(payments["is_fraud"].sum())
print(f"{len(payments):,} payments, {frauds} fraudulent ({payments['is_fraud'].mean():.2%})")
print(f"accuracy of always answering 'legitimate': {1 - payments['is_fraud'].mean():.2%}")
payments.head()

# %% [markdown]
# ## 2. Explore
#
# Averages per class show what separates fraud: larger amounts than the cardholder's
# usual, card not present, farther from home, more payments in the last hour.

# %%
print(payments.describe().T.round(2).to_string())
print()
print(payments.groupby("is_fraud").mean(numeric_only=True).T.round(2).to_string())
print()
print(pd.crosstab(payments["merchant_category"], payments["is_fraud"], margins=True))

# %%
fig, axes = plt.subplots(2, 2, figsize=(13, 9))
counts = payments["is_fraud"].value_counts().sort_index()
axes[0, 0].bar(["legitimate", "fraud"], counts.to_numpy(), color=["tab:blue", "tab:red"])
axes[0, 0].set_yscale("log")
axes[0, 0].set_title("Class balance (log scale)")
bins = np.logspace(0, np.log10(payments["amount"].max()), 40)
for label, name, color in ((0, "legitimate", "tab:blue"), (1, "fraud", "tab:red")):
    amounts = payments.loc[payments["is_fraud"] == label, "amount"]
    share = np.full(len(amounts), 1 / len(amounts))  # each class's bars sum to 1
    axes[0, 1].hist(amounts, bins=bins, weights=share, alpha=0.6, label=name, color=color)
axes[0, 1].set_xscale("log")
axes[0, 1].set_title("Amount ($, log scale): share of each class's payments")
axes[0, 1].legend()
by_category = payments.groupby("merchant_category")["is_fraud"].mean().sort_values()
axes[1, 0].barh(by_category.index, by_category.to_numpy() * 100, color="tab:red")
axes[1, 0].set_title("Fraud rate by merchant category (%)")
by_hour = payments.groupby("hour")["is_fraud"].mean()
axes[1, 1].bar(by_hour.index, by_hour.to_numpy() * 100, color="tab:red")
axes[1, 1].set_title("Fraud rate by hour of day (%)")
save_plot(fig, "exploration")

# %% [markdown]
# ## 3. Preprocess
#
# The model reads numbers only: the merchant category becomes one-hot columns. Label
# first, no header. **Stratified** splits keep ~1% fraud in each part — with a random
# split, a small validation set could get very few frauds by chance.

# %%
features = pd.get_dummies(
    payments.drop(columns="is_fraud"), columns=["merchant_category"], dtype=int
)
labels = payments["is_fraud"]
X_train, X_rest, y_train, y_rest = train_test_split(
    features, labels, test_size=0.40, stratify=labels, random_state=SEED
)
X_val, X_test, y_val, y_test = train_test_split(
    X_rest, y_rest, test_size=0.50, stratify=y_rest, random_state=SEED
)
for name, X, y in (("train", X_train, y_train), ("validation", X_val, y_val)):
    folder = DATA / name
    folder.mkdir(exist_ok=True)
    pd.concat([y, X], axis=1).to_csv(folder / f"{name}.csv", header=False, index=False)
(DATA / "feature_names.txt").write_text("\n".join(features.columns) + "\n")
for name, y in (("train", y_train), ("validation", y_val), ("test", y_test)):
    print(f"{name:<10} {len(y):>6,} rows, {int(y.sum()):>4} frauds")

# %% [markdown]
# ## 4. Upload to S3

# %%
train_uri = session.upload_data(DATA / "train", key_prefix=f"{PREFIX}/train")
validation_uri = session.upload_data(DATA / "validation", key_prefix=f"{PREFIX}/validation")
print(train_uri, validation_uri, sep="\n")

# %% [markdown]
# ## 5. Train in script mode
#
# `code/train.py` is an ordinary scikit-learn script. SageMaker runs it in its
# scikit-learn container with the data under `SM_CHANNEL_TRAIN` /
# `SM_CHANNEL_VALIDATION`, the hyperparameters as `--name value` arguments, and saves
# whatever it writes to `SM_MODEL_DIR` as `model.tar.gz`.
#
# `class_weight="balanced"` weighs each fraud about 100 times more than a legitimate
# payment, so the trees cannot ignore the rare class. The script prints
# `validation_…=value;` lines; the **metric definitions** turn them into the job's
# metrics (and, on AWS, CloudWatch metrics).

# %%
estimator = sdk.SKLearn(
    entry_point="train.py",
    source_dir=str(HERE / "code"),
    framework_version="1.2-1",
    role=role,
    instance_count=1,
    instance_type="ml.m5.large",
    hyperparameters={
        "max_iter": 150,
        "learning_rate": 0.05,
        "max_leaf_nodes": 15,
        "class_weight": "balanced",
    },
    metric_definitions=[
        {"Name": name, "Regex": f"{name}=([0-9.]+);"}
        for name in (
            "validation_auc",
            "validation_average_precision",
            "validation_recall",
            "validation_precision",
        )
    ],
    output_path=f"s3://{bucket}/{PREFIX}/models",
    base_job_name="fraud-detection",
    sagemaker_session=session,
)
estimator.fit({"train": train_uri, "validation": validation_uri})
job = estimator.latest_training_job.describe()
final_metrics = {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])}
print(f"training job {job['TrainingJobName']}: {job['TrainingJobStatus']}")
for name, value in final_metrics.items():
    print(f"  {name:<30} {value:.4f}")
print(f"model artifact: {estimator.model_data}")

# %% [markdown]
# ## 6. Deploy and score
#
# `deploy` serves the model with the same script: the container imports `train.py` and
# calls its `model_fn` once, then `predict_fn` for each request. We send CSV rows and
# get one fraud probability per row back. An endpoint request is limited to 6 MB, so
# larger sets go in chunks (or through a batch transform job).

# %%
predictor = estimator.deploy(
    initial_instance_count=1,
    instance_type="ml.m5.large",
    serializer=CSVSerializer(),
    deserializer=NumpyDeserializer(accept="text/csv"),
)
print(f"endpoint {predictor.endpoint_name} is in service")


def score(frame: pd.DataFrame, chunk: int = 2_000) -> np.ndarray:
    """Fraud probabilities for every row of ``frame``, ``chunk`` rows per request."""
    parts = [
        predictor.predict(frame.iloc[start : start + chunk].to_numpy())
        for start in range(0, len(frame), chunk)
    ]
    return np.concatenate([np.atleast_1d(p) for p in parts])


validation_scores = score(X_val)
test_scores = score(X_test)
# A few test payments, three legitimate and three fraudulent, with their scores.
shown = np.r_[
    np.flatnonzero(y_test.to_numpy() == 0)[:3], np.flatnonzero(y_test.to_numpy() == 1)[:3]
]
payments.loc[X_test.index[shown]].assign(p_fraud=test_scores[shown].round(4))

# %% [markdown]
# ## 7. Evaluate: precision, recall and the threshold
#
# - **recall**: the share of frauds we catch;
# - **precision**: the share of alerts that are really fraud (the rest waste an
#   analyst's time and annoy a customer).
#
# The precision–recall curve shows every trade-off; its area (**average precision**)
# summarises it — unlike ROC AUC, it is not flattered by the 99% easy negatives.
#
# The business rule here: *catch at least 80% of fraud with as few alerts as
# possible*. We pick the highest threshold that reaches 80% recall on the
# **validation** set, then report what it does on the untouched **test** set.

# %%
TARGET_RECALL = 0.80
precision, recall, cuts = precision_recall_curve(y_val, validation_scores)
reaching = np.flatnonzero(recall[:-1] >= TARGET_RECALL)
threshold = float(cuts[reaching[-1]])
print(f"threshold for {TARGET_RECALL:.0%} validation recall: {threshold:.3f}")

y_true = y_test.to_numpy()
flagged = test_scores >= threshold
caught = int(np.sum(flagged & (y_true == 1)))
test_recall = caught / int(y_true.sum())
test_precision = caught / max(int(flagged.sum()), 1)
test_ap = average_precision_score(y_true, test_scores)
test_auc = roc_auc_score(y_true, test_scores)
print(f"test: recall {test_recall:.1%}, precision {test_precision:.1%} at {threshold:.3f}")
print(f"test: {flagged.mean() * 1000:.1f} alerts per 1,000 payments; base rate {y_true.mean():.2%}")
print(f"test: average precision {test_ap:.3f}, ROC AUC {test_auc:.3f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 5))
for name, y, scores in (("validation", y_val, validation_scores), ("test", y_test, test_scores)):
    p, r, _ = precision_recall_curve(y, scores)
    axes[0].plot(r, p, label=f"{name} (AP = {average_precision_score(y, scores):.3f})")
axes[0].axhline(y_true.mean(), color="gray", linestyle="--", label="random guess")
axes[0].plot([test_recall], [test_precision], "o", color="tab:red", label="chosen threshold, test")
axes[0].set_xlabel("recall (share of fraud caught)")
axes[0].set_ylabel("precision (share of alerts that are fraud)")
axes[0].set_title("Precision-recall curve")
axes[0].legend()
axes[1].plot(cuts, precision[:-1], label="precision")
axes[1].plot(cuts, recall[:-1], label="recall")
axes[1].axvline(threshold, color="tab:red", linestyle="--", label=f"threshold {threshold:.3f}")
axes[1].set_xlabel("threshold")
axes[1].set_title("Validation precision and recall by threshold")
axes[1].legend()
save_plot(fig, "precision_recall")

matrix = confusion_matrix(y_true, flagged.astype(int))
fig, ax = plt.subplots(figsize=(5, 4.5))
ConfusionMatrixDisplay(matrix, display_labels=["legitimate", "fraud"]).plot(
    ax=ax, colorbar=False, values_format=","
)
ax.set_title(f"Test set at threshold {threshold:.3f}")
save_plot(fig, "confusion_matrix")

# %% [markdown]
# ## 8. Clean up
#
# Delete the model and the endpoint (with its configuration). The data, the model
# artifact and the training job's record and logs stay.

# %%
predictor.delete_model()
predictor.delete_endpoint()  # and its endpoint configuration
print(f"deleted endpoint {predictor.endpoint_name}, its configuration and its model")

# %% [markdown]
# ## Where everything is

# %%
metrics = {
    "threshold": threshold,
    "target_recall": TARGET_RECALL,
    "test_recall": test_recall,
    "test_precision": test_precision,
    "test_average_precision": test_ap,
    "test_auc": test_auc,
    "confusion_matrix": matrix.tolist(),
    "training_metrics": final_metrics,
    "training_job": job["TrainingJobName"],
    "model_data": estimator.model_data,
}
(OUTPUT / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
print(f"plots:     {PLOTS}/")
for plot in sorted(PLOTS.glob("*.png")):
    print(f"           {plot.name}")
print(f"data:      {DATA}/ (raw.csv, train/, validation/)")
print(f"metrics:   {OUTPUT / 'metrics.json'}")
print(f"S3 data:   s3://{bucket}/{PREFIX}/")
print(f"model:     {estimator.model_data}")
if config.is_local:
    print(f"store:     {config.home} (SIMSAGE_HOME)")
    print(f"try:       simsage training logs {job['TrainingJobName']}")
