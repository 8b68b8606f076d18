"""The headless Claude Code driver: argv and environment, the live stream, the budgets.

    from kagura_engineer.agent import drive_agent
    result = drive_agent(prompt=..., cwd=worktree, config=config,
                         max_usd=5.0, max_turns=60, max_minutes=45)

Modules: `install` (find the binary, its version, install at the pin), `argv` (argv,
allow-list, environment), `stream` (pure stream-json parser), `cost` (live cost
estimate), `watchdog` (budget decisions), `schema` (the closing report), `driver` (runs
it and returns an `AgentResult`).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "AgentLaunch": "driver",
    "AgentResult": "driver",
    "drive_agent": "driver",
    "launch_agent": "driver",
    "cache_prefix": "install",
    "claude_version": "install",
    "find_claude": "install",
    "install_claude": "install",
    "version_warning": "install",
    "REPORT_SCHEMA": "schema",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    # lazy, so `python -m kagura_engineer.agent.install` does not import its own module twice
    if name in _EXPORTS:
        return getattr(import_module(f"kagura_engineer.agent.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'kagura_engineer.agent' has no attribute {name!r}")
