"""The verdict gate: ground truth only (the agent's structured report, the checks the
harness ran itself, the commit seen on origin). Scraped phrases decide nothing."""

from __future__ import annotations

from dataclasses import dataclass

GREEN, YELLOW, RED = "green", "yellow", "red"


@dataclass(frozen=True)
class CheckRun:
    command: str
    ok: bool
    seconds: float
    tail: str = ""  # redacted end of the output, for the PR body and the fix prompt

    def to_json(self) -> dict:
        return {"command": self.command, "ok": self.ok, "seconds": round(self.seconds, 2)}


@dataclass(frozen=True)
class Verdict:
    verdict: str
    reason: str

    @property
    def ships(self) -> bool:
        return self.verdict in (GREEN, YELLOW)


_AGENT_REASONS = {
    "blocked": "the agent reported it is blocked",
    "needs_input": "the agent needs input from a person",
    "error": "the agent failed",
    "budget_exhausted": "budget exhausted",
    "turns_exhausted": "turn limit reached",
    "timeout": "time limit reached",
}


def decide(
    agent_status: str,
    checks: list[CheckRun] | None,
    checks_configured: bool,
    pushed: bool,
    has_changes: bool,
    agent_detail: str = "",
) -> Verdict:
    """green: done and the checks pass · yellow: done, no checks configured · red: otherwise."""
    if agent_status != "done":
        reason = _AGENT_REASONS.get(agent_status, f"the agent ended with status '{agent_status}'")
        return Verdict(RED, f"{reason}: {agent_detail}" if agent_detail else reason)
    if not has_changes:
        return Verdict(RED, "the agent reported done but the branch has no changes against the base")
    if not pushed:
        return Verdict(RED, "the work is not on origin (push failed)")
    if not checks_configured:
        return Verdict(YELLOW, "done, but no checks are configured (repo.yaml `checks`)")
    failing = [c.command for c in checks or [] if not c.ok]
    if checks is None or failing:
        return Verdict(RED, "checks failing: " + ", ".join(failing) if failing else "checks did not run")
    return Verdict(GREEN, "done and every check passes")
