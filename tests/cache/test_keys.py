"""Keys and the version hash: the values `@actions/cache` computes for the same inputs."""

from __future__ import annotations

import pytest

from kagura_engineer.cache.carry import memory_path_string
from kagura_engineer.cache.keys import CacheKeyError, cache_version, check_key, memory_keys
from kagura_engineer.config import parse_config
from support.actions_cache import path_strings

# Computed with @actions/cache 4.1.0 (see the reference notes, section 4.3).
VECTORS = [
    ([".harness/state.db"], "zstd-without-long", "409784b4d040f7893f4297fd53dd8337559b3d535adf525d828919f9f09c9996"),
    ([".harness/state.db"], "gzip", "54ad736e6e9709d5a9b66d778941a8c8c31e9ee4fb8cc7295cee1fab11c6c6b2"),
    ([".harness/state.db", ".harness/extra"], "zstd-without-long",
     "ed08313b268cd9191b1ce871b7d6f522fbc8a38491475c348410dcec244a50e5"),
]  # fmt: skip


@pytest.mark.parametrize(("paths", "method", "expected"), VECTORS)
def test_version_matches_the_toolkit(paths, method, expected):
    assert cache_version(paths, method) == expected


def test_version_uses_the_path_string_as_written():
    assert cache_version(["./.harness/state.db"]) != cache_version([".harness/state.db"])
    assert cache_version([".harness/state.db"]) == VECTORS[0][2]  # zstd-without-long is the default


def test_version_of_the_configured_path_is_trimmed_not_normalised():
    config = parse_config(
        {"profile": "t", "memory_backend": "local", "local_memory_path": "  .harness/state.db \n"}
    )
    assert cache_version([memory_path_string(config, {})]) == VECTORS[0][2]
    env_named = memory_path_string(config, {"KAGURA_MEMORY_DB": " ./other.db "})
    assert env_named == "./other.db"


def test_path_input_lines_as_actions_cache_reads_them():
    assert path_strings("  .kagura/memory.db\n\n  extra \n") == [".kagura/memory.db", "extra"]


def test_keys_per_run_attempt_and_repository_prefix():
    keys = memory_keys(
        {"GITHUB_REPOSITORY": "acme/widgets", "GITHUB_RUN_ID": "4242", "GITHUB_RUN_ATTEMPT": "1"}
    )
    assert keys.save == "kagura-memory-acme/widgets-4242-1"
    assert keys.restore_keys == ["kagura-memory-acme/widgets-"]
    retry = memory_keys(
        {"GITHUB_REPOSITORY": "acme/widgets", "GITHUB_RUN_ID": "4242", "GITHUB_RUN_ATTEMPT": "2"}
    )
    assert retry.save == "kagura-memory-acme/widgets-4242-2"
    assert memory_keys({"GITHUB_REPOSITORY": "acme/widgets", "GITHUB_RUN_ID": "7"}).save.endswith("-7-1")


def test_keys_need_a_github_actions_run():
    with pytest.raises(CacheKeyError, match="GITHUB_REPOSITORY and GITHUB_RUN_ID"):
        memory_keys({})
    with pytest.raises(CacheKeyError, match="GITHUB_RUN_ID"):
        memory_keys({"GITHUB_REPOSITORY": "acme/widgets"})


def test_keys_the_service_would_refuse():
    with pytest.raises(CacheKeyError, match="comma"):
        check_key("a,b")
    with pytest.raises(CacheKeyError, match="512"):
        check_key("k" * 513)
    assert check_key("k" * 512) == "k" * 512
