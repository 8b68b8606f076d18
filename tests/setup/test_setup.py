"""`kagura-engineer setup` against fake package managers on PATH: the real step logic runs,
only the programs it drives are stand-ins that log their argv."""

from __future__ import annotations

import io
import json

from doctor.standins import OllamaStandIn
from fakebin import Reply
from kagura_engineer import CLAUDE_CODE_VERSION
from kagura_engineer.agent.install import cache_prefix
from kagura_engineer.cli import main
from kagura_engineer.config import parse_config
from kagura_engineer.setup.context import SetupContext
from kagura_engineer.setup.model import StepStatus
from kagura_engineer.setup.runner import Step, run_steps
from kagura_engineer.setup.steps import STEPS
from setup.fakes import CLAUDE, GH, GIT, add_apt, add_npm, cached_claude_path

PIN = f"@anthropic-ai/claude-code@{CLAUDE_CODE_VERSION}"


def npm_argv() -> list[str]:
    """`npm install` into kagura-engineer's cache (this test's HOME), never `-g`."""
    prefix = str(cache_prefix())
    return ["npm", "install", "--no-audit", "--no-fund", "--prefix", prefix, PIN]


ORDER = ["git", "claude-code", "gh", "ollama", "ollama-models", "memory-cloud"]
CLOUD_IDS = {"workspace_id": "w-1", "context_id": "c-1"}


def _installs(fb) -> list[list[str]]:
    return [
        argv
        for argv in fb.calls()
        if argv[0] in ("apt-get", "npm", "brew", "ollama", "sudo") and argv[1:2] != ["--version"]
    ]


def test_dry_run_prints_the_exact_commands_and_runs_nothing(fb, capsys):
    add_apt(fb)
    add_npm(fb)
    assert main(["setup", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "$ DEBIAN_FRONTEND=noninteractive apt-get update" in out
    assert "$ DEBIAN_FRONTEND=noninteractive apt-get install -y git" in out
    assert "$ DEBIAN_FRONTEND=noninteractive apt-get install -y gh" in out
    assert f"$ {' '.join(npm_argv())}" in out
    assert out.count("apt-get update") == 1
    assert fb.calls() == []  # not one fake was executed
    assert not (fb.dir / "git").exists()


def test_dry_run_json_lists_commands_per_step(fb, setup):
    add_apt(fb)
    add_npm(fb)
    rc, steps, doc = setup("--dry-run")
    assert rc == 0 and doc["dry_run"] is True and list(steps) == ORDER
    assert (
        steps["git"]["status"] == "SKIPPED"
        and steps["git"]["detail"] == "dry run: would install git with apt-get"
    )
    assert steps["git"]["commands"] == [
        "DEBIAN_FRONTEND=noninteractive apt-get update", "DEBIAN_FRONTEND=noninteractive apt-get install -y git",
    ]  # fmt: skip
    assert steps["claude-code"]["commands"] == [" ".join(npm_argv())]
    assert fb.calls() == []


def test_installs_what_is_missing_then_a_second_run_installs_nothing(fb, setup, monkeypatch):
    add_apt(fb)
    add_npm(fb)
    rc, steps, _ = setup("--no-input")
    assert rc == 0, steps
    assert {n: s["status"] for n, s in steps.items()} == {
        "git": "OK", "claude-code": "OK", "gh": "OK", "ollama": "SKIPPED", "ollama-models": "SKIPPED",
        "memory-cloud": "SKIPPED",
    }  # fmt: skip
    assert (
        steps["claude-code"]["detail"] == f"installed claude {CLAUDE_CODE_VERSION} at {cached_claude_path()}"
    )
    assert _installs(fb) == [
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "git"],
        npm_argv(),
        ["apt-get", "install", "-y", "gh"],
    ]
    apt_envs = [r["env"] for r in fb.records() if r["name"] == "apt-get"]
    assert all(env.get("DEBIAN_FRONTEND") == "noninteractive" for env in apt_envs)

    before = len(_installs(fb))
    rc, steps, _ = setup("--no-input")
    assert rc == 0
    assert {s["status"] for s in steps.values()} <= {"OK", "SKIPPED"}
    assert len(_installs(fb)) == before
    assert all(s["commands"] == [] for s in steps.values())


def test_missing_npm_is_installed_before_claude_code(fb, setup):
    fb.add("git", GIT)
    add_apt(fb)
    rc, steps, _ = setup("--fix", "claude-code", "--no-input")
    assert rc == 0 and list(steps) == ["claude-code"]
    assert _installs(fb) == [["apt-get", "update"], ["apt-get", "install", "-y", "npm"], npm_argv()]


def test_needs_user_exits_two_with_the_login_instruction(fb, setup, config):
    fb.add("git", GIT)
    fb.add("claude", CLAUDE)
    fb.add("gh", GH)
    rc, steps, _ = setup("--no-input", "-c", config(memory_backend="cloud", **CLOUD_IDS))
    assert rc == 2
    assert steps["memory-cloud"]["status"] == "NEEDS_USER"
    assert (
        "`kagura auth login`" in steps["memory-cloud"]["hint"]
        and "KAGURA_API_KEY" in steps["memory-cloud"]["hint"]
    )
    url = "https://memory.example.org/mcp"
    rc, steps, _ = setup(
        "--no-input", "-c", config(memory_backend="cloud", memory_cloud_url=url, **CLOUD_IDS)
    )
    assert "`kagura auth login --server https://memory.example.org`" in steps["memory-cloud"]["hint"]


def test_memory_cloud_ok_with_a_key(fb, setup, config, monkeypatch):
    monkeypatch.setenv("KAGURA_API_KEY", "kagura_" + "z" * 40)
    rc, steps, doc = setup("--fix", "memory-cloud", "-c", config(memory_backend="cloud", **CLOUD_IDS))
    assert rc == 0 and steps["memory-cloud"]["detail"] == "Memory Cloud credential: KAGURA_API_KEY"
    assert "z" * 40 not in json.dumps(doc)


def test_fail_wins_over_needs_user(fb, setup, config):
    fb.add("git", GIT)
    fb.add("gh", GH)
    add_npm(fb, install=Reply(stderr="npm ERR! code EACCES\nnpm ERR! permission denied\n", exit=243))
    rc, steps, _ = setup("--no-input", "-c", config(memory_backend="cloud", **CLOUD_IDS))
    assert rc == 1
    assert steps["claude-code"]["status"] == "FAIL"
    assert (
        steps["claude-code"]["detail"] == f"`{' '.join(npm_argv())}` exited 243: npm ERR! permission denied"
    )
    assert "registry" in steps["claude-code"]["hint"]
    assert steps["memory-cloud"]["status"] == "NEEDS_USER"


def test_unknown_step_exits_two_listing_the_valid_ones(fb, capsys):
    assert main(["setup", "--fix", "nodejs"]) == 2
    err = capsys.readouterr().err
    assert "unknown setup step 'nodejs'" in err
    assert "valid steps: git, claude-code, gh, ollama, ollama-models, memory-cloud" in err


def test_bad_config_exits_two(fb, capsys, tmp_path):
    bad = tmp_path / "repo.yaml"
    bad.write_text("profile: x\nmemory_backend: cloud\n")
    assert main(["setup", "-c", str(bad)]) == 2
    assert "requires workspace_id and context_id" in capsys.readouterr().err


def test_another_claude_version_is_left_alone_unless_fixed_explicitly(fb, setup):
    fb.add("git", GIT)
    fb.add("gh", GH)
    fb.add("claude", stdout="2.1.197 (Claude Code)\n")
    add_npm(fb)
    rc, steps, _ = setup("--no-input")
    assert rc == 2 and steps["claude-code"]["status"] == "NEEDS_USER"
    assert "claude 2.1.197" in steps["claude-code"]["detail"]
    assert steps["claude-code"]["hint"].startswith("kagura-engineer setup --fix claude-code")
    assert fb.calls("npm") == []
    rc, steps, _ = setup("--no-input", "--fix", "claude-code")
    assert rc == 0 and steps["claude-code"]["status"] == "OK"
    assert fb.calls("npm") == [npm_argv()]
    assert (
        steps["claude-code"]["detail"] == f"installed claude {CLAUDE_CODE_VERSION} at {cached_claude_path()}"
    )
    # the install in the cache is what doctor (and run) now use; the user's claude stays put
    assert main(["doctor", "--json"]) in (0, 1)
    doc = json.loads(setup.capsys.readouterr().out)
    claude = next(c for c in doc["checks"] if c["name"] == "claude-code")
    assert f"claude {CLAUDE_CODE_VERSION} at {cached_claude_path()} (cache)" in claude["detail"]
    assert (fb.dir / "claude").exists()


def test_the_cache_install_honours_xdg_cache_home(fb, setup, tmp_path, monkeypatch):
    fb.add("git", GIT)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    add_npm(fb)
    rc, steps, _ = setup("--no-input", "--fix", "claude-code")
    assert rc == 0, steps
    prefix = tmp_path / "xdg" / "kagura-engineer" / f"claude-{CLAUDE_CODE_VERSION}"
    assert fb.calls("npm") == [["npm", "install", "--no-audit", "--no-fund", "--prefix", str(prefix), PIN]]


def test_an_install_that_leaves_no_claude_in_the_cache_fails(fb, setup):
    fb.add("git", GIT)
    fb.add("npm", stdout="11.19.1\n")  # exits 0, installs nothing
    rc, steps, _ = setup("--no-input", "--fix", "claude-code")
    assert rc == 1 and steps["claude-code"]["status"] == "FAIL"
    assert (
        steps["claude-code"]["detail"] == f"npm installed {PIN}, but there is no claude in {cache_prefix()}"
    )


def test_gh_is_optional_with_a_token_unless_asked_for(fb, setup, monkeypatch):
    add_apt(fb)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_" + "g" * 36)
    rc, steps, _ = setup("--no-input", "--fix", "gh")
    assert steps["gh"]["status"] == "OK" and fb.calls("apt-get")  # --fix gh installs it anyway
    fb.remove("gh")
    rc, steps, _ = setup("--no-input")
    assert steps["gh"]["status"] == "SKIPPED" and "GITHUB_TOKEN is set" in steps["gh"]["detail"]


def test_gh_not_logged_in_needs_user(fb, setup):
    fb.add("gh", stdout="gh version 2.23.0\n", on={"auth status": Reply(stderr="not logged in\n", exit=1)})
    rc, steps, _ = setup("--no-input", "--fix", "gh")
    assert rc == 2 and steps["gh"]["status"] == "NEEDS_USER" and "gh auth login" in steps["gh"]["hint"]


def test_git_dubious_ownership_needs_user_with_the_exact_command(fb, setup):
    stderr = "fatal: detected dubious ownership in repository at '/srv/widgets'\n"
    fb.add("git", stdout="git version 2.39.5\n", on={"rev-parse": Reply(stderr=stderr, exit=128)})
    rc, steps, _ = setup("--fix", "git")
    assert rc == 2 and steps["git"]["hint"] == "git config --global --add safe.directory /srv/widgets"
    assert ["git", "config", "--global", "--add", "safe.directory", "/srv/widgets"] not in fb.calls()


def test_no_package_manager_needs_user(fb, setup):
    rc, steps, _ = setup("--fix", "git")
    assert rc == 2 and steps["git"]["status"] == "NEEDS_USER"
    assert "neither apt-get nor brew" in steps["git"]["detail"]


def test_ollama_models_are_pulled_into_the_configured_daemon(fb, setup, config):
    fb.add("ollama", stdout="ollama version is 0.5.7\n")
    with OllamaStandIn(["llama3:latest"], fakebin=fb) as daemon:
        path = config(ollama_url=daemon.url, review={"models": ["llama3", "qwen2.5-coder:7b"]})
        rc, steps, _ = setup("--no-input", "--fix", "ollama-models", "-c", path)
        assert rc == 0 and steps["ollama-models"]["status"] == "OK"
        assert steps["ollama-models"]["commands"] == [
            f"OLLAMA_HOST={daemon.url} ollama pull qwen2.5-coder:7b"
        ]
        pulls = [r for r in fb.records() if r["argv"][:2] == ["ollama", "pull"]]
        assert [(r["argv"], r["env"]["OLLAMA_HOST"]) for r in pulls] == [
            (["ollama", "pull", "qwen2.5-coder:7b"], daemon.url)
        ]
        rc, steps, _ = setup("--no-input", "-c", path)
        assert steps["ollama"]["status"] == "OK" and steps["ollama-models"]["status"] == "OK"
        assert len([r for r in fb.records() if r["argv"][:2] == ["ollama", "pull"]]) == 1


def test_a_pull_that_lands_elsewhere_fails(fb, setup, config):
    fb.add("ollama", stdout="ollama version is 0.5.7\n")
    with OllamaStandIn([]) as daemon:  # ignores what the CLI pulls: as if OLLAMA_HOST pointed elsewhere
        path = config(ollama_url=daemon.url, review={"models": ["llama3"]})
        rc, steps, _ = setup("--no-input", "--fix", "ollama-models", "-c", path)
    assert rc == 1 and "still lacks llama3" in steps["ollama-models"]["detail"]


def test_ollama_on_linux_is_the_users_install(fb, setup, config):
    add_apt(fb)
    daemon = OllamaStandIn().start()
    url = daemon.url
    daemon.stop()
    rc, steps, _ = setup("--no-input", "-c", config(ollama_url=url, review={"models": ["llama3"]}))
    assert (
        steps["ollama"]["status"] == "NEEDS_USER"
        and "https://ollama.com/install.sh" in steps["ollama"]["hint"]
    )
    assert steps["ollama-models"]["status"] == "NEEDS_USER"
    assert not any(argv[:1] == ["curl"] for argv in fb.calls())


def test_ollama_installed_but_not_running_needs_user(fb, setup, config):
    fb.add("ollama", stdout="ollama version is 0.5.7\n")
    daemon = OllamaStandIn().start()
    url = daemon.url
    daemon.stop()
    rc, steps, _ = setup("--fix", "ollama", "-c", config(ollama_url=url, review={"models": ["llama3"]}))
    assert rc == 2 and "ollama serve" in steps["ollama"]["hint"]


def _ctx(**kwargs) -> SetupContext:
    config = parse_config({"profile": "t", "memory_backend": "local"})
    return SetupContext(config, out=io.StringIO(), **kwargs)


def test_sudo_that_wants_a_password_needs_user(fb):
    add_apt(fb)
    fb.add("sudo", stderr="sudo: a password is required\n", exit=1)
    report = run_steps([STEPS[0]], _ctx(root=False))
    (git,) = report.results
    assert git.status is StepStatus.NEEDS_USER and report.exit_code == 2
    assert git.hint.startswith(
        "run yourself: sudo env DEBIAN_FRONTEND=noninteractive apt-get update && sudo env"
    )
    assert git.commands == ("sudo -n env DEBIAN_FRONTEND=noninteractive apt-get update",)  # what actually ran
    assert fb.calls("sudo") == [["sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "update"]]
    assert fb.calls("apt-get") == []


def test_not_root_and_no_sudo_needs_user(fb):
    add_apt(fb)
    (git,) = run_steps([STEPS[0]], _ctx(root=False)).results
    assert git.status is StepStatus.NEEDS_USER and "no sudo" in git.detail
    assert fb.calls() == []


def test_interactive_decline_installs_nothing_and_yes_installs(fb):
    add_apt(fb)
    (git,) = run_steps([STEPS[0]], _ctx(root=True, interactive=True, stdin=io.StringIO("n\n"))).results
    assert git.status is StepStatus.NEEDS_USER and git.detail == "declined to install git with apt-get"
    assert "apt-get install -y git" in git.hint and git.commands == ()
    assert fb.calls() == []
    out = io.StringIO()
    config = parse_config({"profile": "t", "memory_backend": "local"})
    ctx = SetupContext(config, root=True, interactive=True, stdin=io.StringIO("\n"), out=out)
    (git,) = run_steps([STEPS[0]], ctx).results
    assert git.status is StepStatus.OK
    assert "apt-get install -y git" in out.getvalue() and "[Y/n]" in out.getvalue()
    assert ["apt-get", "install", "-y", "git"] in fb.calls()


def test_a_crashing_step_fails_alone_and_the_rest_still_run(fb):
    fb.add("git", GIT)

    def broken(ctx):
        raise RuntimeError("surprise\nmore")

    report = run_steps([Step("broken", broken), STEPS[0]], _ctx(root=True))
    broken_result, git = report.results
    assert (
        broken_result.status is StepStatus.FAIL
        and broken_result.detail == "step crashed: RuntimeError: surprise"
    )
    assert git.status is StepStatus.OK and report.exit_code == 1
