"""Speed of the shipped sentence encoder: model load time and embedding throughput.

    /work/venv/bin/python bench/embed_speed.py               # load ×5 (fresh processes), throughput
    /work/venv/bin/python bench/embed_speed.py --json

Load: a fresh interpreter per run imports numpy and tokenizers, then times
`get_encoder()` (reading the weights, dequantising, parsing tokenizer.json) and, separately,
the imports. Throughput: `encode(texts, batch_size=32)` over sentences of about 20 words
(windows of the labeled recall corpus in `bench/data/`), and over ~200-word passages;
the first batch warms up and is not counted. Wall time depends on what else the 2 cores
are doing (the load average is printed); CPU seconds are printed beside it. Targets
(issue H): load < 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "recall_memories.jsonl"

LOAD_PROBE = """
import json, time
t0 = time.perf_counter()
import numpy, tokenizers
t1 = time.perf_counter()
from kagura_engineer.memory.embed import get_encoder
get_encoder()
t2 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "load": t2 - t1}))
"""


def corpus_words() -> list[str]:
    words: list[str] = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            words += f"{row['summary']} {row['content']}".split()
    return words


def windows(words: list[str], size: int, count: int) -> list[str]:
    """`count` texts of `size` words, sliding over the corpus (wrapping), deterministic."""
    step = max(1, size // 2)
    out = []
    for i in range(count):
        start = (i * step) % len(words)
        chunk = (words + words)[start : start + size]
        out.append(" ".join(chunk))
    return out


def measure_load(runs: int) -> dict[str, float]:
    loads, imports = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", LOAD_PROBE], capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        loads.append(row["load"])
        imports.append(row["imports"])
    return {"load_p50_s": statistics.median(loads), "load_max_s": max(loads),
            "imports_p50_s": statistics.median(imports)}  # fmt: skip


def measure_throughput(texts: list[str], batch_size: int) -> dict[str, float]:
    from kagura_engineer.memory.embed import get_encoder

    enc = get_encoder()
    enc.encode(texts[:batch_size], batch_size=batch_size)  # warm-up
    start, cpu = time.perf_counter(), time.process_time()
    enc.encode(texts, batch_size=batch_size)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    tokens = sum(len(enc._token_ids(t)) for t in texts)
    return {"docs": len(texts), "seconds": seconds, "docs_per_s": len(texts) / seconds,
            "avg_tokens": tokens / len(texts), "cpu_seconds": cpu}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--load-runs", type=int, default=5)
    parser.add_argument("--docs", type=int, default=640)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    words = corpus_words()
    result = {
        "load": measure_load(args.load_runs),
        "short_20_words": measure_throughput(windows(words, 20, args.docs), args.batch_size),
        "long_200_words": measure_throughput(windows(words, 200, max(64, args.docs // 10)), args.batch_size),
    }
    result["loadavg"] = list(os.getloadavg())
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    load = result["load"]
    print(
        f"model load (get_encoder, p50 of {args.load_runs} fresh processes): {load['load_p50_s'] * 1000:.0f} ms "
        f"(max {load['load_max_s'] * 1000:.0f} ms); numpy+tokenizers imports: {load['imports_p50_s'] * 1000:.0f} ms"
    )
    for name in ("short_20_words", "long_200_words"):
        row = result[name]
        print(
            f"{name}: {row['docs_per_s']:.0f} docs/s ({row['docs']} docs, {row['avg_tokens']:.0f} tokens avg, "
            f"batch {args.batch_size}, {row['seconds']:.2f} s wall, {row['cpu_seconds']:.2f} s CPU)"
        )
    print(f"load average during the run: {' '.join(f'{x:.1f}' for x in result['loadavg'])} (2 cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
