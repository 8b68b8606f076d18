"""What the next issue will probably cost, from what similar past runs really cost.

Every shipped run leaves an `outcome` memory (tags `kagura-run`, `shipped`) whose
`details.cost_usd` is the CLI's own total. The projection is the mean of those recalled for
the issue's title; with no history it is the per-run budget (`budget.max_usd`), the most a
run may spend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kagura_engineer.errors import KaguraError


@dataclass(frozen=True)
class Projection:
    usd: float
    samples: int  # 0: no history, the per-run budget was used

    def describe(self) -> str:
        if self.samples:
            return f"${self.usd:.2f} (mean of {self.samples} similar past run{'s' if self.samples > 1 else ''})"
        return f"${self.usd:.2f} (no similar past runs: the per-run budget)"


def project(memory: Any, title: str, fallback_usd: float, k: int = 5) -> Projection:
    """Mean real cost of up to `k` similar shipped runs, else `fallback_usd`."""
    try:
        recalled = memory.recall(title, k=k, filters={"type": "outcome", "tags": ["kagura-run"]})
    except KaguraError:
        recalled = []  # memory down: plan with the worst case rather than not at all
    costs = []
    for m in recalled:
        cost = (m.details or {}).get("cost_usd") if m.type == "outcome" else None
        if isinstance(cost, (int, float)) and not isinstance(cost, bool) and cost >= 0:
            costs.append(float(cost))
    if not costs:
        return Projection(float(fallback_usd), 0)
    return Projection(sum(costs) / len(costs), len(costs))


def would_exceed(spent: float, projected: float, limit: float | None) -> bool:
    return limit is not None and spent + projected > limit + 1e-9
