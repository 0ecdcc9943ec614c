"""S3: buckets, objects and multipart uploads on the embedded store.

State: ``backend`` (buckets, objects, bucket settings) and ``uploads`` (multipart)
hold the SQLite rows and blob files in Python types (``records``). Requests:
``service`` (buckets, objects, listings) and the ``*_api`` modules mixed into it
(multipart, tagging, encryption, GetObjectAttributes) turn boto3 params into backend
calls and backend results into S3's output shapes. S3's rules, as pure functions:
``names``, ``checksums``, ``tagging``, ``encryption``; its error codes: ``errors``.
"""
