"""Crash matrix: kill -9 the job (its whole process tree) on the k-th GitHub request and on
the k-th model request, for every k of a green run, then re-run to completion.

Whatever instant the job died at, the re-run must end shipped with exactly one branch, one
PR, one progress comment and each memory written once: every phase asks the world before
acting, and a write whose reply the killed job never saw is found instead of repeated.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from kagura_engineer.demo.anthropic import AnthropicStandIn, report, write
from kagura_engineer.demo.github import GitHubStandIn

from .conftest import E2E, TOKEN, claude_binary

pytestmark = pytest.mark.e2e
CHECK = "grep -q hi hello.txt"
SCRIPT = [write("{CWD}/hello.txt", "hi\n"), report("done", "Added hello.txt", ["hello.txt"])]


def make_world(root: Path, binary: str, github: GitHubStandIn, model: AnthropicStandIn) -> E2E:
    origin, work = root / "origin.git", root / "work"
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    (work / "README.md").write_text("# widgets\n")
    for args in (["add", "README.md"], ["commit", "-qm", "init"], ["remote", "add", "origin", str(origin)],
                 ["push", "-q", "-u", "origin", "main"]):  # fmt: skip
        subprocess.run(["git", *args], cwd=work, check=True)
    claude_home = root / "claude"
    (claude_home / "tmp").mkdir(parents=True)
    env = {
        "PATH": os.environ["PATH"], "HOME": os.environ["HOME"], "LANG": "C.UTF-8",
        "NO_PROXY": "127.0.0.1,localhost", **github.env(), **model.env(), "KAGURA_CLAUDE_BIN": binary,
        "CLAUDE_CONFIG_DIR": str(claude_home), "CLAUDE_CODE_TMPDIR": str(claude_home / "tmp"),
        "GIT_AUTHOR_NAME": "e2e", "GIT_AUTHOR_EMAIL": "e2e@example.com",
        "GIT_COMMITTER_NAME": "e2e", "GIT_COMMITTER_EMAIL": "e2e@example.com",
    }  # fmt: skip
    world = E2E(work, origin, github, model, env, root / "repo.yaml", root)
    world.write_config(checks=[CHECK])
    return world


def memories(world: E2E) -> list[tuple[str, str]]:
    with sqlite3.connect(world.tmp / "memory.db") as conn:
        return conn.execute("SELECT type, summary FROM memories ORDER BY type").fetchall()


def assert_shipped_once(world: E2E, label: str) -> None:
    job = world.run("run", "7")
    assert job.returncode == 0 and job.out["status"] == "shipped", f"{label}: {job.stderr[-2000:]}"
    branches = world.origin_branches()
    assert sorted(branches) == ["kagura/7-add-a-greeting-file", "main"], f"{label}: {branches}"
    assert world.origin_file("kagura/7-add-a-greeting-file", "hello.txt") == "hi\n", label
    assert len(world.github.open_pulls()) == 1, f"{label}: {world.github.open_pulls()}"
    assert len(world.github.issue_comments(7)) == 1, f"{label}: {world.github.issue_comments(7)}"
    kinds = [kind for kind, _ in memories(world)]
    assert kinds.count("outcome") == 1 and "failure" not in kinds, f"{label}: {memories(world)}"


def crash_then_rerun(tmp_path: Path, name: str, server: str, k: int, when: str) -> bool:
    """Kill on the k-th request to `server`; False when the run finished before reaching it."""
    binary = claude_binary()
    with GitHubStandIn(token=TOKEN, repo_path=tmp_path / name / "origin.git") as github, AnthropicStandIn(SCRIPT) as model:
        github.add_issue(7, "Add a greeting file", "Please add hello.txt containing the word hi.")
        world = make_world(tmp_path / name, binary, github, model)
        child = world.start("run", "7")
        target = github if server == "github" else model
        target.kill_on(k, child.pid, when=when, tree=True)
        child.communicate(timeout=120)
        if target.killed_at is None:
            return False
        target.disarm()
        assert_shipped_once(world, f"{name} ({server} request {k}, {when})")
        return True


@pytest.mark.parametrize("server", ["github", "model"])
def test_kill_at_every_request_then_rerun(tmp_path, server):
    killed = 0
    for k in range(1, 60):
        when = "after" if k % 2 else "before"
        if not crash_then_rerun(tmp_path, f"{server}-{k}", server, k, when):
            break
        killed += 1
        if when == "after" and crash_then_rerun(tmp_path, f"{server}-{k}-before", server, k, "before"):
            killed += 1
    assert killed >= (8 if server == "github" else 2), f"only {killed} kill points reached"
