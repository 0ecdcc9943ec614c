"""simsage's one pair of local credentials: what activated boto3 clients sign with, what
the S3 endpoint verifies, and what the environment (and job containers) are given.

A module of its own (no boto3 import) so that job runners, which start without boto3,
can hand the keys to their containers."""

LOCAL_ACCESS_KEY = "SIMSAGELOCALACCESSKEY"
LOCAL_SECRET_KEY = "simsage-local-secret-key"
