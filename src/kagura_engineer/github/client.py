"""The GitHub REST client: a small sync wrapper over ghapi, the only module that calls GitHub.

- Base URLs come from `GITHUB_API_URL` / `GITHUB_SERVER_URL` (GitHub Enterprise Server's
  `https://ghe.example.com/api/v3` works: ghapi keeps a path prefix), the repository from
  `GITHUB_REPOSITORY`.
- Every HTTP attempt is counted (`calls`, `calls_by_kind`, `calls_by_op`) for benchmarks.
- Retries (tenacity) follow `failures.RetryPolicy`: rate limits wait `Retry-After`, else
  until `x-ratelimit-reset`, else >= 60 s doubling; 5xx and timeouts back off briefly and are
  retried only when repeating the call cannot duplicate anything. Creations (comments, PRs,
  reviews) instead look for their own result before trying again, so a lost reply never
  produces a second comment or PR.
- Errors are translated once into `NotFound` / `PermissionDenied` / `Transient` /
  `GitHubError`; the token never appears in a message, a repr or a log line, and every
  title and body we publish goes through `proc.redact` first.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from kagura_engineer import __version__
from kagura_engineer.credentials import GITHUB_TOKEN_ENV
from kagura_engineer.errors import (
    ConfigError,
    GitHubError,
    NeedsUserError,
    NotFound,
    PermissionDenied,
    Transient,
)
from kagura_engineer.github.failures import (
    NETWORK,
    SERVER,
    Failure,
    RetryPolicy,
    classify,
    to_error,
    wait_seconds,
)
from kagura_engineer.github.permission import PERMISSION_LEVELS
from kagura_engineer.proc import redact, register_secret
from kagura_engineer.urls import is_loopback

log = logging.getLogger("kagura_engineer.github")

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_SERVER_URL = "https://github.com"
API_VERSION = "2022-11-28"
USER_AGENT = f"kagura-engineer/{__version__}"
PER_PAGE = 100
MAX_PAGES = 100
REACTIONS = frozenset({"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"})
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class IsPullRequest(GitHubError):
    """`get_issue` was given the number of a pull request."""

    code = "github-is-pull-request"
    exit_code = 2


@dataclass
class Reply:
    status: int
    data: Any
    headers: dict[str, str] = field(default_factory=dict)


#: Every operation `GitHub` calls (`_send`'s `op`). Its ghapi client is built over these alone:
#: `GhApi()` builds an operation object for each of the 1,225 in GitHub's description (~0.4 s).
OPERATIONS = frozenset({
    "actions.get_workflow_run", "issues.add_labels", "issues.create", "issues.create_comment", "issues.get",
    "issues.get_label", "issues.list_comments", "issues.list_for_repo", "issues.list_milestones",
    "issues.remove_label", "issues.update", "issues.update_comment", "pulls.create", "pulls.create_review",
    "pulls.get", "pulls.list", "pulls.list_review_comments", "pulls.list_reviews", "pulls.update",
    "rate_limit.get", "reactions.create_for_issue", "reactions.create_for_issue_comment", "repos.get",
    "repos.get_branch_protection", "repos.get_collaborator_permission_level", "users.get_authenticated",
})  # fmt: skip


def lean_ghapi(
    operations: frozenset[str], *, owner: str, repo: str, token: str, gh_host: str, timeout: float
) -> Any:
    """A sync `GhApi` whose groups hold only `operations` ("issues.get", ...).

    What `GhApi.__init__` does, over a subset of ghapi's parsed description: the same
    transport, headers and operation functions (`api.issues.get(...)`, `fn.path`, `fn.verb`).
    An operation missing from ghapi's description is a `ValueError` here, not at first use.
    """
    from fastcore.apisurface import mk_groups
    from fastspec.oapi import SyncOpFunc
    from ghapi import core

    api = core.GhApi.__new__(core.GhApi)
    api.headers = {"Accept": "application/vnd.github.v3+json", "Authorization": f"token {token}"}
    api.token, api.gh_host = token, gh_host
    api.transport = core.GhSyncTransport(timeout=timeout, base_headers=api.headers)
    specs = [o for o in core.pspec.ops if f"{o.group}.{o.name}" in operations]
    missing = operations - {f"{o.group}.{o.name}" for o in specs}
    if missing:
        raise ValueError(f"ghapi's GitHub description has no operation {', '.join(sorted(missing))}")
    defaults = core._LiveDefaults(owner=owner, repo=repo)  # what GhApi gives every operation
    api.ops = [SyncOpFunc(o, api.transport, gh_host, defaults=defaults) for o in specs]
    api.func_dict = {f"{o.path}:{o.verb.upper()}": o for o in api.ops}
    api.groups = mk_groups(api.ops)
    for name, group in api.groups.items():
        setattr(api, name, group)
    return api


@functools.lru_cache(maxsize=8)
def _ghapi(api_url: str, owner: str, repo: str, token: str, timeout: float) -> Any:
    """One ghapi client per (host, repo, token), over the operations this module calls."""
    api = lean_ghapi(OPERATIONS, owner=owner, repo=repo, token=token, gh_host=api_url, timeout=timeout)
    # The same dict is the transport's base headers. Pin the token we were given (ghapi
    # would prefer a GITHUB_JWT_TOKEN from the environment), the API version, our agent.
    api.headers["Authorization"] = f"token {token}"
    api.headers["X-GitHub-Api-Version"] = API_VERSION
    api.headers["User-Agent"] = USER_AGENT
    api.transport.retries = 0  # tenacity below owns every retry (and its sleep is injectable)
    # ghapi opens a new httpx2 client (and TLS context, ~45 ms) per request; keep one instead.
    # Plain http to this machine (a stand-in, a tunnel) loads no CA bundle (~0.1-0.3 s); any
    # other host keeps verification, for a redirect to https too.
    import httpx2

    verify = not (api_url.startswith("http://") and is_loopback(api_url))
    api.transport.client = httpx2.Client(timeout=timeout, follow_redirects=True, verify=verify)
    return api




def _server_url_for(api_url: str) -> str:
    if api_url.rstrip("/") == DEFAULT_API_URL:
        return DEFAULT_SERVER_URL
    if api_url.rstrip("/").endswith("/api/v3"):
        return api_url.rstrip("/")[: -len("/api/v3")]
    parts = urlsplit(api_url)
    return f"{parts.scheme}://{parts.netloc}"


def _check_url(name: str, value: str) -> str:
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} is not an http(s) URL: {redact(value)!r}")
    return value


class GitHub:
    """Sync GitHub REST operations for one repository."""

    def __init__(
        self,
        owner: str,
        repo: str,
        token: str,
        *,
        api_url: str = DEFAULT_API_URL,
        server_url: str | None = None,
        timeout: float = 30.0,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        token = (token or "").strip()
        if not token:
            raise NeedsUserError("no GitHub token", hint="set GITHUB_TOKEN (or GH_TOKEN)")
        if any(c.isspace() for c in token):
            raise ConfigError("the GitHub token contains whitespace")
        register_secret(token)
        self.owner = owner
        self.repo = repo
        self.api_url = _check_url("GITHUB_API_URL", api_url)
        self.server_url = _check_url("GITHUB_SERVER_URL", server_url or _server_url_for(self.api_url))
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self.calls = 0
        self.calls_by_kind: Counter[str] = Counter()
        self.calls_by_op: Counter[str] = Counter()
        self.rate_remaining: int | None = None
        self._token = token
        self._sleep = sleep
        self._clock = clock
        self._kind = "api"
        self._login: str | None = None

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        token: str | None = None,
        repository: str | None = None,
        **kwargs: Any,
    ) -> GitHub:
        """Build from the Actions environment: token, GITHUB_REPOSITORY, GITHUB_API_URL/SERVER_URL.

        The token is `token`, else the first of `credentials.GITHUB_TOKEN_ENV` that is set
        (GITHUB_TOKEN, GH_TOKEN, INPUT_GITHUB_TOKEN).
        """
        env = os.environ if environ is None else environ
        token = (token or next((env[n] for n in GITHUB_TOKEN_ENV if env.get(n)), "")).strip()
        if not token:
            *first, last = GITHUB_TOKEN_ENV
            raise NeedsUserError(
                f"no GitHub token: {', '.join(first)} and {last} are all unset",
                hint="in a workflow pass `github_token: ${{ github.token }}`; locally export GH_TOKEN=$(gh auth token)",
            )
        repository = (repository or env.get("GITHUB_REPOSITORY") or "").strip()
        if not repository:
            raise ConfigError(
                "no repository: GITHUB_REPOSITORY is unset", hint="set GITHUB_REPOSITORY=owner/repo"
            )
        if not _REPOSITORY.match(repository):
            raise ConfigError(f"repository must look like owner/repo, got {repository!r}")
        owner, repo = repository.split("/")
        api_url = env.get("GITHUB_API_URL") or DEFAULT_API_URL
        server_url = env.get("GITHUB_SERVER_URL") or None
        return cls(owner, repo, token, api_url=api_url, server_url=server_url, **kwargs)

    def __repr__(self) -> str:
        return f"GitHub({self.owner}/{self.repo} at {self.api_url})"

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    # -- plumbing ---------------------------------------------------------------------
    @contextmanager
    def tagged(self, kind: str) -> Iterator[None]:
        """Count the calls made inside under `calls_by_kind[kind]` (e.g. "progress")."""
        previous, self._kind = self._kind, kind
        try:
            yield
        finally:
            self._kind = previous

    @property
    def _api(self) -> Any:
        return _ghapi(self.api_url, self.owner, self.repo, self._token, self.timeout)

    def _path(self, template: str, params: Mapping[str, Any]) -> str:
        values = {"owner": self.owner, "repo": self.repo, **params}
        return re.sub(
            r"\{(\w+)\}", lambda m: quote(str(values.get(m.group(1), m.group(0))), safe=""), template
        )

    def _send(
        self,
        op: str,
        *,
        idempotent: bool | None = None,
        raw_path: bool = False,
        graphql: dict | None = None,
        **params: Any,
    ) -> Reply:
        """One operation (`"issues.get"`) with retries; `raw_path` quotes every path parameter.

        (ghapi leaves a `/` inside a path parameter unescaped, which breaks label names such
        as `kagura/blocked`; those calls go through the transport with a fully quoted URL.)
        """
        if graphql is not None:  # op "graphql": a POST to the GraphQL endpoint
            fn, method, path = None, "POST", "/graphql"
        else:
            group, name = op.split(".")
            fn = getattr(getattr(self._api, group), name)
            method = fn.verb.upper()
            path = self._path(fn.path, params)
        idem = method != "POST" if idempotent is None else idempotent
        policy = self.policy
        start = self._clock()
        attempts = 0

        def attempt() -> Reply:
            nonlocal attempts
            attempts += 1
            self.calls += 1
            self.calls_by_kind[self._kind] += 1
            self.calls_by_op[op] += 1
            try:
                if graphql is not None:
                    resp = self._api.transport.request(method, self.graphql_url, raw=True, json=graphql)
                elif raw_path:
                    resp = self._api.transport.request(method, self.api_url + path, raw=True)
                else:
                    resp = fn(**params, raw_=True)
            except Exception as exc:
                failure = classify(exc, method, path)
                failure.attempts = attempts
                raise failure from None
            headers = {k.lower(): v for k, v in resp.headers.items()}
            if "x-ratelimit-remaining" in headers:
                try:
                    self.rate_remaining = int(headers["x-ratelimit-remaining"])
                except ValueError:
                    pass
            data = resp.json() if resp.content else None
            log.debug("GitHub %s %s -> %s", method, path, resp.status_code)
            return Reply(resp.status_code, data, headers)

        def wait(state: Any) -> float:
            return wait_seconds(state.outcome.exception(), state.attempt_number, policy)

        def stop(state: Any) -> bool:
            failure: Failure = state.outcome.exception()
            if state.attempt_number >= policy.attempts:
                return True
            spent = max(self._clock() - start, state.idle_for)
            if state.upcoming_sleep > policy.max_wait or spent + state.upcoming_sleep > policy.total_seconds:
                failure.gave_up_wait = state.upcoming_sleep
                return True
            return False

        def before_sleep(state: Any) -> None:
            failure: Failure = state.outcome.exception()
            log.warning(
                "GitHub %s %s: %s (%s); retrying in %.0fs (attempt %d of %d)",
                method, path, failure.status or failure.message, failure.kind,
                state.upcoming_sleep, state.attempt_number + 1, policy.attempts,
            )  # fmt: skip

        from tenacity import Retrying, retry_if_exception

        retrying = Retrying(
            retry=retry_if_exception(lambda e: isinstance(e, Failure) and e.retryable(idem)),
            stop=stop,
            wait=wait,
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except Failure as failure:
            if failure.kind == "rate-limit" and failure.gave_up_wait is None:
                failure.gave_up_wait = wait_seconds(failure, failure.attempts, policy)
            raise to_error(failure) from failure.cause

    @property
    def graphql_url(self) -> str:
        """The GraphQL endpoint: `<api>/graphql`; on GHES `/api/v3` becomes `/api/graphql`."""
        if self.api_url.endswith("/api/v3"):
            return self.api_url[: -len("/v3")] + "/graphql"
        return self.api_url + "/graphql"

    @staticmethod
    def _text_fields(fields: dict[str, Any]) -> dict[str, Any]:
        """Redact secrets from the text we publish (titles, bodies): a leak-proof last line."""
        return {
            k: redact(v) if k in ("title", "body") and isinstance(v, str) else v for k, v in fields.items()
        }

    def _paged(self, op: str, **params: Any) -> Iterator[dict]:
        """Every item of a list operation, following `Link: rel="next"` (100 per page)."""
        for page in range(1, MAX_PAGES + 1):
            reply = self._send(op, per_page=PER_PAGE, page=page, **params)
            yield from reply.data or []
            if 'rel="next"' not in reply.headers.get("link", ""):
                return

    def _create_once(self, create: Callable[[], dict], lookup: Callable[[], dict | None]) -> dict:
        """Run a non-idempotent creation at most once in effect.

        When the answer is lost (5xx, timeout, dropped connection) the creation may or may
        not have happened: look for its result before trying again.
        """
        policy = self.policy
        for attempt in range(1, policy.attempts + 1):
            try:
                return create()
            except Transient as exc:
                if getattr(exc, "kind", None) not in (SERVER, NETWORK):
                    raise  # rate limits and unreachable hosts were already retried inside _send
                found = lookup()
                if found is not None:
                    log.info("GitHub: the reply was lost but the creation took effect; using it")
                    return found
                if attempt == policy.attempts:
                    raise
                self._sleep(min(policy.base_delay * 2 ** (attempt - 1), policy.max_delay))
        raise AssertionError("unreachable")

    # -- who we are ---------------------------------------------------------------------
    def login(self) -> str:
        """The account this token writes as, asked once per client.

        `GET /user` answers for personal access tokens and GitHub App user tokens. An
        installation token (the Actions `GITHUB_TOKEN`, a GitHub App's) gets 403 there; GraphQL
        `viewer` names its bot (`github-actions[bot]`, `<app-slug>[bot]`; REST has no way for
        an installation token to learn its app). If that fails too: `github-actions[bot]`.
        """
        if self._login is None:
            try:
                self._login = str(self._send("users.get_authenticated").data["login"])
            except PermissionDenied as exc:
                if exc.status != 403:
                    raise
                self._login = self._viewer() or "github-actions[bot]"
                log.debug("GitHub: an installation token, writing as %s", self._login)
        return self._login

    def _viewer(self) -> str | None:
        try:
            reply = self._send("graphql", idempotent=True, graphql={"query": "query { viewer { login } }"})
        except GitHubError as exc:
            log.warning(
                "GitHub: could not ask GraphQL who this token is (%s); assuming github-actions[bot]", exc
            )
            return None
        data = reply.data if isinstance(reply.data, dict) else {}
        login = ((data.get("data") or {}).get("viewer") or {}).get("login")
        return str(login) if login else None

    def is_own(self, item: Mapping[str, Any]) -> bool:
        """Whether a comment or review was written by this token's account (`login()`)."""
        author = (item.get("user") or {}).get("login") or ""
        return author.lower() == self.login().lower()

    # -- repository ---------------------------------------------------------------------
    def get_repo(self) -> dict:
        return self._send("repos.get").data

    def rate_limit(self) -> dict:
        """GET /rate_limit (free of primary quota): `resources.core.remaining` etc."""
        return self._send("rate_limit.get").data

    def get_branch_protection(self, branch: str) -> dict | None:
        """The branch's protection settings; None when it is not protected (404)."""
        try:
            return self._send("repos.get_branch_protection", branch=branch).data
        except NotFound:
            return None

    def get_workflow_run(self, run_id: int) -> dict:
        return self._send("actions.get_workflow_run", run_id=run_id).data

    def permission(self, username: str) -> str:
        """The user's role: admin|maintain|write|triage|read|none (not a collaborator: none)."""
        try:
            data = self._send("repos.get_collaborator_permission_level", username=username).data
        except NotFound:
            return "none"
        role = str(data.get("role_name") or "").lower()
        if role in ("maintain", "triage"):
            return role
        permission = str(data.get("permission") or "none").lower()
        return permission if permission in PERMISSION_LEVELS else "none"

    # -- issues ---------------------------------------------------------------------------
    def get_issue(self, number: int) -> dict:
        """The issue; raises `IsPullRequest` when the number belongs to a pull request."""
        data = self._send("issues.get", issue_number=number).data
        if data.get("pull_request") is not None:
            raise IsPullRequest(
                f"#{number} in {self.full_name} is a pull request, not an issue",
                hint=f"use `kagura-engineer review {number}` for pull requests",
            )
        return data

    def create_issue(self, title: str, body: str = "", labels: list[str] | None = None,
                     milestone: int | None = None) -> dict:  # fmt: skip
        """Open an issue (e.g. a goal's tracking issue). Reconciled by exact title and body."""
        title, body = redact(title), redact(body)
        params: dict[str, Any] = {"title": title, "body": body}
        if labels:
            params["labels"] = labels
        if milestone is not None:
            params["milestone"] = milestone

        def lookup() -> dict | None:
            since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 600))
            for item in self._paged("issues.list_for_repo", state="all", since=since):
                if item.get("title") == title and (item.get("body") or "") == body:
                    return item
            return None

        return self._create_once(lambda: self._send("issues.create", **params).data, lookup)

    def update_issue(self, number: int, **fields: Any) -> dict:
        return self._send("issues.update", issue_number=number, **self._text_fields(fields)).data

    def list_milestones(self, state: str = "open") -> list[dict]:
        """Milestones in GitHub's order (due date ascending)."""
        return list(self._paged("issues.list_milestones", state=state))

    def find_milestone(self, title: str, state: str = "all") -> dict | None:
        """The milestone with exactly this title (the API has no title filter)."""
        for milestone in self._paged("issues.list_milestones", state=state):
            if milestone.get("title") == title:
                return milestone
        return None

    def list_milestone_issues(self, title: str, state: str = "open") -> list[dict]:
        """Issues (never PRs) in the milestone titled `title`; NotFound when there is none."""
        milestone = self.find_milestone(title)
        if milestone is None:
            raise NotFound(
                f"no milestone titled {title!r} in {self.full_name}",
                hint="check the milestone input (titles match exactly, case included)",
            )
        items = self._paged("issues.list_for_repo", milestone=str(milestone["number"]), state=state)
        return [item for item in items if item.get("pull_request") is None]

    # -- comments -------------------------------------------------------------------------
    def list_comments(self, number: int, since: str | None = None) -> list[dict]:
        params: dict[str, Any] = {"issue_number": number}
        if since:
            params["since"] = since
        return list(self._paged("issues.list_comments", **params))

    def create_comment(self, number: int, body: str) -> dict:
        """Post a comment. A lost reply is reconciled by looking for the identical body."""
        body = redact(body)
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 600))

        def lookup() -> dict | None:
            return next(
                (
                    c
                    for c in self.list_comments(number, since=started)
                    if c.get("body") == body and self.is_own(c)
                ),
                None,
            )

        return self._create_once(
            lambda: self._send("issues.create_comment", issue_number=number, body=body).data, lookup
        )

    def update_comment(self, comment_id: int, body: str) -> dict:
        return self._send("issues.update_comment", comment_id=comment_id, body=redact(body)).data

    def find_comment(self, number: int, marker: str) -> dict | None:
        """The oldest comment of ours (`is_own`) whose body contains `marker`.

        A comment by anyone else never counts, marker or not: anybody can paste a marker,
        and what we find we edit and trust.
        """
        for comment in self._paged("issues.list_comments", issue_number=number):
            if marker in (comment.get("body") or "") and self.is_own(comment):
                return comment
        return None

    def upsert_comment(self, number: int, marker: str, body: str) -> dict:
        """Edit the comment carrying `marker`, or create it; `body` must contain the marker."""
        body = redact(body)
        if marker not in body:
            raise ValueError("upsert_comment: the body must contain the marker")
        existing = self.find_comment(number, marker)
        if existing is None:
            return self._create_once(
                lambda: self._send("issues.create_comment", issue_number=number, body=body).data,
                lambda: self.find_comment(number, marker),
            )
        if existing.get("body") == body:
            return existing
        return self.update_comment(existing["id"], body)

    # -- labels and reactions ---------------------------------------------------------------
    def add_labels(self, number: int, labels: list[str]) -> None:
        if labels:
            self._send("issues.add_labels", idempotent=True, issue_number=number, labels=list(labels))

    def remove_label(self, number: int, label: str) -> None:
        """Remove a label; a label that is not there (404) is fine."""
        try:
            self._send("issues.remove_label", raw_path=True, issue_number=number, name=label)
        except NotFound:
            pass

    def get_label(self, name: str) -> dict | None:
        try:
            return self._send("issues.get_label", raw_path=True, name=name).data
        except NotFound:
            return None

    def react(self, content: str, *, issue: int | None = None, comment_id: int | None = None) -> None:
        """Add a reaction to an issue/PR or to an issue comment (an existing one is fine)."""
        if content not in REACTIONS:
            raise ValueError(f"unknown reaction {content!r}")
        if (issue is None) == (comment_id is None):
            raise ValueError("react: pass exactly one of issue= or comment_id=")
        if issue is not None:
            self._send("reactions.create_for_issue", idempotent=True, issue_number=issue, content=content)
        else:
            self._send(
                "reactions.create_for_issue_comment", idempotent=True, comment_id=comment_id, content=content
            )

    # -- pull requests --------------------------------------------------------------------
    def get_pull(self, number: int) -> dict:
        return self._send("pulls.get", pull_number=number).data

    def find_pr(self, head_branch: str, state: str = "open") -> dict | None:
        """The newest PR from `head_branch` of this repository (GitHub needs `owner:branch`)."""
        head = head_branch if ":" in head_branch else f"{self.owner}:{head_branch}"
        reply = self._send("pulls.list", head=head, state=state, per_page=PER_PAGE)
        return next(iter(reply.data or []), None)

    def find_or_create_pr(
        self, head: str, base: str, title: str, body: str, draft: bool = False
    ) -> tuple[dict, bool]:
        """The open PR for `head`, created when missing: `(pr, created)`. Never two PRs."""
        existing = self.find_pr(head)
        if existing is not None:
            return existing, False
        params = {"head": head, "base": base, "title": redact(title), "body": redact(body), "draft": draft}

        def create() -> dict:
            try:
                return self._send("pulls.create", **params).data
            except GitHubError as exc:
                if exc.status == 422 and "already exists" in str(exc).lower():
                    found = self.find_pr(head)
                    if found is not None:
                        raise _Existing(found) from None
                raise

        try:
            return self._create_once(create, lambda: self.find_pr(head)), True
        except _Existing as existing_pr:
            return existing_pr.pr, False

    def update_pr(self, number: int, **fields: Any) -> dict:
        """PATCH a PR: title, body, state, base, maintainer_can_modify."""
        return self._send("pulls.update", pull_number=number, **self._text_fields(fields)).data

    def create_review(
        self,
        pr: int,
        commit_id: str,
        body: str,
        event: str = "COMMENT",
        comments: list[dict] | None = None,
    ) -> dict:
        """Submit a review; `comments` are `{path, line, body}` (optionally side/start_line)."""
        body = redact(body)
        params: dict[str, Any] = {"pull_number": pr, "commit_id": commit_id, "body": body, "event": event}
        if comments:
            params["comments"] = [self._text_fields(dict(c)) for c in comments]

        def lookup() -> dict | None:
            return next(
                (
                    r
                    for r in self.list_reviews(pr)
                    if r.get("commit_id") == commit_id and r.get("body") == body and self.is_own(r)
                ),
                None,
            )

        return self._create_once(lambda: self._send("pulls.create_review", **params).data, lookup)

    def list_reviews(self, pr: int) -> list[dict]:
        return list(self._paged("pulls.list_reviews", pull_number=pr))

    def list_review_comments(self, pr: int) -> list[dict]:
        """Inline review comments on a PR (`path`, `line`, `body`, `user`...)."""
        return list(self._paged("pulls.list_review_comments", pull_number=pr))


class _Existing(Exception):
    """Internal: a duplicate-PR 422 resolved to the PR that already exists."""

    def __init__(self, pr: dict) -> None:
        super().__init__("pull request already exists")
        self.pr = pr
