"""Pieces of CreateProcessingJob requests that many tests write the same way (every test
folder has ``tests/`` on its path): an S3 input, an S3 output, the cluster. The request
around them stays in each test, where what the test is about can be read at once."""

from __future__ import annotations


def processing_input(name: str, uri: str, local_path: str, **s3_input) -> dict:
    """A ProcessingInput of the S3 prefix ``uri`` downloaded (File mode) to ``local_path``;
    ``s3_input`` adds or overrides members of its S3Input (e.g. S3DataDistributionType)."""
    return {
        "InputName": name,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local_path,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            **s3_input,
        },
    }


def processing_output(name: str, uri: str, local_path: str, mode: str = "EndOfJob") -> dict:
    """A ProcessingOutput uploading ``local_path`` to ``uri`` (``EndOfJob`` or
    ``Continuous``)."""
    return {
        "OutputName": name,
        "S3Output": {"S3Uri": uri, "LocalPath": local_path, "S3UploadMode": mode},
    }


def processing_resources(
    count: int = 1, instance_type: str = "ml.m5.large", volume_gb: int = 1
) -> dict:
    """ProcessingResources of ``count`` hosts of ``instance_type``."""
    return {
        "ClusterConfig": {
            "InstanceCount": count,
            "InstanceType": instance_type,
            "VolumeSizeInGB": volume_gb,
        }
    }
