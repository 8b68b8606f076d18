"""`kagura-engineer goal` through the CLI, for the paths that need no model: nothing left
to drive, a cycle, the wrong place to run."""

from __future__ import annotations

import json
import subprocess

from kagura_engineer import cli
from kagura_engineer.git import branch_name

from .conftest import MILESTONE, three_issues


def _ship_by_pr(world, number: int, title: str) -> int:
    branch = branch_name("kagura/", number, title)
    subprocess.run(["git", "push", "-q", "origin", f"HEAD:refs/heads/{branch}"], cwd=world.repo, check=True)
    return world.github.add_pull(branch, "main", f"{title} (#{number})")["number"]


def test_nothing_left_to_drive_exits_0_and_lists_every_issue(world, cli_env, capsys, tmp_path, monkeypatch):
    config, _ = cli_env
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    world.issue(1, "Add a greeting file")
    world.issue(2, "Document the banner", "Depends on #1")
    world.github.add_issue(3, "An old one", state="closed", milestone=MILESTONE)
    pr1 = _ship_by_pr(world, 1, "Add a greeting file")
    pr2 = _ship_by_pr(world, 2, "Document the banner")
    assert cli.main(["goal", MILESTONE, "-c", str(config)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"#1 shipped PR #{pr1}" in captured.err and f"#2 shipped PR #{pr2}" in captured.err
    assert "shipped: goal v1.0 — 2 of 2 open issues shipped, $0.00 spent" in captured.err
    assert "2 of 2 open issues shipped · 1 closed" in summary.read_text()


def test_json_reports_one_object(world, cli_env, capsys):
    config, _ = cli_env
    world.issue(1, "Add a greeting file")
    pr1 = _ship_by_pr(world, 1, "Add a greeting file")
    assert cli.main(["goal", MILESTONE, "--json", "-c", str(config)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "shipped" and data["milestone"] == MILESTONE and data["halted_at"] is None
    assert data["issues"] == [{
        "issue": 1, "title": "Add a greeting file", "state": "shipped", "pr_number": pr1,
        "pr_url": f"{world.github.server_url}/acme/widgets/pull/{pr1}", "verdict": None, "cost_usd": None,
        "depends_on": [], "stacked_on": None, "reason": "",
    }]  # fmt: skip
    assert data["cost_usd"] == 0 and data["savepoint"] == "goal/acme/widgets/v1.0"


def test_a_cycle_exits_2_naming_it(world, cli_env, capsys):
    config, _ = cli_env
    world.issue(1, "A", "Depends on #2")
    world.issue(2, "B", "- [ ] #1")
    assert cli.main(["goal", MILESTONE, "--json", "-c", str(config)]) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)["error"]["code"] == "goal-cycle"
    assert "#1 → #2 → #1" in captured.err
    assert world.github.open_pulls() == []


def test_driving_needs_a_checkout(world, cli_env, capsys, monkeypatch, tmp_path):
    config, _ = cli_env
    three_issues(world)
    elsewhere = tmp_path / "not-a-repo"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert cli.main(["goal", MILESTONE, "-c", str(config)]) == 2
    assert "not inside a git checkout" in capsys.readouterr().err
    # planning reads GitHub only: it works from anywhere
    assert cli.main(["goal", MILESTONE, "--plan", "-c", str(config)]) == 0
    assert [e["issue"] for e in json.loads(capsys.readouterr().out)["include"]] == [3, 2]
