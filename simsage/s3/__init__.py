"""S3: buckets, objects and multipart uploads on the embedded store.

``backend`` holds the state (SQLite rows, blob files) in Python types; ``service``
turns boto3 params into backend calls and backend results into S3's output shapes.
"""
