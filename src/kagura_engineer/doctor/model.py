"""What a doctor check answers: a `Status`, a one-line detail and an optional fix hint."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kagura_engineer.status import Ending, exit_code
from kagura_engineer.status import Status as JobStatus


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"
    SKIPPED = "SKIPPED"


@dataclass(frozen=True)
class Outcome:
    """A check's verdict before the runner attaches its name."""

    status: Status
    detail: str
    hint: str | None = None


def ok(detail: str, hint: str | None = None) -> Outcome:
    return Outcome(Status.OK, detail, hint)


def warn(detail: str, hint: str | None = None) -> Outcome:
    return Outcome(Status.WARN, detail, hint)


def fail(detail: str, hint: str | None = None) -> Outcome:
    return Outcome(Status.FAIL, detail, hint)


def skipped(detail: str, hint: str | None = None) -> Outcome:
    return Outcome(Status.SKIPPED, detail, hint)


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str
    hint: str | None = None
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status.value, "detail": self.detail, "hint": self.hint}


@dataclass(frozen=True)
class Report:
    """All results, in registry order."""

    results: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        return all(r.status is not Status.FAIL for r in self.results)

    @property
    def status(self) -> JobStatus:
        """shipped when nothing FAILed (OK, WARN and SKIPPED all pass); blocked when the config
        check FAILed (a config error, as for every command); else failed."""
        if self.ok:
            return JobStatus.SHIPPED
        config_failed = any(r.name == "config" and r.status is Status.FAIL for r in self.results)
        return JobStatus.BLOCKED if config_failed else JobStatus.FAILED

    @property
    def exit_code(self) -> int:
        """0 when nothing FAILed; 2 when the config check FAILed; else 1."""
        return exit_code(self.status)

    def ending(self) -> Ending:
        failed = [r.name for r in self.results if r.status is Status.FAIL]
        return Ending(self.status, reason=f"failed checks: {', '.join(failed)}" if failed else "")

    def to_json(self) -> dict[str, Any]:
        return {"checks": [r.to_json() for r in self.results], "ok": self.ok}

    def get(self, name: str) -> CheckResult:
        return next(r for r in self.results if r.name == name)
