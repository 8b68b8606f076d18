"""Drive a milestone: each open issue through `run`, in dependency order, one at a time.

    survey → for each issue in order: skip shipped · wait on unready dependencies ·
             stop before the goal budget · drive (stacked on an open dependency PR) ·
             record · halt on the first blocked or failed issue

The goal's savepoint (`goal/<owner>/<repo>/<milestone-slug>`) holds a lease (one goal job
per milestone) and the per-issue results: the cost spent so far (across re-runs) and the
issue in flight. A re-run after kill -9 re-surveys, skips what shipped (the run savepoints
and PRs say so), and drives the issue in flight again — its own savepoint resumes it, so no
branch, PR or comment is made twice.
"""

from __future__ import annotations

from typing import Any

from kagura_engineer.errors import KaguraError
from kagura_engineer.goal import cost, summary
from kagura_engineer.goal.context import GoalContext
from kagura_engineer.goal.outcome import GoalResult, GoalRow
from kagura_engineer.goal.plan import readiness
from kagura_engineer.goal.survey import Shipment, Survey, survey


def drive_goal(ctx: GoalContext) -> GoalResult:
    """Run the milestone to its end or to the first halt. BusyError if another goal job
    holds this milestone; CycleError (exit 2) when the dependencies loop."""
    from kagura_engineer.memory.lease import Holder, github_run_finished

    holder = Holder.current(ctx.run_id)
    ttl = _lease_seconds(ctx)
    ctx.store.acquire(ctx.key, holder, ttl, is_run_finished=github_run_finished(ctx.gh))
    try:
        return GoalRun(ctx, holder, ttl).execute()
    finally:
        try:
            ctx.store.release(ctx.key, holder)
        except KaguraError as exc:
            ctx.say(f"warning: could not release the goal lease: {exc.message}")


def _lease_seconds(ctx: GoalContext) -> float:
    # renewed before each issue, so one issue's worst case (model time, checks, wrap-up)
    budget = ctx.config.budget
    return budget.max_minutes * 60 + ctx.config.check_timeout_minutes * 60 + 600


class GoalRun:
    def __init__(self, ctx: GoalContext, holder: Any, ttl: float) -> None:
        self.ctx = ctx
        self.holder = holder
        self.ttl = ttl
        self.sp: Any = None
        self.results: dict[str, dict[str, Any]] = {}
        self.rows: dict[int, GoalRow] = {}
        self.result = GoalResult(status="blocked", milestone=ctx.milestone, savepoint=ctx.key,
                                 budget_usd=ctx.config.budget.max_usd_per_goal)  # fmt: skip
        self._default_branch: str | None = None

    # -- the loop ------------------------------------------------------------------------
    def execute(self) -> GoalResult:
        ctx = self.ctx
        self._load()
        sv = survey(ctx)
        self._init_rows(sv)
        self._publish("running")
        inflight = self.sp.data.current
        waiting: list[int] = []
        halted = False
        for n in sv.order:
            row, ship = self.rows[n], sv.shipments[n]
            if ship.shipped:
                if n == inflight and (row.cost_usd is not None or str(n) not in self.results):
                    self._record(row)  # shipped just before a kill: its (cumulative) cost, once
                continue
            state = readiness(sv, n)
            if not state.ready:
                row.state, row.reason = "waiting", state.reason
                waiting.append(n)
                continue
            if self._over_budget(sv, n, row):
                halted = True
                break
            row.stacked_on = state.stacked_on
            outcome = self._drive(sv, n, state.base, state.stacked_on)
            self._absorb(sv, n, row, outcome)
            self._publish("running")
            if outcome.status != "shipped":
                self.result.status = "failed" if outcome.status == "failed" else "blocked"
                self.result.halted_at = n
                self.result.reason = f"#{n} {outcome.status}" + (f": {outcome.reason}" if outcome.reason else "")
                halted = True
                break
        if halted:
            for n in sv.order:  # not reached: say which of them could not have run anyway
                row = self.rows[n]
                if row.state == "pending" and not (state := readiness(sv, n)).ready:
                    row.state, row.reason = "waiting", state.reason
        else:
            if waiting:
                self.result.status = "blocked"
                self.result.reason = "; ".join(f"#{n} {self.rows[n].reason}" for n in waiting)
            else:
                self.result.status = "shipped"
        self._finish()
        return self.result

    def _drive(self, sv: Survey, n: int, base: str | None, stacked_on: int | None) -> Any:
        from kagura_engineer.run.loop import RunOptions
        from kagura_engineer.run.outcome import RunOutcome

        ctx, issue = self.ctx, sv.issues[n]
        options = RunOptions(
            issue=n, base=base or self._base(), stacked_on=stacked_on,
            unattended=ctx.unattended, run_id=ctx.run_id, draft=ctx.draft,
        )  # fmt: skip
        self.ctx.store.renew(ctx.key, self.holder, self.ttl)
        self.sp.data.current = n
        self._save()
        where = f"stacked on #{stacked_on} ({options.base})" if stacked_on else f"from {options.base}"
        ctx.say(f"goal {ctx.milestone}: #{n} {issue.title} — driving {where}")
        try:
            return ctx.drive(ctx, issue, options)
        except KaguraError as exc:
            reason = exc.message + (f" ({exc.hint})" if exc.hint else "")
            return RunOutcome(status="blocked" if exc.exit_code == 2 else "failed", issue=n, reason=reason)

    def _absorb(self, sv: Survey, n: int, row: GoalRow, outcome: Any) -> None:
        row.state = outcome.status
        row.pr_number = outcome.pr_number
        row.pr_url = outcome.pr_url
        row.verdict = outcome.verdict
        row.cost_usd = float(outcome.cost_usd or 0.0)
        row.reason = outcome.reason or ""
        self._record(row)
        if outcome.status == "shipped":
            sv.shipments[n] = Shipment(
                shipped=True, pr_number=outcome.pr_number, pr_url=outcome.pr_url, pr_open=True,
                head_ref=outcome.branch, verdict=outcome.verdict, cost_usd=outcome.cost_usd,
            )  # fmt: skip
        pr = f" → PR #{outcome.pr_number}" if outcome.pr_number else ""
        tail = f": {outcome.reason}" if outcome.reason and outcome.status != "shipped" else ""
        self.ctx.say(f"goal {self.ctx.milestone}: #{n} {outcome.status}{pr} (${row.cost_usd:.2f}){tail}")

    def _over_budget(self, sv: Survey, n: int, row: GoalRow) -> bool:
        limit = self.ctx.config.budget.max_usd_per_goal
        if limit is None:
            return False
        projection = cost.project(self.ctx.memory, sv.issues[n].title, self.ctx.config.budget.max_usd)
        spent = self.result.cost_usd
        if not cost.would_exceed(spent, projection.usd, limit):
            return False
        reason = (
            f"goal budget: spent ${spent:.2f} + projected {projection.describe()} for #{n} would pass "
            f"budget.max_usd_per_goal ${limit:.2f}"
        )
        row.state, row.reason = "blocked", reason
        self.result.status, self.result.halted_at, self.result.reason = "blocked", n, reason
        self.ctx.say(f"goal {self.ctx.milestone}: stopping before #{n}: {reason}")
        return True

    # -- bookkeeping ---------------------------------------------------------------------------
    def _load(self) -> None:
        from kagura_engineer.goal.state import GoalState
        from kagura_engineer.memory.savepoint import Savepoint

        sp = self.ctx.store.load(self.ctx.key, GoalState) or Savepoint[GoalState](key=self.ctx.key)
        sp.run_id = self.ctx.run_id or sp.run_id
        if sp.data.milestone is None:
            sp.data.milestone = self.ctx.milestone
        self.results = dict(sp.data.results)
        self.sp = sp
        self.result.cost_usd = self._spent()

    def _save(self) -> None:
        self.sp.data.results = self.results
        self.sp.cost_usd = round(self.result.cost_usd, 6)
        self.sp = self.ctx.store.save(self.sp)

    def _spent(self) -> float:
        return sum(float(r.get("cost_usd") or 0.0) for r in self.results.values())

    def _record(self, row: GoalRow) -> None:
        self.results[str(row.issue)] = row.to_json()
        self.result.cost_usd = self._spent()
        self._save()

    def _init_rows(self, sv: Survey) -> None:
        self.result.closed = len(sv.closed)
        self.result.notes = list(sv.notes)
        for n in sv.order:
            issue, ship = sv.issues[n], sv.shipments[n]
            row = GoalRow(issue=n, title=issue.title, depends_on=sv.graph.depends_on(n))
            previous = self.results.get(str(n)) or {}
            if ship.shipped:
                row.state, row.pr_number, row.pr_url = "shipped", ship.pr_number, ship.pr_url
                row.verdict = ship.verdict or previous.get("verdict")
                row.cost_usd = ship.cost_usd if ship.cost_usd is not None else previous.get("cost_usd")
                row.stacked_on = previous.get("stacked_on")
            self.rows[n] = row
        self.result.rows = [self.rows[n] for n in sv.order]

    def _base(self) -> str:
        """The default base: repo.yaml base_branch, else the repository's default branch.

        Always passed explicitly, so a run first stacked on a dependency that has merged
        since moves to the default branch instead of keeping the old base.
        """
        if self._default_branch is None:
            repo = self.ctx.repo
            self._default_branch = (
                self.ctx.config.base_branch
                or self.ctx.gh.get_repo().get("default_branch")
                or (repo.default_branch() if repo is not None else "main")
            )
        return self._default_branch

    def _publish(self, status: str) -> None:
        issue = self.ctx.config.goal.tracking_issue
        if not issue:
            return
        warning = summary.update_comment(self.ctx.gh, issue, self.ctx.comment_key, self.result, status,
                                         self.ctx.run_url)  # fmt: skip
        if warning:
            self.ctx.say(f"warning: {warning}")

    def _finish(self) -> None:
        self.sp.phase = {"shipped": "shipped", "failed": "halted"}.get(self.result.status, "blocked")
        self.sp.data.current = None
        self.sp.data.halted_at = self.result.halted_at
        self.sp.data.reason = self.result.reason
        self._save()
        self._publish(self.result.status)
        summary.write_summary(self.result, self.ctx.environ, self.ctx.run_url)
