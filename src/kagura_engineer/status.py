"""How a job ended, in one word, and the exit code each word means.

run, review, goal and eval report one of these words (in `--json` and as the Action's
`status` output); the exit code follows from the word alone: 0 done, 1 failed, 2 a person
must act (blocked, or busy: another job holds the target).

Every command's outcome also gives its `Ending`: the word and the few facts a face shows
(the Action's outputs, the reason line), typed, so no face reads a command's JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    SHIPPED = "shipped"  # run, goal: the pull request(s) are open
    REVIEWED = "reviewed"  # review: the verdict is posted
    EVALUATED = "evaluated"  # eval: a run stopped at the gate, nothing pushed
    SKIPPED = "skipped"  # the Action: nothing to do for this event
    BLOCKED = "blocked"
    BUSY = "busy"
    FAILED = "failed"


EXIT_CODES: dict[Status, int] = {
    Status.SHIPPED: 0, Status.REVIEWED: 0, Status.EVALUATED: 0, Status.SKIPPED: 0,
    Status.FAILED: 1, Status.BLOCKED: 2, Status.BUSY: 2,
}  # fmt: skip
#: The words of the Action's `status` output (action.yml): a finished review says `shipped`.
ACTION_STATUSES = frozenset(Status) - {Status.REVIEWED}


def exit_code(status: str) -> int:
    """The exit code for a status word; a word not listed is a failure (1)."""
    return EXIT_CODES.get(status, 1)  # type: ignore[call-overload]


@dataclass(frozen=True)
class Ending:
    """How a command ended, as the faces show it (None: the command has no such fact)."""

    status: Status
    reason: str = ""  # why it ended so, one line ("" when the status says it all)
    pr_number: int | None = None
    pr_url: str | None = None
    verdict: str | None = None  # green | yellow | red
    cost_usd: float | None = None
    matrix: dict[str, Any] | None = None  # goal --plan: the ready frontier
    savepoint: str | None = None

    @property
    def exit_code(self) -> int:
        return exit_code(self.status)
