"""The GitHub stand-in itself: auth, pagination, git-backed PR rules, the process mode."""

from __future__ import annotations

import json
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from kagura_engineer import proc
from kagura_engineer.demo.github import GitHubStandIn
from kagura_engineer.errors import GitHubError
from kagura_engineer.github.client import GitHub

from .conftest import TOKEN, FakeTime, git


def _get(url: str, auth: str | None = None) -> tuple[int, dict[str, str], object]:
    request = urllib.request.Request(url, headers={"Authorization": auth} if auth else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read() or b"null")


@pytest.mark.parametrize(
    ("auth", "status"),
    [
        (None, 401),
        ("token wrong", 401),
        (f"Basic {TOKEN}", 401),
        (f"token {TOKEN}", 200),
        (f"Bearer {TOKEN}", 200),
    ],
)
def test_authentication(stand_in: GitHubStandIn, auth: str | None, status: int) -> None:
    code, headers, body = _get(f"{stand_in.api_url}/repos/acme/widgets", auth)
    assert code == status
    if status == 401:
        assert body["message"] == "Bad credentials"
    else:
        assert int(headers["x-ratelimit-remaining"]) < int(headers["x-ratelimit-limit"])


def test_other_repositories_and_unknown_paths_are_404(stand_in: GitHubStandIn) -> None:
    auth = f"token {TOKEN}"
    code, _, body = _get(f"{stand_in.api_url}/repos/acme/other", auth)
    assert (code, body["message"]) == (404, "Not Found")
    assert _get(f"{stand_in.api_url}/repos/acme/widgets/nope", auth)[0] == 404
    assert [r.path for r in stand_in.unrouted()] == ["/repos/acme/other", "/repos/acme/widgets/nope"]


def test_link_header_pagination(stand_in: GitHubStandIn) -> None:
    for n in range(1, 6):
        stand_in.add_issue(n, f"i{n}")
    code, headers, body = _get(
        f"{stand_in.api_url}/repos/acme/widgets/issues?per_page=2&page=2", f"token {TOKEN}"
    )
    assert code == 200 and [i["number"] for i in body] == [3, 2]  # newest first
    link = headers["Link"]
    for rel, page in (("next", 3), ("last", 3), ("first", 1), ("prev", 1)):
        assert f'page={page}>; rel="{rel}"' in link
    assert link.startswith(f"<{stand_in.api_url}/repos/acme/widgets/issues?")


def test_issues_api_marks_pull_requests(stand_in: GitHubStandIn) -> None:
    stand_in.add_issue(1, "issue")
    stand_in.add_pull("feature", number=2)
    _, _, body = _get(f"{stand_in.api_url}/repos/acme/widgets/issues", f"token {TOKEN}")
    assert {i["number"]: "pull_request" in i for i in body} == {1: False, 2: True}


def test_state_round_trips_through_json(tmp_path: Path) -> None:
    state = {
        "owner": "corp", "repo": "tools", "token": "tok-json", "prefix": "/api/v3",
        "milestones": [{"title": "v1", "due_on": "2030-01-01T00:00:00Z"}],
        "issues": [{"number": 3, "title": "from json", "labels": ["kagura"], "milestone": "v1", "user": "alice"}],
        "comments": [{"number": 3, "body": "hello", "user": "alice"}],
        "permissions": {"alice": "write"},
        "branches": ["feature"],
        "pulls": [{"head": "feature", "title": "PR"}],
        "workflow_runs": [{"run_id": 77}],
    }  # fmt: skip
    with GitHubStandIn.from_state(state) as server:
        gh = GitHub.from_env(server.env())
        assert gh.list_milestone_issues("v1")[0]["title"] == "from json"
        assert gh.permission("alice") == "write"
        assert gh.find_pr("feature")["title"] == "PR"
        assert gh.get_workflow_run(77)["id"] == 77
        snapshot = server.snapshot()
    assert snapshot["comments"][0]["body"] == "hello" and snapshot["labels"] == ["kagura"]


# -- git-backed rules (repo_path) -------------------------------------------------------------------
@pytest.fixture
def origin(git_repo: Path) -> Path:
    """`origin.git` with main (src/app.py, 30 lines) and `kagura/issue-7` changing line 15."""
    app = git_repo / "src" / "app.py"
    app.parent.mkdir()
    app.write_text("".join(f"line {n}\n" for n in range(1, 31)))
    git(git_repo, "add", ".")
    git(git_repo, "commit", "-q", "-m", "app")
    git(git_repo, "push", "-q", "origin", "main")
    git(git_repo, "checkout", "-q", "-b", "kagura/issue-7")
    app.write_text(app.read_text().replace("line 15\n", "line fifteen\n"))
    git(git_repo, "commit", "-q", "-am", "change line 15")
    git(git_repo, "push", "-q", "origin", "kagura/issue-7")
    git(git_repo, "branch", "-q", "empty", "main")
    git(git_repo, "push", "-q", "origin", "empty")
    return git_repo.parent / "origin.git"


@pytest.fixture
def git_gh(origin: Path, fake_time: FakeTime):
    with GitHubStandIn(token=TOKEN, repo_path=origin) as server:
        yield server, GitHub.from_env(server.env(), sleep=fake_time.sleep)


def test_pr_head_must_exist_and_records_its_sha(git_gh, origin: Path) -> None:
    server, gh = git_gh
    with pytest.raises(GitHubError) as info:
        gh.find_or_create_pr("kagura/missing", "main", "t", "b")
    assert info.value.status == 422 and "head" in str(info.value)
    with pytest.raises(GitHubError) as nothing:
        gh.find_or_create_pr("empty", "main", "t", "b")
    assert "No commits between main and empty" in str(nothing.value)
    pr, created = gh.find_or_create_pr("kagura/issue-7", "main", "Fix #7", "Closes #7")
    assert created and pr["head"]["sha"] == git(origin, "rev-parse", "kagura/issue-7")
    assert pr["base"]["sha"] == git(origin, "rev-parse", "main")


def test_review_comments_must_be_on_the_diff(git_gh, origin: Path) -> None:
    server, gh = git_gh
    pr, _ = gh.find_or_create_pr("kagura/issue-7", "main", "Fix #7", "Closes #7")
    assert server.diff_lines(pr["number"]) == {"src/app.py": {"LEFT": [(12, 18)], "RIGHT": [(12, 18)]}}
    sha = pr["head"]["sha"]
    ok = gh.create_review(
        pr["number"], sha, "one note", comments=[{"path": "src/app.py", "line": 15, "body": "ok"}]
    )
    assert ok["state"] == "COMMENTED"
    for comment, message in (
        ({"path": "src/app.py", "line": 28, "body": "far away"}, "Line could not be resolved"),
        ({"path": "README.md", "line": 1, "body": "untouched file"}, "Path could not be resolved"),
    ):
        with pytest.raises(GitHubError) as info:
            gh.create_review(pr["number"], sha, "bad", comments=[comment])
        assert info.value.status == 422 and message in str(info.value)
    assert len(gh.list_reviews(pr["number"])) == 1


# -- the process mode ------------------------------------------------------------------------------
def test_runs_as_a_process_until_sigterm(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"token": "tok-process", "issues": [{"number": 1, "title": "served"}]}))
    port_file = tmp_path / "port"
    child = proc.spawn(
        [sys.executable, "-m", "kagura_engineer.demo.github", "--port", "0",
         "--port-file", str(port_file), "--state", str(state)],
        passthrough=["PYTHONPATH"],
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert port_file.exists(), child.stderr.read() if child.poll() is not None else "no port file"
        url = f"http://127.0.0.1:{port_file.read_text()}"
        env = {"GITHUB_API_URL": url, "GITHUB_REPOSITORY": "acme/widgets", "GITHUB_TOKEN": "tok-process"}
        gh = GitHub.from_env(env)
        gh.create_comment(1, "hello from a test")
        code, _, snapshot = _get(f"{url}/_standin/state")
        assert code == 200 and snapshot["issues"]["1"]["title"] == "served"
        assert snapshot["comments"][0]["body"] == "hello from a test"
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=10) == 0
    finally:
        proc.kill_tree(child)
        child.wait(timeout=5)
