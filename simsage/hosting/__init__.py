"""Hosting: the SageMaker resources behind real-time inference.

Layer: control plane. :mod:`simsage.hosting.models` holds models (CreateModel …),
:mod:`simsage.hosting.endpoint_configs` endpoint configurations,
:mod:`simsage.hosting.endpoints` endpoints. Each resource is a snake_case dataclass with
an explicit ``describe()``; the request handlers translate between those and the
PascalCase wire shapes. Their List calls page with :func:`simsage.paging.list_page`.

Invariants:
- names are unique per home regardless of case (the registry column is ``NOCASE``),
  while describe echoes the case the caller created the resource with;
- ARNs carry the lowercased name, as SageMaker's do.
"""
