"""How the shipped encoder batches: packed without padding, attention per run of equal
lengths, batches side by side on threads. None of it may change a text's vector."""

from __future__ import annotations

import pytest

from kagura_engineer.memory import embed

np = pytest.importorskip("numpy")
pytest.importorskip("tokenizers")

# Four texts of one token count each (same-length runs share one attention product), plus
# texts of other lengths around them: a mix-up between sequences of a run, or across the
# run's boundary, changes some vector.
SAME_LENGTH = ["red apples fall", "blue cars drive", "old dogs sleep", "green trees grow"]
OTHERS = [
    "",
    "ok",
    "Flaky CI came from a shared temp folder between parallel jobs.",
    "The release workflow publishes the wheel after the tag is pushed.",
    " ".join(["token"] * 90),
]
TEXTS = SAME_LENGTH + OTHERS + [t.upper() for t in SAME_LENGTH]


@pytest.fixture(scope="module")
def encoder() -> embed.Encoder:
    return embed.get_encoder()


@pytest.fixture(scope="module")
def alone(encoder: embed.Encoder) -> np.ndarray:
    """Each text embedded on its own: the reference."""
    return np.stack([encoder.encode([t])[0] for t in TEXTS])


def test_same_length_texts_are_one_run_and_keep_their_own_vectors(
    encoder: embed.Encoder, alone: np.ndarray
) -> None:
    lengths = {len(encoder._token_ids(t)) for t in SAME_LENGTH}
    assert len(lengths) == 1, "the fixture needs texts of one token count"
    together = encoder.encode(TEXTS)
    np.testing.assert_allclose(together, alone, atol=1e-5)
    # Distinct texts, distinct vectors (a run that repeated one sequence would pass the above
    # only if every text were the same).
    assert np.abs(together[0] - together[1]).max() > 1e-2


def test_chunked_attention_and_small_batches_agree(
    encoder: embed.Encoder, alone: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embed, "SCORES_PER_CHUNK", 1)  # one sequence per attention product
    monkeypatch.setattr(embed, "TOKENS_PER_BATCH", 8)  # about one text per batch
    np.testing.assert_allclose(encoder.encode(TEXTS), alone, atol=1e-5)
    np.testing.assert_allclose(encoder.encode(TEXTS, batch_size=2), alone, atol=1e-5)


def test_batches_on_threads_land_in_input_order(
    encoder: embed.Encoder, alone: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.setattr(embed, "TOKENS_PER_BATCH", 16)
    assert embed._parallel_workers() >= 1
    texts = TEXTS * 3
    np.testing.assert_allclose(encoder.encode(texts), np.concatenate([alone] * 3), atol=1e-5)


def test_threads_only_when_blas_runs_single_threaded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embed.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    assert embed._parallel_workers() == 2
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    assert embed._parallel_workers() == 1
    monkeypatch.delenv("OPENBLAS_NUM_THREADS")
    assert embed._parallel_workers() == 1


def test_equal_runs() -> None:
    assert embed._equal_runs(np.array([2, 2, 3, 5, 5, 5])) == [(0, 2, 2), (4, 1, 3), (7, 3, 5)]
    assert embed._equal_runs(np.array([], dtype=np.int64)) == []
