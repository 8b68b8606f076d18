"""The platform package manager: apt-get (Debian/Ubuntu) or brew (macOS), whichever is here.

apt-get needs root: as root it runs directly, otherwise through `sudo -n` (never a password
prompt: sudo without a cached credential fails, and the step becomes NEEDS_USER with the
exact command to run). `apt-get update` runs once, before the first install of a setup run.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from kagura_engineer import proc
from kagura_engineer.setup.effects import Command

#: tool → package name per manager (absent: that manager cannot install it).
PACKAGES: dict[str, dict[str, str]] = {
    "git": {"apt-get": "git", "brew": "git"},
    "gh": {"apt-get": "gh", "brew": "gh"},
    "npm": {"apt-get": "npm", "brew": "node"},
    "ollama": {"brew": "ollama"},
}

APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}
_SUDO_NEEDS_PASSWORD = ("password is required", "a terminal is required", "no tty present", "askpass")


class CannotInstall(Exception):
    """This machine cannot install the package unattended; the message says what to run."""


@dataclass
class PackageManager:
    name: str  # "apt-get" | "brew"
    root: bool = True
    sudo: str | None = None  # path of sudo when not root
    _updated: bool = field(default=False, repr=False)

    def package(self, tool: str) -> str | None:
        return PACKAGES.get(tool, {}).get(self.name)

    def install(self, tool: str) -> list[Command]:
        """The exact commands that install `tool` (CannotInstall when this manager cannot)."""
        package = self.package(tool)
        if package is None:
            raise CannotInstall(f"{self.name} has no package for {tool}")
        if self.name == "brew":
            return [Command.of("brew", "install", package, timeout=1800.0, passthrough=("HOMEBREW_PREFIX",))]
        commands = []
        if not self._updated:
            commands.append(self._apt("update"))
            self._updated = True
        commands.append(self._apt("install", "-y", package))
        return commands

    def _apt(self, *args: str) -> Command:
        if self.root:
            return Command.of("apt-get", *args, env=APT_ENV, timeout=1200.0)
        if self.sudo is None:
            shown = " ".join(["apt-get", *args])
            raise CannotInstall(f"not root and no sudo: run as root: {shown}")
        env_args = [f"{k}={v}" for k, v in APT_ENV.items()]
        return Command.of("sudo", "-n", "env", *env_args, "apt-get", *args, timeout=1200.0)


def detect_package_manager(root: bool) -> PackageManager | None:
    """brew first on macOS, apt-get first elsewhere; None when neither is on PATH."""
    order = ("brew", "apt-get") if sys.platform == "darwin" else ("apt-get", "brew")
    for name in order:
        if proc.which(name):
            return PackageManager(name, root=root, sudo=None if root else proc.which("sudo"))
    return None


def sudo_needs_password(stderr: str) -> bool:
    text = (stderr or "").lower()
    return "sudo" in text and any(marker in text for marker in _SUDO_NEEDS_PASSWORD)
