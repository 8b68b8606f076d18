"""The harness's own budget enforcement, decided from the live stream (pure).

The driver asks `Watchdog.check(state, elapsed)` after every stream event and once a
fraction of a second while the stream is quiet. A `Stop` names the budget and whether to
stop now; the driver then sends SIGINT (claude writes its transcript and a `result`) and
SIGKILLs the process group after a grace period.

The rules, each keeping a reserve so the harness can wrap up (commit, push, report):

- minutes: stop at `max_minutes` minus `reserve_minutes` of wall clock, whatever is running;
- turns: when a turn has ended and one more would exceed `max_turns`;
- usd: when a turn has ended and `spent + next + reserve_usd > max_usd`, where `spent` is
  the stream's estimate (see `cost.py`, priced high on purpose) and `next` is the larger
  of the average turn and the last turn (context only grows, so the last turn is the
  better predictor; taking the larger never stops later than the average rule).

A turn that called tools is stopped only once its tool results are in: the work it did
(a Write, a commit) lands, and no money is spent while a tool runs. The CLI sends the
next request right after the results, so the stop is immediate at that point; should the
next turn start anyway, it is stopped at once. A turn that calls `StructuredOutput` (the
closing report) is never stopped: the CLI ends the run by itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from kagura_engineer.agent.stream import StreamState
from kagura_engineer.budget import Budget

REASONS = ("usd", "turns", "minutes")


@dataclass(frozen=True)
class Limits:
    """A job's `Budget` as the watchdog enforces it: each limit less a reserve for wrapping up."""

    budget: Budget
    reserve_usd: float | None = None  # default: 10% of the budget's dollars
    reserve_minutes: float | None = None  # default: 10% of its minutes, at most 2

    @property
    def max_usd(self) -> float:
        return self.budget.usd

    @property
    def max_turns(self) -> int:
        return self.budget.turns

    @property
    def max_minutes(self) -> float:
        return self.budget.minutes

    @property
    def usd_reserve(self) -> float:
        return self.reserve_usd if self.reserve_usd is not None else self.max_usd * 0.10

    @property
    def deadline_seconds(self) -> float:
        reserve = self.reserve_minutes if self.reserve_minutes is not None else min(2.0, self.max_minutes * 0.10)
        return max(0.0, (self.max_minutes - reserve) * 60.0)


@dataclass(frozen=True)
class Stop:
    reason: str  # one of REASONS
    immediate: bool  # False: wait for the current turn's tool results first
    detail: str


class Watchdog:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def estimate_next(self, state: StreamState) -> float:
        """What the next turn will likely cost: max(average turn, last turn)."""
        ended = [t for t in state.turns if t.ended]
        if not ended:
            return 0.0
        average = sum(t.cost_usd for t in ended) / len(ended)
        return max(average, ended[-1].cost_usd)

    def check(self, state: StreamState, elapsed: float) -> Stop | None:
        b = self.limits
        if state.result is not None:
            return None  # the run already ended on its own
        if elapsed >= b.deadline_seconds:
            return Stop("minutes", True, f"{elapsed / 60:.1f} of {b.max_minutes:g} minutes used")
        turn = state.last_turn
        if turn is None:
            return None
        spent = state.estimated_usd
        if not turn.ended:
            # a turn is streaming: only stop it when it should not have started at all
            if turn.index > b.max_turns:
                return Stop("turns", True, f"turn {turn.index} started past max_turns {b.max_turns}")
            if spent + b.usd_reserve > b.max_usd:
                return Stop("usd", True, f"~${spent:.2f} spent of ${b.max_usd:.2f}")
            return None
        if turn.concludes:
            return None  # the closing report is in; the CLI finishes the run
        immediate = not turn.tools_pending
        if state.turn_count + 1 > b.max_turns:
            return Stop("turns", immediate, f"{state.turn_count} of {b.max_turns} turns used")
        upcoming = self.estimate_next(state)
        if spent + upcoming + b.usd_reserve > b.max_usd:
            return Stop(
                "usd", immediate, f"~${spent:.2f} spent, next turn ~${upcoming:.2f}, budget ${b.max_usd:.2f}"
            )
        return None
