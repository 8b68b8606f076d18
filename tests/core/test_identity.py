"""One job key, one status table, one run URL: the shapes a user sees in comments, outputs and exit codes."""

from __future__ import annotations

import pytest

from kagura_engineer.jobkey import JobKey
from kagura_engineer.status import ACTION_STATUSES, Status, exit_code
from kagura_engineer.workflow import run_url, workflow_run_url


@pytest.mark.parametrize(
    ("key", "text"),
    [
        (JobKey.run("acme", "widgets", 42), "run/acme/widgets/issue-42"),
        (JobKey.review("acme", "widgets", "pr-7"), "review/acme/widgets/pr-7"),
        (JobKey.review_pr("acme", "widgets", 7), "review/acme/widgets/pr-7"),
        (JobKey.goal("acme", "widgets", "Sprint 3"), "goal/acme/widgets/Sprint 3"),
        (JobKey.eval("acme", "widgets"), "eval/acme/widgets/evaluation"),
        (JobKey.doctor("acme", "widgets", "pr", 9), "doctor/acme/widgets/pr-9"),
    ],
)
def test_a_job_key_formats_and_parses_back(key, text):
    assert str(key) == text
    assert JobKey.parse(text) == key


@pytest.mark.parametrize(
    "text",
    ["run/acme/widgets", "Run/acme/widgets/issue-1", "run/ac me/widgets/issue-1", "run/acme/widgets/ issue",
     "run/acme/widgets/a/b", "run/acme/widgets/" + "x" * 200, ""],
)  # fmt: skip
def test_anything_else_is_not_a_job_key(text):
    with pytest.raises(ValueError):
        JobKey.parse(text)


def test_each_status_word_has_its_exit_code():
    assert {s.value: exit_code(s) for s in Status} == {
        "shipped": 0, "reviewed": 0, "evaluated": 0, "skipped": 0, "failed": 1, "blocked": 2, "busy": 2,
    }  # fmt: skip
    assert exit_code("something else") == 1
    assert sorted(ACTION_STATUSES) == ["blocked", "busy", "evaluated", "failed", "shipped", "skipped"]


def test_the_run_url_comes_from_the_runner_environment():
    env = {
        "GITHUB_SERVER_URL": "https://ghe.example/",
        "GITHUB_REPOSITORY": "acme/widgets",
        "GITHUB_RUN_ID": "99",
    }
    assert run_url(env) == "https://ghe.example/acme/widgets/actions/runs/99"
    assert run_url(env) == workflow_run_url("https://ghe.example", "acme", "widgets", 99)
    for name in env:
        assert run_url({k: v for k, v in env.items() if k != name}) is None


def test_the_permission_levels_that_may_act_are_the_top_three_github_reports():
    from kagura_engineer.github.permission import PERMISSION_LEVELS, WRITE_LEVELS

    assert WRITE_LEVELS == {"admin", "maintain", "write"}
    assert set(PERMISSION_LEVELS) - WRITE_LEVELS == {"triage", "read", "none"}
