"""Event → intent: a pure function of (event, inputs, config). No I/O, no clock.

Order of the rules (first match wins):

1. Loop and trust guards, for every command: a comment that was edited or deleted, a
   comment written by kagura-engineer (hidden `<!-- kagura:` marker, or authored by the
   bot login), anything done by the bot login itself, and bots not listed in
   `allowed_bots` → skip, with no reply.
2. An explicit input `command` (anything but `auto`) → that command; its target comes from
   the `issue`/`pr`/`milestone` inputs, else from the event. `eval` only runs when asked for
   this way: its issues come from `issues` (or `issue`), else from `milestone`.
3. Auto-detection by event:
   - `issues` labeled with the trigger label, or assigned to the bot login → `run #N`
     (on a pull request: `review #N`). `opened` is not a trigger: an issue opened with the
     label also sends `labeled`.
   - `issue_comment` created with the trigger phrase or `/kagura run|resume|review|fix`
     (at the start of a line): on an issue `run #N` (`resume` too: run resumes from its
     savepoint); on a pull request `review #N`, `--fix` for `/kagura fix`, `run`, `resume`
     and when input `fix` is true. `review`/`fix` on an issue → skip, explained in a reply.
   - `pull_request` opened / synchronize (not drafts) / ready_for_review, or labeled with
     the trigger label → `review #N` (`--fix` when input `fix` is true).
   - `pull_request_review` submitted / `pull_request_review_comment` created with the
     phrase or a slash command → `review #N --fix` (`/kagura review` → without `--fix`).
   - `workflow_dispatch`: `issue` → `run`, `pr` → `review`, `milestone` → `goal` (action
     inputs first, then the dispatch payload's inputs; more than one is a config error).
   - `schedule`: `goal` on input `milestone`, else `goal.nightly_milestone`, else the open
     milestone due soonest (resolved by the orchestrator: `nearest_due`).
   - anything else → skip with the reason.

Trigger text is read as GitHub shows it, and only in paragraphs (`github.markdown.prose`):
HTML comments, invisible characters, fenced and indented code, code spans, `<pre>`/`<code>`
elements and block quotes (lazy continuation lines too) do not count. A slash command must
start a line of a paragraph. Issue titles and bodies never trigger.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kagura_engineer.action.event import Event
from kagura_engineer.action.gates import bot_allowed, is_own_comment, own_logins
from kagura_engineer.action.inputs import Inputs, number_list
from kagura_engineer.config import Config
from kagura_engineer.errors import ConfigError

SLASH = re.compile(r"(?im)^[ \t]*/kagura[ \t]+(run|resume|review|fix)\b")
PR_EVENTS_REVIEWED = ("opened", "synchronize", "ready_for_review")


@dataclass(frozen=True)
class Intent:
    """What this job will do, and for whom."""

    command: str  # run | review | goal | eval | doctor | skip
    reason: str  # one line: why
    issue: int | None = None
    pr: int | None = None
    milestone: str | None = None
    nearest_due: bool = False  # goal: the open milestone due soonest (needs the API)
    fix: bool = False
    plan: bool = False  # goal: only print the ready frontier as a matrix (`goal --plan`)
    resume: bool = False
    issues: tuple[int, ...] = ()  # eval: the issues (empty: the milestone's open issues)
    repeat: int = 1  # eval: runs per issue and arm
    actor: str | None = None  # whose permission gates the work (None: nobody to check)
    trusted_bot: bool = False  # the actor is a bot listed in allowed_bots
    comment_id: int | None = None  # the triggering issue comment (for a 👀 reaction)
    reply_on: int | None = None  # where a skip or refusal may be explained (None: never reply)
    reply_on_pr: bool = False
    explicit: bool = False  # chosen by input `command`

    @property
    def skipped(self) -> bool:
        return self.command == "skip"

    def label(self) -> str:
        """`run #42`, `review #7 --fix`, `goal 'v0.3'`, `eval #12,#15 ×3`, `doctor`, `skip`."""
        if self.command == "run":
            return f"run #{self.issue}" + (" (resume)" if self.resume else "")
        if self.command == "review":
            return f"review {'#' + str(self.pr) if self.pr else 'HEAD'}" + (" --fix" if self.fix else "")
        if self.command == "goal":
            return (
                "goal (nearest-due milestone)"
                if self.nearest_due and not self.milestone
                else f"goal {self.milestone!r}"
            ) + (" --plan" if self.plan else "")
        if self.command == "eval":
            target = ",".join(f"#{n}" for n in self.issues) if self.issues else repr(self.milestone)
            return f"eval {target}" + (f" ×{self.repeat}" if self.repeat > 1 else "")
        return self.command


def skip(reason: str, event: Event | None = None, reply: bool = False) -> Intent:
    """A skip; with `reply`, the person who asked gets one reply explaining it."""
    actor = event.actor if event else None
    reply_on = event.number if (reply and event and actor and not actor.is_bot) else None
    return Intent(
        "skip", reason, actor=actor.login if actor else None, reply_on=reply_on,
        reply_on_pr=bool(event and event.is_pull_request),
    )  # fmt: skip


def find_trigger(body: str, phrase: str) -> str | None:
    """`run`/`resume`/`review`/`fix` for a slash command, `mention` for the phrase, else None.

    Only prose counts (`github.markdown.prose`): not code, quotes, HTML or hidden text.
    """
    from kagura_engineer.github.markdown import prose

    text = prose(body)
    match = SLASH.search(text)
    if match:
        return match.group(1).lower()
    pattern = rf"(?<![\w@/.-]){re.escape(phrase)}(?![\w-])"
    return "mention" if re.search(pattern, text, re.IGNORECASE) else None


def _bot_logins(inputs: Inputs, config: Config) -> frozenset[str]:
    return own_logins(inputs.bot_login, config.bot_login)


def _guards(event: Event, inputs: Inputs, config: Config) -> Intent | None:
    own = _bot_logins(inputs, config)
    actor = event.actor
    if event.comment is not None:
        if event.action not in ("created", "submitted"):
            return skip(f"comments that are {event.action or 'changed'} never trigger kagura-engineer")
        if is_own_comment(event.comment.body, event.comment.author.login, own):
            return skip("this comment was written by kagura-engineer (no loops)")
    if actor is not None and actor.login.lower() in own:
        return skip(f"triggered by kagura-engineer's own account {actor.login} (no loops)")
    if actor is not None and actor.is_bot and not bot_allowed(actor.login, inputs.allowed_bots):
        return skip(f"{actor.login} is a bot; bots trigger kagura-engineer only when listed in allowed_bots")
    return None


def _who(event: Event, inputs: Inputs, **fields: object) -> dict:
    actor = event.actor
    base: dict = {"actor": actor.login if actor else None,
                  "trusted_bot": bool(actor and actor.is_bot and bot_allowed(actor.login, inputs.allowed_bots)),
                  "reply_on": event.number if actor and not actor.is_bot else None,
                  "reply_on_pr": event.is_pull_request}  # fmt: skip
    base.update(fields)
    return base


def _dispatch_value(event: Event, name: str) -> str | None:
    value = event.dispatch_inputs.get(name) if event.name == "workflow_dispatch" else None
    return value or None


def _number(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    text = value.lstrip("#")
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"workflow_dispatch input '{name}' must be a number, got {value!r}")
    return int(text)


def _goal(event: Event, inputs: Inputs, config: Config, reason: str, **fields: object) -> Intent:
    milestone = (
        inputs.milestone
        or _dispatch_value(event, "milestone")
        or event.milestone
        or config.goal.nightly_milestone
    )
    if milestone:
        return Intent("goal", reason, milestone=milestone, plan=inputs.plan, **_who(event, inputs, **fields))
    return Intent("goal", reason + "; no milestone given: the open milestone due soonest", nearest_due=True,
                  plan=inputs.plan, **_who(event, inputs, **fields))  # fmt: skip


def _explicit(event: Event, inputs: Inputs, config: Config) -> Intent:
    why = f"input command={inputs.command}"
    if inputs.command == "run":
        issue = inputs.issue or _number(_dispatch_value(event, "issue"), "issue")
        if issue is None and event.number and not event.is_pull_request:
            issue = event.number
        if issue is None:
            raise ConfigError(
                "command 'run' needs an issue: set the `issue` input",
                hint="e.g. `issue: ${{ github.event.issue.number || inputs.issue }}`",
            )
        return Intent("run", why, issue=issue, explicit=True, **_who(event, inputs))
    if inputs.command == "review":
        pr = inputs.pr or _number(_dispatch_value(event, "pr"), "pr")
        if pr is None and event.number and event.is_pull_request:
            pr = event.number
        return Intent("review", why, pr=pr, fix=inputs.fix, explicit=True, **_who(event, inputs))
    if inputs.command == "goal":
        return _goal(event, inputs, config, why, explicit=True)
    if inputs.command == "eval":
        return _eval(event, inputs, why)
    return Intent("doctor", why, explicit=True, **_who(event, inputs))


def _eval(event: Event, inputs: Inputs, why: str) -> Intent:
    issues = inputs.issues
    if not issues:
        issues = number_list("issues", _dispatch_value(event, "issues") or "")
    single = inputs.issue or _number(_dispatch_value(event, "issue"), "issue")
    if not issues and single:
        issues = (single,)
    milestone = None if issues else (inputs.milestone or _dispatch_value(event, "milestone"))
    if not issues and not milestone:
        raise ConfigError(
            "command 'eval' needs issues or a milestone: set the `issues` or `milestone` input",
            hint="e.g. `issues: 12,15,18` or `milestone: v0.3`",
        )
    repeat = inputs.repeat or _number(_dispatch_value(event, "repeat"), "repeat") or 1
    return Intent("eval", why, issues=issues, milestone=milestone, repeat=repeat, explicit=True,
                  **_who(event, inputs))  # fmt: skip


def _on_issues(event: Event, inputs: Inputs, config: Config) -> Intent:
    if event.number is None:
        return skip(f"issues/{event.action} carries no issue number")
    own = _bot_logins(inputs, config)
    if event.action == "labeled" and event.label and event.label.lower() == inputs.label.lower():
        reason = f"labeled '{event.label}'"
    elif event.action == "assigned" and event.assignee and event.assignee.lower() in own:
        reason = f"assigned to {event.assignee}"
    else:
        hint = f"label an issue '{inputs.label}'"
        hint += f" or assign it to {sorted(own)[0]}" if own else ""
        return skip(f"issues/{event.action} is not a trigger ({hint})")
    if event.is_pull_request:
        return Intent("review", reason, pr=event.number, fix=inputs.fix, **_who(event, inputs))
    return Intent("run", reason, issue=event.number, **_who(event, inputs))


def _on_issue_comment(event: Event, inputs: Inputs) -> Intent:
    comment = event.comment
    if comment is None or event.number is None:
        return skip("issue_comment without a comment or issue")
    trigger = find_trigger(comment.body, inputs.trigger_phrase)
    if trigger is None:
        return skip(f"the comment does not mention {inputs.trigger_phrase} or a /kagura command")
    who = _who(event, inputs, comment_id=comment.id)
    reason = f"/kagura {trigger}" if trigger != "mention" else f"mentioned {inputs.trigger_phrase}"
    if event.is_pull_request:
        fix = trigger in ("fix", "run", "resume") or (trigger == "mention" and inputs.fix)
        return Intent("review", reason, pr=event.number, fix=fix, **who)
    if trigger in ("review", "fix"):
        return skip(f"/kagura {trigger} works on pull requests, and #{event.number} is an issue "
                    "(use /kagura run here)", event, reply=True)  # fmt: skip
    return Intent("run", reason, issue=event.number, resume=trigger == "resume", **who)


def _on_pull_request(event: Event, inputs: Inputs) -> Intent:
    if event.number is None:
        return skip(f"pull_request/{event.action} carries no number")
    action = event.action
    if action == "labeled" and event.label and event.label.lower() == inputs.label.lower():
        return Intent(
            "review", f"labeled '{event.label}'", pr=event.number, fix=inputs.fix, **_who(event, inputs)
        )
    if action not in PR_EVENTS_REVIEWED:
        return skip(f"pull_request/{action} is not a trigger (opened, synchronize and ready_for_review are)")
    if event.draft and action != "ready_for_review":
        return skip(f"#{event.number} is a draft; it is reviewed when marked ready for review")
    return Intent("review", f"pull request {action}", pr=event.number, fix=inputs.fix, **_who(event, inputs))


def _on_review(event: Event, inputs: Inputs) -> Intent:
    comment = event.comment
    if comment is None or event.number is None:
        return skip(f"{event.name}/{event.action} carries no comment or pull request")
    trigger = find_trigger(comment.body, inputs.trigger_phrase)
    if trigger is None:
        return skip(f"the review does not mention {inputs.trigger_phrase} or a /kagura command")
    return Intent("review", f"{event.name} asking for a fix", pr=event.number, fix=trigger != "review",
                  **_who(event, inputs))  # fmt: skip


def _on_dispatch(event: Event, inputs: Inputs, config: Config) -> Intent:
    issue = inputs.issue or _number(_dispatch_value(event, "issue"), "issue")
    pr = inputs.pr or _number(_dispatch_value(event, "pr"), "pr")
    milestone = inputs.milestone or _dispatch_value(event, "milestone")
    given = [name for name, value in (("issue", issue), ("pr", pr), ("milestone", milestone)) if value]
    if len(given) > 1:
        raise ConfigError(
            f"workflow_dispatch with {' and '.join(given)}: give only one of issue, pr, milestone"
        )
    if issue:
        return Intent("run", "workflow_dispatch with issue", issue=issue, **_who(event, inputs))
    if pr:
        return Intent("review", "workflow_dispatch with pr", pr=pr, fix=inputs.fix, **_who(event, inputs))
    if milestone:
        return Intent("goal", "workflow_dispatch with milestone", milestone=milestone, plan=inputs.plan,
                      **_who(event, inputs))  # fmt: skip
    return skip("workflow_dispatch without an issue, pr or milestone input")


def decide(event: Event, inputs: Inputs, config: Config) -> Intent:
    """The intent for this event. Pure; raises `ConfigError` for contradictory inputs."""
    guarded = _guards(event, inputs, config)
    if guarded is not None:
        return guarded
    if inputs.command != "auto":
        return _explicit(event, inputs, config)
    name = event.name
    if not name:
        return skip("no GitHub event (GITHUB_EVENT_NAME is unset); set the `command` input to run one")
    if name == "issues":
        return _on_issues(event, inputs, config)
    if name == "issue_comment":
        return _on_issue_comment(event, inputs)
    if name == "pull_request":
        return _on_pull_request(event, inputs)
    if name in ("pull_request_review", "pull_request_review_comment"):
        return _on_review(event, inputs)
    if name == "workflow_dispatch":
        return _on_dispatch(event, inputs, config)
    if name == "schedule":
        return _goal(event, inputs, config, f"schedule {event.schedule or ''}".strip())
    return skip(f"the {name} event is not a trigger for kagura-engineer")


def resume_hint(intent: Intent) -> str:
    if intent.command == "run":
        return "comment `/kagura resume` on the issue or re-run the workflow; finished phases are kept"
    if intent.command == "review":
        return "comment `/kagura review` (or `/kagura fix`) on the pull request, or re-run the workflow"
    return "re-run the workflow"
