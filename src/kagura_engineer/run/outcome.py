"""What `run` reports: one object for --json, the Action outputs and the exit code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kagura_engineer.status import Ending, Status, exit_code

PHASES = ("branch", "grounded", "setup", "implement", "checks", "gate", "push", "pr", "remember")


@dataclass
class RunOutcome:
    status: str  # shipped | blocked | failed | busy | evaluated (eval: stopped at the gate)
    issue: int
    branch: str | None = None
    pr_number: int | None = None
    pr_url: str | None = None
    verdict: str | None = None  # green | yellow | red
    cost_usd: float = 0.0
    turns: int = 0
    resumed_from: str | None = None
    phases: list[dict[str, Any]] = field(default_factory=list)
    reason: str = ""
    savepoint: str | None = None

    @property
    def exit_code(self) -> int:
        return exit_code(self.status)

    def ending(self) -> Ending:
        return Ending(
            Status(self.status), reason=self.reason, pr_number=self.pr_number, pr_url=self.pr_url,
            verdict=self.verdict, cost_usd=round(self.cost_usd, 4), savepoint=self.savepoint,
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "issue": self.issue,
            "branch": self.branch,
            "pr_number": self.pr_number,
            "pr_url": self.pr_url,
            "verdict": self.verdict,
            "cost_usd": round(self.cost_usd, 4),
            "turns": self.turns,
            "resumed_from": self.resumed_from,
            "phases": self.phases,
            "reason": self.reason,
            "savepoint": self.savepoint,
        }
