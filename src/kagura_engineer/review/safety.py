"""What a pull request from a fork may not do: plant instructions or tools for our agents.

A fork PR's checkout is written by a stranger. Before any agent (the reviewer included)
reads its code, Claude Code's project files are made the base branch's and Claude runs
with project settings and project memory off; the base's own instructions are handed to it
from the base commit instead (all three in `agent.project_files`).

A fork PR is never fixed: we have no right to push to the fork's branch, and the job's
token must not run agents on code whose configuration a stranger controls.
"""

from __future__ import annotations

from kagura_engineer.agent.project_files import is_sensitive, restore_from_base
from kagura_engineer.errors import BlockedError

__all__ = ["is_sensitive", "refuse_fork_fix", "restore_from_base"]


def refuse_fork_fix(pr_number: int, head_repo: str | None, base_repo: str) -> BlockedError:
    """The error for `review --fix` on a fork PR (exit 2), with what to do instead."""
    where = head_repo or "a deleted fork"
    return BlockedError(
        f"#{pr_number} comes from a fork ({where}), not {base_repo}: review --fix is refused. "
        "The job may not push to a fork's branch, and an agent must not run with write access on "
        "code whose configuration a stranger controls.",
        hint=f"review it without --fix (kagura-engineer review {pr_number}); the author applies the fixes, "
        "or a maintainer moves the branch into this repository",
    )
