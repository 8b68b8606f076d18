"""Semantic recall in the local store: sentence vectors beside FTS5, as a user meets them.

Every test uses the real shipped encoder (offline: the model is in the package). The
keyword-only behaviour is observed in child processes where numpy and tokenizers cannot be
imported, as in a broken install (both are dependencies).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kagura_engineer.cli import main
from kagura_engineer.memory import local, vectors
from kagura_engineer.memory.hybrid import identifiers, memory_text
from kagura_engineer.memory.local import LocalMemory

np = pytest.importorskip("numpy")
pytest.importorskip("tokenizers")

from kagura_engineer.memory.embed import get_encoder  # noqa: E402  (after the importorskips)

LESSONS = [
    ("Flaky CI came from a shared temp folder",
     "Parallel jobs on the win32 runners wrote into one temporary directory, so builds broke now "
     "and then. Give each job its own.", "lesson", ["ci"]),
    ("Sessions expired early because server clocks drifted",
     "The token issuer and the API disagreed about the time by two minutes; run NTP on every host.",
     "failure", ["auth"]),
    ("Checkout page took ages because each cart item ran its own SQL query",
     "An N+1 pattern in the cart view; prefetch the related rows.", "failure", ["db"]),
    ("Release pipeline died when the runner's storage filled up with old Docker layers",
     "Prune images nightly and cap the build cache at 20 GB.", "failure", ["ci", "docker"]),
    ("Print the random seed at the start of every test session",
     "So a failing run can be reproduced exactly.", "lesson", ["tests"]),
    ("The Windows installer must be signed before release",
     "Unsigned installers trigger SmartScreen warnings.", "decision", ["release"]),
    ("Log in JSON so fields are searchable", "Structured logs make dashboards easy.", "lesson", ["logging"]),
    ("Slow page loads were caused by uncompressed images", "Serve WebP and set cache headers.", "failure", ["web"]),
    ("Pin third-party GitHub Actions to a commit SHA", "Tags can be moved by the action's owner.", "lesson", ["ci"]),
    ("Cron jobs on the scheduler run in UTC", "Convert local times before scheduling.", "note", ["ops"]),
    ("Payment gateway error E1234 means the saved card token expired",
     "Refresh the token through the vault API before charging.", "failure", ["payments"]),
    ("Payment gateway error E1243 means the merchant hit its daily limit",
     "Ask the provider to raise the cap before big sales.", "failure", ["payments"]),
    ("Regression from #123: the retry decorator swallowed KeyboardInterrupt",
     "Catch Exception only, never BaseException.", "failure", ["python"]),
    ("Regression from #132: the retry decorator retried 404 responses",
     "Retry only 429, 5xx and timeouts.", "failure", ["python"]),
    ("src/app/db.py created a new engine per request and leaked connections",
     "Create the engine once at import.", "failure", ["db"]),
    ("src/app/cache.py created a new Redis client per request and leaked sockets",
     "Share one client with a pool.", "failure", ["redis"]),
]  # fmt: skip

#: A person's words for a lesson, sharing no word (after stemming) with the lesson itself.
PARAPHRASES = [
    ("tests fail randomly on Windows", LESSONS[0][0]),
    ("people get logged out unexpectedly", LESSONS[1][0]),
    ("the shopping basket is very slow to load", LESSONS[2][0]),
    ("deploys break because the disk is full", LESSONS[3][0]),
]

#: Queries naming an identifier, each next to a look-alike that names another one.
IDENTIFIER_QUERIES = [
    ("checkout fails with E1234", LESSONS[10][0]),
    ("checkout fails with E1243", LESSONS[11][0]),
    ("what broke after #123", LESSONS[12][0]),
    ("what broke after #132", LESSONS[13][0]),
    ("connection leak in src/app/db.py", LESSONS[14][0]),
    ("connection leak in src/app/cache.py", LESSONS[15][0]),
]

#: Runs the CLI once per argv line of stdin, with numpy and tokenizers unimportable.
WITHOUT_SEMANTIC = """
import json, sys
sys.modules["numpy"] = None
sys.modules["tokenizers"] = None
from kagura_engineer.cli import main
for line in sys.stdin:
    code = main(json.loads(line))
    print("exit", code, flush=True)
"""


#: Runs the CLI once per argv line of stdin where the process cannot reach any network: an
#: audit hook refuses every socket, DNS lookup and subprocess before the package is imported.
WITHOUT_NETWORK = """
import json, sys
attempts = []
def refuse(event, args):
    if event.startswith(("socket.", "subprocess.", "os.exec", "os.posix_spawn", "urllib.")):
        attempts.append(event)
        raise OSError(f"no network here: {event}")
sys.addaudithook(refuse)
from kagura_engineer.cli import main
for line in sys.stdin:
    code = main(json.loads(line))
    print("exit", code, flush=True)
print(json.dumps({"attempts": attempts, "hub": sorted(m for m in sys.modules if "hugging" in m or m == "requests")}))
"""


def records() -> list[dict]:
    return [{"summary": s, "content": c, "type": t, "tags": g} for s, c, t, g in LESSONS]


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in tmp_path with the store at $KAGURA_MEMORY_DB, semantic recall on."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv(local.ENV_SEMANTIC, raising=False)
    path = tmp_path / "store" / "memory.db"
    monkeypatch.setenv("KAGURA_MEMORY_DB", str(path))
    return path


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def lessons_file(tmp_path: Path) -> Path:
    source = tmp_path / "lessons.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in records()), encoding="utf-8")
    return source


def import_lessons(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "memory", "import", str(lessons_file(tmp_path)))
    assert code == 0 and f"imported {len(LESSONS)} memories" in out


def in_child(script: str, *commands: list[str]) -> tuple[str, str]:
    """Run CLI commands, one per line of stdin, in a child process running `script`:
    (stdout, stderr)."""
    child = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        input="".join(json.dumps(c) + "\n" for c in commands),
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )
    assert child.returncode == 0, child.stderr
    return child.stdout, child.stderr


def without_semantic(*commands: list[str]) -> tuple[list[str], str]:
    """Run CLI commands in one child process that cannot import numpy or tokenizers:
    (stdout lines, stderr)."""
    out, err = in_child(WITHOUT_SEMANTIC, *commands)
    return out.splitlines(), err


def summaries(out: str) -> list[str]:
    return [m["summary"] for m in json.loads(out)]


# ---------------------------------------------------------------- what a user sees


def test_recall_finds_paraphrased_lessons_the_keyword_store_misses(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    import_lessons(tmp_path, capsys)
    for query, lesson in PARAPHRASES:
        code, out, err = cli(capsys, "memory", "recall", query, "-k", "3", "--json")
        assert code == 0 and err == ""
        assert lesson in summaries(out), (query, summaries(out))

    # The same store and queries where the encoder cannot run: keywords only, and they miss.
    lines, err = without_semantic(*(["memory", "recall", q, "-k", "3", "--json"] for q, _ in PARAPHRASES))
    outputs = "\n".join(lines).split("exit 0")
    assert len(outputs) == len(PARAPHRASES) + 1 and outputs[-1].strip() == ""
    for (query, lesson), out in zip(PARAPHRASES, outputs, strict=False):
        assert lesson not in summaries(out), query
    # One warning line for the whole process, however many recalls.
    assert err.count("\n") == 1 and err.startswith("warning: "), err
    assert "numpy is not installed" in err and "reinstall it" in err and "keywords only" in err


def test_import_and_recall_never_touch_the_network(db: Path, tmp_path: Path):
    """The model is in the package: importing lessons and recalling them by meaning open no
    socket, resolve no name and start no process (which is all a model-hub download could do)."""
    commands = [["memory", "import", str(lessons_file(tmp_path))]]
    commands += [["memory", "recall", q, "-k", "3", "--json"] for q, _ in PARAPHRASES]
    stdout, stderr = in_child(WITHOUT_NETWORK, *commands)
    *outputs, report = stdout.split("exit 0\n")
    assert len(outputs) == len(commands), stdout
    assert json.loads(report) == {"attempts": [], "hub": []}
    for (query, lesson), out in zip(PARAPHRASES, outputs[1:], strict=True):
        assert lesson in summaries(out), (query, out)
    assert stderr == ""


def test_exact_identifiers_rank_first(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    import_lessons(tmp_path, capsys)
    for query, lesson in IDENTIFIER_QUERIES:
        code, out, _ = cli(capsys, "memory", "recall", query, "--json")
        assert code == 0
        assert summaries(out)[0] == lesson, (query, summaries(out)[:3])


def test_without_numpy_recall_still_answers_by_keywords_with_one_warning(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    import_lessons(tmp_path, capsys)
    lines, err = without_semantic(["memory", "recall", "Windows installer signing", "--json"])
    assert lines[-1] == "exit 0"
    found = json.loads("\n".join(lines[:-1]))
    assert found[0]["summary"] == "The Windows installer must be signed before release"
    assert err.count("\n") == 1 and err.startswith("warning: semantic recall is unavailable: numpy")


def test_memories_written_without_the_encoder_are_filled_at_the_next_recall(
    db: Path, capsys: pytest.CaptureFixture[str]
):
    summary, content = LESSONS[0][0], LESSONS[0][1]
    lines, err = without_semantic(
        ["memory", "remember", "--summary", summary, "--content", content, "--type", "lesson"],
        ["memory", "stats", "--json"],
    )
    assert err == "" and lines.count("exit 0") == 2
    stats = json.loads("\n".join(lines[lines.index("exit 0") + 1 : -1]))
    assert stats["count"] == 1 and stats["vectors"] == 0 and stats["vector_coverage"] == "0/1 (0.0%)"
    assert "unavailable: numpy is not installed" in stats["embedding_model"]

    code, out, _ = cli(capsys, "memory", "recall", "tests fail randomly on Windows", "--json")
    assert code == 0 and summaries(out) == [summary]  # found by meaning: its vector was filled
    code, out, _ = cli(capsys, "memory", "stats", "--json")
    assert json.loads(out)["vector_coverage"] == "1/1 (100.0%)"


def test_stats_show_model_coverage_and_index(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    import_lessons(tmp_path, capsys)
    code, out, _ = cli(capsys, "memory", "stats", "--json")
    stats = json.loads(out)
    n = len(LESSONS)
    assert code == 0 and stats["schema_version"] == 3
    assert stats["embedding_model"] == get_encoder().model_id
    assert stats["vectors"] == n and stats["vector_coverage"] == f"{n}/{n} (100.0%)"
    assert stats["vector_index"].startswith("in the database") and stats["vector_index_bytes"] == n * 384 * 4
    assert vectors.vector_files(db) == []  # small stores keep no file beside the database
    code, out, _ = cli(capsys, "memory", "stats")
    assert code == 0 and f"vector_coverage  {n}/{n} (100.0%)" in out and "all-MiniLM-L6-v2" in out


def test_semantic_recall_can_be_turned_off(db: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(local.ENV_SEMANTIC, "off")
    warnings: list[str] = []
    with LocalMemory(db, warn=warnings.append) as mem:
        mem.remember_many(records())
        assert mem.stats()["vectors"] == 0
        assert PARAPHRASES[0][1] not in [m.summary for m in mem.recall(PARAPHRASES[0][0], k=3)]
        assert mem.recall("Windows installer signing", k=1)[0].summary == LESSONS[5][0]
    assert warnings == []


# ---------------------------------------------------------------- the store


def test_filters_apply_to_semantic_matches(tmp_path: Path):
    with LocalMemory(tmp_path / "m.db") as mem:
        mem.remember_many(records())
        found = mem.recall("shipping a Windows build", k=5, filters={"type": "decision"})
        assert [m.summary for m in found] == ["The Windows installer must be signed before release"]
        found = mem.recall("people get logged out unexpectedly", k=5, filters={"tags": ["db", "auth"]})
        assert found[0].summary == LESSONS[1][0]
        assert {t for m in found for t in m.tags} <= {"db", "auth"}


def test_rewriting_a_memory_recomputes_its_vector(tmp_path: Path):
    with LocalMemory(tmp_path / "m.db") as mem:
        mem.remember_many(records())
        memory_id = mem.remember("Cron jobs run in UTC", "x", "note", external_id="ext-1")
        again = mem.remember(LESSONS[0][0], LESSONS[0][1], "lesson", tags=["ci"], external_id="ext-1")
        assert again == memory_id
        blob = mem._conn.execute("SELECT embedding FROM memories WHERE id = ?", (memory_id,)).fetchone()[0]
    expected = get_encoder().encode([memory_text(LESSONS[0][0], LESSONS[0][1], ["ci"])])[0]
    np.testing.assert_allclose(np.frombuffer(blob, dtype="<f4"), expected, atol=1e-6)


def test_recall_inside_a_transaction_does_not_wait_on_itself(tmp_path: Path):
    with LocalMemory(tmp_path / "m.db") as mem:
        mem.remember_many(records())
        with mem.transaction():
            found = mem.recall("checkout fails with E1234", k=1)
        assert found[0].summary == LESSONS[10][0]


def v1_database(path: Path, rows: list[tuple[str, str, str, list[str]]]) -> None:
    """A store as the previous release wrote it: schema version 1, no vector columns."""
    conn = sqlite3.connect(path)
    for statement in local._MIGRATIONS[1]:
        conn.execute(statement)
    conn.execute("INSERT INTO schema_version (version) VALUES (1)")
    for n, (summary, content, kind, tags) in enumerate(rows):
        conn.execute(
            """INSERT INTO memories (id, summary, content, type, tags, importance, created_at,
               created_ts, updated_at) VALUES (?, ?, ?, ?, ?, 0.5, ?, ?, ?)""",
            (f"m{n}", summary, content, kind, json.dumps(tags), "2024-01-01T00:00:00.000000Z",
             1_704_067_200.0 + n, "2024-01-01T00:00:00.000000Z"),
        )  # fmt: skip
    conn.commit()
    conn.close()


def test_a_v1_database_upgrades_in_place_and_fills_vectors_lazily(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(local, "FILL_PER_RECALL", 16)
    monkeypatch.setattr(local, "FILL_BATCH", 8)
    monkeypatch.setattr(local, "FILL_SECONDS", 600.0)  # bounded by count here, not by time
    path = tmp_path / "memory.db"
    fillers = [(f"Quarterly planning note {n}", "calendar", "note", []) for n in range(24)]
    v1_database(path, fillers + LESSONS)
    total = len(fillers) + len(LESSONS)
    with LocalMemory(path) as mem:
        stats = mem.stats()
        assert stats["schema_version"] == 3 and stats["count"] == total
        assert stats["vector_coverage"] == f"0/{total} (0.0%)"
        # FTS5 answers while vectors are missing; the query's own matches are embedded first.
        found = mem.recall("Windows installer signing", k=1)
        assert found[0].summary == "The Windows installer must be signed before release"
        assert mem.stats()["vectors"] == 16
        embedded = mem._conn.execute(
            "SELECT embed_hash FROM memories WHERE summary LIKE 'The Windows installer%'"
        ).fetchone()[0]
        assert embedded == get_encoder().model_hash
        mem.recall("anything at all", k=1)
        mem.recall("anything at all", k=1)
        assert mem.stats()["vector_coverage"] == f"{total}/{total} (100.0%)"
        found = mem.recall(PARAPHRASES[1][0], k=3)
        assert PARAPHRASES[1][1] in [m.summary for m in found]

        # Vectors of another model are stale: refilled the same way.
        mem._conn.execute("UPDATE memories SET embed_hash = '00000000deadbeef' WHERE n <= 5")
        assert mem.stats()["vectors"] == total - 5
        mem.recall("anything at all", k=1)
        assert mem.stats()["vectors"] == total


def test_two_processes_writing_at_once_keep_every_vector(tmp_path: Path):
    path = tmp_path / "memory.db"
    LocalMemory(path).close()
    writer = textwrap.dedent(
        """
        import sys
        from kagura_engineer.memory.local import LocalMemory
        mem = LocalMemory(sys.argv[1])
        for i in range(12):
            mem.remember(f"writer {sys.argv[2]} lesson {i}", "content", "note")
        mem.close()
        """
    )
    children = [
        subprocess.Popen([sys.executable, "-c", writer, str(path), tag], stderr=subprocess.PIPE, text=True)
        for tag in "ab"
    ]
    for child in children:
        assert child.wait(timeout=120) == 0, child.stderr.read() if child.stderr else ""
    with LocalMemory(path) as mem:
        assert mem.stats()["vector_coverage"] == "24/24 (100.0%)"
        assert mem.recall("writer b lesson 7", k=1)[0].summary == "writer b lesson 7"


# ---------------------------------------------------------------- the vector file


def generation(db: Path) -> str:
    data = vectors.current_file(db)
    assert data is not None, "no vector file"
    return data.name


def test_a_large_store_keeps_a_derived_vector_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(vectors, "FILE_MIN", 20)
    path = tmp_path / "memory.db"
    fillers = [
        {"summary": f"Quarterly planning note {n}", "content": "calendar", "type": "note"} for n in range(20)
    ]
    queries = [q for q, _ in PARAPHRASES + IDENTIFIER_QUERIES]

    def answers(mem: LocalMemory) -> list[list[str]]:
        return [[m.summary for m in mem.recall(q, k=3)] for q in queries]

    with LocalMemory(path) as mem:
        mem.remember_many(records() + fillers)
        expected = answers(mem)
        stats = mem.stats()
    first = generation(path)
    header = json.loads(vectors.header_path(path).read_text())
    assert header["count"] == len(LESSONS) + 20 and header["model_hash"] == get_encoder().model_hash
    assert stats["vector_index"] == f"memory-mapped file {first}"
    assert stats["vector_index_bytes"] == (path.parent / first).stat().st_size
    assert [e[0] for e in expected[len(PARAPHRASES) :]] == [lesson for _, lesson in IDENTIFIER_QUERIES]

    # Reopened: the file is reused, and agrees with the database.
    with LocalMemory(path) as mem:
        assert answers(mem) == expected
    assert generation(path) == first

    # Deleted: nothing is lost, it is rebuilt.
    for file in vectors.vector_files(path):
        file.unlink()
    with LocalMemory(path) as mem:
        assert answers(mem) == expected
    second = generation(path)
    assert second != first

    # Corrupt (zeroed vectors): rebuilt, same answers.
    data = path.parent / second
    size = data.stat().st_size
    with open(data, "r+b") as fh:
        fh.seek(size - 384 * 4 * 10)
        fh.write(b"\0" * 384 * 4 * 10)
    with LocalMemory(path) as mem:
        assert answers(mem) == expected
    third = generation(path)
    assert third != second

    # Stale after writes: a new memory is found at once; a forgotten one never comes back.
    with LocalMemory(path) as mem:
        new = mem.remember("Mobile app crashes on start after the SDK bump", "roll back the SDK", "failure")
        assert mem.recall("the phone application dies when launched", k=1)[0].id == new
        gone = mem.recall("checkout fails with E1234", k=1)[0].id
        assert mem.forget(gone)
        assert gone not in [m.id for m in mem.recall("checkout fails with E1234", k=5)]
    assert generation(path) != third  # a delete rebuilds the file
    with LocalMemory(path) as mem:
        assert mem.recall("the phone application dies when launched", k=1)[0].id == new
        assert gone not in [m.id for m in mem.recall("checkout fails with E1234", k=5)]

    # Another database's file (a copy with its files renamed alongside) is never trusted.
    copy = tmp_path / "copy" / "memory.db"
    with LocalMemory(path) as mem:
        mem.snapshot(copy)
    for file in vectors.vector_files(path):
        (copy.parent / file.name).write_bytes(file.read_bytes())
    stolen = generation(copy)
    with LocalMemory(copy) as mem:
        assert mem.recall("the phone application dies when launched", k=1)[0].id == new
    assert generation(copy) != stolen


def test_sign_bit_prefilter_keeps_the_true_nearest(monkeypatch: pytest.MonkeyPatch):
    """Above PREFILTER_MIN rows, sign bits pick the rows scored exactly: the clear nearest
    neighbours must survive the cut."""
    monkeypatch.setattr(vectors, "PREFILTER_MIN", 1_000)
    monkeypatch.setattr(vectors, "PREFILTER_KEEP", 100)
    rng = np.random.default_rng(3)
    n = 5_000
    matrix = rng.standard_normal((n, 384)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    rows = np.arange(10, 10 + n, dtype=np.int64)
    masked = np.zeros(n, dtype=bool)
    empty = np.empty((0, 384), dtype=np.float32)
    exact = vectors.IndexView(rows, matrix, None, masked, rows[:0], empty)
    fast = vectors.IndexView(rows, matrix, vectors.sign_bits(matrix), masked, rows[:0], empty)
    for target in (0, 17, 4_999):
        query = matrix[target] + 0.8 * rng.standard_normal(384).astype(np.float32) / np.sqrt(384)
        query /= np.linalg.norm(query)
        assert fast.search(query, 5)[0] == exact.search(query, 5)[0]
        assert fast.search(query, 5)[0][0] == rows[target]
    masked[17] = True
    query = matrix[17]
    assert rows[17] not in [r for r, _ in fast.search(query, 5)]
    allowed = np.array([rows[4_999]], dtype=np.int64)
    assert [r for r, _ in fast.search(query, 5, allowed)] == [rows[4_999]]


def test_identifier_extraction():
    assert identifiers("browser shows ERR_SSL_PROTOCOL_ERROR on staging") == ["ERR_SSL_PROTOCOL_ERROR"]
    assert identifiers("see #123 and src/app/db.py.") == ["#123", "src/app/db.py"]
    assert identifiers("E1234 CVE-2023-44487 OPS-482 ECONNRESET getSession") == [
        "E1234", "CVE-2023-44487", "OPS-482", "ECONNRESET", "getSession",
    ]  # fmt: skip
    assert identifiers("tests fail randomly on Windows, and/or CI/CD, exit code 137") == []


def test_recall_reads_rows_by_primary_key_even_with_statistics_from_a_small_store(tmp_path: Path):
    """A store analysed when small and then grown (a big import) keeps its old statistics;
    recall's row reads must not turn into table scans then (measured 40× slower at 100k)."""
    path = tmp_path / "m.db"
    with LocalMemory(path, semantic=False) as mem:
        mem.remember_many({"summary": f"note {i}", "type": "note"} for i in range(50))
        mem._conn.execute("ANALYZE")
        mem.remember_many({"summary": f"later note {i}", "type": "note"} for i in range(3000))
        conn = mem._conn
        listed = ", ".join(str(n) for n in range(1, 600, 2))
        naive = " ".join(
            r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN SELECT n FROM memories WHERE n IN ({listed})")
        )
        assert naive.startswith("SCAN memories")  # the trap: a full scan
        plan = " ".join(
            r[3]
            for r in conn.execute(
                f"EXPLAIN QUERY PLAN SELECT m.n {local.BY_ROW_NUMBER}", [json.dumps(list(range(300)))]
            )
        )
        assert "SEARCH m USING INTEGER PRIMARY KEY" in plan and "SCAN m " not in f"{plan} "


def test_statistics_from_a_small_store_are_refreshed_when_it_is_opened_grown(tmp_path: Path):
    path = tmp_path / "m.db"
    with LocalMemory(path, semantic=False) as mem:
        mem.remember_many({"summary": f"note {i}", "type": "note"} for i in range(50))
        mem._conn.execute("ANALYZE")
        mem.remember_many({"summary": f"later note {i}", "type": "note"} for i in range(3000))

    def analysed_rows() -> int:
        conn = sqlite3.connect(path)
        try:
            return int(
                conn.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = 'memories'").fetchone()[0].split()[0]
            )
        finally:
            conn.close()

    assert analysed_rows() == 50  # close's PRAGMA optimize left them stale (no query was run)
    with LocalMemory(path, semantic=False) as mem:
        assert mem.stats()["count"] == 3050
    assert analysed_rows() > 2000  # refreshed on open (sampled: an estimate near 3050)
