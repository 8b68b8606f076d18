"""Estimating what a model turn costs while the run is live.

The CLI reports the real cost only in its final `result` line. Before that, the stream
gives each turn's token usage: `message_start` (input and cache tokens) and
`message_delta` (output tokens), seen with `--include-partial-messages`. The watchdog
prices them with this table, which deliberately holds the *dearest* list price a model
family has had (USD per million tokens), so the estimate errs high and the harness stops
early, never late. Measured with 2.1.331: claude-opus-5-5 is billed 4/20, claude-opus-4-8
5/25, claude-sonnet-4-5 3/15, claude-3-5-haiku 0.8/4.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: family keyword -> (input, output) USD per million tokens; unknown names price as opus.
PRICES: dict[str, tuple[float, float]] = {
    "opus": (5.0, 25.0),
    "sonnet": (3.0, 15.0),
    "haiku": (1.0, 5.0),
}
CACHE_WRITE = 1.25  # x input price (5-minute cache writes)
CACHE_READ = 0.1  # x input price


def price_for(model: str | None) -> tuple[float, float]:
    name = (model or "").lower()
    return next((price for family, price in PRICES.items() if family in name), PRICES["opus"])


def usage_cost(model: str | None, usage: Mapping[str, Any]) -> float:
    """USD for one API response's usage at the table's list price."""
    price_in, price_out = price_for(model)

    def tokens(key: str) -> int:
        value = usage.get(key)
        return int(value) if isinstance(value, (int, float)) and value > 0 else 0

    billed_in = (
        tokens("input_tokens")
        + tokens("cache_creation_input_tokens") * CACHE_WRITE
        + tokens("cache_read_input_tokens") * CACHE_READ
    )
    return (billed_in * price_in + tokens("output_tokens") * price_out) / 1_000_000
