"""`.kagura/` never shows in `git status`: the first write there adds it to info/exclude."""

from __future__ import annotations

from conftest import git
from kagura_engineer.cli import main
from kagura_engineer.scratch import exclude_scratch


def test_memory_remember_leaves_git_status_clean(git_repo, capsys, monkeypatch):
    (git_repo / "repo.yaml").write_text("profile: widgets\n")  # nothing else: local memory
    git(git_repo, "add", "repo.yaml")
    git(git_repo, "commit", "-q", "-m", "config")
    monkeypatch.chdir(git_repo)
    assert main(["memory", "remember", "--summary", "Run ruff before pushing", "--type", "lesson"]) == 0
    assert (git_repo / ".kagura" / "memory.db").is_file()
    assert git(git_repo, "status", "--porcelain") == ""
    assert main(["memory", "recall", "ruff", "--json"]) == 0
    assert "Run ruff before pushing" in capsys.readouterr().out
    exclude = (git_repo / ".git" / "info" / "exclude").read_text().splitlines()
    assert exclude.count("/.kagura/") == 1  # once, however many opens


def test_a_linked_worktree_excludes_in_the_common_git_dir(git_repo, tmp_path):
    tree = tmp_path / "linked"
    git(git_repo, "worktree", "add", "-q", str(tree), "-b", "side")
    assert exclude_scratch(tree / ".kagura" / "memory.db") == "/.kagura/"
    (tree / ".kagura").mkdir()
    (tree / ".kagura" / "memory.db").write_text("x")
    assert git(tree, "status", "--porcelain") == ""
    assert "/.kagura/" in (git_repo / ".git" / "info" / "exclude").read_text().splitlines()


def test_a_nested_scratch_dir_gets_its_own_path_and_an_unterminated_file_is_respected(git_repo):
    exclude = git_repo / ".git" / "info" / "exclude"
    exclude.write_text("*.log")  # no newline at the end
    assert exclude_scratch(git_repo / "pkg" / ".kagura" / "memory.db") == "/pkg/.kagura/"
    assert exclude.read_text() == "*.log\n/pkg/.kagura/\n"


def test_outside_a_checkout_or_outside_kagura_nothing_is_written(git_repo, tmp_path):
    assert exclude_scratch(tmp_path / "elsewhere" / ".kagura" / "memory.db") is None
    assert exclude_scratch(git_repo / "data" / "memory.db") is None
    assert ".kagura" not in (git_repo / ".git" / "info" / "exclude").read_text()
    assert git(git_repo, "status", "--porcelain") == ""
