"""The settings a job runs with: repo.yaml with the Action's inputs applied, and the memory backend."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

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


def effective_config(
    inputs: Inputs, environ: MutableMapping[str, str], aio: ActionIO | None
) -> tuple[Config, str | None]:
    """repo.yaml with the Action's inputs applied; the path to pass as `--config` (None: defaults).

    With overrides, the merged settings are written to a fresh `repo.yaml` under RUNNER_TEMP,
    because every command reads its settings through `--config`.
    """
    import tempfile
    from pathlib import Path

    import yaml

    from kagura_engineer.config import load_config, parse_config

    base = load_config(inputs.config)
    overrides: dict[str, Any] = {}
    if inputs.model:
        overrides["model"] = inputs.model
    if inputs.allowed_tools:
        overrides["allowed_tools"] = list(inputs.allowed_tools)
    if inputs.base_branch:
        overrides["base_branch"] = inputs.base_branch
    budget: dict[str, Any] = {}
    if inputs.max_budget_usd is not None:
        budget["max_usd"] = inputs.max_budget_usd
    if inputs.max_turns is not None:
        budget["max_turns"] = inputs.max_turns
    if inputs.timeout_minutes is not None:
        budget["max_minutes"] = inputs.timeout_minutes
    backend = resolve_backend(inputs, base, environ, aio)
    if backend != base.memory_backend:
        overrides["memory_backend"] = backend
    if not overrides and not budget:
        return base, inputs.config
    data = base.model_dump(mode="json")
    data.update(overrides)
    data["budget"] = {**data.get("budget", {}), **budget}
    config = parse_config(data, source=f"{base.source} + action inputs")
    tmp_root = (environ.get("RUNNER_TEMP") or "").strip() or None
    directory = Path(tempfile.mkdtemp(prefix="kagura-engineer-", dir=tmp_root))
    path = directory / "repo.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return config, str(path)
