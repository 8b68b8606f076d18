"""The orchestrator: skip, dispatch, honest endings, milestones, config and git set-up."""

from __future__ import annotations

import io
import json
import subprocess

import yaml

from kagura_engineer.action.command import ensure_safe_directory
from kagura_engineer.action.dispatch import DispatchContext, Outcome, command_call, dispatch
from kagura_engineer.action.intent import Intent
from kagura_engineer.goal.milestone import nearest_due_milestone
from kagura_engineer.status import Ending, Status
from kagura_engineer.workflow import ActionIO

from .conftest import Recorder, comment_payload, issue_payload

LABELED = {"label": {"name": "kagura"}}


def progress_comments(standin, number=42):
    return [c for c in standin.issue_comments(number) if c["body"].startswith("<!-- kagura:")]


def test_a_skip_is_reported_and_exits_0(action_env, standin):
    recorder = Recorder()
    code, log = action_env.event("pull_request", issue_payload("pull_request/closed.json")).run(recorder)
    assert code == 0 and recorder.calls == []
    outputs = action_env.outputs()
    assert outputs["status"] == "skipped" and outputs["intent"] == "skip"
    assert set(outputs) == {
        "status",
        "intent",
        "pr_number",
        "pr_url",
        "verdict",
        "cost_usd",
        "matrix",
        "savepoint",
    }
    assert "::notice title=kagura-engineer::skipped: pull_request/closed is not a trigger" in log
    assert "pull_request/closed is not a trigger" in action_env.summary.read_text()
    assert action_env.saved_state()["kagura_done"] == "1"


def test_shipped_run_fills_outputs_and_finishes_the_comment(action_env, standin):
    recorder = Recorder()
    code, log = (
        action_env.inputs(max_budget_usd="3", base_branch="develop", draft="true")
        .event("issues", issue_payload("issues/labeled.json", **LABELED))
        .run(recorder)
    )
    assert code == 0
    intent, ctx = recorder.calls[0]
    assert intent.label() == "run #42"
    assert (ctx.max_usd, ctx.base_branch, ctx.draft) == (3.0, "develop", True)
    outputs = action_env.outputs()
    assert outputs == {
        "status": "shipped", "intent": "run #42", "pr_number": "7",
        "pr_url": "https://github.com/acme/widgets/pull/7", "verdict": "green", "cost_usd": "0.42",
        "matrix": "", "savepoint": "run/acme/widgets/issue-42",
    }  # fmt: skip
    (comment,) = progress_comments(standin)
    assert (
        "✅ shipped" in comment["body"] and "[#7](https://github.com/acme/widgets/pull/7)" in comment["body"]
    )
    assert "working" not in comment["body"] and "cost $0.42" in comment["body"]
    state = action_env.saved_state()
    assert state["kagura_progress_key"] == "run/acme/widgets/issue-42" and state["kagura_done"] == "1"


def test_rerun_edits_the_same_comment(action_env, standin):
    env = action_env.event("issues", issue_payload("issues/labeled.json", **LABELED))
    env.run(Recorder(Outcome(2, error="error[blocked]: checks failed")))
    env.run(Recorder())
    (comment,) = progress_comments(standin)
    assert "shipped" in comment["body"] and "checks failed" not in comment["body"]


def test_a_blocked_command_is_reported_honestly(action_env, standin):
    outcome = Outcome(2, error="error[blocked]: checks failed after 2 attempts", hint="fix the tests")
    code, log = action_env.event("issues", issue_payload("issues/labeled.json", **LABELED)).run(
        Recorder(outcome)
    )
    assert code == 2
    assert action_env.outputs()["status"] == "blocked"
    assert (
        "::error title=kagura-engineer run::error[blocked]: checks failed after 2 attempts (fix the tests)"
        in log
    )
    (comment,) = progress_comments(standin)
    assert "⛔ blocked" in comment["body"] and "checks failed after 2 attempts" in comment["body"]
    assert "/kagura resume" in comment["body"]


def test_busy_and_crashes_map_to_status_and_exit_code(action_env, standin):
    env = action_env.event("issues", issue_payload("issues/labeled.json", **LABELED))
    code, _ = env.run(Recorder(Outcome(2, error="error[busy]: held by run 9", busy=True)))
    assert (code, env.outputs()["status"]) == (2, "busy")

    def crash(intent, ctx):
        raise RuntimeError("boom")

    code, log = env.run(crash)
    assert code == 3 and "internal error: RuntimeError: boom" in log
    assert env.outputs()["status"] == "failed"
    (comment,) = progress_comments(standin)
    assert "❌ failed" in comment["body"] and "boom" in comment["body"]


def test_a_command_that_reports_its_own_ending_keeps_it(action_env, standin):
    def run_that_owns_its_comment(intent, ctx):
        comment = progress_comments(standin)[0]
        standin.comments[comment["id"]]["body"] = (
            comment["body"].split("\n")[0] + "\nthe run's own final words"
        )
        return Outcome(0, Ending(Status.SHIPPED, pr_number=5))

    code, _ = action_env.event("issues", issue_payload("issues/labeled.json", **LABELED)).run(
        run_that_owns_its_comment
    )
    assert code == 0
    (comment,) = progress_comments(standin)
    assert comment["body"].endswith("the run's own final words")


def test_run_without_a_model_credential_fails_before_any_write(action_env, standin):
    action_env.env.pop("INPUT_ANTHROPIC_API_KEY")
    recorder = Recorder()
    code, log = action_env.event("issues", issue_payload("issues/labeled.json", **LABELED)).run(recorder)
    assert code == 2 and recorder.calls == []
    assert "needs a model credential" in log and "anthropic_api_key" in log
    assert progress_comments(standin) == []
    assert action_env.outputs()["status"] == "failed"


def test_schedule_resolves_the_nearest_due_milestone(action_env, standin):
    standin.add_milestone("later", due_on="2031-01-01T00:00:00Z")
    standin.add_milestone("undated")
    standin.add_milestone("soon", due_on="2030-06-01T00:00:00Z")
    standin.add_milestone("closed", due_on="2020-01-01T00:00:00Z", state="closed")
    recorder = Recorder(Outcome(0, Ending(Status.SHIPPED, matrix={"include": [{"issue": 3}]})))
    code, log = action_env.event("schedule", {"schedule": "17 3 * * *"}).run(recorder)
    assert code == 0 and recorder.calls[0][0].label() == "goal 'soon'"
    assert action_env.outputs()["matrix"] == '{"include":[{"issue":3}]}'


def test_plan_mode_needs_no_model_credential_and_outputs_the_matrix(action_env, standin):
    action_env.env.pop("INPUT_ANTHROPIC_API_KEY")
    frontier = {"include": [{"issue": 42, "title": "Fix the login redirect", "wave": 1, "depends_on": []}]}
    recorder = Recorder(Outcome(0, Ending(Status.SHIPPED, matrix=frontier)))  # what `goal --plan` ends with
    code, log = (
        action_env.inputs(command="goal", milestone="v1", plan="true")
        .event(
            "workflow_dispatch",
            {"inputs": {"milestone": "v1"}, "sender": {"login": "octocat", "type": "User"}},
        )
        .run(recorder)
    )
    assert code == 0, log
    assert recorder.calls[0][0].label() == "goal 'v1' --plan"
    outputs = action_env.outputs()
    assert (outputs["status"], outputs["intent"]) == ("shipped", "goal 'v1' --plan")
    assert json.loads(outputs["matrix"]) == frontier
    assert progress_comments(standin) == []


def test_schedule_without_dated_milestones_skips(action_env, standin):
    standin.add_milestone("undated")
    recorder = Recorder()
    code, _ = action_env.event("schedule", {"schedule": "17 3 * * *"}).run(recorder)
    assert code == 0 and recorder.calls == []
    assert action_env.outputs()["status"] == "skipped"
    assert "no open milestone has a due date" in action_env.summary.read_text()


def test_nearest_due_milestone():
    assert nearest_due_milestone([]) is None
    assert nearest_due_milestone([{"title": "a", "due_on": None}]) is None
    ms = [{"title": "b", "due_on": "2030-02-01T00:00:00Z", "number": 2},
          {"title": "a", "due_on": "2030-01-01T00:00:00Z", "number": 1}]  # fmt: skip
    assert nearest_due_milestone(ms) == "a"


def test_inputs_become_the_effective_config(action_env, standin, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "repo.yaml").write_text(yaml.safe_dump({
        "profile": "p", "memory_backend": "cloud", "workspace_id": "w", "context_id": "c",
        "checks": ["pytest -q"], "budget": {"max_usd": 9, "max_turns": 80},
    }))  # fmt: skip
    recorder = Recorder()
    action_env.inputs(
        model="claude-x", max_turns="12", timeout_minutes="20", allowed_tools="Read,Edit", cache="false"
    )
    action_env.event("issues", issue_payload("issues/labeled.json", **LABELED))
    runner_files = set(action_env.dir.rglob("*"))
    code, log = action_env.run(recorder)
    assert code == 0
    config = recorder.calls[0][1].config
    assert config.model == "claude-x" and config.allowed_tools == ["Read", "Edit"]
    assert config.budget.model_dump() == {
        "max_usd": 9.0,
        "max_turns": 12,
        "max_minutes": 20.0,
        "max_usd_per_goal": None,
    }
    assert config.checks == ["pytest -q"]
    assert config.memory_backend == "local"  # cloud asked for, but no kagura_api_key
    assert config.source == "repo.yaml + action inputs"
    assert "no kagura_api_key is set" in log
    assert "memory cache" not in log  # cache: false
    assert set(action_env.dir.rglob("*")) == runner_files  # nothing written under RUNNER_TEMP for it
    assert not list(tmp_path.rglob("kagura-engineer-*"))


def test_without_overrides_the_original_config_is_used(action_env, standin):
    recorder = Recorder()
    action_env.event("issues", issue_payload("issues/labeled.json", **LABELED)).run(recorder)
    assert recorder.calls[0][1].config.source == "<embedded defaults>"
    assert "memory cache: restore" in action_env.run(recorder)[1]  # local backend + cache: true


def test_a_bad_repo_yaml_is_a_config_error(action_env, standin, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("profile: p\nmemory_backend: cloud\n")
    code, log = (
        action_env.inputs(config=str(bad))
        .event("issues", issue_payload("issues/labeled.json", **LABELED))
        .run(Recorder())
    )
    assert code == 2 and "requires workspace_id" in log and action_env.outputs()["status"] == "failed"


def test_safe_directory_is_added_once(tmp_path):
    env = {"GITHUB_WORKSPACE": str(tmp_path / "ws")}
    aio = ActionIO({}, io.StringIO())
    ensure_safe_directory(env, aio)
    ensure_safe_directory(env, aio)
    out = subprocess.run(["git", "config", "--global", "--get-all", "safe.directory"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert out.stdout.splitlines() == [str(tmp_path / "ws")]


def test_intents_become_typed_options():
    from kagura_engineer.goal.command import GoalOptions
    from kagura_engineer.review.job import ReviewOptions
    from kagura_engineer.run.loop import RunOptions

    ctx = DispatchContext(base_branch="dev", max_usd=2.5, max_turns=30, draft=True)
    run = command_call(Intent("run", "r", issue=4), ctx)[1]
    assert isinstance(run, RunOptions)
    assert (run.issue, run.base, run.max_usd, run.max_turns, run.unattended, run.remember) == (
        4, "dev", 2.5, 30, True, True)  # fmt: skip
    assert command_call(Intent("review", "r", pr=7, fix=True), ctx)[1] == ReviewOptions(target="7", fix=True)
    assert command_call(Intent("review", "r"), ctx)[1] == ReviewOptions(target="HEAD")
    # the draft input reaches goal too: every issue it drives opens its PR as a draft
    assert command_call(Intent("goal", "r", milestone="v1"), ctx)[1] == GoalOptions(
        "v1", unattended=True, draft=True
    )
    assert command_call(Intent("goal", "r", milestone="v1", plan=True), ctx)[1] == GoalOptions(
        "v1", plan=True, draft=True
    )


def test_real_dispatch_of_doctor_collects_its_outcome(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    outcome = dispatch(Intent("doctor", "test"), DispatchContext())
    checks = json.loads(outcome.log)["checks"]
    assert outcome.ending is not None and [c["name"] for c in checks]
    failed = [c["name"] for c in checks if c["status"] == "FAIL"]
    assert outcome.exit_code == (1 if failed else 0)
    assert outcome.status == ("failed" if failed else "shipped")
    assert outcome.ending.reason == (f"failed checks: {', '.join(failed)}" if failed else "")


def test_a_pr_comment_reviews_that_pr(action_env, standin):
    standin.add_branch("feature")
    pr = standin.add_pull("feature", title="A feature")
    payload = comment_payload("/kagura fix", number=pr["number"], on_pr=True)
    recorder = Recorder(Outcome(0, Ending(Status.REVIEWED, verdict="green")))
    code, _ = action_env.event("issue_comment", payload).run(recorder)
    assert code == 0 and recorder.calls[0][0].label() == f"review #{pr['number']} --fix"
    (comment,) = progress_comments(standin, pr["number"])
    assert comment["body"].startswith(f"<!-- kagura:review/acme/widgets/pr-{pr['number']} -->")
    assert "reviewed" in comment["body"] and "green" in comment["body"]


def test_a_local_run_needs_no_repository_or_event(tmp_path, monkeypatch):
    """`kagura-engineer action -c repo.yaml --json` outside Actions: no GitHub call is needed."""
    import json

    from kagura_engineer.action.command import run_action

    monkeypatch.chdir(tmp_path)
    (tmp_path / "my.yaml").write_text("profile: local\nmemory_backend: local\nmodel: claude-y\n")
    out = io.StringIO()
    recorder = Recorder(Outcome(0, Ending(Status.SHIPPED)))
    code = run_action(environ={"INPUT_COMMAND": "doctor"}, dispatcher=recorder, out=out,
                      config="my.yaml", json_out=True)  # fmt: skip
    assert code == 0 and recorder.calls[0][0].label() == "doctor"
    config = recorder.calls[0][1].config
    assert config.model == "claude-y" and config.source.endswith("my.yaml")
    last = json.loads(out.getvalue().splitlines()[-1])
    assert last["status"] == "shipped" and last["intent"] == "doctor" and last["exit_code"] == 0
