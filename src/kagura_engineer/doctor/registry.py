"""The checks doctor runs, in display order. Action-mode checks join when GITHUB_ACTIONS=true."""

from __future__ import annotations

from kagura_engineer.doctor.checks import (
    actions,
    claude,
    config,
    gh,
    git,
    github,
    isolation,
    memory,
    ollama,
    reviewer,
    toolchain,
)
from kagura_engineer.doctor.context import DoctorContext
from kagura_engineer.doctor.runner import Check

BASE: tuple[Check, ...] = (
    Check("config", config.check),
    Check("git", git.check),
    Check("claude-code", claude.check_claude_code),
    Check("isolation", isolation.check),
    Check("gh", gh.check, timeout=15.0),  # `gh auth status` may ask the API host
    Check("ollama", ollama.check),
    Check("haiku", claude.check_haiku),
    Check("memory", memory.check),
    Check("reviewer", reviewer.check),
    Check("toolchain", toolchain.check),
)

#: Only in GitHub Actions: the workflow pitfalls users hit (issue E.5).
ACTIONS: tuple[Check, ...] = (
    Check("github", github.check, timeout=20.0),
    Check("trigger-label", github.check_trigger_label, timeout=20.0),
    Check("branch-protection", github.check_branch_protection, timeout=20.0),
    Check("push-triggers", actions.check_push_triggers),
    Check("dependabot", actions.check_dependabot),
    Check("actions-cache", actions.check_actions_cache),
)


def checks_for(ctx: DoctorContext) -> tuple[Check, ...]:
    return BASE + ACTIONS if ctx.in_actions else BASE


def names() -> list[str]:
    return [c.name for c in BASE + ACTIONS]
