"""The review job: resolve → review → post → (fix → push → review)×loops, pinned to the head.

- A verdict belongs to the commit it reviewed and is recorded with its SHA in the savepoint
  (`review/<owner>/<repo>/pr-<n>`). A re-run on the same SHA reuses it: no model call and
  nothing new posted. An older verdict never gates a newer head: verdicts are looked up by
  SHA only.
- Before posting, GitHub is asked for the PR's head again: if it moved while reviewing, the
  result is dropped (exit 1), not posted. A post is looked up by marker and `commit_id`
  first, so a kill between posting and the savepoint never produces a second review.
- `--fix` on red: the fixer works on the PR's head branch in the review worktree; the
  harness commits, pushes and reviews again, at most `review.max_loops` times, stopping
  early when a loop leaves the same blocking findings ((file, title) pairs). "Could not
  review" never triggers a fix. Every step of a loop is saved (see `fixloop`).
- Fork PRs: `--fix` is refused; Claude Code's project files are restored from the base
  before any agent reads the code, and the Claude reviewer loads no project settings or
  memory from the checkout (see `safety` and `agent.project_files`).

Exit 0 green/yellow · 1 could not review (or the head moved) · 2 red (or refused, busy).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kagura_engineer import proc
from kagura_engineer.budget import Budget
from kagura_engineer.errors import BlockedError, BusyError, KaguraError
from kagura_engineer.jobkey import JobKey
from kagura_engineer.review import fixloop
from kagura_engineer.review.envelope import Envelope, EnvelopeError, parse_envelope
from kagura_engineer.review.reviewer import ReviewResult
from kagura_engineer.review.state import ChainRecord, FixRecord, ReviewState, VerdictRecord
from kagura_engineer.review.target import Target, checkout, report_path
from kagura_engineer.status import Ending, Status
from kagura_engineer.workflow import write_untrusted

KEEP_VERDICTS = 6
#: How long to wait for GitHub to show a push as the PR head (seconds, one per retry).
LAG_WAITS = (1.0, 2.0, 4.0, 8.0, 15.0)


@dataclass
class ReviewOptions:
    target: str = "HEAD"
    base: str | None = None
    fix: bool = False
    run_id: str | None = None


@dataclass
class ReviewContext:
    """Everything a review touches, built by the command (or a test) and passed in."""

    config: Any  # Config
    options: ReviewOptions
    repo: Any  # run.git.Git: the checkout the command runs in
    store: Any  # SavepointStore
    owner: str
    repo_name: str
    resolve: Callable[[], Target]  # resolves the target (asks GitHub for a PR)
    reviewer: Any  # reviewer.Reviewer
    agent: Callable[..., Any]  # the fixer: agent.drive_agent or a scripted function
    gh: Any = None  # github.client.GitHub (None: a local review, nothing posted)
    memory: Any = None  # MemoryClient for recall (None: no context)
    progress: Callable[[Target, str], Any] | None = None  # (target, key) -> ProgressComment
    run_url: str | None = None
    summary_path: str | None = None
    say: Callable[[str], None] = lambda line: write_untrusted(line)  # live lines quote model and check output
    sleep: Callable[[float], None] = time.sleep


@dataclass
class ReviewOutcome:
    status: str = "failed"  # reviewed | blocked | failed | busy
    verdict: str | None = None
    target: str = ""
    pr_number: int | None = None
    pr_url: str | None = None
    base_sha: str | None = None
    head_sha: str | None = None
    reviewer: str | None = None
    findings: int = 0
    blocking: int = 0
    review_id: int | None = None
    review_url: str | None = None
    posted: bool = False  # a review was posted by this run
    reused: bool = False  # the verdict for this SHA was already recorded
    loops: int = 0
    pushed: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    cost_usd: float = 0.0
    report: str | None = None
    savepoint: str | None = None
    reason: str | None = None

    @property
    def exit_code(self) -> int:
        from kagura_engineer.status import exit_code

        return exit_code(self.status)

    def ending(self) -> Ending:
        return Ending(
            Status(self.status), reason=self.reason or "", pr_number=self.pr_number, pr_url=self.pr_url,
            verdict=self.verdict, cost_usd=round(self.cost_usd, 4), savepoint=self.savepoint,
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["cost_usd"] = round(self.cost_usd, 4)
        return data


class _Stop(Exception):
    """Ends the job with an outcome already filled in."""


class ReviewJob:
    def __init__(self, ctx: ReviewContext) -> None:
        self.ctx = ctx
        self.cfg = ctx.config
        self.outcome = ReviewOutcome(target=ctx.options.target)
        self.target: Target | None = None
        self.sp: Any = None
        self.key: str | None = None
        self.comment: Any = None
        self.steps: list[list[str]] = []
        self.root = Path(ctx.repo.toplevel())
        self.space: Any = None  # agent.user.AgentSpace, made on first use

    @property
    def state(self) -> ReviewState:
        """The review's own part of the savepoint (`sp.data`)."""
        return self.sp.data

    # -- the orchestrator ----------------------------------------------------------------
    def execute(self) -> ReviewOutcome:
        from kagura_engineer.memory.lease import Holder, github_run_finished

        ctx = self.ctx
        self.target = target = ctx.resolve()
        self.key = str(JobKey.review(ctx.owner, ctx.repo_name, target.slug))
        self.outcome.savepoint = self.key
        self._describe_target(target)
        if ctx.progress is not None and target.pr_number is not None:
            self.comment = ctx.progress(target, self.key)
        holder = Holder.current(ctx.options.run_id)
        ttl = self.cfg.budget.max_minutes * 60 * (self.cfg.review.max_loops + 1) + 600
        try:
            # a review killed with its lease held (a cancelled job) does not block the next one
            # until expiry: once GitHub reports the holder's workflow run finished, it is taken over
            finished = github_run_finished(ctx.gh) if ctx.gh is not None else None
            ctx.store.acquire(self.key, holder, ttl, is_run_finished=finished)
        except BusyError as exc:
            # the comment shows the other job's progress: leave it alone
            self.comment = None
            self.outcome.status, self.outcome.reason = "busy", exc.message
            self._finish()
            return self.outcome
        try:
            self._load()
            self._drive(target)
        except _Stop:
            if target.kind != "pr" and self.outcome.pushed:
                self._sync_local_branch(target, self.outcome.pushed[-1])
        except KaguraError as exc:
            blocked = exc.exit_code == 2
            self.outcome.status = "blocked" if blocked else "failed"
            self.outcome.reason = exc.message + (f" ({exc.hint})" if exc.hint else "")
        finally:
            try:
                self._save()
            except KaguraError as exc:
                self._warn(f"could not save the savepoint: {exc.message}")
            self._finish()
            try:
                ctx.store.release(self.key, holder)
            except KaguraError as exc:
                self._warn(f"could not release the lease: {exc.message}")
        return self.outcome

    def _drive(self, target: Target) -> None:
        if target.fork and self.ctx.options.fix:
            raise _refused(target, self.ctx)
        if self.ctx.options.fix and target.kind != "pr":
            self._check_local_fixable(target)
        self._step("resolve", "done", f"{target.label}: {target.base_sha[:7]}...{target.head_sha[:7]}")
        while True:
            head = target.head_sha
            fix = self.state.fix
            # an interrupted loop is finished only when fixing was asked for again
            if self.ctx.options.fix and fix and fix.state not in (fixloop.PUSHED, fixloop.SUPERSEDED):
                head = self._resume_fix(target, fix)
                if head is not None:
                    target.head_sha = head
                    continue
            result = self._review(target)
            if result.envelope is None:
                self._could_not(result)
            envelope = result.envelope
            self._post(target, envelope, result.reviewer)
            if envelope.verdict != "red":
                self._end("reviewed", None)
            if not self.ctx.options.fix:
                self._end("blocked", f"{len(envelope.blocking)} blocking finding(s)")
            self._start_fix(target, envelope)

    # -- reviewing ---------------------------------------------------------------------------
    def _review(self, target: Target) -> ReviewResult:
        head = target.head_sha
        self.outcome.head_sha, self.outcome.base_sha = head, target.base_sha
        recorded = self.state.verdicts.get(head)
        if recorded is not None:
            try:
                if recorded.envelope is None:
                    raise EnvelopeError("no envelope recorded")
                envelope = parse_envelope(recorded.envelope)
            except EnvelopeError:
                recorded = None
            else:
                self.outcome.reused = True
                self._step(f"review {head[:7]}", "done", f"{envelope.verdict} (recorded earlier)")
                result = ReviewResult(recorded.reviewer or "?", envelope=envelope,
                                      raw=json.dumps(recorded.envelope, indent=2))  # fmt: skip
                self._write_report(result)
                self._record_verdict(result, head)
                return result
        self.outcome.reused = False
        self._step(f"review {head[:7]}", "running")
        tree = checkout(self.ctx.repo, target, space=self._space())
        if target.fork:
            restored = getattr(tree, "restored", [])
            self.outcome.restored = sorted(set(self.outcome.restored) | set(restored))
        context_file = self._context(target)
        result = self.ctx.reviewer.review(tree, target.base_sha, head, context_file, self._budget(),
                                          untrusted_project=target.fork)  # fmt: skip
        self._spend(result.cost_usd)
        self._write_report(result)
        if result.envelope is None:
            self._step(f"review {head[:7]}", "failed", result.error or "could not review")
            return result
        self._record_verdict(result, head)
        self._step(f"review {head[:7]}", "done", f"{result.envelope.verdict}: {len(result.envelope.blocking)} blocking")
        return result

    def _record_verdict(self, result: ReviewResult, head: str) -> None:
        assert result.envelope is not None
        envelope = result.envelope
        verdicts = self.state.verdicts
        entry = verdicts.pop(head, None) or VerdictRecord()
        entry.verdict, entry.envelope = envelope.verdict, envelope.to_json()
        entry.reviewer, entry.signature = result.reviewer, envelope.signature()
        verdicts[head] = entry  # newest last
        for old in list(verdicts)[:-KEEP_VERDICTS]:
            del verdicts[old]
        self.sp.head_sha = head
        self.sp.base_sha = self.target.base_sha if self.target else None
        self.sp.verdict = envelope.verdict
        self.outcome.verdict = envelope.verdict
        self.outcome.reviewer = result.reviewer
        self.outcome.findings = envelope.summary.total
        self.outcome.blocking = len(envelope.blocking)
        self.sp.phase = "reviewed"
        self._save()

    def _could_not(self, result: ReviewResult) -> None:
        self.outcome.verdict = None
        self.outcome.reviewer = result.reviewer
        self._end("failed", f"could not review: {result.error}")

    def _space(self) -> Any:
        """The agent user's space for this checkout (made once; closes the harness's files)."""
        if self.space is None:
            from kagura_engineer.agent.user import isolate

            db = getattr(self.cfg, "local_memory_path", None)
            extra = [str(Path(db).parent)] if db and Path(db).is_absolute() else []
            self.space = isolate(self.root, extra=extra)
        return self.space

    def _context(self, target: Target) -> Path | None:
        """Recalled memory as an untrusted context file for the reviewer (None without memory)."""
        if self.ctx.memory is None:
            return None
        from kagura_engineer.github.sanitize import clean_untrusted
        from kagura_engineer.memory.lessons import render_memories

        files = self.ctx.repo.run("diff", "--name-only", f"{target.base_sha}...{target.head_sha}", check=False)
        query = f"code review {target.title}\n" + " ".join(files.stdout.split()[:40])
        try:
            memories = self.ctx.memory.recall(query, k=6)
        except KaguraError as exc:
            self._warn(f"recall failed, reviewing without memory: {exc.message}")
            return None
        if not memories:
            return None
        path = Path(self._space().tmp) / f"review-context-{target.slug}.md"  # the reviewer may read it
        path.write_text(clean_untrusted(render_memories(memories)) + "\n", encoding="utf-8")
        return path

    def _write_report(self, result: ReviewResult) -> None:
        """`.kagura/review.json`: the envelope of this review; a rejected one goes aside."""
        path = report_path(self.root)
        path.parent.mkdir(parents=True, exist_ok=True)
        rejected = path.with_name("review.rejected.json")
        if result.envelope is None:
            path.unlink(missing_ok=True)  # never leave an older verdict where this one belongs
            if result.raw is not None:
                rejected.write_text(result.raw, encoding="utf-8")
            self.outcome.report = None
            return
        tmp = path.with_name(f".review.json.{proc_id()}")
        tmp.write_text(json.dumps(result.envelope.to_json(), indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
        rejected.unlink(missing_ok=True)
        self.outcome.report = str(path)

    # -- posting ---------------------------------------------------------------------------------
    def _post(self, target: Target, envelope: Envelope, reviewer: str) -> None:
        from kagura_engineer.review.post import diff_ranges, post_review

        if target.pr_number is None or self.ctx.gh is None:
            return
        head = target.head_sha
        entry = self.state.verdicts[head]
        if entry.posted:
            self.outcome.review_id, self.outcome.review_url = entry.posted, entry.review_url
            return
        current = self._github_head(target.pr_number, head)
        if current != head:
            self._step(f"post {head[:7]}", "skipped", f"head moved to {str(current)[:7]}")
            self._end(
                "failed",
                f"the head of {target.label} moved from {head[:12]} to {str(current)[:12]} while it was "
                "reviewed: the result was dropped, not posted (the new head needs its own review)",
            )
        ranges = diff_ranges(self.ctx.repo, target.base_sha, head)
        fix = self.state.fix
        loop = fix.loop if fix is not None and fix.to == head else None
        review, created = post_review(self.ctx.gh, target.pr_number, head, envelope, ranges,
                                      key=self.key, reviewer=reviewer, loop=loop)  # fmt: skip
        entry.posted, entry.review_url = review.get("id"), review.get("html_url")
        self.outcome.review_id, self.outcome.review_url = review.get("id"), review.get("html_url")
        self.outcome.posted = self.outcome.posted or created
        self._step(f"post {head[:7]}", "done", "inline and summary" if created else "already posted")
        self._save()

    def _github_head(self, number: int, head: str) -> str | None:
        """The PR's head as GitHub reports it, waiting briefly while GitHub catches up with a
        push that `head` descends from (its PR head updates a moment after the push)."""
        for wait in (*LAG_WAITS, None):
            current = (self.ctx.gh.get_pull(number).get("head") or {}).get("sha")
            behind = current and current != head and self.ctx.repo.run(
                "merge-base", "--is-ancestor", current, head, check=False).ok  # fmt: skip
            if not behind or wait is None:
                return current
            self.ctx.sleep(wait)
        return None

    # -- fixing -------------------------------------------------------------------------------------
    def _start_fix(self, target: Target, envelope: Envelope) -> None:
        head = target.head_sha
        state = self.state
        chain = state.chain
        if chain is None or chain.head != head:
            chain = state.chain = ChainRecord(start=head, head=head, loops=0)
        last = state.fix
        if last and last.state == fixloop.PUSHED and last.to == head:
            if last.signature_before == envelope.signature():
                self._end("blocked", f"fix loop {last.loop} left the same blocking findings; stopping early "
                          f"({len(envelope.blocking)} blocking)")  # fmt: skip
            stopped = last.agent.stopped_by if last.agent else None
            if stopped:
                self._end("blocked", f"the fixer ran out of budget ({stopped}) with blocking findings left")
        if chain.loops >= self.cfg.review.max_loops:
            self._end("blocked", f"still red after {chain.loops} fix loop(s) (review.max_loops)")
        chain.loops += 1
        fix = state.fix = FixRecord(loop=chain.loops, from_=head, state=fixloop.FIXING, session=None,
                                    signature_before=envelope.signature())  # fmt: skip
        self.sp.phase = "fixing"
        self._save()
        new_head = self._run_fix(target, fix)
        target.head_sha = new_head

    def _resume_fix(self, target: Target, fix: FixRecord) -> str | None:
        """An interrupted loop: finish it (returns the new head) or retire it (None)."""
        current = target.head_sha
        if fix.from_ != current:
            if current in (fix.commit, fix.to):
                fix.to, fix.state = current, fixloop.PUSHED  # our push landed; the savepoint missed it
                self._bump_chain(current)
            else:
                fix.state = fixloop.SUPERSEDED  # someone else pushed: review what is there now
            self._save()
            return None
        self._say(f"resuming fix loop {fix.loop} from {fix.state}")
        return self._run_fix(target, fix)

    def _run_fix(self, target: Target, fix: FixRecord) -> str:
        recorded = self.state.verdicts.get(fix.from_)
        if recorded is None or recorded.envelope is None:  # only an edited savepoint: start over
            fix.state = fixloop.SUPERSEDED
            return fix.from_
        envelope = parse_envelope(recorded.envelope)
        name = f"fix {fix.loop}"
        self._step(name, "running", f"{len(envelope.blocking)} blocking finding(s)")
        tree = checkout(self.ctx.repo, target, keep_work_from=fix.from_, space=self._space())
        budget = self._budget()
        if budget.usd <= 0:
            self._end("blocked", "the budget is spent (budget.max_usd) with blocking findings left")
        config = self._setup(target, tree) if fix.state in (fixloop.FIXING, fixloop.FIXED) else self.cfg
        spent = fixloop.run_fix(
            fix, tree=tree, push_branch=target.head_ref or "", envelope=envelope, label=target.label,
            agent=self.ctx.agent, config=config,
            budget=budget, save=self._save,
        )  # fmt: skip
        self._spend(spent["cost_usd"])
        to = fix.to or fix.from_
        self._bump_chain(to)
        if to != fix.from_:
            self.outcome.pushed.append(to)
        self.outcome.loops = max(self.outcome.loops, fix.loop)
        self._step(name, "done", f"pushed {to[:7]}" if to != fix.from_ else "no change")
        self._save()
        return to

    def _setup(self, target: Target, tree: Any) -> Any:
        """The base's trusted setup/checks, and the toolchain in the fixer's clone (see run.toolchain)."""
        from kagura_engineer.toolchain import setup as toolchain
        from kagura_engineer.toolchain.trusted import trusted_config

        trusted = trusted_config(self.cfg, self.ctx.repo, target.base_sha, f"origin/{target.base_ref}")
        if trusted.note:
            self._warn(trusted.note)
        try:
            report = toolchain.prepare(trusted.config, tree, say=self._say)
        except toolchain.SetupFailed as exc:
            self._step("setup", "failed", exc.reason)
            self._end("blocked", exc.message)
        if report.runs:
            self._step("setup", "done", f"{report.detail()} ({trusted.source})")
        return trusted.config

    def _bump_chain(self, head: str) -> None:
        if self.state.chain is None:
            self.state.chain = ChainRecord(start=head, head=head, loops=0)
        self.state.chain.head = head

    def _check_local_fixable(self, target: Target) -> None:
        if not target.head_ref:
            raise BlockedError("HEAD is detached: review --fix needs a branch to push the fixes to",
                               hint="check out the branch first, or review without --fix")  # fmt: skip
        if self.ctx.repo.remote_sha(target.head_ref) != target.head_sha:
            raise BlockedError(
                f"{target.head_ref} has commits origin does not have (or origin is ahead): "
                "review --fix pushes to origin, so they must match",
                hint=f"git push (or git pull) first, then: kagura-engineer review {target.label} --fix",
            )

    def _sync_local_branch(self, target: Target, pushed: str) -> None:
        """Bring the local branch up to the fixes pushed to origin (fast-forward only)."""
        repo, branch = self.ctx.repo, target.head_ref or ""
        local = repo.run("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False).stdout.strip()
        if not local or local == pushed:
            return
        if not repo.run("merge-base", "--is-ancestor", local, pushed, check=False).ok:
            self._warn(f"{branch} moved on locally; the fixes are on origin/{branch}")
            return
        current = repo.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False).stdout.strip()
        if current != branch:
            repo.run("update-ref", f"refs/heads/{branch}", pushed, local)
        elif repo.dirty():
            self._warn(f"the checkout has uncommitted changes: run `git pull` to get the fixes on {branch}")
        else:
            repo.run("merge", "--ff-only", "--quiet", pushed)

    # -- bookkeeping ---------------------------------------------------------------------------
    def _load(self) -> None:
        from kagura_engineer.memory.savepoint import Savepoint

        sp = self.ctx.store.load(self.key, ReviewState)
        if sp is None:
            sp = Savepoint[ReviewState](key=self.key, phase="start", run_id=self.ctx.options.run_id)
        sp.run_id = self.ctx.options.run_id or sp.run_id
        sp.pr_number = self.target.pr_number if self.target else None
        sp.branch = self.target.head_ref if self.target else None
        self.sp = sp
        fix = sp.data.fix
        if fix is None or fix.state not in (fixloop.FIXING, fixloop.FIXED, fixloop.COMMITTED):
            sp.data.spent = 0.0  # a fresh job gets the whole budget; a resumed one continues
        self.steps = [list(s) for s in sp.data.steps][-20:]

    def _save(self) -> None:
        if self.sp is None:
            return
        self.state.steps = self.steps[-20:]
        self.state.target = self.target.to_json() if self.target else None
        self.sp.cost_usd = round(self.state.spent, 6)
        # keep this object: the fix loop holds a reference to `state.fix` across saves
        stored = self.ctx.store.save(self.sp)
        self.sp.updated_at = stored.updated_at

    def _spend(self, usd: float) -> None:
        if usd:
            self.outcome.cost_usd += usd
            self.state.spent += usd

    def _budget(self) -> Budget:
        spent = self.state.spent if self.sp is not None else 0.0
        return Budget.from_config(self.cfg.budget).remaining(spent)

    def _end(self, status: str, reason: str | None) -> None:
        self.outcome.status, self.outcome.reason = status, reason
        if self.sp is not None:
            self.sp.phase = {"reviewed": "done", "blocked": "red", "failed": "failed"}.get(status, status)
        raise _Stop

    def _describe_target(self, target: Target) -> None:
        self.outcome.target = target.label
        self.outcome.pr_number = target.pr_number
        self.outcome.base_sha, self.outcome.head_sha = target.base_sha, target.head_sha
        if target.pr_number is not None and self.ctx.gh is not None:
            self.outcome.pr_url = f"{self.ctx.gh.server_url}/{self.ctx.gh.owner}/{self.ctx.gh.repo}/pull/{target.pr_number}"

    def _step(self, name: str, state: str, detail: str = "") -> None:
        self.steps = [s for s in self.steps if s[0] != name] + [[name, state, detail]]
        if state != "running":
            self._say(f"  {'✓' if state == 'done' else '✗' if state == 'failed' else '-'} {name} {detail}".rstrip())
        self._show(current=name if state == "running" else None)

    def _show(self, current: str | None = None, final: bool = False) -> None:
        if self.comment is None and not (final and self.ctx.summary_path):
            return
        from kagura_engineer.github.progress import ProgressState, write_step_summary

        target = self.target
        title = f"review {target.label}" + (f": {target.title}" if target and target.title else "") if target else "review"
        state = ProgressState(key=self.key or "review", title=title, run_url=self.ctx.run_url,
                              cost_usd=self.outcome.cost_usd, budget_usd=self.cfg.budget.max_usd)  # fmt: skip
        for name, st, detail in self.steps:
            state.set_phase(name, st if st in ("pending", "running", "done", "failed", "skipped") else "done", detail)
        state.step = current or ""
        state.pr_number, state.pr_url = self.outcome.pr_number, self.outcome.pr_url
        if self.outcome.review_url:
            state.notes.append(f"latest review: {self.outcome.review_url}")
        state.verdict = self.outcome.verdict
        if self.outcome.restored:
            state.notes.append("fork PR: restored from the base branch before review: "
                               + ", ".join(self.outcome.restored[:20]))  # fmt: skip
        if final:
            state.status = self.outcome.status
            state.reason = self.outcome.reason
            if self.outcome.status in ("blocked", "failed"):
                state.resume = "fix what blocked, then comment `/kagura review` (or `/kagura fix`) or re-run the workflow"
        try:
            if self.comment is not None:
                self.comment.finish(state) if final else self.comment.update(state)
            if final and self.ctx.summary_path:
                write_step_summary(state, self.ctx.summary_path, append=True)
        except (KaguraError, OSError) as exc:
            self._warn(f"progress not updated: {exc}")

    def _finish(self) -> None:
        self._show(final=True)

    def _say(self, line: str) -> None:
        self.ctx.say(proc.redact(line))

    def _warn(self, message: str) -> None:
        self.ctx.say(f"warning: {proc.redact(message)}")


def _refused(target: Target, ctx: ReviewContext) -> KaguraError:
    from kagura_engineer.review.safety import refuse_fork_fix

    return refuse_fork_fix(target.pr_number or 0, target.head_repo, f"{ctx.owner}/{ctx.repo_name}")


def proc_id() -> str:
    import os

    return f"{os.getpid()}.{time.monotonic_ns()}"


def run_review(ctx: ReviewContext) -> ReviewOutcome:
    return ReviewJob(ctx).execute()
