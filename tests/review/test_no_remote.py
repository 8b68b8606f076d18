"""`review` where git cannot fetch: git's whole message, redacted, and what to do about it."""

from __future__ import annotations

import pytest

from conftest import git
from kagura_engineer.cli import main


@pytest.fixture
def review_cli(tmp_path, monkeypatch):
    """The CLI with what `review` needs before it starts (claude and a key), cwd set by the test."""
    claude = tmp_path / "claude-never-run"
    claude.write_text("#!/bin/sh\nexit 1\n")
    claude.chmod(0o755)
    monkeypatch.setenv("KAGURA_CLAUDE_BIN", str(claude))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-" + "r" * 30)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no kagura-code-reviewer


def test_a_checkout_without_origin_shows_gits_whole_message_and_a_hint(
    git_repo, review_cli, capsys, monkeypatch
):
    git(git_repo, "remote", "remove", "origin")
    monkeypatch.chdir(git_repo)
    assert main(["review"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        "error[git]: git fetch failed: fatal: 'origin' does not appear to be a git repository "
        "fatal: Could not read from remote repository. Please make sure you have the correct access rights "
        "and the repository exists."
    )
    assert err[1] == (
        "  hint: this checkout has no `origin` remote: review from a clone of the GitHub repository "
        "(or add it: git remote add origin <url>)"
    )


def test_an_unreachable_origin_is_named_with_another_hint(
    git_repo, review_cli, tmp_path, capsys, monkeypatch
):
    git(git_repo, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    monkeypatch.chdir(git_repo)
    assert main(["review"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(
        f"error[git]: git fetch failed: fatal: '{tmp_path / 'gone.git'}' does not appear"
    )
    assert err[1] == "  hint: check that origin is reachable and the branch exists there: git fetch origin"
