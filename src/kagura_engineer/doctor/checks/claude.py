"""claude-code (binary, version against the pin, auth source) and haiku (auth resolves)."""

from __future__ import annotations

from kagura_engineer import CLAUDE_CODE_VERSION
from kagura_engineer.credentials import AUTH_HINT, anthropic_source, claude_credentials_file
from kagura_engineer.doctor.context import DoctorContext
from kagura_engineer.doctor.model import Outcome, fail, ok, warn
from kagura_engineer.doctor.tools import find_claude, version_of

INSTALL = f"kagura-engineer setup --fix claude-code (installs claude {CLAUDE_CODE_VERSION} into kagura-engineer's cache)"


def check_claude_code(ctx: DoctorContext) -> Outcome:
    binary = find_claude(ctx.env)
    if binary.path is None:
        if binary.problem:
            return fail(
                binary.problem, "point KAGURA_CLAUDE_BIN at the claude binary, or unset it to use PATH"
            )
        return fail("claude not found (KAGURA_CLAUDE_BIN, kagura-engineer's cache or PATH)", INSTALL)
    version, result = version_of(binary.path)
    if version is None:
        why = f"exited {result.returncode}" if not result.timed_out else "timed out"
        tail = result.tail(200).splitlines()
        return fail(f"{binary.path} --version {why}{': ' + tail[-1] if tail else ''}", INSTALL)
    where = binary.path if binary.via == "PATH" else f"{binary.path} ({binary.via})"
    source = anthropic_source(ctx.env)
    auth = f"auth: {source}" if source else "auth: none"
    detail = f"claude {version} at {where}, {auth}"
    if version != CLAUDE_CODE_VERSION:
        return warn(f"{detail}; tested with {CLAUDE_CODE_VERSION}", INSTALL)
    if source is None:
        return warn(f"{detail} (see haiku)", AUTH_HINT)
    return ok(detail)


def check_haiku(ctx: DoctorContext) -> Outcome:
    source = anthropic_source(ctx.env)
    if source is None:
        path = claude_credentials_file(ctx.env)
        return fail(
            f"no Anthropic auth source (ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN, CLAUDE_CODE_OAUTH_TOKEN, {path})",
            AUTH_HINT,
        )
    return ok(f"Anthropic auth from {source}")
