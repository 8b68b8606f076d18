"""What a savepoint may steer: fields read back from a store are checked before use.

A savepoint lives in memory that travels through the Actions cache (any job holding the
cache token can write an entry) or Memory Cloud, so a field that picks a branch, a base, a
session to resume or a commit is validated like any other outside input: a value that fails
is dropped (the run decides afresh) with one warning, never passed to git or claude.
"""

from __future__ import annotations

import re
from typing import Any

_SHA = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")
_SESSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")  # never option-like (argv of --resume)
#: A conservative subset of git's ref-name rules (no option-like or traversal forms).
_REF = re.compile(r"^(?!-)(?!.*\.\.)(?!.*//)(?!.*@\{)(?!.*\.lock$)(?!.*/$)(?!.*\.$)[A-Za-z0-9._/-]{1,200}$")


def is_branch_name(name: object) -> bool:
    return isinstance(name, str) and bool(_REF.match(name)) and not name.startswith("/")


def run_branch_ok(branch: object, prefix: str, issue: int) -> bool:
    """A run's branch must carry the configured prefix and the issue number: `<prefix><n>-<slug>`."""
    if not is_branch_name(branch):
        return False
    assert isinstance(branch, str)
    head = f"{prefix}{issue}"
    return branch == head or branch.startswith(head + "-")


def clean_run_savepoint(sp: Any, prefix: str, issue: int) -> list[str]:
    """Drop the fields of a run savepoint (`Savepoint[RunState]`) that fail validation; returns
    what was dropped."""
    dropped: list[str] = []
    if sp.branch is not None and not run_branch_ok(sp.branch, prefix, issue):
        dropped.append(f"branch {sp.branch!r}")
        sp.branch = None
        sp.pr_number = None
    for name in ("base_sha", "head_sha"):
        value = getattr(sp, name)
        if value is not None and not (isinstance(value, str) and _SHA.match(value)):
            dropped.append(name)
            setattr(sp, name, None)
    if sp.agent_session_id is not None and not _SESSION.match(str(sp.agent_session_id)):
        dropped.append("agent_session_id")
        sp.agent_session_id = None
    base = sp.data.base
    if base is not None and not is_branch_name(base):
        dropped.append(f"base {base!r}")
        sp.data.base = None
    return dropped
