"""SageMaker Pipelines.

The library, pure (JSON and botocore's model only): a pipeline definition parsed and
checked (:mod:`.definition`, with :mod:`.checks` and :mod:`.errors`), its execution graph
and the rule of what runs next (:mod:`.graph`), the expression language
(:mod:`.expressions`: ``Get``, ``Std:Join``, ``Std:JsonGet``, conditions), step cache keys
(:mod:`.caching`), and botocore's shapes of step arguments and properties
(:mod:`.shapes`).

The service built on it: the pipelines and executions in the registry (:mod:`.store`),
the API operations (:mod:`.api`), and one detached runner per execution that schedules
its steps (:mod:`.runner`).
"""
