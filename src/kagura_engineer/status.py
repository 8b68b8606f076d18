"""How a job ended, in one word, and the exit code each word means.

run, review, goal and eval report one of these words (in `--json` and as the Action's
`status` output); the exit code follows from the word alone: 0 done, 1 failed, 2 a person
must act (blocked, or busy: another job holds the target).
"""

from __future__ import annotations

from enum import StrEnum


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
