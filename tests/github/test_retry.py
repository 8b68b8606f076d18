"""Rate limits, 5xx, timeouts and lost replies: bounded retries, never a duplicate write."""

from __future__ import annotations

import logging
import re
import traceback

import pytest

from kagura_engineer.demo.github import GitHubStandIn
from kagura_engineer.errors import GitHubError, NotFound, PermissionDenied, Transient
from kagura_engineer.github.client import GitHub
from kagura_engineer.github.failures import RetryPolicy

from .conftest import TOKEN, FakeTime


def _client(stand_in: GitHubStandIn, fake_time: FakeTime, **kwargs: object) -> GitHub:
    return GitHub.from_env(stand_in.env(), sleep=fake_time.sleep, clock=fake_time.monotonic, **kwargs)


# -- rate limits -------------------------------------------------------------------------------
def test_secondary_rate_limit_waits_retry_after(
    gh: GitHub, stand_in: GitHubStandIn, fake_time: FakeTime
) -> None:
    stand_in.add_issue(1, "x")
    stand_in.rate_limit("secondary", retry_after=37)
    assert gh.get_issue(1)["number"] == 1
    assert fake_time.sleeps == [37]
    assert [r.status for r in stand_in.requests] == [403, 200]


def test_secondary_rate_limit_on_a_write_is_retried_once_in_effect(
    gh: GitHub, stand_in: GitHubStandIn, fake_time: FakeTime
) -> None:
    stand_in.add_issue(1, "x")
    stand_in.rate_limit("secondary", retry_after=61, method="POST")
    gh.create_comment(1, "hello")
    assert fake_time.sleeps == [61]
    assert [c["body"] for c in stand_in.issue_comments(1)] == ["hello"]


def test_primary_rate_limit_waits_until_reset(
    gh: GitHub, stand_in: GitHubStandIn, fake_time: FakeTime
) -> None:
    stand_in.rate_limit("primary", reset_in=120)
    gh.get_repo()
    assert len(fake_time.sleeps) == 1 and 110 <= fake_time.sleeps[0] <= 122


@pytest.mark.parametrize("kind", ["429", "secondary"])
def test_rate_limit_without_hints_backs_off_from_60_seconds(
    gh: GitHub, stand_in: GitHubStandIn, fake_time: FakeTime, kind: str
) -> None:
    stand_in.rate_limit(kind, retry_after=None, times=2)
    gh.get_repo()
    assert fake_time.sleeps == [60, 120]


def test_rate_limit_asking_for_too_long_gives_up_at_once(
    stand_in: GitHubStandIn, fake_time: FakeTime
) -> None:
    gh = _client(stand_in, fake_time, policy=RetryPolicy(max_wait=300))
    stand_in.rate_limit("primary", reset_in=3000)
    with pytest.raises(Transient) as info:
        gh.get_repo()
    assert fake_time.sleeps == [] and len(stand_in.requests) == 1
    assert info.value.retry_after is not None and info.value.retry_after > 2900
    assert "rate limited" in str(info.value) and "re-run" in (info.value.hint or "")


def test_total_wait_is_capped(stand_in: GitHubStandIn, fake_time: FakeTime) -> None:
    gh = _client(stand_in, fake_time, policy=RetryPolicy(total_seconds=100))
    stand_in.rate_limit("secondary", retry_after=60, times=3)
    with pytest.raises(Transient):
        gh.get_repo()
    assert fake_time.sleeps == [60]
    assert len(stand_in.requests) == 2


# -- 5xx, 4xx and timeouts -------------------------------------------------------------------------
def test_502_twice_then_success(gh: GitHub, stand_in: GitHubStandIn, fake_time: FakeTime) -> None:
    stand_in.add_issue(1, "x")
    stand_in.inject(502, times=2, body={"message": "Server Error"})
    assert gh.get_issue(1)["title"] == "x"
    assert fake_time.sleeps == [1, 2]
    assert [r.status for r in stand_in.requests] == [502, 502, 200]


def test_persistent_5xx_gives_a_bounded_transient_error(
    gh: GitHub, stand_in: GitHubStandIn, fake_time: FakeTime
) -> None:
    stand_in.inject(503, times=100, body={"message": "Service Unavailable"})
    with pytest.raises(Transient) as info:
        gh.get_repo()
    assert len(stand_in.requests) == gh.policy.attempts == 5
    assert fake_time.sleeps == [1, 2, 4, 8]
    assert info.value.status == 503 and "after 5 attempts" in str(info.value)
    assert info.value.exit_code == 1 and info.value.hint


@pytest.mark.parametrize(
    ("status", "error"),
    [(404, NotFound), (403, PermissionDenied), (422, GitHubError), (409, GitHubError), (501, GitHubError)],
)
def test_other_client_errors_are_not_retried(
    gh: GitHub, stand_in: GitHubStandIn, fake_time: FakeTime, status: int, error: type
) -> None:
    stand_in.inject(status, body={"message": "Resource not accessible by integration"})
    with pytest.raises(error) as info:
        gh.get_repo()
    assert not isinstance(info.value, Transient)
    assert len(stand_in.requests) == 1 and fake_time.sleeps == []
    assert info.value.status == status


def test_forbidden_explains_the_missing_permission(gh: GitHub, stand_in: GitHubStandIn) -> None:
    stand_in.add_issue(1, "x")
    stand_in.inject(403, method="POST", body={"message": "Resource not accessible by integration"})
    with pytest.raises(PermissionDenied) as info:
        gh.create_comment(1, "hi")
    assert "Resource not accessible by integration" in str(info.value)
    assert "issues: write" in (info.value.hint or "")


def test_timeout_on_a_read_is_retried(stand_in: GitHubStandIn, fake_time: FakeTime) -> None:
    gh = _client(stand_in, fake_time, timeout=0.3)
    stand_in.slow(1.0, times=1)
    assert gh.get_repo()["name"] == "widgets"
    assert len(fake_time.sleeps) == 1


def test_dropped_connection_on_a_read_is_retried(gh: GitHub, stand_in: GitHubStandIn) -> None:
    stand_in.inject(drop=True, times=1)
    assert gh.get_repo()["name"] == "widgets"
    assert len(stand_in.requests) == 2


def test_unreachable_server_is_transient(fake_time: FakeTime) -> None:
    with GitHubStandIn(token=TOKEN) as gone:
        env = gone.env()
    gh = GitHub.from_env(env, sleep=fake_time.sleep, clock=fake_time.monotonic)
    with pytest.raises(Transient) as info:
        gh.get_repo()
    assert fake_time.sleeps == [1, 2, 4, 8]
    assert "ConnectError" in str(info.value)


def test_writes_to_an_unreachable_server_are_bounded_too(fake_time: FakeTime) -> None:
    with GitHubStandIn(token=TOKEN) as gone:
        env = gone.env()
    gh = GitHub.from_env(env, sleep=fake_time.sleep, clock=fake_time.monotonic)
    with pytest.raises(Transient):
        gh.create_comment(1, "x")
    assert gh.calls == gh.policy.attempts


def test_persistent_5xx_on_a_write_is_bounded_and_writes_nothing(
    gh: GitHub, stand_in: GitHubStandIn, fake_time: FakeTime
) -> None:
    stand_in.add_issue(1, "x")
    stand_in.inject(502, method="POST", times=100)
    with pytest.raises(Transient) as info:
        gh.create_comment(1, "never")
    posts = stand_in.requests_matching("POST")
    assert len(posts) == gh.policy.attempts and info.value.status == 502
    assert len(stand_in.requests_matching("GET")) == gh.policy.attempts  # a lookup after each lost answer
    assert stand_in.issue_comments(1) == []


# -- exactly-once writes --------------------------------------------------------------------------
def test_lost_reply_to_create_comment_does_not_duplicate(gh: GitHub, stand_in: GitHubStandIn) -> None:
    stand_in.add_issue(1, "x")
    stand_in.lose_reply("POST", r"/comments$")
    comment = gh.create_comment(1, "exactly once")
    assert [c["id"] for c in stand_in.issue_comments(1)] == [comment["id"]]


def test_502_on_create_comment_retries_after_checking(gh: GitHub, stand_in: GitHubStandIn) -> None:
    stand_in.add_issue(1, "x")
    stand_in.inject(502, method="POST", times=2)
    gh.create_comment(1, "eventually")
    assert [c["body"] for c in stand_in.issue_comments(1)] == ["eventually"]
    methods = [r.method for r in stand_in.requests]
    assert methods == ["POST", "GET", "POST", "GET", "POST"]


def test_lost_reply_to_upsert_comment_does_not_duplicate(gh: GitHub, stand_in: GitHubStandIn) -> None:
    stand_in.add_issue(1, "x")
    marker = "<!-- kagura:run/acme/widgets/issue-1 -->"
    stand_in.lose_reply("POST", r"/comments$")
    gh.upsert_comment(1, marker, f"{marker}\none")
    gh.upsert_comment(1, marker, f"{marker}\ntwo")
    assert [c["body"] for c in stand_in.issue_comments(1)] == [f"{marker}\ntwo"]


def test_lost_reply_to_create_pr_does_not_duplicate(gh: GitHub, stand_in: GitHubStandIn) -> None:
    stand_in.add_branch("kagura/issue-5")
    stand_in.lose_reply("POST", r"/pulls$")
    pr, created = gh.find_or_create_pr("kagura/issue-5", "main", "Fix #5", "Closes #5")
    assert created is True
    assert [p["number"] for p in stand_in.open_pulls("kagura/issue-5")] == [pr["number"]]


def test_pr_created_by_someone_else_between_lookup_and_create(gh: GitHub, stand_in: GitHubStandIn) -> None:
    stand_in.add_branch("kagura/issue-6")
    other = {}
    stand_in.before("POST", r"/pulls$", lambda req: other.update(stand_in.add_pull("kagura/issue-6")))
    pr, created = gh.find_or_create_pr("kagura/issue-6", "main", "Fix #6", "Closes #6")
    assert created is False and pr["number"] == other["number"]
    assert len(stand_in.open_pulls("kagura/issue-6")) == 1
    assert [r.status for r in stand_in.requests_matching("POST", r"/pulls$")] == [422]


def test_lost_reply_to_create_review_does_not_duplicate(gh: GitHub, stand_in: GitHubStandIn) -> None:
    pr = stand_in.add_pull("feature", user="alice")
    stand_in.lose_reply("POST", r"/reviews$")
    review = gh.create_review(pr["number"], "b" * 40, "Looks good", "APPROVE")
    assert [r["id"] for r in gh.list_reviews(pr["number"])] == [review["id"]]


# -- secrets never leak ---------------------------------------------------------------------------
def test_token_never_appears_in_errors_logs_or_requests(
    gh: GitHub, stand_in: GitHubStandIn, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stand_in.add_issue(1, "x")
    echo = {
        "message": f"bad request from token {TOKEN}",
        "errors": [{"message": f"Authorization: token {TOKEN}"}],
    }
    failures: list[BaseException] = []
    for status, times in ((500, 10), (422, 1), (404, 1), (403, 1)):
        stand_in.inject(status, body=echo, times=times)
        with pytest.raises(GitHubError) as info:
            gh.get_issue(1)
        failures.append(info.value)
        stand_in.clear_faults()
    with pytest.raises(PermissionDenied) as bad:
        GitHub.from_env(stand_in.env() | {"GITHUB_TOKEN": TOKEN + "x"}).get_repo()
    failures.append(bad.value)
    with GitHubStandIn(token=TOKEN) as gone:
        env = gone.env()
    with pytest.raises(Transient) as down:
        GitHub.from_env(env, sleep=fake_time.sleep).get_repo()
    failures.append(down.value)
    gh.upsert_comment(1, "<!-- m -->", f"<!-- m -->\nleaked? {TOKEN}")

    texts = [repr(gh)] + [record.getMessage() for record in caplog.records]
    for exc in failures:
        texts += [str(exc), repr(exc), exc.hint or "", "".join(traceback.format_exception(exc))]
    texts.append(re.sub(r'"authorization": "[^"]*"', "", stand_in.log_text()))
    leaks = [t for t in texts if TOKEN in t]
    assert not leaks
    assert "***" in failures[0].message  # the echoed token was redacted, not dropped silently
    assert stand_in.issue_comments(1)[0]["body"].endswith("leaked? ***")
