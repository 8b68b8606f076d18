"""One fix loop: the agent fixes the blocking findings, the harness commits and pushes.

The loop's state lives in the savepoint (`ReviewState.fix`) and moves forward in steps, each
saved before the next starts, so a job killed at any instant resumes the step in flight:

    fixing ──agent done──▶ fixed ──commit──▶ committed ──push──▶ pushed

- killed while `fixing`: the worktree keeps the agent's work in progress and the agent is
  resumed (same session when the transcript survived) on top of it;
- killed while `fixed`: the work is committed and pushed (if a new job lost the worktree,
  and with it the uncommitted work, the agent runs again);
- killed while `committed`: the commit is pushed; if the push had landed already, the PR
  head is that commit and nothing is pushed twice.

Findings come from a model that read untrusted code: they go into the prompt sanitized
and fenced as data, never as instructions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from kagura_engineer import proc
from kagura_engineer.budget import Budget
from kagura_engineer.memory.savepoint import AgentRecord
from kagura_engineer.review.envelope import Envelope
from kagura_engineer.review.state import FixRecord

FIXING, FIXED, COMMITTED, PUSHED, SUPERSEDED = "fixing", "fixed", "committed", "pushed", "superseded"


def fix_prompt(envelope: Envelope, label: str) -> str:
    """The fixer's prompt: the blocking findings as fenced, sanitized data."""
    from kagura_engineer.github.sanitize import fence_untrusted

    findings = [
        {k: f.model_dump().get(k) for k in ("severity", "file", "line", "title", "rationale", "suggestion")}
        for f in envelope.blocking
    ]
    listed = "\n".join(json.dumps(f, ensure_ascii=False) for f in findings)
    return "\n\n".join([
        f"A code review of {label} found blocking problems (severity HIGH or CRITICAL). Fix each of "
        "them in this worktree, with the smallest change that removes the defect.",
        fence_untrusted("review findings (untrusted)", listed),
        "Each finding names a file and a line as the reviewer saw them; read the code and decide "
        "yourself whether and how it is wrong. Do not commit or push: the harness commits what the "
        "worktree holds, pushes it and reviews it again. When you are done, report with the "
        "StructuredOutput tool (status done, blocked or needs_input, and a summary of the change).",
    ])  # fmt: skip


def run_fix(
    fix: FixRecord,
    *,
    tree: Any,
    push_branch: str,
    envelope: Envelope,
    label: str,
    agent: Callable[..., Any],
    config: Any,
    budget: Budget,
    save: Callable[[], None],
    on_event: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Drive `fix` (the savepoint's fix record) to PUSHED; returns what the agent spent.

    `save()` persists the savepoint (which holds `fix`) after every step.
    """
    spent = {"cost_usd": 0.0, "turns": 0}
    if fix.state == COMMITTED and tree.head() != fix.commit:
        if tree.run("cat-file", "-e", f"{fix.commit}^{{commit}}", check=False).ok:
            tree.run("reset", "--quiet", "--hard", fix.commit)
        else:  # a new job: the commit never left the old machine
            fix.state, fix.session = FIXING, None
    if fix.state == FIXED and tree.head() == fix.from_ and not tree.dirty() and fix.changed:
        fix.state = FIXING  # the agent's work was lost with the worktree (a new job): redo it
        fix.session = None
    if fix.state == FIXING:
        def on_session(session_id: str) -> None:
            if session_id and session_id != fix.session:
                fix.session = session_id
                save()

        result = agent(
            prompt=fix_prompt(envelope, label), cwd=tree.cwd, config=config, resume=fix.session,
            **budget.agent_kwargs(), on_session=on_session, on_event=on_event, space=getattr(tree, "space", None),
        )  # fmt: skip
        spent = {"cost_usd": float(result.cost_usd or 0.0), "turns": int(result.turns or 0)}
        summary = proc.redact(result.summary or "")[:2000]
        fix.agent = AgentRecord(status=result.status, summary=summary, stopped_by=result.stopped_by)
        fix.changed = tree.dirty() or tree.head() != fix.from_
        fix.state = FIXED
        save()
    if fix.state == FIXED:
        summary = fix.agent.summary if fix.agent else ""
        message = f"kagura: fix review findings on {label} (loop {fix.loop})"
        if summary:
            message += "\n\n" + summary
        tree.commit_all(message)
        fix.commit = tree.head()
        fix.state = COMMITTED
        save()
    if fix.state == COMMITTED:
        fix.to = tree.push(push_branch)
        fix.state = PUSHED
        save()
    return spent
