"""`goal` end to end with the real claude binary: a milestone of three issues, one depending
on another, driven in dependency order, the dependent PR stacked on its dependency's branch;
a red issue halts the goal and a re-run resumes after it is fixed."""

from __future__ import annotations

import re
import subprocess

import pytest

from kagura_engineer.demo.anthropic import report, write

pytestmark = pytest.mark.e2e


def implement_the_issue(body, cwd):
    """The scripted model: write issue-<N>.txt for the issue named in the prompt, then report."""
    first = str(body["messages"][0]["content"])
    number = re.search(r"Implement GitHub issue #(\d+)", first).group(1)
    done = sum(1 for m in body["messages"] if m.get("role") == "assistant")
    if done == 0:
        return write(f"{cwd}/issue-{number}.txt", f"done {number}\n")
    return report("done", f"Implemented #{number}", [f"issue-{number}.txt"])


def milestone(e2e):
    gh = e2e.github
    gh.issues.pop(7, None)  # the fixture's issue is not part of this milestone
    gh.add_milestone("v1")
    gh.add_issue(1, "Base feature", "The base.", milestone="v1")
    gh.add_issue(2, "Builds on the base", "Depends on #1", milestone="v1")
    gh.add_issue(3, "Independent work", "Nothing else needed.", milestone="v1", labels=["P3"])


def test_goal_drives_in_order_and_stacks_the_dependent_pr(e2e):
    milestone(e2e)
    e2e.model.set_script([implement_the_issue])
    e2e.write_config(checks=["ls issue-*.txt"])
    job = e2e.run("goal", "v1", timeout=300)
    assert job.returncode == 0 and job.out["status"] == "shipped", job.stdout[-3000:] + job.stderr[-3000:]
    order = [row["issue"] for row in job.out["issues"]]
    assert order.index(1) < order.index(2)
    pulls = {p["head_ref"]: p for p in e2e.github.open_pulls()}
    assert len(pulls) == 3
    dependent = next(p for ref, p in pulls.items() if ref.startswith("kagura/2-"))
    assert dependent["base_ref"].startswith("kagura/1-")  # stacked on #1's open PR
    assert e2e.origin_file(dependent["head_ref"], "issue-1.txt") == "done 1\n"  # builds on #1's code


def test_a_red_issue_halts_the_goal_and_a_rerun_resumes_after_the_fix(e2e, tmp_path):
    milestone(e2e)
    e2e.model.set_script([implement_the_issue])
    e2e.write_config(checks=["test ! -f issue-2.txt || grep -q fixed issue-2.txt"], retries=0)
    first = e2e.run("goal", "v1", timeout=300)
    assert first.returncode == 2 and first.out["status"] == "blocked", first.stderr[-2000:]
    assert first.out["halted_at"] == 2
    assert not any(p["head_ref"].startswith("kagura/2-") for p in e2e.github.open_pulls())
    branch = next(b for b in e2e.origin_branches() if b.startswith("kagura/2-"))
    clone = tmp_path / "person"
    subprocess.run(["git", "clone", "-q", "-b", branch, str(e2e.origin), str(clone)], check=True)
    (clone / "issue-2.txt").write_text("fixed\n")
    subprocess.run(["git", "-c", "user.name=p", "-c", "user.email=p@x", "commit", "-qam", "fix"], cwd=clone, check=True)
    subprocess.run(["git", "push", "-q"], cwd=clone, check=True)
    second = e2e.run("goal", "v1", timeout=300)
    assert second.returncode == 0 and second.out["status"] == "shipped", second.stderr[-2000:]
    assert len(e2e.github.open_pulls()) == 3
    for number in (1, 2, 3):
        assert len(e2e.github.issue_comments(number)) == 1
