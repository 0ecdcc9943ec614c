"""Hosting: the SageMaker resources behind real-time inference.

Layer: control plane. :mod:`simsage.hosting.models` answers the model calls
(CreateModel …; the model's row is :mod:`simsage.store.models`, as batch transform reads
it too), :mod:`simsage.hosting.endpoint_configs` endpoint configurations,
:mod:`simsage.hosting.endpoints` endpoints. Each resource is a snake_case dataclass with
an explicit ``describe()`` of the state it acts on, kept in a table of the resource
registry (:mod:`simsage.store.registry`: create, find, List pages, ARNs, tags); the
request handlers translate between those and the PascalCase wire shapes, and Describe
echoes the rest of the stored request (:func:`simsage.transport.echo.described`).

Invariants:
- names are unique per home regardless of case (the registry column is ``NOCASE``),
  while describe echoes the case the caller created the resource with;
- ARNs carry the lowercased name, as SageMaker's do.
"""
