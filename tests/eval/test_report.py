"""The report: numbers per issue and arm, totals, the difference and the sign-test note."""

from __future__ import annotations

import pytest

from kagura_engineer.eval.report import Report, RunRecord, render_markdown, sign_test


def rec(issue: int, arm: str, repeat: int, verdict: str | None, **kw) -> RunRecord:
    base = {"status": "evaluated" if verdict in ("green", "yellow") else "blocked", "attempts": 1, "turns": 4,
            "cost_usd": 0.2, "wall_s": 10.0, "checks_passed": 1 if verdict == "green" else 0, "checks_total": 1}  # fmt: skip
    base.update(kw)
    return RunRecord(issue=issue, arm=arm, repeat=repeat, verdict=verdict, **base)


def test_sign_test_values():
    assert sign_test(1, 0) == 1.0
    assert sign_test(0, 0) == 1.0
    assert sign_test(6, 0) == pytest.approx(2 / 64)
    assert sign_test(0, 6) == pytest.approx(2 / 64)
    assert sign_test(5, 1) == pytest.approx(2 * 7 / 64)
    assert sign_test(3, 3) == 1.0


def test_one_pair_is_one_of_one_and_not_significant():
    report = Report([7], 1, [rec(7, "on", 1, "green"), rec(7, "off", 1, "red")])
    note = report.note()
    assert "1 of 1 — not significant" in note and "p = 1.00" in note
    assert "6 differing pairs" in note


def test_six_clean_wins_are_significant():
    records = [
        rec(n, arm, 1, "green" if arm == "on" else "red") for n in range(1, 7) for arm in ("on", "off")
    ]
    note = Report(list(range(1, 7)), 1, records).note()
    assert "6 of 6 — significant" in note and "p = 0.03" in note


def test_ties_and_losses_count_as_the_sign_test_says():
    records = [
        rec(1, "on", 1, "green"), rec(1, "off", 1, "green"),  # tie
        rec(1, "on", 2, "red"), rec(1, "off", 2, "green"),  # off better
        rec(2, "on", 1, "green"), rec(2, "off", 1, "yellow"),  # on better (yellow is not green)
        rec(2, "on", 2, "green"),  # no off run: not a pair
    ]  # fmt: skip
    pairs = Report([1, 2], 2, records).pairs()
    assert (pairs.total, pairs.wins, pairs.losses, pairs.ties) == (3, 1, 1, 1)
    assert "1 of 2" in Report([1, 2], 2, records).note()


def test_no_difference_and_no_pairs_say_so():
    same = Report([7], 1, [rec(7, "on", 1, "red"), rec(7, "off", 1, "red")])
    assert "none differ" in same.note()
    assert "nothing to compare" in Report([7], 1, [rec(7, "on", 1, "green")]).note()


def test_json_has_the_issue_shape_with_means_and_verdicts_per_repeat():
    records = [
        rec(7, "on", 1, "green", turns=4, cost_usd=0.2, wall_s=10),
        rec(7, "on", 2, "green", turns=6, cost_usd=0.4, wall_s=20),
        rec(7, "off", 1, "red", turns=10, cost_usd=1.0, wall_s=30),
        rec(7, "off", 2, None, status="failed", turns=0, cost_usd=0.0, wall_s=2),
    ]
    data = Report([7], 2, records, spent_usd=1.6).to_json()
    assert set(data) >= {"issues", "on", "off", "note"}
    assert [i["issue"] for i in data["issues"]] == [7]
    on, off = data["issues"][0]["on"], data["issues"][0]["off"]
    assert on["verdicts"] == ["green", "green"] and on["green_rate"] == 1.0
    assert on["turns"] == 5.0 and on["cost_usd"] == pytest.approx(0.3) and on["wall_s"] == 15.0
    assert off["verdicts"] == ["red", "failed"] and off["green_rate"] == 0.0
    assert off["turns"] == 5.0 and off["cost_usd"] == pytest.approx(0.5)
    assert data["on"]["verdicts"] == ["green", "green"] and data["off"]["green_rate"] == 0.0
    assert data["difference"] == {"green_rate": 1.0, "turns": 0.0, "cost_usd": pytest.approx(-0.2)}
    assert data["note"] == Report([7], 2, records).note()


def test_totals_average_over_every_issue():
    records = [rec(1, "on", 1, "green", turns=2), rec(2, "on", 1, "red", turns=6),
               rec(1, "off", 1, "red", turns=8), rec(2, "off", 1, "red", turns=8)]  # fmt: skip
    data = Report([1, 2], 1, records).to_json()
    assert data["on"]["green_rate"] == 0.5 and data["on"]["turns"] == 4.0
    assert data["difference"]["green_rate"] == 0.5 and data["difference"]["turns"] == -4.0


def test_markdown_rows_per_issue_and_arm_totals_and_difference():
    records = [
        rec(7, "on", 1, "green", turns=3, cost_usd=0.25),
        rec(7, "off", 1, "red", turns=5, cost_usd=0.5),
    ]
    text = render_markdown(Report([7], 1, records, spent_usd=0.75, max_usd=5.0))
    lines = text.splitlines()
    assert "| #7 | on | green | 100% | 1.0 | 3.0 | $0.25 | 10s | 1/1 |" in lines
    assert "| #7 | off | red | 0% | 1.0 | 5.0 | $0.50 | 10s | 0/1 |" in lines
    assert "| **all** | **on** | green | 100% | 1.0 | 3.0 | $0.25 | 10s | 1/1 |" in lines
    assert "| **on − off** | | | +100 pts | | −2.0 | −$0.25 | | |" in lines
    assert "spent $0.75 of $5.00" in text
    assert "1 of 1 — not significant" in text


def test_a_stopped_evaluation_says_why_in_the_note():
    report = Report([7], 1, [rec(7, "on", 1, "green")], stopped="--max-usd $1.00 reached")
    assert report.note().endswith("stopped early: --max-usd $1.00 reached")
    assert report.to_json()["stopped"] == "--max-usd $1.00 reached"


def test_records_round_trip_through_json():
    record = rec(7, "off", 2, "red", reason="checks failing", budget_usd=0.3)
    assert RunRecord.from_json({**record.to_json(), "unknown": 1}) == record
