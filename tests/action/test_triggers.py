"""Where a mention or slash command counts: only in the prose a reader sees (github.markdown.prose).

Each rule has a case that must not trigger and, next to it, a near miss that must: so a rule
that drops too much fails as surely as one that drops too little.
"""

from __future__ import annotations

import pytest

from kagura_engineer.action.event import event_from_payload
from kagura_engineer.action.inputs import Inputs
from kagura_engineer.action.intent import decide, find_trigger
from kagura_engineer.config import parse_config
from kagura_engineer.github.markdown import HIDDEN, prose

from .conftest import comment_payload

PHRASE = "@kagura-engineer"

# (name, comment body, expected trigger)
CASES = [
    # fenced code
    ("backtick fence", "```\n/kagura run\n@kagura-engineer\n```", None),
    ("tilde fence with info", "~~~text\n/kagura run\n~~~", None),
    ("longer closing fence", "````\n```\n/kagura run\n````", None),
    ("unclosed fence hides the rest", "see:\n```\n\n/kagura run", None),
    ("after a closed fence", "```\ncode\n```\n/kagura run", "run"),
    # indented code
    ("four spaces", "intro\n\n    /kagura run", None),
    ("a tab", "intro\n\n\t@kagura-engineer go", None),
    ("indented code in a list item", "- step\n\n      /kagura run", None),
    ("three spaces are prose", "   /kagura run", "run"),
    ("indented list-item paragraph is prose", "- step\n\n    @kagura-engineer take this", "mention"),
    ("indented paragraph continuation is prose", "please\n    /kagura fix", "fix"),
    # code spans and HTML code elements
    ("code span", "run `@kagura-engineer` here", None),
    ("double-backtick span", "``@kagura-engineer ` x``", None),
    ("pre element across blank lines", "<pre>\n\n/kagura run\n\n</pre>", None),
    ("code element across lines", "look: <code>x\n/kagura run\n@kagura-engineer</code>", None),
    ("code element across paragraphs", "<code>\n\n@kagura-engineer\n\n</code>", None),
    ("unclosed code element hides the rest", "a <code>b\n\n@kagura-engineer", None),
    ("kbd element", "press <kbd>@kagura-engineer</kbd>", None),
    ("after a closed code element", "<code>x</code>\n\n/kagura run", "run"),
    ("a tag before the command keeps it off the line start", "<b>x</b>/kagura run", None),
    # block quotes
    ("quoted line", "> /kagura run", None),
    ("lazy continuation of a quote", "> as he said\n/kagura run", None),
    ("lazy mention", "> earlier:\n@kagura-engineer do it", None),
    ("nested quote, lazy", "> > deep\n@kagura-engineer", None),
    ("html blockquote", "<blockquote>\n\n@kagura-engineer\n\n</blockquote>", None),
    ("after the quote's paragraph ends", "> quoted\n\n/kagura run", "run"),
    ("a list item interrupts the quote", "> quoted\n- @kagura-engineer please", "mention"),
    # HTML comments and other hidden text
    ("html comment", "<!-- /kagura run -->", None),
    ("multi-line comment", "hi\n<!--\n/kagura run\n-->", None),
    ("inline comment", "hi <!-- @kagura-engineer --> there", None),
    ("unclosed comment hides the rest", "hi <!-- note\n\n/kagura run", None),
    ("after a closed comment", "<!-- note -->\n\n/kagura run", "run"),
    ("image alt text", "![@kagura-engineer](https://x.test/a.png)", None),
    ("img tag", '<img alt="@kagura-engineer" src="x">', None),
    ("zero-width split", "@kagura\u200b-engineer", "mention"),
    # the ordinary cases
    ("plain mention", "@kagura-engineer please fix", "mention"),
    ("command on a later line", "Thanks!\n/kagura resume", "resume"),
    ("emphasised command", "**/kagura review**", "review"),
    ("mid-line command", "say /kagura run", None),
]


@pytest.mark.parametrize(("name", "body", "expected"), CASES, ids=[c[0] for c in CASES])
def test_trigger_counts_only_in_prose(name, body, expected):
    assert find_trigger(body, PHRASE) == expected


def test_prose_keeps_paragraphs_and_marks_what_was_hidden():
    text = prose("first `x` line\nsecond\n\n> quoted\n\n```\ncode\n```\n\nlast")
    assert text == f"first {HIDDEN} line\nsecond\n\nlast"
    assert prose(None) == "" and prose("") == ""


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("> @kagura-engineer said\n/kagura run", "skip"),
        ("<pre>\n/kagura run\n</pre>", "skip"),
        ("    /kagura run", "skip"),
        ("<details><summary>x</summary>\n\n/kagura run\n\n</details>", "run #42"),
    ],
)
def test_recorded_comment_payloads(body, expected):
    """The same rules on a real issue_comment payload, through `decide`."""
    config = parse_config({"profile": "t", "memory_backend": "local"})
    intent = decide(event_from_payload("issue_comment", comment_payload(body)), Inputs(), config)
    assert intent.label() == expected
