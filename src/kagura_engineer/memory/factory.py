"""The configured memory backend, opened: the one place that knows both backends."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kagura_engineer.config import Config
    from kagura_engineer.memory.base import MemoryClient


def open_memory(config: Config) -> MemoryClient:
    """The configured backend, opened. Cloud falls back to the local store on outages."""
    if config.memory_backend == "cloud":
        from kagura_engineer.memory.cloud import open_cloud

        return open_cloud(config)
    from kagura_engineer.memory.local import open_local

    return open_local(config)
