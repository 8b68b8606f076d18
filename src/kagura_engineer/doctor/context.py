"""What every check may look at: the config, an environment snapshot, the working directory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kagura_engineer.config import Config
    from kagura_engineer.errors import KaguraError
    from kagura_engineer.http import HttpClient

#: Doctor must be quick: one short retry, a few seconds at most per HTTP probe.
HTTP_TIMEOUT = 3.0


@dataclass(frozen=True)
class DoctorContext:
    """`config` is repo.yaml, or the embedded defaults when `config_error` says why it could not be used."""

    config: Config
    config_error: KaguraError | None = None
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    cwd: Path = field(default_factory=Path.cwd)
    http_timeout: float = HTTP_TIMEOUT

    def var(self, name: str) -> str | None:
        """An environment variable, with empty or whitespace-only values counted as unset."""
        value = self.env.get(name)
        return value if value and value.strip() else None

    @property
    def home(self) -> Path:
        return Path(self.env.get("HOME") or Path.home())

    @property
    def in_actions(self) -> bool:
        return self.env.get("GITHUB_ACTIONS") == "true"

    def http(self, base_url: str = "") -> HttpClient:
        """An HttpClient with doctor's short timeout and a single quick retry."""
        from kagura_engineer.http import HttpClient, RetryPolicy

        policy = RetryPolicy(attempts=2, total_seconds=self.http_timeout + 1, base_delay=0.2, max_delay=0.5)
        return HttpClient(base_url, timeout=self.http_timeout, policy=policy)
