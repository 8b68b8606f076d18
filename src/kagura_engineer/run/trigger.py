"""The issue text a run works from: the title and body as they were when the run was triggered.

In the Action the event payload carries the issue as it was when the label or comment
triggered the job: the text the person who triggered the run approved. The run works from
that text (`RunOptions.trigger`), never from what GitHub shows later, and compares it with
the issue it fetches anyway, so an unchanged issue costs no extra request.

When GitHub's text differs, the issue was edited after the trigger. Who edited it decides:
GitHub's REST API keeps no edit history (only GraphQL's `userContentEdits` names editors,
and this client speaks REST), so the rule is the conservative one REST can decide. Besides
collaborators, only an issue's author can edit it:

- the author has write, maintain or admin permission → whoever edited it is a collaborator
  or the author, both trusted to trigger runs: the run goes on with the trigger-time text
  and says so in the log;
- otherwise the editor may have been the author, who cannot trigger runs → refused: one
  reply on the issue, and the run ends blocked (exit 2) until a maintainer re-triggers it.

Either way the edited text never reaches the agent.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kagura_engineer.errors import BlockedError, KaguraError
from kagura_engineer.github.permission import WRITE_LEVELS


@dataclass(frozen=True)
class TriggerText:
    """An issue's title and body as the triggering event's payload carried them."""

    title: str
    body: str


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def issue_at_trigger(
    gh: Any, number: int, current: dict[str, Any], trigger: TriggerText | None,
    say: Callable[[str], None] = _say,
) -> dict[str, Any]:  # fmt: skip
    """The issue the run works from: `current` (as fetched) with the trigger-time text.

    BlockedError, after one reply on the issue, when the text changed since the trigger and
    the issue's author lacks write permission (see the module docstring).
    """
    if trigger is None:
        return current
    if trigger.title == (current.get("title") or "") and trigger.body == (current.get("body") or ""):
        return current  # unchanged: no further request
    author = str((current.get("user") or {}).get("login") or "")
    level = gh.permission(author) if author else "none"
    if level not in WRITE_LEVELS:
        who = f"@{author}" if author else "a deleted account"
        reason = (
            f"issue #{number} was edited after the run was triggered, and its author {who} cannot "
            f"trigger runs (permission: {level}); GitHub's REST API does not say who edited it, so the "
            "edit may be theirs"
        )
        try:
            _reply(gh, number, reason)
        except KaguraError as exc:  # the refusal stands without its reply
            say(f"warning: could not reply on #{number}: {exc.message}")
        raise BlockedError(reason, hint="a maintainer must re-trigger the run (re-apply the label or comment "
                                         "`/kagura run`) once the text is right")  # fmt: skip
    say(
        f"issue #{number} was edited after the trigger; its author @{author} has {level} permission, so "
        "whoever edited it may trigger runs: working from the text as it was at trigger time"
    )
    return {**current, "title": trigger.title, "body": trigger.body}


def _reply(gh: Any, number: int, reason: str) -> None:
    """One reply on the issue (edited in place on later attempts, never repeated)."""
    from kagura_engineer.github.progress import marker
    from kagura_engineer.jobkey import JobKey

    mark = marker(f"{JobKey('reply', gh.owner, gh.repo, JobKey.thread('issue', number))}/edited-after-trigger")
    body = (
        f"{mark}\nkagura-engineer did not act on this: {reason}.\n\n"
        "A maintainer must re-trigger the run (re-apply the label, or comment `/kagura run`) "
        "once the issue says what should be done.\n"
    )
    gh.upsert_comment(number, mark, body)
