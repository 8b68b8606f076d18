"""What every setup step may look at and use: config, flags, environment, package manager."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from kagura_engineer.setup.platform import PackageManager, detect_package_manager

if TYPE_CHECKING:
    from kagura_engineer.config import Config
    from kagura_engineer.http import HttpClient


@dataclass
class SetupContext:
    config: Config
    dry_run: bool = False
    interactive: bool = False  # may prompt for confirmation (a TTY and no --no-input)
    fix: str | None = None  # the step named by --fix: consent to replace, not just add
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    cwd: Path = field(default_factory=Path.cwd)
    root: bool = field(default_factory=lambda: os.geteuid() == 0)
    out: TextIO = field(default_factory=lambda: sys.stderr)
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    _pm: PackageManager | None = field(default=None, init=False, repr=False)
    _pm_done: bool = field(default=False, init=False, repr=False)

    @property
    def package_manager(self) -> PackageManager | None:
        """apt-get or brew, whichever this machine has (detected once)."""
        if not self._pm_done:
            self._pm = detect_package_manager(root=self.root)
            self._pm_done = True
        return self._pm

    def var(self, name: str) -> str | None:
        value = self.env.get(name)
        return value if value and value.strip() else None

    def http(self) -> HttpClient:
        from kagura_engineer.http import HttpClient, RetryPolicy

        return HttpClient(timeout=3.0, policy=RetryPolicy(attempts=2, total_seconds=4.0, base_delay=0.2))

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def confirm(self, question: str) -> bool:
        """Ask [Y/n] when interactive; otherwise running `setup` is the consent."""
        if not self.interactive:
            return True
        self.out.write(f"{question} [Y/n] ")
        self.out.flush()
        answer = self.stdin.readline().strip().lower()
        return answer in ("", "y", "yes")
