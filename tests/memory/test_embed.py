"""The shipped sentence encoder (all-MiniLM-L6-v2 in numpy) and its vendored model files.

The reference numbers are the model's published similarities, not ours:

- README.md of huggingface/sentence-transformers (commit 3240b9d5dd54671faf3f38868ffebd6b92d0379d,
  "Getting Started > Embedding Models"), `SentenceTransformer("all-MiniLM-L6-v2")`:
  the 3×3 cosine matrix of "The weather is lovely today." / "It's so sunny outside!" /
  "He drove to the stadium." — repeated, with the Manhattan distances of the same three
  embeddings, in docs/sentence_transformer/usage/semantic_textual_similarity.rst (commit
  0c0b5124c38d2c336940a33542f4fadd8266500d), which also publishes the 3×3 cosines between
  "The new movie is awesome" / "The cat sits outside" / "A man is playing guitar" and
  "The dog plays in the garden" / "The new movie is so great" / "A woman watches TV".

Matching all of them to three decimals means tokenizer, every layer, pooling and
normalisation are right: one wrong layer moves them by far more. (Measured while vendoring:
the numpy pass on the original float32 weights matches them to 4.5e-5 and
sentence-transformers 6.2 / torch 2.13 to 2e-7 per component; the shipped quantised weights
to 3.6e-4.)
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kagura_engineer.errors import MemoryStoreError
from kagura_engineer.memory import embed

np = pytest.importorskip("numpy")
pytest.importorskip("tokenizers")

REPO = Path(__file__).resolve().parents[2]

WEATHER = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
WEATHER_COSINE = [[1.0000, 0.6660, 0.1046], [0.6660, 1.0000, 0.1411], [0.1046, 0.1411, 1.0000]]
WEATHER_MANHATTAN = [[0.0, 12.6269, 20.2167], [12.6269, 0.0, 20.1288], [20.2167, 20.1288, 0.0]]
STS_LEFT = ["The new movie is awesome", "The cat sits outside", "A man is playing guitar"]
STS_RIGHT = ["The dog plays in the garden", "The new movie is so great", "A woman watches TV"]
STS_COSINE = [[0.0543, 0.8939, -0.0502], [0.2838, -0.0029, 0.1310], [0.2277, -0.0136, -0.0327]]

SENTENCES = [
    "Tests fail randomly on Windows runners.",
    "Flaky CI came from a shared temp folder between parallel jobs.",
    "",
    "ok",
    "The release workflow publishes the wheel after the tag is pushed and the changelog is updated.",
    "naïve café — 東京 🎉",
    "Error E1234 in src/app/main.py, see #123",
]


@pytest.fixture(scope="module")
def encoder() -> embed.Encoder:
    return embed.get_encoder()


def test_reproduces_the_published_similarity_matrices(encoder: embed.Encoder) -> None:
    weather = encoder.encode(WEATHER)
    cosine = weather @ weather.T
    assert np.abs(cosine - np.array(WEATHER_COSINE)).max() <= 5e-4, np.round(cosine, 4)

    left, right = encoder.encode(STS_LEFT), encoder.encode(STS_RIGHT)
    sts = left @ right.T
    assert np.abs(sts - np.array(STS_COSINE)).max() <= 5e-4, np.round(sts, 4)
    # The ranking the docs highlight: the paraphrase pair is by far the closest.
    assert sts.argmax() == 1 and sts[0, 1] > 0.89


def test_reproduces_the_published_manhattan_distances(encoder: embed.Encoder) -> None:
    """Cosines are blind to a rotation of the whole space; distances per coordinate are not."""
    weather = encoder.encode(WEATHER)
    manhattan = np.abs(weather[:, None, :] - weather[None, :, :]).sum(axis=-1)
    assert np.abs(manhattan - np.array(WEATHER_MANHATTAN)).max() <= 0.01, np.round(manhattan, 4)


def test_vectors_are_float32_unit_rows_in_input_order(encoder: embed.Encoder) -> None:
    vectors = encoder.encode(SENTENCES)
    assert vectors.shape == (len(SENTENCES), embed.DIM) and vectors.dtype == np.float32
    assert np.all(np.isfinite(vectors))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # In input order: each row is its own sentence's vector, not a neighbour's.
    for i in (0, 2, 4):
        np.testing.assert_allclose(vectors[i], encoder.encode([SENTENCES[i]])[0], atol=1e-5)
    assert encoder.encode([]).shape == (0, embed.DIM)


def test_batch_composition_does_not_change_vectors(encoder: embed.Encoder) -> None:
    texts = SENTENCES + [" ".join(["word"] * n) for n in (3, 40, 120)] + WEATHER
    together = encoder.encode(texts, batch_size=32)
    one_by_one = encoder.encode(texts, batch_size=1)
    reverse = list(reversed(texts))
    in_threes = encoder.encode(reverse, batch_size=3)[::-1]
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    np.testing.assert_allclose(together, in_threes, atol=1e-5)


def test_empty_and_blank_texts_get_the_same_real_vector(encoder: embed.Encoder) -> None:
    empty, blank, text = encoder.encode(["", "  \n\t ", "a real sentence about caching"])
    np.testing.assert_allclose(np.linalg.norm(empty), 1.0, atol=1e-5)
    np.testing.assert_allclose(empty, blank, atol=1e-5)
    assert float(empty @ text) < 0.9


def test_long_text_is_truncated_to_256_tokens(encoder: embed.Encoder) -> None:
    """[CLS] + 254 word pieces + [SEP]: the model's max_seq_length, not tokenizer.json's 128."""

    def text(changed_at: int | None) -> str:
        words = ["word"] * 400  # one word piece each
        if changed_at is not None:
            words[changed_at] = "banana"
        return " ".join(words)

    base, last_kept, first_dropped, far_beyond = encoder.encode([text(None), text(253), text(254), text(390)])
    assert np.abs(base - last_kept).max() > 1e-4
    np.testing.assert_allclose(base, first_dropped, atol=1e-5)
    np.testing.assert_allclose(base, far_beyond, atol=1e-5)


def test_long_whitespace_runs_keep_every_word(encoder: embed.Encoder) -> None:
    """Texts longer than the tokenizer fast path's prefix still see words after the prefix."""
    spaced = "alpha " + " " * (embed.PREFIX_CHARS * 3) + "beta gamma"
    glued = "x" * (embed.PREFIX_CHARS * 3)  # no whitespace at all: one over-long word
    a, b, c = encoder.encode([spaced, "alpha beta gamma", glued])
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(c), 1.0, atol=1e-5)


def test_wrong_inputs_are_refused(encoder: embed.Encoder) -> None:
    with pytest.raises(TypeError):
        encoder.encode("one string, not a list")
    with pytest.raises(TypeError):
        encoder.encode(["fine", 42])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        encoder.encode(["x"], batch_size=0)


def test_identity_is_stable_and_shared(encoder: embed.Encoder) -> None:
    assert embed.get_encoder() is encoder
    assert encoder.model_id == "sentence-transformers/all-MiniLM-L6-v2@1110a243+int8r4"
    assert len(encoder.model_hash) == 16 and int(encoder.model_hash, 16) >= 0
    manifest = json.loads((embed.MODEL_DIR / embed.MANIFEST_FILE).read_text())
    assert encoder.model_hash == embed.manifest_hash(manifest)
    for name, differs in ((embed.WEIGHTS_FILE, True), (embed.TOKENIZER_FILE, True), ("NOTICE", False)):
        changed = json.loads(json.dumps(manifest))
        changed["files"][name]["sha256"] = "0" * 64
        assert (embed.manifest_hash(changed) != encoder.model_hash) is differs, name


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_shipped_files_match_their_manifest_and_provenance() -> None:
    model = embed.MODEL_DIR
    manifest = json.loads((model / embed.MANIFEST_FILE).read_text())
    assert set(manifest["files"]) == {embed.WEIGHTS_FILE, embed.TOKENIZER_FILE, "LICENSE", "NOTICE"}
    for name, info in manifest["files"].items():
        assert sha256(model / name) == info["sha256"], name
        assert (model / name).stat().st_size == info["bytes"], name
    upstream = manifest["upstream"]
    assert (
        upstream["model"] == "sentence-transformers/all-MiniLM-L6-v2" and upstream["revision"] == "1110a243"
    )
    # The tokenizer ships byte-identical to upstream.
    assert sha256(model / embed.TOKENIZER_FILE) == upstream["sha256"]["tokenizer.json"]
    assert (
        sha256(model / embed.TOKENIZER_FILE)
        == "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
    )
    assert (
        "Apache License" in (model / "LICENSE").read_text()
        and "Version 2.0" in (model / "LICENSE").read_text()
    )
    notice = (model / "NOTICE").read_text()
    assert "sentence-transformers/all-MiniLM-L6-v2" in notice and "1110a243" in notice and "int8" in notice


def test_unavailable_without_numpy_or_tokenizers(tmp_path: Path) -> None:
    """The package imports and says why when an optional dependency is absent."""
    code = textwrap.dedent(
        """
        import sys
        sys.modules[sys.argv[1]] = None  # as if not installed
        from kagura_engineer.memory import embed
        from kagura_engineer.errors import MemoryStoreError
        try:
            embed.get_encoder()
        except MemoryStoreError as exc:
            print(embed.available(), "|", exc)
        """
    )
    for module in ("numpy", "tokenizers"):
        out = subprocess.run([sys.executable, "-c", code, module], capture_output=True, text=True, check=True)
        available, message = out.stdout.strip().split(" | ")
        assert available == "False"
        assert module in message and "pip install --force-reinstall ." in message
    assert embed.available() is True


def test_unavailable_without_the_model_files(tmp_path: Path) -> None:
    assert embed.unavailable_reason() is None
    reason = embed.unavailable_reason(tmp_path)
    assert reason is not None and embed.WEIGHTS_FILE in reason
    assert issubclass(embed.EncoderUnavailable, MemoryStoreError)


def load_vendor_script():
    spec = importlib.util.spec_from_file_location("vendor_model", REPO / "scripts" / "vendor_model.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_conversion_is_deterministic_and_round_trips(tmp_path: Path) -> None:
    vendor = load_vendor_script()
    rng = np.random.default_rng(7)
    tensors = {
        "encoder.layer.0.intermediate.dense.weight": rng.normal(0, 0.05, (8, 16)).astype(np.float32),
        "encoder.layer.0.intermediate.dense.bias": rng.normal(0, 0.05, (8,)).astype(np.float32),
    }
    tensors["encoder.layer.0.intermediate.dense.weight"][3] = 0.0  # an all-zero row must not divide by 0
    upstream = tmp_path / "up.safetensors"
    vendor.write_safetensors(upstream, tensors, {"format": "pt"})
    first, second = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    vendor.write_safetensors(first, vendor.convert(upstream), {"k": "v"})
    vendor.write_safetensors(second, vendor.convert(upstream), {"k": "v"})
    assert first.read_bytes() == second.read_bytes()

    stored, metadata = embed.read_safetensors(first)
    assert metadata == {"k": "v"}
    name = "encoder.layer.0.intermediate.dense.weight"
    assert stored[name].dtype == np.int8 and stored[name + embed.SCALE_SUFFIX].dtype == np.float32
    original = tensors[name]
    restored = embed._matrix(stored, name)
    # int8 alone is within half a step; the 4-bit residual brings it ~14× closer.
    step = np.abs(original).max(axis=1, keepdims=True) / 127
    assert np.all(np.abs(restored - original) <= step / 2 / 7 + 1e-7)
    assert not np.any(restored[3])
    np.testing.assert_array_equal(
        stored["encoder.layer.0.intermediate.dense.bias"], tensors[name.replace("weight", "bias")]
    )


def test_vendoring_refuses_a_file_with_another_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vendor = load_vendor_script()
    for name in vendor.PINNED:
        (tmp_path / name).write_bytes(b"not the upstream file")
    with pytest.raises(SystemExit):
        vendor.verify_upstream(tmp_path)
    assert "refusing" in capsys.readouterr().err
