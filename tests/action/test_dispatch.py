"""The seam: the Action hands the command its typed options and the config it built, and
turns how the command ended, or how it failed, into one outcome."""

from __future__ import annotations

import json

from kagura_engineer import proc
from kagura_engineer.action.dispatch import DispatchContext, dispatch
from kagura_engineer.action.intent import Intent
from kagura_engineer.config import parse_config

from .conftest import issue_payload

LABELED = {"label": {"name": "kagura"}}

SECRET = "s3cret-inside-a-crash-0123456789"


def test_the_command_gets_the_config_the_action_built(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no repo.yaml here: a command that loaded its own would get the defaults
    config = parse_config({"profile": "team"}, "repo.yaml").with_overrides(model="claude-x")
    outcome = dispatch(Intent("doctor", "test"), DispatchContext(config=config))
    checks = {c["name"]: c for c in json.loads(outcome.log)["checks"]}
    assert checks["config"]["detail"] == "repo.yaml + action inputs: profile 'team', memory local"


def test_a_kagura_error_keeps_its_exit_code_and_hint(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")  # no claude
    monkeypatch.delenv("KAGURA_CLAUDE_BIN", raising=False)
    monkeypatch.chdir(tmp_path)
    outcome = dispatch(
        Intent("run", "test", issue=42), DispatchContext(config=parse_config({"profile": "p"}))
    )
    assert (outcome.exit_code, outcome.status, outcome.ending) == (2, "blocked", None)
    assert outcome.error == "error[needs-user]: claude (Claude Code) is not installed"
    assert outcome.hint is not None and outcome.hint.startswith("kagura-engineer setup --fix claude-code")


def test_a_bug_inside_execute_is_exit_3_with_a_redacted_line(tmp_path, monkeypatch, capsys):
    import kagura_engineer.doctor.registry as registry

    def broken(ctx):
        raise RuntimeError(f"boom near {SECRET}")

    proc.register_secret(SECRET)
    monkeypatch.setattr(registry, "checks_for", broken)
    monkeypatch.chdir(tmp_path)
    outcome = dispatch(Intent("doctor", "test"), DispatchContext(config=parse_config({"profile": "p"})))
    assert (outcome.exit_code, outcome.status, outcome.ending) == (3, "failed", None)
    assert outcome.error == "error[internal]: RuntimeError: boom near ***"
    err = capsys.readouterr().err
    assert "Traceback" in err and "in broken" in err and SECRET not in err


def test_a_bad_input_override_fails_the_job_with_exit_2(action_env, standin, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, log = (
        action_env.inputs(memory_backend="cloud", kagura_api_key="kagura_key_0123456789abcdef")
        .event("issues", issue_payload("issues/labeled.json", **LABELED))
        .run()
    )
    assert code == 2 and action_env.outputs()["status"] == "failed"
    assert "<embedded defaults> + action inputs: memory_backend 'cloud' requires workspace_id" in log


def test_run_options_carry_the_inputs_and_the_trigger_text():
    from kagura_engineer.action.dispatch import command_call

    ctx = DispatchContext(base_branch="develop", max_usd=3.0, max_turns=9, draft=True)
    _, options = command_call(Intent("run", "test", issue=42), ctx)
    assert (options.issue, options.base, options.max_usd, options.max_turns) == (42, "develop", 3.0, 9)
    assert options.draft is True and options.unattended is True
    _, plain = command_call(Intent("run", "test", issue=42), DispatchContext())
    assert plain.draft is False
    _, goal = command_call(Intent("goal", "test", milestone="v1"), ctx)
    assert goal.draft is True and goal.unattended is True
