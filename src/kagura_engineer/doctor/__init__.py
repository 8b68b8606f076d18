"""doctor: isolated checks run concurrently, each answering OK, WARN, FAIL or SKIPPED.

`diagnose(config)` is the programmatic entry (the Action's `doctor` intent uses it);
`kagura-engineer doctor` prints its report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kagura_engineer.config import Config
    from kagura_engineer.doctor.model import Report


def diagnose(config: Config, timeout: float | None = None) -> Report:
    """Run every check that applies here (Action-mode ones when GITHUB_ACTIONS=true)."""
    from kagura_engineer.doctor.context import DoctorContext
    from kagura_engineer.doctor.registry import checks_for
    from kagura_engineer.doctor.runner import run_checks

    ctx = DoctorContext(config)
    return run_checks(checks_for(ctx), ctx, timeout=timeout)
