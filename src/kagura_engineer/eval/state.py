"""What an evaluation's savepoint holds beyond the common fields: `Savepoint[EvalState]`."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kagura_engineer.memory.savepoint import SavepointData


class EvalState(SavepointData):
    #: `EvalSpec.fingerprint()`: a different spec starts afresh instead of resuming
    spec: dict[str, Any] | None = None
    #: `<issue>/<arm>/<repeat>` -> `RunRecord.to_json()`, written as each run finishes
    results: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: what runs cut off by a kill spent (read from their run savepoints)
    lost_usd: float = 0.0
    finished: bool = False
