"""Before a command that will start Claude Code: is there a `claude`, and a credential for it?

`run`, `goal` (unless `--plan`) and `review` (with `--fix`, or with Claude as the reviewer)
call `require_agent()` first, before any network call: without a key, `run 42` says so at
once (exit 2, the fix in the hint) instead of talking to GitHub and the memory backend,
retrying, and failing half a minute later when the agent starts. Credentials are looked up
by name only (`doctor.auth`), never read out.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from kagura_engineer import CLAUDE_CODE_VERSION
from kagura_engineer.errors import NeedsUserError

#: Claude Code's switches to a cloud provider; their own credentials are the provider's business.
PROVIDER_ENV = ("CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX")
_OFF = ("", "0", "false", "no", "off")

NO_CREDENTIAL = (
    "no model credential: set ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN or ANTHROPIC_AUTH_TOKEN "
    "(or CLAUDE_CODE_USE_BEDROCK=1 / CLAUDE_CODE_USE_VERTEX=1)"
)


def model_credential(environ: Mapping[str, str] | None = None) -> str | None:
    """The name of what will authenticate claude (a variable, the login file, or a provider), or None."""
    from kagura_engineer.credentials import anthropic_source

    environ = os.environ if environ is None else environ
    source = anthropic_source(environ)
    if source is not None:
        return source.name if source.name in PROVIDER_ENV else str(source)
    return next((n for n in PROVIDER_ENV if (environ.get(n) or "").strip().lower() not in _OFF), None)


def require_agent(environ: Mapping[str, str] | None = None) -> str:
    """The claude binary to use; NeedsUserError (exit 2) when it or a credential is missing."""
    from kagura_engineer.agent.install import INSTALL_SIZE, find_claude

    environ = os.environ if environ is None else environ
    binary = find_claude(environ)
    if binary is None:
        explicit = (environ.get("KAGURA_CLAUDE_BIN") or "").strip()
        if explicit:
            raise NeedsUserError(
                f"KAGURA_CLAUDE_BIN={explicit} is not an executable file",
                hint="point KAGURA_CLAUDE_BIN at the claude binary, or unset it",
            )
        raise NeedsUserError(
            "claude (Claude Code) is not installed",
            hint=f"kagura-engineer setup --fix claude-code (installs {CLAUDE_CODE_VERSION}, {INSTALL_SIZE})",
        )
    if model_credential(environ) is None:
        from kagura_engineer.credentials import AUTH_HINT

        raise NeedsUserError(NO_CREDENTIAL, hint=AUTH_HINT)
    return binary
