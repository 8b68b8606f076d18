"""The default seam: the real `run_issue` phase machine per issue (real git with a bare origin,
the GitHub stand-in checking PR branches against it, a real local store), with a scripted
agent function that writes a file in the worktree."""

from __future__ import annotations

import subprocess

import pytest

from kagura_engineer.git import branch_name
from kagura_engineer.goal.drive import drive_goal
from kagura_engineer.memory.local import LocalMemory

from .conftest import FileAgent, three_issues

CHECK = "ls issue-*.txt >/dev/null && ! grep -q nope issue-*.txt"
B3 = branch_name("kagura/", 3, "Add a greeting file")
B1 = branch_name("kagura/", 1, "Use the greeting in the banner")
B2 = branch_name("kagura/", 2, "Document the banner")


def test_one_pr_per_issue_with_the_dependent_stacked_on_its_dependency(world):
    three_issues(world)
    agent = FileAgent()
    result = drive_goal(world.context(agent=agent, checks=[CHECK], retries=0))
    assert result.status == "shipped" and result.exit_code == 0
    assert agent.issues == [3, 1, 2]
    pulls = {p["head"]["ref"]: p for p in world.pulls()}
    assert set(pulls) == {B3, B1, B2}
    pr3 = pulls[B3]["number"]
    # #1 branched from #3's head and targets it; the others target main
    assert pulls[B1]["base"]["ref"] == B3 and pulls[B3]["base"]["ref"] == "main" and pulls[B2]["base"]["ref"] == "main"
    assert f"Stacked on #{pr3}" in pulls[B1]["body"] and "Closes #1" in pulls[B1]["body"]
    # dependent work builds on the code it needs: #1's worktree already had #3's file
    assert agent.calls[1]["found"] == ["issue-3.txt"]
    assert world.origin_file(B1, "issue-3.txt") == "ok\n" and world.origin_file(B2, "issue-3.txt") is None
    rows = {r.issue: r for r in result.rows}
    assert rows[1].stacked_on == pr3 and rows[1].pr_number == pulls[B1]["number"] and rows[1].verdict == "green"
    assert result.cost_usd == pytest.approx(0.15)
    for n in (1, 2, 3):  # each issue's own sticky progress comment, once
        assert len(world.github.issue_comments(n)) == 1
    # each shipped run left the outcome memory the next goal's projection reads
    outcomes = [m for m in LocalMemory(world.db).recall("greeting banner", k=10) if m.type == "outcome"]
    assert len(outcomes) == 3 and all(m.details["cost_usd"] == 0.05 for m in outcomes)


def test_a_red_issue_halts_and_a_rerun_after_a_person_fixes_it_ships_the_rest(world, tmp_path):
    three_issues(world)
    agent = FileAgent(content={1: "nope"})
    first = drive_goal(world.context(agent=agent, checks=[CHECK], retries=0))
    assert first.status == "blocked" and first.exit_code == 2 and first.halted_at == 1
    assert agent.issues == [3, 1]
    assert {p["head"]["ref"] for p in world.pulls()} == {B3}  # red: work pushed, no PR
    assert world.origin_file(B1, "issue-1.txt") == "nope\n"

    # a person fixes #1's branch on origin
    clone = tmp_path / "person"
    subprocess.run(["git", "clone", "-q", "-b", B1, str(world.origin), str(clone)], check=True)
    (clone / "issue-1.txt").write_text("ok\n")
    subprocess.run(["git", "commit", "-qam", "fix the banner"], cwd=clone, check=True)
    subprocess.run(["git", "push", "-q", "origin", B1], cwd=clone, check=True)

    second = drive_goal(world.context(agent=agent, checks=[CHECK], retries=0))
    assert second.status == "shipped" and second.exit_code == 0
    assert agent.issues == [3, 1, 2]  # #1 resumed without a model call; #3 skipped; #2 driven
    pulls = {p["head"]["ref"]: p for p in world.pulls()}
    assert set(pulls) == {B3, B1, B2} and pulls[B1]["base"]["ref"] == B3
    assert len(world.github.issue_comments(1)) == 1
