"""The dependency graph: what a body says, in which order issues go, and loops."""

from __future__ import annotations

import pytest

from kagura_engineer.goal.graph import (
    CycleError,
    Issue,
    build_graph,
    find_cycle,
    parse_refs,
    priority,
    topo_order,
    waves,
)


@pytest.mark.parametrize(
    ("body", "refs"),
    [
        ("Depends on #3", [3]),
        ("depends on: #3, #4 and #5.", [3, 4, 5]),
        ("DEPENDS ON #3 & #4", [3, 4]),
        ("This depends on issue #15 and issues #16", [15, 16]),
        ("Blocked by #7", [7]),
        ("blocked by: #7\nblocked by #8", [7, 8]),
        ("- [ ] #8", [8]),
        ("- [x] #9", [9]),
        ("* [X] #10 the login page", [10]),
        ("  + [ ] #11", [11]),
        ("1. [ ] #12", [12]),
        ("> Depends on #13", [13]),
        # not dependencies
        ("mentions #12 in passing", []),
        ("- [ ] fix #19 later", []),  # a task whose text merely mentions an issue
        ("- #20", []),  # a plain list item, not a task
        ("blocked by #17, see also #18", [17]),  # only the run of references after the phrase
        ("depends on #0", []),
        ("```\ndepends on #13\n- [ ] #14\n```\nDepends on #2", [2]),  # code fences are samples
        ("~~~~\nblocked by #5\n~~~~", []),
        ("<!-- depends on #14 -->visible", []),  # hidden text is not a plan
        ("<!--\nblocked by #15\n-->\nblocked by #16", [16]),
        ("Depends on #3\n- [ ] #3\nblocked by #3", [3]),  # one reference, however often
        ("", []),
    ],
)
def test_references_a_body_can_make(body, refs):
    assert parse_refs(body) == refs


@pytest.mark.parametrize(
    ("labels", "rank"),
    [
        (["priority: high"], 1),
        (["Priority: HIGH"], 1),
        (["priority:low"], 3),
        (["priority/medium"], 2),
        (["priority-critical"], 0),
        (["P0"], 0),
        (["p3"], 3),
        (["bug", "P1", "priority: low"], 1),  # the highest wins
        (["bug"], 2),  # unlabeled ranks as medium
        ([], 2),
        (["P4"], 2),
        (["priority: whenever"], 2),
    ],
)
def test_priority_from_labels(labels, rank):
    assert priority(labels) == rank


def test_self_references_are_dropped_and_outside_references_kept_apart():
    graph = build_graph([
        Issue(1, "a", "depends on #1 and #2"),
        Issue(2, "b", "blocked by #40\n- [x] #41"),
    ])  # fmt: skip
    assert graph.deps == {1: (2,), 2: ()}
    assert graph.external == {1: (), 2: (40, 41)}
    assert graph.notes == ["#1 refers to itself; ignored"]
    assert graph.depends_on(2) == [40, 41]


def test_a_cycle_is_found_and_named():
    graph = build_graph([
        Issue(1, "a", "depends on #2"), Issue(2, "b", "blocked by #3"),
        Issue(3, "c", "- [ ] #1"), Issue(4, "d", ""),
    ])  # fmt: skip
    assert find_cycle(graph) == [1, 2, 3, 1]
    with pytest.raises(CycleError) as err:
        topo_order(graph)
    assert err.value.exit_code == 2
    assert "#1 → #2 → #3 → #1" in err.value.message


def test_no_cycle_in_a_diamond():
    graph = build_graph([
        Issue(1, "a", ""), Issue(2, "b", "depends on #1"),
        Issue(3, "c", "depends on #1"), Issue(4, "d", "depends on #2, #3"),
    ])  # fmt: skip
    assert find_cycle(graph) is None
    assert topo_order(graph) == [1, 2, 3, 4]
    assert waves(graph) == {1: 0, 2: 1, 3: 1, 4: 2}


def test_order_is_dependencies_then_priority_then_number():
    graph = build_graph([
        Issue(1, "uses the greeting", "Depends on #3"),
        Issue(2, "docs", "", ("priority: low",)),
        Issue(3, "greeting", ""),
        Issue(4, "hotfix", "", ("P0",)),
        Issue(5, "also medium", ""),
    ])  # fmt: skip
    # #4 (P0) first; #3 before #1 (its dependent); #1 and #5 are medium, by number; #2 low, last
    assert topo_order(graph) == [4, 3, 1, 5, 2]


def test_a_blocker_inherits_the_priority_of_what_waits_on_it():
    graph = build_graph([
        Issue(1, "urgent feature", "blocked by #9", ("priority: high",)),
        Issue(5, "unrelated", "", ("P1",)),
        Issue(9, "the blocker", "", ("priority: low",)),
    ])  # fmt: skip
    # #9 is low on its own but #1 (high) waits on it: it goes with #1, ahead of #5 (by number: 9 > 5,
    # both rank high; #5 first), and #1 right after its blocker
    assert topo_order(graph) == [5, 9, 1]
    graph = build_graph([
        Issue(1, "urgent feature", "blocked by #9", ("P0",)),
        Issue(5, "unrelated", "", ("P1",)),
        Issue(9, "the blocker", "", ("priority: low",)),
    ])  # fmt: skip
    assert topo_order(graph) == [9, 1, 5]
