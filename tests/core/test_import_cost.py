"""What a `run` imports before it needs it (structural: module names, never timings).

Start-up is most of a green run's harness overhead: numpy and the encoder load only when a
memory must be embedded, ghapi when GitHub is first called, and httpx (whose import pulls
in click, rich and pygments where they are installed) not at all.
"""

from __future__ import annotations

import json
import subprocess
import sys

RUN_PATH = (
    "kagura_engineer.run.command", "kagura_engineer.run.context", "kagura_engineer.run.loop",
    "kagura_engineer.run.report", "kagura_engineer.github.client", "kagura_engineer.github.progress",
    "kagura_engineer.agent.driver", "kagura_engineer.agent.proxy", "kagura_engineer.agent.clone",
    "kagura_engineer.agent.user", "kagura_engineer.memory.local", "kagura_engineer.memory.savepoint",
    "kagura_engineer.config",
)  # fmt: skip
LATER = ("numpy", "tokenizers", "ghapi", "httpx", "httpx2", "fastcore", "tenacity")


def _loaded_after(code: str) -> list[str]:
    script = f"import sys, json\n{code}\nprint(json.dumps(sorted(m for m in {LATER!r} if m in sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_importing_the_run_path_loads_no_heavy_library() -> None:
    assert _loaded_after("\n".join(f"import {m}" for m in RUN_PATH)) == []


def test_the_model_proxy_runs_without_httpx() -> None:
    code = (
        "from kagura_engineer.agent.proxy import Credential, ModelProxy\n"
        "p = ModelProxy('http://127.0.0.1:9', Credential('ANTHROPIC_API_KEY', 'sk-ant-test-0000000000000000'))\n"
        "import time; p.start(); end = time.monotonic() + 60\n"
        "while p._client is None and time.monotonic() < end: time.sleep(0.01)\n"
        "p.stop()"
    )
    loaded = _loaded_after(code)
    assert "httpx" not in loaded and "httpx2" in loaded
