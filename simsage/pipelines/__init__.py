"""SageMaker Pipelines: a pipeline definition (:mod:`.definition`: parse, check, the
execution graph) and its expression language (:mod:`.expressions`: ``Get``,
``Std:Join``, ``Std:JsonGet``, conditions), with botocore's shapes of step arguments and
properties (:mod:`.shapes`). Pure: no API, store or process code lives here; the API and
the scheduler build on these."""
