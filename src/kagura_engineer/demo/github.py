"""A loopback GitHub REST stand-in: one repository's issues, comments, labels, milestones,
pull requests, reviews, reactions, collaborator permissions, workflow runs and branch
protection, held in memory and served with GitHub's paths, field names, status codes,
`Link` pagination and `x-ratelimit-*` headers.

    with GitHubStandIn(token="t0k3n") as gh:
        gh.add_issue(42, "Fix the login redirect", labels=["kagura"])
        ... GITHUB_API_URL=gh.api_url ...

`prefix="/api/v3"` serves it the way GitHub Enterprise Server does. With `repo_path=` (a
bare git repository) creating a PR checks that the branches exist and records the head SHA,
and review comments outside the PR's diff are refused with 422, as on GitHub.

Faults come from the base class (`inject`), plus GitHub-shaped helpers (`rate_limit`,
`slow`) and two hooks: `before(...)` runs a function before a matching request is handled,
`lose_reply(...)` handles a request and then drops the connection (the write happened but
the client never hears about it).

As a process, for container tests (serves until SIGTERM; `GET /_standin/state` dumps state):

    python -m kagura_engineer.demo.github --port 0 --port-file F --state state.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode

from kagura_engineer import proc
from kagura_engineer.demo.standin import Request, Response, StandIn, json_response, serve_until_signalled

DOCS = "https://docs.github.com/rest"
REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")
SECONDARY_RATE_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000."
)
# permission level -> (the `permission` field, `role_name`), as the collaborator API reports them
PERMISSIONS = {
    "admin": ("admin", "admin"),
    "maintain": ("write", "maintain"),
    "write": ("write", "write"),
    "triage": ("read", "triage"),
    "read": ("read", "read"),
    "none": ("none", "none"),
}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _error(status: int, message: str, **extra: Any) -> Response:
    return json_response(
        {"message": message, "documentation_url": DOCS, "status": str(status), **extra}, status
    )


def _validation(errors: list[Any], message: str = "Validation Failed") -> Response:
    return _error(422, message, errors=errors)


NOT_FOUND = {"message": "Not Found", "documentation_url": DOCS, "status": "404"}


@dataclass
class _Hook:
    method: str | None
    path: str | None
    fn: Callable[[Request], None] | None
    times: int
    lose: bool = False

    def matches(self, req: Request) -> bool:
        if self.times <= 0:
            return False
        if self.method and self.method.upper() != req.method:
            return False
        return not (self.path and not re.search(self.path, req.path))


def _route(template: str) -> re.Pattern[str]:
    """An OpenAPI path template as a regex; `{branch}` may contain slashes, others not."""

    def group(match: re.Match[str]) -> str:
        name = match.group(1)
        return f"(?P<{name}>.+)" if name == "branch" else f"(?P<{name}>[^/]+)"

    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", group, re.escape(template)) + "$")


ROUTES: list[tuple[str, str, str]] = [
    ("GET", "/rate_limit", "rate_limit"),
    ("GET", "/user", "get_authenticated"),
    ("GET", "/repos/{owner}/{repo}", "get_repo"),
    ("GET", "/repos/{owner}/{repo}/issues", "list_issues"),
    ("POST", "/repos/{owner}/{repo}/issues", "create_issue"),
    ("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}", "get_comment"),
    ("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}", "update_comment"),
    ("DELETE", "/repos/{owner}/{repo}/issues/comments/{comment_id}", "delete_comment"),
    ("POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", "react_comment"),
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}", "get_issue"),
    ("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}", "update_issue"),
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments", "list_comments"),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", "create_comment"),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels", "add_labels"),
    ("DELETE", "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}", "remove_label"),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/reactions", "react_issue"),
    ("GET", "/repos/{owner}/{repo}/labels/{name}", "get_label"),
    ("GET", "/repos/{owner}/{repo}/milestones", "list_milestones"),
    ("GET", "/repos/{owner}/{repo}/pulls", "list_pulls"),
    ("POST", "/repos/{owner}/{repo}/pulls", "create_pull"),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}", "get_pull"),
    ("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}", "update_pull"),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews", "list_reviews"),
    ("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews", "create_review"),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/comments", "list_review_comments"),
    ("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission", "get_permission"),
    ("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}", "get_workflow_run"),
    ("GET", "/repos/{owner}/{repo}/branches/{branch}/protection", "get_protection"),
]
_COMPILED = [(method, template, _route(template), handler) for method, template, handler in ROUTES]


class GitHubStandIn(StandIn):
    """In-memory GitHub REST for one repository, authenticated by one (or more) tokens."""

    name = "github"

    def __init__(
        self,
        owner: str = "acme",
        repo: str = "widgets",
        token: str = "ghs_standinToken0000000000000000000000",
        *,
        port: int = 0,
        prefix: str = "",
        default_branch: str = "main",
        bot_login: str = "github-actions[bot]",
        repo_path: str | os.PathLike[str] | None = None,
        private: bool = False,
    ) -> None:
        super().__init__(port=port)
        self.owner, self.repo = owner, repo
        self.prefix = prefix.rstrip("/")
        self.default_branch = default_branch
        self.repo_path = Path(repo_path) if repo_path else None
        self.private = private
        self.token = token
        self.bot_login = bot_login
        self._ids = 1000
        self._init_state()

    def _init_state(self) -> None:
        owner, token, bot_login, default_branch = self.owner, self.token, self.bot_login, self.default_branch
        self.tokens: dict[str, str] = {token: bot_login}
        self.repo_id = self._next_id()
        self.users: dict[str, dict] = {}
        self.issues: dict[int, dict] = {}
        self.comments: dict[int, dict] = {}
        self.labels: dict[str, dict] = {}  # lower-case name -> label
        self.milestones: dict[int, dict] = {}
        self.pulls: dict[int, dict] = {}
        self.reviews: dict[int, dict] = {}
        self.review_comments: dict[int, dict] = {}
        self.reactions: list[dict] = []
        self.collaborators: dict[str, tuple[str, str]] = {owner: PERMISSIONS["admin"]}
        self.workflow_runs: dict[int, dict] = {}
        self.protection: dict[str, dict] = {}
        self.branches: dict[str, str] = {default_branch: "0" * 40}  # without repo_path
        self.rate_limit_total = 5000
        self.rate_remaining = 5000
        self.rate_reset = int(time.time()) + 3600
        self.hooks: list[_Hook] = []
        self.templates: dict[int, tuple[str, str]] = {}  # request number -> (method, template)
        self.replies: dict[int, tuple[int, Any]] = {}  # request number -> (status, JSON body)

    def reset(self) -> None:
        """Back to an empty repository: state, hooks, faults and the request log (server keeps running)."""
        with self.lock:
            self._init_state()
            self.requests.clear()
            self.faults.clear()
            self._kill = None

    # -- URLs ---------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        """What GITHUB_API_URL should be (with the GHES prefix when one is set)."""
        return self.url + self.prefix

    @property
    def graphql_path(self) -> str:
        """Where GraphQL is served: `/graphql`, or `/api/graphql` beside GHES's `/api/v3`."""
        return (
            self.prefix[: -len("/v3")] + "/graphql"
            if self.prefix.endswith("/api/v3")
            else self.prefix + "/graphql"
        )

    @property
    def server_url(self) -> str:
        """What GITHUB_SERVER_URL should be."""
        return self.url

    def env(self) -> dict[str, str]:
        """The Actions variables that point a client at this stand-in."""
        return {
            "GITHUB_API_URL": self.api_url,
            "GITHUB_SERVER_URL": self.server_url,
            "GITHUB_REPOSITORY": f"{self.owner}/{self.repo}",
            "GITHUB_TOKEN": self.token,
        }

    def _repo_api(self) -> str:
        return f"{self.api_url}/repos/{self.owner}/{self.repo}"

    def _repo_html(self) -> str:
        return f"{self.server_url}/{self.owner}/{self.repo}"

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    # -- test helpers --------------------------------------------------------------------
    def add_token(self, token: str, login: str) -> None:
        """Accept another token, acting as `login`: a person's PAT, or `<slug>[bot]` for an app's
        installation token (which, as on GitHub, gets 403 from `GET /user`)."""
        with self.lock:
            self.tokens[token] = login

    def set_permission(self, login: str, permission: str, role_name: str | None = None) -> None:
        """Make `login` a collaborator: admin|maintain|write|triage|read|none, or a custom role."""
        with self.lock:
            if permission in PERMISSIONS and role_name is None:
                self.collaborators[login] = PERMISSIONS[permission]
            else:
                self.collaborators[login] = (permission, role_name or permission)

    def add_label(self, name: str, color: str = "ededed", description: str | None = None) -> dict:
        with self.lock:
            key = name.lower()
            if key not in self.labels:
                self.labels[key] = {
                    "id": self._next_id(), "name": name, "color": color,
                    "description": description, "default": False,
                }  # fmt: skip
            return self.labels[key]

    def add_milestone(
        self, title: str, *, number: int | None = None, state: str = "open",
        due_on: str | None = None, description: str | None = None,
    ) -> dict:  # fmt: skip
        with self.lock:
            number = number or (max(self.milestones, default=0) + 1)
            self.milestones[number] = {
                "id": self._next_id(), "number": number, "title": title, "state": state,
                "due_on": due_on, "description": description, "created_at": _now(), "updated_at": _now(),
                "closed_at": _now() if state == "closed" else None,
            }  # fmt: skip
            return self.milestones[number]

    def _milestone_number(self, milestone: int | str | None) -> int | None:
        if milestone is None or isinstance(milestone, int):
            return milestone
        for number, m in self.milestones.items():
            if m["title"] == milestone:
                return number
        return self.add_milestone(milestone)["number"]

    def add_issue(
        self, number: int | None = None, title: str = "An issue", body: str | None = "", *,
        user: str = "octocat", labels: list[str] = (), state: str = "open",
        milestone: int | str | None = None, assignees: list[str] = (),
    ) -> dict:  # fmt: skip
        """Create an issue (numbers are shared with PRs); `milestone` by number or title."""
        with self.lock:
            number = number or self._next_number()
            for name in labels:
                self.add_label(name)
            now = _now()
            self.issues[number] = {
                "id": self._next_id(), "number": number, "title": title, "body": body, "user": user,
                "state": state, "state_reason": None, "labels": [self.labels[n.lower()]["name"] for n in labels],
                "assignees": list(assignees), "milestone": self._milestone_number(milestone),
                "created_at": now, "updated_at": now, "closed_at": now if state == "closed" else None,
                "is_pr": False, "deleted": False,
            }  # fmt: skip
            return self.issues[number]

    def delete_issue(self, number: int) -> None:
        """GitHub answers 410 Gone for a deleted issue."""
        with self.lock:
            self.issues[number]["deleted"] = True

    def _next_number(self) -> int:
        return max(self.issues, default=0) + 1

    def add_comment(self, number: int, body: str, user: str = "octocat") -> dict:
        with self.lock:
            now = _now()
            comment = {"id": self._next_id(), "issue": number, "user": user, "body": body,
                       "created_at": now, "updated_at": now}  # fmt: skip
            self.comments[comment["id"]] = comment
            return comment

    def add_branch(self, name: str, sha: str | None = None) -> None:
        """Without `repo_path`: a branch that PRs may use."""
        with self.lock:
            self.branches[name] = sha or f"{abs(hash(name)) % 16**40:040x}"

    def add_pull(
        self, head: str, base: str | None = None, title: str = "A pull request", body: str = "", *,
        user: str | None = None, draft: bool = False, number: int | None = None, state: str = "open",
    ) -> dict:  # fmt: skip
        """Open a PR directly (as if created elsewhere); returns its internal record."""
        with self.lock:
            return self._new_pull(head, base or self.default_branch, title, body, user or self.bot_login,
                                  draft, number=number, state=state)  # fmt: skip

    def add_workflow_run(self, run_id: int, **fields: Any) -> dict:
        with self.lock:
            run = {"id": run_id, "status": "in_progress", "conclusion": None, "event": "issues",
                   "head_branch": self.default_branch, "head_sha": "0" * 40, "run_attempt": 1,
                   "name": "kagura", "actor": "octocat", **fields}  # fmt: skip
            self.workflow_runs[run_id] = run
            return run

    def set_branch_protection(self, branch: str, protection: dict | None = None) -> None:
        """Protect `branch` (None removes the protection)."""
        with self.lock:
            if protection is None:
                self.protection.pop(branch, None)
            else:
                self.protection[branch] = protection

    def issue_comments(self, number: int) -> list[dict]:
        with self.lock:
            return [c for c in self.comments.values() if c["issue"] == number]

    def issue_labels(self, number: int) -> list[str]:
        with self.lock:
            return list(self.issues[number]["labels"])

    def open_pulls(self, head: str | None = None) -> list[dict]:
        with self.lock:
            return [
                p for n, p in self.pulls.items()
                if self.issues[n]["state"] == "open" and (head is None or p["head_ref"] == head)
            ]  # fmt: skip

    def reactions_on(self, *, issue: int | None = None, comment_id: int | None = None) -> list[str]:
        subject = ("issue", issue) if issue is not None else ("comment", comment_id)
        with self.lock:
            return [r["content"] for r in self.reactions if r["subject"] == subject]

    # -- faults and hooks ----------------------------------------------------------------
    def rate_limit(
        self, kind: str = "secondary", *, times: int = 1, retry_after: float | None = 60,
        reset_in: int = 60, method: str | None = None, path: str | None = None,
    ) -> None:  # fmt: skip
        """Answer the next matching requests as GitHub does when a limit is hit.

        kind="secondary": 403 + `retry-after` (when given) + the secondary-limit message;
        kind="primary": 403, `x-ratelimit-remaining: 0`, reset in `reset_in` s;
        kind="429": 429 Too Many Requests (+ `retry-after` when given).
        """
        reset = str(int(time.time()) + reset_in)
        if kind == "primary":
            headers = {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0",
                       "x-ratelimit-used": "5000", "x-ratelimit-reset": reset, "x-ratelimit-resource": "core"}  # fmt: skip
            body = {"message": "API rate limit exceeded for installation ID 1.", "documentation_url": DOCS}
            status = 403
        else:
            headers = {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "4000",
                       "x-ratelimit-reset": reset, "x-ratelimit-resource": "core"}  # fmt: skip
            if retry_after is not None:
                headers["retry-after"] = str(int(retry_after))
            if kind == "secondary":
                status, body = 403, {"message": SECONDARY_RATE_LIMIT_MESSAGE, "documentation_url": DOCS}
            elif kind == "429":
                status, body = 429, {"message": "Too Many Requests", "documentation_url": DOCS}
            else:
                raise ValueError(f"unknown rate limit kind {kind!r}")
        self.inject(status, headers=headers, body=body, times=times, method=method, path=path)

    def slow(
        self, seconds: float, *, times: int = 1, method: str | None = None, path: str | None = None
    ) -> None:
        """Delay the next matching requests, then answer them normally."""
        self.inject(200, delay=seconds, times=times, method=method, path=path, passthrough=True)

    def before(
        self, method: str | None, path: str | None, fn: Callable[[Request], None], times: int = 1
    ) -> None:
        """Run `fn(request)` before the next `times` matching requests are handled."""
        with self.lock:
            self.hooks.append(_Hook(method, path, fn, times))

    def lose_reply(self, method: str | None = None, path: str | None = None, times: int = 1) -> None:
        """Handle the next matching requests, then drop the connection instead of answering."""
        with self.lock:
            self.hooks.append(_Hook(method, path, None, times, lose=True))

    # -- the request log, mapped to templates ---------------------------------------------
    def operations(self) -> list[tuple[str, str]]:
        """(method, OpenAPI path template) of every request that reached a route, in order."""
        with self.lock:
            return [self.templates[n] for n in sorted(self.templates)]

    def unrouted(self) -> list[Request]:
        """Requests that matched no route (a client bug, or a route this stand-in lacks).

        Requests answered by an injected fault never reach the router and are listed too.
        """
        with self.lock:
            return [r for r in self.requests if r.number not in self.templates and r.path.startswith(self.prefix)
                    and not r.path.startswith("/_standin")]  # fmt: skip

    # -- serving ------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response | None:
        path = req.path
        if path.startswith("/_standin/"):
            return self._meta(path)
        lose = False
        with self.lock:
            for hook in self.hooks:
                if hook.matches(req):
                    hook.times -= 1
                    if hook.lose:
                        lose = True
                    elif hook.fn is not None:
                        hook.fn(req)
        if path == self.graphql_path and req.method == "POST":
            return None if lose else self._graphql(req)
        if self.prefix:
            if not path.startswith(self.prefix + "/"):
                return json_response(NOT_FOUND, 404)
            path = path[len(self.prefix) :]
        login = self._authenticate(req)
        if login is None:
            return _error(401, "Bad credentials")
        with self.lock:
            resp = self._dispatch(req, path, login)
            self._rate_headers(resp)
            self.replies[req.number] = (resp.status, resp.body)
        return None if lose else resp

    def _authenticate(self, req: Request) -> str | None:
        header = req.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() not in ("token", "bearer"):
            return None
        return self.tokens.get(value.strip())

    def _rate_headers(self, resp: Response) -> None:
        if time.time() >= self.rate_reset:
            self.rate_remaining, self.rate_reset = self.rate_limit_total, int(time.time()) + 3600
        self.rate_remaining = max(0, self.rate_remaining - 1)
        resp.headers.update({
            "x-ratelimit-limit": str(self.rate_limit_total),
            "x-ratelimit-remaining": str(self.rate_remaining),
            "x-ratelimit-used": str(self.rate_limit_total - self.rate_remaining),
            "x-ratelimit-reset": str(self.rate_reset),
            "x-ratelimit-resource": "core",
            "x-github-request-id": f"0000:{self._count:04d}",
        })  # fmt: skip

    def _dispatch(self, req: Request, path: str, login: str) -> Response:
        for method, template, pattern, handler in _COMPILED:
            match = pattern.match(path)
            if not match:
                continue
            if method != req.method:
                continue
            params = {k: unquote(v) for k, v in match.groupdict().items()}
            if "owner" in params and (params.pop("owner").lower(), params.pop("repo").lower()) != (
                self.owner.lower(),
                self.repo.lower(),
            ):
                return json_response(NOT_FOUND, 404)
            self.templates[req.number] = (method, template)
            return getattr(self, f"_h_{handler}")(req, login, **params)
        return json_response(NOT_FOUND, 404)

    def _meta(self, path: str) -> Response:
        if path == "/_standin/state":
            return json_response(self.snapshot())
        if path == "/_standin/requests":
            with self.lock:
                reqs = [{"method": r.method, "path": r.path, "status": r.status,
                         "template": (self.templates.get(r.number) or (None, None))[1]} for r in self.requests]  # fmt: skip
            return json_response(reqs)
        return json_response(NOT_FOUND, 404)

    # -- serialisation ----------------------------------------------------------------------
    def _user(self, login: str) -> dict:
        user = self.users.get(login)
        if user is None:
            user = self.users[login] = {
                "id": self._next_id(),
                "type": "Bot" if login.endswith("[bot]") else "User",
            }
        api = f"{self.api_url}/users/{login}"
        return {
            "login": login, "id": user["id"], "node_id": f"U_{user['id']}",
            "avatar_url": f"{self.server_url}/avatars/{login}", "gravatar_id": "",
            "url": api, "html_url": f"{self.server_url}/{login}",
            "followers_url": f"{api}/followers", "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}", "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions", "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos", "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events", "type": user["type"],
            "user_view_type": "public", "site_admin": False,
        }  # fmt: skip

    def _association(self, login: str) -> str:
        if login.lower() == self.owner.lower():
            return "OWNER"
        permission = self.collaborators.get(login, ("none", "none"))[0]
        return "COLLABORATOR" if permission != "none" else "NONE"

    def _repo_json(self) -> dict:
        api, html = self._repo_api(), self._repo_html()
        templated = {
            "archive_url": "/{archive_format}{/ref}", "assignees_url": "/assignees{/user}",
            "blobs_url": "/git/blobs{/sha}", "branches_url": "/branches{/branch}",
            "collaborators_url": "/collaborators{/collaborator}", "comments_url": "/comments{/number}",
            "commits_url": "/commits{/sha}", "compare_url": "/compare/{base}...{head}",
            "contents_url": "/contents/{+path}", "contributors_url": "/contributors",
            "deployments_url": "/deployments", "downloads_url": "/downloads", "events_url": "/events",
            "forks_url": "/forks", "git_commits_url": "/git/commits{/sha}", "git_refs_url": "/git/refs{/sha}",
            "git_tags_url": "/git/tags{/sha}", "hooks_url": "/hooks", "issue_comment_url": "/issues/comments{/number}",
            "issue_events_url": "/issues/events{/number}", "issues_url": "/issues{/number}",
            "keys_url": "/keys{/key_id}", "labels_url": "/labels{/name}", "languages_url": "/languages",
            "merges_url": "/merges", "milestones_url": "/milestones{/number}",
            "notifications_url": "/notifications{?since,all,participating}", "pulls_url": "/pulls{/number}",
            "releases_url": "/releases{/id}", "stargazers_url": "/stargazers", "statuses_url": "/statuses/{sha}",
            "subscribers_url": "/subscribers", "subscription_url": "/subscription", "tags_url": "/tags",
            "teams_url": "/teams", "trees_url": "/git/trees{/sha}",
        }  # fmt: skip
        host = self.server_url.split("://", 1)[-1]
        open_issues = sum(1 for i in self.issues.values() if i["state"] == "open" and not i["deleted"])
        return {
            "id": self.repo_id, "node_id": f"R_{self.repo_id}", "name": self.repo,
            "full_name": f"{self.owner}/{self.repo}", "owner": self._user(self.owner), "private": self.private,
            "visibility": "private" if self.private else "public",
            "html_url": html, "description": None, "fork": False, "url": api,
            **{key: api + suffix for key, suffix in templated.items()},
            "clone_url": f"{html}.git", "git_url": f"git://{host}/{self.owner}/{self.repo}.git",
            "ssh_url": f"git@{host}:{self.owner}/{self.repo}.git", "svn_url": html, "mirror_url": None,
            "homepage": None, "language": "Python", "size": 1, "default_branch": self.default_branch,
            "forks": 0, "forks_count": 0, "stargazers_count": 0, "watchers": 0, "watchers_count": 0,
            "open_issues": open_issues, "open_issues_count": open_issues,
            "has_issues": True, "has_projects": False, "has_wiki": False, "has_pages": False,
            "has_downloads": True, "has_discussions": False, "archived": False, "disabled": False,
            "license": None, "topics": [], "is_template": False,
            "pushed_at": _now(), "created_at": "2024-01-01T00:00:00Z", "updated_at": _now(),
            "network_count": 0, "subscribers_count": 0,
            "permissions": {"admin": True, "maintain": True, "push": True, "triage": True, "pull": True},
        }  # fmt: skip

    def _label_json(self, name: str) -> dict:
        label = self.labels[name.lower()]
        return {
            "id": label["id"], "node_id": f"LA_{label['id']}",
            "url": f"{self._repo_api()}/labels/{label['name']}", "name": label["name"],
            "description": label["description"], "color": label["color"], "default": label["default"],
        }  # fmt: skip

    def _milestone_json(self, number: int | None) -> dict | None:
        if number is None:
            return None
        m = self.milestones[number]
        in_milestone = [i for i in self.issues.values() if i["milestone"] == number and not i["deleted"]]
        return {
            "url": f"{self._repo_api()}/milestones/{number}",
            "html_url": f"{self._repo_html()}/milestone/{number}",
            "labels_url": f"{self._repo_api()}/milestones/{number}/labels",
            "id": m["id"], "node_id": f"MI_{m['id']}", "number": number, "state": m["state"],
            "title": m["title"], "description": m["description"], "creator": self._user(self.owner),
            "open_issues": sum(1 for i in in_milestone if i["state"] == "open"),
            "closed_issues": sum(1 for i in in_milestone if i["state"] == "closed"),
            "created_at": m["created_at"], "updated_at": m["updated_at"], "closed_at": m["closed_at"],
            "due_on": m["due_on"],
        }  # fmt: skip

    def _issue_json(self, number: int) -> dict:
        i = self.issues[number]
        api = f"{self._repo_api()}/issues/{number}"
        kind = "pull" if i["is_pr"] else "issues"
        assignees = [self._user(a) for a in i["assignees"]]
        out = {
            "url": api, "repository_url": self._repo_api(), "labels_url": f"{api}/labels{{/name}}",
            "comments_url": f"{api}/comments", "events_url": f"{api}/events",
            "html_url": f"{self._repo_html()}/{kind}/{number}", "id": i["id"], "node_id": f"I_{i['id']}",
            "number": number, "title": i["title"], "user": self._user(i["user"]),
            "labels": [self._label_json(n) for n in i["labels"]], "state": i["state"],
            "state_reason": i["state_reason"], "locked": False, "active_lock_reason": None,
            "assignee": assignees[0] if assignees else None, "assignees": assignees,
            "milestone": self._milestone_json(i["milestone"]),
            "comments": sum(1 for c in self.comments.values() if c["issue"] == number),
            "created_at": i["created_at"], "updated_at": i["updated_at"], "closed_at": i["closed_at"],
            "author_association": self._association(i["user"]), "body": i["body"],
        }  # fmt: skip
        if i["is_pr"]:
            pulls = f"{self._repo_api()}/pulls/{number}"
            html = f"{self._repo_html()}/pull/{number}"
            out["draft"] = self.pulls[number]["draft"]
            out["pull_request"] = {"url": pulls, "html_url": html, "diff_url": f"{html}.diff",
                                   "patch_url": f"{html}.patch", "merged_at": None}  # fmt: skip
        return out

    def _comment_json(self, comment: dict) -> dict:
        api = f"{self._repo_api()}/issues/comments/{comment['id']}"
        kind = "pull" if self.issues[comment["issue"]]["is_pr"] else "issues"
        return {
            "id": comment["id"], "node_id": f"IC_{comment['id']}", "url": api,
            "html_url": f"{self._repo_html()}/{kind}/{comment['issue']}#issuecomment-{comment['id']}",
            "issue_url": f"{self._repo_api()}/issues/{comment['issue']}", "body": comment["body"],
            "user": self._user(comment["user"]), "created_at": comment["created_at"],
            "updated_at": comment["updated_at"], "author_association": self._association(comment["user"]),
        }  # fmt: skip

    def _pull_json(self, number: int, simple: bool = False) -> dict:
        self._refresh_head(number)
        p, i = self.pulls[number], self.issues[number]
        api, html = f"{self._repo_api()}/pulls/{number}", f"{self._repo_html()}/pull/{number}"
        issue_api = f"{self._repo_api()}/issues/{number}"
        repo = self._repo_json()

        def side(ref: str, sha: str) -> dict:
            return {
                "label": f"{self.owner}:{ref}",
                "ref": ref,
                "sha": sha,
                "user": self._user(self.owner),
                "repo": repo,
            }

        assignees = [self._user(a) for a in i["assignees"]]
        links = {"self": api, "html": html, "issue": issue_api, "comments": f"{issue_api}/comments",
                 "review_comments": f"{api}/comments", "review_comment": f"{self._repo_api()}/pulls/comments{{/number}}",
                 "commits": f"{api}/commits", "statuses": f"{self._repo_api()}/statuses/{p['head_sha']}"}  # fmt: skip
        out = {
            "url": api, "id": p["id"], "node_id": f"PR_{p['id']}", "html_url": html,
            "diff_url": f"{html}.diff", "patch_url": f"{html}.patch", "issue_url": issue_api,
            "commits_url": links["commits"], "review_comments_url": links["review_comments"],
            "review_comment_url": links["review_comment"], "comments_url": links["comments"],
            "statuses_url": links["statuses"], "number": number, "state": i["state"], "locked": False,
            "title": i["title"], "user": self._user(i["user"]), "body": i["body"],
            "labels": [self._label_json(n) for n in i["labels"]], "milestone": self._milestone_json(i["milestone"]),
            "active_lock_reason": None, "created_at": i["created_at"], "updated_at": i["updated_at"],
            "closed_at": i["closed_at"], "merged_at": None, "merge_commit_sha": None,
            "assignee": assignees[0] if assignees else None, "assignees": assignees,
            "requested_reviewers": [], "requested_teams": [],
            "head": side(p["head_ref"], p["head_sha"]), "base": side(p["base_ref"], p["base_sha"]),
            "_links": {k: {"href": v} for k, v in links.items()},
            "author_association": self._association(i["user"]), "auto_merge": None, "draft": p["draft"],
        }  # fmt: skip
        if not simple:
            out.update({
                "merged": False, "mergeable": True, "rebaseable": True, "mergeable_state": "clean",
                "merged_by": None, "comments": sum(1 for c in self.comments.values() if c["issue"] == number),
                "review_comments": sum(1 for c in self.review_comments.values() if c["pr"] == number),
                "maintainer_can_modify": p["maintainer_can_modify"], "commits": 1, "additions": 1,
                "deletions": 0, "changed_files": 1,
            })  # fmt: skip
        return out

    def _review_json(self, review: dict) -> dict:
        pr = review["pr"]
        html = f"{self._repo_html()}/pull/{pr}#pullrequestreview-{review['id']}"
        pr_api = f"{self._repo_api()}/pulls/{pr}"
        return {
            "id": review["id"], "node_id": f"PRR_{review['id']}", "user": self._user(review["user"]),
            "body": review["body"], "state": review["state"], "html_url": html, "pull_request_url": pr_api,
            "_links": {"html": {"href": html}, "pull_request": {"href": pr_api}},
            "submitted_at": review["submitted_at"], "commit_id": review["commit_id"],
            "author_association": self._association(review["user"]),
        }  # fmt: skip

    def _review_comment_json(self, c: dict) -> dict:
        api = f"{self._repo_api()}/pulls/comments/{c['id']}"
        html = f"{self._repo_html()}/pull/{c['pr']}#discussion_r{c['id']}"
        pr_api = f"{self._repo_api()}/pulls/{c['pr']}"
        return {
            "url": api, "id": c["id"], "node_id": f"PRRC_{c['id']}", "pull_request_review_id": c["review_id"],
            "diff_hunk": c["diff_hunk"], "path": c["path"], "commit_id": c["commit_id"],
            "original_commit_id": c["commit_id"], "user": self._user(c["user"]), "body": c["body"],
            "created_at": c["created_at"], "updated_at": c["created_at"], "html_url": html,
            "pull_request_url": pr_api, "author_association": self._association(c["user"]),
            "_links": {"self": {"href": api}, "html": {"href": html}, "pull_request": {"href": pr_api}},
            "line": c["line"], "original_line": c["line"], "side": c["side"], "start_line": c.get("start_line"),
            "subject_type": "line",
        }  # fmt: skip

    def _page(self, req: Request, items: list[Any], path: str) -> Response:
        """One page of `items` with GitHub's `Link` header (per_page default 30, max 100)."""
        try:
            per_page = max(1, min(100, int(req.q("per_page", "30") or 30)))
            page = max(1, int(req.q("page", "1") or 1))
        except ValueError:
            return _validation([], "Invalid pagination parameter")
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        query = {k: v[0] for k, v in req.query.items()}

        def link(n: int, rel: str) -> str:
            return (
                f'<{self.api_url}{path}?{urlencode({**query, "per_page": per_page, "page": n})}>; rel="{rel}"'
            )

        rels = []
        if page < last:
            rels += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            rels += [link(1, "first"), link(page - 1, "prev")]
        headers = {"Link": ", ".join(rels)} if rels else {}
        return Response(200, chunk, headers)

    # -- git (repo_path) ------------------------------------------------------------------------
    def _git(self, *args: str) -> proc.Result:
        assert self.repo_path is not None
        return proc.run(
            ["git", "--git-dir", str(self.repo_path), "-c", "core.quotePath=false", *args], timeout=30
        )

    def _branch_sha(self, ref: str) -> str | None:
        if self.repo_path is None:
            return self.branches.get(ref)
        result = self._git("rev-parse", "--verify", "--quiet", f"refs/heads/{ref}^{{commit}}")
        return result.stdout.strip() if result.ok else None

    def _refresh_head(self, number: int) -> None:
        p = self.pulls[number]
        if self.repo_path is not None:
            for key in ("head", "base"):
                sha = self._branch_sha(p[f"{key}_ref"])
                if sha:
                    p[f"{key}_sha"] = sha

    def diff_lines(self, number: int) -> dict[str, dict[str, list[tuple[int, int]]]]:
        """For a PR (needs repo_path): {path: {"RIGHT": [(first, last)...], "LEFT": [...]}}.

        The ranges are the diff hunks (3 lines of context) of `git diff base...head`, which
        is where GitHub accepts review comments.
        """
        p = self.pulls[number]
        result = self._git("diff", "--no-color", "--no-ext-diff", "-U3", f"{p['base_ref']}...{p['head_ref']}")
        result.check("git diff")
        ranges: dict[str, dict[str, list[tuple[int, int]]]] = {}
        old = new = None
        for line in result.stdout.splitlines():
            if line.startswith("--- "):
                old = line[4:].rstrip("\t")
                old = old[2:] if old.startswith("a/") else None
            elif line.startswith("+++ "):
                new = line[4:].rstrip("\t")
                new = new[2:] if new.startswith("b/") else None
            elif line.startswith("@@"):
                m = re.match(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", line)
                if not m:
                    continue
                for side, path, start, count in (("LEFT", old, m[1], m[2]), ("RIGHT", new, m[3], m[4])):
                    n = int(count) if count is not None else 1
                    if path is not None and n > 0:
                        entry = ranges.setdefault(path, {"LEFT": [], "RIGHT": []})
                        entry[side].append((int(start), int(start) + n - 1))
        return ranges

    # -- handlers ---------------------------------------------------------------------------------
    def _h_rate_limit(self, req: Request, login: str) -> Response:
        core = {"limit": self.rate_limit_total, "used": self.rate_limit_total - self.rate_remaining,
                "remaining": self.rate_remaining, "reset": self.rate_reset}  # fmt: skip
        search = {"limit": 30, "used": 0, "remaining": 30, "reset": self.rate_reset}
        return json_response({"resources": {"core": core, "search": search}, "rate": core})

    def _h_get_authenticated(self, req: Request, login: str) -> Response:
        if login.endswith("[bot]"):  # an installation token: GitHub answers 403 here
            return _error(403, "Resource not accessible by integration")
        user = self._user(login)
        return json_response({
            **user, "name": None, "company": None, "blog": "", "location": None,
            "email": None, "hireable": None, "bio": None, "twitter_username": None, "public_repos": 0,
            "public_gists": 0, "followers": 0, "following": 0, "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
        })  # fmt: skip

    def _graphql(self, req: Request) -> Response:
        """GraphQL, as far as kagura uses it: `viewer { login }` (any token, installation ones too)."""
        with self.lock:
            login = self._authenticate(req)
            self.templates[req.number] = ("POST", "/graphql")
            if login is None:
                resp = json_response({"message": "Bad credentials", "documentation_url": DOCS}, 401)
            elif "viewer" in str((req.json() or {}).get("query") or ""):
                resp = json_response({"data": {"viewer": {"login": login}}})
            else:
                resp = json_response(
                    {"errors": [{"message": "the stand-in answers only `viewer { login }`"}]}
                )
            self._rate_headers(resp)
            self.replies[req.number] = (resp.status, resp.body)
        return resp

    def _h_get_repo(self, req: Request, login: str) -> Response:
        return json_response(self._repo_json())

    def _issue_or_error(self, number: str) -> tuple[int | None, Response | None]:
        try:
            n = int(number)
        except ValueError:
            return None, json_response(NOT_FOUND, 404)
        issue = self.issues.get(n)
        if issue is None:
            return None, json_response(NOT_FOUND, 404)
        if issue["deleted"]:
            return None, _error(410, "This issue was deleted")
        return n, None

    def _h_list_issues(self, req: Request, login: str) -> Response:
        state = req.q("state", "open")
        milestone = req.q("milestone")
        wanted = [x.strip().lower() for x in (req.q("labels") or "").split(",") if x.strip()]
        since = req.q("since")
        items = [i for i in self.issues.values() if not i["deleted"]]
        if state in ("open", "closed"):
            items = [i for i in items if i["state"] == state]
        if milestone == "none":
            items = [i for i in items if i["milestone"] is None]
        elif milestone == "*":
            items = [i for i in items if i["milestone"] is not None]
        elif milestone:
            if not milestone.isdigit() or int(milestone) not in self.milestones:
                return json_response(NOT_FOUND, 404)
            items = [i for i in items if i["milestone"] == int(milestone)]
        if wanted:
            items = [i for i in items if set(wanted) <= {n.lower() for n in i["labels"]}]
        if since:
            items = [i for i in items if i["updated_at"] >= since]
        for name in ("assignee", "creator"):
            value = req.q(name)
            if value and value not in ("*", "none"):
                key = "assignees" if name == "assignee" else "user"
                items = [i for i in items if (value in i[key] if key == "assignees" else i[key] == value)]
        reverse = req.q("direction", "desc") == "desc"
        sort_key = {"updated": "updated_at", "comments": "number"}.get(req.q("sort", "created") or "", "id")
        items.sort(key=lambda i: (i[sort_key], i["id"]), reverse=reverse)
        page = self._page(req, [i["number"] for i in items], f"/repos/{self.owner}/{self.repo}/issues")
        page.body = [self._issue_json(n) for n in page.body]
        return page

    def _h_create_issue(self, req: Request, login: str) -> Response:
        data = req.json() or {}
        if not data.get("title"):
            return _validation([{"resource": "Issue", "field": "title", "code": "missing_field"}])
        milestone = data.get("milestone")
        if milestone is not None and int(milestone) not in self.milestones:
            return _validation(
                [{"resource": "Issue", "field": "milestone", "code": "invalid", "value": milestone}]
            )
        issue = self.add_issue(None, data["title"], data.get("body"), user=login,
                               labels=list(data.get("labels") or []), milestone=milestone,
                               assignees=list(data.get("assignees") or []))  # fmt: skip
        return json_response(self._issue_json(issue["number"]), 201)

    def _h_get_issue(self, req: Request, login: str, issue_number: str) -> Response:
        n, err = self._issue_or_error(issue_number)
        return err or json_response(self._issue_json(n))

    def _h_update_issue(self, req: Request, login: str, issue_number: str) -> Response:
        n, err = self._issue_or_error(issue_number)
        if err:
            return err
        data, issue = req.json() or {}, self.issues[n]
        for key in ("title", "body", "state_reason"):
            if key in data:
                issue[key] = data[key]
        if "state" in data:
            issue["state"] = data["state"]
            issue["closed_at"] = _now() if data["state"] == "closed" else None
        if "labels" in data:
            issue["labels"] = [
                self.add_label(n if isinstance(n, str) else n["name"])["name"] for n in data["labels"]
            ]
        if "milestone" in data:
            issue["milestone"] = data["milestone"]
        if "assignees" in data:
            issue["assignees"] = list(data["assignees"])
        issue["updated_at"] = _now()
        return json_response(self._issue_json(n))

    def _h_list_comments(self, req: Request, login: str, issue_number: str) -> Response:
        n, err = self._issue_or_error(issue_number)
        if err:
            return err
        since = req.q("since")
        comments = [
            c for c in self.comments.values() if c["issue"] == n and (not since or c["updated_at"] >= since)
        ]
        page = self._page(req, comments, f"/repos/{self.owner}/{self.repo}/issues/{n}/comments")
        page.body = [self._comment_json(c) for c in page.body]
        return page

    def _h_create_comment(self, req: Request, login: str, issue_number: str) -> Response:
        n, err = self._issue_or_error(issue_number)
        if err:
            return err
        body = (req.json() or {}).get("body")
        if not isinstance(body, str) or not body:
            return _validation([{"resource": "IssueComment", "field": "body", "code": "missing_field"}])
        if len(body) > 65536:
            return _validation([{"resource": "IssueComment", "field": "body", "code": "custom",
                                 "message": "body is too long (maximum is 65536 characters)"}])  # fmt: skip
        comment = self.add_comment(n, body, user=login)
        self.issues[n]["updated_at"] = _now()
        return json_response(self._comment_json(comment), 201)

    def _comment_or_error(self, comment_id: str) -> tuple[dict | None, Response | None]:
        comment = self.comments.get(int(comment_id)) if comment_id.isdigit() else None
        return (comment, None) if comment else (None, json_response(NOT_FOUND, 404))

    def _h_get_comment(self, req: Request, login: str, comment_id: str) -> Response:
        comment, err = self._comment_or_error(comment_id)
        return err or json_response(self._comment_json(comment))

    def _h_update_comment(self, req: Request, login: str, comment_id: str) -> Response:
        comment, err = self._comment_or_error(comment_id)
        if err:
            return err
        body = (req.json() or {}).get("body")
        if not isinstance(body, str) or not body:
            return _validation([{"resource": "IssueComment", "field": "body", "code": "missing_field"}])
        comment["body"], comment["updated_at"] = body, _now()
        return json_response(self._comment_json(comment))

    def _h_delete_comment(self, req: Request, login: str, comment_id: str) -> Response:
        comment, err = self._comment_or_error(comment_id)
        if err:
            return err
        del self.comments[comment["id"]]
        return Response(204)

    def _react(self, req: Request, login: str, subject: tuple[str, int]) -> Response:
        content = (req.json() or {}).get("content")
        if content not in REACTIONS:
            return _validation([{"resource": "Reaction", "field": "content", "code": "invalid"}])
        for reaction in self.reactions:
            if (
                reaction["subject"] == subject
                and reaction["user"] == login
                and reaction["content"] == content
            ):
                return json_response(self._reaction_json(reaction), 200)
        reaction = {
            "id": self._next_id(),
            "subject": subject,
            "user": login,
            "content": content,
            "created_at": _now(),
        }
        self.reactions.append(reaction)
        return json_response(self._reaction_json(reaction), 201)

    def _reaction_json(self, r: dict) -> dict:
        return {"id": r["id"], "node_id": f"REA_{r['id']}", "user": self._user(r["user"]),
                "content": r["content"], "created_at": r["created_at"]}  # fmt: skip

    def _h_react_issue(self, req: Request, login: str, issue_number: str) -> Response:
        n, err = self._issue_or_error(issue_number)
        return err or self._react(req, login, ("issue", n))

    def _h_react_comment(self, req: Request, login: str, comment_id: str) -> Response:
        comment, err = self._comment_or_error(comment_id)
        return err or self._react(req, login, ("comment", comment["id"]))

    def _h_add_labels(self, req: Request, login: str, issue_number: str) -> Response:
        n, err = self._issue_or_error(issue_number)
        if err:
            return err
        data = req.json()
        names = data.get("labels") if isinstance(data, dict) else data
        if not isinstance(names, list) or not names:
            return _validation([{"resource": "Label", "field": "labels", "code": "missing_field"}])
        issue = self.issues[n]
        for name in names:
            name = name if isinstance(name, str) else name.get("name", "")
            label = self.add_label(name)
            if label["name"].lower() not in {x.lower() for x in issue["labels"]}:
                issue["labels"].append(label["name"])
        issue["updated_at"] = _now()
        return json_response([self._label_json(x) for x in issue["labels"]])

    def _h_remove_label(self, req: Request, login: str, issue_number: str, name: str) -> Response:
        n, err = self._issue_or_error(issue_number)
        if err:
            return err
        issue = self.issues[n]
        kept = [x for x in issue["labels"] if x.lower() != name.lower()]
        if len(kept) == len(issue["labels"]):
            return _error(404, "Label does not exist")
        issue["labels"], issue["updated_at"] = kept, _now()
        return json_response([self._label_json(x) for x in kept])

    def _h_get_label(self, req: Request, login: str, name: str) -> Response:
        if name.lower() not in self.labels:
            return json_response(NOT_FOUND, 404)
        return json_response(self._label_json(name))

    def _h_list_milestones(self, req: Request, login: str) -> Response:
        state = req.q("state", "open")
        items = [m for m in self.milestones.values() if state == "all" or m["state"] == state]
        sort = req.q("sort", "due_on")
        if sort == "completeness":
            items.sort(key=lambda m: self._milestone_json(m["number"])["closed_issues"])
        else:  # due_on: milestones without a due date come last
            items.sort(key=lambda m: (m["due_on"] is None, m["due_on"] or "", m["number"]))
        if req.q("direction", "asc") == "desc":
            items.reverse()
        page = self._page(req, [m["number"] for m in items], f"/repos/{self.owner}/{self.repo}/milestones")
        page.body = [self._milestone_json(n) for n in page.body]
        return page

    def _h_list_pulls(self, req: Request, login: str) -> Response:
        state = req.q("state", "open")
        numbers = [n for n in self.pulls if state == "all" or self.issues[n]["state"] == state]
        head = req.q("head")
        if head and ":" in head:  # GitHub ignores a head filter that is not owner-qualified
            owner, _, ref = head.partition(":")
            numbers = [
                n for n in numbers if owner.lower() == self.owner.lower() and self.pulls[n]["head_ref"] == ref
            ]
        base = req.q("base")
        if base:
            numbers = [n for n in numbers if self.pulls[n]["base_ref"] == base]
        numbers.sort(reverse=req.q("direction", "desc") == "desc")
        page = self._page(req, numbers, f"/repos/{self.owner}/{self.repo}/pulls")
        page.body = [self._pull_json(n, simple=True) for n in page.body]
        return page

    def _new_pull(self, head: str, base: str, title: str, body: str | None, user: str, draft: bool,
                  number: int | None = None, state: str = "open", maintainer_can_modify: bool = True) -> dict:  # fmt: skip
        issue = self.add_issue(number, title, body, user=user, state=state)
        issue["is_pr"] = True
        n = issue["number"]
        self.pulls[n] = {
            "id": self._next_id(), "number": n, "head_ref": head, "base_ref": base,
            "head_sha": self._branch_sha(head) or "0" * 40, "base_sha": self._branch_sha(base) or "0" * 40,
            "draft": bool(draft), "maintainer_can_modify": maintainer_can_modify,
        }  # fmt: skip
        return self.pulls[n]

    def _h_create_pull(self, req: Request, login: str) -> Response:
        data = req.json() or {}
        missing = [f for f in ("head", "base") if not data.get(f)]
        if not data.get("title") and not data.get("issue"):
            missing.append("title")
        if missing:
            return _validation(
                [{"resource": "PullRequest", "field": f, "code": "missing_field"} for f in missing]
            )
        head, base = str(data["head"]), str(data["base"])
        owner, sep, ref = head.partition(":")
        if not sep:
            owner, ref = self.owner, head
        if owner.lower() != self.owner.lower() or self._branch_sha(ref) is None:
            return _validation([{"resource": "PullRequest", "field": "head", "code": "invalid"}])
        if self._branch_sha(base) is None:
            return _validation([{"resource": "PullRequest", "field": "base", "code": "invalid"}])
        for p in self.open_pulls(ref):
            if p["base_ref"] == base:
                return _validation([{"resource": "PullRequest", "code": "custom",
                                     "message": f"A pull request already exists for {self.owner}:{ref}."}])  # fmt: skip
        if self.repo_path is not None:
            count = self._git("rev-list", "--count", f"{base}..{ref}")
            if count.ok and count.stdout.strip() == "0":
                return _validation([{"resource": "PullRequest", "code": "custom",
                                     "message": f"No commits between {base} and {ref}"}])  # fmt: skip
        pull = self._new_pull(ref, base, data.get("title") or f"#{data.get('issue')}", data.get("body"),
                              login, bool(data.get("draft")),
                              maintainer_can_modify=data.get("maintainer_can_modify", True))  # fmt: skip
        return json_response(self._pull_json(pull["number"]), 201)

    def _pull_or_error(self, pull_number: str) -> tuple[int | None, Response | None]:
        n = int(pull_number) if pull_number.isdigit() else None
        if n is None or n not in self.pulls:
            return None, json_response(NOT_FOUND, 404)
        return n, None

    def _h_get_pull(self, req: Request, login: str, pull_number: str) -> Response:
        n, err = self._pull_or_error(pull_number)
        return err or json_response(self._pull_json(n))

    def _h_update_pull(self, req: Request, login: str, pull_number: str) -> Response:
        n, err = self._pull_or_error(pull_number)
        if err:
            return err
        data, issue, pull = req.json() or {}, self.issues[n], self.pulls[n]
        if "state" in data:
            if data["state"] not in ("open", "closed"):
                return _validation([{"resource": "PullRequest", "field": "state", "code": "invalid"}])
            issue["state"] = data["state"]
            issue["closed_at"] = _now() if data["state"] == "closed" else None
        for key in ("title", "body"):
            if key in data:
                issue[key] = data[key]
        if "base" in data:
            if self._branch_sha(data["base"]) is None:
                return _validation([{"resource": "PullRequest", "field": "base", "code": "invalid"}])
            pull["base_ref"] = data["base"]
        if "maintainer_can_modify" in data:
            pull["maintainer_can_modify"] = bool(data["maintainer_can_modify"])
        issue["updated_at"] = _now()
        return json_response(self._pull_json(n))

    def _h_list_reviews(self, req: Request, login: str, pull_number: str) -> Response:
        n, err = self._pull_or_error(pull_number)
        if err:
            return err
        reviews = [r for r in self.reviews.values() if r["pr"] == n]
        page = self._page(req, reviews, f"/repos/{self.owner}/{self.repo}/pulls/{n}/reviews")
        page.body = [self._review_json(r) for r in page.body]
        return page

    def _h_create_review(self, req: Request, login: str, pull_number: str) -> Response:
        n, err = self._pull_or_error(pull_number)
        if err:
            return err
        self._refresh_head(n)
        data = req.json() or {}
        event = data.get("event")
        body = data.get("body") or ""
        comments = data.get("comments") or []
        states = {
            "APPROVE": "APPROVED",
            "REQUEST_CHANGES": "CHANGES_REQUESTED",
            "COMMENT": "COMMENTED",
            None: "PENDING",
        }
        if event not in states:
            return _validation([{"resource": "PullRequestReview", "field": "event", "code": "invalid"}])
        if event in ("APPROVE", "REQUEST_CHANGES") and self.issues[n]["user"] == login:
            verb = "approve" if event == "APPROVE" else "request changes on"
            return _error(
                422, "Unprocessable Entity", errors=[f"Review Can not {verb} your own pull request"]
            )
        if event == "REQUEST_CHANGES" and not body:
            return _error(422, "Unprocessable Entity", errors=["Review body is required for REQUEST_CHANGES"])
        ranges = self.diff_lines(n) if self.repo_path is not None and comments else None
        checked = []
        for c in comments:
            if not c.get("path") or not c.get("body") or not (c.get("line") or c.get("position")):
                return _error(
                    422, "Unprocessable Entity", errors=["Review comments need path, body and line"]
                )
            side = c.get("side") or "RIGHT"
            lines = [int(c.get("start_line") or c.get("line") or 0), int(c.get("line") or 0)]
            if ranges is not None:
                if c["path"] not in ranges:
                    return _error(422, "Unprocessable Entity", errors=["Path could not be resolved"])
                hunks = ranges[c["path"]].get(side, [])
                if not all(any(a <= x <= b for a, b in hunks) for x in lines):
                    return _error(422, "Unprocessable Entity", errors=["Line could not be resolved"])
            checked.append((c, side))
        commit_id = data.get("commit_id") or self.pulls[n]["head_sha"]
        review = {"id": self._next_id(), "pr": n, "user": login, "body": body, "state": states[event],
                  "commit_id": commit_id, "submitted_at": _now() if event else None}  # fmt: skip
        self.reviews[review["id"]] = review
        for c, side in checked:
            cid = self._next_id()
            self.review_comments[cid] = {
                "id": cid, "pr": n, "review_id": review["id"], "path": c["path"], "line": c.get("line"),
                "start_line": c.get("start_line"), "side": side, "body": c["body"], "user": login,
                "commit_id": commit_id, "diff_hunk": "@@", "created_at": _now(),
            }  # fmt: skip
        return json_response(self._review_json(review), 200)

    def _h_list_review_comments(self, req: Request, login: str, pull_number: str) -> Response:
        n, err = self._pull_or_error(pull_number)
        if err:
            return err
        comments = [c for c in self.review_comments.values() if c["pr"] == n]
        page = self._page(req, comments, f"/repos/{self.owner}/{self.repo}/pulls/{n}/comments")
        page.body = [self._review_comment_json(c) for c in page.body]
        return page

    def _h_get_permission(self, req: Request, login: str, username: str) -> Response:
        if username not in self.collaborators:
            return json_response(NOT_FOUND, 404)
        permission, role = self.collaborators[username]
        user = self._user(username)
        flags = {
            "admin": permission == "admin", "maintain": role in ("admin", "maintain"),
            "push": permission in ("admin", "write"), "triage": permission in ("admin", "write") or role == "triage",
            "pull": permission != "none",
        }  # fmt: skip
        return json_response(
            {
                "permission": permission,
                "role_name": role,
                "user": {**user, "permissions": flags, "role_name": role},
            }
        )

    def _h_get_workflow_run(self, req: Request, login: str, run_id: str) -> Response:
        run = self.workflow_runs.get(int(run_id)) if run_id.isdigit() else None
        if run is None:
            return json_response(NOT_FOUND, 404)
        api = f"{self._repo_api()}/actions/runs/{run['id']}"
        repo = self._repo_json()
        out = {
            "id": run["id"], "node_id": f"WFR_{run['id']}", "name": run["name"], "display_title": run["name"],
            "head_branch": run["head_branch"], "head_sha": run["head_sha"], "path": ".github/workflows/kagura.yml",
            "run_number": run.get("run_number", 1), "run_attempt": run["run_attempt"], "event": run["event"],
            "status": run["status"], "conclusion": run["conclusion"], "workflow_id": 1, "url": api,
            "html_url": f"{self._repo_html()}/actions/runs/{run['id']}", "pull_requests": [],
            "created_at": _now(), "updated_at": _now(), "run_started_at": _now(),
            "actor": self._user(run["actor"]), "triggering_actor": self._user(run["actor"]),
            "jobs_url": f"{api}/jobs", "logs_url": f"{api}/logs", "check_suite_url": f"{self._repo_api()}/check-suites/1",
            "artifacts_url": f"{api}/artifacts", "cancel_url": f"{api}/cancel", "rerun_url": f"{api}/rerun",
            "workflow_url": f"{self._repo_api()}/actions/workflows/1",
            "head_commit": {"id": run["head_sha"], "tree_id": run["head_sha"], "message": "commit",
                            "timestamp": _now(), "author": None, "committer": None},
            "repository": repo, "head_repository": repo,
        }  # fmt: skip
        out.update({k: v for k, v in run.items() if k not in out or k in ("status", "conclusion")})
        out["actor"] = self._user(run["actor"])
        return json_response(out)

    def _h_get_protection(self, req: Request, login: str, branch: str) -> Response:
        if self._branch_sha(branch) is None and branch not in self.protection:
            return _error(404, "Branch not found")
        if branch not in self.protection:
            return _error(404, "Branch not protected")
        api = f"{self._repo_api()}/branches/{branch}/protection"
        protection = {"url": api, **self.protection[branch]}
        checks = protection.get("required_status_checks")
        if isinstance(checks, dict):
            contexts = list(checks.get("contexts") or [])
            protection["required_status_checks"] = {
                "url": f"{api}/required_status_checks", "strict": bool(checks.get("strict")),
                "contexts": contexts, "contexts_url": f"{api}/required_status_checks/contexts",
                "checks": [{"context": c, "app_id": None} for c in contexts], **checks,
            }  # fmt: skip
        return json_response(protection)

    # -- state for the process mode ---------------------------------------------------------
    def snapshot(self) -> dict:
        """Everything a container test may want to assert on, as JSON."""
        with self.lock:
            return {
                "issues": {
                    str(n): self._issue_json(n) for n in sorted(self.issues) if not self.issues[n]["deleted"]
                },
                "comments": [self._comment_json(c) | {"issue": c["issue"]} for c in self.comments.values()],
                "pulls": {str(n): self._pull_json(n) for n in sorted(self.pulls)},
                "reviews": [self._review_json(r) | {"pr": r["pr"]} for r in self.reviews.values()],
                "reactions": [
                    {"subject": list(r["subject"]), "user": r["user"], "content": r["content"]}
                    for r in self.reactions
                ],  # fmt: skip
                "labels": sorted(label["name"] for label in self.labels.values()),
            }

    @classmethod
    def from_state(cls, state: dict, **kwargs: Any) -> GitHubStandIn:
        """Build from a JSON description (see `python -m kagura_engineer.demo.github --help`)."""
        options = {k: state[k] for k in ("owner", "repo", "token", "prefix", "default_branch",
                                         "bot_login", "repo_path", "private") if k in state}  # fmt: skip
        standin = cls(**{**options, **kwargs})
        for m in state.get("milestones", []):
            standin.add_milestone(**m)
        for label in state.get("labels", []):
            if isinstance(label, dict):
                standin.add_label(**label)
            else:
                standin.add_label(label)
        for issue in state.get("issues", []):
            standin.add_issue(**issue)
        for comment in state.get("comments", []):
            standin.add_comment(**comment)
        for login, permission in state.get("permissions", {}).items():
            standin.set_permission(login, permission)
        for token, login in state.get("tokens", {}).items():
            standin.add_token(token, login)
        for branch in state.get("branches", []):
            standin.add_branch(branch)
        for pull in state.get("pulls", []):
            standin.add_pull(**pull)
        for run in state.get("workflow_runs", []):
            standin.add_workflow_run(**run)
        for branch, protection in state.get("protection", {}).items():
            standin.set_branch_protection(branch, protection)
        return standin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kagura_engineer.demo.github", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", help="write the bound port here once serving")
    parser.add_argument(
        "--state", help="JSON: owner, repo, token, prefix, issues, milestones, permissions, ..."
    )
    args = parser.parse_args(argv)
    state = json.loads(Path(args.state).read_text(encoding="utf-8")) if args.state else {}
    return serve_until_signalled(GitHubStandIn.from_state(state, port=args.port).start(), args.port_file)


if __name__ == "__main__":
    raise SystemExit(main())
