"""What a goal's savepoint holds beyond the common fields: `Savepoint[GoalState]`."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kagura_engineer.memory.savepoint import SavepointData


class GoalState(SavepointData):
    milestone: str | None = None
    #: issue number (as text) -> `GoalRow.to_json()`, the cost spent so far included
    results: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: the issue being driven (its cost is recorded once it ends, even after a kill)
    current: int | None = None
    halted_at: int | None = None
    reason: str | None = None
