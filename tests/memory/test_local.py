"""The local SQLite store: what only it promises (ranking, graph, state lane, outbox, files)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kagura_engineer.config import parse_config
from kagura_engineer.errors import MemoryStoreError
from kagura_engineer.memory.local import LocalMemory, open_local


class Clock:
    """A settable clock (epoch seconds) for TTL and recency without sleeping."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_fresh_path_creates_parents_in_wal_mode_with_a_schema_version(tmp_path: Path):
    path = tmp_path / "deep" / "er" / "memory.db"
    with LocalMemory(path) as mem:
        mem.remember("first memory ever stored", "hello", "note")
    assert path.is_file()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(3,)]
        assert conn.execute("SELECT count(*) FROM memories").fetchone()[0] == 1
    finally:
        conn.close()
    assert not list(path.parent.glob(".memory.db.tmp-*")), "temporary build file left behind"


def test_reopening_keeps_everything(tmp_path: Path):
    path = tmp_path / "memory.db"
    with LocalMemory(path) as mem:
        memory_id = mem.remember("Cache keys must include the lockfile hash", "or stale deps", "lesson")
        mem.set_state("k", [1, 2])
    with LocalMemory(path) as mem:
        assert mem.reference(memory_id).summary == "Cache keys must include the lockfile hash"
        assert mem.get_state("k") == [1, 2]


def test_recall_stems_words(store: LocalMemory):
    wanted = store.remember("Migrating the users table locked writes for minutes", "use batches", "lesson")
    store.remember("The login page shows a spinner forever", "missing await", "lesson")
    assert [m.id for m in store.recall("table migrations", k=5)] == [wanted]


@pytest.mark.parametrize(
    "query",
    ['"unbalanced', "NEAR(a b)", "a AND OR NOT", "tests*", "-minus", "col:value", "^start", "(", "💥"],
)
def test_recall_treats_fts_syntax_as_plain_words(store: LocalMemory, query: str):
    store.remember("tests value start minus near", "content", "note")
    store.recall(query, k=3)  # no error: user text never becomes FTS5 syntax


def test_recall_of_only_punctuation_or_nothing_is_empty(store: LocalMemory):
    store.remember("something to find here", "content", "note")
    assert store.recall("", k=3) == []
    assert store.recall("?!", k=3) == []


def test_importance_orders_otherwise_equal_matches(store: LocalMemory):
    low = store.remember("Retry flaky network calls with backoff", "same text", "lesson", importance=0.1)
    high = store.remember("Retry flaky network calls with backoff", "same text", "lesson", importance=0.9)
    found = store.recall("retry network backoff", k=2)
    assert [m.id for m in found] == [high, low]
    assert found[0].score > found[1].score > 0


def test_recency_breaks_ties_between_equal_matches(tmp_path: Path):
    clock = Clock()
    with LocalMemory(tmp_path / "m.db", clock=clock) as mem:
        old = mem.remember("Pin the Node version in CI images", "same", "lesson")
        clock.now += 400 * 86400
        new = mem.remember("Pin the Node version in CI images", "same", "lesson")
        assert [m.id for m in mem.recall("node version", k=2)] == [new, old]


def test_a_much_better_match_beats_importance_and_recency(tmp_path: Path):
    clock = Clock()
    with LocalMemory(tmp_path / "m.db", clock=clock) as mem:
        for n in range(20):
            mem.remember(f"Unrelated note number {n} about release planning", "calendar", "note")
        exact = mem.remember(
            "Docker layer cache misses after base image bump", "rebuild", "lesson", importance=0.2
        )
        clock.now += 200 * 86400
        mem.remember("Release planning mentions docker once", "calendar", "note", importance=1.0)
        assert mem.recall("docker layer cache misses", k=1)[0].id == exact


def test_filters(tmp_path: Path):
    clock = Clock()
    with LocalMemory(tmp_path / "m.db", clock=clock) as mem:
        a = mem.remember(
            "Deploy failed on the staging cluster", "x", "failure", tags=["deploy", "k8s"], importance=0.9
        )
        clock.now += 86400
        b = mem.remember(
            "Deploy succeeded after the staging fix", "x", "fix", tags=["deploy"], importance=0.3
        )
        c = mem.remember("Deploy docs for the staging cluster", "x", "note", tags=["docs"])
        q = "deploy staging"
        assert {m.id for m in mem.recall(q, k=5, filters={"type": ["failure", "fix"]})} == {a, b}
        assert {m.id for m in mem.recall(q, k=5, filters={"tags": ["k8s", "docs"]})} == {a, c}
        assert [
            m.id for m in mem.recall(q, k=5, filters={"tags": ["deploy", "k8s"], "tags_match": "all"})
        ] == [a]
        assert [m.id for m in mem.recall(q, k=5, filters={"importance_gte": 0.8})] == [a]
        assert [m.id for m in mem.recall(q, k=5, filters={"importance": {"gte": 0.8}})] == [a]
        after = {m.id for m in mem.recall(q, k=5, filters={"created_after": "2025-06-16T00:00:00Z"})}
        assert after == {b, c}
        with pytest.raises(MemoryStoreError, match="unknown recall filter: colour"):
            mem.recall(q, filters={"colour": "red"})


def test_external_id_upserts_instead_of_duplicating(store: LocalMemory):
    first = store.remember("Outbox write of a lesson", "v1", "lesson", external_id="ext-1")
    again = store.remember("Outbox write of a lesson", "v2", "lesson", external_id="ext-1")
    assert first == again
    assert store.reference(first).content == "v2"
    assert store.reference("ext-1").id == first
    assert store.stats()["count"] == 1


def test_invalid_memories_are_refused(store: LocalMemory):
    with pytest.raises(MemoryStoreError, match="summary"):
        store.remember("   ", "x", "note")
    with pytest.raises(MemoryStoreError, match="importance"):
        store.remember("valid summary", "x", "note", importance=1.5)
    with pytest.raises(MemoryStoreError, match="type"):
        store.remember("valid summary", "x", "")


def test_feedback_moves_importance_and_stays_within_bounds(store: LocalMemory):
    memory_id = store.remember("Useful lesson about caching", "x", "lesson", importance=0.5)
    store.feedback(memory_id, True)
    assert store.reference(memory_id).importance > 0.5
    for _ in range(60):
        store.feedback(memory_id, True)
    assert 0.99 < store.reference(memory_id).importance <= 1.0
    for _ in range(200):
        store.feedback(memory_id, False)
    assert 0.0 <= store.reference(memory_id).importance < 0.01
    with pytest.raises(MemoryStoreError, match="no memory"):
        store.feedback("no-such-id", True)


def test_explore_goes_both_ways_prefers_strong_edges_and_caps_depth(store: LocalMemory):
    ids = [store.remember(f"Chain memory number {n} in the graph", f"c{n}", "note") for n in range(8)]
    # 0 -> 1 (weak), 0 -> 2 (strong), 3 -> 0 (incoming), 1 -> 4, 2 -> 4 (4 reached via the strong 2)
    store.link(ids[0], ids[1], "related_to", 0.5)
    store.link(ids[0], ids[2], "depends_on", 2.5)
    store.link(ids[3], ids[0], "prevents", 1.0)
    store.link(ids[1], ids[4], "related_to", 0.2)
    store.link(ids[2], ids[4], "related_to", 1.5)
    for a, b in zip(ids[4:], ids[5:], strict=False):
        store.link(a, b, "related_to", 1.0)
    found = store.explore(ids[0], depth=2)
    assert [(r.id, r.hop) for r in found] == [(ids[2], 1), (ids[3], 1), (ids[1], 1), (ids[4], 2)]
    assert found[1].edge_type == "prevents"
    assert found[3].path == (ids[0], ids[2], ids[4]) and found[3].weight == 1.5
    assert max(r.hop for r in store.explore(ids[0], depth=99)) == 5
    assert store.explore("missing", depth=2) == []


def test_link_rules(store: LocalMemory):
    a = store.remember("Memory A for link rules", "a", "note")
    b = store.remember("Memory B for link rules", "b", "note")
    store.link(a, b, "related_to", 2.0)
    store.link(a, b, "related_to", 0.5)  # upsert keeps the larger weight
    assert store.explore(a, 1)[0].weight == 2.0
    with pytest.raises(MemoryStoreError, match="itself"):
        store.link(a, a)
    with pytest.raises(MemoryStoreError, match="no memory with id nope"):
        store.link(a, "nope")
    with pytest.raises(MemoryStoreError, match="weight"):
        store.link(a, b, weight=4)
    assert store.forget(b)
    assert store.explore(a, 1) == []  # edges go with the memory
    assert store.stats()["edges"] == 0


def test_state_ttl_prefix_listing_and_delete(tmp_path: Path):
    clock = Clock()
    with LocalMemory(tmp_path / "m.db", clock=clock) as mem:
        mem.set_state("savepoint:run/a/b/issue-1", {"phase": "pr"})
        mem.set_state("savepoint:run/a/b/issue-2", {"phase": "checks"}, ttl=60)
        mem.set_state("savepointXrun", 1)
        mem.set_state("sav%", 2)
        assert set(mem.list_states("savepoint:")) == {
            "savepoint:run/a/b/issue-1",
            "savepoint:run/a/b/issue-2",
        }
        assert mem.list_states("sav%") == {"sav%": 2}  # no LIKE wildcards
        clock.now += 61
        assert mem.get_state("savepoint:run/a/b/issue-2") is None
        assert set(mem.list_states("savepoint:")) == {"savepoint:run/a/b/issue-1"}
        assert mem.delete_state("savepoint:run/a/b/issue-1") is True
        assert mem.delete_state("savepoint:run/a/b/issue-1") is False
        mem.set_state("sav%", None)
        assert mem.get_state("sav%") is None
        with pytest.raises(MemoryStoreError, match="ttl"):
            mem.set_state("x", 1, ttl=0)


def test_update_state_is_all_or_nothing(store: LocalMemory):
    store.set_state("counter", 1)
    assert store.update_state("counter", lambda v: v + 1) == 2

    def boom(value):
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        store.update_state("counter", boom)
    assert store.get_state("counter") == 2


def test_outbox_is_fifo_and_survives_reopen(tmp_path: Path):
    path = tmp_path / "m.db"
    with LocalMemory(path) as mem:
        first = mem.outbox_add("remember", {"summary": "s1"}, "ext-1")
        second = mem.outbox_add("set_state", {"key": "k", "value": 1}, "ext-2")
        assert first < second
    with LocalMemory(path) as mem:
        items = mem.outbox_pending()
        assert [(i.id, i.op, i.payload, i.external_id) for i in items] == [
            (first, "remember", {"summary": "s1"}, "ext-1"),
            (second, "set_state", {"key": "k", "value": 1}, "ext-2"),
        ]
        assert items[0].created_at.endswith("Z")
        mem.outbox_done(first)
        assert [i.id for i in mem.outbox_pending()] == [second]
        assert mem.stats()["outbox_pending"] == 1


def test_a_transaction_groups_a_write_with_its_outbox_entry(store: LocalMemory):
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.remember("Failover write that must not half-happen", "x", "lesson", external_id="e")
            store.outbox_add("remember", {"summary": "x"}, "e")
            raise RuntimeError("killed between the two")
    assert store.stats()["count"] == 0
    assert store.outbox_pending() == []


def test_snapshot_is_a_consistent_standalone_copy(tmp_path: Path):
    with LocalMemory(tmp_path / "m.db") as mem:
        for n in range(50):
            mem.remember(f"Snapshot memory number {n}", "x", "note")
        dest = mem.snapshot(tmp_path / "cache" / "memory.db")
        mem.remember("Written after the snapshot", "x", "note")
        dest.write_bytes(b"old")  # an existing destination is replaced whole
        mem.snapshot(dest)
    assert not (tmp_path / "cache" / "memory.db-wal").exists()
    with LocalMemory(dest) as copy:
        assert copy.stats()["count"] == 51
        assert copy.recall("written after snapshot", k=1)[0].summary == "Written after the snapshot"


def test_stats(store: LocalMemory):
    store.remember("A lesson about flaky tests", "x", "lesson")
    store.remember("A failure in the deploy job", "x", "failure")
    store.remember("Another lesson about retries", "x", "lesson")
    stats = store.stats()
    assert stats["count"] == 3
    assert stats["by_type"] == {"lesson": 2, "failure": 1}
    assert stats["schema_version"] == 3
    assert stats["db_bytes"] > 0
    assert stats["outbox_pending"] == 0


def test_closed_store_refuses_use(tmp_path: Path):
    mem = LocalMemory(tmp_path / "m.db")
    mem.close()
    mem.close()
    with pytest.raises(MemoryStoreError, match="closed"):
        mem.recall("anything")


def test_open_local_uses_config_path_relative_to_cwd_and_env_override(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = parse_config({"profile": "t", "memory_backend": "local", "local_memory_path": "state/mem.db"})
    with open_local(config) as mem:
        assert mem.path == tmp_path / "state" / "mem.db"
    monkeypatch.setenv("KAGURA_MEMORY_DB", str(tmp_path / "elsewhere.db"))
    with open_local(config) as mem:
        mem.remember("stored where the env says", "x", "note")
    assert (tmp_path / "elsewhere.db").is_file()
