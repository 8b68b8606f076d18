"""Readiness, stacking and the fan-out plan (pure over a `Survey`).

An issue is *ready* when every dependency has shipped: closed, or shipped with a PR. When
exactly one dependency's PR is still open the issue is *stacked* on it: it branches from
that PR's head and targets it as base. Two or more open dependency PRs cannot both be a
base: the issue waits until all but one are merged.

`--plan` prints the ready frontier (ready, not yet shipped) as a matrix include list:

    {"include": [{"issue": 12, "title": "...", "wave": 1, "depends_on": [9], "base": "kagura/9-..."}]}

`wave` is the issue's depth in the dependency graph; `base` is the branch to start from
("" = the default branch), for `run --base` in the matrix job.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kagura_engineer.goal.survey import Shipment, Survey

#: characters dropped from a title put in a matrix (a workflow might paste it into a shell)
_UNSAFE = re.compile(r"[`$\\\"';|&<>{}\x00-\x1f\x7f]")


@dataclass
class Readiness:
    ready: bool
    base: str | None = None  # the dependency PR's head ref when stacked
    stacked_on: int | None = None  # that PR's number
    waiting_on: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        return "; ".join(self.waiting_on)


def readiness(survey: Survey, number: int) -> Readiness:
    """Can `number` be driven now, and on which base?"""
    graph = survey.graph
    waiting: list[str] = []
    open_prs: list[tuple[int, Shipment]] = []
    for dep in graph.deps.get(number, ()):
        ship = survey.shipments.get(dep) or Shipment()
        if not ship.shipped:
            waiting.append(f"waits on #{dep} (not shipped yet)")
        elif ship.pr_open:
            open_prs.append((dep, ship))
    for ref in graph.external.get(number, ()):
        ext = survey.externals.get(ref)
        if ext is not None and not ext.satisfied:
            waiting.append(f"waits on #{ref} ({ext.note})")
    if len(open_prs) > 1 and not waiting:
        prs = " and ".join(f"#{s.pr_number} (for #{d})" for d, s in open_prs)
        waiting.append(f"depends on several open pull requests ({prs}); merge all but one to stack on it")
    if waiting:
        return Readiness(False, waiting_on=waiting)
    if open_prs:
        _, ship = open_prs[0]
        return Readiness(True, base=ship.head_ref, stacked_on=ship.pr_number)
    return Readiness(True)


def safe_title(title: str, limit: int = 100) -> str:
    """A title fit for a matrix value: no shell metacharacters or control characters."""
    from kagura_engineer.github.sanitize import strip_invisible
    from kagura_engineer.proc import redact

    text = _UNSAFE.sub("", redact(strip_invisible(title)))
    text = re.sub(r"\s+", " ", text).strip()
    return text[:limit].rstrip()


def frontier(survey: Survey) -> list[dict[str, Any]]:
    """The matrix include entries: open, not shipped, ready; in drive order."""
    include = []
    for n in survey.order:
        if survey.shipments[n].shipped:
            continue
        state = readiness(survey, n)
        if not state.ready:
            continue
        include.append({
            "issue": n,
            "title": safe_title(survey.issues[n].title),
            "wave": survey.waves[n],
            "depends_on": survey.graph.depends_on(n),
            "base": state.base or "",
        })  # fmt: skip
    return include


def matrix(survey: Survey) -> dict[str, Any]:
    return {"include": frontier(survey)}


def matrix_json(plan: Mapping[str, Any]) -> str:
    """The single-line JSON written to stdout and to `GITHUB_OUTPUT` (`matrix=`)."""
    return json.dumps(plan, separators=(",", ":"), ensure_ascii=False)


def write_output(plan: Mapping[str, Any], environ: Mapping[str, str]) -> bool:
    """Append `matrix=<json>` to `$GITHUB_OUTPUT` (False outside Actions)."""
    from kagura_engineer.workflow import ActionIO

    return ActionIO(environ).set_output("matrix", matrix_json(plan))


def plan_rows(survey: Survey) -> list[Any]:
    """One row per open issue for the plan's summary: shipped, ready or waiting."""
    from kagura_engineer.goal.outcome import GoalRow

    rows = []
    for n in survey.order:
        ship = survey.shipments[n]
        row = GoalRow(issue=n, title=survey.issues[n].title, depends_on=survey.graph.depends_on(n))
        if ship.shipped:
            row.state, row.pr_number, row.pr_url = "shipped", ship.pr_number, ship.pr_url
            row.verdict, row.cost_usd = ship.verdict, ship.cost_usd
        else:
            state = readiness(survey, n)
            row.state = "ready" if state.ready else "waiting"
            row.reason, row.stacked_on = state.reason, state.stacked_on
        rows.append(row)
    return rows
