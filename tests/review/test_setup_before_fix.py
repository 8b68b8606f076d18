"""review --fix: the base branch's `setup` prepares the fixer's clone; the PR's repo.yaml does not."""

from __future__ import annotations

from pathlib import Path

import yaml

from .conftest import BUGGY, GOOD, ScriptedClaudeReviewer, ScriptedFixer, judge_calc


def base_config(setup: list) -> str:
    return yaml.safe_dump({"profile": "t", "memory_backend": "local", "setup": setup, "checks": ["true"]})


def test_the_base_setup_runs_before_the_fixer_and_the_pr_setup_never_runs(world, tmp_path):
    world.on_main({"repo.yaml": base_config(["echo from-base > toolchain.txt"])})
    planted = tmp_path / "planted"
    number, head = world.pr("feature", {"calc.py": BUGGY, "repo.yaml": base_config([f"touch {planted}"])})
    seen: list[str] = []

    def fix(cwd: Path) -> None:
        seen.append((cwd / "toolchain.txt").read_text())
        (cwd / "calc.py").write_text(GOOD)

    out = world.review(
        str(number), reviewer=ScriptedClaudeReviewer(judge_calc), fixer=ScriptedFixer([fix]), fix=True
    )
    assert (out.status, out.verdict) == ("reviewed", "green")
    assert seen == ["from-base\n"] and not planted.exists()
    assert world.origin_file("feature", "calc.py") == GOOD
    assert world.origin_file("feature", "toolchain.txt") is None  # what setup made is never pushed


def test_a_setup_failure_stops_the_fix_loop_blocked_with_its_own_reason(world):
    world.on_main({"repo.yaml": base_config(["echo broken-index >&2; exit 4"])})
    number, head = world.pr("feature", {"calc.py": BUGGY})
    fixer = ScriptedFixer([lambda cwd: (cwd / "calc.py").write_text(GOOD)])
    out = world.review(str(number), reviewer=ScriptedClaudeReviewer(judge_calc), fixer=fixer, fix=True)
    assert out.status == "blocked" and out.reason.startswith(
        "setup failed: echo broken-index >&2; exit 4 (exit 4)"
    )
    assert "broken-index" in out.reason and fixer.calls == []
    assert world.origin_sha("feature") == head
