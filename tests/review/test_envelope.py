"""Reading the reviewer's answer: a verdict only from a complete, consistent envelope; every
other answer (missing, malformed, wrong version, incomplete) is "could not review"."""

from __future__ import annotations

import json

import pytest

from kagura_engineer.review.envelope import EnvelopeError, parse_envelope
from kagura_engineer.review.reviewer import CodeReviewer


def envelope(findings=(), verdict=None, **summary):
    findings = list(findings)
    blocking = sum(f["severity"] in ("HIGH", "CRITICAL") for f in findings)
    by = {}
    for f in findings:
        by[f["severity"]] = by.get(f["severity"], 0) + 1
    derived = "red" if blocking else "yellow" if findings else "green"
    return {
        "schema_version": 1, "verdict": verdict or derived,
        "summary": {"total": len(findings), "blocking": blocking, "by_severity": by, "incomplete": False, **summary},
        "findings": findings,
    }  # fmt: skip


def f(severity="HIGH", line=3, title="Off by one", dimension="correctness", file="a.py"):
    return {"dimension": dimension, "severity": severity, "file": file, "line": line, "title": title,
            "rationale": "why", "suggestion": "how", "angles": ["x"], "votes": {}, "merge_count": 1,
            "confidence": None}  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "verdict", "blocking"),
    [
        (envelope(), "green", 0),
        (envelope([f("LOW"), f("MEDIUM", None)]), "yellow", 0),
        (envelope([f("HIGH"), f("INFO")]), "red", 1),
        (envelope([f("CRITICAL", title="SQL injection")]), "red", 1),
        (json.dumps(envelope([f("MEDIUM")])), "yellow", 0),  # as the file holds it
    ],
)
def test_valid_envelopes_give_their_verdict(raw, verdict, blocking):
    parsed = parse_envelope(raw)
    assert parsed.verdict == verdict and len(parsed.blocking) == blocking


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (None, "no report"),
        ("", "not JSON"),
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ({**envelope(), "schema_version": 2}, "schema_version"),
        ({**envelope(), "schema_version": "1"}, "schema_version"),
        ({k: v for k, v in envelope().items() if k != "schema_version"}, "schema_version"),
        ({k: v for k, v in envelope().items() if k != "findings"}, "findings"),
        ({**envelope(), "verdict": "amber"}, "verdict"),
        (envelope([f("URGENT")]), "severity"),
        (envelope([f(line="12")]), "line"),
        (envelope([f(line=True)]), "line"),
        (envelope([{**f(), "title": ""}]), "title"),
        (envelope([f("HIGH")], verdict="green"), "inconsistent"),
        (envelope([f("LOW")], verdict="red"), "inconsistent"),
        ({**envelope([f("LOW")]), "summary": {"total": 3, "blocking": 0, "by_severity": {}, "incomplete": False}},
         "summary"),
        (envelope([f("HIGH", None, "Review incomplete", "meta", "")], incomplete=True), "incomplete"),
        (envelope([f("HIGH", None, "Review incomplete", "meta", "")]), "incomplete"),
    ],
)
def test_unusable_envelopes_are_never_a_verdict(raw, why):
    with pytest.raises(EnvelopeError, match=why):
        parse_envelope(raw)


def test_signature_compares_blocking_findings_by_file_and_title():
    a = parse_envelope(envelope([f("HIGH", 3, "Off by one"), f("LOW", 9, "Naming")]))
    b = parse_envelope(envelope([f("CRITICAL", 40, "off  by ONE"), f("MEDIUM", 1, "Other")]))
    c = parse_envelope(envelope([f("HIGH", 3, "Off by one", file="b.py")]))
    assert a.signature() == b.signature() == [["a.py", "off by one"]]
    assert c.signature() != a.signature()


RED = json.dumps(envelope([f("HIGH")]))
GREEN = json.dumps(envelope())
INCOMPLETE = json.dumps(envelope([f("HIGH", None, "Review incomplete", "meta", "")], incomplete=True))


@pytest.mark.parametrize(
    ("code", "stdout", "raw", "verdict", "why"),
    [
        (0, "", GREEN, "green", None),
        (1, "", RED, "red", None),
        (0, "No changes to review.\n", None, "green", None),  # empty diff: no file, green
        (0, "", None, None, "no report"),
        (1, "", None, None, "no report"),  # a crash (traceback, exit 1) is not a red verdict
        (0, "", RED, None, "disagrees"),
        (1, "", GREEN, None, "disagrees"),
        (1, "", INCOMPLETE, None, "incomplete"),
        (1, "", "{truncated", None, "not JSON"),
        (2, "", None, None, "exit 2"),
        (3, "", None, None, "unreachable"),
        (127, "", None, None, "not installed"),
        (-9, "", None, None, "exited -9"),
    ],
)
def test_reviewer_exit_status_and_report_together_decide(code, stdout, raw, verdict, why):
    result = CodeReviewer("kagura-code-reviewer").interpret(code, stdout, "some stderr line", raw)
    assert result.verdict == verdict
    if why:
        assert why in result.error and result.envelope is None
    else:
        assert result.error is None
