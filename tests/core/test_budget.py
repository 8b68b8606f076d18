"""The one budget type: repo.yaml's numbers, a command's overrides, and what is left."""

from __future__ import annotations

from kagura_engineer.budget import Budget
from kagura_engineer.config import BudgetConfig

CONFIG = BudgetConfig(max_usd=5.0, max_turns=60, max_minutes=45.0)


def test_config_alone_gives_its_numbers() -> None:
    assert Budget.from_config(CONFIG) == Budget(usd=5.0, turns=60, minutes=45.0)


def test_an_option_wins_over_the_config_and_none_falls_back() -> None:
    assert Budget.from_config(CONFIG, max_usd=1.5) == Budget(1.5, 60, 45.0)
    assert Budget.from_config(CONFIG, max_turns=7) == Budget(5.0, 7, 45.0)
    # 0 is an explicit value, not "unset": it wins too (the run then halts at once)
    assert Budget.from_config(CONFIG, max_usd=0.0, max_turns=0) == Budget(0.0, 0, 45.0)


def test_remaining_subtracts_and_never_goes_below_zero() -> None:
    budget = Budget(5.0, 60, 45.0)
    assert budget.remaining(1.25, 10) == Budget(3.75, 50, 45.0)
    assert budget.remaining(9.0, 99) == Budget(0.0, 0, 45.0)
    assert budget.remaining() == budget


def test_capped_takes_the_smaller_dollar_amount() -> None:
    budget = Budget(5.0, 60, 45.0)
    assert budget.capped(2.0) == Budget(2.0, 60, 45.0)
    assert budget.capped(8.0) == budget
    assert budget.capped(-1.0).usd == 0.0


def test_exhausted_when_either_dollars_or_turns_are_gone() -> None:
    assert not Budget(0.01, 1, 1.0).exhausted
    assert Budget(0.0, 5, 1.0).exhausted
    assert Budget(1.0, 0, 1.0).exhausted


def test_agent_kwargs_name_the_drivers_parameters() -> None:
    assert Budget(2.0, 3, 4.0).agent_kwargs() == {"max_usd": 2.0, "max_turns": 3, "max_minutes": 4.0}
