"""Run checks concurrently, each isolated: a crash or a hang becomes that check's FAIL.

Each check runs in its own daemon thread; the runner waits for each until its own
deadline (all start together, so total wall time is about the slowest check). A thread
still running at its deadline is reported as timed out and abandoned: being a daemon, it
cannot keep the process alive, and a subprocess it started is bounded by proc's timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kagura_engineer.doctor.context import DoctorContext
from kagura_engineer.doctor.model import CheckResult, Outcome, Report, Status

#: Default per-check timeout in seconds.
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Check:
    """A named check: `func(ctx) -> Outcome`, bounded by `timeout` seconds."""

    name: str
    func: Callable[[DoctorContext], Outcome]
    timeout: float = DEFAULT_TIMEOUT


class _Slot:
    def __init__(self, check: Check, ctx: DoctorContext) -> None:
        self.check = check
        self.ctx = ctx
        self.result: CheckResult | None = None
        self.thread = threading.Thread(target=self._run, name=f"doctor-{check.name}", daemon=True)

    def _run(self) -> None:
        start = time.monotonic()
        try:
            outcome = self.check.func(self.ctx)
            if not isinstance(outcome, Outcome):
                raise TypeError(f"check returned {type(outcome).__name__}, not an Outcome")
            status, detail, hint = outcome.status, outcome.detail, outcome.hint
        except Exception as exc:  # isolation: a crashing check is that check's FAIL, nothing more
            status, detail, hint = Status.FAIL, _reason(exc), getattr(exc, "hint", None)
        self.result = CheckResult(self.check.name, status, detail, hint, time.monotonic() - start)


def _reason(exc: BaseException) -> str:
    from kagura_engineer.errors import KaguraError

    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    if isinstance(exc, KaguraError):
        return first or type(exc).__name__
    return f"check crashed: {type(exc).__name__}: {first}" if first else f"check crashed: {type(exc).__name__}"


def run_checks(checks: Sequence[Check], ctx: DoctorContext, timeout: float | None = None) -> Report:
    """Run every check at once; results come back in the order given, secrets redacted.

    `timeout`, when given, overrides each check's own timeout.
    """
    from kagura_engineer.proc import redact

    slots = [_Slot(check, ctx) for check in checks]
    start = time.monotonic()
    for slot in slots:
        slot.thread.start()
    results = []
    for slot in slots:
        limit = timeout if timeout is not None else slot.check.timeout
        slot.thread.join(max(0.0, start + limit - time.monotonic()))
        result = slot.result
        if result is None:  # still running at its deadline
            result = CheckResult(
                slot.check.name,
                Status.FAIL,
                f"timed out after {limit:g}s",
                "something it waits on hangs (a daemon, a network call or a binary); rerun with --timeout",
                limit,
            )
        results.append(
            CheckResult(
                result.name,
                result.status,
                redact(result.detail),
                redact(result.hint) if result.hint else None,
                result.seconds,
            )
        )
    return Report(tuple(results))
