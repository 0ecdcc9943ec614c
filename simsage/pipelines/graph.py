"""The execution graph of a pipeline definition, and which steps may run next.

A step's prerequisites are the steps its expressions read (``{"Get": "Steps.<X>…"}``
anywhere in its Arguments, in functions, in a Condition step's Conditions, a JsonGet's
``Steps.<X>.PropertyFiles.<Name>``), the steps named in its ``DependsOn``, and — for a
step listed in a Condition step's IfSteps or ElseSteps — that Condition step. Such a step
is *gated* (:class:`Gate`): it runs only if the condition's outcome chooses its branch.

:meth:`Dag.plan` is the whole scheduling rule: a step that has not started is ready once
every prerequisite has Succeeded and its branch (if any) was chosen; it will never run
once a prerequisite Failed or was Stopped, or will never run itself, or its branch was
not chosen. A DependsOn entry with a ``Trigger`` (SDK v3's StepDependency:
``{"Step": "Train", "Trigger": "Failed"}``) turns that around for its step: it runs when
the prerequisite Failed (``Stopped``, or any end for ``Any``) and never if it ends
otherwise — a notification on failure; the SDK says an execution in which such steps ran
ends ``CompletedWithFailures``. Steps that do not need a failed step keep running; what the execution then
reports is the scheduler's business.

Refused when the graph is built (:func:`build_graph`): a cycle (named, each step needing
the next) and a step that needs a step of the other branch of one of its own Condition
steps (it could never run).
"""

from __future__ import annotations

import graphlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from simsage.pipelines import expressions
from simsage.pipelines.errors import PipelineDefinitionError, raise_problems

if TYPE_CHECKING:
    from simsage.pipelines.definition_model import Step


@dataclass(frozen=True)
class Gate:
    """The Condition-step branch a step is listed in: it runs only if ``condition``'s
    outcome is ``outcome`` (True for IfSteps, False for ElseSteps)."""

    condition: str
    outcome: bool

    @property
    def branch(self) -> str:
        return "IfSteps" if self.outcome else "ElseSteps"


@dataclass(frozen=True)
class StepNode:
    """A step's place in the graph.

    Attributes:
        prerequisites: every step that must succeed before this one starts (data
            references, DependsOn and the gating Condition step).
        data_dependencies: the steps its expressions read.
        gate: as :attr:`Step.gate`.
        triggers: prerequisite → the end it must reach for this step to run, for the
            DependsOn entries with a ``Trigger`` (``Failed``, ``Stopped``, ``Any``);
            every other prerequisite must succeed.
    """

    name: str
    prerequisites: frozenset[str]
    data_dependencies: frozenset[str]
    gate: Gate | None
    triggers: Mapping[str, str] = field(default_factory=dict)

    def wants(self, prerequisite: str) -> tuple[str, ...]:
        """The StepStatuses of ``prerequisite`` that let this step run."""
        return _WANTED[self.triggers.get(prerequisite, "Completed")]


@dataclass(frozen=True)
class Plan:
    """What to do next (:meth:`Dag.plan`).

    Attributes:
        ready: steps that may start now, in topological (then definition) order.
        unreachable: steps that have not started and never will (a prerequisite did not
            end as they need, will never run, or their branch was not chosen).
    """

    ready: tuple[str, ...]
    unreachable: tuple[str, ...]


TERMINAL = ("Succeeded", "Failed", "Stopped")
_WANTED = {
    "Completed": ("Succeeded",),
    "Failed": ("Failed",),
    "Stopped": ("Stopped",),
    "Any": TERMINAL,
}


@dataclass(frozen=True)
class Dag:
    """The execution graph of a definition.

    Attributes:
        nodes: step name → node, in topological order (ties in definition order).
        layers: the steps grouped by depth: every step's prerequisites are in earlier
            layers (for drawing the DAG and for tests).
    """

    nodes: Mapping[str, StepNode]
    layers: tuple[tuple[str, ...], ...]

    @property
    def order(self) -> tuple[str, ...]:
        return tuple(self.nodes)

    def dependents(self, name: str) -> tuple[str, ...]:
        """The steps that have ``name`` as a prerequisite."""
        return tuple(n for n, node in self.nodes.items() if name in node.prerequisites)

    def plan(self, statuses: Mapping[str, str], outcomes: Mapping[str, bool]) -> Plan:
        """Which steps can start and which never will.

        Args:
            statuses: step name → its StepStatus (``Starting``, ``Executing``,
                ``Stopping``, ``Stopped``, ``Failed``, ``Succeeded``) for every step that
                has started; a step not in it has not started.
            outcomes: Condition step name → its outcome (True: IfSteps run).
        """
        ready: list[str] = []
        never: set[str] = set()
        for name, node in self.nodes.items():
            if name in statuses:
                continue
            blocked = any(
                p in never or (statuses.get(p) in TERMINAL and statuses[p] not in node.wants(p))
                for p in node.prerequisites
            )
            gate = node.gate
            if gate is not None and gate.condition in outcomes:
                blocked = blocked or outcomes[gate.condition] != gate.outcome
            if blocked:
                never.add(name)
            elif all(statuses.get(p) in node.wants(p) for p in node.prerequisites) and (
                gate is None or outcomes.get(gate.condition) == gate.outcome
            ):
                ready.append(name)
        return Plan(tuple(ready), tuple(n for n in self.nodes if n in never))


def build_graph(steps: Mapping[str, Step]) -> Dag:
    """The graph of ``steps`` (every step of a definition, in definition order), their
    references and DependsOn already checked to name existing steps.

    Raises:
        PipelineDefinitionError: a cycle, or a step needing the other branch of its own
            Condition step.
    """
    nodes: dict[str, StepNode] = {}
    for name, step in steps.items():
        data = {
            ref.split(".")[1]
            for ref in expressions.references(step.arguments)
            if isinstance(ref, str) and ref.startswith("Steps.")
        }
        prerequisites = data | set(step.depends_on)
        if step.gate is not None:
            prerequisites.add(step.gate.condition)
        nodes[name] = StepNode(
            name, frozenset(prerequisites), frozenset(data), step.gate, dict(step.triggers)
        )
    _check_branches(nodes)
    sorter = graphlib.TopologicalSorter({n: node.prerequisites for n, node in nodes.items()})
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        # graphlib lists the cycle in run order (each node before the next); name it as
        # "needs" (each step needs the next), which is how the user wrote it.
        cycle = list(reversed(exc.args[1]))
        raise PipelineDefinitionError(
            "Invalid pipeline definition: the steps depend on each other in a cycle: "
            f"{' -> '.join(cycle)} (each step needs the next). Remove one of these "
            "dependencies (a property reference or a DependsOn entry)."
        ) from None
    position = {n: i for i, n in enumerate(steps)}
    layers = []
    while sorter.is_active():
        layer = sorted(sorter.get_ready(), key=position.__getitem__)
        layers.append(tuple(layer))
        sorter.done(*layer)
    ordered = {n: nodes[n] for layer in layers for n in layer}
    return Dag(ordered, tuple(layers))


def _check_branches(nodes: Mapping[str, StepNode]) -> None:
    gates = {name: _gate_chain(name, nodes) for name in nodes}
    problems = []
    for name, node in nodes.items():
        mine = gates[name]
        for prerequisite in sorted(node.prerequisites):
            for condition, outcome in gates.get(prerequisite, {}).items():
                if condition in mine and mine[condition] != outcome:
                    problems.append(
                        f"step {name!r} needs step {prerequisite!r}, but they are in "
                        f"different branches of Condition step {condition!r}, so it "
                        "could never run"
                    )
    raise_problems(problems)


def _gate_chain(name: str, nodes: Mapping[str, StepNode]) -> dict[str, bool]:
    """Every Condition step (and the outcome) a step's running depends on, innermost first."""
    chain: dict[str, bool] = {}
    gate = nodes[name].gate
    while gate is not None and gate.condition not in chain:
        chain[gate.condition] = gate.outcome
        gate = nodes[gate.condition].gate if gate.condition in nodes else None
    return chain
