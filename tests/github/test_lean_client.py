"""The client's ghapi instance is built over the operations it calls, and behaves as GhApi does.

`GhApi()` builds all 1,225 operations of GitHub's description at construction (~0.4 s of a
run's start-up); `lean_ghapi` builds the ones in `OPERATIONS`, with the same paths, verbs,
parameters and requests.
"""

from __future__ import annotations

import ast
import inspect

import pytest

from kagura_engineer.demo.github import GitHubStandIn
from kagura_engineer.github import client as client_module
from kagura_engineer.github.client import OPERATIONS, GitHub, _ghapi, lean_ghapi

from .conftest import TOKEN


def _called_operations() -> set[str]:
    """Every literal `op` the client passes to `_send` / `_paged`, read from its source."""
    tree = ast.parse(inspect.getsource(client_module))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in ("_send", "_paged"):
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str) and first.value != "graphql":
                found.add(first.value)
    return found


def test_the_lean_client_holds_exactly_the_operations_the_client_calls() -> None:
    api = lean_ghapi(
        OPERATIONS, owner="acme", repo="widgets", token=TOKEN, gh_host="http://127.0.0.1:9", timeout=5
    )
    assert OPERATIONS == _called_operations()
    assert {f"{op.group}.{op.name}" for op in api.ops} == OPERATIONS
    assert len(api.ops) == len(OPERATIONS) < 100  # not GitHub's 1,225


def test_each_operation_matches_ghapis_own() -> None:
    from ghapi.core import GhApi

    full = GhApi(owner="acme", repo="widgets", token=TOKEN, gh_host="http://127.0.0.1:9", sync=True)
    lean = lean_ghapi(
        OPERATIONS, owner="acme", repo="widgets", token=TOKEN, gh_host="http://127.0.0.1:9", timeout=5
    )
    for name in sorted(OPERATIONS):
        group, op = name.split(".")
        mine, theirs = getattr(getattr(lean, group), op), getattr(getattr(full, group), op)
        assert (mine.path, mine.verb) == (theirs.path, theirs.verb), name
        assert str(mine.__signature__) == str(theirs.__signature__), name
    assert lean.headers == full.headers


def test_requests_are_the_ones_ghapi_sends(stand_in: GitHubStandIn) -> None:
    from ghapi.core import GhApi

    stand_in.add_issue(7, "A title", "A body")
    lean = lean_ghapi(
        OPERATIONS, owner="acme", repo="widgets", token=TOKEN, gh_host=stand_in.api_url, timeout=5
    )
    full = GhApi(owner="acme", repo="widgets", token=TOKEN, gh_host=stand_in.api_url, sync=True)
    for api in (lean, full):
        assert api.issues.get(issue_number=7)["title"] == "A title"
        api.issues.list_comments(issue_number=7, per_page=100, page=1)
        api.issues.create_comment(issue_number=7, body="hello")
    sent = [(r.method, r.path, r.query, r.body, r.headers.get("authorization")) for r in stand_in.requests]
    assert sent[:3] == sent[3:] and len(sent) == 6


def test_an_operation_ghapi_does_not_know_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="issues.no_such_thing"):
        lean_ghapi(
            frozenset({"issues.get", "issues.no_such_thing"}), owner="a", repo="b", token=TOKEN,
            gh_host="http://127.0.0.1:9", timeout=5,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("api_url", "verified"),
    [
        ("http://127.0.0.1:9", False),
        ("http://localhost:9", False),
        ("http://ghe.example.com/api/v3", True),  # a redirect to https must still be verified
        ("https://api.github.com", True),
    ],
)
def test_only_plain_http_to_this_machine_skips_the_ca_bundle(api_url: str, verified: bool) -> None:
    import ssl

    api = _ghapi(api_url, "acme", "widgets", TOKEN, 5.0)
    context = api.transport.client._transport._pool._ssl_context
    assert (context.verify_mode == ssl.CERT_REQUIRED) is verified


def test_the_client_still_answers_every_operation_through_the_lean_instance(
    gh: GitHub, stand_in: GitHubStandIn
) -> None:
    stand_in.add_issue(3, "Three")
    assert gh.get_issue(3)["title"] == "Three"
    assert gh.get_repo()["full_name"] == "acme/widgets"
    assert gh.calls_by_op == {"issues.get": 1, "repos.get": 1}
