"""claude-code: `npm install -g @anthropic-ai/claude-code@<CLAUDE_CODE_VERSION>`.

A claude at another version is left alone by a plain `setup` (NEEDS_USER, with the exact
command): replacing a tool the user may rely on is their call. `setup --fix claude-code`
is that consent and reinstalls at the pin. A binary named by KAGURA_CLAUDE_BIN is never
replaced. `run` uses whatever claude is there either way (doctor WARNs about the version).
"""

from __future__ import annotations

from kagura_engineer import CLAUDE_CODE_VERSION, proc
from kagura_engineer.doctor.auth import anthropic_source
from kagura_engineer.doctor.checks.claude import AUTH_HINT
from kagura_engineer.doctor.tools import find_claude, version_of
from kagura_engineer.setup.context import SetupContext
from kagura_engineer.setup.model import Command, Plan, StepStatus, Verdict, failed, ok
from kagura_engineer.setup.steps.common import package_commands

PACKAGE = f"@anthropic-ai/claude-code@{CLAUDE_CODE_VERSION}"
NPM_HINT = (
    "npm could not write its global prefix: run setup as root, or use a user prefix "
    "(`npm config set prefix ~/.local` and put ~/.local/bin on PATH), then rerun"
)


def npm_install() -> Command:
    # An exact version: a bare or caret install on Node 20 silently resolves an older CLI.
    return Command.of("npm", "install", "-g", PACKAGE, timeout=1800.0, hint=NPM_HINT)


def plan(ctx: SetupContext) -> Plan:
    binary = find_claude(ctx.env)
    if binary.problem:
        return Plan.done(StepStatus.NEEDS_USER, binary.problem, "point KAGURA_CLAUDE_BIN at the claude binary, or unset it")
    if binary.path:
        version, _ = version_of(binary.path)
        if version == CLAUDE_CODE_VERSION:
            return Plan(verdict=_installed(ctx, binary.path, version))
        found = f"claude {version or '(unknown version)'} at {binary.path}"
        if binary.via != "PATH":
            return Plan.done(StepStatus.NEEDS_USER, f"{found} (KAGURA_CLAUDE_BIN); tested with {CLAUDE_CODE_VERSION}",
                             "point KAGURA_CLAUDE_BIN at a claude " + CLAUDE_CODE_VERSION)  # fmt: skip
        if ctx.fix != "claude-code":
            return Plan.done(StepStatus.NEEDS_USER, f"{found}; kagura-engineer is tested with {CLAUDE_CODE_VERSION}",
                             f"{npm_install().display()} (or: kagura-engineer setup --fix claude-code)")  # fmt: skip
    commands: list[Command] = []
    if proc.which("npm") is None:
        npm = package_commands(ctx, "npm")
        if isinstance(npm, Verdict):
            return Plan.done(StepStatus.NEEDS_USER, f"npm is needed to install Claude Code: {npm.detail}",
                             f"install Node.js and npm, then: {npm_install().display()}")  # fmt: skip
        commands += npm
    commands.append(npm_install())
    return Plan.act(f"install Claude Code {CLAUDE_CODE_VERSION} with npm", commands, verify)


def verify(ctx: SetupContext) -> Verdict:
    binary = find_claude(ctx.env)
    if binary.path is None:
        return failed(f"npm installed {PACKAGE}, but `claude` is not on PATH",
                      'put npm\'s global bin directory on PATH: export PATH="$(npm prefix -g)/bin:$PATH"')  # fmt: skip
    version, _ = version_of(binary.path)
    if version != CLAUDE_CODE_VERSION:
        return failed(f"npm installed {PACKAGE}, but the claude first on PATH ({binary.path}) reports {version}",
                      "remove the other claude from PATH or put $(npm prefix -g)/bin first")  # fmt: skip
    return _installed(ctx, binary.path, version, fresh=True)


def _installed(ctx: SetupContext, path: str, version: str, fresh: bool = False) -> Verdict:
    detail = f"{'installed ' if fresh else ''}claude {version} at {path}"
    if anthropic_source(ctx.env) is None:
        return ok(detail, f"no Anthropic credential yet: {AUTH_HINT}")
    return ok(detail)
