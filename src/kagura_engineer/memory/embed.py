"""Sentence embeddings for semantic recall: all-MiniLM-L6-v2 as a plain numpy forward pass.

The model ships inside the package (`memory/model/`, written by `scripts/vendor_model.py`):
its weights in safetensors layout with the matrices as int8 per output row (float32 scale)
plus a 4-bit residual per row, dequantised to float32 once at load (the word-embedding table
row by row as tokens need it); the upstream `tokenizer.json` byte for byte; a `manifest.json`
with every file's sha256. Nothing is downloaded, ever.

The forward pass is BERT as the upstream model runs it: word + position + token-type
embeddings and LayerNorm (eps 1e-12); 6 layers of 12-head self-attention (over the real tokens only)
and an exact-erf GELU MLP, each with a residual and LayerNorm; mean pooling over the real
tokens; L2 normalisation. Input is truncated to 256 tokens (the model's `max_seq_length`);
texts are sorted by length and padded per batch, so a batch costs what its longest text
costs, and the output order is the input order.

numpy and tokenizers are imported lazily: this module imports without them, `available()`
says whether the encoder can run, and `get_encoder()` loads it once per process.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import struct
import threading
from collections.abc import Sequence
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


def get_encoder() -> Encoder:
    """The shipped encoder, loaded on first use and shared by the whole process."""
    global _encoder
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


def _matrix(tensors: dict[str, np.ndarray], name: str, rows: np.ndarray | None = None) -> np.ndarray:
    """A float32 matrix (or the given `rows` of it), dequantised when stored quantised.

    Quantised layout (see scripts/vendor_model.py): `name` int8 and `name.scale` float32 per
    row, plus a 4-bit residual: `name.residual` packs two offset-8 nibbles per byte (low nibble
    first) and `name.residual_scale` is its float32 scale per row.
    """
    import numpy as np

    w = tensors[name] if rows is None else tensors[name][rows]
    scale = tensors.get(name + SCALE_SUFFIX)
    if scale is None:
        return np.ascontiguousarray(w, dtype=np.float32)
    out = w.astype(np.float32)
    out *= (scale if rows is None else scale[rows])[..., None]
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
        self._pos = _matrix(t, "embeddings.position_embeddings.weight")
        self._type0 = _matrix(t, "embeddings.token_type_embeddings.weight")[0]
        self._ln0 = (_vector(t, "embeddings.LayerNorm.weight"), _vector(t, "embeddings.LayerNorm.bias"))
        self._layers = []
        for i in range(LAYERS):
            p = f"encoder.layer.{i}."
            att = p + "attention.self."
            # Q, K and V as one (384 → 1152) product: one BLAS call instead of three.
            wqkv = np.concatenate([_matrix(t, att + n + ".weight") for n in ("query", "key", "value")])
            bqkv = np.concatenate([_vector(t, att + n + ".bias") for n in ("query", "key", "value")])
            self._layers.append(
                (
                    wqkv,
                    bqkv,
                    _matrix(t, p + "attention.output.dense.weight"),
                    _vector(t, p + "attention.output.dense.bias"),
                    _vector(t, p + "attention.output.LayerNorm.weight"),
                    _vector(t, p + "attention.output.LayerNorm.bias"),
                    _matrix(t, p + "intermediate.dense.weight"),
                    _vector(t, p + "intermediate.dense.bias"),
                    _matrix(t, p + "output.dense.weight"),
                    _vector(t, p + "output.dense.bias"),
                    _vector(t, p + "output.LayerNorm.weight"),
                    _vector(t, p + "output.LayerNorm.bias"),
                )
            )

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

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Embed `texts`: float32 (len(texts), 384), each row of unit length, in input order."""
        import numpy as np

        if isinstance(texts, str):
            raise TypeError("encode takes a list of texts, not one string")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        ids = [self._token_ids(t) for t in texts]
        out = np.empty((len(ids), DIM), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = len(ids[rows[-1]])
            tokens = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                tokens[r, : len(ids[i])] = ids[i]
            out[rows] = self._forward(tokens, [len(ids[i]) for i in rows])
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

    def _forward(self, tokens: np.ndarray, lengths: list[int]) -> np.ndarray:
        """Embeddings of one padded batch: `tokens` (b, n), row r real up to `lengths[r]`."""
        import numpy as np

        b, n = tokens.shape
        x = _matrix(self._word, "embeddings.word_embeddings.weight", tokens)
        x += self._pos[:n]
        x += self._type0
        x = _layer_norm(x.reshape(b * n, DIM), *self._ln0)
        for wqkv, bqkv, wo, bo, g1, b1, wi, bi, wo2, bo2, g2, b2 in self._layers:
            qkv = x @ wqkv.T  # weights are (out, in): BLAS reads the transpose in place
            qkv += bqkv
            ctx = _attention(qkv.reshape(b, n, 3, HEADS, DIM // HEADS), lengths)
            attn = ctx.reshape(b * n, DIM) @ wo.T
            attn += bo
            attn += x
            x = _layer_norm(attn, g1, b1)
            h = x @ wi.T
            h += bi
            h = _gelu(h)
            y = h @ wo2.T
            y += bo2
            y += x
            x = _layer_norm(y, g2, b2)
        x = x.reshape(b, n, DIM)
        pooled = np.stack([x[r, :length].mean(axis=0) for r, length in enumerate(lengths)])
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def _attention(qkv: np.ndarray, lengths: list[int]) -> np.ndarray:
    """Multi-head self-attention context, (b, n, heads, d), from q, k, v in `qkv` (b, n, 3, heads, d).

    One sequence at a time over its real tokens only: padding is neither a key nor a query
    (its rows stay zero), so no mask is needed and a text's vector cannot depend on what it
    was batched with; the (heads, n, n) scores also stay in cache, 2× faster at 256 tokens.
    """
    import numpy as np

    b, n, _, heads, d = qkv.shape
    out = np.zeros((b, n, heads, d), dtype=np.float32)
    scale = np.float32(1.0 / np.sqrt(d))
    for r, length in enumerate(lengths):
        q = qkv[r, :length, 0].transpose(1, 0, 2)  # (heads, L, d)
        k = qkv[r, :length, 1].transpose(1, 2, 0)  # (heads, d, L)
        v = qkv[r, :length, 2].transpose(1, 0, 2)  # (heads, L, d)
        scores = q @ k
        scores *= scale
        scores -= scores.max(axis=-1, keepdims=True)
        # Floored so exp() never returns subnormals, whose arithmetic is ~100× slower.
        np.maximum(scores, np.float32(-80.0), out=scores)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        out[r, :length] = (scores @ v).transpose(1, 0, 2)
    return out


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


def _gelu(x: np.ndarray, rows: int = 16) -> np.ndarray:
    """Exact (erf) GELU, x·Φ(x), as BERT's `hidden_act: gelu`, in place on 2-D `x`.

    numpy has no erf, so A&S 7.1.26, written without branches or cancellation as
    gelu(x) = max(x, 0) − |x|·erfc(|x|/√2)/2. It runs over blocks of `rows` rows with
    preallocated scratch so the dozen elementwise passes stay in cache (≈3× faster than
    whole-array passes on a (1000, 1536) activation).
    """
    import numpy as np

    scratch = np.empty((4, min(rows, x.shape[0]), x.shape[1]), dtype=np.float32)
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
