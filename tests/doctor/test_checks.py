"""Each doctor check's OK / WARN / FAIL paths, against fake binaries on PATH and loopback servers.

Every test runs the real `kagura-engineer doctor --json` and reads one check's entry.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from doctor.standins import OllamaStandIn
from fakebin import Reply
from kagura_engineer import CLAUDE_CODE_VERSION
from kagura_engineer.doctor.ollama_api import find_installed, model_matches
from support.memory_cloud import MemoryCloudStandIn

DUBIOUS = (
    "fatal: detected dubious ownership in repository at '/srv/widgets'\n"
    "To add an exception for this directory, call:\n\n"
    "\tgit config --global --add safe.directory /srv/widgets\n"
)
CLOUD_IDS = {
    "workspace_id": "11111111-1111-1111-1111-111111111111",
    "context_id": "22222222-2222-2222-2222-222222222222",
}


# -- git -------------------------------------------------------------------------------------


def test_git_ok_inside_a_work_tree(git_repo, fb, doctor, monkeypatch):
    fb.link("git")
    monkeypatch.chdir(git_repo)
    rc, checks, _ = doctor()
    assert checks["git"]["status"] == "OK"
    assert f"work tree {git_repo}" in checks["git"]["detail"]


def test_git_outside_a_work_tree_warns_locally_and_fails_in_actions(fb, doctor, monkeypatch):
    fb.link("git")
    _, checks, _ = doctor()
    assert checks["git"]["status"] == "WARN" and "not inside a git work tree" in checks["git"]["detail"]
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    _, checks, _ = doctor()
    assert checks["git"]["status"] == "FAIL" and "actions/checkout" in checks["git"]["hint"]


def test_git_dubious_ownership_gives_the_exact_safe_directory_fix(fb, doctor):
    fb.add("git", stdout="git version 2.39.5\n", on={"rev-parse": Reply(stderr=DUBIOUS, exit=128)})
    rc, checks, _ = doctor()
    assert rc == 1
    assert checks["git"]["status"] == "FAIL" and "dubious ownership" in checks["git"]["detail"]
    assert checks["git"]["hint"] == "git config --global --add safe.directory /srv/widgets"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand the repository to another user")
def test_git_dubious_ownership_with_the_real_git(fb, doctor, tmp_path, monkeypatch):
    fb.link("git")
    repo = tmp_path / "theirs"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    for root, dirs, files in os.walk(repo):
        for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
            os.lchown(name, 65534, 65534)
    monkeypatch.chdir(repo)
    _, checks, _ = doctor()
    assert checks["git"]["status"] == "FAIL"
    assert checks["git"]["hint"] == f"git config --global --add safe.directory {repo}"


def test_git_missing(fb, doctor):
    _, checks, _ = doctor()
    assert checks["git"]["status"] == "FAIL" and checks["git"]["detail"] == "git not found on PATH"


# -- claude-code and haiku ---------------------------------------------------------------------


def test_claude_code_ok_names_the_auth_source_never_its_value(fb, doctor, monkeypatch):
    fb.add("claude", stdout=f"{CLAUDE_CODE_VERSION} (Claude Code)\n")
    secret = "sk-ant-api03-" + "x" * 30
    monkeypatch.setenv("ANTHROPIC_API_KEY", secret)
    _, checks, doc = doctor()
    assert checks["claude-code"]["status"] == "OK"
    assert f"claude {CLAUDE_CODE_VERSION}" in checks["claude-code"]["detail"]
    assert "ANTHROPIC_API_KEY" in checks["claude-code"]["detail"]
    assert checks["haiku"] == {
        "name": "haiku",
        "status": "OK",
        "detail": "Anthropic auth from ANTHROPIC_API_KEY",
        "hint": None,
    }
    assert secret not in json.dumps(doc)


def test_claude_code_other_version_is_a_warning_with_the_pinned_install(fb, doctor, monkeypatch):
    fb.add("claude", stdout="2.1.197 (Claude Code)\n")
    monkeypatch.setenv("CLAUDE_CODE_OAUTH_TOKEN", "sk-ant-oat01-" + "y" * 30)
    rc, checks, _ = doctor()
    assert checks["claude-code"]["status"] == "WARN"
    assert "2.1.197" in checks["claude-code"]["detail"]
    assert checks["claude-code"]["hint"].startswith("kagura-engineer setup --fix claude-code")


def test_claude_code_missing_fails(fb, doctor):
    _, checks, _ = doctor()
    assert checks["claude-code"]["status"] == "FAIL"
    assert checks["claude-code"]["hint"].startswith("kagura-engineer setup --fix claude-code")
    assert "npm install -g" not in json.dumps(checks)


def _cached_claude(cache_home: Path, version: str = CLAUDE_CODE_VERSION) -> Path:
    """A claude where the demo and `setup --fix claude-code` install it (npm --prefix layout)."""
    binary = (
        cache_home / "kagura-engineer" / f"claude-{CLAUDE_CODE_VERSION}" / "node_modules" / ".bin" / "claude"
    )
    binary.parent.mkdir(parents=True)
    binary.write_text(f"#!/bin/sh\necho '{version} (Claude Code)'\n")
    binary.chmod(0o755)
    return binary


def test_claude_code_is_found_in_the_cache_the_demo_installs_into(fb, doctor, monkeypatch):
    binary = _cached_claude(Path(os.environ["HOME"]) / ".cache")  # nothing on PATH
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key-1234")
    _, checks, _ = doctor()
    assert checks["claude-code"]["status"] == "OK"
    assert f"at {binary} (cache)" in checks["claude-code"]["detail"]


def test_the_cached_claude_comes_before_another_version_on_path(fb, doctor, tmp_path, monkeypatch):
    fb.add("claude", stdout="2.1.197 (Claude Code)\n")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    binary = _cached_claude(tmp_path / "xdg")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key-1234")
    _, checks, _ = doctor()
    assert checks["claude-code"]["status"] == "OK" and str(binary) in checks["claude-code"]["detail"]


def test_claude_code_broken_binary_fails(fb, doctor):
    fb.add("claude", stderr="Segmentation fault\n", exit=139)
    _, checks, _ = doctor()
    assert checks["claude-code"]["status"] == "FAIL" and "exited 139" in checks["claude-code"]["detail"]


def test_kagura_claude_bin_overrides_path(fb, doctor, tmp_path, monkeypatch):
    fb.add("claude", stdout="1.0.0 (Claude Code)\n")  # on PATH, but not the one to use
    elsewhere = tmp_path / "pinned"
    elsewhere.mkdir()
    shutil.copy(
        fb.add("claude-pinned", stdout=f"{CLAUDE_CODE_VERSION} (Claude Code)\n"), elsewhere / "claude"
    )
    monkeypatch.setenv("KAGURA_CLAUDE_BIN", str(elsewhere / "claude"))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key-1234")
    _, checks, _ = doctor()
    assert checks["claude-code"]["status"] == "OK"
    assert f"{elsewhere / 'claude'} (KAGURA_CLAUDE_BIN)" in checks["claude-code"]["detail"]


def test_kagura_claude_bin_pointing_nowhere_fails(fb, doctor, tmp_path, monkeypatch):
    fb.add("claude", stdout=f"{CLAUDE_CODE_VERSION} (Claude Code)\n")
    monkeypatch.setenv("KAGURA_CLAUDE_BIN", str(tmp_path / "no-such-claude"))
    _, checks, _ = doctor()
    assert (
        checks["claude-code"]["status"] == "FAIL" and "KAGURA_CLAUDE_BIN" in checks["claude-code"]["detail"]
    )


def test_claude_without_auth_warns_and_haiku_fails(fb, doctor, monkeypatch):
    fb.add("claude", stdout=f"{CLAUDE_CODE_VERSION} (Claude Code)\n")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "   ")  # blank counts as unset
    rc, checks, _ = doctor()
    assert checks["claude-code"]["status"] == "WARN" and "auth: none" in checks["claude-code"]["detail"]
    assert checks["haiku"]["status"] == "FAIL" and "ANTHROPIC_API_KEY" in checks["haiku"]["hint"]
    assert rc == 1


def test_subscription_credentials_file_is_an_auth_source(fb, doctor, tmp_path, monkeypatch):
    config_dir = tmp_path / "claude-config"
    config_dir.mkdir()
    (config_dir / ".credentials.json").write_text(
        json.dumps({"claudeAiOauth": {"accessToken": "sk-ant-oat01-zzzz"}})
    )
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(config_dir))
    _, checks, doc = doctor()
    assert checks["haiku"]["status"] == "OK"
    assert str(config_dir / ".credentials.json") in checks["haiku"]["detail"]
    assert "sk-ant-oat01-zzzz" not in json.dumps(doc)


# -- gh ----------------------------------------------------------------------------------------


def test_gh_logged_in(fb, doctor):
    fb.add("gh", stdout="gh version 2.23.0 (2023-02-08)\n", on={
        "auth status": Reply(stdout="github.com\n  ✓ Logged in to github.com account octocat (keyring)\n"),
    })  # fmt: skip
    _, checks, _ = doctor()
    assert checks["gh"]["status"] == "OK" and checks["gh"]["detail"] == "gh 2.23.0, logged in as octocat"


def test_gh_not_logged_in_fails_without_a_token_and_warns_with_one(fb, doctor, monkeypatch):
    fb.add("gh", stdout="gh version 2.23.0\n", on={
        "auth status": Reply(stderr="You are not logged into any GitHub hosts. To log in, run: gh auth login\n", exit=1),
    })  # fmt: skip
    _, checks, _ = doctor()
    assert checks["gh"]["status"] == "FAIL" and "gh auth login" in checks["gh"]["hint"]
    token = "ghp_" + "t" * 36
    monkeypatch.setenv("GITHUB_TOKEN", token)
    _, checks, doc = doctor()
    assert checks["gh"]["status"] == "WARN" and "GITHUB_TOKEN is set" in checks["gh"]["detail"]
    assert token not in json.dumps(doc)


def test_gh_absent(fb, doctor, monkeypatch):
    _, checks, _ = doctor()
    assert checks["gh"]["status"] == "FAIL"
    monkeypatch.setenv("GH_TOKEN", "ghp_" + "u" * 36)
    _, checks, _ = doctor()
    assert checks["gh"]["status"] == "WARN" and "gh not installed" in checks["gh"]["detail"]


# -- ollama ------------------------------------------------------------------------------------


def test_ollama_skipped_without_review_models(fb, doctor):
    _, checks, _ = doctor()
    assert checks["ollama"]["status"] == "SKIPPED"


def test_ollama_tag_aware_match(fb, doctor, config):
    with OllamaStandIn(["qwen2.5-coder:7b-instruct", "llama3:latest"]) as daemon:
        path = config(ollama_url=daemon.url, review={"models": ["qwen2.5-coder:7b", "llama3"]})
        _, checks, _ = doctor("-c", path)
    assert checks["ollama"]["status"] == "OK"
    assert "qwen2.5-coder:7b (as qwen2.5-coder:7b-instruct)" in checks["ollama"]["detail"]
    assert daemon.requests_matching("GET", "^/api/tags$")


def test_ollama_missing_model_fails_with_the_pull_command(fb, doctor, config):
    with OllamaStandIn(["llama3:latest"]) as daemon:
        path = config(ollama_url=daemon.url, review={"models": ["llama3", "qwen2.5-coder:7b"]})
        rc, checks, _ = doctor("-c", path)
    assert rc == 1 and checks["ollama"]["status"] == "FAIL"
    assert (
        "qwen2.5-coder:7b" in checks["ollama"]["detail"]
        and "llama3" not in checks["ollama"]["detail"].split("lacks")[1]
    )
    assert checks["ollama"]["hint"].startswith("ollama pull qwen2.5-coder:7b")


def test_ollama_daemon_down_fails(fb, doctor, config):
    daemon = OllamaStandIn().start()
    url = daemon.url
    daemon.stop()  # nothing listens on that port any more
    _, checks, _ = doctor("-c", config(ollama_url=url, review={"models": ["llama3"]}))
    assert checks["ollama"]["status"] == "FAIL" and f"no Ollama daemon at {url}" in checks["ollama"]["detail"]
    assert "ollama serve" in checks["ollama"]["hint"]


@pytest.mark.parametrize(
    ("configured", "installed", "matches"),
    [
        ("qwen2.5-coder:7b", "qwen2.5-coder:7b", True),
        ("qwen2.5-coder:7b", "qwen2.5-coder:7b-instruct", True),
        ("qwen2.5-coder:7b", "qwen2.5-coder:7b-instruct-q4_K_M", True),
        ("llama3", "llama3:latest", True),
        ("Llama3:Latest", "llama3:latest", True),
        ("qwen2.5-coder:7b-instruct", "qwen2.5-coder:7b", False),
        ("qwen2.5-coder:7b", "qwen2.5-coder:70b", False),
        ("qwen2.5-coder", "qwen2.5-coder:7b", False),
        ("qwen2.5", "qwen2.5-coder:latest", False),
        ("llama3", "llama3.1:latest", False),
    ],
)
def test_model_match_rules(configured, installed, matches):
    assert model_matches(configured, installed) is matches


def test_an_exact_installed_name_is_preferred():
    assert find_installed("m:7b", ["m:7b-instruct", "m:7b"]) == "m:7b"


# -- memory ------------------------------------------------------------------------------------


def test_local_memory_creatable_and_doctor_creates_nothing(fb, doctor, config, tmp_path):
    db = tmp_path / "state" / "deep" / "memory.db"
    _, checks, _ = doctor("-c", config(local_memory_path=str(db)))
    assert checks["memory"]["status"] == "OK" and "will be created" in checks["memory"]["detail"]
    assert not (tmp_path / "state").exists()


def test_local_memory_existing_file_ok(fb, doctor, config, tmp_path):
    db = tmp_path / "memory.db"
    db.write_bytes(b"\0" * 4096)
    _, checks, _ = doctor("-c", config(local_memory_path=str(db)))
    assert checks["memory"]["status"] == "OK" and "writable" in checks["memory"]["detail"]


def test_local_memory_says_whether_recall_is_semantic(fb, doctor, config, tmp_path, monkeypatch):
    db = tmp_path / "memory.db"
    monkeypatch.delenv("KAGURA_MEMORY_SEMANTIC", raising=False)
    _, checks, _ = doctor("-c", config(local_memory_path=str(db)))
    assert checks["memory"]["status"] == "OK" and checks["memory"]["detail"].endswith("; semantic recall on")

    monkeypatch.setenv("KAGURA_MEMORY_SEMANTIC", "off")
    _, checks, _ = doctor("-c", config(local_memory_path=str(db)))
    assert checks["memory"]["status"] == "WARN"
    assert (
        "recall is keyword-only: $KAGURA_MEMORY_SEMANTIC turns semantic recall off"
        in checks["memory"]["detail"]
    )


def test_missing_model_files_are_named_without_importing_numpy(tmp_path):
    from kagura_engineer.memory import embed

    assert embed.installed_reason() is None
    reason = embed.installed_reason(tmp_path)
    assert reason is not None and reason.startswith(f"the model file {embed.WEIGHTS_FILE} is missing")


def test_local_memory_under_a_file_fails(fb, doctor, config, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    _, checks, _ = doctor("-c", config(local_memory_path=str(blocker / "kagura" / "memory.db")))
    assert checks["memory"]["status"] == "FAIL" and "is not a directory" in checks["memory"]["detail"]


def test_local_memory_path_that_is_a_directory_fails(fb, doctor, config, tmp_path):
    _, checks, _ = doctor("-c", config(local_memory_path=str(tmp_path)))
    assert checks["memory"]["status"] == "FAIL" and "not a file" in checks["memory"]["detail"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_local_memory_read_only_dir_fails(fb, doctor, config, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    _, checks, _ = doctor("-c", config(local_memory_path=str(ro / "memory.db")))
    assert checks["memory"]["status"] == "FAIL" and "not writable" in checks["memory"]["detail"]


def test_cloud_memory_ok_with_api_key_and_a_custom_user_agent(fb, doctor, config, monkeypatch):
    key = "kagura_" + "k" * 43
    monkeypatch.setenv("KAGURA_API_KEY", key)
    with MemoryCloudStandIn(api_key=key) as cloud:
        root = cloud.url
        _, checks, doc = doctor(
            "-c", config(memory_backend="cloud", memory_cloud_url=root + "/mcp", **CLOUD_IDS)
        )
    assert checks["memory"]["status"] == "OK"
    assert checks["memory"]["detail"] == f"Memory Cloud at {root} is up; credential: KAGURA_API_KEY"
    (health,) = cloud.requests_matching("GET", "^/health$")
    assert health.headers["user-agent"].startswith("kagura-engineer/")
    assert key not in json.dumps(doc) and key not in cloud.log_text()


def test_cloud_memory_oauth_profile_counts_and_a_missing_profile_fails(
    fb, doctor, config, monkeypatch, tmp_path
):
    home = Path(os.environ["HOME"])
    (home / ".kagura").mkdir()
    (home / ".kagura" / "credentials.json").write_text(json.dumps({
        "version": 1, "default_profile": "default",
        "profiles": {"default": {"access_token": "tok", "refresh_token": "ref", "server": "x"}},
    }))  # fmt: skip
    with MemoryCloudStandIn(api_key="unused-key") as cloud:
        path = config(memory_backend="cloud", memory_cloud_url=cloud.url, **CLOUD_IDS)
        _, checks, _ = doctor("-c", path)
        assert checks["memory"]["status"] == "OK" and "profile 'default'" in checks["memory"]["detail"]
        monkeypatch.setenv("KAGURA_PROFILE", "work")
        _, checks, _ = doctor("-c", path)
    assert checks["memory"]["status"] == "FAIL" and "profile 'work'" in checks["memory"]["detail"]


def test_cloud_memory_without_credentials_fails_with_login_hint(fb, doctor, config):
    with MemoryCloudStandIn(api_key="unused-key") as cloud:
        rc, checks, _ = doctor("-c", config(memory_backend="cloud", memory_cloud_url=cloud.url, **CLOUD_IDS))
    assert rc == 1 and checks["memory"]["status"] == "FAIL"
    assert "kagura auth login" in checks["memory"]["hint"] and "KAGURA_API_KEY" in checks["memory"]["hint"]


def test_cloud_memory_unhealthy_or_unreachable_fails(fb, doctor, config, monkeypatch):
    monkeypatch.setenv("KAGURA_API_KEY", "kagura_" + "k" * 43)
    with MemoryCloudStandIn(api_key="k") as cloud:
        cloud.inject(503, path="^/health$", times=10)
        _, checks, _ = doctor("-c", config(memory_backend="cloud", memory_cloud_url=cloud.url, **CLOUD_IDS))
        url = cloud.url
    assert checks["memory"]["status"] == "FAIL" and "HTTP 503" in checks["memory"]["detail"]
    _, checks, _ = doctor("-c", config(memory_backend="cloud", memory_cloud_url=url, **CLOUD_IDS))
    assert checks["memory"]["status"] == "FAIL" and "unreachable" in checks["memory"]["detail"]


def test_cloud_memory_plain_http_to_a_remote_host_fails_without_a_request(fb, doctor, config, monkeypatch):
    monkeypatch.setenv("KAGURA_API_KEY", "kagura_" + "k" * 43)
    _, checks, _ = doctor(
        "-c", config(memory_backend="cloud", memory_cloud_url="http://memory.example.com", **CLOUD_IDS)
    )
    assert checks["memory"]["status"] == "FAIL" and "plain http" in checks["memory"]["detail"]


# -- reviewer ----------------------------------------------------------------------------------


def test_reviewer_present(fb, doctor):
    fb.add("kagura-code-reviewer", stdout="kagura-code-reviewer 0.4.0\n")
    _, checks, _ = doctor()
    assert checks["reviewer"]["status"] == "OK" and "0.4.0" in checks["reviewer"]["detail"]


def test_reviewer_absent_warns_with_the_extra(fb, doctor):
    rc, checks, _ = doctor()
    assert checks["reviewer"]["status"] == "WARN"
    assert checks["reviewer"]["hint"] == "pip install 'kagura-engineer[review]'"
