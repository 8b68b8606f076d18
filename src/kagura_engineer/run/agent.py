"""The headless Claude Code driver: argv, environment, live stream-json, budgets.

`drive_agent(...)` runs `claude -p` in a worktree and returns an `AgentResult` built from
ground truth only: the CLI's `result` line (cost, turns, session, error fields) and the
closing report it returns through `--json-schema` (`structured_output`). Scraped phrases
decide nothing.

Budgets are enforced here, not trusted to the CLI: a watchdog on the live stream stops
claude (SIGINT, then SIGKILL of its process group after a grace period) before the next
turn would cross `max_usd`, `max_turns` or `max_minutes`, keeping a reserve so the
harness can wrap up (commit, push, report). The CLI's own `--max-turns` and
`--max-budget-usd` are passed too, as a backstop the harness reaches first.

The model's environment is an allow-list: it never sees GITHUB_TOKEN, GH_TOKEN,
KAGURA_API_KEY, ACTIONS_RUNTIME_TOKEN or any INPUT_*; the harness does every GitHub write.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kagura_engineer import CLAUDE_CODE_VERSION, proc
from kagura_engineer.errors import AgentError, NeedsUserError

#: The closing report every implement/fix run must give (through the StructuredOutput tool).
REPORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["done", "blocked", "needs_input"]},
        "summary": {"type": "string"},
        "files_changed": {"type": "array", "items": {"type": "string"}},
        "notes": {"type": "string"},
    },
    "required": ["status", "summary"],
}

#: Tools offered in CI: file tools, plus git for inspecting and committing (never push).
DEFAULT_ALLOWED = (
    "Read", "Write", "Edit", "Glob", "Grep",
    "Bash(git status:*)", "Bash(git diff:*)", "Bash(git log:*)", "Bash(git show:*)",
    "Bash(git add:*)", "Bash(git commit:*)",
)  # fmt: skip
MEMORY_TOOLS = ("mcp__kagura-memory__recall", "mcp__kagura-memory__remember")

#: What reaches the claude process (besides proc.BASE_ENV): credentials and CLI switches.
CLAUDE_PASSTHROUGH = (
    "ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL",
    "ANTHROPIC_MODEL", "CLAUDE_CONFIG_DIR", "CLAUDE_CODE_TMPDIR", "CLAUDE_CODE_MAX_RETRIES",
    "API_TIMEOUT_MS", "CLAUDE_STREAM_IDLE_TIMEOUT_MS",
    "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
    "GIT_CONFIG_COUNT", "GIT_CONFIG_KEY_0", "GIT_CONFIG_VALUE_0",
)  # fmt: skip
CLAUDE_SWITCHES = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_ERROR_REPORTING": "1",
}

#: List prices (USD per million tokens) used to estimate spend before the CLI reports it.
#: Deliberately the dearest tier a model name may map to: an over-estimate stops early,
#: never late. The CLI's own total replaces the estimate when the run ends.
PRICES = {"opus": (15.0, 75.0), "sonnet": (3.0, 15.0), "haiku": (1.0, 5.0)}
GRACE_SECONDS = 5.0


@dataclass
class AgentResult:
    status: str  # done | blocked | needs_input | error | budget_exhausted | turns_exhausted | timeout
    summary: str = ""
    files_changed: list[str] = field(default_factory=list)
    notes: str = ""
    cost_usd: float = 0.0
    turns: int = 0
    session_id: str | None = None
    is_error: bool = False
    api_error_status: int | None = None
    permission_denials: list[dict[str, Any]] = field(default_factory=list)
    stopped_by: str | None = None  # None | "usd" | "turns" | "minutes"
    structured_output: dict[str, Any] | None = None
    raw: dict[str, Any] | None = None


def find_claude(environ: Mapping[str, str] | None = None) -> str | None:
    """`KAGURA_CLAUDE_BIN`, else `claude` on PATH."""
    environ = os.environ if environ is None else environ
    explicit = environ.get("KAGURA_CLAUDE_BIN")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return proc.which("claude", path=environ.get("PATH"))


def version_warning(binary: str) -> str | None:
    """A warning when the binary is not the pinned version (never a refusal)."""
    result = proc.run([binary, "--version"], timeout=30)
    found = result.stdout.split()[0] if result.ok and result.stdout.strip() else "unknown"
    if found != CLAUDE_CODE_VERSION:
        return f"claude {found} found; kagura-engineer is tested with {CLAUDE_CODE_VERSION}"
    return None


def build_argv(
    binary: str,
    prompt: str,
    *,
    system: str,
    max_turns: int,
    max_usd: float,
    model: str | None = None,
    resume: str | None = None,
    json_schema: dict[str, Any] | None = None,
    tools: Sequence[str] | None = None,
    allowed: Iterable[str] = (),
    mcp_config: str | None = None,
) -> list[str]:
    """The claude argv: a list, never a shell string (the prompt is one argument)."""
    argv = [binary, "-p", prompt, "--output-format", "stream-json", "--verbose"]
    argv += ["--max-turns", str(max(1, max_turns)), "--max-budget-usd", f"{max(0.01, max_usd):.4f}"]
    argv += ["--append-system-prompt", system]
    argv += ["--json-schema", json.dumps(json_schema or REPORT_SCHEMA)]
    if model:
        argv += ["--model", model]
    if resume:
        argv += ["--resume", resume]
    if tools is not None:
        argv += ["--tools", ",".join(tools)]
    if mcp_config:
        argv += ["--mcp-config", mcp_config, "--strict-mcp-config"]
    rules = list(dict.fromkeys(allowed))
    if rules:
        argv += ["--allowedTools", *rules]  # variadic: keep it last
    return argv


def allowed_rules(checks: Sequence[str], extra: Sequence[str] = (), memory: bool = False) -> list[str]:
    """The safe CI allow-list: file tools, git without push, the configured checks exactly."""
    rules = list(DEFAULT_ALLOWED) + [f"Bash({c})" for c in checks] + list(extra)
    if memory:
        rules += list(MEMORY_TOOLS)
    return rules


def claude_env(environ: Mapping[str, str] | None = None) -> tuple[dict[str, str], list[str]]:
    """(extra variables, passthrough names) for the claude process."""
    environ = os.environ if environ is None else environ
    if not any(environ.get(k) for k in ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN")):
        config_dir = Path(environ.get("CLAUDE_CONFIG_DIR") or Path(environ.get("HOME", "~")).expanduser() / ".claude")
        if not (config_dir / ".credentials.json").exists():
            raise NeedsUserError(
                "no Anthropic credential: set ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN",
                hint="in a workflow: with: anthropic_api_key: ${{ secrets.ANTHROPIC_API_KEY }}",
            )
    extra = dict(CLAUDE_SWITCHES)
    extra.setdefault("CLAUDE_CODE_MAX_RETRIES", environ.get("CLAUDE_CODE_MAX_RETRIES", "3"))
    return extra, list(CLAUDE_PASSTHROUGH)


def _price(model: str | None) -> tuple[float, float]:
    name = (model or "opus").lower()
    return next((p for key, p in PRICES.items() if key in name), PRICES["opus"])


class StreamState:
    """Everything read so far from one stream-json run (pure: fed line by line)."""

    def __init__(self) -> None:
        self.session_id: str | None = None
        self.model: str | None = None
        self.messages: set[str] = set()
        self.estimated_usd = 0.0
        self.result: dict[str, Any] | None = None
        self.tool_uses: list[str] = []

    @property
    def turns(self) -> int:
        return len(self.messages)

    def feed(self, line: str) -> str | None:
        """Consume one line; returns a one-line description of a tool use, if it was one."""
        line = line.strip()
        if not line.startswith("{"):
            return None
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            return None
        kind = event.get("type")
        if kind == "system" and event.get("subtype") == "init":
            self.session_id = event.get("session_id") or self.session_id
            self.model = event.get("model") or self.model
        elif kind == "assistant":
            message = event.get("message") or {}
            mid = message.get("id")
            if mid and mid not in self.messages:
                self.messages.add(mid)
                usage = message.get("usage") or {}
                price_in, price_out = _price(message.get("model") or self.model)
                tokens_in = sum(int(usage.get(k) or 0) for k in ("input_tokens", "cache_creation_input_tokens"))
                tokens_in += int(usage.get("cache_read_input_tokens") or 0) // 10
                self.estimated_usd += (tokens_in * price_in + int(usage.get("output_tokens") or 0) * price_out) / 1e6
            for block in message.get("content") or []:
                if isinstance(block, dict) and block.get("type") == "tool_use":
                    name = str(block.get("name", "tool"))
                    self.tool_uses.append(name)
                    return _describe(name, block.get("input") or {})
        elif kind == "result":
            self.result = event
            self.session_id = event.get("session_id") or self.session_id
        return None

    def average_turn_usd(self) -> float:
        return self.estimated_usd / self.turns if self.turns else 0.0


def _describe(name: str, args: dict[str, Any]) -> str:
    target = args.get("file_path") or args.get("pattern") or args.get("command") or ""
    target = proc.redact(str(target)).replace("\n", " ")
    if len(target) > 80:
        target = target[:77] + "..."
    return f"{name} {target}".strip()


def to_result(state: StreamState, stopped_by: str | None, stderr_tail: str, returncode: int | None) -> AgentResult:
    """Interpret the stream: the structured report plus the result fields, nothing scraped."""
    raw = state.result or {}
    report = raw.get("structured_output") if isinstance(raw.get("structured_output"), dict) else None
    cost = raw.get("total_cost_usd")
    result = AgentResult(
        status="error",
        cost_usd=float(cost) if isinstance(cost, (int, float)) else state.estimated_usd,
        turns=int(raw.get("num_turns") or state.turns),
        session_id=raw.get("session_id") or state.session_id,
        is_error=bool(raw.get("is_error")),
        api_error_status=raw.get("api_error_status") if isinstance(raw.get("api_error_status"), int) else None,
        permission_denials=[d for d in raw.get("permission_denials") or [] if isinstance(d, dict)],
        stopped_by=stopped_by,
        structured_output=report,
        raw=raw or None,
    )
    if report:
        result.summary = str(report.get("summary") or "")
        result.notes = str(report.get("notes") or "")
        result.files_changed = [str(f) for f in report.get("files_changed") or []]
    if stopped_by:
        result.status = {"usd": "budget_exhausted", "turns": "turns_exhausted", "minutes": "timeout"}[stopped_by]
        return result
    subtype = raw.get("subtype")
    if subtype == "error_max_turns" or raw.get("terminal_reason") == "max_turns":
        result.status = "turns_exhausted"
    elif subtype == "error_max_budget_usd" or raw.get("terminal_reason") == "budget_exhausted":
        result.status = "budget_exhausted"
    elif report and report.get("status") in ("done", "blocked", "needs_input") and not result.is_error:
        result.status = str(report["status"])
    elif not raw:
        result.notes = f"claude ended without a result (exit {returncode}): {stderr_tail}".strip()
    elif result.is_error:
        result.notes = proc.redact(str(raw.get("result") or raw.get("errors") or "error"))[:500]
    else:
        result.notes = "claude finished without the closing report (StructuredOutput)"
    return result


def drive_agent(
    *,
    prompt: str,
    cwd: str | os.PathLike[str],
    config: Any,
    resume: str | None = None,
    max_usd: float,
    max_turns: int,
    max_minutes: float,
    on_session: Callable[[str], None] | None = None,
    on_event: Callable[[str], None] | None = None,
    json_schema: dict[str, Any] | None = None,
    tools: Sequence[str] | None = None,
    allowed_tools: Sequence[str] | None = None,
    system: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> AgentResult:
    """Run claude once (resuming `resume` when given) under the harness's budgets."""
    from kagura_engineer.run.prompt import SYSTEM_RULES

    environ = os.environ if environ is None else environ
    binary = find_claude(environ)
    if not binary:
        raise NeedsUserError(
            "the claude executable was not found (PATH or KAGURA_CLAUDE_BIN)",
            hint=f"kagura-engineer setup --fix claude-code (installs @anthropic-ai/claude-code@{CLAUDE_CODE_VERSION})",
        )
    extra, passthrough = claude_env(environ)
    if allowed_tools is None:
        allowed_tools = allowed_rules(
            getattr(config, "checks", ()), getattr(config, "allowed_tools", ()), bool(getattr(config, "memory_mcp_config", None))
        )
    argv = build_argv(
        binary, prompt, system=system or SYSTEM_RULES, max_turns=max_turns, max_usd=max_usd,
        model=getattr(config, "model", None), resume=resume, json_schema=json_schema, tools=tools,
        allowed=allowed_tools, mcp_config=getattr(config, "memory_mcp_config", None),
    )  # fmt: skip
    result = _run_stream(argv, cwd, extra, passthrough, max_usd, max_turns, max_minutes, on_session, on_event)
    if resume and result.status == "error" and result.stopped_by is None and not result.turns:
        # the session cannot be resumed (a new job on another machine, or killed before its
        # transcript was written): start over in a fresh session
        argv = [a for i, a in enumerate(argv) if a != "--resume" and (i == 0 or argv[i - 1] != "--resume")]
        result = _run_stream(argv, cwd, extra, passthrough, max_usd, max_turns, max_minutes, on_session, on_event)
    return result


def _run_stream(
    argv: list[str],
    cwd: str | os.PathLike[str],
    extra: dict[str, str],
    passthrough: list[str],
    max_usd: float,
    max_turns: int,
    max_minutes: float,
    on_session: Callable[[str], None] | None,
    on_event: Callable[[str], None] | None,
) -> AgentResult:
    try:
        child = proc.spawn(argv, cwd=cwd, env=extra, passthrough=passthrough)
    except OSError as exc:
        raise AgentError(f"could not start claude: {exc.strerror}") from None
    lines: queue.Queue[str | None] = queue.Queue()
    stderr: list[str] = []

    def pump() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            lines.put(line)
        lines.put(None)

    def pump_err() -> None:
        assert child.stderr is not None
        for line in child.stderr:
            stderr.append(line)
            del stderr[:-50]

    threading.Thread(target=pump, daemon=True).start()
    threading.Thread(target=pump_err, daemon=True).start()
    state = StreamState()
    start = time.monotonic()
    # keep a reserve for the wrap-up the harness does itself (commit, push, report)
    deadline = start + max(30.0, max_minutes * 60 - min(120.0, max_minutes * 6))
    reserve_usd = max_usd * 0.05
    stopped_by: str | None = None
    announced: str | None = None
    try:
        while True:
            try:
                line = lines.get(timeout=1.0)
            except queue.Empty:
                line = ""
            if line is None:
                break
            if line:
                described = state.feed(line)
                if state.session_id and state.session_id != announced and on_session:
                    announced = state.session_id
                    on_session(state.session_id)
                if described and on_event:
                    on_event(described)
            if stopped_by or state.result is not None:
                continue
            concluding = bool(state.tool_uses) and state.tool_uses[-1] == "StructuredOutput"
            if time.monotonic() >= deadline:
                stopped_by = "minutes"
            elif concluding:
                continue  # the closing report is in: let it finish
            elif state.turns > max_turns:
                stopped_by = "turns"  # the CLI's own --max-turns should have stopped it first
            elif state.turns and state.estimated_usd + state.average_turn_usd() + reserve_usd > max_usd:
                stopped_by = "usd"
            if stopped_by:
                _stop(child)
        child.wait(timeout=GRACE_SECONDS * 2)
    except BaseException:
        proc.kill_tree(child, signal.SIGKILL)
        child.wait()
        raise
    tail = proc.redact("".join(stderr)[-500:])
    return to_result(state, stopped_by, tail, child.returncode)


def _stop(child: Any) -> None:
    """SIGINT (claude saves its transcript), then SIGKILL the group after a grace period."""
    proc.kill_tree(child, signal.SIGINT)

    def finish() -> None:
        try:
            child.wait(timeout=GRACE_SECONDS)
        except Exception:
            proc.kill_tree(child, signal.SIGKILL)

    threading.Thread(target=finish, daemon=True).start()
