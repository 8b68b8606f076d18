"""The review's lease: a review killed with its lease held (a cancelled job) does not block
the next review once GitHub reports that job's workflow run finished."""

from __future__ import annotations

import pytest

from kagura_engineer.memory.lease import Holder
from kagura_engineer.memory.local import LocalMemory
from kagura_engineer.memory.savepoint import SavepointStore

from .conftest import BUGGY, ScriptedClaudeReviewer, judge_calc


def hold(world, number: int, run_id: str) -> None:
    memory = LocalMemory(world.db)
    try:
        SavepointStore(memory).acquire(f"review/acme/widgets/pr-{number}", Holder(host="gone-runner", pid=7,
                                       start_time=1, run_id=run_id, run_attempt="1"), 3600)  # fmt: skip
    finally:
        memory.close()


@pytest.mark.parametrize(
    ("status", "taken"), [("completed", True), ("in_progress", False), ("queued", False)]
)
def test_the_lease_of_a_finished_workflow_run_is_taken_over(world, status, taken):
    number, head = world.pr("feature", {"calc.py": BUGGY})
    world.github.add_workflow_run(
        4711, status=status, conclusion="cancelled" if status == "completed" else None
    )
    hold(world, number, "4711")
    reviewer = ScriptedClaudeReviewer(judge_calc)
    out = world.review(str(number), reviewer=reviewer)
    if taken:
        assert (out.status, out.verdict) == ("blocked", "red") and len(reviewer.calls) == 1
        assert [r["commit_id"] for r in world.reviews(number)] == [head]
    else:
        assert (out.status, out.exit_code) == ("busy", 2) and reviewer.calls == []
        assert "gone-runner" in out.reason and world.reviews(number) == []
    assert ("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}") in world.github.operations()
