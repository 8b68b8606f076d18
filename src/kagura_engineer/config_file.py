"""Which repo.yaml applies, and the defaults when none does — without pydantic.

`config.py` validates a file into `Config`; this module only finds it, so a command that
runs on the embedded defaults (e.g. `memory recall` outside a configured repository) need
not import pydantic and the config models (~0.2 s of start-up).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

SEARCH_PATHS = ("repo.yaml", ".kagura/repo.yaml", ".github/kagura.yaml")
EMBEDDED_DEFAULTS: dict[str, Any] = {"profile": "default"}  # memory_backend: local (no Cloud ids)
#: `local_memory_path` when the config does not set it (relative to the working directory).
DEFAULT_LOCAL_MEMORY_PATH = ".kagura/memory.db"


def find_config(explicit: str | None = None) -> Path | None:
    """The config file to use, or None for the embedded defaults."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("KAGURA_CONFIG")
    if env:
        return Path(env)
    for candidate in SEARCH_PATHS:
        if Path(candidate).is_file():
            return Path(candidate)
    return None
