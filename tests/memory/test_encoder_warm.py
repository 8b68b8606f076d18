"""The sentence encoder is loaded only when a recall or a write needs it, and can load ahead.

Observed in child processes, so what this test session already loaded does not count.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("numpy")
pytest.importorskip("tokenizers")


def _child(code: str, db: Path) -> dict:
    script = (
        textwrap.dedent(
            """
        import json, sys, threading
        from kagura_engineer.memory import embed, local
        from kagura_engineer.memory.local import LocalMemory

        loads = []
        real = embed.get_encoder
        def counted():
            loads.append(threading.current_thread().name)
            return real()
        embed.get_encoder = counted
        m = LocalMemory(sys.argv[1])
        out = {}
        """
        )
        + textwrap.dedent(code)
        + "\nout['loads'] = loads\nprint(json.dumps(out))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(db)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_recall_on_an_empty_store_loads_no_encoder(tmp_path: Path) -> None:
    out = _child(
        """
        out["empty"] = [x.summary for x in m.recall("flaky builds on the CI runners")]
        out["numpy_after_empty"] = "numpy" in sys.modules
        m.remember("CI runners shared one temp folder", "Give each job its own.", "lesson")
        out["found"] = [x.summary for x in m.recall("flaky builds on the CI runners")]
        """,
        tmp_path / "memory.db",
    )
    assert out["empty"] == [] and out["numpy_after_empty"] is False
    assert out["found"] == ["CI runners shared one temp folder"]  # a store with memories still recalls
    assert out["loads"] == ["MainThread"]  # loaded once, by the write that needed it


def test_warm_loads_the_encoder_once_on_a_thread_and_writes_use_it(tmp_path: Path) -> None:
    out = _child(
        """
        m.warm()
        m.warm()
        m.remember("CI runners shared one temp folder", "Give each job its own.", "lesson")
        out["found"] = [x.summary for x in m.recall("temporary directory clash in continuous integration")]
        """,
        tmp_path / "memory.db",
    )
    assert out["loads"] == ["kagura-encoder"]
    assert out["found"] == ["CI runners shared one temp folder"]


def test_warm_does_nothing_when_semantic_recall_is_off(tmp_path: Path) -> None:
    out = _child(
        """
        m = LocalMemory(sys.argv[1], semantic=False)
        m.warm()
        m.remember("CI runners shared one temp folder", "Give each job its own.", "lesson")
        out["numpy"] = "numpy" in sys.modules
        """,
        tmp_path / "memory.db",
    )
    assert out["loads"] == [] and out["numpy"] is False
