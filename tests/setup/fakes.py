"""The fake tools setup drives: package managers whose installs leave working fakes behind."""

from __future__ import annotations

from fakebin import FakeBin, Reply
from kagura_engineer import CLAUDE_CODE_VERSION
from kagura_engineer.agent.install import cache_prefix, prefix_binary

CLAUDE = Reply(stdout=f"{CLAUDE_CODE_VERSION} (Claude Code)\n")
GIT = Reply(stdout="git version 2.39.5\n")
GH = Reply(stdout="gh version 2.23.0 (2023-02-08)\n")


def add_apt(fb: FakeBin, **overrides: Reply) -> None:
    """A fake apt-get whose installs leave working fakes of git, gh and npm behind."""
    on = {
        "update": Reply(stdout="Reading package lists... Done\n"),
        "install -y git": Reply(creates={"git": GIT}),
        "install -y gh": Reply(creates={"gh": GH}),
        "install -y npm": Reply(creates={"npm": npm_reply()}),
    }
    on.update(overrides)
    fb.add("apt-get", on=on)


def cached_claude_path() -> str:
    """Where `setup` has npm install claude: kagura-engineer's cache under this test's HOME."""
    return str(prefix_binary(cache_prefix()))


def npm_reply() -> Reply:
    """What apt's fake npm does on any call: leave a claude at the pin in the cache prefix."""
    return Reply(creates={cached_claude_path(): CLAUDE})


def add_npm(fb: FakeBin, install: Reply | None = None) -> None:
    fb.add(
        "npm", stdout="11.19.1\n", on={"install": install or Reply(creates={cached_claude_path(): CLAUDE})}
    )
