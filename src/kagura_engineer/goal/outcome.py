"""What `goal` reports: one row per open issue, the status, the spend and where it halted.

Row states: shipped · blocked · failed · busy (another job holds it) · waiting (its
dependencies are not ready) · pending (not reached: the goal halted earlier) · ready
(--plan: would be driven now).

Exit 0 shipped (every open issue) · 1 failed · 2 blocked (a red issue, a busy one, the goal
budget, or issues left waiting on dependencies).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from kagura_engineer.status import Ending, Status, exit_code


@dataclass
class GoalRow:
    issue: int
    title: str
    state: str = "pending"
    pr_number: int | None = None
    pr_url: str | None = None
    verdict: str | None = None
    cost_usd: float | None = None
    depends_on: list[int] = field(default_factory=list)
    stacked_on: int | None = None
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "issue": self.issue,
            "title": self.title,
            "state": self.state,
            "pr_number": self.pr_number,
            "pr_url": self.pr_url,
            "verdict": self.verdict,
            "cost_usd": None if self.cost_usd is None else round(self.cost_usd, 4),
            "depends_on": list(self.depends_on),
            "stacked_on": self.stacked_on,
            "reason": self.reason,
        }


@dataclass
class GoalResult:
    status: str  # shipped | blocked | failed
    milestone: str
    rows: list[GoalRow] = field(default_factory=list)
    cost_usd: float = 0.0  # what this goal's runs have spent on the milestone (across re-runs)
    budget_usd: float | None = None
    halted_at: int | None = None
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    closed: int = 0  # issues of the milestone already closed
    savepoint: str | None = None

    @property
    def exit_code(self) -> int:
        return exit_code(self.status)

    def ending(self) -> Ending:
        return Ending(Status(self.status), reason=self.reason, cost_usd=round(self.cost_usd, 4),
                      savepoint=self.savepoint)  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "milestone": self.milestone,
            "issues": [r.to_json() for r in self.rows],
            "cost_usd": round(self.cost_usd, 4),
            "budget_usd": self.budget_usd,
            "halted_at": self.halted_at,
            "reason": self.reason,
            "notes": list(self.notes),
            "closed": self.closed,
            "savepoint": self.savepoint,
        }


@dataclass(frozen=True)
class GoalPlan:
    """What `goal --plan` reports: the ready frontier as a matrix include list, nothing driven.

    Its `--json` word is `planned`; to the Action a printed plan is a finished job (`shipped`).
    """

    milestone: str
    include: list[dict[str, Any]]
    rows: list[GoalRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    status: ClassVar[Status] = Status.SHIPPED

    @property
    def exit_code(self) -> int:
        return exit_code(self.status)

    def ending(self) -> Ending:
        return Ending(self.status, matrix={"include": self.include})

    def to_json(self) -> dict[str, Any]:
        # `include` is the matrix's own field: the Action turns it into its `matrix` output
        return {"status": "planned", "milestone": self.milestone, "include": self.include,
                "issues": [r.to_json() for r in self.rows], "notes": list(self.notes)}  # fmt: skip
