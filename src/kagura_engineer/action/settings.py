"""The settings a job runs with: repo.yaml with the Action's inputs applied, and the memory backend.

The main step and the post step both build them here, in memory (`Config.with_overrides`).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kagura_engineer.action.inputs import Inputs
    from kagura_engineer.config import Config
    from kagura_engineer.workflow import ActionIO


def resolve_backend(
    inputs: Inputs, config: Config, environ: MutableMapping[str, str], aio: ActionIO | None
) -> str:
    """Input `memory_backend`: cloud/local as given; auto = repo.yaml's, or local without a Cloud key."""
    if inputs.memory_backend in ("cloud", "local"):
        return inputs.memory_backend
    if config.memory_backend == "cloud" and not (
        inputs.kagura_api_key or (environ.get("KAGURA_API_KEY") or "").strip()
    ):
        if aio is not None:
            aio.warning("repo.yaml asks for Memory Cloud but no kagura_api_key is set: using local memory "
                        "carried in the Actions cache", title="memory")  # fmt: skip
        return "local"
    return config.memory_backend


def effective_config(inputs: Inputs, environ: MutableMapping[str, str], aio: ActionIO | None) -> Config:
    """repo.yaml (input `config`, else the usual lookup) with the Action's inputs applied.

    Inputs left empty keep repo.yaml's value; the budget inputs replace only their own limit.
    """
    from kagura_engineer.config import load_config

    base = load_config(inputs.config)
    backend = resolve_backend(inputs, base, environ, aio)
    return base.with_overrides(
        model=inputs.model or None,
        allowed_tools=list(inputs.allowed_tools) or None,
        base_branch=inputs.base_branch or None,
        memory_backend=backend if backend != base.memory_backend else None,
        budget={
            "max_usd": inputs.max_budget_usd,
            "max_turns": inputs.max_turns,
            "max_minutes": inputs.timeout_minutes,
        },
    )
