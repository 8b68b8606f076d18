"""Helpers for the Action tests: recorded payloads, a GitHub stand-in, runner file formats."""

from __future__ import annotations

import copy
import io
import json
import os
from pathlib import Path

import pytest

from filecommands import parse_file_commands
from kagura_engineer.action.dispatch import Outcome
from kagura_engineer.demo.github import GitHubStandIn
from kagura_engineer.status import Ending, Status

PAYLOADS = Path(__file__).parent / "payloads"
OWNER, REPO = "acme", "widgets"
TOKEN = "ghs_actionTestToken0123456789abcdefABCDEF"
ANTHROPIC_KEY = "sk-ant-api03-actionTestKey-0123456789abcdef"
KAGURA_KEY = "kagura_actionTestKey_0123456789abcdef"
SECRETS = (TOKEN, ANTHROPIC_KEY, KAGURA_KEY)


def all_payloads() -> list[str]:
    """Every recorded payload, as `event/file.json`."""
    return sorted(str(p.relative_to(PAYLOADS)) for p in PAYLOADS.rglob("*.json"))


def load(rel: str) -> dict:
    return json.loads((PAYLOADS / rel).read_text(encoding="utf-8"))


def user(login: str, type_: str = "User") -> dict:
    return {"login": login, "id": abs(hash(login)) % 10**8, "type": type_}


def issue_payload(rel: str, number: int = 42, sender: str = "octocat", **changes: object) -> dict:
    """A recorded payload moved onto acme/widgets issue/PR `number`, acted on by `sender`."""
    data = copy.deepcopy(load(rel))
    data["repository"]["full_name"] = f"{OWNER}/{REPO}"
    data["repository"]["name"] = REPO
    data["sender"] = user(sender, "Bot" if sender.endswith("[bot]") else "User")
    for key in ("issue", "pull_request"):
        if key in data:
            data[key]["number"] = number
    if "number" in data:
        data["number"] = number
    if "comment" in data:
        data["comment"]["user"] = dict(data["sender"])
    if "review" in data:
        data["review"]["user"] = dict(data["sender"])
    for key, value in changes.items():
        data[key] = value
    return data


def comment_payload(body: str, sender: str = "octocat", action: str = "created", number: int = 42,
                    on_pr: bool = False) -> dict:  # fmt: skip
    data = issue_payload(f"issue_comment/{action}.json", number, sender)
    data["comment"]["body"] = body
    if on_pr:
        data["issue"]["pull_request"] = {"url": f"https://api.github.com/repos/{OWNER}/{REPO}/pulls/{number}"}
    return data


class Recorder:
    """A stand-in for the dispatch seam: records intents, answers a fixed outcome."""

    def __init__(self, outcome: Outcome | None = None) -> None:
        self.calls: list = []
        self.outcome = outcome or Outcome(
            0,
            Ending(
                Status.SHIPPED,
                pr_number=7,
                pr_url="https://github.com/acme/widgets/pull/7",
                verdict="green",
                cost_usd=0.42,
            ),
        )

    def __call__(self, intent, ctx):
        self.calls.append((intent, ctx))
        return self.outcome


@pytest.fixture
def standin():
    with GitHubStandIn(owner=OWNER, repo=REPO, token=TOKEN) as gh:
        gh.add_issue(42, "Fix the login redirect", "The redirect loops.", labels=["kagura"])
        gh.set_permission("octocat", "write")
        yield gh


class ActionEnv:
    """The environment of one Action step, pointed at the stand-in, with its files."""

    def __init__(self, tmp_path: Path, standin: GitHubStandIn) -> None:
        self.dir = tmp_path / "runner"
        self.dir.mkdir(exist_ok=True)
        self.output = self.dir / "output"
        self.summary = self.dir / "summary"
        self.state = self.dir / "state"
        for path in (self.output, self.summary, self.state):
            path.write_text("")
        self.event_path = self.dir / "event.json"
        self.env: dict[str, str] = {
            **{k: v for k, v in os.environ.items()},
            "GITHUB_ACTIONS": "true",
            "GITHUB_API_URL": standin.api_url,
            "GITHUB_SERVER_URL": standin.server_url,
            "GITHUB_REPOSITORY": f"{OWNER}/{REPO}",
            "GITHUB_RUN_ID": "1234",
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_OUTPUT": str(self.output),
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "GITHUB_STATE": str(self.state),
            "RUNNER_TEMP": str(self.dir),
            "INPUT_GITHUB_TOKEN": TOKEN,
            "INPUT_ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        }

    def event(self, name: str, payload: dict) -> ActionEnv:
        self.event_path.write_text(json.dumps(payload), encoding="utf-8")
        self.env["GITHUB_EVENT_NAME"] = name
        self.env["GITHUB_EVENT_PATH"] = str(self.event_path)
        return self

    def inputs(self, **values: str) -> ActionEnv:
        for name, value in values.items():
            self.env[f"INPUT_{name.upper()}"] = value
        return self

    def run(self, dispatcher=None) -> tuple[int, str]:
        from kagura_engineer.action.command import run_action

        out = io.StringIO()
        code = run_action(environ=self.env, dispatcher=dispatcher, out=out)
        return code, out.getvalue()

    def outputs(self) -> dict[str, str]:
        return parse_file_commands(self.output.read_text(encoding="utf-8"))

    def saved_state(self) -> dict[str, str]:
        return parse_file_commands(self.state.read_text(encoding="utf-8"))


@pytest.fixture
def action_env(tmp_path: Path, standin: GitHubStandIn) -> ActionEnv:
    return ActionEnv(tmp_path, standin)
