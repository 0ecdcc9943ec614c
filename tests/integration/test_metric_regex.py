"""A MetricDefinitions Regex that backtracks catastrophically on a log line never stalls
the job: it completes, the metrics matched before that line are kept, and the job log
says matching fell behind."""

from __future__ import annotations

import json

from test_training_jobs import BUCKET, LOG_GROUP, SKLEARN, Training, _tar_gz

SCRIPT = r"""
print("step 1: loss=0.5", flush=True)
print("a" * 64 + "b", flush=True)  # (a+)+$ takes 2**64 steps to give up on this line
print("step 2: loss=0.25", flush=True)
"""


def test_a_catastrophic_regex_delays_metrics_but_not_the_job(simsage_local):
    training = Training(simsage_local)
    training.put("code/slow-regex.tar.gz", _tar_gz({"train.py": SCRIPT.encode()}))
    request = training.request("slow-regex")
    request["AlgorithmSpecification"] = {
        "TrainingImage": SKLEARN,
        "TrainingInputMode": "File",
        "MetricDefinitions": [
            {"Name": "train:loss", "Regex": r"loss=([0-9.]+)"},
            {"Name": "stuck", "Regex": r"^(a+)+$"},
        ],
    }
    request["HyperParameters"]["sagemaker_submit_directory"] = json.dumps(
        f"s3://{BUCKET}/code/slow-regex.tar.gz"
    )
    training.sm.create_training_job(**request)
    done = training.wait("slow-regex")

    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    metrics = {m["MetricName"]: m["Value"] for m in done["FinalMetricDataList"]}
    assert metrics == {"train:loss": 0.5}
    stream = training.logs.describe_log_streams(
        logGroupName=LOG_GROUP, logStreamNamePrefix="slow-regex/"
    )["logStreams"][0]["logStreamName"]
    events = training.logs.get_log_events(
        logGroupName=LOG_GROUP, logStreamName=stream, startFromHead=True
    )["events"]
    messages = [e["message"] for e in events]
    assert "step 2: loss=0.25" in messages  # the log itself is complete
    assert any("did not keep up" in m for m in messages)
