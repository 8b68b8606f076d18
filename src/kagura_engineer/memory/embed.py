"""Sentence embeddings for semantic recall: all-MiniLM-L6-v2 as a plain numpy forward pass.

The model ships inside the package (`memory/model/`, written by `scripts/vendor_model.py`):
its weights in safetensors layout with the matrices as int8 per output row (float32 scale)
plus a 4-bit residual per row, dequantised to float32 once at load (the word-embedding table
row by row as tokens need it); the upstream `tokenizer.json` byte for byte; a `manifest.json`
with every file's sha256. Nothing is downloaded, ever.

The forward pass is BERT as the upstream model runs it: word + position + token-type
embeddings and LayerNorm (eps 1e-12); 6 layers of 12-head self-attention (over the real tokens only)
and an exact-erf GELU MLP, each with a residual and LayerNorm; mean pooling over the real
tokens; L2 normalisation. Input is truncated to 256 tokens (the model's `max_seq_length`).

Speed (the products are ~70 % of the time, at what the BLAS sustains): texts are sorted by
token count and packed end to end without padding, so every dense layer works on real
tokens only; attention runs per run of equal-length sequences; the dequantised matrices are
kept as contiguous float32 rows (BLAS reads them transposed in place), with Q, K and V fused and 1/√d folded into Q;
activations live in scratch buffers reused across layers, batches and calls. With several
batches and a single-threaded BLAS (what `memory/local.py` sets up), one thread per core
runs batches side by side: numpy releases the GIL in products and elementwise passes alike,
so this beats BLAS's own threads, which only split the products and spin between them. The
output order is the input order.

numpy and tokenizers are imported lazily: this module imports without them, `available()`
says whether the encoder can run, and `get_encoder()` loads it once per process.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import mmap
import os
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kagura_engineer.errors import MemoryStoreError

if TYPE_CHECKING:
    import numpy as np

MODEL_DIR = Path(__file__).resolve().parent / "model"
WEIGHTS_FILE = "model.int8r4.safetensors"
TOKENIZER_FILE = "tokenizer.json"
MANIFEST_FILE = "manifest.json"

DIM = 384
LAYERS = 6
HEADS = 12
MAX_TOKENS = 256  # sentence_bert_config.json: max_seq_length (the tokenizer.json itself says 128)
LN_EPS = 1e-12
#: A text longer than this is tokenised from a prefix cut at whitespace first (exact: see `_token_ids`).
PREFIX_CHARS = 16 * MAX_TOKENS
#: Packed tokens per forward batch (measured on 2 cores: 256-row products already run near
#: BLAS's peak; larger batches only make the activations fall out of cache).
TOKENS_PER_BATCH = 2_048
MAX_BATCH = 256
#: Threads that run batches side by side (at most one per usable core).
MAX_WORKERS = 4
#: Attention scores per chunk (g × heads × L × L floats; 256k ≈ 1 MB stays in cache).
SCORES_PER_CHUNK = 256 * 1024
#: Rows per block of the GELU's elementwise passes (its four scratch rows stay in cache).
GELU_ROWS = 64
SCALE_SUFFIX = ".scale"
RESIDUAL_SUFFIX = ".residual"
RESIDUAL_SCALE_SUFFIX = ".residual_scale"

#: numpy and tokenizers are dependencies of kagura-engineer: missing, the install is broken.
REINSTALL = (
    "a dependency of kagura-engineer: reinstall it from its repository, e.g. pip install --force-reinstall ."
)

_DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I8": "i1", "U8": "u1", "I32": "<i4", "I64": "<i8"}


class EncoderUnavailable(MemoryStoreError):
    """The sentence encoder cannot run here (numpy/tokenizers missing, or model files absent)."""

    code = "memory-encoder"


def unavailable_reason(model_dir: Path = MODEL_DIR) -> str | None:
    """Why the encoder cannot run here, or None when it can (imports numpy and tokenizers)."""
    for module in ("numpy", "tokenizers"):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed ({REINSTALL})"
    for name in (WEIGHTS_FILE, TOKENIZER_FILE, MANIFEST_FILE):
        if not (model_dir / name).is_file():
            return f"the model file {name} is missing from {model_dir}"
    return None


def installed_reason(model_dir: Path = MODEL_DIR) -> str | None:
    """As `unavailable_reason`, but without importing numpy or tokenizers (for `doctor`)."""
    from importlib.util import find_spec

    for module in ("numpy", "tokenizers"):
        if find_spec(module) is None:
            return f"{module} is not installed ({REINSTALL})"
    for name in (WEIGHTS_FILE, TOKENIZER_FILE, MANIFEST_FILE):
        if not (model_dir / name).is_file():
            return f"the model file {name} is missing from {model_dir}"
    return None


def available() -> bool:
    """True when numpy, tokenizers and the shipped model files are all present."""
    return unavailable_reason() is None


_lock = threading.Lock()
_encoder: Encoder | None = None
_loading: threading.Thread | None = None


def preload() -> None:
    """Start loading the shipped encoder on a background thread, so that work the caller
    does meanwhile (opening the store, SQLite reads) overlaps it; `get_encoder()` waits for
    it. Nothing happens when the encoder is loaded or loading, or cannot load here."""
    global _loading
    with _lock:
        if _encoder is not None or _loading is not None or installed_reason() is not None:
            return
        _loading = threading.Thread(target=_load_quietly, name="kagura-encoder-load")
        _loading.start()


def _load_quietly() -> None:
    # A failure is not reported here: get_encoder() on the caller's thread loads again and raises.
    with contextlib.suppress(Exception):
        get_encoder()


def get_encoder() -> Encoder:
    """The shipped encoder, loaded on first use and shared by the whole process."""
    global _encoder
    loading = _loading
    if _encoder is None and loading is not None and loading is not threading.current_thread():
        loading.join()
    if _encoder is None:
        with _lock:
            if _encoder is None:
                reason = unavailable_reason()
                if reason:
                    raise EncoderUnavailable(f"semantic recall is unavailable: {reason}")
                _encoder = Encoder.shipped()
    return _encoder


def read_safetensors(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Tensors (read-only views on a memory map of `path`) and the `__metadata__` strings.

    The format: an 8-byte little-endian header length, a JSON header mapping each name to
    its dtype, shape and [begin, end) byte offsets into the data that follows.
    """
    import numpy as np

    with open(path, "rb") as fh:
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    if len(mm) < 8:
        raise MemoryStoreError(f"{path}: not a safetensors file (too short)")
    (header_len,) = struct.unpack("<Q", mm[:8])
    if header_len > len(mm) - 8:
        raise MemoryStoreError(f"{path}: not a safetensors file (header length {header_len})")
    header = json.loads(bytes(mm[8 : 8 + header_len]))
    base = 8 + header_len
    metadata = header.pop("__metadata__", None) or {}
    tensors: dict[str, np.ndarray] = {}
    for name, info in header.items():
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise MemoryStoreError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        count = 1
        for n in shape:
            count *= n
        if not 0 <= begin <= end <= len(mm) - base or count * np.dtype(dtype).itemsize != end - begin:
            raise MemoryStoreError(f"{path}: tensor {name} does not match its byte range")
        arr = np.frombuffer(mm, dtype=dtype, count=count, offset=base + begin)
        tensors[name] = arr.reshape(shape)
    return tensors, metadata


def _matrix(
    tensors: dict[str, np.ndarray], name: str, rows: np.ndarray | None = None, out: np.ndarray | None = None
) -> np.ndarray:
    """A float32 matrix (or the given `rows` of it), dequantised when stored quantised (into
    `out` when given).

    Quantised layout (see scripts/vendor_model.py): `name` int8 and `name.scale` float32 per
    row, plus a 4-bit residual: `name.residual` packs two offset-8 nibbles per byte (low nibble
    first) and `name.residual_scale` is its float32 scale per row.
    """
    import numpy as np

    w = tensors[name] if rows is None else tensors[name][rows]
    scale = tensors.get(name + SCALE_SUFFIX)
    if scale is None:
        if out is None:
            return np.ascontiguousarray(w, dtype=np.float32)
        out[...] = w
        return out
    if out is None:
        out = np.empty(w.shape, dtype=np.float32)
    np.multiply(w, (scale if rows is None else scale[rows])[..., None], out=out, dtype=np.float32)
    packed = tensors.get(name + RESIDUAL_SUFFIX)
    if packed is not None:
        if rows is not None:
            packed = packed[rows]
        nibbles = np.empty(out.shape, dtype=np.int8)
        nibbles[..., 0::2] = packed & 0x0F
        nibbles[..., 1::2] = packed >> 4
        nibbles -= 8
        residual = nibbles.astype(np.float32)
        rscale = tensors[name + RESIDUAL_SCALE_SUFFIX]
        residual *= (rscale if rows is None else rscale[rows])[..., None]
        out += residual
    return out


def _vector(tensors: dict[str, np.ndarray], name: str) -> np.ndarray:
    import numpy as np

    return np.ascontiguousarray(tensors[name], dtype=np.float32)


class Encoder:
    """all-MiniLM-L6-v2: `encode(texts)` → float32 (n, 384), rows L2-normalised."""

    def __init__(self, weights: Path, tokenizer: Path, *, model_id: str, model_hash: str) -> None:
        import numpy as np
        from tokenizers import Tokenizer

        self._model_id = model_id
        self._model_hash = model_hash
        tok = Tokenizer.from_file(str(tokenizer))
        # The upstream tokenizer.json pads and truncates to 128; the model runs at 256, unpadded.
        tok.no_padding()
        tok.enable_truncation(max_length=MAX_TOKENS)
        self._tok = tok
        t, _ = read_safetensors(weights)
        # The word-embedding table stays as stored, on the memory map: only the rows a batch
        # looks up are dequantised, so 30522 rows cost neither load time nor resident memory.
        word = "embeddings.word_embeddings.weight"
        self._word = {k: v for k, v in t.items() if k.startswith(word)}
        # Every token is of type 0: its embedding is folded into the position embeddings.
        self._pos = (
            _matrix(t, "embeddings.position_embeddings.weight")
            + _matrix(t, "embeddings.token_type_embeddings.weight")[0]
        )
        self._ln0 = (_vector(t, "embeddings.LayerNorm.weight"), _vector(t, "embeddings.LayerNorm.bias"))
        # Every matrix is the right-hand side of `x @ w`: an (in, out) transposed view of the
        # contiguous (out, in) float32 rows (BLAS reads either layout at the same speed, so no
        # copy at load). Q, K and V are one (384 → 1152) product, with 1/√d folded into Q.
        scale = np.float32(1.0 / np.sqrt(DIM // HEADS))
        self._layers = []
        for i in range(LAYERS):
            p = f"encoder.layer.{i}."
            att = p + "attention.self."
            wqkv = np.empty((3 * DIM, DIM), dtype=np.float32)
            bqkv = np.empty(3 * DIM, dtype=np.float32)
            for j, n in enumerate(("query", "key", "value")):
                _matrix(t, att + n + ".weight", out=wqkv[j * DIM : (j + 1) * DIM])
                bqkv[j * DIM : (j + 1) * DIM] = t[att + n + ".bias"]
            wqkv[:DIM] *= scale
            bqkv[:DIM] *= scale
            self._layers.append(
                _Layer(
                    wqkv.T,
                    bqkv,
                    _matrix(t, p + "attention.output.dense.weight").T,
                    _vector(t, p + "attention.output.dense.bias"),
                    _vector(t, p + "attention.output.LayerNorm.weight"),
                    _vector(t, p + "attention.output.LayerNorm.bias"),
                    _matrix(t, p + "intermediate.dense.weight").T,
                    _vector(t, p + "intermediate.dense.bias"),
                    _matrix(t, p + "output.dense.weight").T,
                    _vector(t, p + "output.dense.bias"),
                    _vector(t, p + "output.LayerNorm.weight"),
                    _vector(t, p + "output.LayerNorm.bias"),
                )
            )
        self._spare: list[_Workspace] = []  # scratch buffers not in use by a batch
        self._spare_lock = threading.Lock()

    @classmethod
    def shipped(cls, model_dir: Path = MODEL_DIR) -> Encoder:
        """The encoder over the model files shipped in the package."""
        manifest = json.loads((model_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
        return cls(
            model_dir / WEIGHTS_FILE,
            model_dir / TOKENIZER_FILE,
            model_id=manifest["model_id"],
            model_hash=manifest_hash(manifest),
        )

    @property
    def model_id(self) -> str:
        """Which model made a vector, e.g. `sentence-transformers/all-MiniLM-L6-v2@1110a243+int8r4`."""
        return self._model_id

    @property
    def model_hash(self) -> str:
        """16 hex digits over the weights' and tokenizer's sha256: vectors with another hash are stale."""
        return self._model_hash

    @property
    def dim(self) -> int:
        """Vector length (384)."""
        return DIM

    def encode(self, texts: Sequence[str], batch_size: int = MAX_BATCH) -> np.ndarray:
        """Embed `texts`: float32 (len(texts), 384), each row of unit length, in input order.

        Texts are sorted by token count and packed without padding into batches of at most
        `batch_size` texts and about TOKENS_PER_BATCH tokens; with several batches and a
        single-threaded BLAS, one thread per core runs them side by side.
        """
        import numpy as np

        if isinstance(texts, str):
            raise TypeError("encode takes a list of texts, not one string")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        ids = [self._token_ids(t) for t in texts]
        out = np.empty((len(ids), DIM), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        batches: list[list[int]] = []
        tokens = 0
        for i in order:
            if not batches or len(batches[-1]) >= batch_size or tokens + len(ids[i]) > TOKENS_PER_BATCH:
                batches.append([])
                tokens = 0
            batches[-1].append(i)
            tokens += len(ids[i])

        def run(rows: list[int]) -> None:
            out[rows] = self._forward([ids[i] for i in rows])

        workers = min(len(batches), _parallel_workers())
        if workers > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kagura-embed") as pool:
                for done in pool.map(run, batches):
                    del done
        else:
            for rows in batches:
                run(rows)
        return out

    def _token_ids(self, text: str) -> list[int]:
        if not isinstance(text, str):
            raise TypeError(f"encode takes strings, got {type(text).__name__}")
        if len(text) > PREFIX_CHARS:
            # Tokenising megabytes to keep 254 word pieces is slow. A prefix cut at whitespace
            # tokenises to a prefix of the full text's tokens (BERT pre-tokenisation splits at
            # whitespace), so when the prefix alone fills the window, the window is exact.
            cut = max(text.rfind(c, 0, PREFIX_CHARS) for c in " \n\t\r")
            if cut > 0:
                ids = self._tok.encode(text[:cut]).ids
                if len(ids) == MAX_TOKENS:
                    return ids
        return self._tok.encode(text).ids

    def _forward(self, seqs: list[list[int]]) -> np.ndarray:
        """Embeddings of one batch on scratch buffers reused across batches and calls."""
        total = sum(len(s) for s in seqs)
        with self._spare_lock:
            ws = self._spare.pop() if self._spare else None
        if ws is None or ws.capacity < total:
            ws = _Workspace(max(total, TOKENS_PER_BATCH))
        try:
            return self._run(seqs, ws)
        finally:
            with self._spare_lock:
                self._spare.append(ws)

    def _run(self, seqs: list[list[int]], ws: _Workspace) -> np.ndarray:
        """Embeddings of one batch of token-id sequences, sorted by length (shortest first).

        The sequences are packed end to end, (total tokens, 384), without padding: every
        dense layer works on real tokens only. Attention runs per run of equal-length
        sequences (`_attention`), so a text's vector cannot depend on what it was batched with.
        """
        import numpy as np

        lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
        total = int(lengths.sum())
        starts = np.zeros(len(seqs), dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        flat = np.fromiter((t for s in seqs for t in s), dtype=np.int64, count=total)
        positions = np.arange(total, dtype=np.int64) - np.repeat(starts, lengths)
        x = ws.x[:total]
        x[:] = _matrix(self._word, "embeddings.word_embeddings.weight", flat)
        x += self._pos[positions]
        _layer_norm(x, *self._ln0)
        runs = _equal_runs(lengths)
        qkv, ctx, h, y = ws.qkv[:total], ws.ctx[:total], ws.h[:total], ws.y[:total]
        for layer in self._layers:
            np.matmul(x, layer.wqkv, out=qkv)
            qkv += layer.bqkv
            _attention(qkv, ctx, runs)
            np.matmul(ctx, layer.wo, out=y)
            y += layer.bo
            x += y
            _layer_norm(x, layer.g1, layer.b1)
            np.matmul(x, layer.wi, out=h)
            h += layer.bi
            _gelu(h, ws.gelu)
            np.matmul(h, layer.wo2, out=y)
            y += layer.bo2
            x += y
            _layer_norm(x, layer.g2, layer.b2)
        pooled = np.add.reduceat(x, starts, axis=0)
        pooled /= lengths[:, None].astype(np.float32)
        norms = np.sqrt(np.einsum("ij,ij->i", pooled, pooled))[:, None]
        pooled /= np.maximum(norms, np.float32(1e-12))
        return pooled


@dataclass(frozen=True)
class _Layer:
    """One transformer layer's parameters, matrices as (in, out) views of contiguous float32."""

    wqkv: np.ndarray
    bqkv: np.ndarray
    wo: np.ndarray
    bo: np.ndarray
    g1: np.ndarray
    b1: np.ndarray
    wi: np.ndarray
    bi: np.ndarray
    wo2: np.ndarray
    bo2: np.ndarray
    g2: np.ndarray
    b2: np.ndarray


class _Workspace:
    """Activation buffers for up to `capacity` packed tokens (one set per thread)."""

    def __init__(self, capacity: int) -> None:
        import numpy as np

        self.capacity = capacity
        self.x = np.empty((capacity, DIM), dtype=np.float32)
        self.y = np.empty((capacity, DIM), dtype=np.float32)
        self.ctx = np.empty((capacity, DIM), dtype=np.float32)
        self.qkv = np.empty((capacity, 3 * DIM), dtype=np.float32)
        self.h = np.empty((capacity, 4 * DIM), dtype=np.float32)
        self.gelu = np.empty((4, GELU_ROWS, 4 * DIM), dtype=np.float32)


def _parallel_workers() -> int:
    """Threads to run batches on: one per usable core when BLAS itself is single-threaded
    (as `memory/local.py` arranges), else 1 (BLAS threads and ours would contend)."""
    blas = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or ""
    if blas.strip() != "1":
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_WORKERS))


def _equal_runs(lengths: np.ndarray) -> list[tuple[int, int, int]]:
    """(first token, sequences, length) of each run of equal lengths in sorted `lengths`."""
    runs: list[tuple[int, int, int]] = []
    token = seq = 0
    n = len(lengths)
    while seq < n:
        length = int(lengths[seq])
        end = seq
        while end < n and lengths[end] == length:
            end += 1
        runs.append((token, end - seq, length))
        token += (end - seq) * length
        seq = end
    return runs


def _attention(qkv: np.ndarray, ctx: np.ndarray, runs: list[tuple[int, int, int]]) -> None:
    """Multi-head self-attention of packed sequences into `ctx` (tokens, 384), from `qkv`
    (tokens, 3 × 384, Q pre-scaled by 1/√d), one run of equal-length sequences at a time
    (chunked so the (g, heads, L, L) scores stay in cache)."""
    import numpy as np

    d = DIM // HEADS
    for first, count, length in runs:
        step = max(1, SCORES_PER_CHUNK // (HEADS * length * length))
        for g0 in range(0, count, step):
            g = min(step, count - g0)
            at = first + g0 * length
            block = qkv[at : at + g * length].reshape(g, length, 3, HEADS, d)
            q = block[:, :, 0].transpose(0, 2, 1, 3)  # (g, heads, L, d)
            k = block[:, :, 1].transpose(0, 2, 3, 1)  # (g, heads, d, L)
            v = block[:, :, 2].transpose(0, 2, 1, 3)  # (g, heads, L, d)
            scores = q @ k
            scores -= scores.max(axis=-1, keepdims=True)
            # Floored so exp() never returns subnormals, whose arithmetic is ~100× slower.
            np.maximum(scores, np.float32(-80.0), out=scores)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            out = ctx[at : at + g * length].reshape(g, length, HEADS, d).transpose(0, 2, 1, 3)
            np.matmul(scores, v, out=out)


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """LayerNorm over the last axis (eps 1e-12), in place on `x`."""
    import numpy as np

    x -= x.mean(axis=-1, keepdims=True)
    var = np.einsum("ij,ij->i", x, x)[:, None] / np.float32(x.shape[-1])
    x *= 1.0 / np.sqrt(var + np.float32(LN_EPS))
    x *= gamma
    x += beta
    return x


# Abramowitz & Stegun 7.1.26: erfc(z) ≈ t·P(t)·exp(−z²), t = 1/(1 + p·z), |error| < 1.5e-7 for z ≥ 0.
_P = 0.3275911
_A = (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)


def _gelu(x: np.ndarray, scratch: np.ndarray | None = None) -> np.ndarray:
    """Exact (erf) GELU, x·Φ(x), as BERT's `hidden_act: gelu`, in place on 2-D `x`.

    numpy has no erf, so A&S 7.1.26, written without branches or cancellation as
    gelu(x) = max(x, 0) − |x|·erfc(|x|/√2)/2. It runs over blocks of GELU_ROWS rows on
    `scratch` (4, rows, width), preallocated by the caller, so the dozen elementwise passes
    stay in cache (≈3× faster than whole-array passes on a (1000, 1536) activation).
    """
    import numpy as np

    if scratch is None or scratch.shape[2] != x.shape[1]:
        scratch = np.empty((4, min(GELU_ROWS, x.shape[0]), x.shape[1]), dtype=np.float32)
    rows = scratch.shape[1]
    for start in range(0, x.shape[0], rows):
        xs = x[start : start + rows]
        a, z, t, p = (buf[: xs.shape[0]] for buf in scratch)
        np.abs(xs, out=a)
        np.multiply(a, np.float32(1.0 / np.sqrt(2.0)), out=z)
        # z is clipped at 5 (erfc(5) ≈ 1.5e-12, far below float32 resolution at |x| ≥ 7): larger
        # z makes exp(−z²) and the products below subnormal, and subnormals are ~100× slower.
        np.minimum(z, np.float32(5.0), out=z)
        np.multiply(z, np.float32(_P), out=t)
        t += np.float32(1.0)
        np.reciprocal(t, out=t)
        np.multiply(t, np.float32(_A[0]), out=p)
        for coef in _A[1:]:
            p += np.float32(coef)
            p *= t
        np.square(z, out=z)
        np.negative(z, out=z)
        np.exp(z, out=z)
        p *= z  # erfc(|x|/√2)
        p *= np.float32(0.5)
        p *= a
        np.maximum(xs, np.float32(0.0), out=xs)
        xs -= p
    return x


def manifest_hash(manifest: dict[str, Any]) -> str:
    """16 hex digits identifying the vectors a model makes: sha256 over its weights' and
    tokenizer's sha256 (LICENSE/NOTICE edits do not make stored vectors stale)."""
    files = manifest["files"]
    text = "\n".join(f"{name} {files[name]['sha256']}" for name in (WEIGHTS_FILE, TOKENIZER_FILE))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
