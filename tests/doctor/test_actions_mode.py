"""Action mode (GITHUB_ACTIONS=true): the GitHub checks and the workflow pitfalls, against the
GitHub REST stand-in."""

from __future__ import annotations

import json

import pytest

from doctor.standins import OllamaStandIn
from kagura_engineer.demo.github import GitHubStandIn

ACTION_CHECKS = ["github", "trigger-label", "branch-protection", "push-triggers", "dependabot", "actions-cache"]


@pytest.fixture
def gh(fb, monkeypatch):
    with GitHubStandIn() as standin:
        for key, value in standin.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("GITHUB_ACTIONS", "true")
        yield standin


def _repo_body(gh: GitHubStandIn, **fields) -> dict:
    return {"full_name": f"{gh.owner}/{gh.repo}", "name": gh.repo, "default_branch": "main", **fields}


def test_action_checks_only_in_actions(fb, doctor):
    _, checks, _ = doctor()
    assert not set(ACTION_CHECKS) & set(checks)


def test_a_healthy_repository(gh, doctor, config):
    gh.add_label("kagura")
    _, checks, doc = doctor("-c", config(checks=["pytest -q"]))
    assert list(checks)[-len(ACTION_CHECKS):] == ACTION_CHECKS
    assert checks["github"]["status"] == "OK" and "acme/widgets reachable; token can write" in checks["github"]["detail"]
    assert checks["trigger-label"]["status"] == "OK"
    assert checks["branch-protection"] == {
        "name": "branch-protection", "status": "OK", "detail": "base branch 'main' is not protected", "hint": None,
    }  # fmt: skip
    assert checks["push-triggers"]["status"] == "OK"
    assert checks["dependabot"]["status"] == "SKIPPED"
    assert gh.token not in json.dumps(doc)


def test_permissions_missing_from_the_answer_warns_with_the_yaml(gh, doctor, config):
    gh.inject(200, body=_repo_body(gh), method="GET", path=r"^/repos/acme/widgets$", times=10)
    _, checks, _ = doctor("-c", config(base_branch="main"))
    assert checks["github"]["status"] == "WARN"
    assert "permissions: {contents: write, issues: write, pull-requests: write}" in checks["github"]["hint"]


def test_a_read_only_token_fails(gh, doctor, config):
    perms = {"admin": False, "maintain": False, "push": False, "triage": False, "pull": True}
    gh.inject(200, body=_repo_body(gh, permissions=perms), method="GET", path=r"^/repos/acme/widgets$", times=10)
    rc, checks, _ = doctor("-c", config(base_branch="main"))
    assert rc == 1 and checks["github"]["status"] == "FAIL"
    assert "cannot push (it has: pull)" in checks["github"]["detail"]


def test_no_token(fb, doctor, monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/widgets")
    rc, checks, _ = doctor()
    assert rc == 1 and checks["github"]["status"] == "FAIL" and "no GitHub token" in checks["github"]["detail"]
    assert checks["trigger-label"]["status"] == "SKIPPED" and checks["branch-protection"]["status"] == "SKIPPED"
    assert checks["push-triggers"]["status"] == "SKIPPED"


def test_unknown_repository(gh, doctor, monkeypatch):
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/nope")
    _, checks, _ = doctor()
    assert checks["github"]["status"] == "FAIL" and "acme/nope not found" in checks["github"]["detail"]


def test_missing_trigger_label_warns_with_the_create_command(gh, doctor, monkeypatch):
    monkeypatch.setenv("INPUT_LABEL", "ai-fix")
    gh.add_label("kagura")
    _, checks, _ = doctor()
    assert checks["trigger-label"]["status"] == "WARN" and "'ai-fix' does not exist" in checks["trigger-label"]["detail"]
    assert checks["trigger-label"]["hint"].startswith("gh label create ai-fix --repo acme/widgets")


def test_required_checks_on_the_base_with_the_workflow_token_warn(gh, doctor, config):
    gh.set_branch_protection("main", {"required_status_checks": {"strict": True, "contexts": ["ci / tests"]}})
    _, checks, _ = doctor("-c", config(checks=["pytest -q"]))
    assert checks["branch-protection"]["status"] == "WARN"
    assert "ci / tests" in checks["branch-protection"]["detail"] and "github_token" in checks["branch-protection"]["hint"]


def test_required_checks_with_a_personal_token_are_fine(gh, doctor, monkeypatch):
    pat = "github_pat_" + "p" * 40
    gh.add_token(pat, "octocat")
    monkeypatch.setenv("GITHUB_TOKEN", pat)
    gh.set_branch_protection("main", {"required_status_checks": {"strict": True, "contexts": ["ci / tests"]}})
    _, checks, doc = doctor()
    assert checks["branch-protection"]["status"] == "OK" and "required checks: ci / tests" in checks["branch-protection"]["detail"]
    assert checks["push-triggers"]["status"] == "OK"
    assert pat not in json.dumps(doc)


def test_protection_unreadable_is_skipped(gh, doctor):
    gh.inject(403, body={"message": "Resource not accessible by integration"}, path="/protection$", times=10)
    _, checks, _ = doctor()
    assert checks["branch-protection"]["status"] == "SKIPPED" and "administration: read" in checks["branch-protection"]["detail"]


def test_workflow_token_without_checks_warns_that_ci_will_not_run(gh, doctor):
    _, checks, _ = doctor()
    assert checks["push-triggers"]["status"] == "WARN"
    hint = checks["push-triggers"]["hint"]
    assert "checks:" in hint
    assert "examples/workflows/github-app-token.yml" in hint
    assert "docs/github.md#pull-requests-that-run-your-ci" in hint


@pytest.mark.parametrize(("bot", "status"), [("kagura-app[bot]", "OK"), ("github-actions[bot]", "WARN")])
def test_an_app_token_named_by_bot_login_triggers_ci(gh, doctor, monkeypatch, bot, status):
    # An App's installation token is a `ghs_` token too; bot_login tells it from the workflow's.
    monkeypatch.setenv("INPUT_BOT_LOGIN", bot)
    _, checks, _ = doctor()
    assert checks["push-triggers"]["status"] == status
    if status == "OK":
        assert "kagura-app[bot]" in checks["push-triggers"]["detail"]


def test_bot_login_in_repo_yaml_counts_too(gh, doctor, config):
    _, checks, _ = doctor("-c", config(bot_login="kagura-app[bot]"))
    assert checks["push-triggers"]["status"] == "OK"


def test_dependabot_runs_without_secrets_warn(gh, doctor, monkeypatch):
    monkeypatch.setenv("GITHUB_ACTOR", "dependabot[bot]")
    _, checks, _ = doctor()
    assert checks["dependabot"]["status"] == "WARN" and "an Anthropic credential" in checks["dependabot"]["detail"]
    assert "Dependabot" in checks["dependabot"]["hint"]
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-" + "d" * 20)
    _, checks, _ = doctor()
    assert checks["dependabot"]["status"] == "OK"


def test_actions_cache_missing_unreachable_and_reachable(gh, doctor, monkeypatch):
    _, checks, _ = doctor()
    assert checks["actions-cache"]["status"] == "WARN" and "ACTIONS_RESULTS_URL" in checks["actions-cache"]["detail"]
    runtime_token = "runtime-token-" + "r" * 20
    monkeypatch.setenv("ACTIONS_RUNTIME_TOKEN", runtime_token)
    with OllamaStandIn() as results:  # any HTTP server answers a reachability probe
        monkeypatch.setenv("ACTIONS_RESULTS_URL", results.url + "/")
        _, checks, _ = doctor()
        assert checks["actions-cache"]["status"] == "OK"
        assert runtime_token not in results.log_text()  # a probe never carries the token
    _, checks, _ = doctor()
    assert checks["actions-cache"]["status"] == "WARN" and "unreachable" in checks["actions-cache"]["detail"]


def test_cloud_backend_skips_the_cache(gh, doctor, config, monkeypatch):
    monkeypatch.setenv("KAGURA_API_KEY", "kagura_" + "k" * 40)
    ids = {"workspace_id": "w", "context_id": "c"}
    _, checks, _ = doctor("-c", config(memory_backend="cloud", memory_cloud_url="http://127.0.0.1:9", **ids))
    assert checks["actions-cache"]["status"] == "SKIPPED"
