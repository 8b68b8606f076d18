"""Run `claude -p` once under the harness's budgets and say honestly how it ended.

`drive_agent(...)` builds the argv and environment (`argv.py`), starts claude in the
worktree through `proc.spawn` (its own process group; the prompt on stdin, so
`launch_agent` can start it before the prompt is ready), parses its
stream live (`stream.py`), lets the watchdog (`watchdog.py`) stop it before a budget is
crossed (SIGINT, then SIGKILL of the group after a grace period), and returns an
`AgentResult` built from ground truth only: the closing report (`structured_output`,
see `schema.py`) and the `result` line's fields. Scraped phrases decide nothing.
"""

from __future__ import annotations

import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from kagura_engineer import CLAUDE_CODE_VERSION, proc
from kagura_engineer.agent.argv import (
    BUILTIN_TOOLS,
    HARNESS_RULES,
    EnvOptions,
    Invocation,
    allowed_tools,
    build_argv,
    claude_env,
    deny_rules,
    mcp_server_names,
    prompt_input,
    without_push,
)
from kagura_engineer.agent.install import find_claude
from kagura_engineer.agent.schema import REPORT_SCHEMA, parse_report
from kagura_engineer.agent.stream import Event, Init, ResultInfo, StreamParser, StreamState, ToolCall
from kagura_engineer.agent.watchdog import Limits, Stop, Watchdog
from kagura_engineer.budget import Budget
from kagura_engineer.errors import AgentError, NeedsUserError

STOPPED_STATUS = {"usd": "budget_exhausted", "turns": "turns_exhausted", "minutes": "timeout"}
GRACE_SECONDS = 5.0
_TICK = 0.2


@dataclass
class AgentResult:
    """How one claude run ended.

    status: done | blocked | needs_input (the agent's closing report) | error |
    budget_exhausted | turns_exhausted | timeout. `stopped_by` says when the harness's
    watchdog stopped it (None | "usd" | "turns" | "minutes"). `cost_usd` is this run's cost
    (the CLI's figure when it printed one, else the stream estimate); `turns` counts model
    turns (API responses) seen in the stream.
    """

    status: str
    summary: str = ""
    files_changed: list[str] = field(default_factory=list)
    notes: str = ""
    cost_usd: float = 0.0
    turns: int = 0
    session_id: str | None = None
    is_error: bool = False
    api_error_status: int | None = None
    permission_denials: list[dict[str, Any]] = field(default_factory=list)
    stopped_by: str | None = None
    structured_output: dict[str, Any] | None = None
    session_cost_usd: float | None = None  # the CLI's total over the whole (resumed) session
    model: str | None = None
    resumed: bool = False
    raw: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status == "done"


def drive_agent(*, prompt: str, on_session: Callable[[str], None] | None = None,
                on_event: Callable[[ToolCall], None] | None = None,
                on_stream: Callable[[Event], None] | None = None, **options: Any) -> AgentResult:
    """Run claude once in `cwd` (resuming session `resume` when given) under the budgets.

    `launch_agent(**options).run(prompt, ...)`: see there for the options. `on_session(id)`
    fires as soon as the stream names the session (save it: a killed job can `--resume`
    it); `on_event(call)` for every tool call (`str(call)` is a one-line, redacted
    description for the progress comment); `on_stream(event)` for every parsed event.
    """
    return launch_agent(**options).run(prompt, on_session=on_session, on_event=on_event, on_stream=on_stream)


def launch_agent(
    *,
    cwd: str | os.PathLike[str],
    config: Any = None,
    resume: str | None = None,
    max_usd: float,
    max_turns: int,
    max_minutes: float,
    json_schema: Mapping[str, Any] | None = None,
    tools: Sequence[str] | None = BUILTIN_TOOLS,
    allowed_tools: Sequence[str] | None = None,
    system: str | None = None,
    setting_sources: str | None = None,
    environ: Mapping[str, str] | None = None,
    env_options: EnvOptions | None = None,
    binary: str | None = None,
    reserve_usd: float | None = None,
    reserve_minutes: float | None = None,
    grace_seconds: float = GRACE_SECONDS,
    space: Any = None,
) -> AgentLaunch:
    """Start claude in `cwd` before its prompt is known: it loads (~0.3 s of start-up here)
    while the caller prepares the prompt; `run(prompt)` then drives it, `cancel()` drops it.

    `config` supplies `model`, `checks`, `allowed_tools` and `memory_mcp_config`.
    `setting_sources` is claude's `--setting-sources` ("user": no project settings or
    memory, for a checkout a stranger wrote). A session that cannot be resumed (another
    machine, or killed before its transcript was written) is started afresh, and `resumed`
    says which. `space` (agent.user.AgentSpace): run claude as its user, with its config and
    tmp dirs. The budgets' clock starts when the prompt is written.
    """
    environ = os.environ if environ is None else environ
    binary = binary or find_claude(environ)
    if not binary:
        raise NeedsUserError(
            "the claude executable was not found (KAGURA_CLAUDE_BIN or PATH)",
            hint=f"kagura-engineer setup --fix claude-code (installs @anthropic-ai/claude-code@{CLAUDE_CODE_VERSION})",
        )
    limits = Limits(Budget(max_usd, max_turns, max_minutes), reserve_usd, reserve_minutes)
    if max_turns < 1 or max_usd <= 0:
        reason = "turns" if max_turns < 1 else "usd"
        return AgentLaunch(
            early=AgentResult(STOPPED_STATUS[reason], stopped_by=reason, notes="no budget left to start the agent")
        )
    user = getattr(space, "user", None)
    if user is not None:
        from kagura_engineer.agent.user import agent_executable

        binary = agent_executable(binary, environ)
        if env_options is None:
            env_options = EnvOptions(config_dir=space.config_dir, tmpdir=space.tmp)
    env = claude_env(environ, env_options)
    mcp_config = getattr(config, "memory_mcp_config", None)
    if allowed_tools is None:
        servers = mcp_server_names(mcp_config) if mcp_config else []
        allowed_tools = allowed_tools_for(config, servers)
    invocation = Invocation(
        binary=binary, prompt="", max_turns=max_turns, max_usd=max_usd,
        system=system or HARNESS_RULES, model=getattr(config, "model", None), resume=resume,
        json_schema=json_schema or REPORT_SCHEMA, allowed=tuple(without_push(allowed_tools)),
        denied=tuple(deny_rules([] if user is not None else _git_dirs(cwd))), tools=tuple(tools) if tools is not None else None,
        mcp_config=mcp_config, setting_sources=setting_sources,
    )  # fmt: skip
    proxy = model_proxy(environ, max_usd)
    if proxy is not None:
        proxy.start()
        env.update(proxy.child_env())  # the proxy's URL and a placeholder: never the credential
    launch = AgentLaunch(
        run=_Run(invocation, env, cwd, limits, grace_seconds, user), proxy=proxy, max_usd=max_usd,
        max_minutes=max_minutes, started_with=(str(cwd), config, resume, max_usd, max_turns),
    )  # fmt: skip
    try:
        launch.start()
    except BaseException:
        launch.cancel()
        raise
    return launch


class AgentLaunch:
    """One claude run, started ahead of its prompt (see `launch_agent`)."""

    def __init__(
        self,
        *,
        run: _Run | None = None,
        proxy: Any = None,
        max_usd: float = 0.0,
        max_minutes: float = 0.0,
        started_with: tuple[Any, ...] = (),
        early: AgentResult | None = None,
    ) -> None:
        self._run, self._proxy, self._max_usd, self._max_minutes = run, proxy, max_usd, max_minutes
        self._early = early
        self._started_with = started_with  # (cwd, config, resume, max_usd, max_turns)
        self._done = False

    def matches(self, *, cwd: str | os.PathLike[str], config: Any, resume: str | None, max_usd: float,
                max_turns: int, **_: Any) -> bool:
        """Whether this launch was started for exactly this call (the same config object, too):
        a caller whose call differs cancels it and starts another."""
        cwd_, config_, resume_, usd_, turns_ = self._started_with or (None,) * 5
        return (cwd_, resume_, usd_, turns_) == (str(cwd), resume, max_usd, max_turns) and config_ is config

    def start(self) -> None:
        if self._run is not None:
            self._run.start()

    @property
    def pid(self) -> int | None:
        """The claude process's id (None: nothing was started)."""
        child = self._run.child if self._run is not None else None
        return child.pid if child is not None else None

    def run(
        self,
        prompt: str,
        *,
        on_session: Callable[[str], None] | None = None,
        on_event: Callable[[ToolCall], None] | None = None,
        on_stream: Callable[[Event], None] | None = None,
    ) -> AgentResult:
        """Write the prompt, drive claude to its end under the budgets, say how it ended."""
        if self._done:
            raise RuntimeError("this claude launch has already run")
        self._done = True
        if self._run is None:
            return self._early or AgentResult("error", notes="nothing was launched")
        try:
            result = _finish(self._run, prompt, self._max_minutes, on_session, on_event, on_stream)
        finally:
            self._stop_proxy()
        proxy = self._proxy
        if proxy is not None and proxy.refused:
            result.status, result.stopped_by = STOPPED_STATUS["usd"], result.stopped_by or "usd"
            result.notes = (result.notes + "\n" if result.notes else "") + (
                f"stopped by the harness's model proxy: ${proxy.spent_usd:.2f} of ${self._max_usd:.2f} spent"
            )
            result.cost_usd = max(result.cost_usd, round(proxy.spent_usd, 6))
        return result

    def cancel(self) -> None:
        """Stop a launch that will not run (its process group killed, the proxy closed)."""
        self._done = True
        if self._run is not None:
            self._run.cancel()
        self._stop_proxy()

    def _stop_proxy(self) -> None:
        if self._proxy is not None:
            self._proxy.stop()


def model_proxy(environ: Mapping[str, str], max_usd: float) -> Any:
    """The credential-holding proxy for this run (agent/proxy.py), or None (Bedrock/Vertex, a login file)."""
    from kagura_engineer.agent.proxy import Credential, ModelProxy, needs_proxy, upstream_url

    if not needs_proxy(environ):
        return None
    credential = Credential.from_env(environ)
    return ModelProxy(upstream_url(environ), credential, max_usd=max_usd) if credential else None


def _finish(
    run: _Run,
    prompt: str,
    max_minutes: float,
    on_session: Callable[[str], None] | None,
    on_event: Callable[[ToolCall], None] | None,
    on_stream: Callable[[Event], None] | None,
) -> AgentResult:
    started = time.monotonic()
    result = run.execute(prompt, on_session, on_event, on_stream)
    resume = run.inv.resume
    if resume and not run.parser.state.initialized and result.status == "error" and result.stopped_by is None:
        # claude refused the session before starting (not on this machine, or killed before
        # its transcript was written): start over in a fresh session, on the same clock
        minutes = max(0.0, max_minutes - (time.monotonic() - started) / 60)
        left = replace(run.limits, budget=replace(run.limits.budget, minutes=minutes))
        fresh = _Run(replace(run.inv, resume=None), run.env, run.cwd, left, run.grace, run.user)
        fresh.start()
        result = fresh.execute(prompt, on_session, on_event, on_stream)
        result.notes = (f"session {resume} could not be resumed; started a fresh one. " + result.notes).strip()
        return result
    result.resumed = bool(resume)
    return result


def allowed_tools_for(config: Any, mcp_servers: Sequence[str] = ()) -> list[str]:
    """The allow-list for a config: safe default, its checks, its `allowed_tools`, MCP."""
    return allowed_tools(
        list(getattr(config, "checks", None) or ()), list(getattr(config, "allowed_tools", None) or ()), mcp_servers
    )


def _git_dirs(cwd: str | os.PathLike[str]) -> list[str]:
    """The checkout's git dir (shared by its worktrees), to keep the model out of it."""
    result = proc.run(["git", "rev-parse", "--git-common-dir"], cwd=cwd, timeout=30)
    path = result.stdout.strip()
    if not result.ok or not path:
        return []
    return [os.path.realpath(os.path.join(os.fspath(cwd), path))]


class _Run:
    """One claude process: spawn (prompt not yet known), then feed, read, watch, stop, interpret."""

    def __init__(
        self,
        inv: Invocation,
        env: dict[str, str],
        cwd: str | os.PathLike[str],
        limits: Limits,
        grace: float,
        user: proc.Identity | None = None,
    ) -> None:
        self.inv, self.env, self.cwd, self.limits, self.grace, self.user = inv, env, cwd, limits, grace, user
        self.watchdog = Watchdog(limits)
        self.on_session: Callable[[str], None] | None = None
        self.on_event: Callable[[ToolCall], None] | None = None
        self.on_stream: Callable[[Event], None] | None = None
        self.parser = StreamParser()
        self.stop: Stop | None = None
        self.announced: str | None = None
        self.stderr: list[str] = []
        self.child: Any = None
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.err: threading.Thread | None = None

    def start(self) -> None:
        """Spawn claude; it reads its prompt from stdin once `execute` writes it."""
        try:
            self.child = proc.spawn(build_argv(self.inv), cwd=self.cwd, env=self.env, user=self.user, stdin_pipe=True)
        except OSError as exc:
            raise AgentError(f"could not start claude ({self.inv.binary}): {exc.strerror or exc}") from None
        threading.Thread(target=_pump, args=(self.child.stdout, self.lines.put), daemon=True).start()
        self.err = threading.Thread(target=_pump, args=(self.child.stderr, self._stderr), daemon=True)
        self.err.start()

    def cancel(self) -> None:
        if self.child is not None and self.child.poll() is None:
            proc.kill_tree(self.child, signal.SIGKILL)
            self.child.wait()
        if self.child is not None:
            _close(self.child.stdin)

    def execute(
        self,
        prompt: str,
        on_session: Callable[[str], None] | None = None,
        on_event: Callable[[ToolCall], None] | None = None,
        on_stream: Callable[[Event], None] | None = None,
    ) -> AgentResult:
        self.on_session, self.on_event, self.on_stream = on_session, on_event, on_stream
        child, lines = self.child, self.lines
        # on a thread: a claude that never reads its stdin cannot block the watchdog below
        threading.Thread(target=_feed, args=(child.stdin, prompt_input(prompt)), daemon=True).start()
        start = time.monotonic()
        kill_at: float | None = None
        exited_at: float | None = None
        try:
            while True:
                try:
                    chunk = lines.get(timeout=_TICK)
                except queue.Empty:
                    chunk = ""
                if chunk is None:
                    break
                if chunk:
                    self._dispatch(self.parser.feed(chunk))
                now = time.monotonic()
                if self.stop is None:
                    decision = self.watchdog.check(self.parser.state, now - start)
                    if decision is not None and decision.immediate:
                        self.stop = decision
                        proc.kill_tree(child, signal.SIGINT)  # claude saves its transcript
                        kill_at = now + self.grace
                if kill_at is not None and now >= kill_at and child.poll() is None:
                    proc.kill_tree(child, signal.SIGKILL)
                    kill_at = None
                if child.poll() is not None:
                    exited_at = exited_at or now
                    if now - exited_at > 2.0:
                        break  # a leftover tool process holds stdout open; claude is gone
            self._dispatch(self.parser.close())
            _reap(child, self.grace + 5.0)
        except BaseException:
            proc.kill_tree(child, signal.SIGKILL)
            child.wait()
            raise
        finally:
            proc.kill_tree(child, signal.SIGKILL)  # tool processes left in claude's group
        if self.err is not None:
            self.err.join(timeout=1.0)
        return interpret(
            self.parser.state, self.stop, child.returncode, proc.redact("".join(self.stderr)[-800:]), bool(self.inv.resume)
        )

    def _stderr(self, line: str | None) -> None:
        if line:
            self.stderr.append(line)
            del self.stderr[:-50]

    def _dispatch(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, (Init, ResultInfo)) and event.session_id and event.session_id != self.announced:
                self.announced = event.session_id
                if self.on_session:
                    self.on_session(event.session_id)
            if isinstance(event, ToolCall) and self.on_event:
                self.on_event(event)
            if self.on_stream:
                self.on_stream(event)


def _reap(child: Any, within: float) -> None:
    """Wait for the process to exit; SIGKILL its group when it will not."""
    deadline = time.monotonic() + within
    while child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if child.poll() is None:
        proc.kill_tree(child, signal.SIGKILL)
        child.wait()


def _feed(stream: Any, text: str) -> None:
    try:
        stream.write(text)
    except (OSError, ValueError):
        pass  # claude already ended (a broken pipe): its stream and exit code tell how
    finally:
        _close(stream)


def _close(stream: Any) -> None:
    try:
        if stream is not None:
            stream.close()
    except (BrokenPipeError, OSError, ValueError):
        pass


def _pump(stream: Any, put: Callable[[str | None], None]) -> None:
    try:
        for line in stream:
            put(line)
    except (OSError, ValueError):
        pass
    finally:
        put(None)


def interpret(
    state: StreamState, stop: Stop | None, returncode: int | None, stderr_tail: str = "", resumed: bool = False
) -> AgentResult:
    """The AgentResult for a finished stream: the closing report and the result fields."""
    info = state.result
    report = parse_report(info.structured_output) if info else None
    if info is not None and info.invocation_cost_usd is not None:
        cost = info.invocation_cost_usd
    elif info is not None and info.total_cost_usd is not None and not resumed:
        cost = info.total_cost_usd
    else:
        cost = state.estimated_usd
    result = AgentResult(
        status="error",
        cost_usd=round(cost, 6),
        turns=state.turn_count,
        session_id=(info.session_id if info else None) or state.session_id,
        is_error=info.is_error if info else True,
        api_error_status=info.api_error_status if info else state.api_error_status,
        permission_denials=[dict(d) for d in info.permission_denials] if info and info.permission_denials else [
            {"tool_name": d.tool_name, "tool_use_id": d.tool_use_id, "message": d.message} for d in state.denials
        ],
        stopped_by=stop.reason if stop else None,
        structured_output=info.structured_output if info and isinstance(info.structured_output, dict) else None,
        session_cost_usd=info.total_cost_usd if info else None,
        model=state.model,
        raw=info.raw if info else None,
    )
    if report is not None:
        result.summary, result.files_changed, result.notes = report.summary, list(report.files_changed), report.notes
    if stop is not None:
        result.status = STOPPED_STATUS[stop.reason]
        result.notes = (result.notes + "\n" if result.notes else "") + f"stopped by the harness: {stop.detail}"
    elif info is None:
        result.notes = f"claude ended without a result (exit {returncode}): {stderr_tail}".strip()
    elif info.subtype == "error_max_turns" or info.terminal_reason == "max_turns":
        result.status = "turns_exhausted"
    elif info.subtype == "error_max_budget_usd" or info.terminal_reason == "budget_exhausted":
        result.status = "budget_exhausted"
    elif report is not None and not info.is_error:
        result.status = report.status
    elif info.is_error:
        detail = info.text or "; ".join(info.errors) or info.subtype or "error"
        result.notes = proc.redact(detail)[:800]
    else:
        result.notes = "claude finished without the closing report (StructuredOutput)"
    return result
