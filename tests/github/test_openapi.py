"""Every request the client makes exists in GitHub's REST description (@octokit/openapi).

A tour runs every public `GitHub` operation against the stand-in; its request log, mapped to
OpenAPI path templates, is then checked against `generated/api.github.com.json`: the
(method, path) exists, query parameters and JSON body fields are declared, the stand-in's
success status is documented and its replies carry every required field. The same paths
must exist in the oldest GitHub Enterprise Server description shipped in the package.

The spec comes from $KAGURA_OPENAPI_SPEC, else $KAGURA_TOOLS_DIR/openapi/..., else
.tools/openapi/... (installed by scripts/install_test_tools.sh). Missing: a failure when
CI is set, a skip otherwise.
"""

from __future__ import annotations

import inspect
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from kagura_engineer.demo.github import ROUTES, GitHubStandIn
from kagura_engineer.github.client import GitHub

from .conftest import FakeTime

PACKAGE = Path("openapi/node_modules/@octokit/openapi/generated")
ROOT = Path(__file__).resolve().parents[2]
INSTALL = (
    "bash scripts/install_test_tools.sh  (or: npm install --prefix .tools/openapi @octokit/openapi@23.0.2)"
)


def _spec_path(name: str = "api.github.com.json") -> Path:
    explicit = os.environ.get("KAGURA_OPENAPI_SPEC")
    if explicit and name == "api.github.com.json":
        return Path(explicit)
    if explicit:
        return Path(explicit).with_name(name)
    tools = Path(os.environ.get("KAGURA_TOOLS_DIR") or ROOT / ".tools")
    return tools / PACKAGE / name


@cache
def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def spec() -> dict:
    path = _spec_path()
    if not path.exists():
        message = f"GitHub's OpenAPI description is missing at {path}; install it with: {INSTALL}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return _load(path)


def _ref(spec: dict, node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def _operation(spec: dict, method: str, template: str) -> dict | None:
    item = spec["paths"].get(template)
    return item.get(method.lower()) if item else None


def _parameters(spec: dict, method: str, template: str) -> set[str]:
    item = spec["paths"][template]
    params = item.get("parameters", []) + item[method.lower()].get("parameters", [])
    return {_ref(spec, p)["name"] for p in params if _ref(spec, p).get("in") == "query"}


def _body_fields(spec: dict, op: dict) -> set[str]:
    body = _ref(spec, op.get("requestBody") or {})
    schema = _ref(spec, body.get("content", {}).get("application/json", {}).get("schema", {}))
    fields: set[str] = set(schema.get("properties", {}))
    for key in ("oneOf", "anyOf", "allOf"):
        for option in schema.get(key, []):
            fields |= set(_ref(spec, option).get("properties", {}))
    return fields


def _missing(spec: dict, schema: Any, value: Any, where: str = "$", depth: int = 0) -> list[str]:
    """Required properties absent from `value` (recursively, a few levels deep)."""
    schema = _ref(spec, schema)
    if value is None or depth > 4 or not isinstance(schema, dict):
        return []
    if "allOf" in schema:
        return [m for part in schema["allOf"] for m in _missing(spec, part, value, where, depth)]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [o for o in schema[key] if _ref(spec, o).get("type") != "null"]
            results = [_missing(spec, o, value, where, depth) for o in options]
            return [] if not results or any(not r for r in results) else min(results, key=len)
    if isinstance(value, list):
        items = schema.get("items", {})
        return [
            m for i, v in enumerate(value[:3]) for m in _missing(spec, items, v, f"{where}[{i}]", depth + 1)
        ]
    if isinstance(value, dict):
        out = [f"{where}.{k}" for k in schema.get("required", []) if k not in value]
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                out += _missing(spec, sub, value[key], f"{where}.{key}", depth + 1)
        return out
    return []


def _tour(gh: GitHub, server: GitHubStandIn) -> dict[str, Any]:
    """Call every public HTTP operation of GitHub once; returns name -> result."""
    server.add_milestone("v1", due_on="2030-01-01T00:00:00Z")
    server.add_issue(1, "First", "body", labels=["kagura"], milestone="v1", user="alice")
    server.set_permission("alice", "write")
    server.add_branch("kagura/issue-1")
    server.add_workflow_run(5)
    server.set_branch_protection("main", {"required_status_checks": {"strict": True, "contexts": []}})
    other = server.add_pull("feature", user="alice")
    marker = "<!-- kagura:run/acme/widgets/issue-1 -->"
    steps: dict[str, Any] = {
        "login": lambda: gh.login(),
        "is_own": lambda: gh.is_own({"user": {"login": "kagura-user"}}),
        "get_repo": lambda: gh.get_repo(),
        "rate_limit": lambda: gh.rate_limit(),
        "get_branch_protection": lambda: gh.get_branch_protection("main"),
        "get_workflow_run": lambda: gh.get_workflow_run(5),
        "permission": lambda: gh.permission("alice"),
        "get_issue": lambda: gh.get_issue(1),
        "create_issue": lambda: gh.create_issue("Tracking", "list", labels=["goal"], milestone=1),
        "update_issue": lambda: gh.update_issue(1, title="First!"),
        "list_milestones": lambda: gh.list_milestones(),
        "find_milestone": lambda: gh.find_milestone("v1"),
        "list_milestone_issues": lambda: gh.list_milestone_issues("v1"),
        "create_comment": lambda: gh.create_comment(1, "hello"),
        "list_comments": lambda: gh.list_comments(1, since="2000-01-01T00:00:00Z"),
        "update_comment": lambda: gh.update_comment(gh.list_comments(1)[0]["id"], "edited"),
        "find_comment": lambda: gh.find_comment(1, "edited"),
        "upsert_comment": lambda: gh.upsert_comment(1, marker, f"{marker}\nprogress"),
        "add_labels": lambda: gh.add_labels(1, ["kagura/running"]),
        "remove_label": lambda: gh.remove_label(1, "kagura/running"),
        "get_label": lambda: gh.get_label("kagura"),
        "react": lambda: (gh.react("eyes", issue=1), gh.react("+1", comment_id=gh.list_comments(1)[0]["id"])),
        "find_pr": lambda: gh.find_pr("feature"),
        "find_or_create_pr": lambda: gh.find_or_create_pr(
            "kagura/issue-1", "main", "Fix #1", "Closes #1", True
        ),
        "get_pull": lambda: gh.get_pull(other["number"]),
        "update_pr": lambda: gh.update_pr(other["number"], body="updated", maintainer_can_modify=False),
        "create_review": lambda: gh.create_review(
            other["number"],
            "c" * 40,
            "findings",
            "REQUEST_CHANGES",
            [{"path": "a.py", "line": 2, "body": "here", "side": "RIGHT"}],
        ),  # fmt: skip
        "list_reviews": lambda: gh.list_reviews(other["number"]),
        "list_review_comments": lambda: gh.list_review_comments(other["number"]),
    }
    return {name: step() for name, step in steps.items()}


NOT_HTTP = {"from_env", "tagged", "full_name", "graphql_url"}


@pytest.fixture(scope="module")
def toured() -> tuple[GitHubStandIn, dict[str, Any]]:
    # a personal token: `GET /user` answers it (an installation token's 403 and GraphQL
    # fallback are not REST and are covered in test_client.py)
    with GitHubStandIn(bot_login="kagura-user") as server:
        gh = GitHub.from_env(server.env(), sleep=FakeTime().sleep)
        results = _tour(gh, server)
        yield server, results


def test_the_tour_covers_every_public_operation(toured: tuple[GitHubStandIn, dict]) -> None:
    _, results = toured
    public = {name for name, _ in inspect.getmembers(GitHub) if not name.startswith("_")} - NOT_HTTP
    assert public == set(results), "add new GitHub operations to _tour so their paths are validated"


def test_every_request_maps_to_a_route(toured: tuple[GitHubStandIn, dict]) -> None:
    server, _ = toured
    assert server.unrouted() == []
    failed = [(r.method, r.path, r.status) for r in server.requests if r.status is None or r.status >= 400]
    assert failed == []  # the tour only makes calls that succeed
    assert len(server.operations()) == len(server.requests)


def test_every_route_and_request_exists_in_the_rest_description(
    spec: dict, toured: tuple[GitHubStandIn, dict]
) -> None:
    server, _ = toured
    unknown = sorted({(m, t) for m, t, _ in ROUTES if _operation(spec, m, t) is None})
    assert unknown == [], f"stand-in routes not in GitHub's REST description: {unknown}"
    problems: list[str] = []
    for req in server.requests:
        method, template = server.templates[req.number]
        op = _operation(spec, method, template)
        if op is None:
            problems.append(f"{method} {template}: not in the description")
            continue
        extra_query = set(req.query) - _parameters(spec, method, template)
        if extra_query:
            problems.append(f"{method} {template}: undeclared query parameters {sorted(extra_query)}")
        body = req.json()
        if isinstance(body, dict):
            extra_fields = set(body) - _body_fields(spec, op)
            if extra_fields:
                problems.append(f"{method} {template}: undeclared body fields {sorted(extra_fields)}")
        status, reply = server.replies[req.number]
        if 200 <= status < 300:
            if str(status) not in op["responses"]:
                problems.append(
                    f"{method} {template}: status {status} not documented ({sorted(op['responses'])})"
                )
                continue
            response = _ref(spec, op["responses"][str(status)])
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            if schema is not None:
                problems += [f"{method} {template}: reply lacks {m}" for m in _missing(spec, schema, reply)]
    assert sorted(set(problems)) == []


def test_the_client_paths_exist_on_enterprise_server(toured: tuple[GitHubStandIn, dict], spec: dict) -> None:
    ghes = sorted(p for p in _spec_path().parent.glob("ghes-3.*.json") if ".deref." not in p.name)
    assert ghes, "the @octokit/openapi package ships GHES descriptions next to api.github.com.json"
    oldest = min(ghes, key=lambda p: tuple(int(x) for x in p.name[5:-5].split(".")))
    server, _ = toured
    used = set(server.operations())
    missing = sorted((m, t) for m, t in used if _operation(_load(oldest), m, t) is None)
    assert missing == [], f"not available on {oldest.name}: {missing}"
