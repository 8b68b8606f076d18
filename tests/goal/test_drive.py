"""The sequential drive through a scripted `run` seam: order, stacking, halting, resuming,
skipping, the goal budget and the progress table."""

from __future__ import annotations

import pytest

from kagura_engineer.git import branch_name
from kagura_engineer.goal.drive import drive_goal
from kagura_engineer.goal.graph import CycleError
from kagura_engineer.goal.state import GoalState
from kagura_engineer.memory.local import LocalMemory
from kagura_engineer.memory.savepoint import Savepoint, SavepointStore

from .conftest import MILESTONE, Killed, ScriptedRuns, three_issues


def test_three_issues_run_dependencies_first_and_the_dependent_is_stacked(loose_world):
    three_issues(loose_world)
    runs = ScriptedRuns(loose_world.github)
    result = drive_goal(loose_world.context(runs))
    assert result.status == "shipped" and result.exit_code == 0 and result.halted_at is None
    assert runs.order == [3, 1, 2]
    options = {n: o for n, o in runs.calls}
    greeting = branch_name("kagura/", 3, "Add a greeting file")
    pr3 = loose_world.github.open_pulls(head=greeting)[0]["number"]
    # #1 needs #3, whose PR is open: it starts from that PR's head and targets it
    assert options[1].base == greeting and options[1].stacked_on == pr3
    assert options[3].base == "main" and options[3].stacked_on is None
    assert options[2].base == "main" and options[2].stacked_on is None
    assert all(o.run_id == "local-test" for o in options.values())
    assert [r.issue for r in result.rows] == [3, 1, 2]
    assert [r.state for r in result.rows] == ["shipped"] * 3
    assert result.rows[1].stacked_on == pr3 and result.rows[1].depends_on == [3]
    assert result.cost_usd == pytest.approx(0.3)
    assert not any(o.draft for o in options.values())


def test_a_draft_goal_opens_every_issue_as_a_draft(loose_world):
    three_issues(loose_world)
    runs = ScriptedRuns(loose_world.github)
    ctx = loose_world.context(runs)
    ctx.draft = True
    assert drive_goal(ctx).status == "shipped"
    assert len(runs.calls) == 3 and all(o.draft for _, o in runs.calls)


def test_halts_at_a_red_issue_and_a_rerun_resumes_after_it_is_fixed(loose_world):
    three_issues(loose_world)
    runs = ScriptedRuns(loose_world.github, script={1: ["blocked", "shipped"]})
    first = drive_goal(loose_world.context(runs))
    assert first.status == "blocked" and first.exit_code == 2 and first.halted_at == 1
    assert runs.order == [3, 1]  # #2 was not reached
    assert "#1 blocked: scripted blocked" in first.reason
    assert {r.issue: r.state for r in first.rows} == {3: "shipped", 1: "blocked", 2: "pending"}
    assert first.rows[1].stacked_on is not None
    assert first.rows[1].verdict == "red"

    # the issue is fixed (here: its next run ships); a re-run skips #3 and resumes at #1
    second = drive_goal(loose_world.context(runs))
    assert second.status == "shipped" and second.exit_code == 0
    assert runs.order == [3, 1, 1, 2]
    assert runs.calls[2][1].stacked_on is not None  # still stacked: #3's PR is open
    assert len(loose_world.github.open_pulls()) == 3
    # the spend carries across re-runs: 3 runs' worth, #1 counted once at its latest total
    assert second.cost_usd == pytest.approx(0.3)


def test_a_failed_issue_exits_1_and_what_was_not_reached_says_why(loose_world):
    three_issues(loose_world)
    runs = ScriptedRuns(loose_world.github, script={3: ["failed"]})
    result = drive_goal(loose_world.context(runs))
    assert result.status == "failed" and result.exit_code == 1 and result.halted_at == 3
    assert runs.order == [3]
    rows = {r.issue: r for r in result.rows}
    assert rows[1].state == "waiting" and "waits on #3" in rows[1].reason  # needs the failed one
    assert rows[2].state == "pending"  # could have run: the goal stopped first


def test_a_busy_issue_halts_as_blocked(loose_world):
    three_issues(loose_world)
    runs = ScriptedRuns(loose_world.github, script={3: ["busy"]})
    result = drive_goal(loose_world.context(runs))
    assert result.status == "blocked" and result.exit_code == 2 and result.rows[0].state == "busy"


def test_once_the_dependency_issue_is_closed_the_default_branch_is_the_base(loose_world):
    three_issues(loose_world)
    loose_world.github.issues[3]["state"] = "closed"  # #3 was merged and closed
    runs = ScriptedRuns(loose_world.github)
    result = drive_goal(loose_world.context(runs))
    assert runs.order == [1, 2]
    assert runs.calls[0][1].base == "main" and runs.calls[0][1].stacked_on is None
    assert result.closed == 1 and result.status == "shipped"
    assert [r.issue for r in result.rows] == [1, 2]


def test_a_shipped_dependency_whose_pr_was_merged_is_the_default_branch(loose_world):
    three_issues(loose_world)
    runs = ScriptedRuns(loose_world.github)
    drive_goal(loose_world.context(runs))  # everything ships once
    # #3's PR merges (closed) while the issue stays open (its savepoint says shipped)
    pr3 = loose_world.github.open_pulls(head=branch_name("kagura/", 3, "Add a greeting file"))[0]["number"]
    loose_world.github.issues[pr3]["state"] = "closed"
    # #1's PR was closed unmerged and its savepoint cleared (`savepoint clear`): it runs again
    pr1 = loose_world.github.open_pulls(head=branch_name("kagura/", 1, "Use the greeting in the banner"))[0]
    loose_world.github.issues[pr1["number"]]["state"] = "closed"
    SavepointStore(LocalMemory(loose_world.db)).clear("run/acme/widgets/issue-1")
    runs.calls.clear()
    drive_goal(loose_world.context(runs))
    assert runs.order == [1]
    assert runs.calls[0][1].base == "main" and runs.calls[0][1].stacked_on is None


def test_shipped_issues_are_skipped_by_savepoint_or_by_an_open_pr_from_our_branch(loose_world):
    three_issues(loose_world)
    # #3 shipped by an earlier run (its savepoint and PR), #2 by a matrix job (only its PR)
    b3 = branch_name("kagura/", 3, "Add a greeting file")
    loose_world.github.add_branch(b3)
    pr3 = loose_world.github.add_pull(b3, "main", "greeting")["number"]
    SavepointStore(LocalMemory(loose_world.db)).save(
        Savepoint(key="run/acme/widgets/issue-3", phase="shipped", branch=b3, verdict="yellow", cost_usd=0.42)
    )
    b2 = branch_name("kagura/", 2, "Document the banner")
    loose_world.github.add_branch(b2)
    pr2 = loose_world.github.add_pull(b2, "main", "docs")["number"]
    runs = ScriptedRuns(loose_world.github)
    result = drive_goal(loose_world.context(runs))
    assert runs.order == [1]
    assert runs.calls[0][1].stacked_on == pr3
    rows = {r.issue: r for r in result.rows}
    assert rows[3].state == "shipped" and rows[3].pr_number == pr3 and rows[3].verdict == "yellow"
    assert rows[3].cost_usd == pytest.approx(0.42)
    assert rows[2].state == "shipped" and rows[2].pr_number == pr2
    # only what this goal spent counts against its budget
    assert result.cost_usd == pytest.approx(0.1)


def test_references_outside_the_milestone(loose_world):
    loose_world.issue(1, "Needs a closed one", "Depends on #40")
    loose_world.issue(2, "Needs an open one", "Blocked by #41")
    loose_world.issue(3, "Needs a missing one", "Depends on #77")
    loose_world.issue(5, "Needs #2", "Depends on #2")
    loose_world.github.add_issue(40, "done elsewhere", state="closed")
    loose_world.github.add_issue(41, "open elsewhere", milestone="v2.0")
    runs = ScriptedRuns(loose_world.github)
    result = drive_goal(loose_world.context(runs))
    # closed outside: satisfied; missing: ignored (noted); open outside: #2 waits, and so does #5
    assert runs.order == [1, 3]
    rows = {r.issue: r for r in result.rows}
    assert rows[2].state == "waiting" and "#41" in rows[2].reason
    assert rows[5].state == "waiting" and "#2" in rows[5].reason
    assert result.status == "blocked" and result.exit_code == 2 and result.halted_at is None
    assert any("#2 depends on #41" in n and "open" in n for n in result.notes)
    assert any("#3 depends on #77" in n and "ignored" in n for n in result.notes)


def test_two_open_dependency_prs_cannot_both_be_the_base(loose_world):
    loose_world.issue(1, "Left", "")
    loose_world.issue(2, "Right", "")
    loose_world.issue(3, "Both", "Depends on #1 and #2")
    runs = ScriptedRuns(loose_world.github)
    result = drive_goal(loose_world.context(runs))
    assert runs.order == [1, 2]
    assert result.rows[2].state == "waiting" and "merge all but one" in result.rows[2].reason
    assert result.exit_code == 2


def test_a_cycle_stops_before_anything_runs(loose_world):
    loose_world.issue(1, "A", "depends on #2")
    loose_world.issue(2, "B", "- [ ] #1")
    runs = ScriptedRuns(loose_world.github)
    with pytest.raises(CycleError) as err:
        drive_goal(loose_world.context(runs))
    assert "#1 → #2 → #1" in err.value.message and runs.calls == []


def _remember_cost(db, title: str, cost: float, n: int) -> None:
    LocalMemory(db).remember(
        f"Shipped #{n}: {title}", f"Issue #{n} shipped", "outcome", tags=("kagura-run", f"issue-{n}", "shipped"),
        details={"cost_usd": cost, "turns": 3, "issue": n}, external_id=f"past/{n}",
    )  # fmt: skip


def test_the_goal_stops_before_the_projected_spend_would_pass_its_budget(loose_world):
    three_issues(loose_world)
    for i, title in enumerate(["Add a greeting file", "Use the greeting in the banner", "Document the banner"]):
        _remember_cost(loose_world.db, title, 0.4, 100 + i)
    runs = ScriptedRuns(loose_world.github, cost_usd=0.4)
    result = drive_goal(loose_world.context(runs, budget={"max_usd": 5.0, "max_usd_per_goal": 1.0}))
    # 0 + 0.4 and 0.4 + 0.4 fit in $1; 0.8 + 0.4 would not: stop before the third, blocked
    assert runs.order == [3, 1]
    assert result.status == "blocked" and result.exit_code == 2 and result.halted_at == 2
    assert "max_usd_per_goal" in result.reason and "$0.80" in result.reason and "$0.40" in result.reason
    assert result.rows[2].state == "blocked"
    # raising the budget lets a re-run finish; what was spent still counts
    runs2 = ScriptedRuns(loose_world.github, cost_usd=0.4)
    again = drive_goal(loose_world.context(runs2, budget={"max_usd": 5.0, "max_usd_per_goal": 2.0}))
    assert runs2.order == [2] and again.status == "shipped" and again.cost_usd == pytest.approx(1.2)


def test_with_no_history_the_projection_is_the_per_run_budget(loose_world):
    three_issues(loose_world)
    runs = ScriptedRuns(loose_world.github)
    result = drive_goal(loose_world.context(runs, budget={"max_usd": 3.0, "max_usd_per_goal": 2.5}))
    assert runs.calls == [] and result.halted_at == 3
    assert "no similar past runs" in result.reason and "$3.00" in result.reason


def test_progress_goes_to_the_step_summary_and_one_sticky_comment(loose_world, tmp_path):
    three_issues(loose_world)
    loose_world.github.add_issue(50, "Tracking: v1.0")
    summary = tmp_path / "summary.md"
    runs = ScriptedRuns(loose_world.github, script={1: ["blocked", "shipped"]})
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    drive_goal(loose_world.context(runs, environ=env, goal={"tracking_issue": 50}))
    text = summary.read_text()
    assert "| #3 | Add a greeting file | ✅ shipped |" in text
    assert "⛔ blocked" in text and "| #2 | Document the banner | ⬜ pending |" in text
    assert "To resume" in text
    comments = loose_world.github.issue_comments(50)
    assert len(comments) == 1 and "<!-- kagura:goal/acme/widgets/v1.0 -->" in comments[0]["body"]
    assert "⛔ blocked" in comments[0]["body"]
    drive_goal(loose_world.context(runs, environ=env, goal={"tracking_issue": 50}))
    comments = loose_world.github.issue_comments(50)
    assert len(comments) == 1 and "**Status:** ✅ shipped" in comments[0]["body"]
    assert "3 of 3 open issues shipped" in comments[0]["body"]


def test_untrusted_titles_cannot_break_the_table_or_ping_people(loose_world, tmp_path):
    loose_world.issue(1, "Evil | col <script>x</script> @octocat ghs_abcdefghijklmnopqrstuvwxyz0123456789", "")
    summary = tmp_path / "summary.md"
    drive_goal(loose_world.context(ScriptedRuns(loose_world.github), environ={"GITHUB_STEP_SUMMARY": str(summary)}))
    row = next(line for line in summary.read_text().splitlines() if line.startswith("| #1 "))
    assert row.count(" | ") == 6  # seven cells, the title's pipe escaped
    assert "<script>" not in row and "@octocat" not in row and "ghs_abcdefghijklmnop" not in row


def test_a_second_goal_job_on_the_same_milestone_is_busy(loose_world):
    from kagura_engineer.errors import BusyError
    from kagura_engineer.memory.lease import Holder

    three_issues(loose_world)
    ctx = loose_world.context(ScriptedRuns(loose_world.github))
    other = Holder(host=Holder.current().host, pid=1, start_time=None, run_id="999")  # pid 1 is alive
    SavepointStore(LocalMemory(loose_world.db)).acquire(ctx.key, other, 3600)
    with pytest.raises(BusyError):
        drive_goal(ctx)


def test_the_goal_savepoint_key_is_a_slug_of_the_milestone(loose_world):
    loose_world.github.add_milestone("Sprint 12 / Q3")
    loose_world.issue(1, "x", milestone="Sprint 12 / Q3")
    ctx = loose_world.context(ScriptedRuns(loose_world.github), milestone="Sprint 12 / Q3")
    result = drive_goal(ctx)
    assert result.savepoint == "goal/acme/widgets/sprint-12-q3"
    sp = SavepointStore(LocalMemory(loose_world.db)).load(result.savepoint, GoalState)
    assert sp.phase == "shipped" and sp.data.results["1"]["state"] == "shipped"
    assert sp.lease is None  # released
    assert MILESTONE not in sp.data.milestone


def test_a_kill_between_an_issue_shipping_and_the_goal_recording_it_counts_its_cost_once(loose_world):
    three_issues(loose_world)
    runs = ScriptedRuns(loose_world.github, kill_after={1})
    with pytest.raises(Killed):
        drive_goal(loose_world.context(runs))
    sp = SavepointStore(LocalMemory(loose_world.db)).load("goal/acme/widgets/v1.0", GoalState)
    assert sp.data.current == 1 and set(sp.data.results) == {"3"}
    runs.kill_after.clear()
    result = drive_goal(loose_world.context(runs))
    assert runs.order == [3, 1, 2]  # #1 not driven again
    assert result.status == "shipped" and result.cost_usd == pytest.approx(0.3)
    assert len(loose_world.github.open_pulls()) == 3
