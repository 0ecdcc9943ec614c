"""SageMaker Pipelines as a pure library: a pipeline definition parsed and checked
(:mod:`.definition`, with :mod:`.checks` and :mod:`.errors`), its execution graph and the
rule of what runs next (:mod:`.graph`), the expression language (:mod:`.expressions`:
``Get``, ``Std:Join``, ``Std:JsonGet``, conditions), step cache keys (:mod:`.caching`),
and botocore's shapes of step arguments and properties (:mod:`.shapes`). No API, store or
process code lives here; the API and the scheduler build on these."""
