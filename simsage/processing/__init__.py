"""Processing jobs (CreateProcessingJob …): the preprocessing, feature engineering and
evaluation step of a SageMaker workflow, as a job whose container runs a program over
inputs downloaded from S3 and whose outputs are uploaded back to S3.

``jobs`` is the registry row and its lifecycle, ``api`` answers the four operations,
``runner`` is the detached job process (a :class:`simsage.runtime.job.JobProcess`).
"""
