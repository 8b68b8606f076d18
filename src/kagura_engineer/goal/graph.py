"""A milestone's dependency graph, parsed from issue bodies (pure: no I/O).

References an issue body can make (case-insensitive, one or more `#n` after the phrase):

    Depends on #3            depends on: #3, #4 and #5      Blocked by #7
    - [ ] #8                 - [x] #9                       * [ ] #10 the login page

`#n` only (this repository). Text inside fenced code blocks and HTML comments is not
read: GitHub does not show a comment, and a code sample is not a plan. A reference to the
issue itself is dropped. References to issues that are not open in the milestone are kept
apart (`Graph.external`) for the caller to resolve: a closed one is satisfied, an open one
is not.

Order: dependencies first, then priority, then number. Priority comes from labels
(`priority: high|medium|low`, also `priority/high` or `priority-high`, plus `critical` /
`urgent`; `P0`..`P3`), case-insensitive; the highest label wins; an unlabeled issue ranks
as medium (P2). An issue inherits the priority of anything that waits on it, so the
blocker of a P0 goes before an unrelated P1.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kagura_engineer.errors import KaguraError

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_REF = r"#(\d+)\b"
_PHRASE = re.compile(
    r"\b(?:depends\s+on|blocked\s+by)\s*:?\s*(?:issues?\s+)?"
    r"(#\d+\b(?:\s*(?:,|&|\band\b|\s)\s*(?:issues?\s+)?#\d+\b)*)",
    re.IGNORECASE,
)
_TASK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\[[ xX]\]\s+" + _REF)
_PRIORITY_WORDS = {"critical": 0, "urgent": 0, "highest": 0, "high": 1, "medium": 2, "normal": 2, "low": 3, "lowest": 3}
_PRIORITY_LABEL = re.compile(r"^\s*priority\s*[:/=\-]?\s*(\w+)\s*$", re.IGNORECASE)
_P_LABEL = re.compile(r"^\s*p([0-3])\s*$", re.IGNORECASE)
DEFAULT_PRIORITY = 2


class CycleError(KaguraError):
    """The milestone's dependencies form a loop: no order exists."""

    code = "goal-cycle"
    exit_code = 2


@dataclass(frozen=True)
class Issue:
    """One issue as the goal sees it."""

    number: int
    title: str
    body: str = ""
    labels: tuple[str, ...] = ()
    state: str = "open"

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Issue:
        labels = tuple(
            str(label.get("name", "")) if isinstance(label, Mapping) else str(label)
            for label in data.get("labels") or ()
        )
        return cls(
            number=int(data["number"]),
            title=str(data.get("title") or ""),
            body=str(data.get("body") or ""),
            labels=labels,
            state=str(data.get("state") or "open"),
        )

    @property
    def priority(self) -> int:
        return priority(self.labels)


def _visible_lines(body: str) -> Iterable[str]:
    """The body's lines outside HTML comments and fenced code blocks."""
    fence: str | None = None
    for line in _COMMENT.sub("", body or "").splitlines():
        match = _FENCE.match(line)
        if fence is not None:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = None
            continue
        if match:
            fence = match.group(1)
            continue
        yield line


def parse_refs(body: str) -> list[int]:
    """The issue numbers `body` depends on, in first-seen order, without duplicates."""
    found: list[int] = []
    for line in _visible_lines(body):
        task = _TASK.match(line)
        if task:
            found.append(int(task.group(1)))
        for phrase in _PHRASE.finditer(line):
            found += [int(n) for n in re.findall(_REF, phrase.group(1))]
    return [n for n in dict.fromkeys(found) if n > 0]


def priority(labels: Iterable[str]) -> int:
    """0 (highest) .. 3 (lowest) from the labels; DEFAULT_PRIORITY when none says."""
    ranks = []
    for label in labels:
        word = _PRIORITY_LABEL.match(label)
        if word and word.group(1).lower() in _PRIORITY_WORDS:
            ranks.append(_PRIORITY_WORDS[word.group(1).lower()])
            continue
        p = _P_LABEL.match(label)
        if p:
            ranks.append(int(p.group(1)))
    return min(ranks, default=DEFAULT_PRIORITY)


@dataclass
class Graph:
    """Open issues and their dependencies. `deps[n]`: open issues in the milestone `n` waits
    on; `external[n]`: references outside that set; `notes`: what was dropped and why."""

    issues: dict[int, Issue]
    deps: dict[int, tuple[int, ...]]
    external: dict[int, tuple[int, ...]]
    notes: list[str] = field(default_factory=list)

    def depends_on(self, number: int) -> list[int]:
        """Every reference of `number` that is a dependency (in the milestone or not), sorted."""
        return sorted({*self.deps.get(number, ()), *self.external.get(number, ())})

    def dependents(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {n: [] for n in self.issues}
        for n, deps in self.deps.items():
            for d in deps:
                out[d].append(n)
        return out


def build_graph(issues: Iterable[Issue]) -> Graph:
    """The graph of the given (open) issues from their bodies."""
    by_number = {i.number: i for i in issues}
    deps: dict[int, tuple[int, ...]] = {}
    external: dict[int, tuple[int, ...]] = {}
    notes: list[str] = []
    for n in sorted(by_number):
        refs = parse_refs(by_number[n].body)
        if n in refs:
            notes.append(f"#{n} refers to itself; ignored")
        refs = [r for r in refs if r != n]
        deps[n] = tuple(r for r in refs if r in by_number)
        external[n] = tuple(r for r in refs if r not in by_number)
    return Graph(by_number, deps, external, notes)


def find_cycle(graph: Graph) -> list[int] | None:
    """One dependency loop as `[a, b, ..., a]` (a waits on b ...), or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    color = dict.fromkeys(graph.issues, WHITE)
    for root in sorted(graph.issues):
        if color[root] != WHITE:
            continue
        path: list[int] = [root]
        stack = [iter(sorted(graph.deps.get(root, ())))]
        color[root] = GREY
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                color[path.pop()] = BLACK
                stack.pop()
                continue
            if color[nxt] == GREY:
                return [*path[path.index(nxt):], nxt]
            if color[nxt] == WHITE:
                color[nxt] = GREY
                path.append(nxt)
                stack.append(iter(sorted(graph.deps.get(nxt, ()))))
    return None


def describe_cycle(cycle: list[int]) -> str:
    return " → ".join(f"#{n}" for n in cycle)


def check_acyclic(graph: Graph) -> None:
    """CycleError (exit 2) naming the loop, when there is one."""
    cycle = find_cycle(graph)
    if cycle:
        raise CycleError(
            f"the milestone's dependencies form a cycle: {describe_cycle(cycle)} "
            f"(each waits on the next)",
            hint="remove one of those 'depends on' / 'blocked by' / task-list references",
        )


def effective_priority(graph: Graph) -> dict[int, int]:
    """Own priority, raised to the highest of everything that (transitively) waits on it."""
    dependents = graph.dependents()
    memo: dict[int, int] = {}

    def rank(n: int, seen: frozenset[int]) -> int:
        if n in memo:
            return memo[n]
        best = graph.issues[n].priority
        for m in dependents[n]:
            if m not in seen:  # guards a cyclic graph; check_acyclic reports those
                best = min(best, rank(m, seen | {n}))
        memo[n] = best
        return best

    return {n: rank(n, frozenset()) for n in graph.issues}


def topo_order(graph: Graph) -> list[int]:
    """Every issue, dependencies first, then (effective) priority, then number.

    Raises CycleError when there is no such order.
    """
    check_acyclic(graph)
    prio = effective_priority(graph)
    waiting = {n: len(graph.deps.get(n, ())) for n in graph.issues}
    dependents = graph.dependents()
    ready = [(prio[n], n) for n, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        _, n = heapq.heappop(ready)
        order.append(n)
        for m in dependents[n]:
            waiting[m] -= 1
            if waiting[m] == 0:
                heapq.heappush(ready, (prio[m], m))
    return order


def waves(graph: Graph) -> dict[int, int]:
    """Depth in the graph: 0 for an issue with no open dependency in the milestone, else
    one more than its deepest dependency."""
    check_acyclic(graph)
    depth: dict[int, int] = {}
    for n in topo_order(graph):
        depth[n] = 1 + max((depth[d] for d in graph.deps.get(n, ())), default=-1)
    return depth
