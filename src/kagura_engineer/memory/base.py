"""The memory boundary: a `MemoryClient` Protocol both backends implement.

`memory.factory.open_memory(config)` picks the backend (`memory_backend: cloud|local`).
Everything above this package (run, review, goal, the CLI) speaks only this Protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class Memory:
    """One recalled or referenced memory. `score` is backend-relative: higher is better."""

    id: str
    summary: str
    content: str
    type: str
    tags: tuple[str, ...] = ()
    importance: float = 0.5
    score: float = 0.0
    created_at: str = ""
    details: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "summary": self.summary,
            "content": self.content,
            "type": self.type,
            "tags": list(self.tags),
            "importance": self.importance,
            "score": round(self.score, 6),
            "created_at": self.created_at,
            "details": self.details,
        }


@dataclass(frozen=True)
class Related:
    """A memory reached by `explore`: how many hops away and through which weight."""

    id: str
    summary: str
    hop: int
    weight: float
    edge_type: str = ""
    path: tuple[str, ...] = field(default_factory=tuple)


@runtime_checkable
class MemoryClient(Protocol):
    """What the harness needs from a memory backend."""

    def remember(
        self,
        summary: str,
        content: str,
        type: str,
        tags: Sequence[str] = (),
        importance: float = 0.5,
        details: dict[str, Any] | None = None,
        *,
        external_id: str | None = None,
    ) -> str:
        """Store a memory; with `external_id`, an upsert (writing it again never duplicates)."""
        ...

    def recall(self, query: str, k: int = 5, filters: dict[str, Any] | None = None) -> list[Memory]: ...

    def reference(self, id: str) -> Memory | None: ...

    def forget(self, id: str) -> bool: ...

    def link(self, src: str, dst: str, edge_type: str = "related_to", weight: float = 1.0) -> None: ...

    def explore(self, id: str, depth: int = 2) -> list[Related]: ...

    def feedback(self, id: str, helpful: bool) -> None: ...

    def set_state(self, key: str, value: Any, ttl: float | None = None) -> None: ...

    def get_state(self, key: str) -> Any | None: ...

    def close(self) -> None: ...
