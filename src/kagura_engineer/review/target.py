"""What is reviewed: a pull request, a branch or HEAD, resolved to commits and a worktree.

`resolve_*` turn the user's target into a `Target`: the base and head SHAs (the reviewer
diffs `base...head`), the branch a fix is pushed to, and whether it comes from a fork. The
head is fetched from origin (`refs/pull/<n>/head` for a fork, whose branch lives
elsewhere), and a PR's head SHA is what GitHub reports, fetched and verified to match.

`checkout(...)` gives the worktree the reviewer reads: `.kagura/worktrees/review-<target>`
on a local branch of its own, at the head, clean — unless a fix loop was interrupted there
(its work in progress is kept so the fix resumes instead of starting over).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kagura_engineer.errors import ConfigError, KaguraError
from kagura_engineer.git import Git, GitError, slugify
from kagura_engineer.jobkey import JobKey

_PR = re.compile(r"^#?(\d+)$")


class HeadMoving(KaguraError):
    """The PR's head changed between GitHub's answer and the fetch, again and again."""

    code = "review-head-moving"


@dataclass
class Target:
    kind: str  # pr | branch | head
    label: str  # "#12", "feature/x", "HEAD"
    slug: str  # the savepoint target: pr-12, branch-feature-x-1a2b3c, sha-<12>
    base_ref: str
    base_sha: str
    head_sha: str
    head_ref: str | None = None  # the branch fixes are pushed to (None: detached HEAD)
    pr_number: int | None = None
    fork: bool = False
    head_repo: str | None = None
    title: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def is_pr(target: str) -> int | None:
    match = _PR.match(target.strip())
    return int(match.group(1)) if match else None


def resolve_pr(
    repo: Git, gh: Any, number: int, base: str | None = None, attempts: int = 3,
    sleep: Callable[[float], None] = time.sleep,
) -> Target:  # fmt: skip
    """A PR's base and head, with the head SHA GitHub reports fetched into this checkout."""
    for attempt in range(attempts):
        if attempt:
            sleep(2.0 * attempt)  # GitHub's answer and the git ref disagree: let them settle
        pr = gh.get_pull(number)
        head, base_side = pr.get("head") or {}, pr.get("base") or {}
        head_repo = ((head.get("repo") or {}).get("full_name")) or None
        base_repo = ((base_side.get("repo") or {}).get("full_name")) or gh.full_name
        fork = head_repo is None or head_repo.lower() != base_repo.lower()
        base_ref = base or base_side.get("ref") or "main"
        head_ref = head.get("ref")
        sha = head.get("sha")
        local = f"refs/kagura/review/pr-{number}"
        source = f"refs/pull/{number}/head" if fork else f"refs/heads/{head_ref}"
        fetch(repo, f"+{source}:{local}", f"+refs/heads/{base_ref}:refs/remotes/origin/{base_ref}")
        fetched = repo.out("rev-parse", local)
        if fetched == sha:
            return Target(
                kind="pr", label=f"#{number}", slug=JobKey.thread("pr", number), base_ref=base_ref,
                base_sha=repo.out("rev-parse", f"refs/remotes/origin/{base_ref}"), head_sha=sha,
                head_ref=None if fork else head_ref, pr_number=number, fork=fork, head_repo=head_repo,
                title=str(pr.get("title") or ""),
            )  # fmt: skip
    raise HeadMoving(
        f"the head of #{number} kept moving while it was fetched", hint="re-run once the pushes settle"
    )


def resolve_local(repo: Git, target: str, base: str | None, default_base: str) -> Target:
    """HEAD or a branch of this checkout (a branch only on origin is fetched)."""
    base_ref = base or default_base
    fetch(repo, f"+refs/heads/{base_ref}:refs/remotes/origin/{base_ref}")
    base_sha = repo.out("rev-parse", f"refs/remotes/origin/{base_ref}")
    if target == "HEAD":
        head_sha = repo.head()
        branch = repo.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False).stdout.strip() or None
        slug = f"branch-{_slug(branch)}" if branch else f"sha-{head_sha[:12]}"
        return Target(kind="head", label="HEAD", slug=slug, base_ref=base_ref, base_sha=base_sha,
                      head_sha=head_sha, head_ref=branch)  # fmt: skip
    local = repo.run("rev-parse", "--verify", "--quiet", f"refs/heads/{target}^{{commit}}", check=False)
    if local.ok:
        head_sha = local.stdout.strip()
    else:
        if repo.remote_sha(target) is None:
            raise ConfigError(
                f"no branch {target!r} here or on origin",
                hint="give HEAD, a branch name or a pull request number",
            )
        fetch(repo, f"+refs/heads/{target}:refs/remotes/origin/{target}")
        head_sha = repo.out("rev-parse", f"refs/remotes/origin/{target}")
    return Target(kind="branch", label=target, slug=f"branch-{_slug(target)}", base_ref=base_ref,
                  base_sha=base_sha, head_sha=head_sha, head_ref=target)  # fmt: skip


def fetch(repo: Git, *refspecs: str) -> None:
    """`git fetch origin REFSPEC...`; when it fails, git's whole message (redacted, one line) and
    a hint, not just its last line ("... and the repository exists.")."""
    result = repo.run("fetch", "--quiet", "--no-tags", "origin", *refspecs, check=False)
    if result.ok:
        return
    lines = [line.strip() for line in result.tail(1200).splitlines() if line.strip()]
    message = " ".join(lines)[:600] if lines else f"exit {result.returncode}"
    if not repo.run("remote", "get-url", "origin", check=False).ok:
        hint = (
            "this checkout has no `origin` remote: review from a clone of the GitHub repository "
            "(or add it: git remote add origin <url>)"
        )
    else:
        hint = "check that origin is reachable and the branch exists there: git fetch origin"
    raise GitError(f"git fetch failed: {message}", hint=hint)


def _slug(branch: str) -> str:
    digest = hashlib.sha256(branch.encode()).hexdigest()[:6]
    return f"{slugify(branch, 40)}-{digest}"


def checkout(repo: Git, target: Target, keep_work_from: str | None = None, space: Any = None) -> Any:
    """The agent's clone for the review, on the branch `kagura-review/<slug>` at the target's head.

    `keep_work_from`: a fix loop was interrupted after starting from that SHA; when the
    clone still descends from it, its commits and uncommitted changes are kept. Otherwise the
    clone is made afresh (also holding the base, for the diff); for a fork PR, Claude Code's
    configuration is restored from the base before the agent user gets the clone.
    """
    from kagura_engineer.agent.clone import AgentClone
    from kagura_engineer.agent.user import isolate

    repo.exclude("/.kagura/")
    space = space or isolate(repo.toplevel())
    clone = AgentClone.in_space(repo, space, f"review-{target.slug}", f"kagura-review/{target.slug}")
    if keep_work_from and clone.exists():
        head = clone.collect()
        if head == keep_work_from or repo.run("merge-base", "--is-ancestor", keep_work_from, head, check=False).ok:
            return clone
    restored: list[str] = []
    prepare = None
    if target.fork:
        from kagura_engineer.review.safety import restore_from_base

        def prepare(path: Path) -> None:
            restored.extend(restore_from_base(Git(path), target.base_sha))

    clone.create(target.head_sha, prepare=prepare, also=(target.base_sha,))
    clone.restored = restored
    return clone


def report_path(repo_root: Path) -> Path:
    """Where the raw report of the last review goes: `.kagura/review.json` in the checkout."""
    return repo_root / ".kagura" / "review.json"
