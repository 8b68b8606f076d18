"""Who holds a target, until when, and whether a stale holder may be taken over.

A lease names its holder by host, pid, the process's start time (so a recycled pid is not
mistaken for the holder), the workflow run id and the run attempt, and carries an expiry. A
holder that is gone — a process on this host that no longer exists, an earlier attempt of
the claimant's own workflow run, a run that GitHub reports finished, or an expired lease —
is taken over at once; anything else means "busy".

Attempts: GitHub starts attempt N+1 of a run (a re-run of failed or cancelled jobs) only
once attempt N has completed, so a lease held by run R attempt 1 is stale for run R attempt
2. Another job of the same attempt (a matrix sibling) is alive, and another run is asked
about through `is_run_finished` — GitHub reports a run's latest attempt, so a re-run in
progress keeps it "busy" for everyone but its own later attempt. A lease written before
attempts were recorded (no `run_attempt`) counts as attempt 1.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

#: Answers "has this workflow run finished?": True, False, or None when it cannot tell.
RunFinished = Callable[[str], "bool | None"]


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks since boot) from /proc/<pid>/stat, or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    # The command name (field 2) is parenthesised and may contain spaces or ')'.
    fields = text[text.rfind(")") + 2 :].split()
    try:
        return fields[0], int(fields[19])
    except (IndexError, ValueError):
        return None


def process_start_time(pid: int) -> int | None:
    """When `pid` started (clock ticks since boot), or None when unknown (no /proc)."""
    stat = _proc_stat(pid)
    return stat[1] if stat else None


def process_alive(pid: int, start_time: int | None = None) -> bool:
    """Whether `pid` is a live process on this host — the same one, when `start_time` is given.

    A zombie (killed, not yet reaped) counts as gone; so does a pid now used by a process
    that started at another time.
    """
    if pid <= 0:
        return False
    stat = _proc_stat(pid)
    if stat is not None:
        state, started = stat
        if state in ("Z", "X", "x"):
            return False
        return start_time is None or started == start_time
    if Path("/proc/self/stat").exists():
        return False  # Linux without an entry for pid: it is gone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Holder(BaseModel):
    """The process holding (or asking for) a lease."""

    model_config = ConfigDict(frozen=True)

    host: str
    pid: int
    start_time: int | None = None
    run_id: str = ""
    #: $GITHUB_RUN_ATTEMPT of the holder ("" outside Actions, and in leases written before it was kept)
    run_attempt: str = ""

    @classmethod
    def current(cls, run_id: str | None = None, run_attempt: str | None = None) -> Holder:
        """This process. `run_id` and `run_attempt` default to $GITHUB_RUN_ID and
        $GITHUB_RUN_ATTEMPT (empty outside Actions)."""
        pid = os.getpid()
        if run_id is None:
            run_id = os.environ.get("GITHUB_RUN_ID", "")
        if run_attempt is None:
            run_attempt = os.environ.get("GITHUB_RUN_ATTEMPT", "") if run_id else ""
        return cls(host=socket.gethostname(), pid=pid, start_time=process_start_time(pid), run_id=run_id,
                   run_attempt=run_attempt)  # fmt: skip

    def on_this_host(self) -> bool:
        return self.host == socket.gethostname()

    def attempt(self) -> int:
        """The run attempt as a number (1 when not recorded)."""
        return int(self.run_attempt) if self.run_attempt.isdigit() else 1

    def describe(self) -> str:
        run = f", run {self.run_id}" if self.run_id else ""
        if run and self.run_attempt:
            run += f" attempt {self.run_attempt}"
        return f"host {self.host}, pid {self.pid}{run}"


class Lease(BaseModel):
    """A holder's claim on one savepoint key until `expires_at`."""

    model_config = ConfigDict(frozen=True)

    holder: Holder
    acquired_at: datetime
    expires_at: datetime
    #: How this lease was obtained from a previous holder, when it was a takeover.
    takeover: str | None = None

    def expired(self, now: datetime | None = None) -> bool:
        return (now or utcnow()) >= self.expires_at

    def describe(self) -> str:
        return f"{self.holder.describe()}, until {self.expires_at.strftime('%Y-%m-%dT%H:%M:%SZ')}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def takeover_reason(
    lease: Lease,
    now: datetime | None = None,
    is_run_finished: RunFinished | None = None,
    claimant: Holder | None = None,
) -> str | None:
    """Why `lease` may be taken over right now (by `claimant`, when given), or None when its
    holder must be respected."""
    if lease.expired(now):
        return f"lease of {lease.holder.describe()} expired"
    holder = lease.holder
    if holder.on_this_host() and not process_alive(holder.pid, holder.start_time):
        return f"holder process is gone ({holder.describe()})"
    if claimant is not None and holder.run_id and claimant.run_id == holder.run_id:
        if claimant.attempt() > holder.attempt():
            return (f"attempt {claimant.attempt()} of run {holder.run_id} takes over from attempt "
                    f"{holder.attempt()}, which has ended ({holder.describe()})")  # fmt: skip
    if is_run_finished is not None and holder.run_id:
        try:
            finished = is_run_finished(holder.run_id)
        except Exception:  # an unanswerable question is not a yes
            finished = None
        if finished is True:
            return f"holder's run {holder.run_id} has finished ({holder.describe()})"
    return None


def github_run_finished(gh: Any) -> RunFinished:
    """`is_run_finished` answered by GitHub: a run whose status is `completed` has finished.

    `gh` is a `github.client.GitHub`; run ids that are not numbers, and GitHub errors, are
    "cannot tell" (None), never "finished".
    """

    def finished(run_id: str) -> bool | None:
        from kagura_engineer.errors import KaguraError

        if not run_id or not run_id.isdigit():
            return None
        try:
            return gh.get_workflow_run(int(run_id)).get("status") == "completed"
        except KaguraError:
            return None

    return finished
