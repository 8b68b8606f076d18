"""Who may make kagura-engineer spend money, and how a refusal is said (once).

Pure checks (used by `intent.decide`): bots, the action's own comments and account. The
one API check: the actor's permission on the repository must be write, maintain or admin.
A refusal is explained in ONE reply comment per target and person: it carries a hidden
marker and is edited in place on later attempts, never repeated; bots and our own
comments never get a reply (no loops).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from kagura_engineer.github.permission import WRITE_LEVELS

#: Every comment kagura-engineer writes starts with a hidden `<!-- kagura:... -->` marker.
OWN_MARKER = "<!-- kagura:"


def own_logins(*logins: str | None) -> frozenset[str]:
    """The accounts kagura-engineer writes as (lower-case; blanks dropped)."""
    return frozenset(login.strip().lower() for login in logins if login and login.strip())


def is_own_comment(body: str, author: str, own: Iterable[str]) -> bool:
    """Written by kagura-engineer: it carries our hidden marker, or our account wrote it."""
    return OWN_MARKER in (body or "") or author.lower() in set(own)


def bot_allowed(login: str, allowed_bots: Iterable[str]) -> bool:
    """Whether input `allowed_bots` (lower-case logins, `*` = all) lets this bot trigger."""
    allowed = set(allowed_bots)
    if "*" in allowed:
        return True
    name = login.lower()
    return name in allowed or name.removesuffix("[bot]") in allowed or f"{name}[bot]" in allowed


class PermissionSource(Protocol):
    def permission(self, username: str) -> str: ...


@dataclass(frozen=True)
class GateResult:
    allowed: bool
    reason: str
    permission: str | None = None


def check_permission(
    gh: PermissionSource | None, actor: str | None, repository: str, trusted_bot: bool = False
) -> GateResult:
    """The actor must have write, maintain or admin on the repository (one API call)."""
    if actor is None:
        return GateResult(True, "no person triggered this (schedule or local run)")
    if trusted_bot:
        return GateResult(True, f"{actor} is listed in allowed_bots")
    if gh is None:
        raise ValueError("check_permission: a GitHub client is needed to check a person")
    level = gh.permission(actor)
    if level in WRITE_LEVELS:
        return GateResult(True, f"@{actor} has {level} permission", level)
    return GateResult(
        False,
        f"@{actor} has {level} permission on {repository}; kagura-engineer acts only for "
        "collaborators with write, maintain or admin permission",
        level,
    )


class CommentWriter(Protocol):
    def upsert_comment(self, number: int, marker: str, body: str) -> dict: ...


def reply_key(repository: str, number: int, is_pull_request: bool, actor: str) -> str:
    """The marker key of the one reply to `actor` on this issue or pull request."""
    kind = "pr" if is_pull_request else "issue"
    return f"reply/{repository}/{kind}-{number}/{actor.lower()}"


def reply_body(marker: str, actor: str, reason: str, hint: str | None = None) -> str:
    """The text of a refusal or usage reply. `reason` and `hint` are written by us, not users."""
    lines = [marker, f"@{actor} kagura-engineer did not act on this: {reason}."]
    if hint:
        lines += ["", hint]
    return "\n".join(lines) + "\n"


def reply_once(
    gh: CommentWriter, number: int, key: str, actor: str, reason: str, hint: str | None = None
) -> dict:
    """Post (or edit in place) the single reply to `actor` on `number`."""
    from kagura_engineer.github.progress import marker

    mark = marker(key)
    return gh.upsert_comment(number, mark, reply_body(mark, actor, reason, hint))
