"""Batch transform: CreateTransformJob and friends.

Layer: control plane (:mod:`~simsage.transform.api`, :mod:`~simsage.transform.jobs`)
and data plane (:mod:`~simsage.transform.runner`, :mod:`~simsage.transform.records`,
:mod:`~simsage.transform.dataprocessing`). A job's runner is a detached process that
starts one inference server per instance (the same server endpoints use), streams each
input object through it in mini-batches over HTTP on 127.0.0.1 and writes
``<object>.out`` next to the other outputs.

Invariants:
- an object's output exists only if the whole object was transformed;
- output records come in input order, whatever MaxConcurrentTransforms is;
- memory stays bounded by the in-flight window (MaxConcurrentTransforms + 1 mini-batches
  per instance), never by the size of an object, except with SplitType None where the
  whole object is one request by definition.
"""
