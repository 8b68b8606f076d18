"""Container figures: image size, build time (warm and after a source change), and the time
from `docker run` to the action's first output line.

Needs a running Docker engine and a `debian:bookworm-slim` image (see tests/container/).

    python bench/container.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGE = "kagura-engineer:bench"


def build() -> float:
    start = time.perf_counter()
    subprocess.run(["docker", "build", "--network", "host", "-q", "-t", IMAGE, str(ROOT)], check=True, capture_output=True)
    return time.perf_counter() - start


def first_output() -> float:
    start = time.perf_counter()
    child = subprocess.Popen(
        ["docker", "run", "--rm", "-e", "GITHUB_ACTIONS=true", "-e", "INPUT_COMMAND=doctor", IMAGE],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert child.stdout is not None
    child.stdout.readline()
    elapsed = time.perf_counter() - start
    child.stdout.read()
    child.wait()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cold = build()
    marker = ROOT / "src" / "kagura_engineer" / "_bench_touch.py"
    marker.write_text("# touched by bench/container.py\n")
    try:
        changed = build()
    finally:
        marker.unlink()
        build()
    warm = build()
    size = int(subprocess.run(["docker", "image", "inspect", "-f", "{{.Size}}", IMAGE], check=True,
                              capture_output=True, text=True).stdout)  # fmt: skip
    starts = [first_output() for _ in range(args.runs)]
    print(f"{'metric':<44}{'value':>12}")
    print(f"{'image size (MB)':<44}{size / 1e6:>12.0f}")
    print(f"{'first build in this run (s)':<44}{cold:>12.1f}")
    print(f"{'build after a source change (s)':<44}{changed:>12.1f}")
    print(f"{'build with nothing changed (s)':<44}{warm:>12.1f}")
    print(f"{'docker run -> first output line, median (s)':<44}{statistics.median(starts):>12.2f}")


if __name__ == "__main__":
    main()
