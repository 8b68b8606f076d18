"""`kagura-engineer memory …` and `savepoint …` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kagura_engineer.cli import main
from kagura_engineer.memory.lease import Holder
from kagura_engineer.memory.local import LocalMemory
from kagura_engineer.memory.savepoint import Savepoint, SavepointStore

KEY = "run/acme/widgets/issue-42"


@pytest.fixture
def db(tmp_path: Path, monkeypatch) -> Path:
    """Run in tmp_path; the store lives at $KAGURA_MEMORY_DB."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "store" / "memory.db"
    monkeypatch.setenv("KAGURA_MEMORY_DB", str(path))
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_remember_then_recall_json(db: Path, capsys):
    code, out, _ = run(
        capsys, "memory", "remember", "--summary", "Flaky CI: tests time out on slow runners",
        "--content", "Raise the pytest timeout", "--type", "lesson", "--tags", "ci, flaky", "--importance", "0.8",
    )  # fmt: skip
    assert code == 0
    memory_id = out.strip()
    run(capsys, "memory", "remember", "--summary", "Login page spinner never stops", "--type", "failure")
    code, out, _ = run(capsys, "memory", "recall", "tests timing out in CI", "--json")
    assert code == 0
    found = json.loads(out)
    assert found[0]["id"] == memory_id
    assert {"id", "summary", "content", "type", "tags", "score"} <= set(found[0])
    assert found[0]["tags"] == ["ci", "flaky"] and found[0]["content"] == "Raise the pytest timeout"
    assert found[0]["score"] > 0


def test_recall_k_type_and_tag_filters(db: Path, capsys):
    for n in range(6):
        kind = "failure" if n % 2 else "lesson"
        run(
            capsys,
            "memory",
            "remember",
            "--summary",
            f"Deploy step {n} broke",
            "--type",
            kind,
            "--tags",
            f"t{n}",
        )
    _, out, _ = run(capsys, "memory", "recall", "deploy broke", "-k", "2", "--json")
    assert len(json.loads(out)) == 2
    _, out, _ = run(capsys, "memory", "recall", "deploy broke", "--type", "failure", "--json")
    assert {m["type"] for m in json.loads(out)} == {"failure"}
    _, out, _ = run(capsys, "memory", "recall", "deploy broke", "--tags", "t2,t4", "--json")
    assert sorted(m["summary"] for m in json.loads(out)) == ["Deploy step 2 broke", "Deploy step 4 broke"]


def test_recall_human_output_and_no_match(db: Path, capsys):
    run(capsys, "memory", "remember", "--summary", "Evil \x1b[31mred\x1b[0m summary", "--type", "note")
    code, out, _ = run(capsys, "memory", "recall", "evil summary")
    assert code == 0
    assert out.startswith("1. [note] Evil [31mred[0m summary")
    assert "\x1b" not in out, "stored text must not reach the terminal as control sequences"
    code, out, _ = run(capsys, "memory", "recall", "zebra")
    assert code == 0 and "no matching memories" in out
    code, _, err = run(capsys, "memory", "recall", "  ")
    assert code == 2 and "error[config]" in err


def test_remember_content_defaults_to_the_summary_and_reads_stdin(db: Path, capsys, monkeypatch):
    import io

    _, out, _ = run(
        capsys, "memory", "remember", "--summary", "Summary only memory", "--type", "note", "--json"
    )
    memory_id = json.loads(out)["id"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("line one\nline two\n"))
    _, out, _ = run(
        capsys, "memory", "remember", "--summary", "From stdin", "--content", "-", "--type", "note"
    )
    with LocalMemory(db) as mem:
        assert mem.reference(memory_id).content == "Summary only memory"
        assert mem.reference(out.strip()).content == "line one\nline two\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["--summary", "x", "--type", "note", "--importance", "2"],
        ["--summary", "x", "--type", "note", "--importance", "high"],
        ["--summary", "x"],
    ],
)
def test_remember_usage_errors_exit_2(db: Path, capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(["memory", "remember", *argv])
    assert exc.value.code == 2


def test_remember_bad_details_is_a_config_error(db: Path, capsys):
    code, _, err = run(capsys, "memory", "remember", "--summary", "x y z", "--type", "n", "--details", "[1]")
    assert code == 2 and "JSON object" in err


def _seed(path: Path) -> None:
    with LocalMemory(path) as mem:
        mem.remember("Ünïcode lesson: naïve datetimes break DST", "Use aware datetimes\n\tand UTC", "lesson",
                     tags=["time", "bug"], importance=0.9, details={"z": 1, "a": [1, 2], "k": {"n": None}})  # fmt: skip
        mem.remember("Plain note with the same second", "", "note")
        mem.remember(
            'Another, with quotes " and \\ backslashes',
            "emoji 🎉 content",
            "decision",
            importance=0.123456789,
        )


def test_export_import_export_is_byte_identical(db: Path, tmp_path: Path, capsys, monkeypatch):
    _seed(db)
    assert run(capsys, "memory", "export", "a.jsonl")[0] == 0
    monkeypatch.setenv("KAGURA_MEMORY_DB", str(tmp_path / "fresh.db"))
    code, out, _ = run(capsys, "memory", "import", "a.jsonl")
    assert code == 0 and "imported 3 memories" in out
    assert run(capsys, "memory", "export", "b.jsonl")[0] == 0
    a = (tmp_path / "a.jsonl").read_bytes()
    assert a == (tmp_path / "b.jsonl").read_bytes()
    first = json.loads(a.decode().splitlines()[0])
    assert list(first) == ["summary", "content", "type", "tags", "importance", "details", "created_at"]
    assert first["details"] == {"a": [1, 2], "k": {"n": None}, "z": 1}


def test_export_to_stdout_piped_into_import_from_stdin(db: Path, tmp_path: Path):
    _seed(db)
    exe = str(Path(sys.executable).parent / "kagura-engineer")
    exported = subprocess.run([exe, "memory", "export", "-"], capture_output=True, check=True)
    assert exported.stderr.decode().strip() == "exported 3 memories"
    env = {**os.environ, "KAGURA_MEMORY_DB": str(tmp_path / "piped.db")}
    imported = subprocess.run(
        [exe, "memory", "import", "-"], input=exported.stdout, capture_output=True, check=True, env=env
    )
    assert b"imported 3 memories" in imported.stdout
    again = subprocess.run([exe, "memory", "export", "-"], capture_output=True, check=True, env=env)
    assert again.stdout == exported.stdout


def test_reimporting_a_file_adds_nothing_and_says_what_it_skipped(db: Path, tmp_path: Path, capsys):
    _seed(db)
    assert run(capsys, "memory", "export", "a.jsonl")[0] == 0
    code, out, _ = run(capsys, "memory", "import", "a.jsonl")
    assert code == 0 and out == "imported 0 memories (skipped 3 already stored)\n"
    code, out, _ = run(capsys, "memory", "import", "a.jsonl", "--json")
    assert code == 0 and json.loads(out) == {"imported": 0, "already_stored": 3, "skipped": []}
    assert json.loads(run(capsys, "memory", "stats", "--json")[1])["count"] == 3


def test_already_stored_means_the_same_type_and_content(db: Path, tmp_path: Path, capsys):
    run(
        capsys,
        "memory",
        "remember",
        "--summary",
        "Run the linter first",
        "--content",
        "ruff check .",
        "--type",
        "lesson",
    )
    lines = [
        {"summary": "Another summary, same lesson", "content": "ruff check .", "type": " lesson"},  # stored
        {"summary": "Same content, another type", "content": "ruff check .", "type": "decision"},  # new
        {"summary": "Run the linter first", "content": "ruff check . --fix", "type": "lesson"},  # new
        {"summary": "Only a summary", "type": "note"},  # new: content = summary
        {"summary": "Only a summary", "content": "Only a summary", "type": "note"},  # the line above again
    ]
    (tmp_path / "in.jsonl").write_text("\n".join(json.dumps(r) for r in lines), encoding="utf-8")
    code, out, _ = run(capsys, "memory", "import", "in.jsonl", "--json")
    assert code == 0 and json.loads(out) == {"imported": 3, "already_stored": 2, "skipped": []}
    with LocalMemory(db) as mem:
        stored = sorted((m.type, m.content) for m in mem.iter_memories())
    assert stored == [
        ("decision", "ruff check ."), ("lesson", "ruff check ."), ("lesson", "ruff check . --fix"),
        ("note", "Only a summary"),
    ]  # fmt: skip


BAD_FILE = "\n".join(
    [
        json.dumps({"summary": "Valid line one", "type": "note"}),
        "{not json",
        json.dumps({"summary": "No type here"}),
        "",
        json.dumps(["a", "list"]),
        json.dumps({"summary": "Bad importance", "type": "note", "importance": 3}),
        json.dumps({"summary": "Valid line seven", "content": "c", "type": "lesson", "tags": ["x"]}),
        json.dumps({"summary": "Bad time", "type": "note", "created_at": "yesterday"}),
    ]
)


def test_import_with_bad_lines_imports_nothing_and_names_the_line(db: Path, tmp_path: Path, capsys):
    (tmp_path / "in.jsonl").write_text(BAD_FILE, encoding="utf-8")
    code, _, err = run(capsys, "memory", "import", "in.jsonl")
    assert code == 2
    assert "error[config]: in.jsonl:2: not JSON" in err and "nothing imported" in err
    _, out, _ = run(capsys, "memory", "stats", "--json")
    assert json.loads(out)["count"] == 0


def test_import_skip_invalid_reports_each_bad_line(db: Path, tmp_path: Path, capsys):
    (tmp_path / "in.jsonl").write_text(BAD_FILE, encoding="utf-8")
    code, out, err = run(capsys, "memory", "import", "in.jsonl", "--skip-invalid", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["imported"] == 2
    assert [s["line"] for s in report["skipped"]] == [2, 3, 5, 6, 8]
    assert "in.jsonl:3: skipped: type: Field required" in err
    with LocalMemory(db) as mem:
        first = mem.recall("valid line one", k=1)[0]
        assert first.content == "Valid line one"  # a missing content defaults to the summary


def test_import_of_a_missing_file_is_exit_2(db: Path, capsys):
    code, _, err = run(capsys, "memory", "import", "nope.jsonl")
    assert code == 2 and "nope.jsonl: no such file" in err


def test_a_large_import_reports_progress_on_stderr(db: Path, tmp_path: Path, capsys, monkeypatch):
    from kagura_engineer.memory import jsonl

    monkeypatch.setattr(jsonl, "BATCH", 100)
    monkeypatch.setattr(jsonl, "PROGRESS_EVERY", 250)
    lines = (json.dumps({"summary": f"Bulk memory {n}", "type": "note"}) for n in range(600))
    (tmp_path / "big.jsonl").write_text("\n".join(lines), encoding="utf-8")
    code, out, err = run(capsys, "memory", "import", "big.jsonl")
    assert code == 0 and "imported 600 memories" in out
    assert err.splitlines() == ["imported 300/600", "imported 600/600"]


def test_a_slow_import_reports_progress_by_time(db: Path, tmp_path: Path, capsys, monkeypatch):
    from kagura_engineer.memory import jsonl

    monkeypatch.setattr(jsonl, "BATCH", 10)
    monkeypatch.setattr(jsonl, "PROGRESS_SECONDS", 0.0)  # every batch is "slow"
    lines = (json.dumps({"summary": f"Bulk memory {n}", "type": "note"}) for n in range(30))
    (tmp_path / "big.jsonl").write_text("\n".join(lines), encoding="utf-8")
    code, _, err = run(capsys, "memory", "import", "big.jsonl")
    assert code == 0 and err.splitlines() == ["imported 10/30", "imported 20/30", "imported 30/30"]


def test_stats_human_and_json(db: Path, capsys):
    _seed(db)
    code, out, _ = run(capsys, "memory", "stats", "--json")
    stats = json.loads(out)
    assert code == 0 and stats["count"] == 3 and stats["by_type"]["lesson"] == 1
    assert stats["schema_version"] == 3 and stats["outbox_pending"] == 0 and stats["db_bytes"] > 0
    code, out, _ = run(capsys, "memory", "stats")
    assert code == 0 and "count" in out and "lesson 1" in out


def test_config_file_chooses_the_store(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cfg.yaml").write_text("profile: t\nmemory_backend: local\nlocal_memory_path: data/m.db\n")
    code, _, _ = run(
        capsys, "memory", "remember", "-c", "cfg.yaml", "--summary", "Via config", "--type", "note"
    )
    assert code == 0 and (tmp_path / "data" / "m.db").is_file()
    code, out, _ = run(capsys, "memory", "-c", "cfg.yaml", "recall", "via config", "--json")
    assert json.loads(out)[0]["summary"] == "Via config"


def test_a_corrupt_store_warns_and_keeps_working(db: Path, capsys):
    db.parent.mkdir(parents=True)
    db.write_bytes(b"garbage" * 100)
    code, out, err = run(capsys, "memory", "stats", "--json")
    assert code == 0 and json.loads(out)["count"] == 0
    assert "warning:" in err and "moved it aside" in err
    assert list(db.parent.glob("memory.db.corrupt-*"))


def test_a_read_only_store_is_one_line_exit_1(db: Path, capsys):
    LocalMemory(db).close()
    db.chmod(0o444)
    try:
        code, _, err = run(capsys, "memory", "recall", "anything")
    finally:
        db.chmod(0o644)
    assert code == 1
    assert err.startswith("error[memory]: ") and "read-only" in err and "Traceback" not in err


def test_savepoint_list_show_clear(db: Path, capsys):
    with LocalMemory(db) as mem:
        store = SavepointStore(mem)
        store.save(Savepoint(key=KEY, phase="checks", verdict="yellow", pr_number=7))
        store.save(Savepoint(key="review/acme/widgets/pr-7", phase="review"))
    code, out, _ = run(capsys, "savepoint", "list")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("review/acme/widgets/pr-7") and lines[1].startswith(KEY)
    assert "phase checks" in lines[1] and "verdict yellow" in lines[1]
    _, out, _ = run(capsys, "savepoint", "list", "run/", "--json")
    assert [s["key"] for s in json.loads(out)] == [KEY]
    code, out, _ = run(capsys, "savepoint", "show", KEY, "--json")
    assert code == 0 and json.loads(out)["pr_number"] == 7 and json.loads(out)["version"] == 1
    code, out, _ = run(capsys, "savepoint", "show", KEY)
    assert "phase             checks" in out
    code, out, _ = run(capsys, "savepoint", "clear", KEY)
    assert code == 0 and f"cleared {KEY}" in out
    code, _, err = run(capsys, "savepoint", "show", KEY)
    assert code == 1 and "no savepoint" in err
    code, _, err = run(capsys, "savepoint", "clear", KEY)
    assert code == 1
    code, _, err = run(capsys, "savepoint", "show", "not-a-key")
    assert code == 2 and "not a savepoint key" in err


def test_savepoint_clear_of_a_held_lease_needs_force(db: Path, capsys):
    with LocalMemory(db) as mem:
        SavepointStore(mem).acquire(KEY, Holder(host="runner-9", pid=1, start_time=1, run_id="77"), 600)
    code, out, err = run(capsys, "savepoint", "list")
    assert "lease held: host runner-9, pid 1, run 77" in out
    code, _, err = run(capsys, "savepoint", "clear", KEY)
    assert code == 2 and "error[busy]" in err and "runner-9" in err
    code, _, _ = run(capsys, "savepoint", "clear", KEY, "--force")
    assert code == 0


def test_savepoint_from_a_newer_version_is_exit_2_with_the_fix(db: Path, capsys):
    with LocalMemory(db) as mem:
        mem.set_state("savepoint:" + KEY, {"version": 9, "key": KEY})
    code, _, err = run(capsys, "savepoint", "show", KEY)
    assert code == 2 and "version 9, newer" in err and f"savepoint clear {KEY}" in err
    code, out, _ = run(capsys, "savepoint", "list")
    assert "unreadable" in out
    assert run(capsys, "savepoint", "clear", KEY)[0] == 0
