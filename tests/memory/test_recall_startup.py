"""What one `kagura-engineer memory recall` process loads: only what a recall needs.

Each check runs the real CLI in a fresh interpreter (what a user starts) and looks at which
modules it imported and which files it left beside the store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kagura_engineer.memory import embed, vectors
from kagura_engineer.memory.local import LocalMemory

np = pytest.importorskip("numpy")
pytest.importorskip("tokenizers")

# Runs the CLI's main() in this process's environment, then reports what it imported.
PROBE = textwrap.dedent(
    """
    import contextlib, io, json, sys
    from kagura_engineer.cli import main
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(sys.argv[1:])
    print(json.dumps({"code": code, "out": out.getvalue(), "modules": sorted(sys.modules)}))
    """
)


def cli(cwd: Path, *argv: str, env: dict[str, str] | None = None) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def store(tmp_path: Path) -> Path:
    db = tmp_path / "m.db"
    with LocalMemory(db) as mem:
        mem.remember("Flaky CI came from a shared temp folder", "Give each job its own dir.", "lesson")
        mem.remember("The release workflow publishes the wheel", "After the tag is pushed.", "note")
    return db


def test_recall_without_a_config_file_imports_no_pydantic(tmp_path: Path, store: Path) -> None:
    found = cli(
        tmp_path, "memory", "recall", "tests break in CI now and then", env={"KAGURA_MEMORY_DB": str(store)}
    )
    assert found["code"] == 0 and "shared temp folder" in found["out"].splitlines()[0]
    assert not [m for m in found["modules"] if m.split(".")[0] == "pydantic"]
    assert "kagura_engineer.config" not in found["modules"]
    assert "numpy.ma" not in found["modules"]  # np.unique's first call would import it (~30 ms)
    assert "kagura_engineer.memory.embed" in found["modules"]  # by meaning, not keywords only


def test_a_config_file_is_still_validated(tmp_path: Path, store: Path) -> None:
    (tmp_path / "repo.yaml").write_text("profile: t\nmemory_backend: local\nno_such_setting: 1\n")
    done = subprocess.run(
        [sys.executable, "-m", "kagura_engineer", "memory", "recall", "flaky CI"],
        cwd=tmp_path,
        env={**os.environ, "KAGURA_MEMORY_DB": str(store)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "error[config]" in done.stderr and "no_such_setting" in done.stderr


def test_the_default_path_is_the_configs_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kagura_engineer.config import load_config
    from kagura_engineer.memory.local import local_path

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KAGURA_MEMORY_DB", raising=False)
    monkeypatch.delenv("KAGURA_CONFIG", raising=False)
    assert local_path() == local_path(load_config(None)) == tmp_path / ".kagura" / "memory.db"


def test_preload_is_the_encoder_get_encoder_returns() -> None:
    code = textwrap.dedent(
        """
        from kagura_engineer.memory import embed
        embed.preload()
        loader = embed._loading
        embed.preload()  # a second call starts nothing new
        same = embed._loading is loader
        encoder = embed.get_encoder()
        print(loader is not None, same, loader.is_alive(), encoder is embed.get_encoder())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.split() == ["True", "True", "False", "True"]


def test_recall_preloads_only_when_semantic_recall_is_on(
    tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kagura_engineer.cli import main

    calls: list[int] = []
    monkeypatch.setattr(embed, "preload", lambda: calls.append(1))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KAGURA_MEMORY_DB", str(store))
    monkeypatch.setenv("KAGURA_MEMORY_SEMANTIC", "off")
    assert main(["memory", "recall", "flaky CI", "--json"]) == 0
    assert calls == []
    monkeypatch.delenv("KAGURA_MEMORY_SEMANTIC")
    assert main(["memory", "stats", "--json"]) == 0
    assert calls == []  # only a recall embeds a query
    assert main(["memory", "recall", "flaky CI", "--json"]) == 0
    assert calls == [1]


class RandomVectors:
    """Stands in for the encoder where only the count of vectors matters."""

    model_id, model_hash = "test/random", "0123456789abcdef"

    def encode(self, texts, batch_size: int = 32):
        v = np.random.default_rng(len(texts)).standard_normal((len(texts), 384)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("count, mapped", [(vectors.FILE_MIN - 1, False), (vectors.FILE_MIN, True)])
def test_a_thousand_vectors_are_read_from_a_mapped_file(tmp_path: Path, count: int, mapped: bool) -> None:
    assert vectors.FILE_MIN == 1_000
    db = tmp_path / "m.db"
    with LocalMemory(db, encoder=RandomVectors()) as mem:
        mem.remember_many({"summary": f"memory number {i}", "type": "note"} for i in range(count))
        assert mem.recall("memory number 7", k=1)
    assert (vectors.current_file(db) is not None) is mapped
