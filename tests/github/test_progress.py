"""The sticky progress comment: pure rendering, throttled in-place edits, the step summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from kagura_engineer.demo.github import GitHubStandIn
from kagura_engineer.github.client import GitHub
from kagura_engineer.github.progress import (
    COMMENT_LIMIT,
    ProgressComment,
    ProgressState,
    marker,
    render,
    render_summary,
    write_step_summary,
)
from kagura_engineer.jobkey import JobKey
from kagura_engineer.proc import register_secret
from kagura_engineer.workflow import SUMMARY_LIMIT, workflow_run_url

from .conftest import TOKEN, FakeTime

KEY = "run/acme/widgets/issue-42"
PHASES = ["recall", "implement", "checks", "review", "ship"]


def _state(**fields: object) -> ProgressState:
    state = ProgressState.start(KEY, PHASES, title="run #42: Fix the login redirect", **fields)
    return state


# -- rendering (pure) ------------------------------------------------------------------------------
def test_render_running() -> None:
    state = _state(run_url=workflow_run_url("https://github.com", "acme", "widgets", 99), cost_usd=0.4213)
    state.set_phase("recall", "done", "3 memories")
    state.set_phase("implement", "running")
    state.step = "editing src/app.py"
    body = render(state)
    lines = body.splitlines()
    assert lines[0] == "<!-- kagura:run/acme/widgets/issue-42 -->"
    assert "[workflow run](https://github.com/acme/widgets/actions/runs/99)" in body
    assert "cost so far $0.42" in body
    assert "- ✅ **recall** — 3 memories" in lines
    assert "- 🔄 **implement** (running)" in lines
    assert "- ⬜ **ship**" in lines
    assert "**Current step:** editing src/app.py" in lines
    assert "Pull request" not in body and "resume" not in body


def test_render_shipped() -> None:
    state = _state(status="shipped", pr_number=57, pr_url="https://github.com/acme/widgets/pull/57",
                   verdict="approve", cost_usd=1.5, budget_usd=5)  # fmt: skip
    for name in PHASES:
        state.set_phase(name, "done")
    state.step = "stale step"
    body = render(state)
    assert "**Status:** ✅ shipped" in body
    assert "**Pull request:** [#57](https://github.com/acme/widgets/pull/57)" in body
    assert "**Review verdict:** approve" in body
    assert "cost $1.50 of $5.00" in body
    assert "Current step" not in body and "resume" not in body


@pytest.mark.parametrize("status", ["blocked", "failed"])
def test_render_blocked_or_failed_says_how_to_resume(status: str) -> None:
    state = _state(status=status, reason="checks failed 3 times: `pytest -q` exit 1")
    state.set_phase("checks", "failed", "pytest -q: 2 failed")
    state.set_phase("review", "skipped")
    body = render(state)
    assert f"**{status.title()}:** checks failed 3 times" in body
    assert "**To resume:** comment `/kagura resume` here or re-run the workflow" in body
    assert "- ❌ **checks** — pytest -q: 2 failed" in body and "- ⏭️ **review**" in body


def test_render_neutralises_untrusted_text() -> None:
    state = _state(status="blocked")
    state.reason = f"<!-- kagura:run/acme/widgets/issue-1 --> ask @alice\u200b with {TOKEN}\n## heading"
    state.notes = ["<img src=x onerror=alert(1)>"]
    register_secret(TOKEN)
    body = render(state)
    assert body.count("<!--") == 1  # only our own marker
    assert TOKEN not in body and "***" in body
    assert "@alice" not in body and "@\u200balice" in body
    assert "\n## heading" not in body
    assert "<img" not in body


def test_render_is_bounded() -> None:
    state = _state(notes=["x" * 10_000] * 100, reason="y" * 100_000)
    assert len(render(state)) <= COMMENT_LIMIT


def test_marker_is_stable_and_cannot_be_broken_by_the_key() -> None:
    assert (
        marker(str(JobKey("run", "acme", "widgets", "issue-42")))
        == "<!-- kagura:run/acme/widgets/issue-42 -->"
    )
    weird = marker("goal/acme/widgets/Sprint 12 --> <b>")
    assert weird.endswith(" -->") and weird.count("-->") == 1 and " " not in weird[12:-4]
    with pytest.raises(ValueError):
        marker("")


def test_phase_states_are_validated() -> None:
    with pytest.raises(ValueError):
        _state().set_phase("ship", "almost")


# -- the comment on GitHub ------------------------------------------------------------------------------
def test_throttled_updates_edit_one_comment(gh: GitHub, stand_in: GitHubStandIn, fake_time: FakeTime) -> None:
    stand_in.add_issue(42, "Fix the login redirect")
    progress = ProgressComment(gh, 42, KEY, min_interval=3.0, clock=fake_time.monotonic)
    state = _state()
    assert progress.update(state) is True  # created

    state.set_phase("recall", "running")
    fake_time.now += 1
    assert progress.update(state) is False and progress.pending  # deferred: inside the interval
    state.set_phase("recall", "done")
    fake_time.now += 1
    assert progress.update(state) is False  # still inside: the newest state replaces the deferred one
    fake_time.now += 1.5
    assert progress.update(state) is True  # interval passed: the newest state goes out

    assert progress.update(state, force=True) is False  # identical body: never re-posted
    state.set_phase("implement", "running")
    assert progress.update(state) is False and progress.pending
    assert progress.flush() is True and not progress.pending

    state.status, state.pr_number = "shipped", 7
    assert progress.finish(state) is True  # final update goes out even inside the interval

    comments = stand_in.issue_comments(42)
    assert len(comments) == 1 and comments[0]["body"] == render(state)
    assert progress.writes == 4
    assert gh.calls_by_kind["progress"] == 1 + 4  # one lookup by marker, then 4 writes
    assert len(stand_in.requests_matching("POST", r"/comments$")) == 1


def test_a_rerun_edits_the_same_comment(gh: GitHub, stand_in: GitHubStandIn, fake_time: FakeTime) -> None:
    stand_in.add_issue(42, "x")
    stand_in.add_comment(42, "unrelated", user="alice")
    ProgressComment(gh, 42, KEY, clock=fake_time.monotonic).update(_state(status="failed", reason="killed"))
    rerun = ProgressComment(gh, 42, KEY, clock=fake_time.monotonic)
    assert rerun.update(_state()) is True
    ours = [c for c in stand_in.issue_comments(42) if c["user"] == "github-actions[bot]"]
    assert len(ours) == 1 and "Failed" not in ours[0]["body"]
    again = ProgressComment(gh, 42, KEY, clock=fake_time.monotonic)
    assert again.update(_state()) is False  # what is shown already: no edit
    assert len(stand_in.requests_matching("PATCH")) == 1


def test_deleted_comment_is_recreated(gh: GitHub, stand_in: GitHubStandIn, fake_time: FakeTime) -> None:
    stand_in.add_issue(42, "x")
    progress = ProgressComment(gh, 42, KEY, min_interval=0, clock=fake_time.monotonic)
    progress.update(_state())
    stand_in.comments.clear()
    state = _state(status="skipped", reason="nothing to do")
    assert progress.update(state) is True
    assert [c["body"] for c in stand_in.issue_comments(42)] == [render(state)]


def test_progress_failures_do_not_raise(gh: GitHub, stand_in: GitHubStandIn, fake_time: FakeTime) -> None:
    stand_in.add_issue(42, "x")
    stand_in.inject(403, method="POST", body={"message": "Resource not accessible by integration"})
    progress = ProgressComment(gh, 42, KEY, clock=fake_time.monotonic)
    assert progress.update(_state()) is False
    assert progress.errors and "not accessible" in progress.errors[0]
    fake_time.now += 10
    assert progress.update(_state(status="shipped")) is True


def test_state_key_must_match(gh: GitHub, fake_time: FakeTime) -> None:
    progress = ProgressComment(gh, 42, KEY, clock=fake_time.monotonic)
    with pytest.raises(ValueError):
        progress.update(ProgressState(key="run/acme/widgets/issue-43"))


# -- step summary -----------------------------------------------------------------------------------
def test_step_summary_has_the_content_without_the_marker(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    state = _state(status="shipped", pr_number=3)
    assert write_step_summary(state, summary) is True
    assert write_step_summary(state, summary) is True  # replaces, does not pile up
    text = summary.read_text(encoding="utf-8")
    assert text == render_summary(state) and "kagura:run" not in text and "#3" in text
    assert write_step_summary(state, None) is False and write_step_summary(state, "") is False


def test_step_summary_stays_within_one_mebibyte(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_bytes("é".encode() * ((SUMMARY_LIMIT - 300) // 2))
    state = _state(notes=["ü" * 400] * 10)
    assert write_step_summary(state, summary, append=True) is True
    data = summary.read_bytes()
    assert len(data) <= SUMMARY_LIMIT
    assert data.decode("utf-8").endswith("_(truncated to fit GitHub's size limit)_\n")
    full = tmp_path / "full.md"
    full.write_bytes(b"x" * SUMMARY_LIMIT)
    assert write_step_summary(state, full, append=True) is False
    assert full.stat().st_size == SUMMARY_LIMIT
