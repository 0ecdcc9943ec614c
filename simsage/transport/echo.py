"""What a Describe call echoes from the Create request, read from botocore's model.

A SageMaker Describe answer repeats the members of the Create request that are also
members of its own output (DescribeTrainingJob repeats HyperParameters,
ProfilerRuleConfigurations …, but not Tags). Which members those are is the model's
to say, not a hand list's: :func:`echoed` takes the Create input's members that the
Describe output also has (recursively, where the two use different structures) from
the stored request. The plan is computed once per operation pair.

The resource then lays its own state and the defaults AWS adds over the echo with
:func:`merged` (an explicit value wins; the echo fills in what the resource does not
describe itself). :func:`described` does both for a Describe whose resource was made by
the Create of the same noun (DescribeModel ← CreateModel), which every SageMaker
resource simsage keeps is: a resource then stores its request and describes only the
state it acts on, never a hand list of members to repeat.
"""

from __future__ import annotations

import copy
from typing import Any

from botocore.model import OperationModel, Shape

# A plan maps a member to None (copy the value whole: both sides use the same shape)
# or to the plan of its structure (or of its list's structures) when they differ.
_Plan = dict[str, "_Plan | None"]
# Per (service, version, Create, Describe): the plan, and the Describe output members the
# Create input lacks (what a simsage-private member of the stored request may echo).
_plans: dict[tuple[str, str, str, str], tuple[_Plan, list[str]]] = {}


def echoed(describe: OperationModel, create: str, params: dict[str, Any]) -> dict[str, Any]:
    """The members of ``params`` (a ``create`` request) that ``describe`` answers.

    Args:
        describe: the Describe operation's model (a Describe request's ``model``).
        create: the name of the operation that made the resource (``CreateModel``).
        params: the stored Create request.

    Returns:
        A deep copy of those members, ready to be merged into the answer.
    """
    service = describe.service_model
    key = (service.service_name, service.api_version, create, describe.name)
    known = _plans.get(key)
    if known is None:
        source = service.operation_model(create).input_shape
        target = describe.output_shape
        plan = _plan(source, target, set()) if source and target else {}
        private: list[str] = []
        if target is not None:
            inputs = set(source.members) if source is not None else set()
            private = [n for n in target.members if n not in inputs]
        # One entry for both: a thread never sees the plan without its private members.
        known = _plans[key] = (plan, private)
    plan, private = known
    out = _apply(plan, params)
    for name in private:
        if params.get(name) is not None:
            out[name] = copy.deepcopy(params[name])
    return out


def described(
    answer: dict[str, Any], describe: OperationModel, params: dict[str, Any] | None
) -> dict[str, Any]:
    """``answer`` (a resource's own state, in ``describe``'s output shape) with what it
    lacks filled in from the stored Create request ``params`` (None: nothing stored).

    The Create operation is the Describe's noun made by ``Create`` (DescribeTrainingJob
    → CreateTrainingJob)."""
    if not params:
        return answer
    create = "Create" + describe.name.removeprefix("Describe")
    return merged(answer, echoed(describe, create, params))


def merged(answer: dict[str, Any], echo: dict[str, Any]) -> dict[str, Any]:
    """``answer`` with what it lacks filled in from ``echo``: members it has win, except
    that structures (and lists of structures of the same length) are merged member by
    member, so an explicit variant list still gets each variant's echoed members."""
    for name, value in echo.items():
        if name not in answer:
            answer[name] = value
            continue
        mine = answer[name]
        if isinstance(mine, dict) and isinstance(value, dict):
            merged(mine, value)
        elif (
            isinstance(mine, list)
            and isinstance(value, list)
            and len(mine) == len(value)
            and all(
                isinstance(x, dict) and isinstance(y, dict)
                for x, y in zip(mine, value, strict=True)
            )
        ):
            for x, y in zip(mine, value, strict=True):
                merged(x, y)
    return answer


def _plan(source: Shape, target: Shape, seen: set[tuple[str, str]]) -> _Plan:
    plan: _Plan = {}
    for name, member in source.members.items():
        other = target.members.get(name)
        if other is None:
            continue
        plan[name] = _member_plan(member, other, seen)
    return plan


def _member_plan(source: Shape, target: Shape, seen: set[tuple[str, str]]) -> _Plan | None:
    if source.name == target.name or (source.name, target.name) in seen:
        return None
    if source.type_name == "list" and target.type_name == "list":
        return _member_plan(source.member, target.member, seen)
    if source.type_name == "structure" and target.type_name == "structure":
        return _plan(source, target, seen | {(source.name, target.name)})
    return None


def _apply(plan: _Plan, value: Any) -> Any:
    if isinstance(value, list):
        return [_apply(plan, item) for item in value]
    if not isinstance(value, dict):
        return copy.deepcopy(value)
    out = {}
    for name, sub in plan.items():
        if name in value and value[name] is not None:
            out[name] = copy.deepcopy(value[name]) if sub is None else _apply(sub, value[name])
    return out
