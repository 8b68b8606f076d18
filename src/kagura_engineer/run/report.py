"""How a run shows itself: the sticky progress comment, the job summary, a live phase list.

`RunProgress.show(run)` turns the run's savepoint into a `ProgressState` (pure) and hands
it to the throttled `ProgressComment`; the final call is forced and also written to
`$GITHUB_STEP_SUMMARY` when that is set.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from kagura_engineer.run.outcome import PHASES

_STATUS = {"shipped": "shipped", "blocked": "blocked", "failed": "failed", "busy": "busy"}


def progress_state(run: Any, current: str | None, final: bool, run_url: str | None) -> Any:
    """A ProgressState for the run's savepoint and outcome (no I/O)."""
    from kagura_engineer.github.progress import ProgressState

    sp, outcome, opts = run.sp, run.outcome, run.ctx.options
    title = f"run #{opts.issue}: {run.issue.get('title', '')}".rstrip(": ")
    state = ProgressState.start(
        run.ctx.key, PHASES, title=title, run_url=run_url, cost_usd=outcome.cost_usd,
        budget_usd=run.budget.usd,
    )  # fmt: skip
    for record in sp.phases:
        detail = ""
        if record.name == "checks" and run.state.checks:
            passed = sum(1 for c in run.state.checks if c.ok)
            detail = f"{passed}/{len(run.state.checks)} passing"
        elif record.name == "setup" and run.state.setup:
            detail = run.state.setup.detail
        elif record.name == "gate" and run.state.gate_reason:
            detail = run.state.gate_reason
        state.set_phase(record.name, record.state, detail)
    if current and not final:
        event = run.ctx.extra.get("last_event")
        state.step = f"{current}: {event}" if current == "implement" and event else current
    state.pr_number = outcome.pr_number or sp.pr_number
    state.pr_url = outcome.pr_url or run.state.pr_url
    state.verdict = outcome.verdict or sp.verdict
    if final:
        state.status = _STATUS.get(outcome.status, "failed")
        state.reason = outcome.reason or None
    return state


class RunProgress:
    """Progress for one run: the GitHub comment (optional) and the step summary (optional)."""

    def __init__(self, comment: Any | None, run_url: str | None, summary_path: str | None) -> None:
        self.comment = comment
        self.run_url = run_url
        self.summary_path = summary_path

    def show(self, run: Any, current: str | None = None, final: bool = False) -> None:
        state = progress_state(run, current, final, self.run_url)
        if self.comment is not None:
            if final:
                self.comment.finish(state)
            else:
                self.comment.update(state)
        if final and self.summary_path:
            from kagura_engineer.github.progress import write_step_summary

            write_step_summary(state, self.summary_path, append=True)


class PhaseLines:
    """The live phase list on stderr: one line per phase change (plain, CI-friendly)."""

    MARKS = {"running": "…", "done": "✓", "failed": "✗", "skipped": "-"}

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr

    def __call__(self, name: str, state: str) -> None:
        if state == "running":
            return
        print(f"  {self.MARKS.get(state, '·')} {name} {state}", file=self.stream, flush=True)
