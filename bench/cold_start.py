"""Cold-start wall time of the console script: `--version` and `doctor --json`.

    python bench/cold_start.py [--runs N] [--exe PATH]

Runs each command N times as a fresh process (the `kagura-engineer` next to this Python,
i.e. the current venv's console script) and prints min / median / max. The target for
`--version` is a median under 150 ms; doctor's time is about its slowest check.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_VERSION_MS = 150.0


def measure(argv: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        times.append((time.perf_counter() - start) * 1000)
        if done.returncode not in (0, 1, 2):
            raise SystemExit(f"{' '.join(argv)} exited {done.returncode}")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--exe", default=str(Path(sys.executable).parent / "kagura-engineer"))
    args = parser.parse_args()
    exe = args.exe
    measure([exe, "--version"], 2)  # warm the page cache: we measure start-up, not disk reads
    rows = []
    for label, argv in (("--version", [exe, "--version"]), ("doctor --json", [exe, "doctor", "--json"])):
        times = measure(argv, args.runs)
        rows.append((label, min(times), statistics.median(times), max(times)))
    print(f"kagura-engineer cold start, {args.runs} runs each ({exe})")
    print(f"{'command':<15} {'min ms':>8} {'median ms':>10} {'max ms':>8}")
    for label, lo, med, hi in rows:
        print(f"{label:<15} {lo:>8.1f} {med:>10.1f} {hi:>8.1f}")
    version_median = rows[0][2]
    verdict = "ok" if version_median < TARGET_VERSION_MS else "OVER TARGET"
    print(f"--version median {version_median:.1f} ms (target < {TARGET_VERSION_MS:.0f} ms): {verdict}")
    return 0 if version_median < TARGET_VERSION_MS else 1


if __name__ == "__main__":
    sys.exit(main())
