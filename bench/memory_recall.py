"""Recall benchmark for the local memory store: quality by ranker, latency by store size.

    /work/venv/bin/python bench/memory_recall.py            # quality + 1k/10k/100k latency
    /work/venv/bin/python bench/memory_recall.py --sizes 1000,10000 --json
    /work/venv/bin/python bench/memory_recall.py --cli --baseline-src /tmp/old/src   # import + recall CLI

Quality: the labeled set in `bench/data/` (`recall_memories.jsonl`: 66 engineering lessons,
90 realistic distractors such as changelog lines and notes, and 13 memories that each name
an exact identifier — an error code, a path, `#123`, a CVE, an env var — with 26 look-alikes
that share their meaning but name another identifier; `recall_queries.jsonl`: 66 queries
phrased as a person would ask, sharing meaning but often few words with their memory, and 13
queries that hinge on an identifier, `"kind": "identifier"`). Every `LocalMemory` ranker
opens the same store, built once through `remember_many` with real sentence vectors (that
build gives the embedding throughput); hit@1, hit@5 and MRR (over the top 10) are reported
overall, for the paraphrase queries, the low-overlap ones (≤ 1 content word shared with
their memory) and the identifier queries.

Then the same queries again with the labeled memories among 2,528 real changelog entries
(pytest and attrs, MIT; `recall_changelog.jsonl`, see `data/THIRD_PARTY.md`) for BM25,
cosine, RRF and the shipped hybrid: the crowded case semantic recall is for
(`--no-changelog` skips it).

Latency: one store grows to each size with synthetic memories that splice halves of two
labeled memories (words keep the document frequencies of a real store; dates spread over two
years, mixed importance). Their vectors are SYNTHETIC — random unit vectors stored under the
real model's hash, as if embedded — because embedding 100k memories takes ~35 min here and
the cost of the query path does not depend on the values. Then `LocalMemory.recall(query,
k=5)` — the product path with the real encoder loaded: query embedding, keyword candidates,
cosine over every vector (in memory below 10k, the memory-mapped file from 10k), fusion —
runs for every labeled query, several times; p50/p95 are per call. The first recall after
opening (which loads or builds the vector index) is reported apart. Keyword-only recall is
timed on the same store for comparison. Model load time is measured in a fresh process.

CLI (`--cli`): what a user waits for, as whole processes. `kagura-engineer memory import`
of the 3,909-line real set (`recall_changelog.jsonl` + `pip_news.jsonl`, one-line changelog
entries; see data/THIRD_PARTY.md) into a fresh store, timed once; then one
`kagura-engineer memory recall QUERY` process per labeled query on that store (model load
included), median wall and CPU seconds. With `--baseline-src DIR` (e.g. a checkout of the
previous release's `src/`) both run for that code too, alternating, and the after/before
ratios are printed. Bytecode caching is on for these processes, as in an installed package.

Adding a ranker: implement `Ranker` (`index(docs)`, `search(query, k) -> [doc ids]`,
`close()`) and register a factory in `RANKERS`; it then appears as a row of the quality
table (`--rankers fts5-bm25,hybrid`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kagura_engineer.memory import hybrid
from kagura_engineer.memory.local import STOPWORDS, LocalMemory, iso

DATA = Path(__file__).resolve().parent / "data"
N_CHANGELOG = sum(1 for _ in (DATA / "recall_changelog.jsonl").open(encoding="utf-8"))
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
    kind: str = "paraphrase"


def words(text: str) -> list[str]:
    """Lower-cased content words (the same stopword list as the store)."""
    return [w for w in (t.lower() for t in WORD.findall(text)) if w not in STOPWORDS]


# ---------------------------------------------------------------- rankers


class Ranker(Protocol):
    name: str

    def index(self, docs: list[Doc]) -> None: ...

    def search(self, query: str, k: int) -> list[str]: ...

    def close(self) -> None: ...


@dataclass
class Built:
    path: Path
    ids: dict[str, str]  # memory id -> doc id
    seconds: float
    docs: int


_BUILT: dict[tuple[Path, tuple[str, ...]], Built] = {}


def labeled_store(workdir: Path, docs: list[Doc]) -> Built:
    """The quality store, built once (real sentence vectors) and shared by every ranker."""
    key = (workdir, tuple(d.id for d in docs))
    if key not in _BUILT:
        from kagura_engineer.memory.embed import get_encoder

        get_encoder()  # loading the model is not part of the throughput
        path = workdir / f"quality-{len(_BUILT)}.db"
        t0 = time.perf_counter()
        with LocalMemory(path) as mem:
            stored = mem.remember_many(
                {"summary": d.summary, "content": d.content, "type": d.type, "tags": list(d.tags)}
                for d in docs
            )
            assert mem.stats()["vectors"] == len(docs), "every labeled memory must have a real vector"
        seconds = time.perf_counter() - t0
        _BUILT[key] = Built(path, dict(zip(stored, (d.id for d in docs), strict=True)), seconds, len(docs))
    return _BUILT[key]


class StoreRanker:
    """The product: `LocalMemory.recall` with one of its rankings (see memory/hybrid.py)."""

    name = "hybrid"
    ranking = hybrid.HYBRID
    #: Constants of memory/hybrid.py overridden while this ranker searches (variants only).
    overrides: dict[str, float] = {}

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.mem: LocalMemory | None = None
        self.ids: dict[str, str] = {}

    def index(self, docs: list[Doc]) -> None:
        built = labeled_store(self.workdir, docs)
        self.ids = built.ids
        self.mem = LocalMemory(built.path, ranking=self.ranking)

    def search(self, query: str, k: int) -> list[str]:
        assert self.mem is not None
        saved = {name: getattr(hybrid, name) for name in self.overrides}
        try:
            for name, value in self.overrides.items():
                setattr(hybrid, name, value)
            return [self.ids[m.id] for m in self.mem.recall(query, k=k)]
        finally:
            for name, value in saved.items():
                setattr(hybrid, name, value)

    def close(self) -> None:
        if self.mem is not None:
            self.mem.close()


class Fts5Ranker(StoreRanker):
    """FTS5 BM25 × importance × recency (the keyword-only store)."""

    name = "fts5-bm25"
    ranking = hybrid.KEYWORD


class EmbeddingRanker(StoreRanker):
    """Cosine similarity alone (× importance × recency)."""

    name = "embedding"
    ranking = hybrid.EMBEDDING


class RrfRanker(StoreRanker):
    """Reciprocal-rank fusion of the BM25 and cosine ranks (k = 60)."""

    name = "rrf"
    ranking = hybrid.RRF


class NoBoostRanker(StoreRanker):
    """The product's weighted sum without the exact-identifier boost."""

    name = "hybrid-no-identifier-boost"
    overrides = {"IDENTIFIER_BOOST": 0.0}


class EvenRanker(StoreRanker):
    """A weighted sum with more keyword weight: 0.7 cosine + 0.3 BM25 (+ identifier boost)."""

    name = "weighted-0.7"
    overrides = {"COSINE_WEIGHT": 0.7}


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


#: The rankers also measured with the labeled memories among the real changelog entries.
CROWDED_RANKERS = ("fts5-bm25", "embedding", "rrf", "hybrid")

RANKERS: dict[str, Callable[[Path], Ranker]] = {
    r.name: r
    for r in (Fts5Ranker, OverlapRanker, EmbeddingRanker, RrfRanker, EvenRanker, NoBoostRanker, StoreRanker)
}


# ---------------------------------------------------------------- data


def load_labeled() -> tuple[list[Doc], list[Query]]:
    docs = [
        Doc(r["id"], r["summary"], r["content"], r["type"], tuple(r.get("tags", ())))
        for r in map(json.loads, (DATA / "recall_memories.jsonl").read_text(encoding="utf-8").splitlines())
    ]
    queries = [
        Query(r["query"], frozenset(r["relevant"]), r.get("kind", "paraphrase"))
        for r in map(json.loads, (DATA / "recall_queries.jsonl").read_text(encoding="utf-8").splitlines())
    ]
    known = {d.id for d in docs}
    for q in queries:
        assert q.relevant <= known, f"unknown relevant id in {q}"
    return docs, queries


def load_changelog() -> list[Doc]:
    """Real changelog entries (pytest, attrs; see data/THIRD_PARTY.md): distractors."""
    return [
        Doc(r["id"], r["summary"], r.get("content", r["summary"]), r["type"], tuple(r.get("tags", ())))
        for r in map(json.loads, (DATA / "recall_changelog.jsonl").read_text(encoding="utf-8").splitlines())
    ]


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


class SyntheticVectors:
    """Stands in for the encoder while filler memories are written: random unit vectors,
    stored under the real model's id and hash so the store treats them as embedded."""

    def __init__(self, seed: int) -> None:
        import numpy as np

        from kagura_engineer.memory.embed import get_encoder

        real = get_encoder()
        self.model_id, self.model_hash = real.model_id, real.model_hash
        self._rng = np.random.default_rng(seed)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> Any:
        import numpy as np

        v = self._rng.standard_normal((len(texts), 384)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


# ---------------------------------------------------------------- measurements


def _score(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks) or 1
    return {
        "n": len(ranks),
        "hit@1": sum(r == 1 for r in ranks) / n,
        "hit@5": sum(r is not None and r <= 5 for r in ranks) / n,
        "mrr": sum(1.0 / r for r in ranks if r) / n,
    }


def quality(ranker: Ranker, docs: list[Doc], queries: list[Query]) -> dict[str, Any]:
    by_id = {d.id: d for d in docs}
    groups: dict[str, list[int | None]] = {"all": [], "paraphrase": [], "low_overlap": [], "identifier": []}
    for q in queries:
        found = ranker.search(q.text, 10)
        rank = next((n for n, doc_id in enumerate(found, start=1) if doc_id in q.relevant), None)
        groups["all"].append(rank)
        groups[q.kind].append(rank)
        if q.kind == "paraphrase" and low_overlap(q, by_id):
            groups["low_overlap"].append(rank)
    return {name: _score(ranks) for name, ranks in groups.items()}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def latency(path: Path, queries: list[Query], rounds: int, ranking: str) -> dict[str, float]:
    t0 = time.perf_counter()
    mem = LocalMemory(path, ranking=ranking)
    opened = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        mem.recall(queries[0].text, k=5)  # loads (or builds) the vector index
        first = time.perf_counter() - t0
        for q in queries[1:10]:  # warm the page cache
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
        "first_ms": first * 1000,
        "p50_ms": percentile(samples, 50),
        "p95_ms": percentile(samples, 95),
        "mean_ms": statistics.fmean(samples),
        "samples": len(samples),
    }


def grow(path: Path, docs: list[Doc], have: int, want: int, rng: random.Random) -> float:
    """Add synthetic memories (synthetic vectors) until the store holds `want`; returns seconds."""
    t0 = time.perf_counter()
    with LocalMemory(path, encoder=SyntheticVectors(want)) as mem:
        todo = want - have
        while todo > 0:
            batch = min(BATCH, todo)
            mem.remember_many(synthetic(batch, docs, rng, start=want - todo))
            todo -= batch
        mem.checkpoint()
    return time.perf_counter() - t0


LOAD_PROBE = """
import json, time
import numpy, tokenizers
t0 = time.perf_counter()
from kagura_engineer.memory.embed import get_encoder
get_encoder()
print(json.dumps({"load": time.perf_counter() - t0}))
"""


def model_load_seconds(runs: int = 3) -> float:
    """Median time of `get_encoder()` in a fresh process (numpy/tokenizers already imported)."""
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", LOAD_PROBE], capture_output=True, text=True, check=True)
        times.append(json.loads(out.stdout.strip().splitlines()[-1])["load"])
    return statistics.median(times)


def vector_file_mb(path: Path) -> float:
    from kagura_engineer.memory.vectors import current_file

    data = current_file(path)
    return data.stat().st_size / 1e6 if data else 0.0


# ---------------------------------------------------------------- the CLI as a user runs it

SRC = Path(__file__).resolve().parents[1] / "src"
IMPORT_SETS = ("recall_changelog.jsonl", "pip_news.jsonl")


def import_file(dest: Path) -> int:
    """The real one-line memories of `IMPORT_SETS` as one import file; returns the count."""
    lines = [line for name in IMPORT_SETS for line in (DATA / name).read_text(encoding="utf-8").splitlines()]
    dest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def run_cli(src: Path, db: Path, *argv: str) -> tuple[float, float]:
    """Run `kagura-engineer ARGV` with `src` first on the path; (wall s, CPU s of the child)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(src), KAGURA_MEMORY_DB=str(db))
    before = os.times()
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "kagura_engineer", *argv],
        env=env, cwd=db.parent, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    after = os.times()
    return wall, (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )


def cli_benchmark(work: Path, queries: list[Query], baseline: Path | None) -> dict[str, Any]:
    """`memory import` of the real set and one `memory recall` process per query, for this
    code and (alternating) the baseline's."""
    source = work / "import.jsonl"
    count = import_file(source)
    codes = {"after": SRC, **({"before": baseline} if baseline else {})}
    result: dict[str, Any] = {"memories": count, "import": {}, "recall": {}}
    for name, src in codes.items():
        db = work / f"cli-{name}" / "memory.db"
        db.parent.mkdir()
        wall, cpu = run_cli(src, db, "memory", "import", str(source))
        result["import"][name] = {"wall_s": wall, "cpu_s": cpu, "docs_per_s": count / wall}
        print(f"  memory import ({name}): {wall:.1f} s wall, {cpu:.1f} s CPU", file=sys.stderr)
        run_cli(src, db, "memory", "recall", queries[0].text)  # builds the vector file, warms caches
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in codes}
    for q in queries:
        for name, src in codes.items():
            samples[name].append(run_cli(src, work / f"cli-{name}" / "memory.db", "memory", "recall", q.text))
    for name, runs in samples.items():
        result["recall"][name] = {
            "wall_s": statistics.median(w for w, _ in runs),
            "cpu_s": statistics.median(c for _, c in runs),
            "runs": len(runs),
        }
    return result


def print_cli(cli: dict[str, Any]) -> None:
    imp, rec = cli["import"], cli["recall"]
    print(f"\nCLI, whole processes: memory import of {cli['memories']:,} real one-line memories; "
          f"memory recall (model load included), median of {rec['after']['runs']} queries")  # fmt: skip
    print(
        "| | import wall s | import CPU s | docs/s | recall wall s | recall CPU s |\n|---|---|---|---|---|---|"
    )
    for name in [n for n in ("before", "after") if n in imp]:
        i, r = imp[name], rec[name]
        print(f"| {name} | {i['wall_s']:.1f} | {i['cpu_s']:.1f} | {i['docs_per_s']:.0f} | "
              f"{r['wall_s']:.3f} | {r['cpu_s']:.3f} |")  # fmt: skip
    if "before" in imp:
        ratio = lambda part, key: cli[part]["after"][key] / cli[part]["before"][key]  # noqa: E731
        print(f"| after/before | {ratio('import', 'wall_s'):.2f} | {ratio('import', 'cpu_s'):.2f} | | "
              f"{ratio('recall', 'wall_s'):.2f} | {ratio('recall', 'cpu_s'):.2f} |")  # fmt: skip


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="store sizes for latency")
    parser.add_argument(
        "--rankers", default=",".join(RANKERS), help=f"quality rankers ({', '.join(RANKERS)})"
    )
    parser.add_argument("--rounds", type=int, default=5, help="passes over the queries per size")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--no-changelog",
        dest="changelog",
        action="store_false",
        help="skip the quality pass among the real changelog entries (embeds ~2,500 more)",
    )
    parser.add_argument("--cli", action="store_true", help="only time memory import and recall as processes")
    parser.add_argument("--baseline-src", type=Path, help="with --cli: also time this src/ tree (before)")
    args = parser.parse_args(argv)
    if args.cli:
        docs, queries = load_labeled()
        with tempfile.TemporaryDirectory(prefix="kagura-bench-") as tmp:
            cli = cli_benchmark(Path(tmp), queries, args.baseline_src)
        cli["loadavg"] = list(os.getloadavg())
        if args.json:
            print(json.dumps(cli, indent=2))
        else:
            print_cli(cli)
            print(f"Load average during the run: {' '.join(f'{x:.1f}' for x in cli['loadavg'])} (2 cores)")
        return 0
    sizes = sorted(int(s) for s in args.sizes.split(",") if s)
    names = [n for n in args.rankers.split(",") if n]
    unknown = [n for n in names if n not in RANKERS]
    if unknown:
        parser.error(f"unknown ranker(s): {', '.join(unknown)}")

    docs, queries = load_labeled()
    rng = random.Random(SEED)
    load_s = model_load_seconds()
    quality_rows: list[dict] = []
    latency_rows: list[dict] = []
    throughput: dict[str, float] = {}
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
        for built in list(_BUILT.values())[:1]:  # the labeled memories: realistic lengths
            throughput = {
                "docs": built.docs,
                "seconds": built.seconds,
                "docs_per_s": built.docs / built.seconds,
            }
        crowded: list[dict] = []
        if args.changelog:
            changelog = load_changelog()
            among = docs + changelog
            random.Random(SEED).shuffle(among)
            for name in [n for n in names if n in CROWDED_RANKERS]:
                ranker = RANKERS[name](work)
                try:
                    ranker.index(among)
                    crowded.append({"ranker": name, **quality(ranker, docs + changelog, queries)})
                finally:
                    ranker.close()
        path = work / "latency.db"
        have = 0
        for size in sizes:
            build = grow(path, docs, have, size, rng)
            have = size
            row: dict[str, Any] = {"size": size, "build_s": build}
            row.update(latency(path, queries, args.rounds, hybrid.HYBRID))
            row["keyword_p50_ms"] = latency(path, queries, max(1, args.rounds // 2), hybrid.KEYWORD)["p50_ms"]
            row["db_mb"] = path.stat().st_size / 1e6
            row["vector_file_mb"] = vector_file_mb(path)
            latency_rows.append(row)
            if not args.json:
                print(f"  built {size:>7} memories (+{build:.1f} s)", file=sys.stderr)
    result = {
        "quality": quality_rows,
        "quality_among_changelog": crowded,
        "latency": latency_rows,
        "model_load_s": load_s,
        "embedding_throughput": throughput,
        "loadavg": list(os.getloadavg()),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print_tables(result, len(queries), len(docs), args.rounds)
    return 0


def print_quality(rows: list[dict], title: str) -> None:
    if not rows:
        return
    g = rows[0]
    print(
        f"\n{title} ({g['paraphrase']['n']} paraphrase, of which {g['low_overlap']['n']} low-overlap; "
        f"{g['identifier']['n']} exact-identifier)"
    )
    print(
        "| ranker | hit@1 | hit@5 | MRR | paraphrase hit@5 | low-overlap hit@5 | identifier hit@1 |\n"
        "|---|---|---|---|---|---|---|"
    )
    for q in rows:
        a = q["all"]
        print(
            f"| {q['ranker']} | {a['hit@1']:.3f} | {a['hit@5']:.3f} | {a['mrr']:.3f} | "
            f"{q['paraphrase']['hit@5']:.3f} | {q['low_overlap']['hit@5']:.3f} | {q['identifier']['hit@1']:.3f} |"
        )


def print_tables(result: dict[str, Any], n_queries: int, n_docs: int, rounds: int) -> None:
    print_quality(result["quality"], f"Recall quality: {n_queries} labeled queries over {n_docs} memories")
    crowded = result["quality_among_changelog"]
    print_quality(
        crowded,
        f"The same queries with the labeled memories among {N_CHANGELOG} real changelog entries "
        f"({n_docs + N_CHANGELOG} memories; pytest and attrs, data/THIRD_PARTY.md)",
    )
    print(
        f"\nRecall latency: LocalMemory.recall(k=5), hybrid, model loaded, {n_queries} queries x {rounds} rounds "
        "(filler memories carry synthetic random unit vectors)"
    )
    print(
        "| memories | p50 ms | p95 ms | keyword-only p50 ms | first recall ms | DB MB | vector file MB | build s |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    for r in result["latency"]:
        print(
            f"| {r['size']:,} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['keyword_p50_ms']:.1f} | "
            f"{r['first_ms']:.0f} | {r['db_mb']:.1f} | {r['vector_file_mb']:.1f} | {r['build_s']:.1f} |"
        )
    t = result["embedding_throughput"]
    if t:
        print(
            f"\nEmbedding throughput (remember_many of the labeled memories, real vectors): "
            f"{t['docs_per_s']:.0f} docs/s ({t['docs']} docs in {t['seconds']:.1f} s)"
        )
    print(f"Model load (get_encoder in a fresh process, median of 3): {result['model_load_s'] * 1000:.0f} ms")
    print(f"Load average during the run: {' '.join(f'{x:.1f}' for x in result['loadavg'])} (2 cores)")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
