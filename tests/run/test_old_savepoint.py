"""A savepoint written by the untyped version (a free `data` dict) resumes with this one."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from kagura_engineer.memory.local import LocalMemory
from kagura_engineer.run.loop import run_issue

from .conftest import ScriptedAgent, writes

CHECK = "test -f hello.txt && grep -q hi hello.txt"  # the check the fixture's run had
FIXTURE = Path(__file__).parents[1] / "memory" / "data" / "savepoints" / "v1-run-halted.json"


def test_an_old_red_savepoint_resumes_after_a_person_pushed_the_fix(world, tmp_path):
    red = ScriptedAgent([writes("hello.txt", "nope\n")])
    first = run_issue(world.context(red, checks=[CHECK], retries=0))
    assert first.status == "blocked"
    key = "run/acme/widgets/issue-7"
    memory = LocalMemory(world.db)
    ours = memory.get_state("savepoint:" + key)
    # the old version's savepoint for this red run: its shape, this world's commits and memory ids
    old = json.loads(FIXTURE.read_text(encoding="utf-8"))
    for name in ("base_sha", "head_sha", "branch"):
        old[name] = ours[name]
    old["data"].update(checks_head=ours["head_sha"], failure_memory=ours["data"]["failure_memory"],
                       memories=ours["data"]["memories"])  # fmt: skip
    old["data"]["from_a_later_version"] = {"kept": True}
    memory.set_state("savepoint:" + key, old)
    memory.close()
    clone = tmp_path / "person"
    subprocess.run(["git", "clone", "-q", "-b", first.branch, str(world.origin), str(clone)], check=True)
    (clone / "hello.txt").write_text("hi\n")
    subprocess.run(["git", "commit", "-qam", "fix greeting"], cwd=clone, check=True)
    subprocess.run(["git", "push", "-q", "origin", first.branch], cwd=clone, check=True)

    agent = ScriptedAgent([writes("other.txt", "should not run\n")])
    second = run_issue(world.context(agent, checks=[CHECK], retries=0))
    assert second.status == "shipped" and second.verdict == "green"
    assert second.resumed_from == "halted" and agent.calls == []
    assert len(world.pulls()) == 1
    memory = LocalMemory(world.db)
    stored = memory.get_state("savepoint:" + key)
    memory.close()
    assert stored["phase"] == "shipped" and stored["data"]["from_a_later_version"] == {"kept": True}
    assert stored["data"]["done"]["pr"] is True and stored["data"]["pr_url"] == second.pr_url
