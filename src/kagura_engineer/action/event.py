"""The triggering GitHub event, read once from `GITHUB_EVENT_NAME` + `GITHUB_EVENT_PATH`.

`parse_event` turns a webhook payload (octokit/webhooks shapes) into a small typed `Event`:
who acted, on which issue or pull request, what label or assignee changed, and the comment
(or review body) that may carry a trigger. Nothing here decides anything; `intent.decide`
does. Unknown fields and events are fine: everything but the event name is optional (the
`schedule` payload, for one, may hold nothing but the cron string).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kagura_engineer.errors import ConfigError


@dataclass(frozen=True)
class Actor:
    login: str
    type: str = "User"  # User | Bot | Organization | Mannequin

    @property
    def is_bot(self) -> bool:
        return self.type == "Bot" or self.login.lower().endswith("[bot]")


@dataclass(frozen=True)
class Comment:
    """An issue/PR comment, an inline review comment, or a review's body."""

    id: int | None
    body: str
    author: Actor
    kind: str  # "issue" | "review" | "review_comment"


@dataclass(frozen=True)
class Event:
    name: str = ""  # GITHUB_EVENT_NAME; "" outside Actions
    action: str | None = None
    repository: str | None = None  # owner/repo
    sender: Actor | None = None
    number: int | None = None  # the issue or pull request the event is about
    is_pull_request: bool = False
    draft: bool = False
    title: str = ""
    #: the issue's or PR's body as the payload carried it, i.e. at trigger time ("" when empty);
    #: None when the payload has no issue or pull request
    body: str | None = None
    label: str | None = None  # the label just added or removed
    assignee: str | None = None  # the login just assigned or unassigned
    comment: Comment | None = None
    milestone: str | None = None  # title, for milestone events
    dispatch_inputs: Mapping[str, str] = field(default_factory=dict)
    schedule: str | None = None
    run_id: str | None = None
    run_attempt: str | None = None
    server_url: str = "https://github.com"

    @property
    def actor(self) -> Actor | None:
        """Who asked: the comment's author for comment events, else the sender."""
        return self.comment.author if self.comment is not None else self.sender

    @property
    def run_url(self) -> str | None:
        if not (self.run_id and self.repository):
            return None
        from kagura_engineer.workflow import workflow_run_url

        owner, _, repo = self.repository.partition("/")
        return workflow_run_url(self.server_url, owner, repo, self.run_id)

    def describe(self) -> str:
        """`issue_comment/created on #42`, for logs and summaries."""
        where = f" on #{self.number}" if self.number else ""
        return f"{self.name or '(no event)'}{'/' + self.action if self.action else ''}{where}"


def _actor(data: Any) -> Actor | None:
    if not isinstance(data, Mapping) or not data.get("login"):
        return None
    return Actor(login=str(data["login"]), type=str(data.get("type") or "User"))


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def event_from_payload(
    name: str, payload: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> Event:
    """The `Event` for event `name` with webhook `payload` (environ gives run id, server, repo)."""
    env = environ or {}
    payload = _map(payload)
    issue = _map(payload.get("issue"))
    pull = _map(payload.get("pull_request"))
    repo = _map(payload.get("repository"))
    number = _int(issue.get("number")) or _int(pull.get("number")) or _int(payload.get("number"))
    is_pr = bool(pull) or issue.get("pull_request") is not None
    comment = None
    raw_comment = _map(payload.get("comment"))
    review = _map(payload.get("review"))
    if raw_comment and _actor(raw_comment.get("user")):
        comment = Comment(
            id=_int(raw_comment.get("id")),
            body=str(raw_comment.get("body") or ""),
            author=_actor(raw_comment.get("user")),  # type: ignore[arg-type]
            kind="review_comment" if name == "pull_request_review_comment" else "issue",
        )
    elif name == "pull_request_review" and review and _actor(review.get("user")):
        comment = Comment(
            id=_int(review.get("id")),
            body=str(review.get("body") or ""),
            author=_actor(review.get("user")),  # type: ignore[arg-type]
            kind="review",
        )
    inputs = _map(payload.get("inputs"))
    subject = pull or issue
    return Event(
        name=name,
        action=str(payload["action"]) if payload.get("action") else None,
        repository=env.get("GITHUB_REPOSITORY")
        or (str(repo["full_name"]) if repo.get("full_name") else None),
        sender=_actor(payload.get("sender")),
        number=number,
        is_pull_request=is_pr,
        draft=bool(pull.get("draft")) if pull else bool(issue.get("draft")),
        title=str(subject.get("title") or ""),
        body=str(subject.get("body") or "") if subject else None,
        label=str(_map(payload.get("label")).get("name") or "") or None,
        assignee=(_actor(payload.get("assignee")) or Actor("")).login or None,
        comment=comment,
        milestone=(str(_map(payload.get("milestone")).get("title") or "") or None)
        if name == "milestone"
        else None,
        dispatch_inputs={str(k): "" if v is None else str(v).strip() for k, v in inputs.items()},
        schedule=str(payload["schedule"]) if payload.get("schedule") else None,
        run_id=env.get("GITHUB_RUN_ID") or None,
        run_attempt=env.get("GITHUB_RUN_ATTEMPT") or None,
        server_url=env.get("GITHUB_SERVER_URL") or "https://github.com",
    )


def parse_event(environ: Mapping[str, str]) -> Event:
    """Read the event of this job. Without `GITHUB_EVENT_NAME` (a local run) an empty `Event`."""
    name = (environ.get("GITHUB_EVENT_NAME") or "").strip()
    path = (environ.get("GITHUB_EVENT_PATH") or "").strip()
    payload: Any = {}
    if path:
        try:
            payload = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"GITHUB_EVENT_PATH {path} does not exist") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"GITHUB_EVENT_PATH {path} is not a readable JSON payload: {exc}") from None
        if not isinstance(payload, Mapping):
            raise ConfigError(f"GITHUB_EVENT_PATH {path}: expected a JSON object")
    return event_from_payload(name, payload, environ)
