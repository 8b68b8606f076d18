"""What a doctor check answers: a `Status`, a one-line detail and an optional fix hint."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


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
    def exit_code(self) -> int:
        """0 when nothing FAILed (OK, WARN and SKIPPED all pass); 2 when the config check
        FAILed (a config error, as for every command); else 1."""
        if self.ok:
            return 0
        return 2 if any(r.name == "config" and r.status is Status.FAIL for r in self.results) else 1

    def to_json(self) -> dict[str, Any]:
        return {"checks": [r.to_json() for r in self.results], "ok": self.ok}

    def get(self, name: str) -> CheckResult:
        return next(r for r in self.results if r.name == name)
