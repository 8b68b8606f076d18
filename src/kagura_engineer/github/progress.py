"""The sticky progress comment: one comment per target, found again by a hidden marker.

`render(state)` is a pure function from a `ProgressState` to markdown: the phase checklist,
the current step, a link to the workflow run, the cost so far and, once finished, the PR,
the verdict, what blocked and how to resume. Its first line is the hidden marker
`<!-- kagura:run/acme/widgets/issue-42 -->` (the savepoint key), which is how a re-run finds
and edits the same comment instead of posting another. Only a comment written by the
account kagura writes as counts (`GitHub.find_comment` checks the author): anyone can paste
the marker, and a comment found is edited and, by the Action, read back.

`ProgressComment` owns the HTTP side: find-or-create once, then edit in place, at most one
edit per `min_interval` seconds (a non-forced update inside the interval is deferred until
the next update or `flush()`; `finish()` always goes out), never the same body twice.
Failures to post progress are logged and remembered, never raised: reporting must not
break the work it reports on.

`write_step_summary` writes the same content to `GITHUB_STEP_SUMMARY` (<= 1 MiB).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from kagura_engineer.errors import GitHubError, NotFound
from kagura_engineer.github.sanitize import strip_invisible
from kagura_engineer.proc import redact
from kagura_engineer.workflow import write_summary_file

log = logging.getLogger("kagura_engineer.github.progress")

PHASE_STATES = ("pending", "running", "done", "failed", "skipped")
PHASE_ICONS = {"pending": "⬜", "running": "🔄", "done": "✅", "failed": "❌", "skipped": "⏭️"}
STATUS_LABELS = {
    "running": ("🔄", "working"),
    "shipped": ("✅", "shipped"),
    "reviewed": ("✅", "reviewed"),
    "blocked": ("⛔", "blocked"),
    "failed": ("❌", "failed"),
    "skipped": ("⏭️", "skipped"),
    "busy": ("⏳", "busy: another job holds this target"),
}
DEFAULT_RESUME = "comment `/kagura resume` here or re-run the workflow"
COMMENT_LIMIT = 65536  # GitHub's maximum comment body
_TRUNCATED = "\n\n_(truncated to fit GitHub's size limit)_\n"


def marker(key: str) -> str:
    """The hidden marker for a savepoint key: `<!-- kagura:run/acme/widgets/issue-42 -->`."""
    if not key:
        raise ValueError("progress: an empty key has no marker")
    return f"<!-- kagura:{quote(key, safe='/._-:@+')} -->"


@dataclass
class Phase:
    name: str
    state: str = "pending"  # pending|running|done|failed|skipped
    detail: str = ""  # one line, e.g. "3 files changed" or the error summary

    def __post_init__(self) -> None:
        if self.state not in PHASE_STATES:
            raise ValueError(f"phase state must be one of {PHASE_STATES}, got {self.state!r}")


@dataclass
class ProgressState:
    """Everything the progress comment shows. Plain data: the orchestrator mutates it."""

    key: str  # the savepoint key, also the comment's marker
    title: str = ""  # e.g. "run #42: Fix the login redirect"
    phases: list[Phase] = field(default_factory=list)
    step: str = ""  # the current step, one line
    status: str = "running"  # running|shipped|reviewed|blocked|failed|skipped|busy
    run_url: str | None = None
    cost_usd: float | None = None
    budget_usd: float | None = None
    pr_number: int | None = None
    pr_url: str | None = None
    verdict: str | None = None
    reason: str | None = None  # what blocked / failed / why skipped
    resume: str | None = None  # how to resume; DEFAULT_RESUME for blocked/failed when unset
    notes: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, key: str, phases: Iterable[str], **fields: Any) -> ProgressState:
        return cls(key=key, phases=[Phase(name) for name in phases], **fields)

    def phase(self, name: str) -> Phase:
        for phase in self.phases:
            if phase.name == name:
                return phase
        phase = Phase(name)
        self.phases.append(phase)
        return phase

    def set_phase(self, name: str, state: str, detail: str = "") -> ProgressState:
        if state not in PHASE_STATES:
            raise ValueError(f"phase state must be one of {PHASE_STATES}, got {state!r}")
        phase = self.phase(name)
        phase.state, phase.detail = state, detail
        return self

    @property
    def finished(self) -> bool:
        return self.status != "running"


def _inline(text: object, limit: int = 300) -> str:
    """Untrusted or model-made text, safe on one markdown line: no secrets, tags or pings."""
    value = redact(strip_invisible(str(text)))
    value = re.sub(r"\s+", " ", value).strip()
    value = value.replace("<", "&lt;").replace(">", "&gt;")
    value = re.sub(r"@(?=[A-Za-z0-9])", "@\u200b", value)  # no @mention notifications
    if len(value) > limit:
        value = value[: limit - 1].rstrip() + "…"
    return value


def _money(value: float) -> str:
    return "<$0.01" if 0 < value < 0.01 else f"${value:,.2f}"


def _lines(state: ProgressState) -> Iterator[str]:
    icon, label = STATUS_LABELS.get(state.status, ("ℹ️", _inline(state.status, 40)))
    title = _inline(state.title or state.key, 200)
    yield f"### kagura-engineer · {title}"
    yield ""
    facts = [f"**Status:** {icon} {label}"]
    if state.run_url:
        facts.append(f"[workflow run]({_inline(state.run_url, 500)})")
    if state.cost_usd is not None:
        cost = (
            f"cost so far {_money(state.cost_usd)}"
            if not state.finished
            else f"cost {_money(state.cost_usd)}"
        )
        if state.budget_usd:
            cost += f" of {_money(state.budget_usd)}"
        facts.append(cost)
    yield " · ".join(facts)
    if state.phases:
        yield ""
        for phase in state.phases:
            line = f"- {PHASE_ICONS[phase.state]} **{_inline(phase.name, 60)}**"
            if phase.state == "running":
                line += " (running)"
            if phase.detail:
                line += f" — {_inline(phase.detail)}"
            yield line
    if not state.finished and state.step:
        yield ""
        yield f"**Current step:** {_inline(state.step)}"
    if state.pr_url or state.pr_number:
        label = f"#{state.pr_number}" if state.pr_number else "pull request"
        link = f"[{label}]({_inline(state.pr_url, 500)})" if state.pr_url else label
        yield ""
        yield f"**Pull request:** {link}"
    if state.verdict:
        yield f"**Review verdict:** {_inline(state.verdict, 100)}"
    if state.reason:
        heading = {"blocked": "Blocked", "failed": "Failed", "skipped": "Skipped", "busy": "Busy"}.get(
            state.status, "Note"
        )
        yield ""
        yield f"**{heading}:** {_inline(state.reason, 2000)}"
    if state.status in ("blocked", "failed") or state.resume:
        yield f"**To resume:** {_inline(state.resume or DEFAULT_RESUME, 500)}"
    notes = [n for n in state.notes if n][:20]
    if notes:
        yield ""
        yield from (f"- {_inline(note, 500)}" for note in notes)


def render(state: ProgressState) -> str:
    """The comment body: marker first, then the progress, as markdown. Pure."""
    body = marker(state.key) + "\n" + "\n".join(_lines(state)) + "\n"
    if len(body) > COMMENT_LIMIT:
        body = body[: COMMENT_LIMIT - len(_TRUNCATED)].rsplit("\n", 1)[0] + _TRUNCATED
    return body


def render_summary(state: ProgressState) -> str:
    """The job-summary version: the same content without the marker."""
    return render(state).split("\n", 1)[1]


def write_step_summary(state: ProgressState, path: str | Path | None, append: bool = False) -> bool:
    """Write the progress to `GITHUB_STEP_SUMMARY` (replace, or `append`), within 1 MiB.

    Returns False when there is no summary file (not in Actions) or no room left.
    """
    return write_summary_file(path, render_summary(state), append, marker=_TRUNCATED)


class CommentTarget(Protocol):
    """What ProgressComment needs from `github.client.GitHub`."""

    def find_comment(self, number: int, marker: str) -> dict | None: ...  # ours only
    def create_comment(self, number: int, body: str) -> dict: ...
    def update_comment(self, comment_id: int, body: str) -> dict: ...


class ProgressComment:
    """The one sticky progress comment on issue/PR `number` for savepoint `key`."""

    def __init__(
        self,
        gh: CommentTarget,
        number: int,
        key: str,
        min_interval: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
        strict: bool = False,
    ) -> None:
        self.gh = gh
        self.number = number
        self.key = key
        self.marker = marker(key)
        self.min_interval = min_interval
        self.clock = clock
        self.strict = strict
        self.comment_id: int | None = None
        self.html_url: str | None = None
        self.writes = 0  # comments created or edited
        self.errors: list[str] = []
        self._last_body: str | None = None
        self._last_at: float | None = None
        self._pending: ProgressState | None = None

    @property
    def pending(self) -> bool:
        return self._pending is not None

    def update(self, state: ProgressState, force: bool = False) -> bool:
        """Show `state`; True when GitHub was written to. Throttled unless `force`."""
        if state.key != self.key:
            raise ValueError(f"progress state key {state.key!r} is not this comment's key {self.key!r}")
        body = render(state)
        if body == self._last_body:
            self._pending = None
            return False
        now = self.clock()
        if not force and self._last_at is not None and now - self._last_at < self.min_interval:
            self._pending = state
            return False
        self._pending = None
        return self._post(body, now)

    def flush(self) -> bool:
        """Post a deferred update now, if there is one."""
        pending, self._pending = self._pending, None
        return self.update(pending, force=True) if pending is not None else False

    def finish(self, state: ProgressState) -> bool:
        """The final update: always posted (unless identical to what is shown)."""
        self._pending = None
        return self.update(state, force=True)

    def _post(self, body: str, now: float) -> bool:
        tagged = getattr(self.gh, "tagged", None)
        self._last_at = now
        try:
            with tagged("progress") if tagged else nullcontext():
                if self.comment_id is None:
                    existing = self.gh.find_comment(self.number, self.marker)
                    if existing is not None:
                        self.comment_id, self.html_url = existing["id"], existing.get("html_url")
                        if existing.get("body") == body:
                            self._last_body = body
                            return False
                if self.comment_id is None:
                    comment = self.gh.create_comment(self.number, body)
                else:
                    try:
                        comment = self.gh.update_comment(self.comment_id, body)
                    except NotFound:  # someone deleted it: start a new one
                        comment = self.gh.create_comment(self.number, body)
        except GitHubError as exc:
            message = redact(str(exc))
            self.errors.append(message)
            log.warning("could not update the progress comment on #%s: %s", self.number, message)
            if self.strict:
                raise
            return False
        self.comment_id, self.html_url = comment["id"], comment.get("html_url")
        self._last_body = body
        self.writes += 1
        return True
