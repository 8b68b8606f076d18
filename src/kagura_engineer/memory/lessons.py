"""Recalled lessons as one block of text for a prompt: failures and their fixes first."""

from __future__ import annotations

from collections.abc import Sequence

from kagura_engineer.memory.base import Memory


def render_memories(memories: Sequence[Memory], limit_chars: int = 6000) -> str:
    """Recalled lessons as one block: failures and their fixes first."""
    ordered = sorted(memories, key=lambda m: (m.type not in ("failure", "fix"), -m.score))
    parts: list[str] = []
    used = 0
    for m in ordered:
        entry = f"- [{m.type}] {m.summary}\n  {m.content.strip()[:800]}"
        if used + len(entry) > limit_chars:
            break
        parts.append(entry)
        used += len(entry)
    return "\n".join(parts)
