"""What a setup step answers, and the plan it makes before touching anything."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from kagura_engineer.setup.effects import Command

if TYPE_CHECKING:
    from kagura_engineer.setup.context import SetupContext


class StepStatus(StrEnum):
    OK = "OK"
    SKIPPED = "SKIPPED"
    NEEDS_USER = "NEEDS_USER"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Verdict:
    status: StepStatus
    detail: str
    hint: str | None = None


@dataclass(frozen=True)
class Plan:
    """Either a final `verdict` (nothing to do, or only a person can act), or `commands`
    to run followed by `verify`, which re-detects and gives the verdict."""

    verdict: Verdict | None = None
    commands: tuple[Command, ...] = ()
    verify: Callable[[SetupContext], Verdict] | None = None
    action: str = ""  # what the commands do, e.g. "install git"

    @classmethod
    def done(cls, status: StepStatus, detail: str, hint: str | None = None) -> Plan:
        return cls(verdict=Verdict(status, detail, hint))

    @classmethod
    def act(cls, action: str, commands: list[Command], verify: Callable[[SetupContext], Verdict]) -> Plan:
        return cls(commands=tuple(commands), verify=verify, action=action)


def ok(detail: str, hint: str | None = None) -> Verdict:
    return Verdict(StepStatus.OK, detail, hint)


def needs_user(detail: str, hint: str | None = None) -> Verdict:
    return Verdict(StepStatus.NEEDS_USER, detail, hint)


def failed(detail: str, hint: str | None = None) -> Verdict:
    return Verdict(StepStatus.FAIL, detail, hint)


@dataclass(frozen=True)
class StepResult:
    name: str
    status: StepStatus
    detail: str
    hint: str | None = None
    commands: tuple[str, ...] = field(default_factory=tuple)  # run, or with --dry-run would run

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status.value,
            "detail": self.detail,
            "hint": self.hint,
            "commands": list(self.commands),
        }


@dataclass(frozen=True)
class SetupReport:
    results: tuple[StepResult, ...]
    dry_run: bool = False

    @property
    def exit_code(self) -> int:
        """1 if any step FAILed (wins), else 2 if any NEEDS_USER, else 0."""
        statuses = {r.status for r in self.results}
        if StepStatus.FAIL in statuses:
            return 1
        if StepStatus.NEEDS_USER in statuses:
            return 2
        return 0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def to_json(self) -> dict[str, Any]:
        return {"steps": [r.to_json() for r in self.results], "ok": self.ok, "dry_run": self.dry_run}
