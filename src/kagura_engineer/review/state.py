"""What a review's savepoint holds beyond the common fields: `Savepoint[ReviewState]`.

Verdicts are keyed by the commit they reviewed (newest last), so an older verdict never gates
a newer head; `fix` is the fix loop in flight (see `fixloop`), `chain` counts the loops made
from one reviewed head.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kagura_engineer.memory.savepoint import AgentRecord, SavepointData


class VerdictRecord(SavepointData):
    """One head's review: the verdict, its envelope and, once posted, the review's id and URL."""

    verdict: str | None = None
    envelope: dict[str, Any] | None = None
    reviewer: str | None = None
    #: the blocking findings' (file, title) pairs (`Envelope.signature`)
    signature: list[list[str]] | None = None
    posted: int | None = None
    review_url: str | None = None


class FixRecord(SavepointData):
    """One fix loop, moving fixing → fixed → committed → pushed (or superseded)."""

    loop: int = 0
    from_: str = Field(default="", alias="from")  # the head that was reviewed red
    state: str = "fixing"
    session: str | None = None
    signature_before: list[list[str]] | None = None
    agent: AgentRecord | None = None
    changed: bool | None = None  # the agent left a change (a dirty tree or a new commit)
    commit: str | None = None
    to: str | None = None  # the head pushed (== from_ when there was nothing to push)


class ChainRecord(SavepointData):
    """The fix loops made since `start`; `head` is the latest head they led to."""

    start: str
    head: str
    loops: int = 0


class ReviewState(SavepointData):
    verdicts: dict[str, VerdictRecord] = Field(default_factory=dict)
    fix: FixRecord | None = None
    chain: ChainRecord | None = None
    #: dollars spent by this job (a resumed fix loop continues it; a fresh job starts at 0)
    spent: float = 0.0
    #: the progress lines: [name, state, detail]
    steps: list[list[str]] = Field(default_factory=list)
    target: dict[str, Any] | None = None
