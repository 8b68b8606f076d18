"""Finding the external binaries kagura-engineer drives, and reading their versions."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from kagura_engineer import proc

_VERSION = re.compile(r"\b(\d+\.\d+\.\d+(?:[-.+][0-9A-Za-z.]+)?)")


def parse_version(text: str) -> str | None:
    """The first dotted version in `text` (`2.1.331 (Claude Code)` → `2.1.331`)."""
    match = _VERSION.search(text or "")
    return match.group(1) if match else None


@dataclass(frozen=True)
class Binary:
    """Where a binary was looked for and found (`path` None when absent)."""

    name: str
    path: str | None
    via: str  # "PATH", "cache" (kagura-engineer's own install) or the variable that pointed at it
    problem: str | None = None


def find_claude(env: Mapping[str, str] | None = None) -> Binary:
    """`KAGURA_CLAUDE_BIN` when set (it must be executable), else the cached install at the
    pin (`agent.install.cache_prefix`), else `claude` on PATH: the order `run` uses."""
    from kagura_engineer.agent.install import cached_claude

    env = os.environ if env is None else env
    explicit = (env.get("KAGURA_CLAUDE_BIN") or "").strip()
    if explicit:
        if os.path.isfile(explicit) and os.access(explicit, os.X_OK):
            return Binary("claude", explicit, "KAGURA_CLAUDE_BIN")
        found = proc.which(explicit) if os.sep not in explicit else None
        if found:
            return Binary("claude", found, "KAGURA_CLAUDE_BIN")
        return Binary(
            "claude", None, "KAGURA_CLAUDE_BIN", f"KAGURA_CLAUDE_BIN={explicit} is not an executable file"
        )
    cached = cached_claude(env)
    if cached:
        return Binary("claude", cached, "cache")
    return Binary("claude", proc.which("claude", path=env.get("PATH")), "PATH")


def version_of(path: str, *args: str, timeout: float = 8.0) -> tuple[str | None, proc.Result]:
    """Run `<path> --version` (or `args`) and parse the version from its output."""
    result = proc.run([path, *(args or ("--version",))], timeout=timeout)
    return (parse_version(result.stdout) or parse_version(result.stderr)) if result.ok else None, result
