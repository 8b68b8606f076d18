"""An evaluation through the real run loop with a scripted agent function: what it reports,
what it leaves untouched, how it resumes, when it is busy and where --max-usd stops it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kagura_engineer.errors import BusyError
from kagura_engineer.eval.drive import EvalSpec, evaluate
from kagura_engineer.eval.guard import EvalRefused, ReadOnlyGitHub, RecallOnly
from kagura_engineer.memory.lease import Holder, Lease, utcnow
from kagura_engineer.memory.local import LocalMemory
from kagura_engineer.memory.savepoint import Savepoint, SavepointStore

from .conftest import LESSON, LessonAgent, dump_store


class Killed(BaseException):
    """Stands for a kill mid-run: no handler catches it."""


def test_recall_on_is_green_and_off_is_red_and_nothing_outside_eval_changes(world):
    team_before = dump_store(world.team_db)
    origin_before, checkout_before = world.refs(world.origin), world.refs(world.repo)
    status_before = world.status()
    agent = LessonAgent()
    report = evaluate(world.context(agent), EvalSpec(issues=(7,), repeat=1))
    data = report.to_json()
    assert data["issues"][0]["on"]["verdicts"] == ["green"] and data["issues"][0]["off"]["verdicts"] == [
        "red"
    ]
    assert data["on"]["green_rate"] == 1.0 and data["off"]["green_rate"] == 0.0
    assert data["issues"][0]["on"]["checks_passed"] == 1 and data["issues"][0]["off"]["checks_passed"] == 0
    assert data["on"]["turns"] == 3.0 and data["on"]["cost_usd"] == 0.25 and data["cost_usd"] == 0.5
    assert "1 of 1 — not significant" in data["note"]
    assert [(r["arm"], r["status"]) for r in data["runs"]] == [("off", "blocked"), ("on", "evaluated")]
    # the on arm's prompt carried the lesson, the off arm's no recalled memory at all
    on_prompt, off_prompt = (c["prompt"] for c in agent.calls)
    assert LESSON in on_prompt and "recalled memory" in on_prompt
    assert LESSON not in off_prompt and "recalled memory" not in off_prompt
    # the two arms worked in different clones
    assert agent.calls[0]["cwd"] != agent.calls[1]["cwd"]
    assert world.writes() == [] and world.github.requests  # GitHub was read, never written
    assert world.refs(world.origin) == origin_before  # nothing pushed to the real origin
    assert world.refs(world.repo) == checkout_before and world.status() == status_before
    assert dump_store(world.team_db) == team_before
    assert not (world.repo / ".kagura" / "eval" / "work").exists() or not any(
        (world.repo / ".kagura" / "eval" / "work").iterdir()
    )  # every throwaway repository is gone


def test_repeats_and_several_issues_each_get_both_arms(world):
    agent = LessonAgent()
    report = evaluate(world.context(agent), EvalSpec(issues=(7, 8), repeat=2))
    data = report.to_json()
    assert [i["issue"] for i in data["issues"]] == [7, 8]
    assert all(i["on"]["verdicts"] == ["green", "green"] and i["off"]["verdicts"] == ["red", "red"]
               for i in data["issues"])  # fmt: skip
    assert len(agent.calls) == 8 and len({c["cwd"] for c in agent.calls}) == 8
    assert data["pairs"] == {"total": 4, "on_better": 4, "off_better": 0, "ties": 0, "p_value": 0.125}


def test_a_killed_eval_resumes_without_redoing_finished_runs(world):
    agent = LessonAgent()

    def die_on_the_second_run(kwargs):
        if len(agent.calls) == 2:
            raise Killed

    agent.before = die_on_the_second_run
    with pytest.raises(Killed):
        evaluate(world.context(agent), EvalSpec(issues=(7,), repeat=1))
    assert len(agent.calls) == 2
    agent.before = None
    report = evaluate(world.context(agent), EvalSpec(issues=(7,), repeat=1))
    assert len(agent.calls) == 3  # only the off arm ran again
    assert LESSON not in agent.calls[2]["prompt"]
    data = report.to_json()
    assert data["resumed"] == 1 and data["on"]["verdicts"] == ["green"] and data["off"]["verdicts"] == ["red"]
    # a finished evaluation is not resumed: the same command measures afresh
    evaluate(world.context(agent), EvalSpec(issues=(7,), repeat=1))
    assert len(agent.calls) == 5


def test_another_spec_starts_afresh_instead_of_resuming(world):
    agent = LessonAgent()
    agent.before = lambda kwargs: (_ for _ in ()).throw(Killed) if len(agent.calls) == 2 else None
    with pytest.raises(Killed):
        evaluate(world.context(agent), EvalSpec(issues=(7,), repeat=1))
    agent.before = None
    report = evaluate(world.context(agent), EvalSpec(issues=(8,), repeat=1))
    assert report.resumed == 0 and [r.issue for r in report.records] == [8, 8]


def test_a_second_eval_of_the_same_repository_is_busy(world):
    ctx = world.context(LessonAgent())
    other = Holder(host="another-runner", pid=4242, run_id="99")
    now = utcnow()
    ctx.store.save(Savepoint(key=ctx.key, phase="start"))
    ctx.store.memory.set_state(
        "savepoint:" + ctx.key,
        {**Savepoint(key=ctx.key, phase="start").model_dump(mode="json"),
         "lease": Lease(holder=other, acquired_at=now, expires_at=now + timedelta(hours=1)).model_dump(mode="json")},
    )  # fmt: skip
    agent = ctx.agent
    with pytest.raises(BusyError) as err:
        evaluate(ctx, EvalSpec(issues=(7,)))
    assert "another-runner" in err.value.message and err.value.exit_code == 2
    assert agent.calls == []


def test_max_usd_caps_each_run_by_what_is_left_and_stops_before_passing_it(world):
    agent = LessonAgent(cost_usd=0.25)
    report = evaluate(world.context(agent, budget={"max_usd": 1.0}), EvalSpec(issues=(7, 8), max_usd=0.6))
    budgets = [c["max_usd"] for c in agent.calls]
    assert budgets == [pytest.approx(0.6), pytest.approx(0.35), pytest.approx(0.1)]
    assert report.spent_usd == pytest.approx(0.6) and report.spent_usd <= 0.6
    assert "1 run not made" in report.stopped and "stopped early" in report.note()
    capped = [r for r in report.records if r.budget_usd is not None]
    assert [r.budget_usd for r in capped] == [pytest.approx(0.6), pytest.approx(0.35), pytest.approx(0.1)]
    # raising --max-usd continues where it stopped
    more = evaluate(world.context(agent, budget={"max_usd": 1.0}), EvalSpec(issues=(7, 8), max_usd=2.0))
    assert len(agent.calls) == 4 and more.stopped is None and more.resumed == 3


def test_the_config_budget_is_used_while_max_usd_has_room(world):
    agent = LessonAgent(cost_usd=0.1)
    evaluate(world.context(agent, budget={"max_usd": 0.5}), EvalSpec(issues=(7,), max_usd=100.0))
    assert [c["max_usd"] for c in agent.calls] == [pytest.approx(0.5), pytest.approx(0.5)]


def test_a_run_cut_off_by_a_kill_still_counts_against_max_usd(world):
    ctx = world.context(LessonAgent())
    store = SavepointStore(LocalMemory(world.repo / ".kagura" / "eval" / "eval.db", semantic=False))
    store.save(Savepoint(key=ctx.key, phase="start",
                         data={"spec": EvalSpec(issues=(7,)).fingerprint(), "results": {}, "lost_usd": 0.0}))  # fmt: skip
    store.save(Savepoint(key=ctx.run_key(7), phase="implement", cost_usd=0.4))
    report = evaluate(ctx, EvalSpec(issues=(7,)))
    assert report.spent_usd == pytest.approx(0.4 + 0.5)
    assert store.load(ctx.run_key(7)) is None


def test_eval_savepoints_never_reach_the_team_store(world):
    before = dump_store(world.team_db)
    evaluate(world.context(LessonAgent()), EvalSpec(issues=(7,)))
    assert dump_store(world.team_db)["state"] == before["state"] == []


def test_recall_only_memory_refuses_every_write_and_off_recalls_nothing(world):
    team = LocalMemory(world.team_db, semantic=False)
    on, off = RecallOnly(team, True), RecallOnly(team, False)
    assert [m.summary for m in on.recall("config.txt service", k=3)] == [LESSON]
    assert off.recall("config.txt service", k=3) == [] and off.recalls == 0
    for call in (lambda m: m.remember("s", "c", "lesson"), lambda m: m.forget("x"), lambda m: m.link("a", "b"),
                 lambda m: m.feedback("x", True), lambda m: m.set_state("k", 1)):  # fmt: skip
        with pytest.raises(EvalRefused):
            call(on)
    assert on.get_state("savepoint:anything") is None


def test_read_only_github_answers_reads_and_refuses_writes_before_sending(world):
    from kagura_engineer.github.client import GitHub

    gh = ReadOnlyGitHub(GitHub.from_env(world.github.env(), sleep=lambda s: None, timeout=5))
    assert gh.get_issue(7)["title"] == "Add the service config file" and gh.owner == "acme"
    sent = len(world.github.requests)
    for name in (
        "create_comment",
        "find_or_create_pr",
        "add_labels",
        "update_issue",
        "react",
        "upsert_comment",
    ):
        with pytest.raises(EvalRefused, match=name):
            getattr(gh, name)(7, "x")
    assert len(world.github.requests) == sent
