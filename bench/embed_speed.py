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

    bench/embed_speed.py --baseline-src /tmp/old/src     # this tree and an older one, in turn
    bench/embed_speed.py --onnxruntime                   # the numpy pass against onnxruntime

`--baseline-src` runs the whole measurement as a child process per tree, alternating
(after, before, after, before ...), and prints the medians and after/before ratios.
`--onnxruntime` (needs `pip install onnx onnxruntime`, neither a dependency) builds the same
network as an ONNX graph from the vendored weights, as the numpy encoder dequantises them
(BERT with onnxruntime's fused Attention, SkipLayerNormalization and BiasGelu kernels; mean
pooling and normalisation in numpy), checks that its vectors match (cosine >= 0.999), and
times both over the same texts, one thread and then one per core, in turn.
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
from typing import Any

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


# ---------------------------------------------------------------- onnxruntime, for comparison


def onnx_graph(enc: Any) -> bytes:
    """The encoder's network as a serialised ONNX model: inputs `ids` (batch, length) int64 and
    `lengths` (batch,) int32 (right padding), output the last hidden states (batch, length, 384)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    from kagura_engineer.memory import embed

    tensors, _ = embed.read_safetensors(embed.MODEL_DIR / embed.WEIGHTS_FILE)
    inits, nodes = [], []

    def init(name: str, arr: Any) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        domain = "com.microsoft" if op in ("Attention", "SkipLayerNormalization", "BiasGelu") else ""
        nodes.append(helper.make_node(op, inputs, [output], domain=domain, **attrs))
        return output

    word = init("word", embed._matrix(tensors, "embeddings.word_embeddings.weight"))
    node("Shape", ["ids"], "shape")
    node("Slice", ["shape", init("one", np.array([1])), init("two", np.array([2]))], "length")
    node("Slice", [init("pos", enc._pos), init("zero", np.array([0])), "length"], "pos_l")
    node("Add", [node("Gather", [word, "ids"], "words"), "pos_l"], "emb")
    x = node("LayerNormalization", ["emb", init("g0", enc._ln0[0]), init("b0", enc._ln0[1])], "x0",
             axis=-1, epsilon=embed.LN_EPS)  # fmt: skip
    for i, layer in enumerate(enc._layers):
        p = f"l{i}."
        w = {k: init(p + k, getattr(layer, k)) for k in ("wqkv", "bqkv", "wo", "bo", "g1", "b1", "wi", "bi",
                                                          "wo2", "bo2", "g2", "b2")}  # fmt: skip
        # Q is already scaled by 1/sqrt(d) in wqkv: the kernel must not scale again.
        att = node(
            "Attention", [x, w["wqkv"], w["bqkv"], "lengths"], p + "att", num_heads=embed.HEADS, scale=1.0
        )
        y = node("MatMul", [att, w["wo"]], p + "ao")
        x1 = node("SkipLayerNormalization", [y, x, w["g1"], w["b1"], w["bo"]], p + "x1", epsilon=embed.LN_EPS)
        h = node("BiasGelu", [node("MatMul", [x1, w["wi"]], p + "h0"), w["bi"]], p + "h")
        y2 = node("MatMul", [h, w["wo2"]], p + "y")
        x = node(
            "SkipLayerNormalization", [y2, x1, w["g2"], w["b2"], w["bo2"]], p + "x2", epsilon=embed.LN_EPS
        )
    graph = helper.make_graph(
        nodes,
        "minilm",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "length"]),
         helper.make_tensor_value_info("lengths", TensorProto.INT32, ["batch"])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", "length", embed.DIM])],
        inits,
    )  # fmt: skip
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    )
    model.ir_version = 8
    return model.SerializeToString()


class OrtEncoder:
    """The same encode() as the numpy encoder (sorted by length, batches of about as many
    tokens), with the network run by onnxruntime on right-padded batches."""

    def __init__(self, enc: Any, threads: int) -> None:
        import onnxruntime as ort

        self._enc = enc
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(onnx_graph(enc), options, providers=["CPUExecutionProvider"])

    def encode(self, texts: list[str]) -> Any:
        import numpy as np

        from kagura_engineer.memory import embed

        ids = [self._enc._token_ids(t) for t in texts]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out = np.empty((len(ids), embed.DIM), dtype=np.float32)
        i = 0
        while i < len(order):
            j = i + 1
            while (j < len(order) and j - i < embed.MAX_BATCH
                   and (j - i + 1) * len(ids[order[j]]) <= embed.TOKENS_PER_BATCH):  # fmt: skip
                j += 1
            rows = order[i:j]
            length = len(ids[rows[-1]])
            batch = np.zeros((len(rows), length), dtype=np.int64)
            lengths = np.array([len(ids[r]) for r in rows], dtype=np.int32)
            for k, r in enumerate(rows):
                batch[k, : lengths[k]] = ids[r]
            (hidden,) = self._session.run(None, {"ids": batch, "lengths": lengths})
            mask = (np.arange(length)[None, :] < lengths[:, None]).astype(np.float32)
            pooled = np.einsum("bld,bl->bd", hidden, mask) / lengths[:, None]
            out[rows] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
            i = j
        return out


def compare_onnxruntime(texts: list[str], rounds: int = 2) -> dict[str, Any]:
    """CPU and wall seconds of numpy and onnxruntime over `texts`, one thread and one per core."""
    from kagura_engineer.memory import embed

    enc = embed.get_encoder()
    cores = embed._parallel_workers() if os.environ.get("OPENBLAS_NUM_THREADS") == "1" else 1
    result: dict[str, Any] = {"docs": len(texts), "cores": cores}
    for threads in sorted({1, cores}):
        ort_enc = OrtEncoder(enc, threads)
        workers = embed._parallel_workers
        embed._parallel_workers = lambda threads=threads: threads  # type: ignore[assignment]
        try:
            a, b = ort_enc.encode(texts[:64]), enc.encode(texts[:64])
            cosine = float((a * b).sum(axis=1).min())
            runs: dict[str, list[tuple[float, float]]] = {"numpy": [], "onnxruntime": []}
            for _ in range(rounds):
                for name, run in (("numpy", enc.encode), ("onnxruntime", ort_enc.encode)):
                    start, cpu = time.perf_counter(), time.process_time()
                    run(texts)
                    runs[name].append((time.perf_counter() - start, time.process_time() - cpu))
        finally:
            embed._parallel_workers = workers  # type: ignore[assignment]
        result[f"threads_{threads}"] = {
            "min_cosine": cosine,
            **{name: {"wall_s": statistics.median(w for w, _ in r), "cpu_s": statistics.median(c for _, c in r)}
               for name, r in runs.items()},
        }  # fmt: skip
    return result


def print_onnxruntime(result: dict[str, Any]) -> None:
    print(f"numpy against onnxruntime, {result['docs']} texts (medians)")
    print(
        "| threads | numpy wall s | numpy CPU s | onnxruntime wall s | onnxruntime CPU s | ort/numpy wall | min cosine |"
    )
    print("|---|---|---|---|---|---|---|")
    for key in sorted(k for k in result if k.startswith("threads_")):
        r = result[key]
        n, o = r["numpy"], r["onnxruntime"]
        print(f"| {key.split('_')[1]} | {n['wall_s']:.2f} | {n['cpu_s']:.2f} | {o['wall_s']:.2f} | {o['cpu_s']:.2f} "
              f"| {o['wall_s'] / n['wall_s']:.2f} | {r['min_cosine']:.6f} |")  # fmt: skip


# ---------------------------------------------------------------- before / after


def paired(baseline: Path, argv: list[str], rounds: int) -> dict[str, Any]:
    """This script's --json result for this tree and `baseline`, run in turn `rounds` times."""
    trees = {"after": Path(__file__).resolve().parents[1] / "src", "before": baseline}
    runs: dict[str, list[dict[str, Any]]] = {"after": [], "before": []}
    for _ in range(rounds):
        for name, src in trees.items():
            env = {**os.environ, "PYTHONPATH": str(src)}
            out = subprocess.run([sys.executable, __file__, *argv, "--json"], env=env, capture_output=True,
                                 text=True, check=True)  # fmt: skip
            runs[name].append(json.loads(out.stdout))
    return runs


def print_paired(runs: dict[str, list[dict[str, Any]]]) -> None:
    figures = {
        "model load s": lambda r: r["load"]["load_p50_s"],
        "short texts docs/s": lambda r: r["short_20_words"]["docs_per_s"],
        "short texts CPU s": lambda r: r["short_20_words"]["cpu_seconds"],
        "long texts docs/s": lambda r: r["long_200_words"]["docs_per_s"],
        "long texts CPU s": lambda r: r["long_200_words"]["cpu_seconds"],
    }
    print(f"| figure (median of {len(runs['after'])} runs each, in turn) | before | after | after/before |")
    print("|---|---|---|---|")
    for label, get in figures.items():
        before = statistics.median(get(r) for r in runs["before"])
        after = statistics.median(get(r) for r in runs["after"])
        print(f"| {label} | {before:.3f} | {after:.3f} | {after / before:.2f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--load-runs", type=int, default=5)
    parser.add_argument("--docs", type=int, default=640)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--baseline-src", type=Path, help="also run an older src/ tree, in turn; print ratios"
    )
    parser.add_argument("--rounds", type=int, default=3, help="with --baseline-src: runs per tree")
    parser.add_argument("--onnxruntime", action="store_true", help="time onnxruntime against the numpy pass")
    args = parser.parse_args()

    if args.baseline_src:
        argv = [
            "--load-runs",
            str(args.load_runs),
            "--docs",
            str(args.docs),
            "--batch-size",
            str(args.batch_size),
        ]
        runs = paired(args.baseline_src, argv, args.rounds)
        if args.json:
            print(json.dumps(runs, indent=2))
        else:
            print_paired(runs)
        return 0
    if args.onnxruntime:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as memory/local.py sets it up
        texts = windows(corpus_words(), 20, args.docs) + windows(
            corpus_words(), 200, max(64, args.docs // 10)
        )
        result = compare_onnxruntime(texts)
        print(json.dumps(result, indent=2) if args.json else "", end="\n" if args.json else "")
        if not args.json:
            print_onnxruntime(result)
        return 0

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
