"""Recall benchmark for the local memory store: latency by store size, quality by ranker.

    /work/venv/bin/python bench/memory_recall.py            # 1k/10k/100k + quality
    /work/venv/bin/python bench/memory_recall.py --sizes 1000,10000 --json

Latency: one store grows to each size (synthetic memories that splice halves of two labeled
memories, so words keep the document frequencies of a real store; dates spread over two
years, mixed importance), then `LocalMemory.recall(query, k=5)` — the product
path, ranking included — runs for every labeled query, several times; p50/p95 are per call.

Quality: the labeled set in `bench/data/` (`recall_memories.jsonl`: 66 engineering lessons
plus 90 realistic distractors such as changelog lines and notes; `recall_queries.jsonl`: 66
queries, each with the id of its one relevant memory, phrased as a person would ask, sharing
meaning but often few words with it). Each ranker indexes the same corpus (in one shuffled
order) and answers every query; hit@1, hit@5 and MRR (over the top 10) are reported, overall
and for the low-overlap queries (≤ 1 content word shared with their memory).

Adding a ranker (e.g. the sentence encoder): implement `Ranker` (`index(docs)`,
`search(query, k) -> [doc ids]`, `close()`) and register a factory in `RANKERS`; it then
appears as a row of the quality table (`--rankers fts5-bm25,encoder`).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from kagura_engineer.memory.local import STOPWORDS, LocalMemory, iso

DATA = Path(__file__).resolve().parent / "data"
WORD = re.compile(r"\w+", re.UNICODE)
BATCH = 5000
SEED = 20240611


@dataclass(frozen=True)
class Doc:
    id: str
    summary: str
    content: str
    type: str
    tags: tuple[str, ...]

    @property
    def text(self) -> str:
        return f"{self.summary} {self.content} {' '.join(self.tags)}"


@dataclass(frozen=True)
class Query:
    text: str
    relevant: frozenset[str]


def words(text: str) -> list[str]:
    """Lower-cased content words (the same stopword list as the store)."""
    return [w for w in (t.lower() for t in WORD.findall(text)) if w not in STOPWORDS]


# ---------------------------------------------------------------- rankers


class Ranker(Protocol):
    name: str

    def index(self, docs: list[Doc]) -> None: ...

    def search(self, query: str, k: int) -> list[str]: ...

    def close(self) -> None: ...


class Fts5Ranker:
    """The product: `LocalMemory.recall` (FTS5 BM25 × importance × recency)."""

    name = "fts5-bm25"

    def __init__(self, workdir: Path) -> None:
        self.mem = LocalMemory(workdir / "quality.db")
        self.ids: dict[str, str] = {}

    def index(self, docs: list[Doc]) -> None:
        stored = self.mem.remember_many(
            {"summary": d.summary, "content": d.content, "type": d.type, "tags": list(d.tags)} for d in docs
        )
        self.ids = {memory_id: d.id for memory_id, d in zip(stored, docs, strict=True)}

    def search(self, query: str, k: int) -> list[str]:
        return [self.ids[m.id] for m in self.mem.recall(query, k=k)]

    def close(self) -> None:
        self.mem.close()


class OverlapRanker:
    """Baseline: how many distinct query words a memory contains (no stemming, no weights)."""

    name = "keyword-overlap"

    def __init__(self, workdir: Path) -> None:
        self.docs: list[tuple[str, set[str]]] = []

    def index(self, docs: list[Doc]) -> None:
        self.docs = [(d.id, set(words(d.text))) for d in docs]

    def search(self, query: str, k: int) -> list[str]:
        terms = set(words(query))
        scored = [(len(terms & bag), n, doc_id) for n, (doc_id, bag) in enumerate(self.docs)]
        scored = [s for s in scored if s[0] > 0]
        scored.sort(key=lambda s: (-s[0], s[1]))  # ties: corpus order (shuffled once)
        return [doc_id for _, _, doc_id in scored[:k]]

    def close(self) -> None:
        pass


RANKERS: dict[str, Callable[[Path], Ranker]] = {
    Fts5Ranker.name: Fts5Ranker,
    OverlapRanker.name: OverlapRanker,
}


# ---------------------------------------------------------------- data


def load_labeled() -> tuple[list[Doc], list[Query]]:
    docs = [
        Doc(r["id"], r["summary"], r["content"], r["type"], tuple(r.get("tags", ())))
        for r in map(json.loads, (DATA / "recall_memories.jsonl").read_text(encoding="utf-8").splitlines())
    ]
    queries = [
        Query(r["query"], frozenset(r["relevant"]))
        for r in map(json.loads, (DATA / "recall_queries.jsonl").read_text(encoding="utf-8").splitlines())
    ]
    known = {d.id for d in docs}
    for q in queries:
        assert q.relevant <= known, f"unknown relevant id in {q}"
    return docs, queries


def low_overlap(query: Query, docs: dict[str, Doc]) -> bool:
    """At most one content word in common with every relevant memory."""
    terms = set(words(query.text))
    return all(len(terms & set(words(docs[r].text))) <= 1 for r in query.relevant)


def _half(text: str, rng: random.Random) -> list[str]:
    tokens = text.split()
    keep = sorted(rng.sample(range(len(tokens)), k=max(1, len(tokens) // 2)))
    return [tokens[i] for i in keep]


def synthetic(n: int, docs: list[Doc], rng: random.Random, start: int = 0) -> Iterator[dict]:
    """`n` filler memories with the labeled corpus's term statistics: each splices a random
    half of the words of two labeled memories (so every word keeps about its document
    frequency) and adds a fresh identifier; dates spread over two years."""
    types = ["lesson", "failure", "fix", "note", "changelog", "decision"]
    now = time.time()
    for i in range(start, start + n):
        a, b = rng.sample(docs, 2)
        yield {
            "summary": " ".join(_half(a.summary, rng) + _half(b.summary, rng)) + f" (#{i})",
            "content": " ".join(
                _half(a.content, rng) + _half(b.content, rng) + [f"svc{rng.randrange(20000)}"]
            ),
            "type": rng.choice(types),
            "tags": sorted(set(a.tags[:1] + b.tags[:1])),
            "importance": round(rng.uniform(0.2, 0.9), 2),
            "created_at": iso(now - rng.uniform(0, 730) * 86400),
        }


# ---------------------------------------------------------------- measurements


def quality(ranker: Ranker, docs: list[Doc], queries: list[Query]) -> dict[str, float]:
    by_id = {d.id: d for d in docs}
    hit1 = hit5 = rr = 0.0
    low_hits = low_n = 0
    for q in queries:
        found = ranker.search(q.text, 10)
        rank = next((n for n, doc_id in enumerate(found, start=1) if doc_id in q.relevant), None)
        hit1 += rank == 1
        hit5 += rank is not None and rank <= 5
        rr += 1.0 / rank if rank else 0.0
        if low_overlap(q, by_id):
            low_n += 1
            low_hits += rank is not None and rank <= 5
    n = len(queries)
    return {
        "hit@1": hit1 / n,
        "hit@5": hit5 / n,
        "mrr": rr / n,
        "low_overlap_n": low_n,
        "low_overlap_hit@5": low_hits / low_n if low_n else 0.0,
    }


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def latency(path: Path, queries: list[Query], rounds: int) -> dict[str, float]:
    t0 = time.perf_counter()
    mem = LocalMemory(path)
    opened = time.perf_counter() - t0
    try:
        for q in queries[:10]:  # warm the page cache
            mem.recall(q.text, k=5)
        samples = []
        for _ in range(rounds):
            for q in queries:
                t = time.perf_counter()
                mem.recall(q.text, k=5)
                samples.append((time.perf_counter() - t) * 1000)
    finally:
        mem.close()
    return {
        "open_ms": opened * 1000,
        "p50_ms": percentile(samples, 50),
        "p95_ms": percentile(samples, 95),
        "mean_ms": statistics.fmean(samples),
        "samples": len(samples),
    }


def grow(path: Path, docs: list[Doc], have: int, want: int, rng: random.Random) -> float:
    """Add synthetic memories until the store holds `want`; returns seconds spent."""
    t0 = time.perf_counter()
    with LocalMemory(path) as mem:
        todo = want - have
        while todo > 0:
            batch = min(BATCH, todo)
            mem.remember_many(synthetic(batch, docs, rng, start=want - todo))
            todo -= batch
        mem.checkpoint()
    return time.perf_counter() - t0


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="store sizes for latency")
    parser.add_argument(
        "--rankers", default=",".join(RANKERS), help=f"quality rankers ({', '.join(RANKERS)})"
    )
    parser.add_argument("--rounds", type=int, default=5, help="passes over the queries per size")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(",") if s)
    names = [n for n in args.rankers.split(",") if n]
    unknown = [n for n in names if n not in RANKERS]
    if unknown:
        parser.error(f"unknown ranker(s): {', '.join(unknown)}")

    docs, queries = load_labeled()
    rng = random.Random(SEED)
    quality_rows: list[dict] = []
    latency_rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="kagura-bench-") as tmp:
        work = Path(tmp)
        shuffled = docs[:]
        random.Random(SEED).shuffle(shuffled)  # one corpus order for every ranker
        for name in names:
            ranker = RANKERS[name](work)
            try:
                ranker.index(shuffled)
                quality_rows.append({"ranker": name, **quality(ranker, docs, queries)})
            finally:
                ranker.close()
        path = work / "latency.db"
        have = 0
        for size in sizes:
            build = grow(path, docs, have, size, rng)
            have = size
            row = {"size": size, "build_s": build, **latency(path, queries, args.rounds)}
            row["db_mb"] = path.stat().st_size / 1e6
            latency_rows.append(row)
            if not args.json:
                print(f"  built {size:>7} memories (+{build:.1f} s)", file=sys.stderr)

    if args.json:
        print(json.dumps({"quality": quality_rows, "latency": latency_rows}, indent=2))
        return 0
    n_low = quality_rows[0]["low_overlap_n"] if quality_rows else 0
    print(
        f"\nRecall quality: {len(queries)} labeled queries, {len(docs)} memories ({n_low} low-overlap queries)"
    )
    print("| ranker | hit@1 | hit@5 | MRR | hit@5 low-overlap |\n|---|---|---|---|---|")
    for q in quality_rows:
        print(
            f"| {q['ranker']} | {q['hit@1']:.3f} | {q['hit@5']:.3f} | {q['mrr']:.3f} | {q['low_overlap_hit@5']:.3f} |"
        )
    print(f"\nRecall latency: LocalMemory.recall(k=5), {len(queries)} queries x {args.rounds} rounds")
    print(
        "| memories | p50 ms | p95 ms | mean ms | open ms | DB MB | build s |\n|---|---|---|---|---|---|---|"
    )
    for r in latency_rows:
        print(
            f"| {r['size']:,} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['mean_ms']:.2f} | "
            f"{r['open_ms']:.0f} | {r['db_mb']:.1f} | {r['build_s']:.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
