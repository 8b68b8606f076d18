"""The project's `setup`: the commands that install its toolchain before the agent starts.

repo.yaml `setup` is a list of shell commands (from the trusted config only, see
`run/trusted.py`), run in order by the harness once per job, with network:

- a command whose program is `apt-get`, `apt` or `dpkg` (after any `VAR=value` prefixes), or
  one written `{run: ..., as: root}`, runs as root, in `/` (never in the clone, whose files the
  agent or a PR wrote), with `DEBIAN_FRONTEND=noninteractive`. Before the first apt command,
  when the image holds no package lists (they are removed at build time), `apt-get update`
  runs once. Not root (a laptop): a root command is skipped with one line (install it yourself).
- every other command (`{run: ..., as: agent}` forces it) runs as the agent user in its clone,
  like the checks, so what it builds (`.venv`, `node_modules`) belongs to the agent.

Every command gets the env allow-list only (`proc.BASE_ENV`): no token, no API key. Its output
is shown under a `setup` heading (in the Action, inside the command's folded log group); the
first failing command stops setup with `SetupFailed`: `setup failed: <command>`, the exit code
and the redacted tail of its output.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kagura_engineer import proc
from kagura_engineer.errors import BlockedError

ROOT_PROGRAMS = frozenset({"apt-get", "apt", "dpkg"})
APT_PROGRAMS = frozenset({"apt-get", "apt"})
#: Where apt keeps its package lists (emptied when the image is built).
APT_LISTS = Path("/var/lib/apt/lists")
#: Lines of each command's output shown in the log (the tail; the whole output is not kept).
LOG_LINES = 200


class SetupFailed(BlockedError):
    """A setup command failed: the run is red for that reason alone (not the agent's work)."""

    code = "setup"

    def __init__(self, command: str, returncode: int, tail: str, timed_out: bool = False) -> None:
        how = "timed out" if timed_out else f"exit {returncode}"
        self.reason = f"setup failed: {command} ({how})"
        self.detail = output_tail(tail)
        super().__init__(self.reason + (f": {self.detail}" if self.detail else ""),
                         hint="fix `setup` in repo.yaml on the default branch, then resume")  # fmt: skip
        self.command = command


def output_tail(text: str, lines: int = 8, chars: int = 1200) -> str:
    """The last `lines` non-empty lines of (already redacted) output on one line, ` ⏎ `-joined."""
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()][-lines:]
    joined = " ⏎ ".join(kept)
    return joined if len(joined) <= chars else "…" + joined[-chars:]


@dataclass(frozen=True)
class Step:
    command: str
    root: bool


@dataclass
class StepRun:
    command: str
    who: str  # root | agent | skipped
    ok: bool
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"command": self.command, "as": self.who, "ok": self.ok, "seconds": round(self.seconds, 2)}


@dataclass
class SetupReport:
    runs: list[StepRun] = field(default_factory=list)
    seconds: float = 0.0
    excluded: list[str] = field(default_factory=list)  # what setup made, kept out of commits
    cache: str | None = None  # hit | restored older | miss (+ ", saved")

    def detail(self) -> str:
        if not self.runs:
            return "nothing to set up"
        ran = sum(1 for r in self.runs if r.who != "skipped")
        skipped = len(self.runs) - ran
        text = f"{ran} command(s) in {self.seconds:.1f}s"
        if skipped:
            text += f", {skipped} skipped (not root)"
        return text + (f", cache {self.cache}" if self.cache else "")

    def to_json(self) -> dict[str, Any]:
        return {"steps": [r.to_json() for r in self.runs], "seconds": round(self.seconds, 2),
                "cache": self.cache, "detail": self.detail()}  # fmt: skip


def program(command: str) -> str:
    """The program a command starts: its first word after `VAR=value` prefixes (basename)."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    while words and "=" in words[0] and not words[0].startswith(("-", "=")):
        words = words[1:]
    return os.path.basename(words[0]) if words else ""


def needs_root(command: str) -> bool:
    """Whether a plain `setup` string runs as root: it starts with apt-get, apt or dpkg."""
    return program(command) in ROOT_PROGRAMS


def steps(config: Any) -> list[Step]:
    """The config's `setup` as steps, each knowing who runs it."""
    planned = []
    for item in config.setup:
        root = item.as_ == "root" if item.as_ else needs_root(item.run)
        planned.append(Step(item.run, root))
    return planned


def apt_lists_missing(lists: Path | None = None) -> bool:
    """True when apt has no package lists (an image built with them removed)."""
    lists = APT_LISTS if lists is None else lists
    try:
        return not any(p.is_file() and "_Packages" in p.name for p in lists.iterdir())
    except OSError:
        return True


def untracked(clone: Any) -> set[str]:
    """Untracked, not ignored paths in the agent's clone (directories collapsed), as its user."""
    listed = clone.agent_git("ls-files", "--others", "--exclude-standard", "--directory", "-z")
    return {p for p in listed.stdout.split("\0") if p} if listed.ok else set()


def exclude_new(clone: Any, before: set[str]) -> list[str]:
    """Keep what setup made (`.venv/`, `node_modules/`) out of every commit: each new untracked
    path goes into the clone's `.git/info/exclude`, written as the agent user."""
    new = sorted(untracked(clone) - before)
    if new:
        text = "# made by kagura-engineer setup\n" + "".join(f"/{p}\n" for p in new)
        proc.run(["sh", "-c", 'mkdir -p .git/info && cat >> .git/info/exclude'], cwd=clone.path, timeout=30,
                 user=clone.user, input=text, check=True)  # fmt: skip
    return new


def say_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_setup(
    planned: list[Step],
    *,
    clone: Path,
    user: proc.Identity | None,
    timeout: float,
    say: Callable[[str], None] = say_stderr,
    is_root: bool | None = None,
) -> SetupReport:
    """Run `planned` in order (see the module doc); `SetupFailed` at the first failure."""
    from kagura_engineer.agent.user import is_root as root_now

    root = root_now() if is_root is None else is_root
    report = SetupReport()
    if not planned:
        return report
    say(f"── setup: {len(planned)} command(s) from repo.yaml ──")
    apt_ready = False
    try:
        for step in planned:
            if step.root and not root:
                say(f"$ {step.command}  (root: skipped, not running as root; install it yourself)")
                report.runs.append(StepRun(step.command, "skipped", True, 0.0))
                continue
            if step.root and program(step.command) in APT_PROGRAMS and not apt_ready:
                apt_ready = True
                if apt_lists_missing() and "update" not in step.command.split():
                    _one(Step("apt-get update", True), clone, user, timeout, say, report)
            _one(step, clone, user, timeout, say, report)
    finally:
        report.seconds = sum(r.seconds for r in report.runs)
        say(f"── setup {'done' if all(r.ok for r in report.runs) else 'failed'} ({report.seconds:.1f}s) ──")
    return report


def _one(
    step: Step, clone: Path, user: proc.Identity | None, timeout: float, say: Callable[[str], None],
    report: SetupReport,
) -> None:  # fmt: skip
    who = "root" if step.root else "agent"
    say(f"$ {step.command}" + ("  (as root)" if step.root else ""))
    if step.root:
        result = proc.run_shell(
            step.command, cwd="/", timeout=timeout, env={"DEBIAN_FRONTEND": "noninteractive", "HOME": "/root"}
        )
    else:
        result = proc.run_shell(step.command, cwd=clone, timeout=timeout, user=user)
    output = "\n".join(t for t in (result.stdout.rstrip(), result.stderr.rstrip()) if t)
    lines = proc.redact(output).splitlines()
    if len(lines) > LOG_LINES:
        say(f"  … {len(lines) - LOG_LINES} earlier line(s) not shown")
    for line in lines[-LOG_LINES:]:
        say(f"  {line}")
    report.runs.append(StepRun(step.command, who, result.ok, result.seconds))
    if not result.ok:
        raise SetupFailed(step.command, result.returncode, result.tail(1500), result.timed_out)


def prepare(
    config: Any, clone: Any, *, say: Callable[[str], None] = say_stderr, environ: Any = None
) -> SetupReport:
    """Everything before the agent starts, in the agent's clone (`agent.clone.AgentClone`):
    restore `setup_cache`, run `setup`, keep what it made out of commits, save the cache on a
    miss. Raises `SetupFailed`; a cache problem is only a line."""
    planned = steps(config)
    if not planned and config.setup_cache is None:
        return SetupReport()
    from kagura_engineer.cache import setup_cache  # httpx and the cache client: only when used

    before = untracked(clone)
    space = getattr(clone, "space", None)
    scratch = Path(space.base).parent if clone.user is not None and space is not None else None
    cached = None
    if config.setup_cache is not None:
        cached = setup_cache.restore(config, clone.path, clone.user, environ, scratch)
        say(cached.describe())
    try:
        report = run_setup(planned, clone=clone.path, user=clone.user,
                           timeout=config.check_timeout_minutes * 60, say=say)  # fmt: skip
    finally:
        excluded = exclude_new(clone, before)  # also after a failure: the red run's push commits
    report.excluded = excluded
    if cached is not None:
        report.cache = "hit" if cached.exact_hit else "restored older" if cached.restored else "miss"
        if not cached.exact_hit:
            saved = setup_cache.save(config, clone.path, clone.user, environ, scratch)
            say(saved.describe())
            if saved.saved:
                report.cache += ", saved"
    return report
