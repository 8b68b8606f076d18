"""What an evaluation's runs may touch: recall from the team's memory, reads from GitHub.

`RecallOnly` is the team's memory as one arm sees it: arm on gets `recall` (and the reads
around it), arm off gets nothing at all; every write raises, so a slip in the loop cannot
teach the team's store what an experiment did. `ReadOnlyGitHub` lets through the reads a
run makes (the issue, the repository, a workflow run, a milestone's issues) and refuses
everything else before any request is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kagura_engineer.errors import KaguraError


class EvalRefused(KaguraError):
    """A write an evaluation never makes (exit 1: it is a bug in the caller, not the user's)."""

    code = "eval-refused"


class RecallOnly:
    """The team's memory for one arm: recall when `enabled`, nothing otherwise; no writes."""

    def __init__(self, team: Any | None, enabled: bool) -> None:
        self._team = team
        self.enabled = enabled and team is not None
        self.recalls = 0

    def recall(self, query: str, k: int = 5, filters: dict[str, Any] | None = None) -> list[Any]:
        if not self.enabled:
            return []
        self.recalls += 1
        return self._team.recall(query, k=k, filters=filters)

    def reference(self, id: str) -> Any | None:
        return self._team.reference(id) if self.enabled else None

    def explore(self, id: str, depth: int = 2) -> list[Any]:
        return self._team.explore(id, depth) if self.enabled else []

    def get_state(self, key: str) -> Any | None:
        return None

    def _refuse(self, what: str) -> EvalRefused:
        return EvalRefused(f"eval never writes to the team's memory ({what} refused)")

    def remember(self, summary: str, content: str, type: str, tags: Sequence[str] = (), importance: float = 0.5,
                 details: dict[str, Any] | None = None, *, external_id: str | None = None) -> str:  # fmt: skip
        raise self._refuse("remember")

    def forget(self, id: str) -> bool:
        raise self._refuse("forget")

    def link(self, src: str, dst: str, edge_type: str = "related_to", weight: float = 1.0) -> None:
        raise self._refuse("link")

    def feedback(self, id: str, helpful: bool) -> None:
        raise self._refuse("feedback")

    def set_state(self, key: str, value: Any, ttl: float | None = None) -> None:
        raise self._refuse("set_state")

    def close(self) -> None:
        """The team's store belongs to whoever opened it."""


#: The GitHub client calls a run (and eval itself) may make: all reads.
READS = frozenset({
    "owner", "repo", "full_name", "get_issue", "get_repo", "get_workflow_run", "list_milestone_issues",
    "find_milestone", "list_milestones",
})  # fmt: skip


class ReadOnlyGitHub:
    """A GitHub client that answers reads and refuses every other call before it is sent."""

    def __init__(self, gh: Any) -> None:
        self._gh = gh

    def __getattr__(self, name: str) -> Any:
        if name in READS:
            return getattr(self._gh, name)
        if name.startswith("__"):
            raise AttributeError(name)

        def refused(*args: Any, **kwargs: Any) -> Any:
            raise EvalRefused(f"eval never writes to GitHub ({name} refused)")

        return refused
