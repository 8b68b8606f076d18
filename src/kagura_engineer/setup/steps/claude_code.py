"""claude-code: `npm install --prefix <cache> @anthropic-ai/claude-code@<CLAUDE_CODE_VERSION>`.

The install goes into kagura-engineer's own cache (`agent.install.cache_prefix`: no root,
no `npm install -g`), the same place the demo installs to and where doctor and `run` look
before PATH. A claude at another version on PATH is left alone by a plain `setup`
(NEEDS_USER, with the exact command): whether kagura-engineer should use another claude than
the user's is their call. `setup --fix claude-code` is that consent and installs the pin
into the cache. A binary named by KAGURA_CLAUDE_BIN is never replaced. `run` uses whatever
claude is there either way (doctor WARNs about the version).
"""

from __future__ import annotations

from kagura_engineer import CLAUDE_CODE_VERSION, proc
from kagura_engineer.agent.install import INSTALL_SIZE, NPM_ENV, cache_prefix, install_command
from kagura_engineer.credentials import AUTH_HINT, anthropic_source
from kagura_engineer.doctor.tools import find_claude, version_of
from kagura_engineer.setup.context import SetupContext
from kagura_engineer.setup.effects import Command
from kagura_engineer.setup.model import Plan, StepStatus, Verdict, failed, ok
from kagura_engineer.setup.steps.common import package_commands

PACKAGE = f"@anthropic-ai/claude-code@{CLAUDE_CODE_VERSION}"
NPM_HINT = "check npm's registry access (npm config get registry) and the free space in the cache directory"


def npm_install(ctx: SetupContext) -> Command:
    # An exact version: a bare or caret install on Node 20 silently resolves an older CLI.
    argv = install_command(cache_prefix(ctx.env))
    return Command.of(*argv, timeout=1800.0, passthrough=NPM_ENV, hint=NPM_HINT)


def plan(ctx: SetupContext) -> Plan:
    binary = find_claude(ctx.env)
    if binary.problem:
        return Plan.done(
            StepStatus.NEEDS_USER, binary.problem, "point KAGURA_CLAUDE_BIN at the claude binary, or unset it"
        )
    if binary.path:
        version, _ = version_of(binary.path)
        if version == CLAUDE_CODE_VERSION:
            return Plan(verdict=_installed(ctx, binary.path, version))
        found = f"claude {version or '(unknown version)'} at {binary.path}"
        if binary.via == "KAGURA_CLAUDE_BIN":
            return Plan.done(StepStatus.NEEDS_USER, f"{found} (KAGURA_CLAUDE_BIN); tested with {CLAUDE_CODE_VERSION}",
                             "point KAGURA_CLAUDE_BIN at a claude " + CLAUDE_CODE_VERSION)  # fmt: skip
        if binary.via == "PATH" and ctx.fix != "claude-code":
            return Plan.done(StepStatus.NEEDS_USER, f"{found}; kagura-engineer is tested with {CLAUDE_CODE_VERSION}",
                             f"kagura-engineer setup --fix claude-code (installs {CLAUDE_CODE_VERSION} into "
                             f"{cache_prefix(ctx.env)}, {INSTALL_SIZE}; your claude stays as it is)")  # fmt: skip
    commands: list[Command] = []
    if proc.which("npm") is None:
        npm = package_commands(ctx, "npm")
        if isinstance(npm, Verdict):
            return Plan.done(StepStatus.NEEDS_USER, f"npm is needed to install Claude Code: {npm.detail}",
                             f"install Node.js and npm, then: {npm_install(ctx).display()}")  # fmt: skip
        commands += npm
    commands.append(npm_install(ctx))
    return Plan.act(f"install Claude Code {CLAUDE_CODE_VERSION} with npm ({INSTALL_SIZE})", commands, verify)


def verify(ctx: SetupContext) -> Verdict:
    binary = find_claude(ctx.env)
    if binary.path is None or binary.via != "cache":
        return failed(f"npm installed {PACKAGE}, but there is no claude in {cache_prefix(ctx.env)}",
                      "npm may have skipped the package's postinstall (--ignore-scripts); rerun without it")  # fmt: skip
    version, _ = version_of(binary.path)
    if version != CLAUDE_CODE_VERSION:
        return failed(f"npm installed {PACKAGE}, but {binary.path} reports {version}",
                      f"remove {cache_prefix(ctx.env)} and rerun: kagura-engineer setup --fix claude-code")  # fmt: skip
    return _installed(ctx, binary.path, version, fresh=True)


def _installed(ctx: SetupContext, path: str, version: str, fresh: bool = False) -> Verdict:
    detail = f"{'installed ' if fresh else ''}claude {version} at {path}"
    if anthropic_source(ctx.env) is None:
        return ok(detail, f"no Anthropic credential yet: {AUTH_HINT}")
    return ok(detail)
