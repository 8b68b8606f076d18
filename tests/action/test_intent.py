"""Event → intent, table-tested with the recorded webhook payloads (pure: no I/O)."""

from __future__ import annotations

import copy

import pytest

from kagura_engineer.action.event import event_from_payload
from kagura_engineer.action.inputs import Inputs
from kagura_engineer.action.intent import decide, find_trigger
from kagura_engineer.config import parse_config
from kagura_engineer.errors import ConfigError

from .conftest import all_payloads, comment_payload, issue_payload, load, user

CONFIG = parse_config({"profile": "t", "memory_backend": "local"})
DEFAULTS = Inputs()

#: Every recorded payload with the default inputs: the intent, or "skip: <words of the reason>".
EXPECTED = {
    "issue_comment/created.1.json": "skip: does not mention",
    "issue_comment/created.json": "skip: does not mention",
    "issue_comment/created.with-installation.json": "skip: does not mention",
    "issue_comment/created.with-organization.json": "skip: does not mention",
    "issue_comment/deleted.json": "skip: deleted never trigger",
    "issue_comment/deleted.with-organization.json": "skip: deleted never trigger",
    "issue_comment/edited.json": "skip: edited never trigger",
    "issue_comment/edited.with-organization.json": "skip: edited never trigger",
    "issues/assigned.json": "skip: issues/assigned is not a trigger",
    "issues/assigned.with-installation.json": "skip: issues/assigned is not a trigger",
    "issues/assigned.with-organization.json": "skip: issues/assigned is not a trigger",
    "issues/deleted.json": "skip: issues/deleted is not a trigger",
    "issues/demilestoned.json": "skip: issues/demilestoned is not a trigger",
    "issues/demilestoned.with-organization.json": "skip: issues/demilestoned is not a trigger",
    "issues/edited.json": "skip: issues/edited is not a trigger",
    "issues/edited.with-organization.json": "skip: issues/edited is not a trigger",
    "issues/labeled.json": "skip: issues/labeled is not a trigger",  # labeled 'bug', not 'kagura'
    "issues/labeled.with-organization.json": "skip: issues/labeled is not a trigger",
    "issues/locked.json": "skip: issues/locked is not a trigger",
    "issues/locked.with-organization.json": "skip: issues/locked is not a trigger",
    "issues/milestoned.json": "skip: issues/milestoned is not a trigger",
    "issues/milestoned.with-organization.json": "skip: issues/milestoned is not a trigger",
    "issues/opened.json": "skip: issues/opened is not a trigger",
    "issues/opened.with-empty-body.json": "skip: issues/opened is not a trigger",
    "issues/opened.with-organization.json": "skip: issues/opened is not a trigger",
    "issues/opened.with-transfer.json": "skip: issues/opened is not a trigger",
    "issues/pinned.json": "skip: issues/pinned is not a trigger",
    "issues/reopened.json": "skip: issues/reopened is not a trigger",
    "issues/transferred.json": "skip: issues/transferred is not a trigger",
    "issues/unassigned.json": "skip: issues/unassigned is not a trigger",
    "issues/unassigned.with-organization.json": "skip: issues/unassigned is not a trigger",
    "issues/unlabeled.json": "skip: issues/unlabeled is not a trigger",
    "issues/unlabeled.with-organization.json": "skip: issues/unlabeled is not a trigger",
    "issues/unlocked.json": "skip: issues/unlocked is not a trigger",
    "issues/unlocked.with-organization.json": "skip: issues/unlocked is not a trigger",
    "issues/unpinned.json": "skip: issues/unpinned is not a trigger",
    "milestone/closed.json": "skip: milestone event is not a trigger",
    "milestone/closed.with-installation.json": "skip: milestone event is not a trigger",
    "milestone/created.json": "skip: milestone event is not a trigger",
    "milestone/deleted.json": "skip: milestone event is not a trigger",
    "pull_request/assigned.json": "skip: pull_request/assigned is not a trigger",
    "pull_request/assigned.with-organization.json": "skip: pull_request/assigned is not a trigger",
    "pull_request/closed.json": "skip: pull_request/closed is not a trigger",
    "pull_request/closed.with-organization.json": "skip: pull_request/closed is not a trigger",
    "pull_request/converted_to_draft.json": "skip: pull_request/converted_to_draft is not a trigger",
    "pull_request/converted_to_draft.with-installation.json": "skip: converted_to_draft is not a trigger",
    "pull_request/converted_to_draft.with-organization.json": "skip: converted_to_draft is not a trigger",
    "pull_request/labeled.json": "skip: pull_request/labeled is not a trigger",
    "pull_request/labeled.with-organization.json": "skip: pull_request/labeled is not a trigger",
    "pull_request/locked.json": "skip: pull_request/locked is not a trigger",
    "pull_request/locked.with-organization.json": "skip: pull_request/locked is not a trigger",
    "pull_request/opened.json": "review #2",
    "pull_request/opened.with-null-body.json": "review #2",
    "pull_request/opened.with-organization.json": "review #2",
    "pull_request/ready_for_review.json": "review #2",
    "pull_request/ready_for_review.with-installation.json": "review #2",
    "pull_request/ready_for_review.with-organization.json": "review #2",
    "pull_request/reopened.json": "skip: pull_request/reopened is not a trigger",
    "pull_request/reopened.with-organization.json": "skip: pull_request/reopened is not a trigger",
    "pull_request/review_request_removed.json": "skip: review_request_removed is not a trigger",
    "pull_request/review_requested.json": "skip: pull_request/review_requested is not a trigger",
    "pull_request/synchronize.json": "review #2",
    "pull_request/unassigned.json": "skip: pull_request/unassigned is not a trigger",
    "pull_request/unassigned.with-organization.json": "skip: pull_request/unassigned is not a trigger",
    "pull_request/unlabeled.json": "skip: pull_request/unlabeled is not a trigger",
    "pull_request/unlabeled.with-organization.json": "skip: pull_request/unlabeled is not a trigger",
    "pull_request/unlocked.json": "skip: pull_request/unlocked is not a trigger",
    "pull_request/unlocked.with-organization.json": "skip: pull_request/unlocked is not a trigger",
    "pull_request_review/dismissed.json": "skip: dismissed never trigger",
    "pull_request_review/submitted.json": "skip: does not mention",  # body is null
    "pull_request_review/submitted.with-organization.json": "skip: does not mention",
    "pull_request_review_comment/created.json": "skip: does not mention",
    "pull_request_review_comment/created.with-organization.json": "skip: does not mention",
    "pull_request_review_comment/deleted.json": "skip: deleted never trigger",
    "pull_request_review_comment/edited.json": "skip: edited never trigger",
    "workflow_dispatch/payload.json": "skip: without an issue, pr or milestone",
}


def _decide(name: str, payload: dict, inputs: Inputs = DEFAULTS, config=CONFIG):
    return decide(event_from_payload(name, payload), inputs, config)


def test_the_table_covers_every_recorded_payload():
    assert sorted(EXPECTED) == all_payloads()


@pytest.mark.parametrize("rel", all_payloads())
def test_every_payload_maps_to_an_intent_or_an_explained_skip(rel):
    intent = _decide(rel.split("/")[0], load(rel))
    expected = EXPECTED[rel]
    if expected.startswith("skip: "):
        assert intent.command == "skip", intent
        assert expected.removeprefix("skip: ") in intent.reason
    else:
        assert intent.label() == expected
        assert intent.actor == "Codertocat" and intent.reason
    assert intent.reply_on is None or intent.actor  # a reply always has someone to address


# -- the same payloads, with the inputs or payload changes that make them triggers ---------------
LABELED = {"label": {"name": "kagura"}}


@pytest.mark.parametrize(
    ("event", "payload", "inputs", "expected"),
    [
        ("issues", issue_payload("issues/labeled.json", **LABELED), DEFAULTS, "run #42"),
        ("issues", issue_payload("issues/labeled.json", label={"name": "KAGURA"}), DEFAULTS, "run #42"),
        ("issues", issue_payload("issues/labeled.json"), Inputs(label="bug"), "run #42"),
        ("issues", issue_payload("issues/labeled.with-organization.json", **LABELED), DEFAULTS, "run #42"),
        ("issues", issue_payload("issues/assigned.json", assignee=user("kagura-bot[bot]", "Bot")),
         Inputs(bot_login="kagura-bot[bot]"), "run #42"),
        ("issues", issue_payload("issues/milestoned.json", action="labeled", **LABELED), DEFAULTS, "review #42"),
        ("issue_comment", comment_payload("@kagura-engineer please take this"), DEFAULTS, "run #42"),
        ("issue_comment", comment_payload("Thanks!\n/kagura run"), DEFAULTS, "run #42"),
        ("issue_comment", comment_payload("/kagura resume"), DEFAULTS, "run #42 (resume)"),
        ("issue_comment", comment_payload("/Kagura RUN now"), DEFAULTS, "run #42"),
        ("issue_comment", comment_payload("hey @bot-x do it"), Inputs(trigger_phrase="@bot-x"), "run #42"),
        ("issue_comment", comment_payload("@kagura-engineer look", on_pr=True), DEFAULTS, "review #42"),
        ("issue_comment", comment_payload("@kagura-engineer look", on_pr=True), Inputs(fix=True), "review #42 --fix"),
        ("issue_comment", comment_payload("/kagura review", on_pr=True), DEFAULTS, "review #42"),
        ("issue_comment", comment_payload("/kagura fix", on_pr=True), DEFAULTS, "review #42 --fix"),
        ("issue_comment", comment_payload("/kagura resume", on_pr=True), DEFAULTS, "review #42 --fix"),
        ("pull_request", issue_payload("pull_request/labeled.json", **LABELED), DEFAULTS, "review #42"),
        ("pull_request", issue_payload("pull_request/synchronize.json"), Inputs(fix=True), "review #42 --fix"),
        ("pull_request_review", None, DEFAULTS, "review #42 --fix"),
        ("pull_request_review_comment", None, DEFAULTS, "review #42 --fix"),
        ("workflow_dispatch", issue_payload("workflow_dispatch/payload.json", inputs={"issue": "7"}), DEFAULTS, "run #7"),
        ("workflow_dispatch", issue_payload("workflow_dispatch/payload.json", inputs={"pr": "#8"}), DEFAULTS, "review #8"),
        ("workflow_dispatch", issue_payload("workflow_dispatch/payload.json", inputs={"milestone": "v0.3"}),
         DEFAULTS, "goal 'v0.3'"),
        ("workflow_dispatch", issue_payload("workflow_dispatch/payload.json"), Inputs(issue=9), "run #9"),
        ("workflow_dispatch", issue_payload("workflow_dispatch/payload.json", inputs={"issue": ""}),
         Inputs(milestone="v1"), "goal 'v1'"),
        ("schedule", {"schedule": "17 3 * * *"}, Inputs(milestone="v0.4"), "goal 'v0.4'"),
        ("schedule", {"schedule": "17 3 * * *"}, DEFAULTS, "goal (nearest-due milestone)"),
    ],
)  # fmt: skip
def test_triggers(event, payload, inputs, expected):
    if payload is None:  # reviews: put the mention into the recorded review / review comment
        if event == "pull_request_review":
            payload = issue_payload("pull_request_review/submitted.json")
            payload["review"]["body"] = "@kagura-engineer please fix the nits"
        else:
            payload = issue_payload("pull_request_review_comment/created.json")
            payload["comment"]["body"] = "/kagura fix this line"
    intent = _decide(event, payload, inputs)
    assert intent.label() == expected, intent.reason


def test_schedule_uses_the_nightly_milestone_from_config():
    config = parse_config(
        {"profile": "t", "memory_backend": "local", "goal": {"nightly_milestone": "nightly"}}
    )
    intent = _decide("schedule", {"schedule": "0 4 * * *"}, DEFAULTS, config)
    assert (intent.command, intent.milestone, intent.nearest_due) == ("goal", "nightly", False)
    assert intent.actor is None  # nobody to check: the workflow's author scheduled it


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("issues", issue_payload("issues/opened.json")),
        ("issues", issue_payload("pull_request/opened.json", action="opened")),
        ("issue_comment", comment_payload("just a comment")),
        ("pull_request", issue_payload("pull_request/reopened.json")),
    ],
)
def test_explicit_command_overrides_detection(event, payload):
    assert _decide(event, payload, Inputs(command="doctor")).label() == "doctor"
    intent = _decide(event, payload, Inputs(command="run", issue=5))
    assert (intent.label(), intent.explicit) == ("run #5", True)
    assert _decide(event, payload, Inputs(command="goal", milestone="v2")).label() == "goal 'v2'"
    assert (
        _decide(event, payload, Inputs(command="goal", milestone="v2", plan=True)).label()
        == "goal 'v2' --plan"
    )
    assert _decide(event, payload, Inputs(command="review", pr=3, fix=True)).label() == "review #3 --fix"


def test_explicit_command_takes_the_target_from_the_event():
    assert _decide("issues", issue_payload("issues/opened.json"), Inputs(command="run")).label() == "run #42"
    pr = issue_payload("pull_request/opened.json")
    assert _decide("pull_request", pr, Inputs(command="review")).label() == "review #42"


def test_explicit_run_without_an_issue_is_a_config_error():
    with pytest.raises(ConfigError, match="needs an issue"):
        _decide("pull_request", issue_payload("pull_request/opened.json"), Inputs(command="run"))


def test_dispatch_with_two_targets_is_a_config_error():
    payload = issue_payload("workflow_dispatch/payload.json", inputs={"issue": "1", "milestone": "v1"})
    with pytest.raises(ConfigError, match="only one"):
        _decide("workflow_dispatch", payload)


def test_drafts_are_reviewed_only_once_ready():
    draft = issue_payload("pull_request/opened.json")
    draft["pull_request"]["draft"] = True
    intent = _decide("pull_request", draft)
    assert intent.command == "skip" and "draft" in intent.reason
    sync = issue_payload("pull_request/synchronize.json")
    sync["pull_request"]["draft"] = True
    assert _decide("pull_request", sync).command == "skip"
    ready = issue_payload("pull_request/ready_for_review.json")
    assert _decide("pull_request", ready).label() == "review #42"


def test_review_commands_on_an_issue_are_explained_once():
    intent = _decide("issue_comment", comment_payload("/kagura review"))
    assert intent.command == "skip" and "pull requests" in intent.reason
    assert (intent.reply_on, intent.actor) == (42, "octocat")


# -- guards: they hold for every command, explicit ones included -----------------------------------
GUARDED = [
    ("edited comment", "issue_comment", comment_payload("/kagura run", action="edited"), "never trigger"),
    ("deleted comment", "issue_comment", comment_payload("/kagura run", action="deleted"), "never trigger"),
    ("our marker", "issue_comment", comment_payload("<!-- kagura:run/acme/widgets/issue-42 -->\n/kagura run"),
     "written by kagura-engineer"),
    ("our account", "issue_comment", comment_payload("/kagura run", sender="kagura-bot"), "written by kagura-engineer"),
    ("a bot", "issue_comment", comment_payload("/kagura run", sender="renovate[bot]"), "is a bot"),
    ("our account labels", "issues", issue_payload("issues/labeled.json", sender="kagura-bot", **LABELED),
     "own account"),
    ("a bot pushes", "pull_request", issue_payload("pull_request/synchronize.json", sender="dependabot[bot]"),
     "is a bot"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "event", "payload", "reason"), GUARDED, ids=[g[0] for g in GUARDED])
@pytest.mark.parametrize("command", ["auto", "run", "doctor"])
def test_guards_skip_without_a_reply(what, event, payload, reason, command):
    inputs = Inputs(command=command, issue=42, bot_login="kagura-bot")
    intent = _decide(event, payload, inputs)
    assert intent.command == "skip" and reason in intent.reason
    assert intent.reply_on is None


def test_a_bot_type_without_the_suffix_is_a_bot():
    payload = comment_payload("/kagura run")
    payload["comment"]["user"] = user("some-app", "Bot")
    assert "is a bot" in _decide("issue_comment", payload).reason


@pytest.mark.parametrize("allowed", [("renovate[bot]",), ("renovate",), ("*",)])
def test_allowed_bots_trigger_and_skip_the_permission_check(allowed):
    intent = _decide("issue_comment", comment_payload("/kagura run", sender="renovate[bot]"),
                     Inputs(allowed_bots=allowed))  # fmt: skip
    assert intent.label() == "run #42"
    assert intent.trusted_bot and intent.reply_on is None  # never reply to a bot


def test_allowed_bots_never_let_our_own_comments_through():
    payload = comment_payload(
        "<!-- kagura:reply/acme/widgets/issue-42/x -->\n@kagura-engineer", sender="github-actions[bot]"
    )
    assert _decide("issue_comment", payload, Inputs(allowed_bots=("*",))).command == "skip"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("@kagura-engineer go", "mention"),
        ("ping @KAGURA-ENGINEER.", "mention"),
        ("/kagura fix", "fix"),
        ("  /kagura review please", "review"),
        ("mail me at x@kagura-engineer.dev", None),
        ("@kagura-engineer-bot is someone else", None),
        ("<!-- @kagura-engineer /kagura run -->", None),  # hidden on github.com
        ("`@kagura-engineer` in code", None),
        ("```\n/kagura run\n```", None),
        ("> @kagura-engineer quoted from someone else", None),
        ("say /kagura run mid-line", None),
        ("@\u200bkagura-engineer", "mention"),  # invisible characters are removed first
        ("", None),
    ],
)
def test_find_trigger(body, expected):
    assert find_trigger(body, "@kagura-engineer") == expected


def test_decide_is_pure():
    payload = comment_payload("/kagura run")
    before = copy.deepcopy(payload)
    event = event_from_payload("issue_comment", payload)
    assert decide(event, DEFAULTS, CONFIG) == decide(event, DEFAULTS, CONFIG)
    assert payload == before
