"""``simsage.sdk.workflow``: SageMaker Pipelines with the official SDK v2's
``sagemaker.workflow`` names, built on boto3 — parameters, execution variables, ``Join``
and ``JsonGet``, step properties and property files, conditions, the Processing,
Training, Model (create and register), Condition and Fail steps, retry policies,
``CacheConfig``, ``Pipeline`` and ``PipelineSession``.

Import the names from their modules, as with the official SDK
(``from simsage.sdk.workflow.steps import ProcessingStep``).
"""
