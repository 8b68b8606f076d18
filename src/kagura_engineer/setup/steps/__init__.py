"""The setup steps, in the order they run: git → claude-code → gh → ollama → ollama-models → memory-cloud."""

from __future__ import annotations

from kagura_engineer.setup.runner import Step
from kagura_engineer.setup.steps import claude_code, gh, git, memory_cloud, ollama, ollama_models

STEPS: tuple[Step, ...] = (
    Step("git", git.plan),
    Step("claude-code", claude_code.plan),
    Step("gh", gh.plan),
    Step("ollama", ollama.plan),
    Step("ollama-models", ollama_models.plan),
    Step("memory-cloud", memory_cloud.plan),
)

NAMES: tuple[str, ...] = tuple(s.name for s in STEPS)
