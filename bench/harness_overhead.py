"""Harness overhead of a green `run`, as a user lives it: the job's wall time minus the model's.

Each run is a fresh world: a git checkout whose origin is a bare repository, the GitHub
stand-in and the scripted Anthropic stand-in on 127.0.0.1, a repo.yaml with the defaults
plus one check, and a fresh interpreter running `python -m kagura_engineer run 7` with the
REAL `claude` binary (KAGURA_CLAUDE_BIN). The stand-in records when each model request
arrived and when its reply ended; their union is the model's time, and

    overhead = wall time of the whole process - time inside model requests

so process start, imports, config, GitHub calls, lease, savepoints, progress comment,
claude's own start-up and exit, checks, memory and the process's exit all count. On a
shared, busy machine wall time is noisy; the CPU seconds of the harness process itself
(its threads, not claude or git: read from /proc when it has exited, before it is reaped)
are printed beside it and move far less.

Printed: the median (min-max) overhead, the phase breakdown (each phase's seconds from the
savepoint, plus the time before the first phase and after the last, timed from the live
phase lines on stderr) and, with `--baseline-src DIR`, the same for another source tree
(PYTHONPATH=DIR) run in turn with ours (A B A B ...), and the ratio pair by pair.

    python bench/harness_overhead.py [--runs 3] [--baseline-src /path/to/other/src]

As root, claude and the checks run as the `kagura-agent` user (the agent spaces go under a
temporary KAGURA_AGENT_ROOT); the claude binary must be reachable by that user.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from kagura_engineer.demo.anthropic import AnthropicStandIn, report, write
from kagura_engineer.demo.github import GitHubStandIn

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "ghs_benchToken000000000000000000000000000"
ISSUE = 7
CHECK = "grep -q hi hello.txt"
SCRIPT = [write("{CWD}/hello.txt", "hi\n"), report("done", "Added hello.txt", ["hello.txt"])]
TARGET_S = 1.0


def claude_binary() -> str:
    for path in (os.environ.get("KAGURA_CLAUDE_BIN"), str(ROOT / ".tools/claude/node_modules/.bin/claude")):
        if path and os.access(path, os.X_OK):
            return path
    raise SystemExit("the claude binary is missing: set KAGURA_CLAUDE_BIN (scripts/install_test_tools.sh)")


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_checkout(root: Path) -> tuple[Path, Path]:
    origin, work = root / "origin.git", root / "work"
    git(root, "init", "-q", "--bare", "-b", "main", str(origin))
    git(root, "init", "-q", "-b", "main", str(work))
    (work / "README.md").write_text("# widgets\n")
    (work / "repo.yaml").write_text(f"profile: default\nchecks:\n  - {CHECK}\n")
    git(work, "add", "README.md", "repo.yaml")
    git(work, "commit", "-qm", "init")
    git(work, "remote", "add", "origin", str(origin))
    git(work, "push", "-q", "-u", "origin", "main")
    return origin, work


def one_run(
    root: Path, src: str, binary: str, agent_root: Path, python_args: list[str], launcher: list[str]
) -> dict:
    """One fresh world, one `run` process; its wall time, model time and phase timings."""
    root.mkdir(parents=True)
    origin, work = make_checkout(root)
    home = root / "home"
    (home / ".claude").mkdir(parents=True)
    with GitHubStandIn(token=TOKEN, repo_path=origin) as github, AnthropicStandIn(SCRIPT) as model:
        github.add_issue(ISSUE, "Add a greeting file", "Please add hello.txt containing the word hi.")
        env = {
            "PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8", "PYTHONPATH": src,
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
            **github.env(), **model.env(), "KAGURA_CLAUDE_BIN": binary, "KAGURA_AGENT_ROOT": str(agent_root),
            "CLAUDE_CONFIG_DIR": str(home / ".claude"),
            "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
            "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
        }  # fmt: skip
        lines: list[tuple[float, str]] = []
        start = time.monotonic()
        child = subprocess.Popen(
            [*launcher, sys.executable, *python_args, "-m", "kagura_engineer", "run", str(ISSUE)], cwd=work, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

        def read() -> None:
            for line in child.stderr:  # type: ignore[union-attr]
                lines.append((time.monotonic(), line.rstrip("\n")))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped
        wall = time.monotonic() - start
        own_cpu, children_cpu = cpu_seconds(child.pid)
        child.wait(timeout=60)
        reader.join(timeout=5)
        model_s = model.model_seconds()
        model_requests = len(model.timings)
        progress = [c for c in github.issue_comments(ISSUE)]
        pulls = github.open_pulls()
    stderr = "\n".join(text for _, text in lines)
    (root / "stderr.txt").write_text(stderr + "\n")
    if child.returncode != 0 or len(pulls) != 1 or len(progress) != 1:
        raise SystemExit(f"the run was not a clean ship (exit {child.returncode}):\n{stderr[-3000:]}")
    sp = savepoint(work / ".kagura" / "memory.db")
    if sp.get("phase") != "shipped" or sp.get("verdict") != "green":
        raise SystemExit(f"not shipped green: {sp.get('phase')} {sp.get('verdict')}\n{stderr[-3000:]}")
    phases = {p["name"]: float(p["seconds"]) for p in sp["phases"]}
    # The live list prints "  ✓ <phase> done" as each phase ends: the first and the last
    # such line frame the phases, so what lies outside them is start-up and wrap-up.
    ends = [
        (t - start, text.split()[1]) for t, text in lines if text.endswith(" done") and len(text.split()) == 3
    ]
    first_start = ends[0][0] - phases.get(ends[0][1], 0.0) if ends else 0.0
    last_end = ends[-1][0] if ends else wall
    return {
        "wall": wall, "model": model_s, "own_cpu": own_cpu, "children_cpu": children_cpu, "overhead": wall - model_s, "model_requests": model_requests,
        "phases": phases, "before": first_start, "after": wall - last_end,
    }  # fmt: skip


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(its own CPU seconds, its reaped children's) of an exited, unreaped process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    tick = os.sysconf("SC_CLK_TCK")
    return (utime + stime) / tick, (cutime + cstime) / tick


def savepoint(db: Path) -> dict:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT value FROM state WHERE key = ?", (f"savepoint:run/acme/widgets/issue-{ISSUE}",)
        ).fetchone()
    return json.loads(row[0]) if row else {}


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} ({min(values):.2f}-{max(values):.2f})"


def summary(label: str, rows: list[dict]) -> None:
    print(f"\n{label}: {len(rows)} green runs, seconds, median (min-max)")
    print(f"  {'wall':<28}{spread([r['wall'] for r in rows])}")
    print(f"  {'inside model requests':<28}{spread([r['model'] for r in rows])}")
    print(f"  {'harness overhead':<28}{spread([r['overhead'] for r in rows])}   target <= {TARGET_S:.1f}")
    print(f"  {'CPU of the harness process':<28}{spread([r['own_cpu'] for r in rows])}")
    print(f"  {'CPU of its children':<28}{spread([r['children_cpu'] for r in rows])}   (claude, git, checks)")
    print(f"  {'before the first phase':<28}{spread([r['before'] for r in rows])}")
    names = list(dict.fromkeys(n for r in rows for n in r["phases"]))
    for name in names:
        print(f"  {'phase ' + name:<28}{spread([r['phases'].get(name, 0.0) for r in rows])}")
    print(f"  {'after the last phase':<28}{spread([r['after'] for r in rows])}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--src", default=str(ROOT / "src"), help="the source tree measured (PYTHONPATH)")
    parser.add_argument("--baseline-src", help="another source tree, run in turn with --src for a ratio")
    parser.add_argument(
        "--python-args", default="", help='e.g. "-X importtime" (each stderr kept with --keep)'
    )
    parser.add_argument("--launcher", default="", help='a command prefix, e.g. "py-spy record -o F --"')
    parser.add_argument("--keep", action="store_true", help="keep the worlds (and each run's stderr.txt)")
    args = parser.parse_args()
    binary = claude_binary()
    variants = [("this", args.src)] + ([("baseline", args.baseline_src)] if args.baseline_src else [])
    rows: dict[str, list[dict]] = {name: [] for name, _ in variants}
    tmp = Path(tempfile.mkdtemp(prefix="kagura-bench-"))
    tmp.chmod(0o711)  # the agent user must traverse it to reach its space
    agent_root = tmp / "agent"
    try:
        for i in range(args.runs):
            for name, src in variants:
                row = one_run(
                    tmp / f"{name}-{i}",
                    src,
                    binary,
                    agent_root,
                    args.python_args.split(),
                    args.launcher.split(),
                )
                rows[name].append(row)
                print(f"run {i + 1} {name:<8} wall {row['wall']:.2f}s  model {row['model']:.3f}s  "
                      f"overhead {row['overhead']:.2f}s", file=sys.stderr, flush=True)  # fmt: skip
    finally:
        if args.keep:
            print(f"worlds kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    for name, src in variants:
        summary(f"{name} ({src})", rows[name])
    if args.baseline_src:
        pairs = list(zip(rows["this"], rows["baseline"], strict=True))
        print("\nthis/baseline, pair by pair, median (min-max):")
        for key, label in (("overhead", "harness overhead"), ("own_cpu", "CPU of the harness process")):
            print(f"  {label:<28}{spread([a[key] / b[key] for a, b in pairs])}")
    ours = statistics.median(r["overhead"] for r in rows["this"])
    print(f"\nmedian harness overhead {ours:.2f} s (target <= {TARGET_S:.1f} s): "
          f"{'ok' if ours <= TARGET_S else 'OVER TARGET'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
