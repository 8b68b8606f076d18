"""What a run's savepoint holds beyond the common fields: `Savepoint[RunState]`.

The stored JSON is the one earlier versions wrote (`data.done`, `data.checks`, ...): a field
an older savepoint lacks takes its default, one this version does not know is kept. Nothing
read back from here is trusted to skip work: the checks run again on every job, and
`run.trust` validates what steers git or claude (`base`).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kagura_engineer.memory.savepoint import AgentRecord, SavepointData


class CheckRecord(SavepointData):
    """One configured check's result (`tail`: the end of its output)."""

    command: str
    ok: bool
    seconds: float = 0.0
    tail: str = ""


class SetupRecord(SavepointData):
    """The setup phase's report (`source`: where the trusted setup came from)."""

    source: str | None = None
    detail: str = ""


class RunState(SavepointData):
    #: phase name -> finished (a phase reopened for a fix attempt is False again)
    done: dict[str, bool] = Field(default_factory=dict)
    #: recalled memories (`Memory.to_json`); None until the grounded phase ran
    grounding: list[dict[str, Any]] | None = None
    base: str | None = None
    setup: SetupRecord | None = None
    agent: AgentRecord = Field(default_factory=AgentRecord)
    turns: int = 0
    checks: list[CheckRecord] = Field(default_factory=list)
    checks_head: str | None = None
    failing_checks: list[CheckRecord] = Field(default_factory=list)
    gate_reason: str | None = None
    #: `attempts` when `/kagura resume` reopened a red run: retries count from here
    attempt_base: int = 0
    pr_url: str | None = None
    #: memory slot -> id of the memory written for it (one write per slot, see `_remember_once`)
    memories: dict[str, str] = Field(default_factory=dict)
    outcome_memory: str | None = None
    failure_memory: str | None = None
    halt_reason: str | None = None
    error: str | None = None
    #: loaded from a halted savepoint: this job reopens the gate (`/kagura resume`)
    resuming_halt: bool = False
