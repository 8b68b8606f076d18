"""Fail fast: `run`, `review` and `goal` check for claude and a model credential before any
network call. The GitHub stand-in records every request: a refused command made none."""

from __future__ import annotations

import pytest

from kagura_engineer.agent.preflight import NO_CREDENTIAL, model_credential, require_agent
from kagura_engineer.cli import main
from kagura_engineer.errors import NeedsUserError

KEY = "sk-ant-api03-" + "p" * 30


@pytest.fixture
def cli(world, tmp_path, monkeypatch):
    """The CLI in the world's checkout, with only `profile: widgets`, a PATH without claude
    and no credential; `with_claude()` puts a stand-in claude on PATH."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    monkeypatch.delenv("KAGURA_CLAUDE_BIN", raising=False)  # CI exports the real one for the e2e stage
    for key, value in world.github.env().items():
        monkeypatch.setenv(key, value)
    (world.repo / "repo.yaml").write_text("profile: widgets\n")
    monkeypatch.chdir(world.repo)

    def with_claude() -> None:
        fake = bindir / "claude"
        fake.write_text("#!/bin/sh\necho 'stand-in claude' >&2\nexit 1\n")
        fake.chmod(0o755)

    return with_claude


COMMANDS = [["run", "42"], ["review", "7"], ["review", "7", "--fix"], ["review", "HEAD"], ["goal", "v1"]]


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_without_claude_nothing_is_asked_of_github(world, cli, capsys, monkeypatch, argv):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "error[needs-user]: claude (Claude Code) is not installed"
    assert err[1].startswith("  hint: kagura-engineer setup --fix claude-code (installs ")
    assert world.github.requests == []


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_without_a_credential_nothing_is_asked_of_github(world, cli, capsys, argv):
    cli()
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"error[needs-user]: {NO_CREDENTIAL}"
    assert err[1].startswith("  hint: export ANTHROPIC_API_KEY=<key>")
    assert len(err) == 2
    assert world.github.requests == []


def test_with_claude_and_a_key_the_command_goes_on_to_github(world, cli, capsys, monkeypatch):
    cli()
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    assert main(["run", "42"]) == 1  # no issue #42: GitHub was asked
    assert "error[needs-user]" not in capsys.readouterr().err
    assert any("/issues/42" in r.path for r in world.github.requests)


def test_goal_plan_needs_no_model(world, cli, capsys):
    main(["goal", "v1", "--plan"])
    assert "error[needs-user]" not in capsys.readouterr().err
    assert world.github.requests != []


def test_a_reviewer_other_than_claude_needs_no_model_credential(world, cli, tmp_path, capsys, monkeypatch):
    reviewer = tmp_path / "bin" / "kagura-code-reviewer"
    reviewer.write_text("#!/bin/sh\nexit 2\n")
    reviewer.chmod(0o755)
    main(["review", "7"])
    assert "error[needs-user]" not in capsys.readouterr().err
    assert world.github.requests != []
    assert main(["review", "7", "--fix"]) == 2  # fixing is Claude's job
    assert capsys.readouterr().err.startswith("error[needs-user]: claude (Claude Code) is not installed")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"ANTHROPIC_API_KEY": KEY}, "ANTHROPIC_API_KEY"),
        ({"CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-x"}, "CLAUDE_CODE_OAUTH_TOKEN"),
        ({"ANTHROPIC_AUTH_TOKEN": "t"}, "ANTHROPIC_AUTH_TOKEN"),
        ({"CLAUDE_CODE_USE_BEDROCK": "1"}, "CLAUDE_CODE_USE_BEDROCK"),
        ({"CLAUDE_CODE_USE_VERTEX": "true"}, "CLAUDE_CODE_USE_VERTEX"),
        ({"CLAUDE_CODE_USE_BEDROCK": "0", "CLAUDE_CODE_USE_VERTEX": ""}, None),
        ({"ANTHROPIC_API_KEY": "  "}, None),
        ({}, None),
    ],
)
def test_what_counts_as_a_model_credential(tmp_path, env, expected):
    assert model_credential({"HOME": str(tmp_path), **env}) == expected


def test_a_subscription_login_counts(tmp_path):
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / ".credentials.json").write_text('{"claudeAiOauth": {"accessToken": "x"}}')
    assert "subscription login" in model_credential({"HOME": str(tmp_path)})


def test_a_kagura_claude_bin_that_is_not_a_program_is_named(tmp_path):
    with pytest.raises(NeedsUserError) as exc:
        require_agent({"HOME": str(tmp_path), "PATH": "", "KAGURA_CLAUDE_BIN": str(tmp_path / "nope")})
    assert exc.value.message == f"KAGURA_CLAUDE_BIN={tmp_path / 'nope'} is not an executable file"
