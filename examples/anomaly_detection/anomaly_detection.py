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

# %%

# %% [markdown]
# # Pump sensors: random cut forest, k-means and linear learner
#
# An industrial pump reports eight sensors every few seconds. This notebook uses three of
# SageMaker's **built-in algorithms**, all trained and served from their real image URIs:
#
# 1. **generate** 20,000 readings in three operating regimes, about 1% injected anomalies
#    (sensor spikes, drifted sensors, readings that no longer agree with each other);
# 2. **random cut forest** scores every reading (batch transform); readings above
#    mean + 3σ of the scores are flagged and checked against the injected labels;
# 3. **k-means** segments the normal readings into operating modes, served by an endpoint;
# 4. **linear learner** (a regressor) predicts the motor's power draw from the sensors;
# 5. **precision and recall** of the anomaly flags for every threshold;
# 6. **clean up** every endpoint, endpoint configuration and model.
#
# It runs on **simsage** by default and, with `SIMSAGE_BACKEND=aws` and
# `SIMSAGE_ROLE_ARN`, unchanged on Amazon SageMaker.
#
# As a script: `python examples/anomaly_detection/anomaly_detection.py [--output-dir DIR]`
# (or set `SIMSAGE_EXAMPLE_OUTPUT`); plots and local files go to `DIR`, by default
# `examples/anomaly_detection/output/`.

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
from pump_data import ANOMALY_KINDS, FEATURES, REGIMES, generate_readings
from sklearn.metrics import precision_recall_curve, r2_score
from sklearn.model_selection import train_test_split

import simsage
from simsage import sdk
from simsage.sdk.deserializers import JSONDeserializer
from simsage.sdk.serializers import CSVSerializer

IN_NOTEBOOK = "ipykernel" in sys.modules
if not IN_NOTEBOOK:
    matplotlib.use("Agg")  # no display needed: every figure is written as a PNG

# %% [markdown]
# ## Settings

# %%
parser = argparse.ArgumentParser(description="The anomaly-detection example (built-ins).")
parser.add_argument("--output-dir", type=Path, help="where plots and local files go")
parser.add_argument("--rows", type=int, default=20_000, help="how many readings to generate")
args, _ = parser.parse_known_args()

HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
OUTPUT = Path(args.output_dir or os.environ.get("SIMSAGE_EXAMPLE_OUTPUT") or HERE / "output")
DATA, PLOTS = OUTPUT / "data", OUTPUT / "plots"
DATA.mkdir(parents=True, exist_ok=True)
PLOTS.mkdir(parents=True, exist_ok=True)

PREFIX = "anomaly-detection/v1"
SEED = 7
INSTANCE = "ml.m5.large"


def save_plot(fig, name: str) -> None:
    """Write ``fig`` as ``plots/<name>.png``; show it inline in a notebook."""
    path = PLOTS / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    if IN_NOTEBOOK:
        plt.show()
    else:
        plt.close(fig)
    print(f"saved {path}")


def write_csv(frame: pd.DataFrame, name: str) -> Path:
    """``frame`` as ``data/<name>/<name>.csv``, no header (what the built-ins read)."""
    folder = DATA / name
    folder.mkdir(exist_ok=True)
    frame.to_csv(folder / f"{name}.csv", header=False, index=False)
    return folder


def read_json_lines(uri: str) -> list[dict]:
    """The records of a batch transform output object (one JSON document per line)."""
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    text = session.read_s3_file(bucket, key)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# %% [markdown]
# ## The SageMaker session and role

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

# %% [markdown]
# ## 1. Generate and explore the readings
#
# Speed, flow, pressures, current and temperatures move together inside each regime; the
# anomalies break that pattern in one sensor (spikes, drifts) or in how sensors relate.

# %%
readings = generate_readings(rows=args.rows, seed=SEED)
readings.to_csv(DATA / "raw.csv", index=False)
labels = readings["is_anomaly"].to_numpy()
print(f"{len(readings):,} readings, {labels.sum()} anomalies ({labels.mean():.2%})")
print(readings["anomaly_kind"].replace("", "normal").value_counts().to_string())
print(readings.groupby("regime")[FEATURES + ["power_kw"]].mean().T.round(2).to_string())

fig, axes = plt.subplots(1, 2, figsize=(13, 5))
normal = readings[labels == 0]
for code, name in enumerate(REGIMES):
    part = normal[normal["regime"] == code]
    axes[0].scatter(part["rpm"], part["flow_m3h"], s=3, alpha=0.3, label=name)
    axes[1].scatter(part["motor_current_a"], part["bearing_temp_c"], s=3, alpha=0.3)
for kind, marker in zip(ANOMALY_KINDS, "x^s", strict=True):
    part = readings[readings["anomaly_kind"] == kind]
    axes[0].scatter(part["rpm"], part["flow_m3h"], s=25, marker=marker, c="k", label=kind)
    axes[1].scatter(part["motor_current_a"], part["bearing_temp_c"], s=25, marker=marker, c="k")
axes[0].set(xlabel="rpm", ylabel="flow (m³/h)", title="Speed and flow by regime")
axes[1].set(xlabel="motor current (A)", ylabel="bearing temperature (°C)", title="Load and heat")
axes[0].legend(markerscale=3)
save_plot(fig, "exploration")

# %% [markdown]
# ## 2. Prepare and upload
#
# The random cut forest cuts each dimension in proportion to its range, and k-means
# measures Euclidean distances: both want features on one scale, so we **standardise**
# (z-scores). Linear learner normalises by itself and reads the raw values, label first.
# The forest is unsupervised: it trains on every reading, anomalies included, as in real
# life; a labelled sample (label first, `label_size=1`) is its `test` channel.

# %%
mean, std = readings[FEATURES].mean(), readings[FEATURES].std()
scaled = (readings[FEATURES] - mean) / std
test_sample = readings.sample(n=min(5_000, len(readings)), random_state=SEED).index
rcf_test = pd.concat([readings.loc[test_sample, "is_anomaly"], scaled.loc[test_sample]], axis=1)
normal_rows = readings.index[labels == 0]
ll_train, ll_rest = train_test_split(normal_rows, test_size=0.3, random_state=SEED)
ll_validation, ll_test = train_test_split(ll_rest, test_size=0.5, random_state=SEED)
with_target = readings[["power_kw", *FEATURES]]

folders = {
    "rcf-train": write_csv(scaled, "rcf-train"),
    "rcf-test": write_csv(rcf_test, "rcf-test"),
    "kmeans-train": write_csv(scaled.loc[normal_rows], "kmeans-train"),
    "ll-train": write_csv(with_target.loc[ll_train], "ll-train"),
    "ll-validation": write_csv(with_target.loc[ll_validation], "ll-validation"),
    "ll-test": write_csv(readings.loc[ll_test, FEATURES], "ll-test"),
}
uris = {
    name: session.upload_data(folder, key_prefix=f"{PREFIX}/{name}")
    for name, folder in folders.items()
}
for name, uri in uris.items():
    print(f"{name:<14} {uri}")


def estimator(algorithm: str, **hyperparameters) -> sdk.Estimator:
    """An estimator for the built-in ``algorithm`` image (the same image serves)."""
    return sdk.Estimator(
        sdk.image_uris.retrieve(algorithm, region),
        role,
        instance_count=1,
        instance_type=INSTANCE,
        output_path=f"s3://{bucket}/{PREFIX}/models",
        hyperparameters=hyperparameters,
        sagemaker_session=session,
    )


def final_metrics(trained: sdk.Estimator) -> dict[str, float]:
    job = trained.latest_training_job.describe()
    return {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])}


# %% [markdown]
# ## 3. Random cut forest: score every reading
#
# 50 trees of 256 readings each. The `test` channel makes the job report `test:f1` with
# the model's own cutoff. Then a **batch transform** scores all 20,000 readings: the
# answer is one `{"score": …}` JSON line per reading.

# %%
rcf = estimator("randomcutforest", feature_dim=len(FEATURES), num_trees=50,
                num_samples_per_tree=256)  # fmt: skip
rcf.fit(
    {
        "train": sdk.TrainingInput(
            uris["rcf-train"], content_type="text/csv", distribution="ShardedByS3Key"
        ),
        "test": sdk.TrainingInput(uris["rcf-test"], content_type="text/csv;label_size=1"),
    },
    logs=False,
)
rcf_metrics = final_metrics(rcf)
print(f"training job {rcf.latest_training_job.name}: test:f1 {rcf_metrics['test:f1']:.3f}")

rcf_model = rcf.create_model()
rcf_transformer = rcf_model.transformer(
    instance_count=1,
    instance_type=INSTANCE,
    strategy="MultiRecord",
    assemble_with="Line",
    accept="application/jsonlines",
    output_path=f"s3://{bucket}/{PREFIX}/rcf-scores",
)
rcf_transformer.transform(uris["rcf-train"], content_type="text/csv", split_type="Line",
                          logs=False)  # fmt: skip
scores = np.array(
    [r["score"] for r in read_json_lines(f"{rcf_transformer.output_path}/rcf-train.csv.out")]
)
assert len(scores) == len(readings)
rcf_model.delete_model()

# %% [markdown]
# Flag readings above **mean + 3σ** of the scores and compare with the injected labels.

# %%
threshold = float(scores.mean() + 3 * scores.std())
flagged = scores > threshold
caught = int(np.sum(flagged & (labels == 1)))
rcf_precision = caught / max(int(flagged.sum()), 1)
rcf_recall = caught / int(labels.sum())
rcf_f1 = 2 * rcf_precision * rcf_recall / max(rcf_precision + rcf_recall, 1e-12)
kinds = readings["anomaly_kind"].to_numpy()
recall_by_kind = {kind: float(flagged[kinds == kind].mean()) for kind in ANOMALY_KINDS}
print(f"threshold {threshold:.3f}: {flagged.sum()} flagged, {caught} of {labels.sum()} caught")
print(f"precision {rcf_precision:.1%}, recall {rcf_recall:.1%}, F1 {rcf_f1:.3f}")
print("recall by kind:", {k: round(v, 3) for k, v in recall_by_kind.items()})

fig, ax = plt.subplots(figsize=(10, 5))
bins = np.linspace(scores.min(), scores.max(), 80)
ax.hist(scores[labels == 0], bins=bins, alpha=0.6, label="normal")
ax.hist(scores[labels == 1], bins=bins, alpha=0.8, color="tab:red", label="injected anomaly")
ax.axvline(threshold, color="k", linestyle="--", label=f"mean + 3σ = {threshold:.2f}")
ax.set_yscale("log")
ax.set(xlabel="anomaly score", ylabel="readings (log scale)", title="Random cut forest scores")
ax.legend()
save_plot(fig, "score_distribution")

# %% [markdown]
# ## 4. k-means: the operating modes
#
# Three clusters over the normal readings. An endpoint answers
# `{"predictions": [{"closest_cluster": …, "distance_to_cluster": …}]}`; **purity** is the
# share of readings whose cluster's majority regime is their own regime.

# %%
kmeans = estimator("kmeans", k=len(REGIMES), feature_dim=len(FEATURES), init_method="kmeans++")
kmeans.fit({"train": sdk.TrainingInput(uris["kmeans-train"], content_type="text/csv")},
           logs=False)  # fmt: skip
kmeans_predictor = kmeans.deploy(
    1, INSTANCE, serializer=CSVSerializer(), deserializer=JSONDeserializer()
)
print(kmeans_predictor.predict(scaled.loc[normal_rows[:3]].to_numpy()))
assigned = np.concatenate(
    [
        [
            p["closest_cluster"]
            for p in kmeans_predictor.predict(scaled.loc[chunk].to_numpy())["predictions"]
        ]
        for chunk in np.array_split(normal_rows, max(1, len(normal_rows) // 5_000))
    ]
).astype(int)
regimes = readings.loc[normal_rows, "regime"].to_numpy()
crosstab = pd.crosstab(assigned, regimes, rownames=["cluster"], colnames=["regime"])
purity = float(crosstab.max(axis=1).sum() / len(assigned))
print(crosstab.to_string())
print(f"cluster purity against the true regimes: {purity:.3f}")
kmeans_predictor.delete_endpoint()
kmeans_predictor.delete_model()

fig, ax = plt.subplots(figsize=(8, 6))
part = readings.loc[normal_rows]
ax.scatter(part["rpm"], part["flow_m3h"], c=assigned, s=3, cmap="viridis", alpha=0.5)
ax.set(xlabel="rpm", ylabel="flow (m³/h)", title=f"k-means clusters (purity {purity:.3f})")
save_plot(fig, "clusters")

# %% [markdown]
# ## 5. Linear learner: predict the power draw
#
# A regressor on the normal readings, with a `validation` channel (its `validation:rmse`
# is a job metric); a batch transform predicts the held-out test readings.

# %%
ll = estimator("linear-learner", predictor_type="regressor", feature_dim=len(FEATURES),
               epochs=10, mini_batch_size=500)  # fmt: skip
ll.fit(
    {
        "train": sdk.TrainingInput(uris["ll-train"], content_type="text/csv"),
        "validation": sdk.TrainingInput(uris["ll-validation"], content_type="text/csv"),
    },
    logs=False,
)
ll_metrics = final_metrics(ll)
print(f"validation:rmse {ll_metrics['validation:rmse']:.3f} kW")
ll_model = ll.create_model()
ll_transformer = ll_model.transformer(
    instance_count=1,
    instance_type=INSTANCE,
    strategy="MultiRecord",
    assemble_with="Line",
    accept="application/jsonlines",
    output_path=f"s3://{bucket}/{PREFIX}/ll-predictions",
)
ll_transformer.transform(uris["ll-test"], content_type="text/csv", split_type="Line",
                         logs=False)  # fmt: skip
predicted = np.array(
    [r["score"] for r in read_json_lines(f"{ll_transformer.output_path}/ll-test.csv.out")]
)
actual = readings.loc[ll_test, "power_kw"].to_numpy()
r2 = float(r2_score(actual, predicted))
print(f"test R²: {r2:.4f} on {len(actual):,} readings")
ll_model.delete_model()

fig, ax = plt.subplots(figsize=(6, 6))
ax.scatter(actual, predicted, s=3, alpha=0.4)
ax.plot([actual.min(), actual.max()], [actual.min(), actual.max()], "k--", label="perfect")
ax.set(xlabel="actual power (kW)", ylabel="predicted power (kW)", title=f"Test R² = {r2:.4f}")
ax.legend()
save_plot(fig, "predicted_vs_actual")

# %% [markdown]
# ## 6. Precision and recall for every threshold
#
# Lower the threshold and more anomalies are caught, at the price of more false alarms.

# %%
precision, recall, cuts = precision_recall_curve(labels, scores)
fig, ax = plt.subplots(figsize=(9, 5))
ax.plot(cuts, precision[:-1], label="precision")
ax.plot(cuts, recall[:-1], label="recall")
ax.axvline(threshold, color="k", linestyle="--", label="mean + 3σ")
ax.set(xlabel="score threshold", title="Random cut forest: precision and recall")
ax.legend()
save_plot(fig, "precision_recall")

# %% [markdown]
# ## 7. Clean up and where everything is
#
# The endpoint and every model are deleted above; here we check that none is left.

# %%
sm = session.sagemaker_client
names = [kmeans_predictor.endpoint_name, rcf_model.name, ll_model.name]
left = [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"] if e["EndpointName"] in names]
left += [m["ModelName"] for m in sm.list_models()["Models"] if m["ModelName"] in names]
assert not left, f"not deleted: {left}"
metrics = {
    "rcf_threshold": threshold,
    "rcf_precision": rcf_precision,
    "rcf_recall": rcf_recall,
    "rcf_f1": rcf_f1,
    "rcf_recall_by_kind": recall_by_kind,
    "rcf_training_metrics": rcf_metrics,
    "kmeans_purity": purity,
    "ll_validation_rmse": ll_metrics["validation:rmse"],
    "ll_test_r2": r2,
    "training_jobs": {
        "randomcutforest": rcf.latest_training_job.name,
        "kmeans": kmeans.latest_training_job.name,
        "linear-learner": ll.latest_training_job.name,
    },
    "transform_jobs": [rcf_transformer.latest_transform_job, ll_transformer.latest_transform_job],
}
(OUTPUT / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
print(f"plots:     {PLOTS}/")
for plot in sorted(PLOTS.glob("*.png")):
    print(f"           {plot.name}")
print(f"data:      {DATA}/")
print(f"metrics:   {OUTPUT / 'metrics.json'}")
print(f"S3 data:   s3://{bucket}/{PREFIX}/")
