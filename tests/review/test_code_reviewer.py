"""The real `kagura-code-reviewer` (0.4.0) against the loopback Ollama stand-in: its own
agent loop calls `/api/chat`, reads files from the worktree through its tools, and writes
the envelope; the command reads it, posts it and gates on it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from kagura_engineer import cli
from kagura_engineer.review.reviewer import CodeReviewer
from support.ollama import FileReviewer, OllamaStandIn, Rule

from .conftest import BUG_TITLE, BUGGY, GOOD, ScriptedFixer, git, reviewer_binary, writes

RULES = [Rule(r"/ 0$", BUG_TITLE, rationale="sum(xs) / 0 always raises ZeroDivisionError")]


@pytest.fixture
def kcr(world, tmp_path, monkeypatch, agent_dir):
    """PATH with the reviewer on it, its config pointing at an Ollama stand-in; yields the stand-in.

    Both live where the agent user (who runs the reviewer when tests are root) can reach them."""
    binary = reviewer_binary()
    bindir = agent_dir / "bin"
    bindir.mkdir(mode=0o755)
    (bindir / "kagura-code-reviewer").symlink_to(binary)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    with OllamaStandIn(reply=FileReviewer("calc.py", RULES)) as ollama:
        config = ollama.write_reviewer_config(agent_dir / "kcr" / "config.toml")
        config.parent.chmod(0o755)
        monkeypatch.setenv("KAGURA_CODE_REVIEWER_CONFIG", str(config))
        for key, value in world.github.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.chdir(world.repo)
        (tmp_path / "repo.yaml").write_text(json.dumps(
            {"profile": "test", "memory_backend": "local", "local_memory_path": str(world.db)}))  # fmt: skip
        yield ollama


def cli_review(tmp_path, capsys, *args: str) -> tuple[int, dict]:
    code = cli.main(["review", *args, "-c", str(tmp_path / "repo.yaml"), "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_planted_bug_is_red_with_findings_posted_on_the_pr(world, kcr, tmp_path, capsys):
    from kagura_engineer.memory.local import LocalMemory

    memory = LocalMemory(world.db)
    memory.remember("calc average must guard empty lists", "Average helper crashed on [] in March.", "failure")
    memory.close()
    number, head = world.pr("feature", {"calc.py": BUGGY})
    code, out = cli_review(tmp_path, capsys, str(number))
    assert code == 2 and out["status"] == "blocked" and out["verdict"] == "red"
    assert out["reviewer"] == "kagura-code-reviewer" and out["blocking"] == 1 and out["head_sha"] == head
    assert any("sum(xs) / 0" in text for text in kcr.reply.reads)  # it read the file from the worktree
    # recalled memory went in through --context-file, fenced by the reviewer as untrusted
    first = kcr.chat_requests()[0].json()["messages"][1]["content"]
    assert "UNTRUSTED MEMORY CONTEXT" in first and "Average helper crashed on [] in March." in first
    reviews = world.reviews(number)
    assert len(reviews) == 1 and reviews[0]["commit_id"] == head
    [comment] = world.review_comments(number)
    assert (comment["path"], comment["line"], comment["commit_id"]) == ("calc.py", 2, head)
    assert BUG_TITLE in comment["body"]
    report = json.loads((world.repo / ".kagura" / "review.json").read_text())
    assert report["schema_version"] == 1 and report["verdict"] == "red" and report["findings"][0]["line"] == 2


def test_empty_diff_is_green_without_asking_the_model(world, kcr, tmp_path, capsys):
    git(world.repo, "checkout", "-q", "-b", "nothing-new")
    code, out = cli_review(tmp_path, capsys, "nothing-new")
    assert code == 0 and out["verdict"] == "green" and out["findings"] == 0
    assert kcr.chat_requests() == []
    assert json.loads((world.repo / ".kagura" / "review.json").read_text())["verdict"] == "green"


def test_unreachable_backend_is_could_not_review_and_never_fixed(world, kcr, tmp_path):
    number, head = world.pr("feature", {"calc.py": BUGGY})
    kcr.stop()  # its config still names this port, where nothing listens any more: refused
    fixer = ScriptedFixer([writes("calc.py", GOOD)])
    out = world.review(str(number), reviewer=CodeReviewer(reviewer_binary()), fixer=fixer, fix=True)
    assert (out.status, out.verdict, out.exit_code) == ("failed", None, 1)
    assert "unreachable (exit 3)" in out.reason
    assert fixer.calls == [] and world.reviews(number) == [] and world.commits(head, "feature") == 0
    assert not (world.repo / ".kagura" / "review.json").exists()


def test_incomplete_review_is_could_not_review(world, kcr, tmp_path):
    number, _ = world.pr("feature", {"calc.py": BUGGY})
    kcr.garbage = True  # every finder fails on a non-JSON answer: "Review incomplete"
    out = world.review(str(number), reviewer=CodeReviewer(reviewer_binary()), fix=True)
    assert (out.verdict, out.exit_code) == (None, 1) and "incomplete" in out.reason
    rejected = json.loads((world.repo / ".kagura" / "review.rejected.json").read_text())
    assert rejected["summary"]["incomplete"] is True and rejected["verdict"] == "red"
    assert world.reviews(number) == []


def test_fix_loop_with_the_real_reviewer(world, kcr, tmp_path):
    number, head = world.pr("feature", {"calc.py": BUGGY})
    fixer = ScriptedFixer([writes("calc.py", GOOD)])
    out = world.review(str(number), reviewer=CodeReviewer(reviewer_binary()), fixer=fixer, fix=True)
    assert (out.verdict, out.exit_code, out.loops) == ("green", 0, 1)
    fixed = world.origin_sha("feature")
    assert world.commits(head, "feature") == 1 and world.origin_file("feature", "calc.py") == GOOD
    assert [(r["commit_id"], "red" in r["body"]) for r in world.reviews(number)] == [(head, True), (fixed, False)]


def test_killed_after_posting_then_rerun_posts_no_second_review(world, kcr, tmp_path):
    """kill -9 right after GitHub accepted the review, before the savepoint recorded it."""
    number, head = world.pr("feature", {"calc.py": BUGGY})
    env = {**os.environ}
    cmd = [sys.executable, "-m", "kagura_engineer", "review", str(number), "-c", str(tmp_path / "repo.yaml"), "--json"]
    child = None

    def kill_after_this_reply(req) -> None:
        world.github.kill_on(0, child.pid, when="after", tree=True)

    world.github.before("POST", r"/pulls/\d+/reviews$", kill_after_this_reply)
    child = subprocess.Popen(cmd, cwd=world.repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)  # fmt: skip
    try:
        child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    assert child.returncode == -signal.SIGKILL
    assert len(world.reviews(number)) == 1
    rerun = subprocess.run(cmd, cwd=world.repo, env=env, capture_output=True, text=True, timeout=120)
    out = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert rerun.returncode == 2 and out["verdict"] == "red" and out["posted"] is False
    assert len(world.reviews(number)) == 1
    marker = f"<!-- kagura:review/acme/widgets/pr-{number} -->"
    assert len([c for c in world.github.issue_comments(number) if marker in c["body"]]) == 1


def test_reviewer_never_gets_github_or_model_tokens(world, kcr, tmp_path, monkeypatch, agent_dir):
    """It runs with HOME and its config variable, never GITHUB_TOKEN or OLLAMA_HOST."""
    from agentspace import AGENT_PYTHON

    spy = agent_dir / "spy"
    spy.mkdir(mode=0o755)
    script = spy / "kagura-code-reviewer"
    script.write_text(f"#!{AGENT_PYTHON}\nimport json, os, sys\n"
                      f"json.dump(dict(os.environ), open({str(agent_dir / 'env.json')!r}, 'w'))\n"
                      "print('No changes to review.')\n")  # fmt: skip
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{spy}{os.pathsep}/usr/bin{os.pathsep}/bin")
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:1")
    number, _ = world.pr("feature", {"calc.py": BUGGY})
    cli.main(["review", str(number), "-c", str(tmp_path / "repo.yaml"), "--json"])
    seen = json.loads((agent_dir / "env.json").read_text())
    assert seen["KAGURA_CODE_REVIEWER_CONFIG"] == os.environ["KAGURA_CODE_REVIEWER_CONFIG"]
    if os.geteuid() == 0:  # it runs as the agent user, in that user's own home
        assert seen["USER"] == "kagura-agent" and seen["HOME"].startswith(os.environ["KAGURA_AGENT_ROOT"])
    else:
        assert seen["HOME"] == os.environ["HOME"]
    for secret in ("GITHUB_TOKEN", "GH_TOKEN", "OLLAMA_HOST", "ANTHROPIC_API_KEY"):
        assert secret not in seen
