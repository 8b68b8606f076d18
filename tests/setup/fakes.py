"""The fake tools setup drives: package managers whose installs leave working fakes behind."""

from __future__ import annotations

from fakebin import FakeBin, Reply
from kagura_engineer import CLAUDE_CODE_VERSION

CLAUDE = Reply(stdout=f"{CLAUDE_CODE_VERSION} (Claude Code)\n")
GIT = Reply(stdout="git version 2.39.5\n")
GH = Reply(stdout="gh version 2.23.0 (2023-02-08)\n")


def add_apt(fb: FakeBin, **overrides: Reply) -> None:
    """A fake apt-get whose installs leave working fakes of git, gh and npm behind."""
    on = {
        "update": Reply(stdout="Reading package lists... Done\n"),
        "install -y git": Reply(creates={"git": GIT}),
        "install -y gh": Reply(creates={"gh": GH}),
        "install -y npm": Reply(creates={"npm": Reply(creates={"claude": CLAUDE})}),
    }
    on.update(overrides)
    fb.add("apt-get", on=on)


def add_npm(fb: FakeBin, install: Reply | None = None) -> None:
    fb.add("npm", stdout="11.19.1\n", on={"install": install or Reply(creates={"claude": CLAUDE})})
