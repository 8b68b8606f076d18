"""A green run asks GitHub each thing once."""

from __future__ import annotations

from kagura_engineer.run.loop import run_issue

from .conftest import ScriptedAgent, writes


def test_a_green_run_reads_the_issue_and_the_repository_once(world):
    ctx = world.context(ScriptedAgent([writes("hello.txt", "hi\n")]), checks=["test -f hello.txt"])
    assert run_issue(ctx).status == "shipped"
    reads = {op: n for op, n in ctx.gh.calls_by_op.items() if op in ("issues.get", "repos.get")}
    assert reads == {"issues.get": 1, "repos.get": 1}  # branch and setup share the default branch
