"""One budget: the most one job's agent may spend, in dollars, model turns and wall-clock minutes.

Built from repo.yaml's `budget:` with a command's `--max-usd` / `--max-turns` winning when
given (`Budget.from_config`); what is left after spending (`remaining`) never goes below zero.
The run loop, the review job and its fix loop, and eval's per-run cap all use it; the agent
driver takes its three numbers as `max_usd`, `max_turns`, `max_minutes` (`agent_kwargs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class _BudgetSettings(Protocol):
    """What `from_config` reads: `config.BudgetConfig` (repo.yaml's `budget:`)."""

    max_usd: float
    max_turns: int
    max_minutes: float


@dataclass(frozen=True)
class Budget:
    usd: float
    turns: int
    minutes: float

    @classmethod
    def from_config(
        cls, settings: _BudgetSettings, *, max_usd: float | None = None, max_turns: int | None = None
    ) -> Budget:
        """repo.yaml's budget; an explicit `max_usd` / `max_turns` (a command's option) wins over it."""
        return cls(
            usd=max_usd if max_usd is not None else settings.max_usd,
            turns=max_turns if max_turns is not None else settings.max_turns,
            minutes=settings.max_minutes,
        )

    def remaining(self, spent_usd: float = 0.0, used_turns: int = 0) -> Budget:
        """What is left after spending `spent_usd` and `used_turns` (never below zero; minutes kept)."""
        return Budget(max(0.0, self.usd - spent_usd), max(0, self.turns - used_turns), self.minutes)

    def capped(self, usd: float) -> Budget:
        """This budget with at most `usd` dollars (never below zero)."""
        return Budget(max(0.0, min(self.usd, usd)), self.turns, self.minutes)

    @property
    def exhausted(self) -> bool:
        """No dollar or no turn left: an agent started with it could do nothing."""
        return self.usd <= 0 or self.turns <= 0

    def agent_kwargs(self) -> dict[str, Any]:
        """The driver's keyword arguments (`agent.driver.drive_agent` and the scripted agents)."""
        return {"max_usd": self.usd, "max_turns": self.turns, "max_minutes": self.minutes}
