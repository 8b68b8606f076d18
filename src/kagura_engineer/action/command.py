"""`kagura-engineer action`: one GitHub Actions job, from the event to outputs and exit code.

    masks → inputs (→ the config, in memory) → safe.directory → decide → gates (permission,
    credentials) → progress comment → memory cache restore → dispatch (the seam: typed
    options to the command's `execute`) → finish comment → cache save → outputs + step
    summary (always, in `finally`) → exit code of the command (skip: 0)

Exit codes: the dispatched command's (0 ok · 1 failed · 2 blocked/busy/config · 3 internal ·
130 cancelled); 0 for a skip or a refusal; 2 for bad inputs or repo.yaml. `--post` runs
the post step instead (see `post.py`).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from kagura_engineer.action.dispatch import Dispatcher, Outcome
    from kagura_engineer.action.event import Event
    from kagura_engineer.action.inputs import Inputs
    from kagura_engineer.action.intent import Intent
    from kagura_engineer.config import Config
    from kagura_engineer.run.trigger import TriggerText
    from kagura_engineer.workflow import ActionIO

OUTPUTS = ("status", "intent", "pr_number", "pr_url", "verdict", "cost_usd", "matrix", "savepoint")
MODEL_COMMANDS = ("run", "review", "goal", "eval")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--post", action="store_true",
        help="the post step: finish an interrupted job's progress comment and save the memory cache",
    )  # fmt: skip


def main(args: argparse.Namespace) -> int:
    if getattr(args, "post", False):
        from kagura_engineer.action.post import run_post

        return run_post()
    return run_action(config=getattr(args, "config", None), json_out=getattr(args, "json", False))


@dataclass
class Report:
    """What the job tells the workflow: outputs, summary line, exit code."""

    intent: str = "error"
    status: str = "failed"
    reason: str = ""
    exit_code: int = 1
    pr_number: Any = None
    pr_url: Any = None
    verdict: Any = None
    cost_usd: Any = None
    matrix: Any = None
    savepoint: Any = None

    def outputs(self) -> dict[str, str]:
        import json

        values = {name: getattr(self, name) for name in OUTPUTS}
        if values["matrix"] is not None and not isinstance(values["matrix"], str):
            values["matrix"] = json.dumps(values["matrix"], separators=(",", ":"))
        return {k: "" if v is None else str(v) for k, v in values.items()}


@dataclass
class Progress:
    """The sticky comment this job owns (if its intent has an issue or PR to show it on)."""

    comment: Any  # github.progress.ProgressComment
    state: Any  # github.progress.ProgressState
    number: int
    posted: str = ""  # the body we last wrote, to notice a command taking over


def run_action(
    environ: MutableMapping[str, str] | None = None,
    dispatcher: Dispatcher | None = None,
    out: TextIO | None = None,
    config: str | None = None,
    json_out: bool = False,
) -> int:
    """Run the Action's main step; returns the exit code. `dispatcher` is the test seam.

    `config` (`-c`) is used when input `config` is empty; `json_out` prints the outputs and
    the exit code as one JSON object at the end.
    """
    import signal
    import time

    from kagura_engineer.action.inputs import secret_values
    from kagura_engineer.workflow import ActionIO

    environ = os.environ if environ is None else environ
    aio = ActionIO(environ, out)
    for value in secret_values(environ):  # before any other line
        aio.mask(value)
    job = _Job(environ, aio, dispatcher, started=time.time(), cli_config=config)
    previous = _install_sigterm()
    try:
        job.execute()
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if json_out:
        import json

        aio.out.write(json.dumps({**job.report.outputs(), "exit_code": job.report.exit_code}) + "\n")
    return job.report.exit_code


def _install_sigterm() -> Any:
    """SIGTERM (docker stop, a cancelled job) unwinds like Ctrl-C so reporting still runs."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)


class _Job:
    def __init__(self, environ: MutableMapping[str, str], aio: ActionIO, dispatcher: Dispatcher | None,
                 started: float, cli_config: str | None = None) -> None:  # fmt: skip
        self.environ = environ
        self.aio = aio
        self.dispatcher = dispatcher
        self.started = started
        self.cli_config = cli_config
        self.report = Report()
        self.inputs: Inputs | None = None
        self.config: Config | None = None
        self.event: Event | None = None
        self.intent: Intent | None = None
        self.gh: Any = None
        self.progress: Progress | None = None
        self.cache_restored = False
        self.command_owns_comment = False

    # -- the steps ----------------------------------------------------------------------
    def execute(self) -> None:
        from kagura_engineer.errors import KaguraError

        aio = self.aio
        aio.save_state("kagura_started", f"{self.started:.0f}")
        try:
            self._prepare()
            if self.intent is not None and not self.intent.skipped and self._gate():
                self._work()
        except KaguraError as exc:
            self._failed(exc.message, exc.hint, exc.exit_code, code=exc.code)
        except KeyboardInterrupt:
            self._failed("the job was cancelled (SIGTERM/SIGINT) before kagura-engineer finished", None, 130)
        except Exception as exc:  # a bug: say so, keep reporting
            import traceback

            from kagura_engineer.proc import redact

            aio.log(redact(traceback.format_exc()))
            self._failed(f"internal error: {type(exc).__name__}: {exc}", "please report this with the log", 3)
        finally:
            self._finish()

    def _prepare(self) -> None:
        from dataclasses import replace

        from kagura_engineer.action.event import parse_event
        from kagura_engineer.action.inputs import parse_inputs
        from kagura_engineer.action.intent import decide
        from kagura_engineer.action.settings import effective_config

        aio = self.aio
        with aio.group("inputs"):
            inputs = parse_inputs(self.environ)
            if self.cli_config and not inputs.config:
                inputs = replace(inputs, config=self.cli_config)
            self.inputs = inputs
            self._export_secrets(inputs)
            aio.log(f"command={inputs.command} label={inputs.label} trigger_phrase={inputs.trigger_phrase} "
                    f"memory_backend={inputs.memory_backend} cache={str(inputs.cache).lower()}")  # fmt: skip
            ensure_safe_directory(self.environ, aio)
        with aio.group("decide"):
            self.config = effective_config(inputs, self.environ, aio)
            event = self.event = parse_event(self.environ)
            intent = self.intent = decide(event, inputs, self.config)
            self.report.intent = intent.label()
            self.report.reason = intent.reason
            who = f" by {event.actor.login}" if event.actor else ""
            aio.log(f"event: {event.describe()}{who}")
            aio.log(f"intent: {intent.label()} ({intent.reason})")
        if intent.skipped:
            self.report.status, self.report.exit_code = "skipped", 0
            aio.notice(f"skipped: {intent.reason}", title="kagura-engineer")
            if intent.reply_on and intent.actor:
                self._reply(intent.reply_on, intent.reply_on_pr, intent.actor, intent.reason)

    def _gate(self) -> bool:
        """Permission, credentials, milestone resolution. False: refused (reported as skipped)."""
        from dataclasses import replace

        from kagura_engineer.action.gates import check_permission
        from kagura_engineer.errors import NeedsUserError

        aio, intent, event = self.aio, self.intent, self.event
        assert intent is not None and event is not None and self.inputs is not None
        with aio.group("gates"):
            needs_api = intent.actor is not None and not intent.trusted_bot
            repository = self._github().full_name if needs_api else (self._repository() or "this repository")
            result = check_permission(self._github() if needs_api else None, intent.actor, repository,
                                      intent.trusted_bot)  # fmt: skip
            aio.log(f"permission: {result.reason}")
            if not result.allowed:
                self.report.status, self.report.exit_code = "skipped", 0
                self.report.reason = f"refused: {result.reason}"
                aio.warning(self.report.reason, title="kagura-engineer")
                if intent.reply_on and intent.actor:
                    why = (f"your permission on {repository} is `{result.permission}`, and it acts only for "
                           "collaborators with write, maintain or admin permission")  # fmt: skip
                    self._reply(intent.reply_on, intent.reply_on_pr, intent.actor, why,
                                hint="A collaborator with write access can ask instead.")  # fmt: skip
                return False
            if intent.command in MODEL_COMMANDS and not intent.plan and not self._has_model_credential():
                raise NeedsUserError(
                    f"{intent.command} needs a model credential, and none is set",
                    hint="pass `anthropic_api_key: ${{ secrets.ANTHROPIC_API_KEY }}` "
                    "or `claude_code_oauth_token: ${{ secrets.CLAUDE_CODE_OAUTH_TOKEN }}`",
                )
            if intent.command == "goal" and not intent.milestone:
                from kagura_engineer.goal.milestone import nearest_due_milestone

                title = nearest_due_milestone(self._github().list_milestones("open"))
                if title is None:
                    self.intent = replace(intent, command="skip", reason="no open milestone has a due date")
                    self.report.intent, self.report.reason = "skip", self.intent.reason
                    self.report.status, self.report.exit_code = "skipped", 0
                    aio.notice(f"skipped: {self.intent.reason}", title="kagura-engineer")
                    return False
                self.intent = replace(intent, milestone=title)
                self.report.intent = self.intent.label()
                aio.log(f"nearest-due open milestone: {title!r}")
        return True

    def _work(self) -> None:
        from kagura_engineer.action.dispatch import DispatchContext, dispatch

        aio, intent, inputs = self.aio, self.intent, self.inputs
        assert intent is not None and inputs is not None
        self._acknowledge()
        self._start_progress()
        self._restore_cache()
        ctx = DispatchContext(
            config=self.config, base_branch=inputs.base_branch, max_usd=inputs.max_budget_usd,
            max_turns=inputs.max_turns, draft=inputs.draft, trigger=trigger_text(intent, self.event),
        )  # fmt: skip
        dispatcher = self.dispatcher or dispatch
        with aio.group(intent.label()):
            outcome = dispatcher(intent, ctx)
            if outcome.log.strip():
                aio.untrusted(outcome.log.rstrip())  # the command's result is not ours to trust
        self._absorb(outcome)

    # -- pieces -----------------------------------------------------------------------
    def _export_secrets(self, inputs: Inputs) -> None:
        from kagura_engineer import proc

        for name, value in inputs.secrets().items():
            proc.register_secret(value)
            self.environ[name] = value

    def _has_model_credential(self) -> bool:
        return any((self.environ.get(n) or "").strip() for n in
                   ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN"))  # fmt: skip

    def _repository(self) -> str | None:
        return (self.environ.get("GITHUB_REPOSITORY") or "").strip() or (
            self.event.repository if self.event else None
        )

    def _github(self) -> Any:
        if self.gh is None:
            from kagura_engineer.github.client import GitHub

            assert self.inputs is not None
            self.gh = GitHub.from_env(
                self.environ, token=self.inputs.github_token or None, repository=self._repository()
            )
        return self.gh

    def _reply(self, number: int, is_pr: bool, actor: str, reason: str, hint: str | None = None) -> None:
        """The one explaining reply; a failure to post it is a warning, not a failed job."""
        from kagura_engineer.action.gates import reply_key, reply_once
        from kagura_engineer.errors import KaguraError

        try:
            gh = self._github()
            reply_once(gh, number, reply_key(gh.full_name, number, is_pr, actor), actor, reason, hint)
        except KaguraError as exc:
            self.aio.warning(f"could not reply on #{number}: {exc.message}", title="kagura-engineer")

    def _acknowledge(self) -> None:
        from kagura_engineer.errors import KaguraError

        intent = self.intent
        if intent is None or intent.comment_id is None or self.event is None or self.event.comment is None:
            return
        if self.event.comment.kind != "issue":
            return
        try:
            self._github().react("eyes", comment_id=intent.comment_id)
        except KaguraError as exc:
            self.aio.warning(f"could not react to the comment: {exc.message}", title="kagura-engineer")

    def _start_progress(self) -> None:
        from kagura_engineer.github.progress import ProgressComment, ProgressState, render

        intent, event, repository = self.intent, self.event, self._repository()
        assert intent is not None and event is not None
        if not repository:
            return
        owner, repo = repository.split("/", 1)
        number, key = progress_target(intent, event, owner, repo, self.config)
        if number is None or key is None:
            return
        gh = self._github()
        title = intent.label()
        if event.number == number and event.title:
            title += f": {event.title}"
        state = ProgressState.start(
            key, ["decide", "gates", intent.command], title=title, run_url=event.run_url
        )
        state.set_phase("decide", "done", intent.reason)
        state.set_phase("gates", "done")
        state.set_phase(intent.command, "running")
        state.step = f"{intent.label()}: starting"
        comment = ProgressComment(gh, number, key)
        comment.update(state, force=True)
        self.progress = Progress(comment, state, number, posted=render(state))
        aio = self.aio
        for name, value in (("kagura_progress_number", number), ("kagura_progress_key", key),
                            ("kagura_progress_title", title), ("kagura_run_url", event.run_url or ""),
                            ("kagura_command", intent.command)):  # fmt: skip
            aio.save_state(name, value)

    def _restore_cache(self) -> None:
        config, inputs, aio = self.config, self.inputs, self.aio
        if config is None or inputs is None or config.memory_backend != "local" or not inputs.cache:
            return
        with aio.group("memory cache: restore"):
            from kagura_engineer.cache.carry import restore_memory
            from kagura_engineer.errors import KaguraError

            try:
                result = restore_memory(config, self.environ)
            except KaguraError as exc:
                aio.warning(f"memory cache restore failed: {exc.message}", title="memory cache")
                return
            if result.warning:
                aio.warning(str(result.warning), title="memory cache")
            else:
                aio.log(result.describe())
            self.cache_restored = True
            aio.save_state("kagura_cache_restored", "1")

    def _save_cache(self) -> None:
        if not self.cache_restored or self.config is None:
            return
        with self.aio.group("memory cache: save"):
            from kagura_engineer.errors import KaguraError

            try:
                from kagura_engineer.cache.carry import save_memory

                result = save_memory(self.config, self.environ)
            except KaguraError as exc:
                self.aio.warning(f"memory cache save failed: {exc.message}", title="memory cache")
                return
            if result.warning:
                self.aio.warning(str(result.warning), title="memory cache")
            else:
                self.aio.log(result.describe())
            self.aio.save_state("kagura_cache_saved", "1")

    def _absorb(self, outcome: Outcome) -> None:
        """The command's ending becomes the report (and, if it left it, the comment's end)."""
        report, intent, ending = self.report, self.intent, outcome.ending
        assert intent is not None
        report.exit_code = outcome.exit_code
        report.status = outcome.status
        if ending is not None:
            for name in ("pr_number", "pr_url", "verdict", "cost_usd", "matrix", "savepoint"):
                if getattr(ending, name) is not None:
                    setattr(report, name, getattr(ending, name))
        if report.savepoint is None and self.progress is not None and intent.command in MODEL_COMMANDS:
            report.savepoint = self.progress.state.key
        detail = ending.reason if ending is not None else ""
        if outcome.exit_code == 130:
            report.reason = "the job was cancelled (SIGTERM/SIGINT) while the command ran"
        elif outcome.error:
            report.reason = outcome.error + (f" ({outcome.hint})" if outcome.hint else "")
        elif outcome.exit_code != 0:
            report.reason = f"{intent.command} exited {outcome.exit_code}" + (f": {detail}" if detail else "")
        else:
            report.reason = detail or intent.reason
        if outcome.error or outcome.exit_code not in (0, 130):
            # blocked/busy (2) is a warning-worthy halt, anything else an error; both annotated
            annotate = self.aio.warning if outcome.exit_code == 2 and not outcome.error else self.aio.error
            annotate(report.reason, title=f"kagura-engineer {intent.command}")
        # a command that ended on its own and edited the comment itself owns its ending
        if self.progress is not None and ending is not None:
            current = self._current_comment_body()
            self.command_owns_comment = current is not None and current != self.progress.posted

    def _current_comment_body(self) -> str | None:
        from kagura_engineer.errors import KaguraError

        progress = self.progress
        assert progress is not None
        try:
            found = self._github().find_comment(progress.number, progress.comment.marker)
        except KaguraError:
            return None
        return None if found is None else str(found.get("body") or "")

    def _failed(self, message: str, hint: str | None, exit_code: int, code: str | None = None) -> None:
        from kagura_engineer.proc import redact

        report = self.report
        report.status = "failed"
        report.exit_code = exit_code
        report.reason = redact(message) + (f" ({redact(hint)})" if hint else "")
        title = "kagura-engineer" + (f" [{code}]" if code else "")
        self.aio.error(report.reason, title=title)

    def _finish(self) -> None:
        """Always: finish the comment, save the cache, write outputs and the step summary."""
        from kagura_engineer.errors import KaguraError

        aio, report = self.aio, self.report
        final = None
        try:
            if self.progress is not None and not self.command_owns_comment:
                final = self._final_state()
                self.progress.comment.finish(final)
        except KaguraError as exc:
            aio.warning(f"could not finish the progress comment: {exc.message}", title="kagura-engineer")
        try:
            self._save_cache()
        except Exception as exc:  # the cache must never hide the result
            aio.warning(f"memory cache save failed: {type(exc).__name__}: {exc}", title="memory cache")
        with aio.group("outputs"):
            outputs = report.outputs()
            for name, value in outputs.items():
                aio.set_output(name, value)
                aio.log(f"{name}={value}")
        aio.write_summary(self._summary(final, outputs))
        aio.save_state("kagura_done", "1")
        from kagura_engineer.action.ownership import restore_ownership

        restore_ownership(self.environ.get("GITHUB_WORKSPACE"))

    def _final_state(self) -> Any:
        from kagura_engineer.action.intent import resume_hint

        progress, report, intent = self.progress, self.report, self.intent
        assert progress is not None and intent is not None
        state = progress.state
        command_ok = report.exit_code == 0
        state.set_phase(intent.command, "done" if command_ok else "failed",
                        "" if command_ok else report.reason)  # fmt: skip
        state.status = (
            report.status if report.status != "shipped" or intent.command != "review" else "reviewed"
        )
        if intent.command == "doctor" and command_ok:
            state.status = "shipped"
        state.step = ""
        state.reason = None if command_ok else report.reason
        state.pr_number = _int_or_none(report.pr_number)
        state.pr_url = report.pr_url
        state.verdict = report.verdict
        try:
            state.cost_usd = float(report.cost_usd) if report.cost_usd is not None else None
        except (TypeError, ValueError):
            state.cost_usd = None
        if not command_ok:
            state.resume = resume_hint(intent)
        return state

    def _summary(self, final: Any, outputs: dict[str, str]) -> str:
        from kagura_engineer.github.progress import ProgressState, render_summary
        from kagura_engineer.proc import redact

        report = self.report
        parts: list[str] = []
        if final is not None:
            parts.append(render_summary(final))
        elif report.status == "skipped" or self.progress is None:
            repo = (self.event.repository if self.event else None) or "repository"
            state = ProgressState(key=f"action/{repo}", title=report.intent, status=report.status,
                                  reason=report.reason or None)  # fmt: skip
            parts.append(render_summary(state))
        event = self.event.describe() if self.event else "(not read)"
        rows = "\n".join(f"| `{k}` | {redact(v).replace('|', '&#124;').replace(chr(10), ' ') or '—'} |"
                         for k, v in outputs.items())  # fmt: skip
        parts.append(f"\n**kagura-engineer action** · event `{event}` · exit code {report.exit_code}\n\n"
                     f"| output | value |\n|---|---|\n{rows}\n")  # fmt: skip
        return "\n".join(parts)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None and str(value).strip() else None
    except (TypeError, ValueError):
        return None


def trigger_text(intent: Intent, event: Event | None) -> TriggerText | None:
    """For a run: the issue's title and body as the event carried them (None: the payload has
    no text for that issue, e.g. workflow_dispatch; the run then reads the issue itself)."""
    from kagura_engineer.run.trigger import TriggerText

    if intent.command != "run" or event is None or event.body is None or event.is_pull_request:
        return None
    if intent.issue is None or event.number != intent.issue:
        return None
    return TriggerText(title=event.title, body=event.body)


def progress_target(
    intent: Intent, event: Event, owner: str, repo: str, config: Config | None
) -> tuple[int | None, str | None]:
    """The issue/PR the progress comment goes on, and its savepoint key (None: no comment)."""
    from kagura_engineer.jobkey import JobKey

    if intent.command == "run" and intent.issue:
        return intent.issue, str(JobKey.run(owner, repo, intent.issue))
    if intent.command == "review" and intent.pr:
        return intent.pr, str(JobKey.review_pr(owner, repo, intent.pr))
    if (intent.command == "goal" and intent.milestone and not intent.plan
            and config is not None and config.goal.tracking_issue):
        return config.goal.tracking_issue, str(JobKey.goal(owner, repo, intent.milestone))
    if intent.command == "doctor" and event.number:
        kind = "pr" if event.is_pull_request else "issue"
        return event.number, str(JobKey.doctor(owner, repo, kind, event.number))
    return None, None


def ensure_safe_directory(environ: MutableMapping[str, str], aio: ActionIO) -> None:
    """`git config --global --add safe.directory $GITHUB_WORKSPACE`, once (actions/runner#2033)."""
    from kagura_engineer import proc

    workspace = (environ.get("GITHUB_WORKSPACE") or "").strip()
    if not workspace:
        return
    current = proc.run(["git", "config", "--global", "--get-all", "safe.directory"], timeout=15)
    if current.returncode == 127:
        aio.warning(
            "git is not installed; kagura-engineer needs it for run and review", title="kagura-engineer"
        )
        return
    entries = current.stdout.splitlines()
    if workspace in entries or "*" in entries:
        return
    proc.run(["git", "config", "--global", "--add", "safe.directory", workspace], timeout=15).check(
        "git config --global --add safe.directory"
    )
    aio.log(f"git: marked {workspace} as a safe directory")
