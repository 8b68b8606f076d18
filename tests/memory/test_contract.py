"""One contract, two backends: everything here goes through the `MemoryClient` Protocol only.

The `cloud` parameter drives the real Cloud adapter against the loopback Memory Cloud
stand-in, provided by `tests/memory/cloud_fixture.py` (`make_cloud_client(tmp_path)`, a
context manager yielding `(client, standin)`). Summaries are ≥ 10 characters and ids are
treated as opaque strings, as Cloud requires.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from kagura_engineer.memory.base import Memory, MemoryClient
from kagura_engineer.memory.local import LocalMemory

from .conftest import cloud_fixture_module


@pytest.fixture(params=["local", "cloud"])
def backend(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "local":
        mem = LocalMemory(tmp_path / "memory.db")
        try:
            yield mem
        finally:
            mem.close()
        return
    module = cloud_fixture_module()
    with module.make_cloud_client(tmp_path) as (client, _standin):
        try:
            yield client
        finally:
            client.close()


def _lessons(mem: MemoryClient) -> dict[str, str]:
    return {
        "ci": mem.remember(
            "CI flakiness: integration tests time out on slow shared runners",
            "Raise the pytest timeout to 120 s and retry the job once before reporting failure.",
            "lesson",
            tags=["ci", "flaky"],
            importance=0.7,
        ),
        "migration": mem.remember(
            "Database migration failed because the column already existed",
            "Write migrations so they check for the column first; they must be idempotent.",
            "failure",
            tags=["db"],
        ),
        "auth": mem.remember(
            "OAuth token refresh raced between two workers and logged users out",
            "Serialise token refresh behind a lock; rotate refresh tokens only once.",
            "lesson",
            tags=["auth"],
        ),
    }


def test_backend_satisfies_the_protocol(backend):
    assert isinstance(backend, MemoryClient)


def test_remember_then_reference_returns_every_field(backend):
    memory_id = backend.remember(
        "Release notes must list breaking changes first",
        "Put a 'Breaking changes' heading above features in every release note.",
        "decision",
        tags=["release", "docs"],
        importance=0.8,
        details={"source": "retro-2024-05"},
    )
    assert isinstance(memory_id, str) and memory_id
    got = backend.reference(memory_id)
    assert isinstance(got, Memory)
    assert got.id == memory_id
    assert got.summary == "Release notes must list breaking changes first"
    assert got.content == "Put a 'Breaking changes' heading above features in every release note."
    assert got.type == "decision"
    assert set(got.tags) == {"release", "docs"}
    assert got.importance == pytest.approx(0.8)


def test_reference_of_an_unknown_id_is_none(backend):
    assert backend.reference(str(uuid.uuid4())) is None


def test_recall_finds_the_matching_memory_first(backend):
    ids = _lessons(backend)
    found = backend.recall("integration tests timing out in CI", k=3)
    assert found, "nothing recalled"
    assert found[0].id == ids["ci"]
    assert found[0].summary.startswith("CI flakiness")
    assert all(isinstance(m.score, float) for m in found)
    assert [m.score for m in found] == sorted((m.score for m in found), reverse=True)


def test_recall_honours_k(backend):
    for n in range(4):
        backend.remember(f"Deploy checklist item {n}: verify the deploy health check", f"step {n}", "note")
    assert len(backend.recall("deploy health check", k=2)) == 2


def test_recall_filters_by_type_and_tags(backend):
    ids = _lessons(backend)
    by_type = backend.recall("migration column token tests", k=5, filters={"type": "failure"})
    assert [m.id for m in by_type] == [ids["migration"]]
    by_tag = backend.recall("migration column token tests", k=5, filters={"tags": ["auth"]})
    assert [m.id for m in by_tag] == [ids["auth"]]


def test_forget_removes_the_memory_once(backend):
    ids = _lessons(backend)
    assert backend.forget(ids["auth"]) is True
    assert backend.reference(ids["auth"]) is None
    assert ids["auth"] not in [m.id for m in backend.recall("OAuth token refresh", k=5)]
    assert backend.forget(ids["auth"]) is False


def test_link_and_explore_walk_the_graph_by_hops(backend):
    failure = backend.remember(
        "Nightly build failed: lockfile out of date", "npm ci refused the lockfile", "failure"
    )
    fix = backend.remember(
        "Fix: regenerate the lockfile in the same commit", "run npm install, commit", "fix"
    )
    rule = backend.remember(
        "Rule: CI checks the lockfile is current", "add npm ci --dry-run to checks", "lesson"
    )
    backend.link(fix, failure, "prevents", 2.0)
    backend.link(fix, rule, "related_to", 1.0)

    one = backend.explore(failure, depth=1)
    assert [(r.id, r.hop) for r in one] == [(fix, 1)]
    two = {r.id: r for r in backend.explore(failure, depth=2)}
    assert set(two) == {fix, rule}
    assert two[fix].hop == 1 and two[rule].hop == 2
    assert two[fix].summary.startswith("Fix: regenerate")


def test_explore_of_an_isolated_memory_is_empty(backend):
    alone = backend.remember("A memory with no links at all here", "nothing links here", "note")
    assert backend.explore(alone, depth=2) == []


def test_feedback_is_accepted_for_both_verdicts(backend):
    ids = _lessons(backend)
    backend.feedback(ids["ci"], True)
    backend.feedback(ids["migration"], False)
    assert backend.reference(ids["ci"]) is not None
    assert backend.reference(ids["migration"]) is not None


def test_state_round_trips_json_and_overwrites(backend):
    value = {"phase": "checks", "attempts": 2, "nested": {"shas": ["abc", "def"]}, "ok": True}
    backend.set_state("test/state/one", value)
    assert backend.get_state("test/state/one") == value
    backend.set_state("test/state/one", {"phase": "push"})
    assert backend.get_state("test/state/one") == {"phase": "push"}
    assert backend.get_state("test/state/missing") is None


def test_state_with_ttl_expires(backend):
    backend.set_state("test/state/short", {"v": 1}, ttl=1)
    backend.set_state("test/state/forever", {"v": 2})
    assert backend.get_state("test/state/short") == {"v": 1}
    time.sleep(1.6)
    assert backend.get_state("test/state/short") is None
    assert backend.get_state("test/state/forever") == {"v": 2}


def test_remember_with_an_external_id_is_an_upsert(backend: MemoryClient) -> None:
    """A re-run after a kill writes the same memory again: it must not become two."""
    first = backend.remember(
        "Shipped issue 42: add the greeting file", "first text", "outcome", external_id="run/acme/widgets/issue-42/outcome"
    )
    again = backend.remember(
        "Shipped issue 42: add the greeting file", "second text", "outcome", external_id="run/acme/widgets/issue-42/outcome"
    )
    hits = [m for m in backend.recall("Shipped issue 42 greeting file", k=10) if m.type == "outcome"]
    assert len(hits) == 1
    assert hits[0].content == "second text"
    assert backend.reference(first) is not None or backend.reference(again) is not None
