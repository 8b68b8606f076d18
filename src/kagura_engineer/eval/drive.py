"""The evaluation: every issue × repeat × arm through the real run loop, resumable, within budget.

    lease (eval/<owner>/<repo>/evaluation, in eval's own store) → seed → for each issue, repeat,
    arm: skip if recorded · stop if the budget is spent · throwaway harness → `IssueRun` with
    `evaluate=True` → record → discard

Each finished (issue, arm, repeat) is written to the evaluation's savepoint as it finishes,
so a killed eval resumes without redoing it; a run cut off by the kill is made again from
scratch (its spend, read from its run savepoint, still counts against --max-usd). A second
eval of the same repository while one holds the lease is `busy`. Run savepoints live in
eval's own store too, never the team's; the team's memory is only recalled from.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kagura_engineer.budget import Budget
from kagura_engineer.config import Config
from kagura_engineer.eval.report import ARMS, Report, RunRecord
from kagura_engineer.jobkey import JobKey

#: Below this much left of --max-usd no run is started: it could not do anything useful.
MIN_RUN_USD = 0.01


@dataclass(frozen=True)
class EvalSpec:
    issues: tuple[int, ...]
    repeat: int = 1
    max_usd: float | None = None
    base: str | None = None

    def fingerprint(self) -> dict[str, Any]:
        """What must match for an interrupted evaluation to be resumed rather than restarted."""
        return {"issues": list(self.issues), "repeat": self.repeat, "base": self.base}


@dataclass
class EvalContext:
    """Everything an evaluation touches, built by the command (or a test) and passed in."""

    config: Config
    gh: Any  # eval.guard.ReadOnlyGitHub
    team_memory: Any  # the team's MemoryClient (recall only), or None when it has none
    store: Any  # SavepointStore over eval's own store
    checkout: Any  # run.git.Git: the user's checkout (only read)
    workdir: Path  # where the throwaway repositories go
    agent: Callable[..., Any]
    launch: Callable[..., Any] | None = None  # agent.driver.launch_agent: claude started before setup
    run_id: str | None = None
    clock: Callable[[], float] = time.monotonic
    say: Callable[[str], None] = lambda line: None
    protect: list[str] = field(default_factory=list)  # more paths the agent user must not reach

    @property
    def key(self) -> str:
        return str(JobKey.eval(self.gh.owner, self.gh.repo))

    def run_key(self, issue: int) -> str:
        return str(JobKey.run(self.gh.owner, self.gh.repo, issue))


def _slot(issue: int, arm: str, repeat: int) -> str:
    return f"{issue}/{arm}/{repeat}"


class Evaluation:
    def __init__(self, ctx: EvalContext, spec: EvalSpec) -> None:
        self.ctx, self.spec = ctx, spec
        self.sp: Any = None
        self.report = Report(list(spec.issues), spec.repeat, [], max_usd=spec.max_usd)

    def _ttl(self) -> float:
        cfg = self.ctx.config
        return cfg.budget.max_minutes * 60 + cfg.check_timeout_minutes * 60 * max(1, len(cfg.checks)) + 600

    def execute(self) -> Report:
        """Run what is not recorded yet; BusyError when another eval holds this repository."""
        from kagura_engineer.memory.lease import Holder

        ctx = self.ctx
        holder = Holder.current(ctx.run_id)
        ctx.store.acquire(ctx.key, holder, self._ttl())
        try:
            self._load()
            self._drive(holder)
        finally:
            ctx.store.release(ctx.key, holder)
        return self.report

    def _load(self) -> None:
        from kagura_engineer.eval.state import EvalState

        sp = self.ctx.store.load(self.ctx.key, EvalState)
        assert sp is not None  # acquire made it
        if sp.data.spec != self.spec.fingerprint() or sp.data.finished:
            sp.data = EvalState(spec=self.spec.fingerprint(), results={}, lost_usd=0.0)
            sp.phase = "start"
        else:
            self.report.resumed = len(sp.data.results)
        self.sp = sp
        self._save()

    def _save(self) -> None:
        records = [RunRecord.from_json(v) for v in self.sp.data.results.values()]
        self.report.records = records
        self.report.spent_usd = sum(r.cost_usd for r in records) + self.sp.data.lost_usd
        self.sp.cost_usd = round(self.report.spent_usd, 6)
        self.sp = self.ctx.store.save(self.sp)

    def _drive(self, holder: Any) -> None:
        from kagura_engineer.agent.clone import remove_tree
        from kagura_engineer.eval.harness import make_seed

        ctx, spec = self.ctx, self.spec
        todo = [(n, arm, r) for n in spec.issues for r in range(1, spec.repeat + 1) for arm in ARMS
                if _slot(n, arm, r) not in self.sp.data.results]  # fmt: skip
        if not todo:
            self._finish(None)
            return
        base = self._base()
        seed = make_seed(ctx.checkout, ctx.workdir, base)
        stopped: str | None = None
        try:
            for done, (n, arm, r) in enumerate(todo):
                budget = self._budget()
                if budget is not None and budget < MIN_RUN_USD:
                    left = len(todo) - done
                    stopped = (f"--max-usd ${spec.max_usd:.2f} reached after ${self.report.spent_usd:.2f}; "
                               f"{left} run{'s' if left != 1 else ''} not made (raise --max-usd and re-run "
                               "to continue)")  # fmt: skip
                    break
                ctx.store.renew(ctx.key, holder, self._ttl())
                ctx.say(f"eval #{n} recall {arm} (repeat {r}/{spec.repeat})…")
                record = self._run(seed, base, n, arm, r, budget)
                # self.sp is replaced by every save: always write through it
                self.sp.data.results[_slot(n, arm, r)] = record.to_json()
                self._save()
                ctx.say(
                    f"  #{n} recall {arm}: {record.outcome} · {record.turns} turns · ${record.cost_usd:.2f}"
                )
        finally:
            remove_tree(seed)
        self._finish(stopped)

    def _finish(self, stopped: str | None) -> None:
        self.report.stopped = stopped
        self.sp.data.finished = stopped is None
        self.sp.phase = "stopped" if stopped else "finished"
        self._save()

    def _base(self) -> str:
        ctx = self.ctx
        if self.spec.base or ctx.config.base_branch:
            return str(self.spec.base or ctx.config.base_branch)
        return str(ctx.gh.get_repo().get("default_branch") or ctx.checkout.default_branch())

    def _budget(self) -> float | None:
        """This run's budget: the config's, or less when that is all --max-usd has left."""
        if self.spec.max_usd is None:
            return None
        left = self.spec.max_usd - self.report.spent_usd
        return Budget.from_config(self.ctx.config.budget).capped(left).usd

    def _forget_run(self, issue: int) -> None:
        """Drop a run savepoint a killed eval left (its spend is kept as lost)."""
        key = self.ctx.run_key(issue)
        sp = self.ctx.store.load(key)
        if sp is not None:
            self.sp.data.lost_usd += float(sp.cost_usd or 0.0)
            self._save()
        self.ctx.store.clear(key, force=True)

    def _run(
        self, seed: Path, base: str, issue: int, arm: str, repeat: int, budget: float | None
    ) -> RunRecord:
        from kagura_engineer.eval.guard import RecallOnly
        from kagura_engineer.eval.harness import discard, make_harness
        from kagura_engineer.run.loop import IssueRun, RunContext, RunOptions

        ctx = self.ctx
        self._forget_run(issue)
        run_dir = ctx.workdir / f"issue-{issue}-{arm}-{repeat}"
        harness = make_harness(seed, run_dir)
        space = self._space(harness.cwd)
        capped = budget is not None and budget < float(ctx.config.budget.max_usd)
        options = RunOptions(
            issue=issue, base=base, max_usd=budget, remember=False, unattended=True, run_id=ctx.run_id,
            recall=arm == "on", evaluate=True,
        )  # fmt: skip
        run_ctx = RunContext(
            config=ctx.config, options=options, gh=ctx.gh, memory=RecallOnly(ctx.team_memory, arm == "on"),
            store=ctx.store, repo=harness, agent=ctx.agent, launch=ctx.launch, progress=None, clock=ctx.clock,
            extra={"space": space},
        )  # fmt: skip
        start = ctx.clock()
        try:
            run = IssueRun(run_ctx)
            outcome = run.execute()
            wall = ctx.clock() - start
            sp = run.sp
            checks = sp.data.checks if sp is not None else []
            record = RunRecord(
                issue=issue, arm=arm, repeat=repeat, verdict=outcome.verdict, status=outcome.status,
                attempts=int(sp.attempts or 0) if sp is not None else 0, turns=outcome.turns,
                cost_usd=float(outcome.cost_usd), wall_s=wall, checks_passed=sum(1 for c in checks if c.ok),
                checks_total=len(checks), reason=outcome.reason[:300], budget_usd=budget if capped else None,
            )  # fmt: skip
        finally:
            discard(run_dir, space)
        ctx.store.clear(ctx.run_key(issue), force=True)
        return record

    def _space(self, harness: Path) -> Any:
        """The agent's space for this run's harness repo, with the user's files closed to it."""
        from kagura_engineer.agent.user import isolate

        return isolate(harness, extra=[str(self.ctx.checkout.cwd), *self.ctx.protect])


def evaluate(ctx: EvalContext, spec: EvalSpec) -> Report:
    return Evaluation(ctx, spec).execute()
