"""Shared by the steps: "install this tool with the platform package manager"."""

from __future__ import annotations

from collections.abc import Callable

from kagura_engineer.setup.context import SetupContext
from kagura_engineer.setup.effects import Command
from kagura_engineer.setup.model import Plan, StepStatus, Verdict
from kagura_engineer.setup.platform import CannotInstall


def package_commands(ctx: SetupContext, tool: str) -> list[Command] | Verdict:
    """The commands installing `tool`, or a NEEDS_USER verdict saying why they cannot run."""
    pm = ctx.package_manager
    if pm is None:
        return Verdict(StepStatus.NEEDS_USER, f"{tool} is missing and neither apt-get nor brew is on PATH",
                       f"install {tool} with your system's package manager")  # fmt: skip
    try:
        return pm.install(tool)
    except CannotInstall as exc:
        return Verdict(StepStatus.NEEDS_USER, f"cannot install {tool} unattended: {exc}")


def install_plan(ctx: SetupContext, tool: str, verify: Callable[[SetupContext], Verdict]) -> Plan:
    commands = package_commands(ctx, tool)
    if isinstance(commands, Verdict):
        return Plan(verdict=commands)
    return Plan.act(f"install {tool} with {ctx.package_manager.name}", commands, verify)
