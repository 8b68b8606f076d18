"""The issue → pull request phase machine.

    grounded → branch → setup → (implement → push → checks → gate)×attempts → push → pr → remember

The orchestrator owns the order, the savepoint writes and the reporting `finally`; each
phase asks the world before acting (origin's branch, the PR for the head, the sticky
comment by its marker), so a re-run after kill -9 at any instant repeats at most the phase
in flight and never duplicates a branch, PR, comment or memory.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kagura_engineer import proc
from kagura_engineer.budget import Budget
from kagura_engineer.config import Config
from kagura_engineer.errors import BusyError, KaguraError
from kagura_engineer.git import Git, branch_name
from kagura_engineer.jobkey import JobKey
from kagura_engineer.memory.savepoint import AgentRecord
from kagura_engineer.run import gate
from kagura_engineer.run.outcome import PHASES, RunOutcome
from kagura_engineer.run.state import CheckRecord, RunState, SetupRecord
from kagura_engineer.run.trigger import TriggerText, issue_at_trigger


@dataclass
class RunOptions:
    issue: int
    base: str | None = None
    max_usd: float | None = None
    max_turns: int | None = None
    remember: bool = True
    unattended: bool = False
    run_id: str | None = None
    #: set by `goal` when this issue builds on a dependency's open PR (base = that PR's head)
    stacked_on: int | None = None
    #: the issue's title and body as the triggering event carried them (the Action); see run/trigger.py
    trigger: TriggerText | None = None
    #: False (eval's "off" arm): the prompt carries no recalled memory at all
    recall: bool = True
    #: set by `eval`: stop at the gate's verdict (no final push, PR or memory write)
    evaluate: bool = False
    #: open the pull request as a draft even when green (`--draft`, the Action's `draft` input)
    draft: bool = False


@dataclass
class RunContext:
    """Everything a run touches, built by the command (or a test) and passed in."""

    config: Config
    options: RunOptions
    gh: Any  # kagura_engineer.github.client.GitHub
    memory: Any  # MemoryClient
    store: Any  # SavepointStore
    repo: Git
    agent: Callable[..., Any]  # the driver: see _implement
    #: agent.driver.launch_agent: claude started before setup, so it loads meanwhile (None: not used)
    launch: Callable[..., Any] | None = None
    on_phase: Callable[[str, str], None] = lambda name, state: None
    progress: Any = None  # ProgressComment, or None when not reporting to GitHub
    clock: Callable[[], float] = time.monotonic
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return str(JobKey.run(self.gh.owner, self.gh.repo, self.options.issue))


class Halt(Exception):
    """A red verdict: the run stops here, its work pushed, with a reason.

    `detail` (e.g. the failing output's tail) is shown after the reason but is not part of
    the failure's identity in memory.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


class IssueRun:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.cfg = ctx.config
        self.sp: Any = None
        self.issue: dict[str, Any] = {}
        self.tree: Any = None  # agent.clone.AgentClone, once the branch phase ran
        self.outcome = RunOutcome(status="failed", issue=ctx.options.issue, savepoint=ctx.key)
        opts = ctx.options
        self.budget = Budget.from_config(ctx.config.budget, max_usd=opts.max_usd, max_turns=opts.max_turns)
        self._default: str | None = None
        self._launch: Any = None  # agent.driver.AgentLaunch started by _prelaunch, not yet run
        self._trusted: Any = None  # toolchain.trusted.Trusted, once _trust ran

    # -- the orchestrator ----------------------------------------------------------------
    def execute(self) -> RunOutcome:
        from kagura_engineer.memory.lease import Holder, github_run_finished

        ctx = self.ctx
        holder = Holder.current(ctx.options.run_id)
        # expiry follows the budget's max_minutes (plus time for checks and wrap-up)
        ttl = self.budget.minutes * 60 + self.cfg.check_timeout_minutes * 60
        try:
            ctx.store.acquire(ctx.key, holder, ttl, is_run_finished=github_run_finished(ctx.gh))
        except BusyError as exc:
            self.outcome.status, self.outcome.reason = "busy", exc.message
            return self.outcome
        try:
            self._load()
            if self._already_shipped():
                return self.outcome
            self._drive()
        except Halt as halt:
            self._halt(halt.reason, halt.detail)
        except KaguraError as exc:
            # exit code 2 errors (no credential, no claude, a rejected memory key) need a person
            self._fail(exc.message + (f" ({exc.hint})" if exc.hint else ""), blocked=exc.exit_code == 2)
        finally:
            self._report()
            try:
                ctx.store.release(ctx.key, holder)
            except KaguraError as exc:
                proc_warn(f"could not release the lease: {exc.message}")
        return self.outcome

    def _drive(self) -> None:
        # branch before grounded (both need only the issue): claude, launched as soon as its
        # clone exists, then loads while the recall and setup work
        self._phase("branch", self._branch)
        try:
            self._prelaunch()
            self._phase("grounded", self._grounded)
            self._phase("setup", self._setup)
            self._drive_from_implement()
        finally:
            if self._launch is not None:  # not used (setup failed, a halt, a resumed run)
                self._launch.cancel()
                self._launch = None

    def _drive_from_implement(self) -> None:
        if self.state.resuming_halt:
            self.state.resuming_halt = False
            self._reopen_after_halt()
        while True:
            if not self._done("implement"):
                # implement ends with commit + push: only pushed work counts as done
                self._phase("implement", self._implement)
            self._phase("checks", self._checks)
            verdict = self._phase("gate", self._gate)
            if verdict.ships:
                break
            if not self._retry_possible(verdict):
                raise Halt(verdict.reason, self._failing_output())
            self._reopen_for_fix()
        if self.ctx.options.evaluate:
            self.sp.phase = "evaluated"
            self._save()
            self.outcome.status = "evaluated"
            return
        self._phase("push", self._push)
        self._phase("pr", self._pr)
        if self.ctx.options.remember:
            self._phase("remember", self._remember_success)
        self.sp.phase = "shipped"
        self._save()
        self.outcome.status = "shipped"

    # -- savepoint bookkeeping -----------------------------------------------------------
    def _load(self) -> None:
        from kagura_engineer.memory.savepoint import Savepoint

        sp = self.ctx.store.load(self.ctx.key, RunState)
        if sp is None:
            sp = Savepoint[RunState](key=self.ctx.key, phase="start", run_id=self.ctx.options.run_id)
        elif sp.phase not in ("start", "shipped"):
            self.outcome.resumed_from = sp.phase
            if sp.phase == "halted":
                sp.data.resuming_halt = True
        sp.run_id = self.ctx.options.run_id or sp.run_id
        from kagura_engineer.run.trust import clean_run_savepoint

        dropped = clean_run_savepoint(sp, self.cfg.branch_prefix, self.ctx.options.issue)
        if dropped:
            proc_warn("the savepoint held values that fail validation, ignored: " + ", ".join(dropped))
        self.sp = sp
        n, trigger = self.ctx.options.issue, self.ctx.options.trigger
        self.issue = issue_at_trigger(self.ctx.gh, n, self.ctx.gh.get_issue(n), trigger)
        self.outcome.cost_usd = sp.cost_usd or 0.0
        self.outcome.branch = sp.branch

    def _save(self) -> None:
        self.sp.cost_usd = round(self.outcome.cost_usd, 6)
        self.sp = self.ctx.store.save(self.sp)

    @property
    def state(self) -> RunState:
        """The run's own part of the savepoint (`sp.data`)."""
        return self.sp.data

    def _done(self, name: str) -> bool:
        return bool(self.state.done.get(name))

    def _mark(self, name: str, state: str, seconds: float = 0.0) -> None:
        from kagura_engineer.memory.savepoint import PhaseRecord

        phases = [p for p in self.sp.phases if p.name != name]
        phases.append(PhaseRecord(name=name, state=state, seconds=round(seconds, 2)))
        order = {n: i for i, n in enumerate(PHASES)}
        self.sp.phases = sorted(phases, key=lambda p: order.get(p.name, 99))
        self.ctx.on_phase(name, state)

    def _phase(self, name: str, fn: Callable[[], Any]) -> Any:
        start = self.ctx.clock()
        self._mark(name, "running")
        self._update_progress(current=name)
        try:
            result = fn()
        except Halt:
            self._mark(name, "failed", self.ctx.clock() - start)
            raise
        except KaguraError:
            self._mark(name, "failed", self.ctx.clock() - start)
            raise
        self._mark(name, "done", self.ctx.clock() - start)
        self.sp.phase = name
        self.state.done[name] = True
        self._save()
        return result

    # -- phases ---------------------------------------------------------------------------
    def _grounded(self) -> None:
        if self.state.grounding is not None:
            return
        if not self.ctx.options.recall:
            self.state.grounding = []
            return
        query = f"{self.issue.get('title', '')}\n{(self.issue.get('body') or '')[:500]}"
        try:
            memories = self.ctx.memory.recall(query, k=6)
        except KaguraError as exc:
            proc_warn(f"recall failed, continuing without memory: {exc.message}")
            memories = []
        self.state.grounding = [m.to_json() for m in memories]

    def _branch(self) -> None:
        from kagura_engineer.agent.clone import AgentClone

        opts, repo = self.ctx.options, self.ctx.repo
        base = opts.base or self.cfg.base_branch or self.state.base or self._default_branch()
        branch = self.sp.branch or branch_name(self.cfg.branch_prefix, opts.issue, self.issue.get("title", ""))
        repo.exclude("/.kagura/")
        remote = repo.remote_sha(branch)
        saved_base = not opts.base and not self.cfg.base_branch and self.state.base == base
        if saved_base and repo.remote_sha(base) is None:
            raise Halt(f"the base branch {base!r} recorded in the savepoint is not on origin")
        repo.fetch(base, *([branch] if remote else []))
        start = repo.out("rev-parse", f"origin/{branch}" if remote else f"origin/{base}")
        space = self._space()
        job = JobKey.thread("issue", opts.issue)  # the clone's name in the agent's space
        clone = AgentClone.in_space(repo, space, job, branch)
        if clone.exists() and _clone_branch(clone.path) == branch:
            self._sync_with_origin(clone, branch, remote)
        else:
            clone.create(start)
        self.tree = clone
        self.sp.branch = branch
        self.state.base = base
        self.sp.base_sha = repo.out("rev-parse", f"origin/{base}")
        if self.sp.head_sha:  # a fresh run has no head to compare: no collect to pay for
            head = clone.head()
            if head != self.sp.head_sha:
                self.sp.head_sha = head  # origin moved on since the savepoint
        self.outcome.branch = branch

    def _setup(self) -> None:
        """Trusted setup and checks, then the project's toolchain in the agent's clone.

        Runs in every job (what setup installs lives in this job's clone and container, never
        in a savepoint); setup commands are idempotent, so a re-run after a kill repeats them.
        """
        from kagura_engineer.toolchain import setup as toolchain

        trusted = self._trust()
        try:
            report = toolchain.prepare(self.cfg, self._tree())
        except toolchain.SetupFailed as exc:
            self.state.setup = SetupRecord(source=trusted.source, detail=exc.reason)
            raise Halt(exc.reason, exc.detail) from None
        self.state.setup = SetupRecord.model_validate({"source": trusted.source, **report.to_json()})

    def _trust(self) -> Any:
        """Take repo.yaml's setup, checks and agent settings from the base branch (once a job):
        what the checkout or the branch says instead changes nothing the agent or the gate gets."""
        if self._trusted is None:
            from kagura_engineer.toolchain.trusted import trusted_config

            repo = self.ctx.repo
            default = self._default_branch()
            if default != self.state.base:
                repo.fetch(default)
            trusted = trusted_config(self.cfg, repo, f"refs/remotes/origin/{default}", f"origin/{default}")
            self.cfg = trusted.config
            if trusted.note:
                proc_warn(trusted.note)
            self._trusted = trusted
        return self._trusted

    def _space(self) -> Any:
        """The agent user's space for this checkout (made once; closes the harness's files)."""
        if "space" not in self.ctx.extra:
            from kagura_engineer.agent.user import isolate

            db = getattr(self.cfg, "local_memory_path", None)
            extra = [str(Path(db).parent)] if db and Path(db).is_absolute() else []
            self.ctx.extra["space"] = isolate(self.ctx.repo.cwd, extra=extra)
        return self.ctx.extra["space"]

    def _sync_with_origin(self, clone: Any, branch: str, remote: str | None) -> None:
        """Bring a surviving clone in line with origin without losing its work.

        What the agent left uncommitted is committed (as the agent user) and collected into
        the harness repo first; then origin ahead → the clone is made again at origin's head;
        diverged → origin wins (a person pushed) and our commits are kept under a backup ref.
        """
        repo = self.ctx.repo
        if clone.dirty():
            clone.commit_all(f"kagura: recovered work in progress on #{self.ctx.options.issue}")
        head = clone.collect()
        if remote is None or head == remote:
            return
        if repo.run("merge-base", "--is-ancestor", remote, head, check=False).ok:
            return  # ours is ahead of origin: pushed later
        if not repo.run("merge-base", "--is-ancestor", head, remote, check=False).ok:
            repo.run("update-ref", f"refs/kagura/backup/{branch}/{int(time.time())}", head)
        clone.create(remote)

    def _implement(self) -> None:
        from kagura_engineer.memory.base import Memory
        from kagura_engineer.run import prompt

        attempt = int(self.sp.attempts or 0) + 1
        failing = self.state.failing_checks
        if failing and self.sp.agent_session_id:
            text = prompt.fix_prompt([(c.command, c.tail) for c in failing])
        else:
            grounding = self.state.grounding or []
            memories = [Memory(**{**m, "tags": tuple(m.get("tags") or ())}) for m in grounding]
            text = prompt.task_prompt(
                self.ctx.options.issue, self.issue.get("title", ""), self.issue.get("body") or "",
                memories, self.cfg.checks,
            )  # fmt: skip
        left = self.budget.remaining(self.outcome.cost_usd, self.outcome.turns)
        if left.exhausted:
            self._wrap_up()
            raise Halt("budget exhausted before the work was done")

        def on_session(session_id: str) -> None:
            # saved as soon as the stream names it, so a kill mid-turn can --resume
            if session_id and session_id != self.sp.agent_session_id:
                self.sp.agent_session_id = session_id
                self._save()

        space = self._space()

        def call(prompt_text: str, resume: str | None, budget: Budget) -> Any:
            launch, self._launch = self._launch, None
            if launch is not None:
                if launch.matches(cwd=self._tree().cwd, config=self.cfg, resume=resume, **budget.agent_kwargs()):
                    return launch.run(prompt_text, on_session=on_session, on_event=self._agent_event)
                launch.cancel()  # started for another call (a budget or session that changed since)
            return self.ctx.agent(
                prompt=prompt_text, cwd=self._tree().cwd, config=self.cfg, resume=resume,
                **budget.agent_kwargs(), on_session=on_session, on_event=self._agent_event, space=space,
            )  # fmt: skip

        if self.ctx.options.remember:
            # remember embeds its memory: the encoder loads on a thread while claude works
            # (this thread only waits for claude, so the two barely contend for the GIL)
            getattr(self.ctx.memory, "warm", lambda: None)()
        resumed = self.sp.agent_session_id
        result = call(text, resumed, left)
        if resumed and not failing and result.status == "done" and not self._has_work():
            # A session resumed after a kill can believe in work the worktree does not hold
            # (a tool call recorded, its effect lost with the job): start over, fresh.
            spent, used = float(result.cost_usd or 0.0), int(result.turns or 0)
            self.outcome.cost_usd += spent
            self.outcome.turns += used
            self.sp.agent_session_id = None
            rest = left.remaining(spent, used)
            result = call(text, None, replace(rest, turns=max(1, rest.turns)))
        self.sp.attempts = attempt
        self.outcome.cost_usd += float(result.cost_usd or 0.0)
        self.outcome.turns += int(result.turns or 0)
        self.state.turns = self.outcome.turns
        if result.session_id:
            self.sp.agent_session_id = result.session_id
        self.state.agent = AgentRecord(
            status=result.status,
            summary=(result.summary or "")[:4000],
            notes=(result.notes or "")[:2000],
            files_changed=list(result.files_changed or [])[:200],
            stopped_by=result.stopped_by,
        )
        self.state.failing_checks = []
        self.state.done["checks"] = False
        self._push()

    def _prelaunch(self) -> None:
        """Start claude before the setup phase when implement will run: its start-up (~0.3 s of
        CPU here) overlaps setup and the prompt's making; the prompt goes to its stdin later."""
        if self.ctx.launch is None or self._done("implement"):
            return
        left = self.budget.remaining(self.outcome.cost_usd, self.outcome.turns)
        if left.exhausted:
            return
        try:
            self._trust()  # claude's model, tools and allow-list come from the base branch's repo.yaml
            self._launch = self.ctx.launch(
                cwd=self._tree().cwd, config=self.cfg, resume=self.sp.agent_session_id, **left.agent_kwargs(),
                space=self._space(),
            )  # fmt: skip
        except KaguraError:
            self._launch = None  # no claude, no credential: implement says so in its place

    def _has_work(self) -> bool:
        """Whether the worktree holds anything beyond the base: changes or commits."""
        tree = self._tree()
        return tree.dirty() or (bool(self.sp.base_sha) and tree.commits_since(self.sp.base_sha) > 0)

    def _push(self) -> None:
        tree = self._tree()
        agent = self.state.agent
        message = f"kagura: work on #{self.ctx.options.issue} (attempt {self.sp.attempts or 1})"
        if agent.summary:
            message += "\n\n" + proc.redact(agent.summary)[:2000]
        tree.commit_all(message)
        self.sp.head_sha = tree.push(self.sp.branch)

    def _checks(self) -> None:
        # Always run: results stored in a savepoint are never trusted to skip a check (the
        # savepoint may come back from a cache anyone with the cache token could write).
        runs = []
        user = self._space().user
        for command in self.cfg.checks:
            result = proc.run_shell(
                command, cwd=self._tree().cwd, timeout=self.cfg.check_timeout_minutes * 60, user=user
            )
            runs.append(gate.CheckRun(command, result.ok, result.seconds, result.tail(3000)))
        self.state.checks = [CheckRecord(**r.to_json(), tail=r.tail) for r in runs]
        self.state.checks_head = self.sp.head_sha

    def _gate(self) -> gate.Verdict:
        agent = self.state.agent
        checks = [gate.CheckRun(c.command, c.ok, c.seconds, c.tail) for c in self.state.checks]
        tree = self._tree()
        head = tree.head()  # collected once: both questions are about the same commit
        verdict = gate.decide(
            agent_status=agent.status or "error",
            checks=checks if self.cfg.checks else None,
            checks_configured=bool(self.cfg.checks),
            pushed=tree.remote_sha(self.sp.branch) == head,
            has_changes=tree.commits_since(self.sp.base_sha, head) > 0,
            agent_detail=(agent.notes or agent.summary or "")[:300],
        )
        self.sp.verdict = verdict.verdict
        self.outcome.verdict = verdict.verdict
        self.state.gate_reason = verdict.reason
        self.state.failing_checks = [c for c in self.state.checks if not c.ok]
        return verdict

    def _failing_output(self) -> str:
        """The tail of each failing check's output (names the failing tests), for the red reason."""
        from kagura_engineer.toolchain.setup import output_tail

        failing = [c for c in self.state.failing_checks[:3] if c.tail]
        parts = [f"`{c.command}`: {output_tail(c.tail, 6, 600)}" for c in failing]
        return " · ".join(parts)

    def _retry_possible(self, verdict: gate.Verdict) -> bool:
        fixable = self.state.agent.status == "done" and bool(self.state.failing_checks)
        used = int(self.sp.attempts or 0) - self.state.attempt_base
        return fixable and used <= self.cfg.retries

    def _reopen_for_fix(self) -> None:
        for name in ("implement", "checks", "gate"):
            self.state.done[name] = False
        self._save()

    def _reopen_after_halt(self) -> None:
        """`/kagura resume` after red: a fresh allowance of attempts; origin may hold a fix."""
        self.state.attempt_base = int(self.sp.attempts or 0)
        self.state.done["gate"] = False
        if self.state.agent.status != "done":
            self.state.done["implement"] = False  # the agent stopped early: let it continue
        self._save()

    def _pr(self) -> None:
        gh, n = self.ctx.gh, self.ctx.options.issue
        draft = self.sp.verdict == gate.YELLOW or self.ctx.options.draft
        body = self._pr_body()
        title = f"{self.issue.get('title', f'Issue #{n}')} (#{n})"
        pr, created = gh.find_or_create_pr(self.sp.branch, self.state.base, title, body, draft=draft)
        if not created and pr.get("body") != body:
            pr = gh.update_pr(pr["number"], body=body) or pr
        self.sp.pr_number = pr["number"]
        self.outcome.pr_number = pr["number"]
        self.outcome.pr_url = pr.get("html_url")
        self.state.pr_url = pr.get("html_url")

    def _pr_body(self) -> str:
        agent = self.state.agent
        lines = [f"Closes #{self.ctx.options.issue}", ""]
        if self.ctx.options.stacked_on:
            lines += [
                f"> Stacked on #{self.ctx.options.stacked_on}: this branch builds on that PR's head "
                f"(`{self.state.base}`) and targets it as base; merge that one first.",
                "",
            ]
        if self.sp.verdict == gate.YELLOW:
            lines += ["> Draft: no checks are configured in repo.yaml, so nothing verified this change.", ""]
        lines += ["## Summary", proc.redact(agent.summary or "(the agent gave no summary)"), ""]
        checks = self.state.checks
        if checks:
            lines.append("## Checks")
            lines += [f"- {'✅' if c.ok else '❌'} `{c.command}` ({c.seconds:.1f}s)" for c in checks]
            lines.append("")
        lines.append(
            f"Verdict **{self.sp.verdict}** · cost ${self.outcome.cost_usd:.2f} · "
            f"{self.outcome.turns} turns · {self.sp.attempts or 0} attempt(s) · made by kagura-engineer"
        )
        return "\n".join(lines)

    def _remember_success(self) -> None:
        n = self.ctx.options.issue
        agent = self.state.agent
        summary = f"Shipped #{n}: {self.issue.get('title', '')}"[:300]
        content = (
            f"Issue #{n} shipped as PR #{self.sp.pr_number} (verdict {self.sp.verdict}, "
            f"cost ${self.outcome.cost_usd:.2f}, {self.outcome.turns} turns, {self.sp.attempts} attempts).\n"
            f"{agent.summary}"
        )
        mem_id = self._remember_once(
            "outcome", summary, content, "outcome",
            tags=("kagura-run", JobKey.thread("issue", n), "shipped"),
            details={"cost_usd": self.outcome.cost_usd, "turns": self.outcome.turns, "issue": n},
        )  # fmt: skip
        failure = self.state.failure_memory
        if failure:
            fix_id = self._remember_once(
                "fix", f"Fix for the failure on #{n}: {self.issue.get('title', '')}"[:300],
                f"What unblocked #{n}: {agent.summary}", "fix",
                tags=("kagura-run", JobKey.thread("issue", n), "fix"),
            )  # fmt: skip
            self.ctx.memory.link(fix_id, failure, "prevents", 1.0)
        self.state.outcome_memory = mem_id

    def _remember_once(self, slot: str, summary: str, content: str, type_: str, **kw: Any) -> str:
        """Write one memory per (run, slot, head): a re-run after a kill finds it, not twice."""
        ids = self.state.memories
        if slot in ids:
            return ids[slot]
        external_id = f"{self.ctx.key}/{slot}/{self.sp.head_sha or 'none'}"
        mem_id = self.ctx.memory.remember(summary, content, type_, external_id=external_id, **kw)
        ids[slot] = mem_id
        self._save()
        return mem_id

    # -- endings -----------------------------------------------------------------------------
    def _already_shipped(self) -> bool:
        if self.sp.phase != "shipped" or not self.sp.branch:
            return False
        pr = self.ctx.gh.find_pr(self.sp.branch, state="all")
        if not pr:
            return False
        self.outcome = RunOutcome(
            status="shipped", issue=self.ctx.options.issue, branch=self.sp.branch,
            pr_number=pr["number"], pr_url=pr.get("html_url"), verdict=self.sp.verdict,
            cost_usd=self.sp.cost_usd or 0.0, turns=self.state.turns,
            phases=[p.model_dump() for p in self.sp.phases], savepoint=self.ctx.key,
        )  # fmt: skip
        return True

    def _wrap_up(self) -> None:
        """Before halting: commit what the worktree holds and push it, so nothing is lost."""
        if self.tree is None or not self.sp.branch:
            return
        try:
            self._push()
            self._save()
        except KaguraError as exc:
            proc_warn(f"could not push the work in progress: {exc.message}")

    def _halt(self, reason: str, detail: str = "") -> None:
        self._wrap_up()
        self.outcome.status = "blocked"
        self.outcome.verdict = gate.RED
        self.outcome.reason = f"{reason} — {detail}" if detail else reason
        self.sp.verdict = gate.RED
        self.sp.phase = "halted"
        self.state.halt_reason = reason
        if self.ctx.options.remember:
            self._remember_failure(reason)
        self._save()

    def _remember_failure(self, reason: str) -> None:
        n = self.ctx.options.issue
        failing = ",".join(c.command for c in self.state.failing_checks)
        signature = hashlib.sha256(f"{reason}|{failing}".encode()).hexdigest()[:12]
        try:
            mem_id = self._remember_once(
                f"failure-{signature}", f"Run on #{n} blocked: {reason}"[:300],
                f"Issue #{n} ({self.issue.get('title', '')}) halted red: {reason}.\n"
                f"Failing checks: {failing or 'none'}.\nSignature: {signature}",
                "failure", tags=("kagura-run", JobKey.thread("issue", n), "failure"),
                details={"signature": signature, "issue": n},
            )  # fmt: skip
            self.state.failure_memory = mem_id
        except KaguraError as exc:
            proc_warn(f"could not record the failure in memory: {exc.message}")

    def _fail(self, message: str, blocked: bool = False) -> None:
        self.outcome.status = "blocked" if blocked else "failed"
        self.outcome.reason = message
        if self.sp is not None:
            self.state.error = message
            try:
                self._save()
            except KaguraError:
                pass

    def _report(self) -> None:
        if self.sp is not None:
            self.outcome.phases = [p.model_dump() for p in self.sp.phases]
            self.outcome.branch = self.outcome.branch or self.sp.branch
            if self.outcome.pr_number is None and self.sp.pr_number:
                self.outcome.pr_number = self.sp.pr_number
                self.outcome.pr_url = self.state.pr_url
            self.outcome.verdict = self.outcome.verdict or self.sp.verdict
        self._update_progress(final=True)

    # -- helpers ------------------------------------------------------------------------
    def _default_branch(self) -> str:
        """GitHub's default branch (git's idea of origin's when GitHub names none), asked once."""
        if self._default is None:
            self._default = self.ctx.gh.get_repo().get("default_branch") or self.ctx.repo.default_branch()
        return self._default

    def _tree(self) -> Any:
        if self.tree is None:
            self._branch()
        assert self.tree is not None
        return self.tree

    def _agent_event(self, event: Any) -> None:
        self.ctx.extra["last_event"] = event
        self._update_progress(current="implement")

    def _update_progress(self, current: str | None = None, final: bool = False) -> None:
        if self.ctx.progress is None or self.sp is None:
            return
        try:
            self.ctx.progress.show(self, current=current, final=final)
        except KaguraError as exc:
            proc_warn(f"progress comment not updated: {exc.message}")


def proc_warn(message: str) -> None:
    from kagura_engineer.workflow import write_untrusted

    write_untrusted(f"warning: {message}")  # messages quote git, memory and GitHub text


def run_issue(ctx: RunContext) -> RunOutcome:
    return IssueRun(ctx).execute()


def _clone_branch(path: Path) -> str | None:
    """The branch a clone's HEAD names, read as data from its HEAD file (no git run there)."""
    from kagura_engineer.agent.user import read_agent_file

    text = (read_agent_file(path / ".git" / "HEAD", limit=4096) or "").strip()
    return text[len("ref: refs/heads/") :] if text.startswith("ref: refs/heads/") else None
