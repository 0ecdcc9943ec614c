"""The execution graph under random pipelines (simsage.pipelines.graph): an execution
driven only by ``Dag.plan`` runs every step whose prerequisites all succeeded, after
them, and no other; a dependency cycle is refused and the cycle it names is one."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from simsage.pipelines.definition import PipelineDefinitionError, parse_definition


def step(name: str, needs: list[str]) -> dict:
    return {
        "Name": name,
        "Type": "Fail",
        "Arguments": {"ErrorMessage": ""},
        **({"DependsOn": needs} if needs else {}),
    }


@st.composite
def acyclic(draw):
    """``{name: needed names}``: each step needs some of the steps before it."""
    count = draw(st.integers(1, 9))
    names = [f"S{i}" for i in range(count)]
    return {
        name: sorted(draw(st.sets(st.sampled_from(names[:i]), max_size=3))) if i else []
        for i, name in enumerate(names)
    }


def parse(graph: dict) -> object:
    steps = [step(n, needs) for n, needs in graph.items()]
    return parse_definition({"Version": "2020-12-01", "Steps": steps[::-1]})


@settings(max_examples=150, deadline=None)
@given(graph=acyclic(), data=st.data())
def test_an_execution_by_plan_runs_exactly_what_can_run(graph, data):
    failing = data.draw(st.sets(st.sampled_from(sorted(graph))))
    dag = parse(graph).graph()
    statuses: dict[str, str] = {}
    started: list[str] = []
    while True:
        plan = dag.plan(statuses, {})
        assert not set(plan.ready) & set(plan.unreachable)
        if not plan.ready:
            break
        for name in plan.ready:
            assert all(statuses[p] == "Succeeded" for p in graph[name])
            started.append(name)
            statuses[name] = "Failed" if name in failing else "Succeeded"

    def runs(name: str) -> bool:
        return all(runs(p) and p not in failing for p in graph[name])

    assert set(started) == {n for n in graph if runs(n)}
    assert set(plan.unreachable) == set(graph) - set(started)
    assert len(started) == len(set(started))
    position = {n: i for i, n in enumerate(started)}
    assert all(position[p] < position[n] for n in started for p in graph[n])
    # the layers and the topological order agree with the prerequisites
    order = {n: i for i, n in enumerate(dag.order)}
    assert all(order[p] < order[n] for n in graph for p in graph[n])
    depth = {n: i for i, layer in enumerate(dag.layers) for n in layer}
    assert all(depth[p] < depth[n] for n in graph for p in graph[n])


@settings(max_examples=100, deadline=None)
@given(graph=acyclic(), data=st.data())
def test_a_back_edge_is_refused_and_the_named_cycle_is_real(graph, data):
    names = sorted(graph, key=lambda n: int(n[1:]))
    if len(names) < 2:
        return
    # a step needing a later step that (transitively) needs it closes a cycle
    later = data.draw(st.sampled_from(names[1:]))
    earlier = data.draw(st.sampled_from(names[: names.index(later)]))
    graph = {**graph, later: sorted({*graph[later], earlier})}
    graph[earlier] = sorted({*graph[earlier], later})
    try:
        parse(graph)
    except PipelineDefinitionError as err:
        match = re.search(r"in a cycle: (.*) \(each step needs the next\)", err.message)
        assert match, err.message
        cycle = match.group(1).split(" -> ")
        assert cycle[0] == cycle[-1] and len(cycle) >= 2
        assert all(b in graph[a] for a, b in zip(cycle, cycle[1:], strict=False))
    else:
        raise AssertionError("a cycle was accepted")
