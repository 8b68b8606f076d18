"""`claude` alone: what the real binary costs per run, outside the harness.

Each run is a fresh git repository and config dir, the scripted Anthropic stand-in on
127.0.0.1, and `claude -p` with the harness's output flags, asked for two turns (a Write,
then the closing report). Printed: wall and CPU seconds of the process (spawn to exit), the
time to its first model request, and, with `--early`, the time from the prompt to the first
request when the prompt arrives on stdin a second after the spawn (what `launch_agent` buys).

    KAGURA_CLAUDE_BIN=... python bench/claude_alone.py [--runs 8] [--early]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kagura_engineer.agent.schema import REPORT_SCHEMA
from kagura_engineer.demo.anthropic import AnthropicStandIn, report, write

SCRIPT = [write("{CWD}/hello.txt", "hi\n"), report("done", "Added hello.txt", ["hello.txt"])]


def one_run(binary: str, delay: float) -> tuple[float, float, float, float]:
    """(wall, cpu, first request after spawn, first request after the prompt) of one run."""
    root = Path(tempfile.mkdtemp(prefix="kagura-claude-"))
    (root / "home" / ".claude").mkdir(parents=True)
    work = root / "work"
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    with AnthropicStandIn(SCRIPT) as model:
        env = {
            "PATH": os.environ["PATH"], "HOME": str(root / "home"), "CLAUDE_CONFIG_DIR": str(root / "home" / ".claude"),
            **model.env(), "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1",
        }  # fmt: skip
        argv = [binary, "-p", "--output-format", "stream-json", "--verbose", "--max-turns", "6",
                "--json-schema", json.dumps(REPORT_SCHEMA), "--strict-mcp-config",
                "--tools", "Read,Write,Edit,Glob,Grep,Bash", "--allowedTools", "Write", "Read", "--"]  # fmt: skip
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        child = subprocess.Popen(argv, cwd=work, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)  # fmt: skip
        time.sleep(delay)
        prompted = time.monotonic()
        child.communicate("Add hello.txt containing hi.")
        wall = time.monotonic() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        first = min(arrived for arrived, _ in model.timings.values())
    if child.returncode != 0 or not (work / "hello.txt").exists():
        raise SystemExit(f"claude did not finish the scripted run (exit {child.returncode})")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, first - start, first - prompted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--early", action="store_true", help="also time a prompt sent a second after the spawn")
    args = parser.parse_args()
    binary = os.environ.get("KAGURA_CLAUDE_BIN") or ""
    if not os.access(binary, os.X_OK):
        raise SystemExit("set KAGURA_CLAUDE_BIN to the claude binary (scripts/install_test_tools.sh)")
    rows = [one_run(binary, 0.0) for _ in range(args.runs)]
    med = [statistics.median(column) for column in zip(*rows, strict=True)]
    print(f"claude, {args.runs} runs, median: wall {med[0]:.3f} s, CPU {med[1]:.3f} s, "
          f"first model request {med[2]:.3f} s after spawn")  # fmt: skip
    if args.early:
        early = [one_run(binary, 1.0) for _ in range(args.runs)]
        print(f"prompt sent 1 s after spawn: first model request {statistics.median(r[3] for r in early):.3f} s "
              f"after the prompt")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
