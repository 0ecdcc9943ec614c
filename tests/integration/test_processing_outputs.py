"""Processing outputs in real runs, through boto3: a Continuous output's files as the job
left them (nested folders made during the run, rewritten files, no symlinks, content types),
and an output bucket that does not exist failing the job with a ClientError."""

from __future__ import annotations

from test_processing_jobs import BUCKET, aws, body, keys, output, put_script, run_script, wait

__all__ = ["aws"]  # the fixture, shared with test_processing_jobs

CONTINUOUS = """
import os
base = "/opt/ml/processing/stream"
os.makedirs(base + "/epochs/late", exist_ok=True)
for epoch in range(3):
    with open(base + "/progress.txt", "w") as f:
        f.write("epoch %d" % epoch)
with open(base + "/epochs/late/metrics.csv", "w") as f:
    f.write("auc,0.9\\n")
os.symlink("/etc/hostname", base + "/hostname")
os.symlink("/etc", base + "/etc")
"""


def test_a_continuous_output_ends_as_the_job_left_it(aws):
    sm, s3, _ = aws
    uri = put_script(s3, "continuous.py", CONTINUOUS)
    run_script(
        sm,
        "continuous-done",
        uri,
        "continuous.py",
        ProcessingOutputConfig={
            "Outputs": [output("stream", "/opt/ml/processing/stream", "Continuous")]
        },
    )
    described = wait(sm, "continuous-done")
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert keys(s3, "out/stream/") == [
        "out/stream/epochs/late/metrics.csv",
        "out/stream/progress.txt",
    ]
    assert body(s3, "out/stream/progress.txt") == "epoch 2"
    head = s3.head_object(Bucket=BUCKET, Key="out/stream/epochs/late/metrics.csv")
    assert head["ContentType"] == "text/csv"


def test_an_output_bucket_that_does_not_exist_fails_the_job_saying_to_create_it(aws):
    sm, s3, _ = aws
    uri = put_script(s3, "write.py", "open('/opt/ml/processing/out/a.txt', 'w').write('a')\n")
    missing = output("result", "/opt/ml/processing/out")
    missing["S3Output"]["S3Uri"] = "s3://no-such-output-bucket/result"
    run_script(sm, "nobucket", uri, "write.py", ProcessingOutputConfig={"Outputs": [missing]})
    described = wait(sm, "nobucket")
    assert described["ProcessingJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith("ClientError: ")
    assert '"no-such-output-bucket" does not exist' in reason and "Create it" in reason
