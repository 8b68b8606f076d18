"""Where a milestone stands: its issues, their graph, what has shipped, what waits outside.

An open issue has *shipped* when its run savepoint says so (phase "shipped" and the PR is
still found by its branch), or when a PR from our branch for it is open
(`branch_name(config.branch_prefix, n, title)`), e.g. made by a matrix job whose memory
this job does not share. A shipped issue's PR is either still open (dependents stack on
its head) or closed/merged (dependents start from the default branch).

References outside the milestone's open issues: closed (issue, or PR merged/closed) →
satisfied; open → not satisfied, noted; unknown number → ignored, noted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kagura_engineer.errors import ConfigError, KaguraError, NotFound
from kagura_engineer.git import branch_name
from kagura_engineer.goal.context import GoalContext
from kagura_engineer.goal.graph import Graph, Issue, build_graph, topo_order, waves
from kagura_engineer.jobkey import JobKey


@dataclass
class Shipment:
    """An issue's PR as found on GitHub (or just made by this goal)."""

    shipped: bool = False
    pr_number: int | None = None
    pr_url: str | None = None
    pr_open: bool = False
    head_ref: str | None = None
    verdict: str | None = None
    cost_usd: float | None = None


@dataclass
class External:
    number: int
    satisfied: bool
    note: str


@dataclass
class Survey:
    milestone: str
    graph: Graph
    order: list[int]
    waves: dict[int, int]
    closed: set[int]
    shipments: dict[int, Shipment]
    externals: dict[int, External]
    notes: list[str] = field(default_factory=list)

    @property
    def issues(self) -> dict[int, Issue]:
        return self.graph.issues


def survey(ctx: GoalContext) -> Survey:
    """Read the milestone and the state of every open issue (CycleError on a loop)."""
    try:
        items = ctx.gh.list_milestone_issues(ctx.milestone, state="all")
    except NotFound as exc:  # a milestone that does not exist is a usage error
        raise ConfigError(exc.message, hint=exc.hint) from None
    open_issues = [Issue.from_api(i) for i in items if i.get("state") == "open"]
    closed = {int(i["number"]) for i in items if i.get("state") != "open"}
    graph = build_graph(open_issues)
    order = topo_order(graph)  # raises CycleError before anything else is asked
    depth = waves(graph)
    shipments = {n: shipment(ctx, graph.issues[n]) for n in order}
    externals: dict[int, External] = {}
    for n in order:
        for ref in graph.external.get(n, ()):
            if ref not in externals:
                externals[ref] = _external(ctx, ref, closed)
    notes = list(graph.notes)
    for n in order:
        for ref in graph.external.get(n, ()):
            ext = externals[ref]
            if not ext.satisfied or ext.note.startswith("ignored"):
                notes.append(f"#{n} depends on #{ref}: {ext.note}")
    return Survey(ctx.milestone, graph, order, depth, closed, shipments, externals, notes)


def shipment(ctx: GoalContext, issue: Issue) -> Shipment:
    """Has this open issue shipped? From its run savepoint, else an open PR from our branch."""
    from kagura_engineer.memory.savepoint import SavepointError

    key = str(JobKey.run(ctx.gh.owner, ctx.gh.repo, issue.number))
    try:
        sp = ctx.store.load(key)
    except SavepointError:
        sp = None  # unreadable: the run itself will say so when it is driven
    if sp is not None and sp.phase == "shipped" and sp.branch:
        pr = ctx.gh.find_pr(sp.branch, state="all")
        if pr:
            return _from_pr(pr, verdict=sp.verdict, cost=sp.cost_usd)
    branch = sp.branch if sp is not None and sp.branch else branch_name(ctx.config.branch_prefix, issue.number, issue.title)
    pr = ctx.gh.find_pr(branch, state="open")
    if pr:
        return _from_pr(pr, verdict=sp.verdict if sp else None, cost=sp.cost_usd if sp else None)
    return Shipment()


def _from_pr(pr: dict[str, Any], verdict: str | None, cost: float | None) -> Shipment:
    return Shipment(
        shipped=True, pr_number=int(pr["number"]), pr_url=pr.get("html_url"),
        pr_open=pr.get("state") == "open", head_ref=(pr.get("head") or {}).get("ref"),
        verdict=verdict, cost_usd=cost,
    )  # fmt: skip


def _external(ctx: GoalContext, number: int, closed_in_milestone: set[int]) -> External:
    from kagura_engineer.github.client import IsPullRequest

    if number in closed_in_milestone:
        return External(number, True, "closed")
    try:
        data = ctx.gh.get_issue(number)
        where = "not in this milestone"
        if data.get("state") == "open":
            return External(number, False, f"open and {where}: waiting until it is closed")
        return External(number, True, "closed")
    except IsPullRequest:
        pr = ctx.gh.get_pull(number)
        if pr.get("state") == "open":
            return External(number, False, f"#{number} is an open pull request: waiting until it is merged")
        return External(number, True, "pull request closed")
    except NotFound:
        return External(number, True, "ignored: no such issue in this repository")
    except KaguraError as exc:
        return External(number, False, f"could not be checked ({exc.message}): waiting")
